// Auto-renewal: a short lock outlives long work, a lost lock is reported (on_lost, wait_lost,
// lost(), owned()), release() stops renewing even when it races a renewal, and a thousand
// renewed locks need no thread of their own.
#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <map>

#include "async.hpp"
#include "dlock/lock.hpp"
#include "dlock/redis.hpp"
#include "names.hpp"
#include "own_servers.hpp"
#include "plain_server_test.hpp"
#include "server_stats.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using namespace dlock::test;

dlock::LockOptions renewed(dlock::Seconds timeout, std::optional<dlock::Seconds> interval = {}) {
    dlock::LockOptions options;
    options.timeout = timeout;
    options.auto_renew = true;
    options.renew_interval = interval;
    return options;
}

// The threads of this process: one entry each in /proc/self/task.
int thread_count() {
    const std::filesystem::directory_iterator tasks("/proc/self/task");
    return static_cast<int>(std::distance(begin(tasks), end(tasks)));
}

class Renewal : public dlock::test::PlainServerTest {};

TEST_F(Renewal, KeepsAOneSecondLockThroughFiveSecondsOfWork) {
    run([&]() -> asio::awaitable<void> {
        bool lost_called = false;
        dlock::LockOptions options = renewed(1s);
        options.on_lost = [&] { lost_called = true; };
        dlock::Lock holder(client_, name_, options);
        dlock::Lock other(other_, name_, renewed(1s));
        EXPECT_TRUE(co_await holder.acquire());
        const auto end = Clock::now() + 5s;
        int checks = 0;
        while (Clock::now() < end) {
            co_await pause_for(100ms);  // "work"
            const long long ttl = (co_await other_.command("PTTL", name_)).integer;
            EXPECT_GT(ttl, 0) << "after " << checks << " checks";
            EXPECT_LE(ttl, 1000);
            EXPECT_FALSE(co_await other.acquire({.blocking = false}));
            ++checks;
        }
        EXPECT_GE(checks, 40);
        EXPECT_TRUE(co_await holder.owned());
        EXPECT_FALSE(holder.lost());
        EXPECT_FALSE(lost_called);
        co_await holder.release();
        EXPECT_EQ((co_await other_.command("EXISTS", name_)).integer, 0);
    });
}

TEST_F(Renewal, DeletingTheKeyFiresTheLostSignalWithinAboutOnePeriod) {
    run([&]() -> asio::awaitable<void> {
        int lost_calls = 0;
        Clock::time_point lost_at;
        dlock::LockOptions options = renewed(1s);  // renews every 333 ms
        options.on_lost = [&] {
            ++lost_calls;
            lost_at = Clock::now();
        };
        dlock::Lock holder(client_, name_, options);
        EXPECT_TRUE(co_await holder.acquire());
        EXPECT_FALSE(holder.lost());
        co_await pause_for(150ms);  // somewhere inside a renewal period
        co_await other_.command("DEL", name_);
        const auto deleted = Clock::now();
        EXPECT_TRUE(co_await holder.wait_lost());
        const auto noticed = Clock::now();
        EXPECT_LT(noticed - deleted, 333ms + 500ms);  // one renewal period + slack
        EXPECT_EQ(lost_calls, 1);
        EXPECT_LE(lost_at, noticed);
        EXPECT_TRUE(holder.lost());
        EXPECT_FALSE(co_await holder.owned());
        EXPECT_TRUE(co_await holder.wait_lost());  // stays lost: returns at once
        EXPECT_THROW(co_await holder.release(), dlock::LockReleaseError);
        std::cout << "loss noticed "
                  << std::chrono::duration<double, std::milli>(noticed - deleted).count()
                  << " ms after DEL (renewal period 333 ms)\n";
    });
}

TEST_F(Renewal, TakeoverByAnotherHolderIsALossToo) {
    run([&]() -> asio::awaitable<void> {
        dlock::Lock holder(client_, name_, renewed(1s, 0.1s));
        EXPECT_TRUE(co_await holder.acquire());
        co_await other_.command("SET", name_, "someone else's token");
        const auto overwritten = Clock::now();
        EXPECT_TRUE(co_await holder.wait_lost());
        EXPECT_LT(Clock::now() - overwritten, 100ms + 500ms);
        EXPECT_FALSE(co_await holder.owned());
        EXPECT_EQ((co_await other_.command("GET", name_)).str,
                  "someone else's token");  // untouched
        co_await other_.command("DEL", name_);
    });
}

