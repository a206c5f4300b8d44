// The defects of the anchors (coredis, redis-py) that dlock must not have: docs/semantics.md §3,
// on a standalone server. Each test states what the anchor does and why that would fail here.
//
// Not tested here: §3.1-3.3 are about cluster replication (the cluster suites test them);
// §3.5 (blocking_timeout measured on the steady clock, not time.time() as coredis does) would
// need the wall clock moved under a running test, which would disturb every other process on
// the machine: Lock keeps all deadlines as std::chrono::steady_clock points (detail::Clock).
// §3.8 (a sleep past blocking_timeout) is a row of
// LockTest.BlockingTimeoutGivesUpAfterAtLeastThatLong.
#include <asio.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <limits>
#include <set>
#include <string>

#include "async.hpp"
#include "dlock/lock.hpp"
#include "dlock/redis.hpp"
#include "dlock/sync.hpp"
#include "lock/scripts.hpp"
#include "names.hpp"
#include "own_server_test.hpp"
#include "own_servers.hpp"
#include "server_stats.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::Lock;
using dlock::LockOptions;
using dlock::Seconds;
using namespace dlock::test;

// A server of the test's own (these tests pause or freeze it), an admin client that talks to
// it from its own thread (it works while the test's io_context waits), and a dlock client.
class LockDefectsTest : public OwnServerTest {
  protected:
    bool exists(const std::string& key) { return admin_.command({"EXISTS", key}).integer == 1; }
    // CLIENT PAUSE WRITE: the server holds back every write (SET, EVALSHA, PUBLISH) of every
    // other client until unpaused, and keeps answering reads and admin commands.
    void pause_writes() { admin_.command({"CLIENT", "PAUSE", "20000", "WRITE"}); }
    void unpause() { admin_.command({"CLIENT", "UNPAUSE"}); }
    // A fresh server answers a script's first EVALSHA with NOSCRIPT (then dlock sends EVAL). A
    // late EVALSHA, whose caller stopped waiting, would fail that way and do nothing: tests of
    // what a late command does load the scripts first, as on a server in steady use.
    void cache_scripts() {
        for (const auto* script :
             {&dlock::detail::release_script(), &dlock::detail::extend_script()}) {
            EXPECT_EQ(admin_.command({"SCRIPT", "LOAD", std::string(script->source)}).str,
                      script->sha1);
        }
    }

    // The start of every release test: scripts cached, `lock` held. Returns its token.
    asio::awaitable<std::optional<std::string>> acquire_with_scripts_cached(Lock& lock) {
        cache_scripts();
        EXPECT_TRUE(co_await lock.acquire());
        co_return lock.token();
    }
};

// §3.4: redis-py (`self.local.token = None` before the script runs) and coredis forget the
// token before the release round trip. If the release then fails on the network, nobody can
// release the lock any more, and without a timeout it stays forever (redis-py #3847, #4258).
// Here the release fails while the server holds back writes, the connection is lost (so the
// held-back release is discarded by the server), and the retry after the stall succeeds.
TEST_F(LockDefectsTest, AReleaseThatTimesOutKeepsTheTokenAndCanBeRetried) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.command_timeout = 0.3s});
        const auto token = co_await acquire_with_scripts_cached(lock);
        pause_writes();
        Stopwatch watch;
        std::exception_ptr error = co_await thrown_by(lock.release());
        EXPECT_TRUE(is<dlock::TimeoutError>(error));
        EXPECT_LT(watch.seconds(), 2.0);
        EXPECT_EQ(lock.token(), token);  // redis-py: None, and the retry raises "unlocked lock"
        redis_.close();                  // the network error: the held-back release is dropped
        unpause();
        EXPECT_TRUE(exists(name_));
        co_await lock.release();  // reconnects; the key still holds our token
        EXPECT_FALSE(lock.token());
        EXPECT_FALSE(exists(name_));
    });
}

// §3.4, the cancelled half: coredis's release is an asyncio task that may be cancelled (a
// timeout around `async with`); the token is gone by then. Here the token stays.
TEST_F(LockDefectsTest, ACancelledReleaseKeepsTheTokenAndCanBeRetried) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_);
        const auto token = co_await acquire_with_scripts_cached(lock);
        pause_writes();
        asio::cancellation_signal cancel;
        std::optional<std::exception_ptr> outcome;
        asio::co_spawn(io_, lock.release(),
                       asio::bind_cancellation_slot(cancel.slot(),
                                                    [&](std::exception_ptr e) { outcome = e; }));
        co_await let_others_run();  // the release is now waiting for the paused server
        EXPECT_FALSE(outcome);
        cancel.emit(asio::cancellation_type::terminal);
        for (Stopwatch watch; !outcome && watch.elapsed() < 5s;) co_await pause_for(5ms);
        EXPECT_TRUE(outcome && *outcome);  // cancelled: an exception, not success
        EXPECT_EQ(lock.token(), token);
        redis_.close();
        unpause();
        co_await lock.release();
        EXPECT_FALSE(exists(name_));
    });
}

// §3.4 with a stall and no connection loss: the release that timed out is still in the
// server's input and runs when the server resumes, so the lock does get released. Commands of
// one connection run in order, so a retry sent afterwards runs after it and finds the key
// gone: LockReleaseError ("not held by this object"), never a key left behind.
TEST_F(LockDefectsTest, AReleaseThatTimedOutDuringAFreezeTakesEffectWhenTheServerResumes) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.command_timeout = 0.3s});
        const auto token = co_await acquire_with_scripts_cached(lock);
        server_.freeze();
        std::exception_ptr error = co_await thrown_by(lock.release());
        EXPECT_TRUE(is<dlock::TimeoutError>(error));
        EXPECT_EQ(lock.token(), token);
        server_.thaw();
        error = co_await thrown_by(lock.release());
        EXPECT_TRUE(is<dlock::LockReleaseError>(error));
        EXPECT_FALSE(lock.token());
        EXPECT_FALSE(exists(name_));
    });
}

