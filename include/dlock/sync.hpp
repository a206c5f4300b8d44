// dlock/sync.hpp: the blocking API, for threads.
//
// A sync client owns an I/O thread and an async client living on it; any number of threads may
// call it at once. sync::Lock meets the standard Lockable and TimedLockable requirements, so
// std::unique_lock, std::scoped_lock and std::lock_guard work with it:
//
//   dlock::sync::Redis redis("redis://127.0.0.1:6379");
//   dlock::sync::Lock lock(redis, "reports", {.timeout = 30s});
//   {
//       std::unique_lock guard(lock);   // blocks until acquired
//       ...
//   }                                   // released
//
// The facade is written once, over any AsyncLock (dlock/lock_concept.hpp): sync::Lock is
// BasicLock<dlock::Lock> (one server, or sync::RedisCluster from sync_cluster.hpp) and
// sync::RedlockLock is BasicLock<dlock::RedlockLock> (sync_redlock.hpp).
//
// Standard names never throw lock outcomes from unlock() (std::unique_lock calls it from a
// destructor): a failed unlock is recorded in last_unlock_error(). The seed's names
// (acquire/release/extend) throw as the async API does. LockGuard is the RAII form with an
// explicit, throwing end-of-scope check.
#pragma once

#include <algorithm>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dlock/io_thread.hpp"
#include "dlock/lock.hpp"
#include "dlock/lock_concept.hpp"
#include "dlock/options.hpp"
#include "dlock/redis.hpp"

namespace dlock::sync {

// Owns the I/O thread that a sync client's async objects (client, locks) live on.
class ClientBase {
  public:
    virtual ~ClientBase();
    ClientBase(const ClientBase&) = delete;
    ClientBase& operator=(const ClientBase&) = delete;
    IoThread& io() const noexcept { return *io_; }
    // Shared: a lock keeps the thread alive until its async lock is gone.
    const std::shared_ptr<IoThread>& io_handle() const noexcept { return io_; }

  protected:
    ClientBase();

  private:
    std::shared_ptr<IoThread> io_;
};

// A sync client whose async client is a dlock::Client (sync::Redis, sync::RedisCluster): what
// sync::Lock takes, whichever deployment is behind it.
class Client : public ClientBase {
  public:
    virtual dlock::Client& async_client() noexcept = 0;
};

// A blocking wrapper of the async client `Async` (dlock::Redis, dlock::RedisCluster,
// dlock::Redlock), which is made here and torn down on the I/O thread. `Base` is Client when
// Async is a dlock::Client, else ClientBase.
template <class Async, class Base = Client>
class BasicClient : public Base {
  public:
    // Tears the async client down on its own thread, so no handler runs concurrently. Destroyed
    // from a handler on that thread, it does so at once (waiting there would deadlock).
    ~BasicClient() {
        if (this->io().in_this_thread()) {
            async_.reset();
            return;
        }
        this->io().run([this]() -> asio::awaitable<void> {
            async_.reset();
            co_return;
        });
    }

    // Runs one command and waits. Throws like the async client's command().
    Reply command(std::vector<std::string> args, std::optional<Seconds> timeout = {}) requires
        requires(Async& async) {
        async.command(std::move(args), timeout);
    }
    {
        return this->io().run([this, args = std::move(args), timeout]() mutable {
            return async_->command(std::move(args), timeout);
        });
    }

    // Closes the connections; the next command reconnects.
    void close() requires requires(Async& async) { async.close(); }
    {
        this->io().run([this]() -> asio::awaitable<void> {
            async_->close();
            co_return;
        });
    }

    // The async client, for code that runs on io() (a lock's constructor, for instance).
    // (Overrides Client::async_client() when Base is Client: the return type is covariant.)
    Async& async_client() noexcept { return *async_; }

  protected:
    template <class... Args>
    explicit BasicClient(Args&&... args)
        : async_(std::make_unique<Async>(this->io().executor(), std::forward<Args>(args)...)) {}

  private:
    std::unique_ptr<Async> async_;
};

class Redis : public BasicClient<dlock::Redis> {
  public:
    explicit Redis(ConnectionOptions options) : BasicClient(std::move(options)) {}
    explicit Redis(std::string_view url) : BasicClient(url) {}
};

// A blocking lock over the async lock `L` (any AsyncLock). Construction and destruction of the
// async lock happen on the client's I/O thread; every call blocks the calling thread.
// The standard's timed waits (try_lock_for/until, try_acquire_for/until) as a WaitPolicy: wait
// at most that long; a duration at or below zero, or a time already past, makes one attempt.
template <class Rep, class Period>
WaitPolicy wait_at_most(const std::chrono::duration<Rep, Period>& duration) {
    const auto seconds = std::chrono::duration_cast<Seconds>(duration);
    return WaitPolicy{.blocking = true, .blocking_timeout = std::max(seconds, Seconds::zero())};
}
template <class Clock, class Duration>
WaitPolicy wait_until(const std::chrono::time_point<Clock, Duration>& when) {
    return wait_at_most(when - Clock::now());
}

template <AsyncLock L>
class BasicLock {
  public:
    using AsyncLockType = L;

    // Same arguments and validation as L's constructor, with the sync client in place of the
    // async one (sync::Redis or sync::RedisCluster for dlock::Lock, sync::Redlock for
    // dlock::RedlockLock).
    template <class C>
    requires std::derived_from<C, ClientBase> &&
        std::constructible_from<L, decltype(std::declval<C&>().async_client()), std::string,
                                typename L::Options>
        BasicLock(C& client, std::string name, typename L::Options options = {})
        : io_(client.io_handle()),
          lock_(std::make_unique<L>(client.async_client(), std::move(name), std::move(options))) {}