TEST_F(Renewal, WaitLostReturnsFalseWhenTheLockIsReleased) {
    run([&]() -> asio::awaitable<void> {
        dlock::Lock holder(client_, name_, renewed(1s));
        EXPECT_FALSE(co_await holder.wait_lost());  // not held: nothing to lose
        EXPECT_TRUE(co_await holder.acquire());
        using namespace asio::experimental::awaitable_operators;
        auto watch = [&]() -> asio::awaitable<bool> { co_return co_await holder.wait_lost(); };
        auto work_then_release = [&]() -> asio::awaitable<void> {
            co_await pause_for(400ms);  // past one renewal
            co_await holder.release();
        };
        const bool lost = co_await (watch() && work_then_release());
        EXPECT_FALSE(lost);
        EXPECT_FALSE(holder.lost());
    });
}

// A release that finds the key gone (expired without renewal, taken over) ends a hold that was
// lost: its wait_lost() callers must hear "lost", not "released".
TEST_F(Renewal, WaitLostSaysLostWhenTheReleaseFindsTheKeyGone) {
    run([&]() -> asio::awaitable<void> {
        dlock::Lock holder(client_, name_, {.timeout = 30s});
        EXPECT_TRUE(co_await holder.acquire());
        using namespace asio::experimental::awaitable_operators;
        auto watch = [&]() -> asio::awaitable<bool> { co_return co_await holder.wait_lost(); };
        auto take_over_then_release = [&]() -> asio::awaitable<void> {
            co_await other_.command("SET", name_, "someone-else");
            EXPECT_THROW(co_await holder.release(), dlock::LockReleaseError);
        };
        const bool lost = co_await (watch() && take_over_then_release());
        EXPECT_TRUE(lost) << "the hold was lost, yet wait_lost() said released";
        co_await other_.command("DEL", name_);
    });
}

// The pattern the README shows: race the work against wait_lost(); losing the lock cancels the
// work, finishing the work cancels the wait.
TEST_F(Renewal, WorkRacedAgainstWaitLost) {
    using namespace asio::experimental::awaitable_operators;
    run([&]() -> asio::awaitable<void> {
        dlock::Lock lock(client_, name_, renewed(1s, 0.1s));
        // The work finishes first.
        EXPECT_TRUE(co_await lock.acquire());
        auto outcome = co_await (pause_for(300ms) || lock.wait_lost());
        EXPECT_EQ(outcome.index(), 0u);
        co_await lock.release();
        // The lock is lost first: the (long) work is cancelled.
        EXPECT_TRUE(co_await lock.acquire());
        auto lose = [&]() -> asio::awaitable<void> {
            co_await pause_for(200ms);
            co_await other_.command("DEL", name_);
        };
        const auto start = Clock::now();
        auto lost = co_await ((pause_for(60s) || lock.wait_lost()) && lose());
        EXPECT_EQ(lost.index(), 1u);
        EXPECT_LT(Clock::now() - start, 200ms + 100ms + 500ms);
        EXPECT_TRUE(lock.lost());
    });
}

// Every command the server runs, as MONITOR shows it (one line each), until an ECHO of
// `end_marker` comes by.
class Monitor {
  public:
    Monitor(asio::io_context& io, int port) : socket_(io), port_(port), done_(io.get_executor()) {}

    asio::awaitable<void> start() {
        const asio::ip::tcp::endpoint server(asio::ip::make_address("127.0.0.1"),
                                             static_cast<unsigned short>(port_));
        co_await socket_.async_connect(server, asio::use_awaitable);
        const std::string_view monitor = "MONITOR\r\n";
        co_await asio::async_write(socket_, asio::buffer(monitor), asio::use_awaitable);
        EXPECT_EQ(co_await next_line(), "+OK");
        asio::co_spawn(socket_.get_executor(), collect(), asio::detached);
    }
    // Sends the end marker on `admin` and waits until MONITOR showed it.
    asio::awaitable<std::vector<std::string>> stop(dlock::Redis& admin) {
        co_await admin.command("ECHO", end_marker);
        // MONITOR may show the marker before ECHO's own reply arrives.
        EXPECT_TRUE(co_await done_.wait(10s)) << "MONITOR never showed the end marker";
        socket_.close();
        co_return std::move(lines_);
    }

  private:
    static constexpr std::string_view end_marker = "renewal-test-monitor-end";
    asio::awaitable<std::string> next_line() {
        const std::string_view crlf = "\r\n";
        const std::size_t n = co_await asio::async_read_until(
            socket_, asio::dynamic_buffer(buffer_), crlf, asio::use_awaitable);
        std::string line = buffer_.substr(0, n - 2);
        buffer_.erase(0, n);
        co_return line;
    }
    asio::awaitable<void> collect() {
        for (;;) {
            std::string line = co_await next_line();
            if (line.find(end_marker) != std::string::npos) break;
            lines_.push_back(std::move(line));
        }
        done_.notify();
    }
    asio::ip::tcp::socket socket_;
    int port_;
    dlock::test::Notification done_;
    std::string buffer_;
    std::vector<std::string> lines_;
};

