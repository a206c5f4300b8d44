// dlock::Redlock / RedlockLock on five independent primaries (docs/semantics.md §5): quorum
// acquisition, roll-back of a failed attempt, tolerance of a minority of stopped or foreign
// nodes, validity, extension and release by quorum, option checks, and the latency of a cycle.
//
// Tests that stop nodes start five servers of their own (OwnServers): the harness's redlock5
// servers are shared with the other test executables running in parallel.
#include "dlock/redlock.hpp"

#include <algorithm>
#include <asio.hpp>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "async.hpp"
#include "dlock/sync.hpp"
#include "dlock/sync_redlock.hpp"
#include "names.hpp"
#include "observed.hpp"
#include "own_servers.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::ExtendMode;
using dlock::Redlock;
using dlock::RedlockLock;
using dlock::RedlockOptions;
using dlock::Seconds;
using namespace dlock::test;

std::vector<std::string> harness_urls() {
    return dlock::test::split(dlock::test::server("REDLOCK5_URLS"), ',');
}

class RedlockTest : public ::testing::Test {
  protected:
    // Against the harness's redlock5 servers unless a test brings its own.
    void use_nodes(const std::vector<std::string>& urls) {
        urls_ = urls;
        admins_.clear();
        for (const auto& url : urls_) admins_.push_back(std::make_unique<dlock::sync::Redis>(url));
        group_ = std::make_unique<Redlock>(io_.get_executor(), urls_);
    }
    void SetUp() override { use_nodes(harness_urls()); }
    void TearDown() override {
        for (std::size_t i = 0; i < admins_.size(); ++i) {
            if (!frozen(i)) admins_[i]->command({"DEL", name_});
        }
    }
    virtual bool frozen(std::size_t) const { return false; }

    // Runs one operation of the async API to completion; rethrows what it throws.
    template <class Make>
    auto go(Make make) {
        return dlock::test::run(io_, std::move(make));
    }
    bool acquire(RedlockLock& lock) {
        return go([&] { return lock.acquire(); });
    }
    void release(RedlockLock& lock) {
        go([&] { return lock.release(); });
    }
    bool extend(RedlockLock& lock, Seconds more, ExtendMode mode = ExtendMode::add) {
        return go([&] { return lock.extend(more, mode); });
    }
    // `holder` takes name_, then `waiter` starts to acquire it in the background. Returns the
    // waiter's outcome, set when its acquire() returns.
    std::shared_ptr<std::optional<bool>> hold_and_start_waiting(RedlockLock& holder,
                                                                RedlockLock& waiter) {
        EXPECT_TRUE(acquire(holder));
        auto outcome = std::make_shared<std::optional<bool>>();
        asio::co_spawn(io_, waiter.acquire(),
                       [outcome](std::exception_ptr, bool ok) { *outcome = ok; });
        return outcome;
    }
    // Runs io_ until `outcome` is set or `limit` passed.
    void run_until_set(const std::optional<bool>& outcome, std::chrono::seconds limit) {
        Stopwatch watch;
        while (!outcome && watch.elapsed() < limit) io_.run_one_for(100ms);
    }

    std::optional<std::string> get(std::size_t node) {
        dlock::Reply reply = admins_[node]->command({"GET", name_});
        if (reply.is_nil()) return std::nullopt;
        return reply.str;
    }
    long long pttl(std::size_t node) { return admins_[node]->command({"PTTL", name_}).integer; }

    asio::io_context io_;
    std::string name_ = dlock::test::unique_name();
    std::vector<std::string> urls_;
    std::vector<std::unique_ptr<dlock::sync::Redis>> admins_;
    std::unique_ptr<Redlock> group_;
};

TEST_F(RedlockTest, QuorumIsAMajority) {
    EXPECT_EQ(group_->size(), 5u);
    EXPECT_EQ(group_->quorum(), 3u);
}

