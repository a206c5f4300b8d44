// The observer (dlock/observer.hpp) and the log sink (dlock/log.hpp) against a real server:
// each lock operation reports exactly one event with the right figures, a throwing observer
// cannot break an operation, a lock's observer overrides its client's, logging is silent by
// default and never shows a token.
#include "dlock/observer.hpp"

#include <asio.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "async.hpp"
#include "dlock/lock.hpp"
#include "dlock/log.hpp"
#include "dlock/redis.hpp"
#include "names.hpp"
#include "observed.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using namespace dlock::test;
using dlock::LostReason;
using dlock::NotAcquiredReason;

class Observer : public ObservedTest {};

TEST_F(Observer, AnUncontendedPairReportsOneAttemptAndTheHoldTime) {
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Lock lock(redis, name, {.timeout = 10s, .observer = recorder});
        EXPECT_TRUE(co_await lock.acquire());
        co_await pause_for(20ms);
        co_await lock.release();
    });
    ASSERT_EQ(recorder->events.size(), 2u);
    const auto& acquired = recorder->events[0];
    EXPECT_EQ(acquired.kind, "acquired");
    EXPECT_EQ(acquired.name, name);
    EXPECT_EQ(acquired.attempts, 1u);
    EXPECT_FALSE(acquired.flag) << "not woken: it never waited";
    EXPECT_LT(acquired.time, 5s);
    const auto& released = recorder->events[1];
    EXPECT_EQ(released.kind, "released");
    EXPECT_GE(released.time, 20ms);
}

TEST_F(Observer, AWaiterWokenByTheReleaseSaysSoWithItsAttemptsAndWait) {
    dlock::Redis other(io.get_executor(), server("PLAIN_URL"));
    redis.set_observer(recorder);  // the client's observer: every lock built on it
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Lock holder(other, name, {.timeout = 10s});
        dlock::Lock waiter(redis, name, {.timeout = 10s, .sleep = dlock::Seconds(5)});
        EXPECT_TRUE(co_await holder.acquire());
        Notification done(io.get_executor());
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                EXPECT_TRUE(co_await waiter.acquire());
                co_await waiter.release();
                done.notify();
            },
            asio::detached);
        co_await pause_for(200ms);
        co_await holder.release();
        EXPECT_TRUE(co_await done.wait(10s));
    });
    const auto acquired = recorder->of("acquired");
    ASSERT_EQ(acquired.size(), 1u);
    EXPECT_TRUE(acquired[0].flag) << "woken by the release, not by the 5 s poll";
    EXPECT_GE(acquired[0].attempts, 2u);
    EXPECT_GE(acquired[0].time, 200ms);
    EXPECT_LT(acquired[0].time, 4s);
    EXPECT_EQ(recorder->of("released").size(), 1u) << "the holder's client has no observer";
}

TEST_F(Observer, EachWayOfNotGettingTheLockHasItsReason) {
    dlock::Redis down(io.get_executor(), "redis://127.0.0.1:1");  // nothing listens there
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Lock holder(redis, name, {.timeout = 10s});
        EXPECT_TRUE(co_await holder.acquire());
        dlock::Lock other(redis, name, {.timeout = 10s, .observer = recorder});
        EXPECT_FALSE(co_await other.acquire({.blocking = false}));
        EXPECT_FALSE(co_await other.acquire({.blocking_timeout = dlock::Seconds(0.2)}));
        dlock::Lock unreachable(down, name, {.timeout = 10s, .observer = recorder});
        EXPECT_TRUE(is<dlock::ConnectionError>(co_await thrown_by(unreachable.acquire())));
        co_await holder.release();
    });
    const auto failed = recorder->of("not_acquired");
    ASSERT_EQ(failed.size(), 3u);
    expect_held_then_timed_out(failed);
    EXPECT_EQ(failed[2].reason, "unavailable");
    EXPECT_EQ(recorder->events.size(), 3u) << "nothing else: no acquisition, no release";
}

TEST_F(Observer, AWaitEndedByDestroyingTheLockIsAbandoned) {
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Lock holder(redis, name, {.timeout = 10s});
        EXPECT_TRUE(co_await holder.acquire());
        auto waiter = std::make_unique<dlock::Lock>(
            redis, name, dlock::LockOptions{.timeout = 10s, .observer = recorder});
        Notification done(io.get_executor());
        asio::co_spawn(
            io,
            [&, lock = waiter.get()]() -> asio::awaitable<void> {
                EXPECT_FALSE(co_await lock->acquire());
                done.notify();
            },
            asio::detached);
        co_await pause_for(100ms);
        waiter.reset();
        EXPECT_TRUE(co_await done.wait(10s));
        co_await holder.release();
    });
    const auto failed = recorder->of("not_acquired");
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].reason, "abandoned");
}

