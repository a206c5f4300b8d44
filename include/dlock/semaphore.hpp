// dlock/semaphore.hpp: a distributed counting semaphore on Redis: at most `permits` holders of
// one name at once, across processes; each permit is a lease of its own.
//
//   dlock::Semaphore permit(redis, "encoders", 4, {.timeout = 30s, .auto_renew = true});
//   if (co_await permit.acquire()) { ...; co_await permit.release(); }
//
// One Semaphore object holds at most one permit (as a Lock holds at most one lock): create one
// object per permit wanted. Everything else is as for dlock::Lock and its options: blocking
// with blocking_timeout, wake-ups on release (a freed permit wakes one waiting process, in
// arrival order; no polling, no herd), fencing (one increasing counter per name), auto-renewal
// with on_lost/wait_lost(), WAIT on a Cluster, the concurrency contract of lock.hpp. The
// timeout (the permit's lease) is required: a crashed holder's permit frees when it ends.
//
// The permit count is stored with the semaphore while it has holders: a Semaphore built with
// another count gets SemaphoreMismatchError from acquire(), never more holders than the count
// they were admitted under. See docs/semantics.md (Semaphore).
#pragma once

#include <asio/awaitable.hpp>
#include <cstddef>
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

class Semaphore {
  public:
    using Options = LockOptions;

    // Throws std::invalid_argument: permits 0, no timeout, and Lock's checks of the options.
    Semaphore(Client& client, std::string name, std::size_t permits, LockOptions options = {});
    ~Semaphore();
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;

    // Takes one permit, waiting as the options (or `wait`) say. False when none was free and
    // the wait is over. Throws LockError when this object holds one already,
    // SemaphoreMismatchError (see above), and the transport errors as Lock::acquire.
    asio::awaitable<bool> acquire();
    asio::awaitable<bool> acquire(WaitPolicy wait);
    // Gives the permit back (waking one waiter). Throws LockReleaseError when this object
    // holds none (never acquired, or its lease ended); transport errors keep the permit, so
    // release() can be retried.
    asio::awaitable<void> release();
    // Changes this permit's lease as Lock::extend does. Throws LockExtensionError when not held.
    asio::awaitable<bool> extend(Seconds additional_time, ExtendMode mode = ExtendMode::add);

    // Whether any permit is held / this object's is (asks the server).
    asio::awaitable<bool> locked();
    asio::awaitable<bool> owned();
    // Permits held right now, by anyone (unexpired leases).
    asio::awaitable<std::size_t> holders();

    // The scoped form: with_lock(*this, body).
    template <class Body>
    auto with(Body body) -> std::invoke_result_t<Body&> {
        return with_lock(*this, std::move(body));
    }

    const std::string& name() const noexcept;
    std::size_t permits() const noexcept { return permits_; }
    const std::optional<std::string>& token() const noexcept;
    std::optional<std::int64_t> fence() const noexcept;
    bool lost() const noexcept;
    asio::awaitable<bool> wait_lost();
    std::size_t replication_factor() const;
    std::uint64_t replication_shortfalls() const noexcept;
    const LockOptions& options() const noexcept;

  private:
    std::size_t permits_;
    std::shared_ptr<detail::LeaseState> state_;
};

static_assert(AsyncLock<Semaphore>);

}  // namespace dlock