TEST_F(RedlockTest, AcquireSetsTheTokenOnEveryNodeAndReleaseRemovesIt) {
    RedlockLock lock(*group_, name_, {.timeout = 10s});
    ASSERT_TRUE(acquire(lock));
    ASSERT_TRUE(lock.token());
    for (std::size_t i = 0; i < admins_.size(); ++i) {
        EXPECT_EQ(get(i), lock.token()) << "node " << i;
        const long long ttl = pttl(i);
        EXPECT_GT(ttl, 0) << "node " << i;
        EXPECT_LE(ttl, 10000) << "node " << i;
    }
    EXPECT_TRUE(go([&] { return lock.owned(); }));
    EXPECT_TRUE(go([&] { return lock.locked(); }));
    release(lock);
    EXPECT_FALSE(lock.token());
    for (std::size_t i = 0; i < admins_.size(); ++i) EXPECT_EQ(get(i), std::nullopt) << i;
    EXPECT_FALSE(go([&] { return lock.locked(); }));
}

TEST_F(RedlockTest, ASecondLockCannotAcquireWhileHeld) {
    RedlockLock holder(*group_, name_, {.timeout = 10s});
    ASSERT_TRUE(acquire(holder));

    RedlockLock once(*group_, name_, {.timeout = 10s, .blocking = false});
    EXPECT_FALSE(acquire(once));

    RedlockLock waiter(*group_, name_, {.timeout = 10s, .blocking_timeout = 0.3s});
    Stopwatch watch;
    EXPECT_FALSE(acquire(waiter));
    EXPECT_GE(watch.seconds(), 0.3);
    EXPECT_LT(watch.seconds(), 2.0);
    // The failed attempts were rolled back without touching the holder's keys.
    for (std::size_t i = 0; i < admins_.size(); ++i) EXPECT_EQ(get(i), holder.token()) << i;
    release(holder);
}

TEST_F(RedlockTest, ABlockingAcquireGetsTheLockOnceReleased) {
    RedlockLock holder(*group_, name_, {.timeout = 10s});
    RedlockLock waiter(*group_, name_, {.timeout = 10s, .blocking_timeout = 5s});
    const auto acquired = hold_and_start_waiting(holder, waiter);
    release(holder);
    run_until_set(*acquired, 10s);
    EXPECT_EQ(*acquired, true);
    release(waiter);
}

TEST_F(RedlockTest, AtMostOneOfConcurrentContendersWins) {
    std::vector<std::unique_ptr<RedlockLock>> contenders;
    int finished = 0;
    int winners = 0;
    for (int i = 0; i < 4; ++i) {
        contenders.push_back(std::make_unique<RedlockLock>(
            *group_, name_, RedlockOptions{.timeout = 10s, .blocking = false}));
        asio::co_spawn(io_, contenders.back()->acquire(), [&](std::exception_ptr, bool ok) {
            ++finished;
            winners += ok;
        });
    }
    Stopwatch watch;
    while (finished < 4 && watch.elapsed() < 10s) io_.run_one_for(100ms);
    EXPECT_EQ(finished, 4);
    EXPECT_LE(winners, 1);  // a split vote may leave none
}

TEST_F(RedlockTest, AForeignValueOnAMinorityOfNodesDoesNotPreventAcquisition) {
    admins_[0]->command({"SET", name_, "foreign"});
    admins_[3]->command({"SET", name_, "foreign"});
    RedlockLock lock(*group_, name_, {.timeout = 10s, .blocking = false});
    ASSERT_TRUE(acquire(lock));
    EXPECT_EQ(get(0), "foreign");
    EXPECT_EQ(get(3), "foreign");
    for (std::size_t i : {1, 2, 4}) EXPECT_EQ(get(i), lock.token()) << i;
    release(lock);  // 3 of 5 released: a quorum
    EXPECT_EQ(get(0), "foreign");
    EXPECT_EQ(get(3), "foreign");
}

TEST_F(RedlockTest, AForeignValueOnAMajorityOfNodesPreventsAcquisition) {
    for (std::size_t i : {0, 2, 4}) admins_[i]->command({"SET", name_, "foreign"});
    RedlockLock lock(*group_, name_, {.timeout = 10s, .blocking = false});
    EXPECT_FALSE(acquire(lock));
    EXPECT_FALSE(lock.token());
    for (std::size_t i : {0, 2, 4}) EXPECT_EQ(get(i), "foreign") << i;
    for (std::size_t i : {1, 3}) EXPECT_EQ(get(i), std::nullopt) << i;  // rolled back
}