TEST_F(Observer, ALossIsReportedOnceWithItsReasonAndNoReleaseFollows) {
    const std::string renewed = unique_name("-renewed");
    const std::string plain = unique_name("-plain");
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Lock lock(redis, renewed,
                         {.timeout = 1s,
                          .auto_renew = true,
                          .renew_interval = dlock::Seconds(0.05),
                          .observer = recorder});
        EXPECT_TRUE(co_await lock.acquire());
        CO_ASSERT(co_await eventually(
            [&]() -> asio::awaitable<bool> { co_return !recorder->of("extended").empty(); }, 5s));
        co_await redis.command("DEL", renewed);
        EXPECT_TRUE(co_await lock.wait_lost());
        EXPECT_TRUE(is<dlock::LockReleaseError>(co_await thrown_by(lock.release())));

        dlock::Lock other(redis, plain, {.timeout = 10s, .observer = recorder});
        EXPECT_TRUE(co_await other.acquire());
        EXPECT_TRUE(co_await other.extend(dlock::Seconds(5)));
        co_await redis.command("DEL", plain);
        EXPECT_TRUE(is<dlock::LockReleaseError>(co_await thrown_by(other.release())));
    });
    const auto lost = recorder->of("lost");
    ASSERT_EQ(lost.size(), 2u);
    EXPECT_EQ(lost[0].name, renewed);
    EXPECT_EQ(lost[0].reason, "renewal_found_gone");
    EXPECT_EQ(lost[1].name, plain);
    EXPECT_EQ(lost[1].reason, "release_found_gone");
    EXPECT_TRUE(recorder->of("released").empty());
    const auto extended = recorder->of("extended");
    ASSERT_GE(extended.size(), 2u);
    EXPECT_TRUE(extended.front().flag) << "the renewal";
    EXPECT_FALSE(extended.back().flag) << "the explicit extend()";
}

TEST_F(Observer, AThrowingObserverBreaksNoOperationAndIsCounted) {
    auto thrower = std::make_shared<Thrower>();
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Lock lock(redis, name, {.timeout = 10s, .observer = thrower});
        dlock::Lock other(redis, name, {.timeout = 10s, .observer = thrower});
        EXPECT_TRUE(co_await lock.acquire());                       // 1
        EXPECT_FALSE(co_await other.acquire({.blocking = false}));  // 2 (throws an int)
        EXPECT_TRUE(co_await lock.extend(dlock::Seconds(1)));       // 3
        co_await lock.release();                                    // 4
        EXPECT_EQ((co_await redis.command("EXISTS", name)).integer, 0);
        EXPECT_TRUE(co_await other.acquire());  // 5
        co_await redis.command("DEL", name);
        EXPECT_TRUE(is<dlock::LockReleaseError>(co_await thrown_by(other.release())));  // 6
    });
    EXPECT_EQ(thrower->exceptions_caught(), 6u);
}

TEST_F(Observer, ALockObserverTakesPrecedenceOverTheClients) {
    auto client_wide = std::make_shared<Recorder>();
    auto own = std::make_shared<Recorder>();
    redis.set_observer(client_wide);
    EXPECT_EQ(redis.observer(), client_wide);
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Lock mine(redis, name, {.observer = own});
        EXPECT_TRUE(co_await mine.acquire());
        co_await mine.release();
        dlock::Lock shared(redis, name);
        EXPECT_TRUE(co_await shared.acquire());
        co_await shared.release();
    });
    EXPECT_EQ(own->events.size(), 2u);
    EXPECT_EQ(client_wide->events.size(), 2u);
}

// Installs a sink for one test, removes it on the way out.
class CapturedLog {
  public:
    CapturedLog() {
        dlock::set_log_sink(
            [this](dlock::LogLevel level, std::string_view message) {
                const std::lock_guard guard(mutex_);
                lines_.push_back(std::string(to_string(level)) + ": " + std::string(message));
            },
            dlock::LogLevel::debug);
    }
    ~CapturedLog() { dlock::set_log_sink({}); }
    std::vector<std::string> lines() const {
        const std::lock_guard guard(mutex_);
        return lines_;
    }

  private:
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
};

TEST(LogSink, ALostLockAndAReconnectAreLoggedWithoutTheToken) {
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), server("PLAIN_URL"));
    const std::string name = unique_name();
    std::string token;
    CapturedLog log;
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Lock lock(redis, name, {.timeout = 10s});
        EXPECT_TRUE(co_await lock.acquire());
        token = *lock.token();
        co_await redis.command("DEL", name);
        EXPECT_TRUE(is<dlock::LockReleaseError>(co_await thrown_by(lock.release())));
        // Drop our own connection (CLIENT KILL by our id; SKIPME is yes by default): the next
        // command reconnects.
        const long long id = (co_await redis.command("CLIENT", "ID")).integer;
        co_await thrown_by(
            redis.command("CLIENT", "KILL", "ID", std::to_string(id), "SKIPME", "no"));
        co_await pause_for(50ms);
        co_await thrown_by(redis.command("PING"));
        EXPECT_NE((co_await redis.command("CLIENT", "ID")).integer, id) << "a new connection";
    });
    const auto lines = log.lines();
    bool lost = false, reconnected = false;
    for (const std::string& line : lines) {
        EXPECT_EQ(line.find(token), std::string::npos) << line;
        lost = lost || (line.find("warning: lock '" + name + "' lost (release_found_gone)") == 0);
        reconnected = reconnected || line.find("info: reconnected to ") == 0;
    }
    EXPECT_TRUE(lost);
    EXPECT_TRUE(reconnected) << ::testing::PrintToString(lines);
}

TEST(LogSink, IsSilentWithoutASinkAndAfterItIsRemoved) {
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), server("PLAIN_URL"));
    const std::string name = unique_name();
    std::size_t calls = 0;
    dlock::set_log_sink([&](dlock::LogLevel, std::string_view) { ++calls; },
                        dlock::LogLevel::error);  // lost locks are warnings: below the level
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Lock lock(redis, name, {.timeout = 10s});
        EXPECT_TRUE(co_await lock.acquire());
        co_await redis.command("DEL", name);
        co_await thrown_by(lock.release());
        dlock::set_log_sink({});
        EXPECT_TRUE(co_await lock.acquire());
        co_await redis.command("DEL", name);
        co_await thrown_by(lock.release());
    });
    EXPECT_EQ(calls, 0u);
}

}  // namespace
