// The one waiter primitive (net/notification.hpp), without a server: wake before wait, every
// waiter woken, per-waiter deadlines, cancellation, re-arming.
#include "net/notification.hpp"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <optional>

namespace {

using dlock::detail::Clock;
using dlock::detail::Notification;
using namespace std::chrono_literals;

// A deadline a passing test never reaches (its waits are woken first): a broken Notification
// fails the test there instead of hanging it.
Clock::time_point bound() {
    return Clock::now() + 5s;
}

// Runs `body` as a coroutine on `io` and the io_context to completion; rethrows its exception.
void run(asio::io_context& io, std::function<asio::awaitable<void>()> body) {
    std::exception_ptr error;
    asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) { error = e; });
    io.run();
    if (error) std::rethrow_exception(error);
}

TEST(Notification, ANotifyBeforeTheWaitIsNotLost) {
    asio::io_context io;
    Notification notification(io.get_executor());
    notification.notify();
    const auto deadline = bound();
    bool woken = false;
    run(io, [&]() -> asio::awaitable<void> { woken = co_await notification.wait(deadline); });
    EXPECT_TRUE(woken);
    EXPECT_LT(Clock::now(), deadline) << "it slept until its deadline";
}

TEST(Notification, AWaitThatReachesItsDeadlineReturnsFalse) {
    asio::io_context io;
    Notification notification(io.get_executor());
    std::optional<bool> woken;
    run(io,
        [&]() -> asio::awaitable<void> { woken = co_await notification.wait(Clock::now() + 1ms); });
    EXPECT_EQ(woken, false);
    EXPECT_FALSE(notification.notified());
}

// Lets every coroutine that is ready run, then resumes.
asio::awaitable<void> yield() {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
}

TEST(Notification, ANotifyWakesEveryWaiterAndOnlyTheTimedOutOneSaysFalse) {
    asio::io_context io;
    Notification notification(io.get_executor());
    int waiting = 0;  // a waiter counts itself, then registers in the same step (no suspension)
    int woken = 0;
    // Counted when woken by the notify, not by reaching its deadline.
    auto waiter = [&]() -> asio::awaitable<void> {
        const auto deadline = bound();
        ++waiting;
        // Two statements: with the co_await and `Clock::now() < deadline` in one condition,
        // GCC 12.2 builds code that takes the branch after the deadline too.
        const bool notified = co_await notification.wait(deadline);
        if (notified && Clock::now() < deadline) ++woken;
    };
    auto start_waiters = [&](int count) -> asio::awaitable<void> {
        const int until = waiting + count;
        for (int i = 0; i < count; ++i) asio::co_spawn(io, waiter, asio::detached);
        while (waiting < until) co_await yield();
    };
    std::optional<bool> early;
    run(io, [&]() -> asio::awaitable<void> {
        // The waiter with a short deadline registers between the others, so it leaves from the
        // middle of the waiting list; the notify after it must still reach all four.
        co_await start_waiters(2);
        bool early_waiting = false;
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                early_waiting = true;
                early = co_await notification.wait(Clock::now() + 1ms);
            },
            asio::detached);
        while (!early_waiting) co_await yield();
        co_await start_waiters(2);
        while (!early) co_await yield();
        notification.notify();
    });
    EXPECT_EQ(early, false);
    EXPECT_EQ(woken, 4);
}

TEST(Notification, ACancelledWaitThrowsOperationAbortedNotATimeout) {
    using namespace asio::experimental::awaitable_operators;
    asio::io_context io;
    Notification never(io.get_executor());
    Notification soon(io.get_executor());
    bool aborted = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            // The loser of `||` is cancelled: it must not pass for "deadline reached".
            auto cancelled = [&]() -> asio::awaitable<void> {
                try {
                    co_await never.wait(bound());
                } catch (const asio::system_error& e) {
                    aborted = e.code() == asio::error::operation_aborted;
                    throw;
                }
            };
            co_await (cancelled() || soon.wait(bound()));
        },
        asio::detached);
    asio::post(io, [&] { soon.notify(); });
    io.run();
    EXPECT_TRUE(aborted);
    EXPECT_FALSE(never.notified());
}

TEST(Notification, ResetRearmsItForTheNextWakeUp) {
    asio::io_context io;
    Notification notification(io.get_executor());
    std::optional<bool> first;
    std::optional<bool> second;
    notification.notify();
    run(io, [&]() -> asio::awaitable<void> {
        first = co_await notification.wait(bound());
        notification.reset();
        second = co_await notification.wait(Clock::now() + 1ms);
    });
    EXPECT_EQ(first, true);
    EXPECT_EQ(second, false);
}

}  // namespace
