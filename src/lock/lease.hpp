// lease.hpp (private): the machinery shared by the lock kinds beyond Lock (Semaphore,
// ReadWriteLock): one object holds one lease (a permit, a read or a write hold) made of a
// random token; acquire() is Lock's loop (wait room, wake-ups) around the attempt, roll-back,
// WAIT and auto-renewal that every kind shares (lock_state.hpp), with the kind's scripts.
//
// LeaseState is a LockState (spec, hold, busy flag, abandonment) plus the kind, so the hold's
// invariants (hold.hpp) and the option validation (LockSpec) are Lock's own.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dlock/lock_concept.hpp"
#include "dlock/lock_options.hpp"
#include "lock/lock_state.hpp"
#include "lock/scripts.hpp"

namespace dlock::detail {

// What one lock kind's lease is on the server: its scripts and the name its waiters wait under.
class LeaseKind {
  public:
    virtual ~LeaseKind() = default;
    // The acquire script: replies the fence (0 without fencing) when taken, nil when the caller
    // must wait (then it queued the ticket), or a negative number that refused() explains.
    // `blocking`: the attempt belongs to an acquire() that will wait (it may stake a claim).
    virtual ScriptCall acquire_call(const std::string& token, const QueueTicket* ticket,
                                    bool blocking) const = 0;
    // Token-checked release (1, or 0 when not held); wakes waiters with `notify`.
    virtual ScriptCall release_call(const std::string& token, std::string_view notify) const = 0;
    virtual ScriptCall extend_call(const std::string& token, std::chrono::milliseconds ms,
                                   TtlChange change) const = 0;
    // An acquire() that gives up withdraws what its attempts left (a waiting writer's claim).
    virtual std::optional<ScriptCall> withdraw_call(const std::string& /*token*/,
                                                    std::string_view /*notify*/) const {
        return std::nullopt;
    }
    virtual std::string wait_name() const = 0;
    // The key whose shard's replicas must confirm an acquisition (the acquire script's first).
    virtual const std::string& replica_key() const = 0;
    // A negative reply of the acquire script: throws what it means.
    [[noreturn]] virtual void refused(long long reply) const = 0;
    // "dlock::Semaphore": for messages.
    virtual const char* type_name() const = 0;
};

struct LeaseState : LockState {
    LeaseState(std::shared_ptr<Backend> backend, std::string name, LockOptions options,
               std::unique_ptr<const LeaseKind> lease_kind)
        : LockState(std::move(backend), std::move(name), std::move(options)),
          kind(std::move(lease_kind)) {}
    std::unique_ptr<const LeaseKind> kind;

    // The steps every kind shares (lock_state.hpp) run the kind's scripts.
    asio::awaitable<Reply> send_acquire(const std::string& token, const QueueTicket* ticket,
                                        bool blocking, std::shared_ptr<Connection>* used) override;
    void refused(long long reply) const override { kind->refused(reply); }
    ScriptCall release_script(const std::string& token, std::string_view notify) const override {
        return kind->release_call(token, notify);
    }
    ScriptCall extend_script(const std::string& token, std::chrono::milliseconds ms,
                             TtlChange change) const override {
        return kind->extend_call(token, ms, change);
    }
    const std::string& replica_key() const override { return kind->replica_key(); }
};

// One operation at a time per object (see the concurrency contract in lock.hpp).
class LeaseBusy : public BusyGuard {
  public:
    explicit LeaseBusy(LeaseState& state)
        : BusyGuard(state.busy, state.kind->type_name(), state.spec.name) {}
};

// The operations, as Lock's: acquire() returns false when the wait is over; release() throws
// LockReleaseError when not held; extend() LockExtensionError.
asio::awaitable<bool> acquire_lease(std::shared_ptr<LeaseState> state, WaitPolicy wait);
asio::awaitable<void> release_lease(std::shared_ptr<LeaseState> state);
asio::awaitable<bool> extend_lease(std::shared_ptr<LeaseState> state, Seconds additional_time,
                                   ExtendMode mode);
asio::awaitable<bool> wait_lease_lost(std::shared_ptr<LeaseState> state);
// The object goes away (no I/O): a waiting acquire() gives up, renewal stops.
void abandon_lease(LeaseState& state);

}  // namespace dlock::detail