// Many locks release right at their renewal moment (a sweep of -1..+1 ms around it), over
// several rounds. MONITOR shows, per lock, that no renewal (extend script, mode "renew")
// reached the server after its release (the script that publishes), and nothing at all in the
// two renewal periods after the last release. On a server of its own (MONITOR): the fixture's
// clients stay unused.
TEST_F(Renewal, ReleaseStopsRenewalEvenWhenItRacesARenewal) {
    dlock::test::OwnServers server{"plain"};
    asio::io_context io;
    dlock::Redis client(io.get_executor(), server.url());
    dlock::Redis admin(io.get_executor(), server.url());
    constexpr auto period = 100ms;
    constexpr int locks = 200, rounds = 3;
    Monitor monitor(io, server.port());
    std::vector<std::string> commands;
    dlock::test::run(io, [&]() -> asio::awaitable<void> {
        co_await monitor.start();
        for (int round = 0; round < rounds; ++round) {
            int released = 0, lost = 0;
            dlock::test::Notification all_released(io.get_executor(), locks);
            for (int i = 0; i < locks; ++i) {
                asio::co_spawn(
                    io,
                    [&, i]() -> asio::awaitable<void> {
                        dlock::Lock lock(
                            client,
                            "renewal-race:" + std::to_string(round) + ":" + std::to_string(i),
                            renewed(0.3s, period));
                        EXPECT_TRUE(co_await lock.acquire());
                        co_await pause_for(period +
                                           std::chrono::microseconds((i - locks / 2) * 10));
                        try {
                            co_await lock.release();
                        } catch (const std::exception& error) {
                            ADD_FAILURE() << "lock " << i << ": " << error.what();
                        }
                        lost += lock.lost();
                        ++released;
                        all_released.notify();
                    },
                    asio::detached);
            }
            co_await all_released.wait(10s);
            EXPECT_EQ(released, locks);
            EXPECT_EQ(lost, 0);
        }
        const long long after_release = co_await script_calls(admin);
        co_await pause_for(2 * period + 50ms);
        EXPECT_EQ(co_await script_calls(admin), after_release)
            << "a renewal ran after the last release()";
        commands = co_await monitor.stop(admin);
    });

    // Top-level scripts only ("EVALSHA"/"EVAL" as sent; calls made inside scripts are lower case).
    int renewals = 0, late = 0;
    std::map<std::string, bool> released;  // quoted lock name -> its release was seen
    for (const std::string& line : commands) {
        if (line.find("\"EVALSHA\"") == std::string::npos &&
            line.find("\"EVAL\"") == std::string::npos)
            continue;
        const auto at = line.find("\"renewal-race:");
        if (at == std::string::npos) continue;
        const std::string name = line.substr(at, line.find('"', at + 1) - at + 1);
        if (line.ends_with("\"renew\"")) {
            ++renewals;
            if (released[name]) {
                ++late;
                ADD_FAILURE() << "renewal after release: " << line;
            }
        } else if (line.find("\"publish\"") !=
                   std::string::npos) {  // release (twice on a fresh server: EVALSHA, EVAL)
            released[name] = true;
        }
    }
    const auto releases = std::count_if(released.begin(), released.end(),
                                        [](const auto& entry) { return entry.second; });
    EXPECT_EQ(releases, rounds * locks);
    EXPECT_EQ(late, 0);
    EXPECT_GT(renewals, 0);  // some renewals did run just before their release: a real race
    std::cout << renewals << " renewals ran just before " << releases << " releases, " << late
              << " after\n";
}

// Renewals are EVALSHA. When the server no longer has the script (SCRIPT FLUSH here; a
// restart or a promoted replica alike), the renewal that got NOSCRIPT is not retried by itself,
// and the loop's next attempt sends the source at once: the lock lives on, flush after flush.
TEST_F(Renewal, AfterScriptFlushTheNextRenewalSendsTheSourceAndTheLockLivesOn) {
    dlock::test::OwnServers server{"plain"};  // SCRIPT FLUSH would disturb other tests' counts
    asio::io_context io;
    dlock::Redis client(io.get_executor(), server.url());
    dlock::Redis admin(io.get_executor(), server.url());
    dlock::test::run(io, [&]() -> asio::awaitable<void> {
        dlock::Lock lock(client, name_, renewed(1s, 0.2s));
        EXPECT_TRUE(co_await lock.acquire());
        for (int flush = 0; flush < 3; ++flush) {
            co_await admin.command("SCRIPT", "FLUSH");
            const long long evals = co_await calls_of(admin, "eval");
            const long long evalshas = co_await calls_of(admin, "evalsha");
            // NOSCRIPT, then the source; then EVALSHA again once the source cached the script.
            EXPECT_TRUE(co_await eventually(
                [&]() -> asio::awaitable<bool> {
                    co_return co_await calls_of(admin, "eval") >
                        evals&& co_await calls_of(admin, "evalsha") >= evalshas + 2;
                },
                5s))
                << "after SCRIPT FLUSH " << flush + 1 << " no renewal sent the source";
            EXPECT_FALSE(lock.lost()) << "lost after SCRIPT FLUSH " << flush + 1;
        }
        // A whole timeout after the last flush: only renewals kept the key.
        co_await pause_for(1200ms);
        EXPECT_FALSE(lock.lost());
        EXPECT_GT((co_await admin.command("PTTL", name_)).integer, 0);
        co_await lock.release();
    });
}