TEST_F(RedlockTest, ValidityLeavesRoomForDrift) {
    RedlockLock lock(*group_, name_, {.timeout = 2s});
    EXPECT_EQ(lock.validity(), Seconds(0));
    ASSERT_TRUE(acquire(lock));
    const Seconds drift = 2s * 0.01 + 2ms;
    EXPECT_LE(lock.validity(), 2s - drift);
    EXPECT_GT(lock.validity(), Seconds(0));
    release(lock);
    EXPECT_EQ(lock.validity(), Seconds(0));
}

TEST_F(RedlockTest, ExtendAddsTimeOnEveryNode) {
    RedlockLock lock(*group_, name_, {.timeout = 2s});
    ASSERT_TRUE(acquire(lock));
    const Seconds before = lock.validity();
    EXPECT_TRUE(extend(lock, 10s));
    for (std::size_t i = 0; i < admins_.size(); ++i) {
        const long long ttl = pttl(i);
        EXPECT_GT(ttl, 10000) << i;
        EXPECT_LE(ttl, 12000) << i;
    }
    EXPECT_GT(lock.validity(), before + 9s);
    EXPECT_TRUE(extend(lock, 5s, ExtendMode::replace));
    for (std::size_t i = 0; i < admins_.size(); ++i) {
        const long long ttl = pttl(i);
        EXPECT_GT(ttl, 0) << i;
        EXPECT_LE(ttl, 5000) << i;
    }
    EXPECT_LE(lock.validity(), 5s - (5s * 0.01 + 2ms));
    release(lock);
}

TEST_F(RedlockTest, ExtendAndReleaseFailWhenAMajorityLostTheKey) {
    RedlockLock lock(*group_, name_, {.timeout = 10s});
    ASSERT_TRUE(acquire(lock));
    for (std::size_t i : {1, 2, 3}) admins_[i]->command({"DEL", name_});
    EXPECT_THROW(extend(lock, 5s), dlock::LockExtensionError);
    EXPECT_THROW(release(lock), dlock::LockReleaseError);
    // Release tried every node: the two that still had the key lost it.
    for (std::size_t i = 0; i < admins_.size(); ++i) EXPECT_EQ(get(i), std::nullopt) << i;
    EXPECT_FALSE(lock.token());
}

// The observer hears a Redlock's events as a Lock's (dlock/observer.hpp).
TEST_F(RedlockTest, ReportsItsEventsToItsObserver) {
    auto recorder = std::make_shared<Recorder>();
    const RedlockOptions options{.timeout = 10s, .observer = recorder};
    RedlockLock lock(*group_, name_, options), other(*group_, name_, options);
    ASSERT_TRUE(acquire(lock));
    EXPECT_FALSE(go([&] { return other.acquire({.blocking = false}); }));
    EXPECT_FALSE(go([&] { return other.acquire({.blocking_timeout = Seconds(0.3)}); }));
    EXPECT_TRUE(extend(lock, 1s));
    release(lock);
    ASSERT_TRUE(acquire(other));
    for (std::size_t i : {0, 1, 2}) admins_[i]->command({"DEL", name_});
    EXPECT_THROW(release(other), dlock::LockReleaseError);
    EXPECT_TRUE(recorder->all_of(name_));
    EXPECT_EQ(recorder->kinds(),
              (std::vector<std::string>{"acquired", "not_acquired", "not_acquired", "extended",
                                        "released", "acquired", "lost"}));
    EXPECT_EQ(recorder->reasons("not_acquired"), (std::vector<std::string>{"held", "timed_out"}));
    EXPECT_EQ(recorder->reasons("lost"), std::vector<std::string>{"release_found_gone"});
    const auto timed_out = recorder->of("not_acquired").back();
    EXPECT_GE(timed_out.attempts, 2u) << "it retried";
    EXPECT_GE(timed_out.time, 300ms);
    EXPECT_EQ(recorder->of("acquired").front().attempts, 1u);

    auto thrower = std::make_shared<Thrower>();
    RedlockLock throwing(*group_, name_, {.timeout = 10s, .observer = thrower});
    ASSERT_TRUE(acquire(throwing));
    EXPECT_TRUE(extend(throwing, 1s));
    release(throwing);
    EXPECT_EQ(thrower->exceptions_caught(), 3u) << "acquired, extended, released";
}