    // Releases the lock if this object holds it (best effort, never throws). Called on a
    // thread of its own, it waits for the release; called on the I/O thread (from a handler),
    // where waiting would deadlock, the release is sent in the background instead.
    ~BasicLock() {
        if (!lock_) return;
        if (io_->in_this_thread()) {
            asio::co_spawn(
                io_->context(),
                [lock = std::move(lock_)]() -> asio::awaitable<void> {
                    try {
                        if (lock->token()) co_await lock->release();
                    } catch (...) {
                        // The key expires by its timeout.
                    }
                },
                asio::detached);
            return;
        }
        try {
            io_->run([this]() -> asio::awaitable<void> {
                try {
                    if (lock_->token()) co_await lock_->release();
                } catch (...) {
                    // Never throw from a destructor; the key expires by its timeout.
                }
                lock_.reset();
            });
        } catch (...) {
        }
    }
    BasicLock(const BasicLock&) = delete;
    BasicLock& operator=(const BasicLock&) = delete;

    // The seed's API, blocking; errors as in the async lock.
    bool acquire() {
        return run([this] { return lock_->acquire(); });
    }
    void release() {
        run([this] { return lock_->release(); });
    }
    bool extend(Seconds additional_time, ExtendMode mode = ExtendMode::add) {
        return run([this, additional_time, mode] { return lock_->extend(additional_time, mode); });
    }
    bool locked() {
        return run([this] { return lock_->locked(); });
    }
    bool owned() {
        return run([this] { return lock_->owned(); });
    }
    bool reacquire() requires requires(L& lock) { lock.reacquire(); }
    {
        return run([this] { return lock_->reacquire(); });
    }

    // Lockable / TimedLockable. lock() waits without limit (ignoring options.blocking);
    // try_lock() makes exactly one attempt; try_lock_for/until wait at most that long.
    // Transport failures (ConnectionError...) propagate from these, as std::system_error
    // would from std::mutex::lock.
    void lock() {
        run([this] { return lock_->acquire(WaitPolicy{}); });
    }
    [[nodiscard]] bool try_lock() {
        return run([this] { return lock_->acquire(WaitPolicy{.blocking = false}); });
    }
    template <class Rep, class Period>
    [[nodiscard]] bool try_lock_for(const std::chrono::duration<Rep, Period>& duration) {
        return run([this, wait = wait_at_most(duration)] { return lock_->acquire(wait); });
    }
    template <class Clock, class Duration>
    [[nodiscard]] bool try_lock_until(const std::chrono::time_point<Clock, Duration>& when) {
        return run([this, wait = wait_until(when)] { return lock_->acquire(wait); });
    }
    // Releases; never throws. A failure is kept in last_unlock_error() (and the lock expires
    // by its timeout).
    void unlock() noexcept {
        try {
            release();
            last_unlock_error_ = nullptr;
        } catch (...) {
            last_unlock_error_ = std::current_exception();
        }
    }
    std::exception_ptr last_unlock_error() const noexcept { return last_unlock_error_; }

    const std::string& name() const noexcept { return lock_->name(); }
    std::optional<std::string> token() const {
        return run(
            [this]() -> asio::awaitable<std::optional<std::string>> { co_return lock_->token(); });
    }
    std::size_t replication_factor() const requires requires(const L& lock) {
        lock.replication_factor();
    }
    {
        return run(
            [this]() -> asio::awaitable<std::size_t> { co_return lock_->replication_factor(); });
    }
    std::optional<std::int64_t> fence() const requires requires(const L& lock) { lock.fence(); }
    {
        return run(
            [this]() -> asio::awaitable<std::optional<std::int64_t>> { co_return lock_->fence(); });
    }
    bool lost() const requires requires(const L& lock) { lock.lost(); }
    {
        return run([this]() -> asio::awaitable<bool> { co_return lock_->lost(); });
    }
    // The async lock: only for code running on the client's I/O thread.
    L& async_lock() noexcept { return *lock_; }

  private:
    template <class F>
    auto run(F make) const {
        return io_->run(std::move(make));
    }

    std::shared_ptr<IoThread> io_;
    std::unique_ptr<L> lock_;  // lives on the I/O thread
    std::exception_ptr last_unlock_error_;
};

using Lock = BasicLock<dlock::Lock>;

// Acquires on construction (throws LockAcquisitionError when it cannot) and releases on
// destruction without throwing. Call release() at the end of the scope to learn whether the
// lock was held all along (throws LockReleaseError if it was lost meanwhile).
template <class SyncLock>
class BasicLockGuard {
  public:
    explicit BasicLockGuard(SyncLock& lock) : lock_(lock) {
        if (!lock_.acquire()) {
            throw LockAcquisitionError("could not acquire lock '" + lock_.name() + "'",
                                       lock_.name());
        }
    }
    ~BasicLockGuard() {
        if (held_) lock_.unlock();
    }
    BasicLockGuard(const BasicLockGuard&) = delete;
    BasicLockGuard& operator=(const BasicLockGuard&) = delete;
    void release() {
        held_ = false;
        lock_.release();
    }

  private:
    SyncLock& lock_;
    bool held_ = true;
};

using LockGuard = BasicLockGuard<Lock>;

}  // namespace dlock::sync
