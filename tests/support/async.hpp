// Driving coroutines from plain test bodies, waiting inside them, and looking at what they
// threw: run(), pause_for(), eventually(), Notification, thrown_by(), as<E>(), is<E>().
#pragma once

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <chrono>
#include <cstddef>
#include <exception>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace dlock::test {

using Clock = std::chrono::steady_clock;

// ---- from a plain test body -----------------------------------------------------------------

// Runs `io` until `future` is ready, even if other work (connections, timers) stays pending;
// false if `limit` passed first.
template <class T>
bool run_until_ready(asio::io_context& io, std::future<T>& future,
                     Clock::duration limit = Clock::duration::max()) {
    const auto give_up =
        limit == Clock::duration::max() ? Clock::time_point::max() : Clock::now() + limit;
    while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        if (Clock::now() > give_up) return false;
        // An io_context that ran out of work (e.g. after a failed connect) stays stopped, and
        // run_one_for() would return at once forever: restart it.
        if (io.stopped()) io.restart();
        io.run_one_for(std::chrono::milliseconds(50));
    }
    return true;
}

// Runs `make()` (returning asio::awaitable<T>) on `io` until it completes and returns its
// result or rethrows its exception.
template <class F>
auto run(asio::io_context& io, F make) {
    auto future = asio::co_spawn(io, std::move(make), asio::use_future);
    run_until_ready(io, future);
    return future.get();
}

class Stopwatch {
  public:
    Stopwatch() : start_(Clock::now()) {}
    std::chrono::duration<double> elapsed() const { return Clock::now() - start_; }
    double seconds() const { return elapsed().count(); }

  private:
    Clock::time_point start_;
};

// ---- inside a coroutine ---------------------------------------------------------------------

// ASSERT_* returns from the function, which a coroutine cannot do: fail and co_return instead.
#define CO_ASSERT(condition)                                  \
    do {                                                      \
        if (!(condition)) {                                   \
            ADD_FAILURE() << "assertion failed: " #condition; \
            co_return;                                        \
        }                                                     \
    } while (0)

inline asio::awaitable<void> pause_for(Clock::duration duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(asio::use_awaitable);
}

// Lets every handler that is ready run before this coroutine goes on.
inline asio::awaitable<void> let_others_run() {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
}

// Polls `condition` (a callable returning awaitable<bool>) every 2 ms until it holds or `bound`
// passes: for server-side states that no event announces (a subscription, a queue entry).
template <class Condition>
asio::awaitable<bool> eventually(Condition condition, Clock::duration bound) {
    const auto give_up = Clock::now() + bound;
    for (;;) {
        if (co_await condition()) co_return true;
        if (Clock::now() >= give_up) co_return false;
        co_await pause_for(std::chrono::milliseconds(2));
    }
}

// Notified `expected` times (once by default), awaited by one coroutine: a count plus a timer,
// so a notify() before wait() is not missed (a bare timer's cancel() affects only a wait
// already pending).
class Notification {
  public:
    explicit Notification(asio::any_io_executor executor, std::size_t expected = 1)
        : expected_(expected), timer_(std::move(executor)) {}
    void notify() {
        if (++count_ == expected_) timer_.cancel();
    }
    bool notified() const { return count_ >= expected_; }
    std::size_t count() const { return count_; }
    // Waits until notified, at most `bound`; true once notified.
    asio::awaitable<bool> wait(Clock::duration bound = Clock::duration::max()) {
        const auto give_up =
            bound == Clock::duration::max() ? Clock::time_point::max() : Clock::now() + bound;
        while (!notified() && Clock::now() < give_up) {
            timer_.expires_at(give_up);
            co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        }
        co_return notified();
    }

  private:
    std::size_t expected_;
    std::size_t count_ = 0;
    asio::steady_timer timer_;
};

// ---- exceptions -----------------------------------------------------------------------------

// The exception `operation` (an awaitable) ends with, or nullptr.
template <class Awaitable>
asio::awaitable<std::exception_ptr> thrown_by(Awaitable operation) {
    try {
        co_await std::move(operation);
    } catch (...) {
        co_return std::current_exception();
    }
    co_return nullptr;
}

// A copy of the exception in `error` if it is an E.
template <class E>
std::optional<E> as(std::exception_ptr error) {
    try {
        if (error) std::rethrow_exception(error);
    } catch (const E& e) {
        return e;
    } catch (...) {
    }
    return std::nullopt;
}

template <class E>
bool is(std::exception_ptr error) {
    return as<E>(error).has_value();
}

// The message of the exception in `error`.
inline std::string what(std::exception_ptr error) {
    try {
        if (error) std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(no exception)";
}

// The exception of type E that `f` throws, or nothing if it returns. Other exceptions escape
// (and fail the test with their message).
template <class E, class F>
std::optional<E> caught(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e;
    }
    return std::nullopt;
}

// The message of the std::invalid_argument that `make` throws ("" if none).
template <class F>
std::string invalid_argument_from(F make) {
    const auto error = caught<std::invalid_argument>(make);
    return error ? error->what() : "";
}

}  // namespace dlock::test
