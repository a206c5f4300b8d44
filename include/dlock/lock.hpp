// dlock/lock.hpp: a distributed lock on Redis, asynchronous (C++20 coroutines on Asio).
//
// dlock::Lock is the C++ counterpart of coredis's Lock: the key is the lock's name, the value a
// random 128-bit token; acquire is SET name token NX [PX ms]; release and extend are
// token-checked server-side scripts. Locks taken by redis-py or coredis on the same name
// exclude dlock's and vice versa.
//
//   dlock::Redis redis(io.get_executor(), "redis://127.0.0.1:6379");
//   dlock::Lock lock(redis, "reports", {.timeout = 10s});
//   if (co_await lock.acquire()) { ...; co_await lock.release(); }
//   co_await lock.with([&]() -> asio::awaitable<void> { ... });   // scoped form
//
// On a RedisCluster, an acquisition counts only once WAIT confirmed it reached
// replication_factor() = ceil(R/2) replicas of the key's shard (R = that shard's replicas); on a
// RedisSentinel, of the primary (R = the replicas the sentinels list, down ones included); on a
// Redis with ConnectionOptions::confirm_on_replicas, of that primary. extend() and release()
// WAIT there too (docs/semantics.md §4.3).
//
// Concurrency contract: one Lock object is used by one coroutine at a time; a second operation
// started while one is in progress throws std::logic_error. Any number of Lock objects (same or
// different names) may share one client and its connection. Calls are made on the client's
// executor. Destroying a Lock does not release it (no I/O in destructors): the key expires by
// its timeout; auto-renewal stops. An acquire() still waiting then gives up and returns false
// (an acquisition that succeeds meanwhile is rolled back): it never leaves a key behind.
#pragma once

#include <asio/awaitable.hpp>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "dlock/client.hpp"
#include "dlock/errors.hpp"
#include "dlock/lock_concept.hpp"
#include "dlock/lock_options.hpp"

namespace dlock {

namespace detail {
struct LockState;
}

// What the server says of a lock's key, whoever holds it (Lock::ttl()).
struct LockTtl {
    bool held = false;                   // a key of this name exists
    std::optional<Seconds> remaining{};  // its remaining life; empty when held with no expiry
};

class Lock {
  public:
    using Options = LockOptions;

    // Throws std::invalid_argument: empty name, negative/NaN/infinite durations (naming the
    // field), timeout under 1 ms, sleep > timeout, auto_renew without timeout, renew_interval
    // >= timeout.
    Lock(Client& client, std::string name, LockOptions options = {});
    ~Lock();
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

    // Tries to take the lock as the options say (blocking or not, bounded by blocking_timeout).
    // Returns false when it is held by someone else and the wait is over. Throws LockError if
    // this object already holds it; ConnectionError/TimeoutError/ServerError when Redis fails.
    asio::awaitable<bool> acquire();
    // The same, waiting as `wait` says instead of the options' blocking/blocking_timeout.
    asio::awaitable<bool> acquire(WaitPolicy wait);

    // Releases the lock. Throws LockReleaseError when this object does not hold it (never
    // acquired, expired, or overwritten). When the server cannot be reached the token is kept
    // and the error (ConnectionError/TimeoutError) propagates, so release() can be retried.
    // Where acquisitions WAIT, so does a release; one that too few replicas confirm is still a
    // release (the key is gone on the primary): counted and reported, not thrown.
    asio::awaitable<void> release();

    // Adds `additional_time` to the remaining TTL (or sets the TTL to it with
    // ExtendMode::replace). Returns true. Throws LockExtensionError when the lock is not held
    // by this object or has no timeout; std::invalid_argument for a negative/NaN duration.
    // Under auto_renew, extend() raises the renewal's floor: a renewal sets the TTL back to
    // the timeout only when less is left, so what extend() granted is never taken back.
    // Where acquisitions WAIT, an extension that too few replicas confirm throws
    // ReplicationShortfallError (a LockExtensionError): still held, new TTL on the primary only.
    asio::awaitable<bool> extend(Seconds additional_time, ExtendMode mode = ExtendMode::add);
    // Resets the TTL to the full timeout. Same errors as extend().
    asio::awaitable<bool> reacquire();

    // Whether anyone holds a lock of this name / whether this object holds it (asks the server).
    asio::awaitable<bool> locked();
    asio::awaitable<bool> owned();
    // The key's remaining life (PTTL), whoever holds it.
    asio::awaitable<LockTtl> ttl();

    // How many processes are queued waiting for this lock (ZCARD of its wait queue): one per
    // process however many of its Lock objects wait, and only waiters that use
    // wake_on_release. A process that died while waiting stays counted until the queue expires.
    asio::awaitable<std::size_t> waiting();

    // Takes over a hold this object did not make: `token` is what another Lock (or
    // `dlock acquire`, in another process) got for this name. No I/O: release(), extend() and
    // owned() then check the token on the server as for an own acquisition. No auto-renewal
    // and no fence. Throws std::invalid_argument for an empty token, LockError when this object
    // holds the lock already.
    void adopt(std::string token);

    // The scoped form: with_lock(*this, body) (dlock/lock_concept.hpp).
    template <class Body>
    auto with(Body body) -> std::invoke_result_t<Body&>;

    // Number of replicas a write must reach: ceil(R/2); 0 on a standalone server unless
    // ConnectionOptions::confirm_on_replicas is on.
    std::size_t replication_factor() const;
    const std::string& name() const noexcept;
    // The token while this object holds the lock (as far as it knows), else empty.
    const std::optional<std::string>& token() const noexcept;
    // The fencing token of the current acquisition (options.fencing), else empty.
    std::optional<std::int64_t> fence() const noexcept;
    // True once auto-renewal found the lock lost (reset by the next acquire).
    bool lost() const noexcept;
    // Waits until the lock is lost (auto-renewal) or released; returns true if lost. A hold
    // that ended otherwise (expired without renewal, taken over) answers true when the next
    // acquire() finds it over: callers are never carried into a later hold.
    asio::awaitable<bool> wait_lost();
    // Writes WAIT confirmed on too few replicas: acquisitions rolled back, extensions that threw
    // ReplicationShortfallError, releases reported (Cluster, Sentinel, confirm_on_replicas).
    std::uint64_t replication_shortfalls() const noexcept;
    const LockOptions& options() const noexcept;

  private:
    std::shared_ptr<detail::LockState> state_;
};

template <class Body>
auto Lock::with(Body body) -> std::invoke_result_t<Body&> {
    return with_lock(*this, std::move(body));
}

static_assert(AsyncLock<Lock>);

}  // namespace dlock
