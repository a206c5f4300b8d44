// dlock/observer.hpp: typed events from every Lock, for metrics (docs/observability.md).
//
//   struct Counts : dlock::Observer {
//       void on_acquired(const dlock::Acquired& e) override { ++acquired; waits.add(e.waited); }
//   };
//   redis.set_observer(std::make_shared<Counts>());           // every Lock built afterwards
//   dlock::Lock lock(redis, "jobs", {.observer = counts});    // or this lock only
//
// Threading and cost: an observer runs on the I/O thread, inside the lock operation that
// caused the event, so it must be quick and must not block (no I/O, no waiting on a mutex
// held for long); hand anything slow to another thread. Events are small structs passed by
// const reference; their names are string_views valid only during the call (copy what you
// keep). With no observer set a lock pays one pointer test per event. An observer that
// throws does not break the lock operation: the exception is caught and counted
// (Observer::exceptions_caught()), and the operation goes on as if nothing had been observed.
// An observer shared by clients on several threads is called from each of them concurrently.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dlock/options.hpp"

namespace dlock {

// acquire() returned true.
struct Acquired {
    std::string_view lock_name;
    Seconds waited{};            // from the acquire() call to the lock being taken
    std::uint32_t attempts = 0;  // server attempts, 1 when it was free
    bool woken = false;          // the last wait ended with a release notification, not a poll
};

// acquire() returned false, or threw.
enum class NotAcquiredReason {
    held,         // one attempt (non-blocking) found it held
    timed_out,    // blocking_timeout ran out while it was held
    unavailable,  // the server failed (connection, timeout, error reply) or too few replicas
    abandoned,    // the Lock object was destroyed while acquire() waited
};
struct NotAcquired {
    std::string_view lock_name;
    NotAcquiredReason reason = NotAcquiredReason::held;
    Seconds waited{};
    std::uint32_t attempts = 0;
};

// release() freed the lock.
struct Released {
    std::string_view lock_name;
    Seconds held{};  // from the acquisition (or adopt()) to the release
};

// The TTL was pushed back: by extend()/reacquire(), or by auto-renewal.
struct Extended {
    std::string_view lock_name;
    bool renewal = false;  // auto-renewal (false: an explicit extend()/reacquire())
};

enum class LostReason {
    renewal_found_gone,   // auto-renewal found the key expired or taken over
    unreachable,          // auto-renewal could not reach the server before the key expired
    release_found_gone,   // release() found the key gone
    acquire_found_gone,   // a new acquire() on this object found the previous hold's key gone
    failover_found_gone,  // after a failover, the new primary did not have the key (Sentinel)
};
struct Lost {
    std::string_view lock_name;
    LostReason reason = LostReason::renewal_found_gone;
    Seconds held{};  // from the acquisition to the moment the loss was noticed
};

// Which write WAIT confirmed on too few replicas (docs/semantics.md §4.3 says what each means).
enum class ReplicatedWrite {
    acquisition,  // rolled back; acquire() returned false or tried again
    extension,    // extend()/reacquire() threw ReplicationShortfallError; the lock is still held
    release,      // the lock is released all the same (the key is gone on the primary)
};

// WAIT confirmed too few replicas (Cluster, Sentinel, or a Redis with confirm_on_replicas).
struct Shortfall {
    std::string_view lock_name;
    std::size_t needed = 0;
    long long confirmed = 0;  // -1: WAIT itself failed (a release's only)
    ReplicatedWrite write = ReplicatedWrite::acquisition;
};

// A release notification this process could not use was handed to the next waiting process.
struct WakeupPassedOn {
    std::string_view lock_name;
};

namespace detail {
struct ObserverAccess;
}

class Observer {
  public:
    Observer() = default;
    virtual ~Observer() = default;
    Observer(const Observer&) = delete;
    Observer& operator=(const Observer&) = delete;

    virtual void on_acquired(const Acquired&) {}
    virtual void on_not_acquired(const NotAcquired&) {}
    virtual void on_released(const Released&) {}
    virtual void on_extended(const Extended&) {}
    virtual void on_lost(const Lost&) {}
    virtual void on_shortfall(const Shortfall&) {}
    virtual void on_wakeup_passed_on(const WakeupPassedOn&) {}

    // How many times one of the calls above threw (the exception was dropped).
    std::uint64_t exceptions_caught() const noexcept {
        return caught_.load(std::memory_order_relaxed);
    }

  private:
    friend struct detail::ObserverAccess;
    std::atomic<std::uint64_t> caught_{0};
};

std::string_view to_string(NotAcquiredReason reason) noexcept;
std::string_view to_string(LostReason reason) noexcept;

}  // namespace dlock
