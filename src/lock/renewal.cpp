// Auto-renewal of a held Lock, and how a lost lock is reported.
#include <asio.hpp>

#include "lock/lock_state.hpp"

namespace dlock::detail {

namespace {

// One renewal (extend to the full timeout). Sent with the source: a NOSCRIPT retry could reach
// the server after release() returned. Returns nothing when the hold ended meanwhile.
asio::awaitable<std::optional<Reply>> renew_once(LockState& state, std::uint64_t generation,
                                                 const std::string& token, Deadline deadline) {
    const ScriptCall call = extend_call(state.name, token, *state.timeout, TtlChange::replace);
    Reply reply = co_await eval(*state.client, call, deadline, EvalMode::source_only);
    if (state.hold_generation != generation) co_return std::nullopt;
    reply.value();
    co_return std::move(reply);
}

}  // namespace

asio::awaitable<void> renew_loop(std::shared_ptr<LockState> state, std::uint64_t generation,
                                 std::string token) {
    // Spawned, so it starts later: the lock may already be released or destroyed (then the
    // client may be gone too). Touch nothing and leave no timer behind in that case.
    if (state->hold_generation != generation) co_return;
    const milliseconds ttl = *state->timeout;
    auto expires = Clock::now() + ttl;  // as far as we know, when the key expires
    auto timer = std::make_shared<asio::steady_timer>(state->client->get_executor());
    state->renew_timer = timer;
    milliseconds interval = state->renew_interval;
    for (;;) {
        timer->expires_after(interval);
        co_await timer->async_wait(use_tuple);
        if (state->hold_generation != generation) co_return;
        const auto sent = Clock::now();
        try {
            const std::optional<Reply> reply = co_await renew_once(
                *state, generation, token, std::min(state->command_deadline(), expires));
            if (!reply) co_return;  // released or destroyed meanwhile
            if (reply->integer != 1) {
                mark_lost(*state);
                co_return;
            }
            expires = sent + ttl;
            interval = state->renew_interval;
        } catch (const std::exception&) {
            if (state->hold_generation != generation) co_return;
            if (Clock::now() >= expires) {
                mark_lost(*state);
                co_return;
            }
            // Try again soon, while the key may still be alive.
            const auto left = std::chrono::duration_cast<milliseconds>(expires - Clock::now());
            interval = std::max(milliseconds(1), std::min(state->renew_interval, left / 4));
        }
    }
}

}  // namespace dlock::detail
