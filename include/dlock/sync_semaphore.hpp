// dlock/sync_semaphore.hpp: blocking facades of Semaphore and ReadWriteLock, shaped like the
// standard's: sync::Semaphore like std::counting_semaphore, sync::ReadWriteLock a
// SharedTimedLockable (std::shared_lock and std::unique_lock work with it).
//
//   dlock::sync::Redis redis("redis://127.0.0.1:6379");
//   dlock::sync::Semaphore encoders(redis, "encoders", 4, {.timeout = 60s, .auto_renew = true});
//   encoders.acquire(); ...; encoders.release();
//   dlock::sync::ReadWriteLock catalog(redis, "catalog", {.timeout = 30s});
//   { std::shared_lock read(catalog); ... }   { std::unique_lock write(catalog); ... }
//
// Like a standard semaphore or shared mutex, one object serves any number of threads: each
// acquire()/lock_shared() takes one more permit/read hold (an async object of its own, with its
// own lease) and release()/unlock_shared() gives back any one this object holds. Calls block the
// calling thread; the async objects live on the client's I/O thread. The standard's unlock
// names never throw (a failure is kept in last_unlock_error()); release() throws as the async
// API does. Destroying the facade gives back what it still holds (best effort).
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "dlock/read_write_lock.hpp"
#include "dlock/semaphore.hpp"
#include "dlock/sync.hpp"

namespace dlock::sync {

class Semaphore {
  public:
    // Validates as dlock::Semaphore (std::invalid_argument).
    Semaphore(Client& client, std::string name, std::size_t permits, LockOptions options);
    ~Semaphore();
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;

    // Waits without limit for a permit.
    void acquire() { take(WaitPolicy{}); }
    // One attempt.
    [[nodiscard]] bool try_acquire() { return take(WaitPolicy{.blocking = false}); }
    template <class Rep, class Period>
    [[nodiscard]] bool try_acquire_for(const std::chrono::duration<Rep, Period>& duration) {
        return take(wait_at_most(duration));
    }
    template <class Clock, class Duration>
    [[nodiscard]] bool try_acquire_until(const std::chrono::time_point<Clock, Duration>& when) {
        return take(wait_until(when));
    }
    // Gives back `update` permits this object holds. std::invalid_argument when update < 0 or
    // more than it holds; LockReleaseError when a lease had ended (the others are given back).
    void release(std::ptrdiff_t update = 1);

    std::size_t max() const noexcept { return permits_; }
    // Permits this object holds now.
    std::size_t held() const;
    const std::string& name() const noexcept { return name_; }

  private:
    bool take(WaitPolicy wait);

    std::shared_ptr<IoThread> io_;
    dlock::Client* client_;
    std::string name_;
    std::size_t permits_;
    LockOptions options_;
    std::unique_ptr<dlock::Semaphore> probe_;  // validates the arguments at construction
    std::vector<std::unique_ptr<dlock::Semaphore>> held_;  // touched on the I/O thread only
};

class ReadWriteLock {
  public:
    // Validates as dlock::ReadWriteLock (std::invalid_argument).
    ReadWriteLock(Client& client, std::string name, LockOptions options);
    ~ReadWriteLock();
    ReadWriteLock(const ReadWriteLock&) = delete;
    ReadWriteLock& operator=(const ReadWriteLock&) = delete;

    // Lockable / TimedLockable: the writer.
    void lock() { write(WaitPolicy{}); }
    [[nodiscard]] bool try_lock() { return write(WaitPolicy{.blocking = false}); }
    template <class Rep, class Period>
    [[nodiscard]] bool try_lock_for(const std::chrono::duration<Rep, Period>& duration) {
        return write(wait_at_most(duration));
    }
    template <class Clock, class Duration>
    [[nodiscard]] bool try_lock_until(const std::chrono::time_point<Clock, Duration>& when) {
        return write(wait_until(when));
    }
    void unlock() noexcept;

    // SharedLockable / SharedTimedLockable: one more reader.
    void lock_shared() { read(WaitPolicy{}); }
    [[nodiscard]] bool try_lock_shared() { return read(WaitPolicy{.blocking = false}); }
    template <class Rep, class Period>
    [[nodiscard]] bool try_lock_shared_for(const std::chrono::duration<Rep, Period>& duration) {
        return read(wait_at_most(duration));
    }
    template <class Clock, class Duration>
    [[nodiscard]] bool try_lock_shared_until(const std::chrono::time_point<Clock, Duration>& when) {
        return read(wait_until(when));
    }
    void unlock_shared() noexcept;

    std::exception_ptr last_unlock_error() const noexcept { return last_unlock_error_; }
    // The writer's fence while it holds (options.fencing).
    std::optional<std::int64_t> fence() const;
    const std::string& name() const noexcept { return name_; }

  private:
    bool write(WaitPolicy wait);
    bool read(WaitPolicy wait);

    std::shared_ptr<IoThread> io_;
    dlock::Client* client_;
    std::string name_;
    LockOptions options_;
    std::unique_ptr<dlock::ReadWriteLock> writer_;                // on the I/O thread only
    std::vector<std::unique_ptr<dlock::ReadWriteLock>> readers_;  // held read holds, likewise
    std::exception_ptr last_unlock_error_;
};

}  // namespace dlock::sync