// A renewal is in flight (EVALSHA, the script flushed) when release() is sent behind it on the
// same connection. Its NOSCRIPT comes back after the release was sent: a retry then would be a
// renewal after release(). MONITOR shows the renewal before the release and none after it.
// The server is held still by DEBUG SLEEP so that both wait in its socket; the client gives no
// event for "renewal sent", so the test waits past the renewal's latest moment.
TEST_F(Renewal, ARenewalThatGetsNoscriptAfterReleaseWasSentIsNotSentAgain) {
    dlock::test::OwnServers server{"plain"};
    asio::io_context io;
    dlock::Redis client(io.get_executor(), server.url());
    dlock::Redis admin(io.get_executor(), server.url());
    dlock::Redis sleeper(io.get_executor(), server.url());
    Monitor monitor(io, server.port());
    std::vector<std::string> commands;
    dlock::test::run(io, [&]() -> asio::awaitable<void> {
        co_await monitor.start();
        co_await admin.command("SCRIPT", "FLUSH");
        {  // the release script is cached; the extend script is not
            dlock::Lock warm_up(client, name_ + ":warm-up");
            EXPECT_TRUE(co_await warm_up.acquire());
            co_await warm_up.release();
        }
        co_await sleeper.command("PING");
        // Renewal every 1 s: the first is due in (744, 1000] ms (its grid step is 256 ms).
        dlock::Lock lock(client, name_, renewed(5s, 1s));
        EXPECT_TRUE(co_await lock.acquire());
        const auto acquired = Clock::now();
        co_await pause_for(acquired + 400ms - Clock::now());
        dlock::test::Notification slept(io.get_executor());
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                co_await sleeper.command("DEBUG", "SLEEP", "2");
                slept.notify();
            },
            asio::detached);
        co_await pause_for(acquired + 1400ms - Clock::now());
        co_await lock.release();  // answered once the server wakes, after the renewal's NOSCRIPT
        EXPECT_TRUE(co_await slept.wait(10s));
        co_await pause_for(2s);  // two renewal periods: a late renewal would have come by now
        commands = co_await monitor.stop(admin);
    });
    const std::string quoted = "\"" + name_ + "\"";
    int renewals_before = 0, renewals_after = 0;
    bool released = false;
    for (const std::string& line : commands) {
        if (line.find(quoted) == std::string::npos) continue;
        if (line.find("\"EVALSHA\"") == std::string::npos &&
            line.find("\"EVAL\"") == std::string::npos)
            continue;
        if (line.ends_with("\"renew\"")) {
            ++(released ? renewals_after : renewals_before);
            if (released) ADD_FAILURE() << "renewal after release: " << line;
        } else if (line.find("\"publish\"") != std::string::npos) {
            released = true;
        }
    }
    EXPECT_TRUE(released);
    if (renewals_before == 0) GTEST_SKIP() << "the renewal was not sent before release()";
    EXPECT_EQ(renewals_after, 0);
}

TEST_F(Renewal, AThousandRenewedLocksNeedNoExtraThread) {
    constexpr int count = 1000;
    const std::string prefix = dlock::test::unique_name(":");
    run([&]() -> asio::awaitable<void> {
        co_await client_.command("PING");  // connected (a resolver thread, if any, exists now)
        co_await other_.command("PING");
        const int threads_before = thread_count();
        std::vector<std::unique_ptr<dlock::Lock>> held;
        for (int i = 0; i < count; ++i) {
            held.push_back(
                std::make_unique<dlock::Lock>(client_, prefix + std::to_string(i), renewed(1s)));
            EXPECT_TRUE(co_await held.back()->acquire());
        }
        co_await pause_for(3s);  // three timeouts' worth: each key was renewed ~9 times
        int alive = 0, lost = 0;
        for (auto& lock : held) {
            const long long ttl = (co_await other_.command("PTTL", lock->name())).integer;
            alive += ttl > 0;
            lost += lock->lost();
        }
        EXPECT_EQ(alive, count);
        EXPECT_EQ(lost, 0);
        EXPECT_EQ(thread_count(), threads_before);
        std::cout << count << " renewed locks over 3 s on " << thread_count() << " thread(s)\n";
        for (auto& lock : held) co_await lock->release();
    });
}

}  // namespace
