// One acquisition attempt of a Lock: SET NX or the acquire script, WAIT on a cluster, and
// the token-checked roll-back of an attempt that must not count.
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
                      release_call(state.spec.name, token, state.spec.publish(),
                                   state.spec.options.record_holder),
                      state.spec.command_deadline(), EvalMode::source_only);
    } catch (const std::exception&) {
    }
}

}  // namespace

// One acquisition attempt, then WAIT on a cluster. A plain SET NX when nobody waits and
// fencing and the holder record are off (the uncontended path); otherwise the acquire script,
// which also queues the waiter's process when the lock is held.
asio::awaitable<Attempt> try_acquire(LockState& state, const std::string& token,
                                     std::optional<Deadline> deadline, const QueueTicket* ticket) {
    std::shared_ptr<Connection> used;
    Reply reply;
    std::exception_ptr failure;
    state.attempt_sent = Clock::now();
    try {
        const bool record_holder = state.spec.options.record_holder;
        if (state.spec.options.fencing || ticket || record_holder) {
            const std::optional<HolderFields> holder = holder_fields(state.spec);
            const ScriptCall call =
                acquire_call(state.spec.name, token, state.spec.timeout, state.spec.options.fencing,
                             ticket, state.spec.queue_ttl, holder ? &*holder : nullptr);
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
