// One acquisition attempt of a Lock: SET NX or the acquire script, WAIT on a cluster, and
// the token-checked roll-back of an attempt that must not count; leaving the wait queue.
#include <asio.hpp>

#include "lock/lock_state.hpp"
#include "lock/replication.hpp"
#include "net/connection.hpp"

namespace dlock::detail {

namespace {

// Token-checked delete used to undo an acquisition that must not count. Best effort: if it
// fails, the key still expires by its PX. Sent as EVAL: after a timed-out SET it is queued
// behind that SET on the same connection and may run long after we stopped waiting, when a
// NOSCRIPT reply could no longer be answered with a retry (the key would stay, unknown to all).
asio::awaitable<void> roll_back(LockState& state, const std::string& token) {
    try {
        co_await eval(*state.spec.client,
                      release_call(state.spec.name, token, state.spec.publish()),
                      state.spec.command_deadline(), EvalMode::source_only);
    } catch (const std::exception&) {
    }
}

}  // namespace

// Takes this process's inbox out of the lock's wait queue, in the background (called from a
// destructor). Best effort: a stale entry is skipped by the next release (nobody receives the
// wake-up) and the queue expires with its TTL.
//
// Sent as EVAL, in one round trip: the request is queued on the connection before the caller
// goes on, so a new wait of this process on the lock (same inbox, queued by a later script on
// the same connection) always runs after it. An EVALSHA answered by NOSCRIPT (cold script
// cache) used to send the ZREM one round trip later, after such a new wait had queued: it
// deleted the new entry and the next release woke nobody. No retry also means nothing touches
// state->spec.client after the first suspension (the client may be gone by then).
void leave_queue_later(const std::shared_ptr<LockState>& state, std::string inbox,
                       bool unused_wakeup) {
    asio::co_spawn(
        state->spec.client->get_executor(),
        [state, inbox = std::move(inbox), unused_wakeup]() -> asio::awaitable<void> {
            try {
                co_await eval(
                    *state->spec.client,
                    leave_queue_call(state->spec.name, inbox, state->spec.publish(), unused_wakeup),
                    state->spec.command_deadline(), EvalMode::source_only);
            } catch (const std::exception&) {
            }
        },
        asio::detached);
}

// One acquisition attempt, then WAIT on a cluster. A plain SET NX when nobody waits and
// fencing is off (the uncontended path); otherwise the acquire script, which also queues the
// waiter's process when the lock is held.
asio::awaitable<Attempt> try_acquire(LockState& state, const std::string& token,
                                     std::optional<Deadline> deadline, const QueueTicket* ticket) {
    std::shared_ptr<Connection> used;
    Reply reply;
    std::exception_ptr failure;
    state.attempt_sent = Clock::now();
    try {
        if (state.spec.options.fencing || ticket) {
            const ScriptCall call =
                acquire_call(state.spec.name, token, state.spec.timeout, state.spec.options.fencing,
                             ticket, state.spec.queue_ttl);
            reply = co_await eval(*state.spec.client, call, state.spec.command_deadline(),
                                  EvalMode::cached_first, &used);
            reply.value();
        } else {
            Request request;
            if (state.spec.timeout) {
                const std::string px = std::to_string(state.spec.timeout->count());
                request.push({"SET", state.spec.name, token, "NX", "PX", px});
            } else {
                request.push({"SET", state.spec.name, token, "NX"});
            }
            auto replies = co_await state.spec.client->execute_for_key(
                state.spec.name, request, state.spec.command_deadline(), &used);
            reply = std::move(replies.front());
            reply.value();
        }
    } catch (const ServerError&) {
        throw;  // the server refused the command: nothing was written
    } catch (const std::exception&) {
        failure = std::current_exception();
    }
    if (failure) {
        // Timed out or dropped: the SET may have been applied. Remove it if it is ours, so no
        // lock nobody knows about is left behind (with no timeout it would never expire).
        co_await roll_back(state, token);
        std::rethrow_exception(failure);
    }
    if (reply.is_nil()) co_return Attempt{};  // held by someone else: never WAIT after a failed SET
    Attempt attempt{true, std::nullopt};
    if (state.spec.options.fencing) attempt.fence = reply.integer;

    const std::size_t needed = replication_factor(state.spec.client->replicas_of(state.spec.name));
    if (needed > 0 && used) {
        milliseconds wait_for = state.spec.replication_timeout;
        if (deadline) {
            const auto left = std::chrono::duration_cast<milliseconds>(*deadline - Clock::now());
            wait_for = std::min(wait_for, left);
        }
        wait_for = std::max(wait_for, milliseconds(1));  // WAIT n 0 would block forever
        Request wait({"WAIT", std::to_string(needed), std::to_string(wait_for.count())});
        long long confirmed = -1;
        try {
            auto replies =
                co_await used->execute(wait, Clock::now() + wait_for + state.spec.command_timeout);
            confirmed = replies.front().value().integer;
        } catch (const std::exception&) {
            failure = std::current_exception();
        }
        if (failure || confirmed < static_cast<long long>(needed)) {
            co_await roll_back(state, token);
            if (failure) std::rethrow_exception(failure);
            ++state.shortfalls;
            state.events.shortfall(needed, confirmed);
            if (state.spec.options.on_replication_shortfall) {
                state.spec.options.on_replication_shortfall({state.spec.name, needed, confirmed});
            }
            co_return Attempt{};
        }
    }
    if (state.abandoned) {
        // The Lock was destroyed while this attempt was in flight: undo it.
        co_await roll_back(state, token);
        co_return Attempt{};
    }
    co_return attempt;
}

}  // namespace dlock::detail
