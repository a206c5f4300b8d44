// Auto-renewal of a held lock of any kind (Lock, Semaphore, ReadWriteLock): the kind's extend
// script (LockState::extend_script), and how a lost lock is reported.
#include <asio.hpp>

#include "lock/lock_state.hpp"
#include "lock/renewal_schedule.hpp"

namespace dlock::detail {

namespace {

// One renewal: the TTL goes back up to the full timeout, never down (an extend() beyond the
// timeout stays in force until that time has run down). Sent with the source: a NOSCRIPT retry
// could reach the server after release() returned. Returns nothing when the hold ended meanwhile.
asio::awaitable<std::optional<Reply>> renew_once(LockState& state, std::uint64_t generation,
                                                 const std::string& token, Deadline deadline) {
    const ScriptCall call = state.extend_script(token, *state.spec.timeout, TtlChange::renew);
    Reply reply = co_await eval(*state.spec.client, call, deadline, EvalMode::source_only);
    if (state.hold.generation() != generation) co_return std::nullopt;
    reply.value();
    co_return std::move(reply);
}

}  // namespace

asio::awaitable<void> renew_loop(std::shared_ptr<LockState> state, std::uint64_t generation,
                                 std::string token, Clock::time_point sent) {
    // Spawned, so it starts later: the lock may already be released or destroyed (then the
    // client may be gone too). Touch nothing and leave no timer behind in that case.
    if (state->hold.generation() != generation) co_return;
    const milliseconds ttl = *state->spec.timeout;
    // As far as we know, when the key expires: counted from the acquisition's send time, not
    // from now (after its round trip, WAIT and this spawn), or on_lost could come too late.
    auto expires = sent + ttl;
    auto timer = std::make_shared<asio::steady_timer>(state->spec.client->get_executor());
    state->hold.set_renew_timer(timer);
    const milliseconds interval = state->spec.renew_interval;
    // The first renewal too counts from `sent`; every renewal is moved onto the client-wide
    // grid so that renewals of many locks share round trips (lock/renewal_schedule.hpp).
    auto wake_at = next_renewal<Clock>(sent + interval, interval);
    for (;;) {
        timer->expires_at(wake_at);
        co_await timer->async_wait(use_tuple);
        if (state->hold.generation() != generation) co_return;
        sent = Clock::now();
        try {
            const std::optional<Reply> reply = co_await renew_once(
                *state, generation, token, std::min(state->spec.command_deadline(), expires));
            if (!reply) co_return;  // released or destroyed meanwhile
            if (reply->integer != 1) {
                mark_lost(*state, LostReason::renewal_found_gone);
                co_return;
            }
            state->events.extended(true);
            expires = sent + ttl;
            state->renewed_sent = sent;
            wake_at = next_renewal<Clock>(Clock::now() + interval, interval);
        } catch (const std::exception&) {
            if (state->hold.generation() != generation) co_return;
            if (Clock::now() >= expires) {
                mark_lost(*state, LostReason::unreachable);
                co_return;
            }
            // Try again soon, while the key may still be alive.
            const auto left = std::chrono::duration_cast<milliseconds>(expires - Clock::now());
            wake_at = Clock::now() + std::max(milliseconds(1), std::min(interval, left / 4));
        }
    }
}

void start_renewal(const std::shared_ptr<LockState>& state) {
    if (!state->spec.options.auto_renew || !state->hold.token()) return;
    asio::co_spawn(
        state->spec.client->get_executor(),
        renew_loop(state, state->hold.generation(), *state->hold.token(), state->renewed_sent),
        asio::detached);
}

}  // namespace dlock::detail
