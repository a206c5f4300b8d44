// A held lock re-checked on the new primary as soon as its client follows a failover, so a lock
// that did not survive (its key was not replicated to the promoted server) is reported lost at
// once, not at the next renewal or release.
#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include "lock/lock_state.hpp"

namespace dlock::detail {

namespace {

asio::awaitable<void> recheck(std::shared_ptr<LockState> state, std::uint64_t generation,
                              std::string token, std::shared_ptr<FailoverSignal> failover,
                              std::shared_ptr<HoldEnd> end) {
    using namespace asio::experimental::awaitable_operators;
    for (;;) {
        const auto woken =
            co_await (failover->done.wait(Deadline::max()) || end->done.wait(Deadline::max()));
        // The client is gone, or the hold ended (released, lost, a new acquisition).
        if (woken.index() != 0 || failover->outcome == FailoverOutcome::client_closed ||
            state->hold.generation() != generation)
            co_return;
        // Watch the next failover too, then look.
        failover = state->spec.client->next_failover();
        try {
            const std::string_view get[] = {"GET", state->spec.name};
            Request request;
            request.push(std::span<const std::string_view>(get));
            const auto replies = co_await state->spec.client->execute_for_key(
                state->spec.name, request, state->spec.command_deadline());
            if (state->hold.generation() != generation || state->hold.lost()) co_return;
            const Reply& value = replies.front();
            if (!value.is_error() && !(value.is_string() && value.str == token)) {
                mark_lost(*state, LostReason::failover_found_gone);
                co_return;
            }
        } catch (const std::exception&) {
            // Not known now: renewal or release will find out.
        }
        if (failover->outcome == FailoverOutcome::client_closed) co_return;
    }
}

}  // namespace

void watch_failovers(const std::shared_ptr<LockState>& state) {
    auto failover = state->spec.client->next_failover();
    if (!failover) return;  // a client that follows no failovers: no end signal is made either
    auto end = state->hold.end_signal(state->spec.client->get_executor());
    if (!end || !state->hold.token()) return;
    asio::co_spawn(state->spec.client->get_executor(),
                   recheck(state, state->hold.generation(), *state->hold.token(),
                           std::move(failover), std::move(end)),
                   asio::detached);
}

}  // namespace dlock::detail