TEST_F(RedlockTest, ReleaseOrExtendWithoutAcquireThrows) {
    RedlockLock lock(*group_, name_, {.timeout = 10s});
    EXPECT_THROW(release(lock), dlock::LockReleaseError);
    EXPECT_THROW(extend(lock, 1s), dlock::LockExtensionError);
    EXPECT_FALSE(go([&] { return lock.owned(); }));
}

TEST_F(RedlockTest, AcquiringTwiceThrows) {
    RedlockLock lock(*group_, name_, {.timeout = 10s});
    ASSERT_TRUE(acquire(lock));
    EXPECT_THROW(acquire(lock), dlock::LockError);
    release(lock);
}

TEST_F(RedlockTest, ASecondOperationWhileOneIsInProgressThrows) {
    RedlockLock holder(*group_, name_, {.timeout = 10s});
    RedlockLock waiter(*group_, name_, {.timeout = 10s, .blocking_timeout = 0.5s});
    // Spawned first, so it runs (and waits on the nodes) before the query below starts.
    const auto acquired = hold_and_start_waiting(holder, waiter);
    EXPECT_THROW(go([&] { return waiter.locked(); }), std::logic_error);
    run_until_set(*acquired, 5s);
    EXPECT_EQ(*acquired, false);
    release(holder);
}

TEST_F(RedlockTest, InvalidArgumentsNameTheField) {
    auto& io = io_;
    const auto two = std::vector<std::string>(urls_.begin(), urls_.begin() + 2);
    EXPECT_NE(invalid_argument_from([&] { Redlock(io.get_executor(), two); }).find("urls"),
              std::string::npos);
    const std::vector<dlock::ConnectionOptions> none;
    EXPECT_NE(invalid_argument_from([&] { Redlock(io.get_executor(), none); }).find("urls"),
              std::string::npos);

    auto message = [&](RedlockOptions options) {
        return invalid_argument_from([&] { RedlockLock(*group_, name_, options); });
    };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    EXPECT_EQ(message({}).rfind("timeout", 0), 0u);  // Redlock needs a TTL
    EXPECT_EQ(message({.timeout = -1s}).rfind("timeout", 0), 0u);
    EXPECT_EQ(message({.timeout = Seconds(nan)}).rfind("timeout", 0), 0u);
    EXPECT_EQ(message({.timeout = 10s, .blocking_timeout = -1s}).rfind("blocking_timeout", 0), 0u);
    EXPECT_EQ(
        message({.timeout = 10s, .blocking_timeout = Seconds(inf)}).rfind("blocking_timeout", 0),
        0u);
    EXPECT_EQ(message({.timeout = 10s, .retry_delay = -0.1s}).rfind("retry_delay", 0), 0u);
    EXPECT_EQ(message({.timeout = 10s, .node_timeout = -0.1s}).rfind("node_timeout", 0), 0u);
    EXPECT_EQ(message({.timeout = 10s, .node_timeout = 20s}).rfind("node_timeout", 0), 0u);
    EXPECT_EQ(message({.timeout = 10s, .clock_drift_factor = -0.5}).rfind("clock_drift_factor", 0),
              0u);
    EXPECT_EQ(message({.timeout = 10s, .clock_drift_factor = nan}).rfind("clock_drift_factor", 0),
              0u);
    EXPECT_EQ(
        invalid_argument_from([&] { RedlockLock(*group_, "", {.timeout = 1s}); }).rfind("name", 0),
        0u);
    RedlockLock lock(*group_, name_, {.timeout = 10s});
    EXPECT_THROW(extend(lock, -1s), std::invalid_argument);
    EXPECT_EQ(message({.timeout = 10s}), "");
}

