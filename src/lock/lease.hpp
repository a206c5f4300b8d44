// lease.hpp (private): the machinery shared by the lock kinds beyond Lock (Semaphore,
// ReadWriteLock): one object holds one lease (a permit, a read or a write hold) made of a
// random token; acquire() (the loop, its attempts, WAIT, roll-back) and auto-renewal are every
// kind's (lock_state.hpp), run with the kind's scripts.
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
    const char* type_name() const override { return kind->type_name(); }
    std::string described() const override {
        return std::string(kind->type_name()) + " '" + spec.name + "'";
    }
    std::string wait_name() const override { return kind->wait_name(); }
    bool oldest_waiter_polls() const override { return false; }
    // Their releases hand on by wake-up only (their scripts read no registration).
    bool takes_direct_handoff() const override { return false; }
    asio::awaitable<bool> end_stale_hold() override;
    void hold_began(const std::shared_ptr<LockState>& /*self*/) override {}
    void withdraw_later(const std::shared_ptr<LockState>& self, const std::string& token) override;
};

// The operations, as Lock's: acquire() is every kind's (lock_state.hpp); release() throws
// LockReleaseError when not held; extend() LockExtensionError.
asio::awaitable<void> release_lease(std::shared_ptr<LeaseState> state);
asio::awaitable<bool> extend_lease(std::shared_ptr<LeaseState> state, Seconds additional_time,
                                   ExtendMode mode);

}  // namespace dlock::detail