// §3.6: coredis's extend(-5) returns True without asking the server. dlock rejects it, whether
// or not the lock is held, and leaves the TTL alone.
TEST_F(LockDefectsTest, ExtendWithANegativeOrNonFiniteAmountIsRejected) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.timeout = 10s});
        EXPECT_THROW(co_await lock.extend(Seconds(-5)), std::invalid_argument);  // not held
        EXPECT_TRUE(co_await lock.acquire());
        for (const double bad : {-5.0, -0.001, std::numeric_limits<double>::quiet_NaN(),
                                 std::numeric_limits<double>::infinity()}) {
            EXPECT_THROW(co_await lock.extend(Seconds(bad)), std::invalid_argument) << bad;
            EXPECT_THROW(co_await lock.extend(Seconds(bad), dlock::ExtendMode::replace),
                         std::invalid_argument)
                << bad;
        }
        const long long ttl = admin_.command({"PTTL", name_}).integer;
        EXPECT_GT(ttl, 8000);
        EXPECT_LE(ttl, 10000);
        co_await lock.release();
    });
}

// §3.7: redis-py and coredis use uuid1().hex: time and MAC address, so tokens of one process
// share their last 12 hex digits (the node) and digit 12 is always '1' (the version). dlock's
// are 128 random bits: 32 lowercase hex digits, all distinct, every digit position varying.
TEST_F(LockDefectsTest, TokensAre128RandomBitsInHex) {
    constexpr int count = 200;
    std::set<std::string> tokens, nodes;
    std::vector<std::set<char>> digits(32);
    run([&]() -> asio::awaitable<void> {
        Lock lock(redis_, name_);
        for (int i = 0; i < count; ++i) {
            EXPECT_TRUE(co_await lock.acquire());
            const std::string token = lock.token().value_or("");
            EXPECT_EQ(token, admin_.command({"GET", name_}).str);
            co_await lock.release();
            EXPECT_EQ(token.size(), 32u) << token;
            EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos) << token;
            tokens.insert(token);
            nodes.insert(token.substr(20));
            for (std::size_t d = 0; d < 32 && d < token.size(); ++d) digits[d].insert(token[d]);
        }
    });
    EXPECT_EQ(tokens.size(), std::size_t{count});
    EXPECT_EQ(nodes.size(), std::size_t{count});  // uuid1: 1
    for (std::size_t d = 0; d < 32; ++d) EXPECT_GT(digits[d].size(), 1u) << "digit " << d;
}

// An acquisition that times out while its SET is in flight may still be applied later. With no
// lock timeout the key would then stay forever and nobody would know its token (coredis and
// redis-py just raise). dlock queues a token-checked delete behind the SET on the same
// connection, so whenever the server runs the SET, it runs the delete right after. The server
// is fresh (no script cached): the delete must not depend on a NOSCRIPT retry.
TEST_F(LockDefectsTest, AnAcquireThatTimesOutLeavesNoOrphanKey) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.command_timeout = 0.2s});
        pause_writes();
        Stopwatch watch;
        std::exception_ptr error = co_await thrown_by(lock.acquire());
        EXPECT_TRUE(is<dlock::TimeoutError>(error));
        EXPECT_LT(watch.seconds(), 2.0);
        EXPECT_FALSE(lock.token());
        EXPECT_FALSE(exists(name_));  // nothing applied yet: the SET is held back
        unpause();
        // The server now runs the held-back SET, then the delete. Wait (bounded) for both.
        bool gone = false;
        for (Stopwatch wait; !gone && wait.elapsed() < 5s;) {
            gone = dlock::test::command_calls(admin_, "set") == 1 && !exists(name_);
            if (!gone) co_await pause_for(10ms);
        }
        EXPECT_EQ(dlock::test::command_calls(admin_, "set"), 1);  // the SET did run...
        EXPECT_TRUE(gone);                                        // ...and was undone
    });
}

// §3.9: every operation has a bounded time (coredis #238: `async with` on a cluster that never
// returns). With the server frozen, each call fails with TimeoutError after command_timeout.
TEST_F(LockDefectsTest, EveryOperationIsBoundedWhenTheServerHangs) {
    run([this]() -> asio::awaitable<void> {
        Lock held(redis_, name_, {.timeout = 30s, .command_timeout = 0.3s});
        EXPECT_TRUE(co_await held.acquire());
        Lock other(redis_, name_ + ":other", {.timeout = 30s, .command_timeout = 0.3s});
        server_.freeze();
        auto bounded = [&](const char* what, std::exception_ptr error, const Stopwatch& watch) {
            EXPECT_TRUE(is<dlock::TimeoutError>(error)) << what;
            EXPECT_LT(watch.seconds(), 2.0) << what;
        };
        {
            Stopwatch watch;
            bounded("acquire", co_await thrown_by(other.acquire()), watch);
        }
        {
            Stopwatch watch;
            bounded("extend", co_await thrown_by(held.extend(1s)), watch);
        }
        {
            Stopwatch watch;
            bounded("reacquire", co_await thrown_by(held.reacquire()), watch);
        }
        {
            Stopwatch watch;
            bounded("locked", co_await thrown_by(held.locked()), watch);
        }
        {
            Stopwatch watch;
            bounded("owned", co_await thrown_by(held.owned()), watch);
        }
        {
            Stopwatch watch;
            bounded("release", co_await thrown_by(held.release()), watch);
        }
        server_.thaw();
    });
}

}  // namespace