// Acquire + release, sequentially, on the harness's five primaries. Prints p50/p99; asserts
// only that every cycle worked (timings depend on the machine).
TEST_F(RedlockTest, LatencyOfAThousandCycles) {
    constexpr int cycles = 1000;
    RedlockLock lock(*group_, name_, {.timeout = 10s, .blocking = false});
    std::vector<double> micros;
    int failures = 0;
    go([&]() -> asio::awaitable<void> {
        for (int i = 0; i < cycles; ++i) {
            Stopwatch watch;
            if (!co_await lock.acquire()) {
                ++failures;
                continue;
            }
            co_await lock.release();
            micros.push_back(watch.seconds() * 1e6);
        }
    });
    EXPECT_EQ(failures, 0);
    ASSERT_FALSE(micros.empty());
    std::sort(micros.begin(), micros.end());
    const auto at = [&](double q) {
        return micros[static_cast<std::size_t>(q * static_cast<double>(micros.size() - 1))];
    };
    std::printf(
        "redlock acquire+release over 5 nodes, %zu cycles: p50 %.0f us, p99 %.0f us, "
        "max %.0f us\n",
        micros.size(), at(0.5), at(0.99), micros.back());
    RecordProperty("p50_us", static_cast<int>(at(0.5)));
    RecordProperty("p99_us", static_cast<int>(at(0.99)));
}

// Five servers of this test's own, so some can be stopped (SIGSTOP: they stop answering but
// keep their sockets open, like a paused or partitioned node).
class RedlockFaultTest : public RedlockTest {
  protected:
    void SetUp() override {
        servers_ = std::make_unique<dlock::test::OwnServers>("redlock5");
        use_nodes(servers_->urls());
    }
    void TearDown() override {
        for (std::size_t node = 0; servers_ && node < servers_->size(); ++node)
            servers_->thaw(node);
        frozen_.clear();
        RedlockTest::TearDown();
        group_.reset();
    }
    bool frozen(std::size_t node) const override {
        return std::find(frozen_.begin(), frozen_.end(), node) != frozen_.end();
    }
    void freeze(std::vector<std::size_t> nodes) {
        for (std::size_t node : nodes) servers_->freeze(node);
        frozen_ = std::move(nodes);
    }
    // Connects the group to every node while all answer (so the stopped ones fail by
    // timing out on an open connection, not while connecting).
    void warm_up() {
        RedlockLock probe(*group_, name_ + ":probe", {.timeout = 10s, .node_timeout = 1s});
        ASSERT_TRUE(acquire(probe));
        release(probe);
    }

    std::unique_ptr<dlock::test::OwnServers> servers_;
    std::vector<std::size_t> frozen_;
};

// A generous per-node bound: the machine may be loaded, and a live node that misses it would
// count as a refusal.
constexpr Seconds fault_node_timeout = 0.25s;

TEST_F(RedlockFaultTest, TwoStoppedNodesOfFiveStillAllowAcquisition) {
    warm_up();
    freeze({1, 3});
    RedlockLock lock(*group_, name_,
                     {.timeout = 10s, .blocking = false, .node_timeout = fault_node_timeout});
    Stopwatch watch;
    ASSERT_TRUE(acquire(lock));
    EXPECT_LT(watch.seconds(), 2.0);  // the stopped nodes cost one node_timeout, not more
    EXPECT_GT(lock.validity(), Seconds(0));
    EXPECT_LE(lock.validity(), 10s - (10s * 0.01 + 2ms) - fault_node_timeout + 1ms);
    for (std::size_t i : {0, 2, 4}) EXPECT_EQ(get(i), lock.token()) << i;
    release(lock);  // 3 of 5: a quorum
    for (std::size_t i : {0, 2, 4}) EXPECT_EQ(get(i), std::nullopt) << i;
}

