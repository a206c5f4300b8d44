// bench/run_io.hpp: running coroutines to the end on an io_context, and waiting for many.
#pragma once

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <dlock/lock_options.hpp>
#include <exception>
#include <memory>
#include <utility>

#include "bench.hpp"

namespace dlock::bench {

inline constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// Runs `work` on `io` until it finishes, then stops `io` (a client's connection keeps
// background reads pending forever, so io.run() alone would never return). Rethrows.
inline void run_to_end(asio::io_context& io, asio::awaitable<void> work) {
    std::exception_ptr failure;
    asio::co_spawn(io, std::move(work), [&](std::exception_ptr error) {
        failure = error;
        io.stop();
    });
    io.run();
    io.restart();
    if (failure) std::rethrow_exception(failure);
}

// Counts spawned coroutines and lets one coroutine wait until all have finished; keeps the
// first exception. An event (timer cancelled by the last one), not a poll.
class Join {
  public:
    explicit Join(const asio::any_io_executor& executor)
        : done_(executor, Clock::time_point::max()) {}

    // Spawns `work` and counts it.
    void spawn(asio::awaitable<void> work) {
        ++pending_;
        asio::co_spawn(done_.get_executor(), std::move(work), [this](std::exception_ptr error) {
            if (error && !failure_) failure_ = error;
            if (--pending_ == 0) done_.cancel();
        });
    }

    // Returns once every spawned coroutine has finished; rethrows the first failure.
    asio::awaitable<void> wait() {
        while (pending_ > 0) co_await done_.async_wait(use_tuple);
        if (failure_) std::rethrow_exception(failure_);
    }

    long pending() const noexcept { return pending_; }

  private:
    asio::steady_timer done_;
    long pending_ = 0;
    std::exception_ptr failure_;
};

// Lock options of the scenarios: a timeout (a crashed bench leaves no lock behind for long),
// the rest default unless given. (Assignments, not designated initializers: -Wextra flags
// the fields those leave out.)
// The observer every lock of this run reports to (bench --observer; null: none).
inline std::shared_ptr<dlock::Observer>& lock_observer() {
    static std::shared_ptr<dlock::Observer> observer;
    return observer;
}

inline dlock::LockOptions lock_options(double timeout_s, double sleep_s = 0.1,
                                       bool wake_on_release = true) {
    dlock::LockOptions options;
    options.observer = lock_observer();
    options.timeout = dlock::Seconds(timeout_s);
    options.sleep = dlock::Seconds(sleep_s);
    options.wake_on_release = wake_on_release;
    return options;
}

// Waits for `duration` (a plain timer; used for hold and step-aside times, never as a way to
// wait for something to happen).
inline asio::awaitable<void> pause(Clock::duration duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(use_tuple);
}

}  // namespace dlock::bench
