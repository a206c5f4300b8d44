// acquire() for every lock kind: the loop (attempts, waiting by wake-ups or polling), one
// attempt (the kind's request: a Lock's SET NX or acquire script, a lease kind's script), WAIT
// on a cluster, and the token-checked roll-back of an attempt that must not count. Also the
// WAIT of the later writes (extension, release: confirm_write).
#include <asio.hpp>

#include "lock/lock_state.hpp"
#include "lock/replication.hpp"
#include "lock/wait_room.hpp"
#include "net/connection.hpp"
#include "protocol/token.hpp"

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

bool LockState::takes_direct_handoff() const {
    // A Cluster publishes with SPUBLISH; WAIT must run on the waiter's own connection after its
    // own write; the holder record is written by the acquire script only.
    return spec.publish() == "publish" && !spec.options.record_holder &&
           replicas_to_confirm(*this) == 0;
}

ScriptCall LockState::release_script(const std::string& token, std::string_view notify) const {
    return release_call(spec.name, token, notify, spec.options.record_holder).owned();
}

ScriptCall LockState::extend_script(const std::string& token, milliseconds ms,
                                    TtlChange change) const {
    return extend_call(spec.name, token, ms, change, spec.options.record_holder);
}

asio::awaitable<bool> LockState::end_stale_hold() {
    const Request get({"GET", spec.name});
    Reply current =
        (co_await spec.client->execute_for_key(spec.name, get, spec.command_deadline())).front();
    if (current.is_string() && current.str == *hold.token()) {
        if (!hold.lost()) co_return false;
        // A false "lost" (renewals failed, yet the key is still ours): delete it, token-checked,
        // rather than wait for our own stale key to expire.
        (co_await eval(*spec.client, release_script(*hold.token(), ""), spec.command_deadline()))
            .value();
    }
    // That hold ended without a release (expired, or taken over): it was lost, and its
    // wait_lost() callers learn it now, not at the end of the new hold.
    hold.end(LostReason::acquire_found_gone);
    co_return true;
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

std::size_t replicas_to_confirm(const LockState& state) {
    return replication_factor(state.spec.client->replicas_of(state.replica_key()));
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
    const std::size_t needed = replicas_to_confirm(state);
    if (needed == 0 || !used) co_return true;  // (no WAIT coroutine started: every S1 operation)
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
    const std::size_t needed = replicas_to_confirm(state);
    if (needed == 0 || !used) co_return std::nullopt;
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

namespace {

// How much of a direct hand-off's lease must be left when its message is handled for the
// waiter to count as holding the lock at once: enough for the take_handoff round trip (else it
// takes the lock with an attempt first).
bool lease_left_for_taking(Deadline lease_floor, milliseconds px) {
    return Clock::now() + px / 2 <= lease_floor;
}

// What the extension of a direct hand-off found, for the acquire() that waits for it when it
// cannot count the lock at once.
struct HandoffOutcome {
    explicit HandoffOutcome(const asio::any_io_executor& executor) : done(executor) {}
    Notification done;
    bool finished = false;
    bool taken = false;
    bool returned = false;  // acquire() returned true: a failure is a lost hold
};

// A waiter handed the lock directly holds it for the release's PX only: extends it to the full
// timeout (token-checked), then starts auto-renewal. If the key is gone (the lease ran out
// first) or the server cannot be reached before `lease_floor`, the hold is lost (or, before
// acquire() returned, never counted).
asio::awaitable<void> take_handoff(std::shared_ptr<LockState> state, std::uint64_t generation,
                                   std::string token, std::string inbox, bool others_waiting,
                                   Deadline lease_floor, std::shared_ptr<HandoffOutcome> outcome) {
    const LockSpec& spec = state->spec;
    const ScriptCall call =
        take_handoff_call(spec.name, token, spec.timeout, inbox, others_waiting, spec.queue_ttl);
    // `why`: the hold is lost (none: it ended meanwhile, released or replaced).
    const auto finish = [&](bool taken, std::optional<LostReason> why) {
        outcome->finished = true;
        outcome->taken = taken;
        outcome->done.notify();
        if (why && outcome->returned) mark_lost(*state, *why);
    };
    for (;;) {
        if (state->hold.generation() != generation) co_return finish(false, std::nullopt);
        const auto sent = Clock::now();
        try {
            // EVAL with the source, never EVALSHA first: a NOSCRIPT retry would reach the server
            // after a release() sent meanwhile, and the process's inbox would not be queued
            // again for its other local waiters.
            const Reply reply =
                co_await eval(*spec.client, call, std::min(spec.command_deadline(), lease_floor),
                              EvalMode::source_only);
            if (state->hold.generation() != generation) co_return finish(false, std::nullopt);
            if (reply.value().integer != 1) co_return finish(false, LostReason::renewal_found_gone);
            state->renewed_sent = sent;
            start_renewal(state);
            co_return finish(true, std::nullopt);
        } catch (const std::exception&) {
            if (state->hold.generation() != generation) co_return finish(false, std::nullopt);
            if (Clock::now() >= lease_floor) co_return finish(false, LostReason::unreachable);
        }
        asio::steady_timer pause(spec.client->get_executor(), milliseconds(1));
        co_await pause.async_wait(use_tuple);
    }
}

// Counts a direct hand-off (WaitRoom::take_handoff) as this acquire()'s success: begins the hold
// and puts its extension on the wire before returning, so a caller that stalls right after has
// its full TTL from the extension's arrival. Returns false when the hold cannot be counted (this
// coroutine itself stalled past the lease floor and the extension then failed): the next
// attempt decides.
asio::awaitable<bool> count_handoff(const std::shared_ptr<LockState>& state, WaitRoom& room,
                                    const std::string& token, const WaitRoom::Handed& handed) {
    LockState& s = *state;
    s.hold.begin(token, s.spec.options.fencing ? std::optional(handed.fence) : std::nullopt);
    s.renewed_sent = s.attempt_sent;
    const auto executor = s.spec.client->get_executor();
    auto outcome = std::make_shared<HandoffOutcome>(executor);
    asio::co_spawn(executor,
                   take_handoff(state, s.hold.generation(), token, std::string(room.inbox()),
                                room.others_waiting(), handed.lease_floor, outcome),
                   asio::detached);
    // Two turns: the extension's coroutine starts, then the connection's posted flush writes it.
    co_await asio::post(executor, asio::use_awaitable);
    co_await asio::post(executor, asio::use_awaitable);
    if (!outcome->finished && !lease_left_for_taking(handed.lease_floor, handed.px))
        co_await outcome->done.wait(Deadline::max());
    if (outcome->finished && !outcome->taken) {
        s.hold.forget();
        co_return false;
    }
    outcome->returned = true;
    co_return true;
}

}  // namespace

asio::awaitable<bool> acquire(std::shared_ptr<LockState> state, WaitPolicy wait) {
    LockState& s = *state;  // `state` keeps it alive across suspensions
    LockBusy busy(s);
    std::optional<Deadline> deadline;
    if (wait.blocking_timeout)
        deadline = Clock::now() + to_ms(*wait.blocking_timeout, "blocking_timeout");
    AcquireReport report(s.events);  // one Acquired or NotAcquired per call from here

    if (s.hold.token()) {
        const bool ended = co_await s.end_stale_hold();  // (no co_await inside &&: GCC 12)
        if (!ended) {
            report.withdraw();
            throw LockError(s.described() + " is already held by this object", s.spec.name);
        }
    }
    s.hold.start_over();

    const std::string token = make_token();
    // Every way out without the lock: a blocking call withdraws what its attempts left.
    const auto give_up = [&](NotAcquiredReason reason) {
        if (wait.blocking) s.withdraw_later(state, token);
        return report.not_acquired(reason);
    };
    WaitRoom room(state, s.spec.options.wake_on_release && wait.blocking);
    if (s.takes_direct_handoff())
        room.offer_direct_handoff(token, s.spec.timeout, s.spec.options.fencing);
    if (room.listening()) co_await room.enter_listening();
    for (;;) {
        const std::optional<QueueTicket> ticket = room.ticket();
        report.attempt();
        Attempt attempt;
        std::exception_ptr loading;
        try {
            attempt = co_await try_acquire(s, token, deadline, ticket ? &*ticket : nullptr,
                                           wait.blocking);
        } catch (const ServerError& error) {
            // LOADING: a restarted server still reads its dataset and wrote nothing. A blocking
            // acquire polls until its deadline, then throws it (docs/semantics.md §7.9).
            if (error.code() != "LOADING" || !wait.blocking || s.abandoned) {
                give_up(NotAcquiredReason::unavailable);
                throw;
            }
            loading = std::current_exception();
        } catch (...) {
            give_up(NotAcquiredReason::unavailable);
            throw;
        }
        if (loading) {
            const auto now = Clock::now();
            if (deadline && now >= *deadline) {
                give_up(NotAcquiredReason::unavailable);
                std::rethrow_exception(loading);
            }
            co_await room.sleep(deadline ? std::min(now + s.spec.sleep, *deadline)
                                         : now + s.spec.sleep);
            if (s.abandoned) co_return give_up(NotAcquiredReason::abandoned);
            continue;
        }
        if (attempt.acquired) {
            room.acquired();
            s.hold.begin(token, attempt.fence);
            s.renewed_sent = s.attempt_sent;
            s.hold_began(state);
            start_renewal(state);
            report.acquired(room.woken());
            co_return true;
        }
        if (s.abandoned) co_return give_up(NotAcquiredReason::abandoned);
        if (!wait.blocking) co_return give_up(NotAcquiredReason::held);
        const auto now = Clock::now();
        if (deadline && now >= *deadline) co_return give_up(NotAcquiredReason::timed_out);
        if (room.may_enter()) {
            const bool entered = co_await room.enter(deadline);
            if (entered) continue;
        }
        co_await room.sleep(s.spec.sleep, deadline);  // never past the deadline
        if (s.abandoned) co_return give_up(NotAcquiredReason::abandoned);
        if (const auto handed = room.take_handoff(); handed) {
            // Too little of the lease is surely left (a long wait, a late message): the next
            // attempt takes the key (it holds our token) and sets the full TTL first.
            if (!lease_left_for_taking(handed->lease_floor, handed->px)) continue;
            const bool counted = co_await count_handoff(state, room, token, *handed);
            if (!counted) continue;
            if (s.abandoned) {
                // The Lock object was destroyed meanwhile: nobody could release it.
                s.hold.forget();
                co_await roll_back(s, token);
                co_return give_up(NotAcquiredReason::abandoned);
            }
            room.acquired();
            s.hold_began(state);
            report.acquired(true);
            co_return true;
        }
    }
}

}  // namespace dlock::detail