TEST_F(RedlockFaultTest, ThreeStoppedNodesOfFivePreventAcquisitionAndLeaveNoKey) {
    warm_up();
    freeze({0, 1, 4});
    RedlockLock lock(*group_, name_,
                     {.timeout = 10s, .blocking = false, .node_timeout = fault_node_timeout});
    Stopwatch watch;
    EXPECT_FALSE(acquire(lock));
    EXPECT_LT(watch.seconds(), 2.0);
    EXPECT_FALSE(lock.token());
    for (std::size_t i : {2, 3}) EXPECT_EQ(get(i), std::nullopt) << i;  // rolled back
}

TEST_F(RedlockFaultTest, WithoutAQuorumOfAnswersTheObserverHearsUnavailable) {
    warm_up();
    freeze({0, 1, 4});
    auto recorder = std::make_shared<Recorder>();
    RedlockLock lock(*group_, name_,
                     {.timeout = 10s,
                      .blocking = false,
                      .node_timeout = fault_node_timeout,
                      .observer = recorder});
    EXPECT_FALSE(acquire(lock));
    const auto failed = recorder->of("not_acquired");
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].reason, "unavailable") << "not held: most nodes did not answer";
}

TEST_F(RedlockFaultTest, ABlockingAcquireGivesUpAtItsTimeoutWithoutAQuorum) {
    warm_up();
    freeze({0, 1, 2});
    RedlockLock lock(*group_, name_,
                     {.timeout = 10s,
                      .blocking_timeout = 0.6s,
                      .retry_delay = 0.1s,
                      .node_timeout = fault_node_timeout});
    Stopwatch watch;
    EXPECT_FALSE(acquire(lock));
    EXPECT_GE(watch.seconds(), 0.6);
    EXPECT_LT(watch.seconds(), 3.0);
    for (std::size_t i : {3, 4}) EXPECT_EQ(get(i), std::nullopt) << i;
}

TEST_F(RedlockFaultTest, ReleaseKeepsTheTokenWhenNoNodeAnswers) {
    warm_up();
    RedlockLock lock(*group_, name_, {.timeout = 10s, .node_timeout = fault_node_timeout});
    ASSERT_TRUE(acquire(lock));
    const auto token = lock.token();
    freeze({0, 1, 2, 3, 4});
    EXPECT_THROW(release(lock), dlock::TimeoutError);
    EXPECT_EQ(lock.token(), token);  // so release() can be retried
    for (std::size_t node = 0; node < servers_->size(); ++node) servers_->thaw(node);
    frozen_.clear();
    // The late scripts of the first attempt run first on each connection, so the retry may
    // find the keys gone; either way the lock ends up released.
    try {
        release(lock);
    } catch (const dlock::LockReleaseError&) {
    }
    EXPECT_FALSE(lock.token());
    for (std::size_t i = 0; i < admins_.size(); ++i) EXPECT_EQ(get(i), std::nullopt) << i;
}

}  // namespace

namespace {

// The scoped form and the sync facade are written once over AsyncLock: Redlock gets both.
TEST_F(RedlockTest, TheScopedFormReleasesOnEveryNode) {
    RedlockLock lock(*group_, name_, {.timeout = 10s});
    const int result = go([&] {
        return lock.with([&]() -> asio::awaitable<int> {
            EXPECT_EQ(get(0), lock.token());
            co_return 7;
        });
    });
    EXPECT_EQ(result, 7);
    for (std::size_t i = 0; i < admins_.size(); ++i) EXPECT_EQ(get(i), std::nullopt) << i;
}

TEST_F(RedlockTest, TheSyncRedlockLockIsLockableAndTimedLockable) {
    dlock::sync::Redlock group(urls_);
    dlock::sync::RedlockLock lock(group, name_, {.timeout = 10s});
    dlock::sync::RedlockLock other(group, name_, {.timeout = 10s});
    {
        std::unique_lock guard(lock);
        EXPECT_TRUE(get(0));
        EXPECT_FALSE(other.try_lock());
        EXPECT_FALSE(other.try_lock_for(50ms));
    }
    for (std::size_t i = 0; i < admins_.size(); ++i) EXPECT_EQ(get(i), std::nullopt) << i;
    EXPECT_TRUE(other.try_lock());
    other.unlock();
    EXPECT_FALSE(other.last_unlock_error());
}

}  // namespace
