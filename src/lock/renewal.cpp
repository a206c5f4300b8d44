// Auto-renewal of a held lock of any kind (Lock, Semaphore, ReadWriteLock): the kind's extend
// script (LockState::extend_script), and how a lost lock is reported.
#include <asio.hpp>

#include "lock/lock_state.hpp"
#include "lock/renewal_schedule.hpp"

namespace dlock::detail {

namespace {

enum class Renewal { renewed, found_gone, script_missing };

// One renewal: the TTL goes back up to the full timeout, never down (an extend() beyond the
// timeout stays in force until that time has run down). EVALSHA, or EVAL with the source when
// `with_source`; a NOSCRIPT is not retried here (a retry is a second, later write that could
// reach the server after release() returned): the loop decides on the strand whether the hold
// still needs the next attempt. Returns nothing when the hold ended meanwhile.
asio::awaitable<std::optional<Renewal>> renew_once(LockState& state, std::uint64_t generation,
                                                   const std::string& token, Deadline deadline,
                                                   bool with_source) {
    const ScriptCall call = state.extend_script(token, *state.spec.timeout, TtlChange::renew);
    const Reply reply = co_await eval(*state.spec.client, call, deadline,
                                      with_source ? EvalMode::source_only : EvalMode::cached_only);
    if (state.hold.generation() != generation) co_return std::nullopt;
    if (!with_source && is_noscript(reply)) co_return Renewal::script_missing;
    reply.value();
    co_return reply.integer == 1 ? Renewal::renewed : Renewal::found_gone;
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
    // The server did not have the script (restarted, flushed, a promoted replica): the next
    // attempt, at once, sends its source, which caches it for the renewals after it.
    bool with_source = false;
    for (;;) {
        timer->expires_at(wake_at);
        co_await timer->async_wait(use_tuple);
        // Checked right before sending: no renewal (first or repeated) leaves after release().
        if (state->hold.generation() != generation) co_return;
        sent = Clock::now();
        try {
            const std::optional<Renewal> renewal =
                co_await renew_once(*state, generation, token,
                                    std::min(state->spec.command_deadline(), expires), with_source);
            if (!renewal) co_return;  // released or destroyed meanwhile
            with_source = *renewal == Renewal::script_missing;
            // The follow-up keeps `expires` as its deadline: a missing script does not make
            // the key live longer. After a NOSCRIPT just before `expires` its reply may miss
            // that window; the catch then reports the lock lost though the server may have
            // extended the key. That is the one answer for a write in doubt at expiry (a late
            // retry after an error ends the same way): lost, never held twice; the key the
            // server kept blocks others for one TTL at most. Nothing is sent after release().
            if (with_source) {
                wake_at = Clock::now();
                continue;
            }
            if (*renewal == Renewal::found_gone) {
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

asio::awaitable<bool> wait_lost(std::shared_ptr<LockState> state) {
    if (state->hold.lost()) co_return true;
    const std::shared_ptr<HoldEnd> end = state->hold.end_signal(state->spec.client->get_executor());
    if (!end) co_return false;
    co_await end->done.wait(Deadline::max());
    co_return end->outcome == HoldOutcome::lost;
}

void start_renewal(const std::shared_ptr<LockState>& state) {
    if (!state->spec.options.auto_renew || !state->hold.token()) return;
    asio::co_spawn(
        state->spec.client->get_executor(),
        renew_loop(state, state->hold.generation(), *state->hold.token(), state->renewed_sent),
        asio::detached);
}

}  // namespace dlock::detail
