// One acquisition attempt, for every lock kind: the kind's request (a Lock's SET NX or acquire
// script; a lease kind's script), WAIT on a cluster, and the token-checked roll-back of an
// attempt that must not count. Also the WAIT of the later writes (extension, release).
#include <asio.hpp>

#include "lock/lock_state.hpp"
#include "lock/replication.hpp"
#include "net/connection.hpp"

namespace dlock::detail {

// A plain SET NX when nobody waits and fencing and the holder record are off (the uncontended
// path); otherwise the acquire script, which also queues the waiter's process when the lock is
// held.
asio::awaitable<Reply> LockState::send_acquire(const std::string& token, const QueueTicket* ticket,
                                               bool /*blocking*/,
                                               std::shared_ptr<Connection>* used) {
    const bool record_holder = spec.options.record_holder;
    if (spec.options.fencing || ticket || record_holder) {
        const std::optional<HolderFields> holder = holder_fields(spec);
        const ScriptCall call = acquire_call(spec.name, token, spec.timeout, spec.options.fencing,
                                             ticket, spec.queue_ttl, holder ? &*holder : nullptr);
        co_return co_await eval(*spec.client, call, spec.command_deadline(), EvalMode::cached_first,
                                used);
    }
    Request request;
    if (spec.timeout) {
        const std::string px = std::to_string(spec.timeout->count());
        request.push({"SET", spec.name, token, "NX", "PX", px});
    } else {
        request.push({"SET", spec.name, token, "NX"});
    }
    auto replies =
        co_await spec.client->execute_for_key(spec.name, request, spec.command_deadline(), used);
    co_return std::move(replies.front());
}

void LockState::refused(long long reply) const {
    throw ProtocolError("unexpected reply " + std::to_string(reply) + " to an acquire");
}

ScriptCall LockState::release_script(const std::string& token, std::string_view notify) const {
    return release_call(spec.name, token, notify, spec.options.record_holder);
}

ScriptCall LockState::extend_script(const std::string& token, milliseconds ms,
                                    TtlChange change) const {
    return extend_call(spec.name, token, ms, change, spec.options.record_holder);
}

// Best effort: if it fails, the key still expires by its PX. Sent as EVAL: after a timed-out SET
// it is queued behind that SET on the same connection and may run long after we stopped
// waiting, when a NOSCRIPT reply could no longer be answered with a retry (the key would stay,
// unknown to all).
asio::awaitable<void> roll_back(LockState& state, const std::string& token) {
    try {
        co_await eval(*state.spec.client, state.release_script(token, state.spec.publish()),
                      state.spec.command_deadline(), EvalMode::source_only);
    } catch (const std::exception&) {
    }
}

asio::awaitable<std::optional<long long>> wait_for_replicas(const LockState& state,
                                                            const std::shared_ptr<Connection>& used,
                                                            std::size_t needed,
                                                            std::optional<Deadline> deadline) {
    if (needed == 0 || !used) co_return std::nullopt;
    milliseconds wait_for = state.spec.replication_timeout;
    if (deadline) {
        wait_for =
            std::min(wait_for, std::chrono::duration_cast<milliseconds>(*deadline - Clock::now()));
    }
    wait_for = std::max(wait_for, milliseconds(1));  // WAIT n 0 would block forever
    const Request wait({"WAIT", std::to_string(needed), std::to_string(wait_for.count())});
    auto replies =
        co_await used->execute(wait, Clock::now() + wait_for + state.spec.command_timeout);
    co_return replies.front().value().integer;
}

asio::awaitable<bool> confirm_acquisition(LockState& state, const std::string& token,
                                          const std::shared_ptr<Connection>& used,
                                          std::optional<Deadline> deadline) {
    const std::size_t needed =
        replication_factor(state.spec.client->replicas_of(state.replica_key()));
    std::optional<long long> confirmed;
    std::exception_ptr failure;
    try {
        confirmed = co_await wait_for_replicas(state, used, needed, deadline);
    } catch (const std::exception&) {
        failure = std::current_exception();
    }
    if (failure) {
        co_await roll_back(state, token);
        std::rethrow_exception(failure);
    }
    if (!confirmed || *confirmed >= static_cast<long long>(needed)) co_return true;
    co_await roll_back(state, token);
    report_shortfall(state, {state.spec.name, needed, *confirmed, ReplicatedWrite::acquisition});
    co_return false;
}

void report_shortfall(LockState& state, const ReplicationShortfall& shortfall) {
    ++state.shortfalls;
    state.events.shortfall(shortfall.needed, shortfall.confirmed, shortfall.write);
    if (state.spec.options.on_replication_shortfall)
        state.spec.options.on_replication_shortfall(shortfall);
}

asio::awaitable<std::optional<ReplicationShortfall>> confirm_write(
    LockState& state, const std::shared_ptr<Connection>& used, ReplicatedWrite write) {
    const std::size_t needed =
        replication_factor(state.spec.client->replicas_of(state.replica_key()));
    std::optional<long long> confirmed;
    std::exception_ptr failure;
    try {
        confirmed = co_await wait_for_replicas(state, used, needed, std::nullopt);
    } catch (const std::exception&) {
        failure = std::current_exception();
    }
    if (failure) {
        // An extension in doubt is the caller's to hear about; a release is done whatever WAIT
        // says, so its failed WAIT is only reported (confirmed -1).
        if (write != ReplicatedWrite::release) std::rethrow_exception(failure);
        confirmed = -1;
    }
    if (!confirmed || *confirmed >= static_cast<long long>(needed)) co_return std::nullopt;
    ReplicationShortfall shortfall{state.spec.name, needed, *confirmed, write};
    report_shortfall(state, shortfall);
    co_return shortfall;
}

void throw_unconfirmed_extension(const std::string& what, const ReplicationShortfall& shortfall) {
    throw ReplicationShortfallError(
        "extension of " + what + " not confirmed: " + std::to_string(shortfall.confirmed) + " of " +
            std::to_string(shortfall.needed) +
            " replicas have it (still held; the primary has the new TTL, a failover may bring "
            "back the old one)",
        shortfall.lock_name, shortfall.needed, shortfall.confirmed);
}

asio::awaitable<Attempt> try_acquire(LockState& state, const std::string& token,
                                     std::optional<Deadline> deadline, const QueueTicket* ticket,
                                     bool blocking) {
    std::shared_ptr<Connection> used;
    Reply reply;
    std::exception_ptr failure;
    state.attempt_sent = Clock::now();
    try {
        reply = co_await state.send_acquire(token, ticket, blocking, &used);
        reply.value();
    } catch (const ServerError&) {
        throw;  // the server refused the command: nothing was written
    } catch (const std::exception&) {
        failure = std::current_exception();
    }
    if (failure) {
        // Timed out or dropped: the request may have been applied. Remove it if it is ours, so
        // no lock nobody knows about is left behind (with no timeout it would never expire).
        co_await roll_back(state, token);
        std::rethrow_exception(failure);
    }
    if (reply.is_nil()) co_return Attempt{};  // held by someone else: never WAIT after a failed SET
    if (reply.is_integer() && reply.integer < 0) state.refused(reply.integer);
    Attempt attempt{true, std::nullopt};
    if (state.spec.options.fencing) attempt.fence = reply.integer;
    if (!co_await confirm_acquisition(state, token, used, deadline)) co_return Attempt{};
    if (state.abandoned) {
        // The lock object was destroyed while this attempt was in flight: undo it.
        co_await roll_back(state, token);
        co_return Attempt{};
    }
    co_return attempt;
}

}  // namespace dlock::detail
