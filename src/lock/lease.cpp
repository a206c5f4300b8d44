// The lease kinds' own steps (see lease.hpp): release, extend, and what every kind's acquire()
// (acquire.cpp) asks of a lease kind.
#include "lock/lease.hpp"

#include <asio.hpp>

namespace dlock::detail {

void LeaseState::withdraw_later(const std::shared_ptr<LockState>& self, const std::string& token) {
    std::optional<ScriptCall> call = kind->withdraw_call(token, spec.publish());
    if (!call) return;
    // In the background: the acquire() is over and may not wait on the client any more.
    asio::co_spawn(
        spec.client->get_executor(),
        [self, call = std::move(*call),
         deadline = spec.command_deadline()]() -> asio::awaitable<void> {
            try {
                co_await eval(*self->spec.client, call, deadline, EvalMode::source_only);
            } catch (const std::exception&) {
            }
        },
        asio::detached);
}

asio::awaitable<bool> LeaseState::end_stale_hold() {
    if (!hold.lost()) co_return false;
    // A "lost" that may be false (renewals failed, yet the lease is alive): release it,
    // token-checked, rather than keep a lease nobody will renew.
    co_await roll_back(*this, *hold.token());
    hold.end(LostReason::acquire_found_gone);
    co_return true;
}

asio::awaitable<Reply> LeaseState::send_acquire(const std::string& token, const QueueTicket* ticket,
                                                bool blocking, std::shared_ptr<Connection>* used) {
    co_return co_await eval(*spec.client, kind->acquire_call(token, ticket, blocking),
                            spec.command_deadline(), EvalMode::cached_first, used);
}

asio::awaitable<void> release_lease(std::shared_ptr<LeaseState> state) {
    LeaseState& s = *state;
    LockBusy busy(s);
    const std::string what = s.described();
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
    LockBusy busy(s);
    const milliseconds ms = to_ms(additional_time, "additional_time");
    if (mode == ExtendMode::replace && ms < milliseconds(1)) {
        throw std::invalid_argument(
            "additional_time must be at least 1 ms with ExtendMode::replace");
    }
    const std::string what = s.described();
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

}  // namespace dlock::detail
