// The lease kinds' operations: Lock's acquisition loop, release and extend, with the kind's
// scripts (see lease.hpp). The attempt, its WAIT and roll-back, and auto-renewal are every
// kind's (acquire.cpp, renewal.cpp).
#include "lock/lease.hpp"

#include <asio.hpp>

#include "lock/wait_room.hpp"
#include "protocol/token.hpp"

namespace dlock::detail {

namespace {

// In the background: the acquire() is over and may not wait on the client any more.
void withdraw_later(const std::shared_ptr<LeaseState>& state, const std::string& token) {
    std::optional<ScriptCall> call = state->kind->withdraw_call(token, state->spec.publish());
    if (!call) return;
    asio::co_spawn(
        state->spec.client->get_executor(),
        [state, call = std::move(*call),
         deadline = state->spec.command_deadline()]() -> asio::awaitable<void> {
            try {
                co_await eval(*state->spec.client, call, deadline, EvalMode::source_only);
            } catch (const std::exception&) {
            }
        },
        asio::detached);
}

// Ends a hold the server no longer has (expired, taken over): its wait_lost() callers learn.
asio::awaitable<void> forget_stale_hold(LeaseState& s) {
    if (!s.hold.token()) co_return;
    if (!s.hold.lost()) {
        throw LockError(std::string(s.kind->type_name()) + " '" + s.spec.name +
                            "' is already held by this object",
                        s.spec.name);
    }
    // A "lost" that may be false (renewals failed, yet the lease is alive): release it,
    // token-checked, rather than keep a lease nobody will renew.
    co_await roll_back(s, *s.hold.token());
    s.hold.end(LostReason::acquire_found_gone);
}

}  // namespace

asio::awaitable<Reply> LeaseState::send_acquire(const std::string& token, const QueueTicket* ticket,
                                                bool blocking, std::shared_ptr<Connection>* used) {
    co_return co_await eval(*spec.client, kind->acquire_call(token, ticket, blocking),
                            spec.command_deadline(), EvalMode::cached_first, used);
}

asio::awaitable<bool> acquire_lease(std::shared_ptr<LeaseState> state, WaitPolicy wait) {
    LeaseState& s = *state;
    LeaseBusy busy(s);
    std::optional<Deadline> deadline;
    if (wait.blocking_timeout)
        deadline = Clock::now() + to_ms(*wait.blocking_timeout, "blocking_timeout");
    co_await forget_stale_hold(s);
    s.hold.start_over();

    const std::string token = make_token();
    WaitRoom room(
        WaitSite{state, s.spec.client, s.kind->wait_name(), s.spec.command_timeout, &s.waiting},
        s.spec.options.wake_on_release && wait.blocking);
    co_await room.enter_if_listening();
    for (;;) {
        const std::optional<QueueTicket> ticket = room.ticket();
        Attempt attempt;
        try {
            attempt = co_await try_acquire(s, token, deadline, ticket ? &*ticket : nullptr,
                                           wait.blocking);
        } catch (...) {
            if (wait.blocking) withdraw_later(state, token);
            throw;
        }
        if (attempt.acquired) {
            room.acquired();
            s.hold.begin(token, attempt.fence);
            s.renewed_sent = s.attempt_sent;
            start_renewal(state);
            co_return true;
        }
        const auto now = Clock::now();
        if (!wait.blocking || s.abandoned || (deadline && now >= *deadline)) {
            if (wait.blocking) withdraw_later(state, token);
            co_return false;
        }
        if (room.may_enter() && co_await room.enter(deadline)) continue;
        auto wake_at = now + s.spec.sleep;
        if (deadline) wake_at = std::min(wake_at, *deadline);
        co_await room.sleep(wake_at);
        if (s.abandoned) {
            withdraw_later(state, token);
            co_return false;
        }
    }
}

asio::awaitable<void> release_lease(std::shared_ptr<LeaseState> state) {
    LeaseState& s = *state;
    LeaseBusy busy(s);
    const std::string what = std::string(s.kind->type_name()) + " '" + s.spec.name + "'";
    if (!s.hold.token()) {
        throw LockReleaseError("cannot release " + what + ": not acquired by this object",
                               s.spec.name);
    }
    s.hold.stop_renewal();
    Reply reply;
    std::shared_ptr<Connection> used;
    try {
        reply =
            co_await eval(*s.spec.client, s.kind->release_call(*s.hold.token(), s.spec.publish()),
                          s.spec.command_deadline(), EvalMode::cached_first, &used);
        reply.value();
    } catch (const ServerError&) {
        throw;
    } catch (...) {
        s.hold.release_failed();  // it may have run: a retry that finds it gone must say so
        throw;
    }
    const bool in_doubt = s.hold.release_in_doubt();
    s.hold.end(reply.integer != 1 && !in_doubt ? std::optional(LostReason::release_found_gone)
                                               : std::nullopt);
    if (reply.integer != 1) {
        throw LockReleaseError("cannot release " + what + ": no longer owned (" +
                                   (in_doubt ? "an earlier release() that failed may have "
                                               "released it, or its lease ended)"
                                             : "its lease ended)"),
                               s.spec.name);
    }
    // Released whatever WAIT says; a shortfall is reported only (as Lock::release).
    co_await confirm_write(s, used, ReplicatedWrite::release);
}

asio::awaitable<bool> extend_lease(std::shared_ptr<LeaseState> state, Seconds additional_time,
                                   ExtendMode mode) {
    LeaseState& s = *state;
    LeaseBusy busy(s);
    const milliseconds ms = to_ms(additional_time, "additional_time");
    if (mode == ExtendMode::replace && ms < milliseconds(1)) {
        throw std::invalid_argument(
            "additional_time must be at least 1 ms with ExtendMode::replace");
    }
    const std::string what = std::string(s.kind->type_name()) + " '" + s.spec.name + "'";
    if (!s.hold.token()) {
        throw LockExtensionError("cannot extend " + what + ": not acquired by this object",
                                 s.spec.name);
    }
    const ScriptCall call = s.kind->extend_call(
        *s.hold.token(), ms, mode == ExtendMode::add ? TtlChange::add : TtlChange::replace);
    std::shared_ptr<Connection> used;
    Reply reply = co_await eval(*s.spec.client, call, s.spec.command_deadline(),
                                EvalMode::cached_first, &used);
    if (reply.value().integer != 1) {
        throw LockExtensionError("cannot extend " + what + ": no longer owned (its lease ended)",
                                 s.spec.name);
    }
    const auto shortfall = co_await confirm_write(s, used, ReplicatedWrite::extension);
    if (shortfall) throw_unconfirmed_extension(what, *shortfall);
    s.events.extended(false);
    co_return true;
}

asio::awaitable<bool> wait_lease_lost(std::shared_ptr<LeaseState> state) {
    if (state->hold.lost()) co_return true;
    const std::shared_ptr<HoldEnd> end = state->hold.end_signal();
    if (!end) co_return false;
    co_await end->done.wait(Deadline::max());
    co_return end->lost;
}

void abandon_lease(LeaseState& state) {
    state.abandoned = true;
    if (state.waiting) state.waiting->notify();
    state.hold.abandon();
}

}  // namespace dlock::detail
