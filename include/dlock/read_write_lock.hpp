// dlock/read_write_lock.hpp: a distributed read/write lock on Redis: many readers or one
// writer; every holder has its own lease.
//
//   dlock::ReadWriteLock rw(redis, "catalog", {.timeout = 30s});
//   if (co_await rw.acquire_shared()) { ...read...; co_await rw.release(); }
//   if (co_await rw.acquire())        { ...write...; co_await rw.release(); }
//
// Why this name: std::shared_lock is the standard's RAII guard, not the lock itself, so
// "SharedLock" would read as the guard; the object is the read/write lock, and its sync facade
// (sync::ReadWriteLock) is what std::shared_lock and std::unique_lock wrap.
//
// One object holds at most one hold, shared or exclusive (one object per hold wanted, as for
// Lock). The writer's hold is key NAME with its token, as a dlock::Lock's: a Lock and a writer
// of the same name exclude each other, and fences (options.fencing, writers only) share Lock's
// counter. Options, blocking, wake-ups, auto-renewal, WAIT on a Cluster and the concurrency
// contract are Lock's; the timeout (each hold's lease) is required.
//
// Policy (docs/semantics.md, ReadWriteLock): a waiting writer keeps new readers out, so it gets
// in once the readers inside leave; a writer's release lets every reader then waiting in ahead
// of any writer, so a stream of writers cannot starve readers either. A release wakes only the
// role that may go in. No upgrade or downgrade: release and acquire again (two readers that
// both upgraded would wait for each other forever).
#pragma once

#include <asio/awaitable.hpp>
#include <cstdint>
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
struct LeaseState;
}

class ReadWriteLock {
  public:
    using Options = LockOptions;
    enum class Mode { shared, exclusive };

    // Throws std::invalid_argument: no timeout, and Lock's checks of the options.
    ReadWriteLock(Client& client, std::string name, LockOptions options = {});
    ~ReadWriteLock();
    ReadWriteLock(const ReadWriteLock&) = delete;
    ReadWriteLock& operator=(const ReadWriteLock&) = delete;

    // Exclusive (writer). False when the wait is over. LockError when this object holds either.
    asio::awaitable<bool> acquire();
    asio::awaitable<bool> acquire(WaitPolicy wait);
    // Shared (reader).
    asio::awaitable<bool> acquire_shared();
    asio::awaitable<bool> acquire_shared(WaitPolicy wait);
    // Releases what this object holds. LockReleaseError when nothing (or the lease ended).
    asio::awaitable<void> release();
    // Changes the current hold's lease. LockExtensionError when nothing is held.
    asio::awaitable<bool> extend(Seconds additional_time, ExtendMode mode = ExtendMode::add);

    // Whether a writer holds the lock / this object's hold is alive (asks the server).
    asio::awaitable<bool> locked();
    asio::awaitable<bool> owned();

    template <class Body>
    auto with(Body body) -> std::invoke_result_t<Body&> {
        return with_lock(*this, std::move(body));
    }

    const std::string& name() const noexcept;
    // What this object holds, as far as it knows.
    std::optional<Mode> mode() const noexcept;
    const std::optional<std::string>& token() const noexcept;
    // The writer's fence (options.fencing); readers get none.
    std::optional<std::int64_t> fence() const noexcept;
    bool lost() const noexcept;
    asio::awaitable<bool> wait_lost();
    std::size_t replication_factor() const;
    const LockOptions& options() const noexcept;

  private:
    detail::LeaseState& current() const noexcept;
    asio::awaitable<bool> acquire_as(Mode mode, WaitPolicy wait);

    std::shared_ptr<detail::LeaseState> reader_;
    std::shared_ptr<detail::LeaseState> writer_;
};

static_assert(AsyncLock<ReadWriteLock>);

}  // namespace dlock
