// The lease kinds' operations: Lock's acquisition loop, release, extend and auto-renewal,
// with the kind's scripts (see lease.hpp).
#include "lock/lease.hpp"

#include <asio.hpp>

#include "lock/replication.hpp"
#include "lock/wait_room.hpp"
#include "protocol/token.hpp"

namespace dlock::detail {

namespace {

// Token-checked release of an acquisition that must not count (best effort: the lease ends by
// itself). EVAL straight away: queued behind a timed-out attempt, it may run long after we
// stopped waiting, when a NOSCRIPT reply could no longer be answered.
asio::awaitable<void> roll_back(LeaseState& state, const std::string& token) {
    try {
        co_await eval(*state.spec.client, state.kind->release_call(token, state.spec.publish()),
                      state.spec.command_deadline(), EvalMode::source_only);
    } catch (const std::exception&) {
    }
}

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

// On a cluster, WAIT until replication_factor() replicas have `used`'s writes. Returns the
// replicas confirmed, or nothing when none are needed. Throws when WAIT fails.
asio::awaitable<std::optional<long long>> confirm_replicas(LeaseState& state,
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

// One attempt: the kind's acquire script, then WAIT on a cluster (as Lock's try_acquire).
asio::awaitable<Attempt> try_lease(LeaseState& state, const std::string& token,
                                   std::optional<Deadline> deadline, const QueueTicket* ticket,
                                   bool blocking) {
    std::shared_ptr<Connection> used;
    Reply reply;
    std::exception_ptr failure;
    state.attempt_sent = Clock::now();
    const ScriptCall call = state.kind->acquire_call(token, ticket, blocking);
    try {
        reply = co_await eval(*state.spec.client, call, state.spec.command_deadline(),
                              EvalMode::cached_first, &used);
        reply.value();
    } catch (const ServerError&) {
        throw;  // refused by the server: nothing was written
    } catch (const std::exception&) {
        failure = std::current_exception();
    }
    if (failure) {
        // Timed out or dropped: the script may have run. Undo it if it did.
        co_await roll_back(state, token);
        std::rethrow_exception(failure);
    }
    if (reply.is_nil()) co_return Attempt{};
    if (reply.integer < 0) state.kind->refused(reply.integer);
    Attempt attempt{true, std::nullopt};
    if (state.spec.options.fencing) attempt.fence = reply.integer;

    const std::size_t needed = replication_factor(state.spec.client->replicas_of(call.keys[0]));
    std::optional<long long> confirmed;
    try {
        confirmed = co_await confirm_replicas(state, used, needed, deadline);
    } catch (const std::exception&) {
        failure = std::current_exception();
    }
    if (failure) {
        co_await roll_back(state, token);
        std::rethrow_exception(failure);
    }
    if (confirmed && *confirmed < static_cast<long long>(needed)) {
        co_await roll_back(state, token);
        ++state.shortfalls;
        state.events.shortfall(needed, *confirmed);
        if (state.spec.options.on_replication_shortfall) {
            state.spec.options.on_replication_shortfall({state.spec.name, needed, *confirmed});
        }
        co_return Attempt{};
    }
    if (state.abandoned) {
        co_await roll_back(state, token);
        co_return Attempt{};
    }
    co_return attempt;
}

// Auto-renewal, as Lock's (renewal.cpp): every renew_interval the lease goes back up to the
// full timeout (never down); lost when the server says it is gone or cannot be reached before
// it would end, counted from the acquisition's send time.
asio::awaitable<void> renew_lease(std::shared_ptr<LeaseState> state, std::uint64_t generation,
                                  std::string token, Clock::time_point sent) {
    if (state->hold.generation() != generation) co_return;
    const milliseconds ttl = *state->spec.timeout;
    auto expires = sent + ttl;
    auto timer = std::make_shared<asio::steady_timer>(state->spec.client->get_executor());
    state->hold.set_renew_timer(timer);
    auto wake_at = sent + state->spec.renew_interval;
    for (;;) {
        timer->expires_at(wake_at);
        co_await timer->async_wait(use_tuple);
        if (state->hold.generation() != generation) co_return;
        sent = Clock::now();
        try {
            Reply reply = co_await eval(
                *state->spec.client, state->kind->extend_call(token, ttl, TtlChange::renew),
                std::min(state->spec.command_deadline(), expires), EvalMode::source_only);
            if (state->hold.generation() != generation) co_return;
            if (reply.value().integer != 1) {
                mark_lost(*state, LostReason::renewal_found_gone);
                co_return;
            }
            state->events.extended(true);
            expires = sent + ttl;
            wake_at = Clock::now() + state->spec.renew_interval;
        } catch (const std::exception&) {
            if (state->hold.generation() != generation) co_return;
            if (Clock::now() >= expires) {
                mark_lost(*state, LostReason::unreachable);
                co_return;
            }
            const auto left = std::chrono::duration_cast<milliseconds>(expires - Clock::now());
            wake_at = Clock::now() +
                      std::max(milliseconds(1), std::min(state->spec.renew_interval, left / 4));
        }
    }
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
            attempt =
                co_await try_lease(s, token, deadline, ticket ? &*ticket : nullptr, wait.blocking);
        } catch (...) {
            if (wait.blocking) withdraw_later(state, token);
            throw;
        }
        if (attempt.acquired) {
            room.acquired();
            s.hold.begin(token, attempt.fence);
            if (s.spec.options.auto_renew) {
                asio::co_spawn(s.spec.client->get_executor(),
                               renew_lease(state, s.hold.generation(), token, s.attempt_sent),
                               asio::detached);
            }
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
    try {
        reply =
            co_await eval(*s.spec.client, s.kind->release_call(*s.hold.token(), s.spec.publish()),
                          s.spec.command_deadline());
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
    Reply reply = co_await eval(*s.spec.client, call, s.spec.command_deadline());
    if (reply.value().integer != 1) {
        throw LockExtensionError("cannot extend " + what + ": no longer owned (its lease ended)",
                                 s.spec.name);
    }
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
