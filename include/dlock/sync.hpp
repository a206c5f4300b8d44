// dlock/sync.hpp: the blocking API, for threads.
//
// dlock::sync::Redis owns an I/O thread and an async client on it; any number of threads may
// call it at once. dlock::sync::Lock meets the standard Lockable and TimedLockable
// requirements, so std::unique_lock, std::scoped_lock and std::lock_guard work with it:
//
//   dlock::sync::Redis redis("redis://127.0.0.1:6379");
//   dlock::sync::Lock lock(redis, "reports", {.timeout = 30s});
//   {
//       std::unique_lock guard(lock);   // blocks until acquired
//       ...
//   }                                   // released
//
// Standard names never throw lock outcomes from unlock() (std::unique_lock calls it from a
// destructor): a failed unlock is recorded in last_unlock_error(). The seed's names
// (acquire/release/extend) throw as the async API does. LockGuard is the RAII form with an
// explicit, throwing end-of-scope check.
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/lock.hpp"
#include "dlock/options.hpp"
#include "dlock/redis.hpp"

namespace dlock::detail {
class IoThread;
}

namespace dlock::sync {

// What a sync::Lock needs: an async client living on an I/O thread.
class Client {
  public:
    virtual ~Client();
    virtual dlock::Client& async_client() = 0;
    detail::IoThread& io() noexcept { return *io_; }

  protected:
    Client();
    std::shared_ptr<detail::IoThread> io_;
};

class Redis : public Client {
  public:
    explicit Redis(ConnectionOptions options);
    explicit Redis(std::string_view url);
    ~Redis() override;

    // Runs one command and waits. Throws like dlock::Redis::command.
    Reply command(std::vector<std::string> args,
                  std::optional<std::chrono::milliseconds> timeout = {});
    // Closes the connection; the next command reconnects.
    void close();

    dlock::Redis& async_client() override { return *redis_; }

  private:
    std::unique_ptr<dlock::Redis> redis_;
};

class Lock {
  public:
    // Same validation as dlock::Lock.
    Lock(Client& client, std::string name, LockOptions options = {});
    // Releases the lock if this object holds it (best effort, never throws). On dlock's I/O
    // thread (e.g. in on_lost) it cannot wait: the release then runs in the background.
    ~Lock();
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

    // The seed's API, blocking; errors as in dlock::Lock.
    bool acquire();
    void release();
    bool extend(Seconds additional_time, ExtendMode mode = ExtendMode::add);
    bool reacquire();
    bool locked();
    bool owned();

    // Lockable / TimedLockable. lock() waits without limit (ignoring options.blocking);
    // try_lock() makes exactly one attempt; try_lock_for/until wait at most that long.
    // Transport failures (ConnectionError...) propagate from these, as std::system_error
    // would from std::mutex::lock.
    void lock();
    [[nodiscard]] bool try_lock();
    template <class Rep, class Period>
    [[nodiscard]] bool try_lock_for(const std::chrono::duration<Rep, Period>& duration) {
        return try_acquire_for(std::chrono::duration_cast<Seconds>(duration));
    }
    template <class Clock, class Duration>
    [[nodiscard]] bool try_lock_until(const std::chrono::time_point<Clock, Duration>& when) {
        return try_acquire_for(std::chrono::duration_cast<Seconds>(when - Clock::now()));
    }
    // Releases; never throws. A failure is kept in last_unlock_error() (and the lock expires
    // by its timeout).
    void unlock() noexcept;
    std::exception_ptr last_unlock_error() const noexcept { return last_unlock_error_; }

    std::size_t replication_factor() const;
    const std::string& name() const noexcept { return lock_->name(); }
    std::optional<std::string> token() const;
    std::optional<std::int64_t> fence() const;
    bool lost() const;
    dlock::Lock& async_lock() noexcept { return *lock_; }

  private:
    bool try_acquire_for(Seconds duration);

    Client& client_;
    std::unique_ptr<dlock::Lock> lock_;  // lives on the I/O thread
    std::exception_ptr last_unlock_error_;
};

// Acquires on construction (throws LockAcquisitionError when it cannot) and releases on
// destruction without throwing. Call release() at the end of the scope to learn whether the
// lock was held all along (throws LockReleaseError if it was lost meanwhile).
class LockGuard {
  public:
    explicit LockGuard(Lock& lock);
    ~LockGuard();
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;
    void release();

  private:
    Lock& lock_;
    bool held_ = true;
};

}  // namespace dlock::sync
