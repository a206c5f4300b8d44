// dlock::inspect and the holder record (LockOptions::record_holder): who holds a lock, since
// when, its TTL, last fence and queued waiters, read from real servers (one server and a
// cluster), including locks written by another client as a plain SET (holder unknown).
#include "dlock/inspect.hpp"

#include <unistd.h>

#include <asio.hpp>
#include <optional>
#include <string>

#include "async.hpp"
#include "dlock/lock.hpp"
#include "dlock/redis.hpp"
#include "dlock/redis_cluster.hpp"
#include "dlock/sync.hpp"
#include "dlock/sync_cluster.hpp"
#include "names.hpp"
#include "plain_server_test.hpp"
#include "protocol/keys.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::detail::holder_key;
using namespace dlock::test;

std::string this_host() {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return host;
}

dlock::LockOptions recorded(std::optional<dlock::Seconds> timeout = dlock::Seconds(10)) {
    dlock::LockOptions options;
    options.timeout = timeout;
    options.record_holder = true;
    options.holder_label = "nightly report";
    options.fencing = true;
    return options;
}

// What a recorded lock must show, on any deployment (`client`, a Redis or a RedisCluster).
template <class AnyClient>
asio::awaitable<void> expect_recorded_holder(AnyClient& client) {
    const std::string name = unique_name();
    dlock::Lock lock(client, name, recorded());
    CO_ASSERT(co_await lock.acquire());
    const dlock::LockInspection seen = co_await dlock::inspect(client, name);
    EXPECT_TRUE(seen.held);
    CO_ASSERT(seen.ttl.has_value());
    EXPECT_GT(*seen.ttl, 8s);
    EXPECT_LE(*seen.ttl, 10s);
    CO_ASSERT(seen.holder.has_value());
    EXPECT_EQ(seen.holder->host, this_host());
    EXPECT_EQ(seen.holder->pid, ::getpid());
    EXPECT_EQ(seen.holder->label, "nightly report");
    // `since` is the server's clock; this machine's clock is the server's here.
    const auto skew = std::chrono::system_clock::now() - seen.holder->since;
    EXPECT_LT(std::chrono::abs(skew), 5s);
    CO_ASSERT(seen.held_for.has_value());
    EXPECT_GE(*seen.held_for, 0s);
    EXPECT_LT(*seen.held_for, 5s);
    EXPECT_EQ(seen.last_fence, lock.fence());
    EXPECT_EQ(seen.waiting, 0u);
    // The record expires with the lock (same PX, set in the same script).
    const dlock::Reply lock_pttl = co_await client.command("PTTL", name);
    const dlock::Reply record_pttl = co_await client.command("PTTL", holder_key(name));
    const long long lock_ttl = lock_pttl.integer;
    const long long record_ttl = record_pttl.integer;
    EXPECT_GT(record_ttl, 0);
    EXPECT_LE(std::abs(lock_ttl - record_ttl), 50);
    co_await lock.release();
    const dlock::Reply record_left = co_await client.command("EXISTS", holder_key(name));
    EXPECT_EQ(record_left.integer, 0);
    const dlock::LockInspection after = co_await dlock::inspect(client, name);
    EXPECT_FALSE(after.held);
    EXPECT_FALSE(after.holder.has_value());
    EXPECT_EQ(after.last_fence, lock.fence().has_value() ? lock.fence() : seen.last_fence);
}

class Inspect : public dlock::test::PlainServerTest {
  protected:
    dlock::Redis& redis_ = client_;
};

TEST_F(Inspect, AFreeLockShowsNothing) {
    run([&]() -> asio::awaitable<void> {
        const dlock::LockInspection seen = co_await dlock::inspect(redis_, unique_name());
        EXPECT_FALSE(seen.held);
        EXPECT_FALSE(seen.ttl.has_value());
        EXPECT_FALSE(seen.holder.has_value());
        EXPECT_FALSE(seen.held_for.has_value());
        EXPECT_FALSE(seen.last_fence.has_value());
        EXPECT_EQ(seen.waiting, 0u);
    });
}

TEST_F(Inspect, ARecordedHolderShowsHostPidLabelSinceTtlAndFence) {
    run([&]() -> asio::awaitable<void> { co_await expect_recorded_holder(redis_); });
}

TEST_F(Inspect, ALockTakenByAPlainSetIsHeldWithAnUnknownHolder) {
    // What redis-py and coredis write: SET name token NX PX ms, nothing else.
    const std::string name = unique_name();
    run([&]() -> asio::awaitable<void> {
        co_await redis_.command("SET", name, "b3f1c2d4e5a6978812345678abcdef00", "NX", "PX",
                                "20000");
        const dlock::LockInspection seen = co_await dlock::inspect(redis_, name);
        EXPECT_TRUE(seen.held);
        CO_ASSERT(seen.ttl.has_value());
        EXPECT_GT(*seen.ttl, 18s);
        EXPECT_FALSE(seen.holder.has_value());
        EXPECT_FALSE(seen.held_for.has_value());
        // A dlock Lock still excludes it, and a holder record makes no difference to that.
        dlock::Lock lock(redis_, name, recorded());
        EXPECT_FALSE(co_await lock.acquire({.blocking = false}));
        co_await redis_.command("DEL", name);
    });
}

TEST_F(Inspect, ARecordLeftByAnEarlierHolderIsNotShownForTheNextOne) {
    // A lock without expiry deleted by hand (DEL, as an operator would) leaves its record;
    // the next holder, taken by a plain SET, must not be shown as the old one.
    const std::string name = unique_name();
    run([&]() -> asio::awaitable<void> {
        dlock::Lock lock(redis_, name, recorded(std::nullopt));
        CO_ASSERT(co_await lock.acquire());
        EXPECT_EQ((co_await redis_.command("PTTL", holder_key(name))).integer, -1);
        EXPECT_TRUE((co_await dlock::inspect(redis_, name)).holder.has_value());
        co_await redis_.command("DEL", name);
        co_await redis_.command("SET", name, "someone-else", "PX", "20000");
        const dlock::LockInspection seen = co_await dlock::inspect(redis_, name);
        EXPECT_TRUE(seen.held);
        EXPECT_FALSE(seen.holder.has_value());
        co_await redis_.command("DEL", name, holder_key(name));
    });
}

TEST_F(Inspect, ExtendAndRenewalKeepTheRecordsTtlInStepAndTheRecordExpiresWithTheLock) {
    const std::string name = unique_name();
    run([&]() -> asio::awaitable<void> {
        dlock::LockOptions options = recorded(dlock::Seconds(0.6));
        options.auto_renew = true;
        options.renew_interval = dlock::Seconds(0.1);
        dlock::Lock lock(redis_, name, options);
        CO_ASSERT(co_await lock.acquire());
        co_await lock.extend(20s);
        const long long lock_ttl = (co_await redis_.command("PTTL", name)).integer;
        const long long record_ttl = (co_await redis_.command("PTTL", holder_key(name))).integer;
        EXPECT_GT(record_ttl, 19000);
        EXPECT_LE(std::abs(lock_ttl - record_ttl), 50);
        co_await lock.extend(0.3s, dlock::ExtendMode::replace);
        // Renewal (every 0.1 s, back to 0.6 s) keeps both alive past the 0.3 s just set.
        co_await pause_for(700ms);
        EXPECT_TRUE((co_await dlock::inspect(redis_, name)).holder.has_value());
        // Without renewal both expire together.
        dlock::Lock once(redis_, unique_name(), recorded(dlock::Seconds(0.2)));
        CO_ASSERT(co_await once.acquire());
        co_await pause_for(400ms);
        EXPECT_EQ((co_await redis_.command("EXISTS", holder_key(once.name()))).integer, 0);
        co_await lock.release();
    });
}

TEST_F(Inspect, WithoutRecordHolderNoRecordIsWritten) {
    const std::string name = unique_name();
    run([&]() -> asio::awaitable<void> {
        dlock::Lock lock(redis_, name, {.timeout = 10s});
        CO_ASSERT(co_await lock.acquire());
        EXPECT_EQ((co_await redis_.command("EXISTS", holder_key(name))).integer, 0);
        const dlock::LockInspection seen = co_await dlock::inspect(redis_, name);
        EXPECT_TRUE(seen.held);
        EXPECT_FALSE(seen.holder.has_value());
        EXPECT_FALSE(seen.last_fence.has_value());
        co_await lock.release();
    });
}

TEST_F(Inspect, CountsTheProcessesQueuedForTheLock) {
    const std::string name = unique_name();
    dlock::Redis other(io_.get_executor(), server("PLAIN_URL"));
    run([&]() -> asio::awaitable<void> {
        dlock::Lock holder(redis_, name, recorded());
        CO_ASSERT(co_await holder.acquire());
        dlock::Lock waiter(other, name, {.timeout = 10s, .blocking_timeout = 10s});
        bool acquired = false;
        asio::co_spawn(
            io_, [&]() -> asio::awaitable<void> { acquired = co_await waiter.acquire(); },
            asio::detached);
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> {
                co_return (co_await dlock::inspect(redis_, name)).waiting == 1;
            },
            5s));
        co_await holder.release();
        EXPECT_TRUE(
            co_await eventually([&]() -> asio::awaitable<bool> { co_return acquired; }, 5s));
        const dlock::LockInspection seen = co_await dlock::inspect(redis_, name);
        EXPECT_TRUE(seen.held);
        EXPECT_EQ(seen.waiting, 0u);
        EXPECT_FALSE(seen.holder.has_value());  // the waiter records no holder
        co_await waiter.release();
    });
}

TEST_F(Inspect, RefusesBadInput) {
    run([&]() -> asio::awaitable<void> {
        const auto no_name = co_await thrown_by(dlock::inspect(redis_, ""));
        EXPECT_TRUE(is<std::invalid_argument>(no_name));
        EXPECT_NE(what(no_name).find("name"), std::string::npos);
        const auto no_time = co_await thrown_by(dlock::inspect(redis_, "x", dlock::Seconds(0)));
        EXPECT_TRUE(is<std::invalid_argument>(no_time));
        EXPECT_NE(what(no_time).find("timeout"), std::string::npos);
    });
}

TEST(InspectCluster, ARecordedHolderShowsOnACluster) {
    asio::io_context io;
    dlock::RedisCluster cluster(io.get_executor(), split(server("CLUSTER3X0_SEEDS"), ','));
    run(io, [&]() -> asio::awaitable<void> {
        // Several names, so that more than one shard is used.
        for (int i = 0; i < 3; ++i) {
            co_await expect_recorded_holder(cluster);
        }
    });
}

TEST(InspectSync, TheBlockingFormSeesWhatTheAsyncOneSees) {
    dlock::sync::Redis redis(server("PLAIN_URL"));
    const std::string name = unique_name();
    dlock::sync::Lock lock(redis, name, recorded());
    ASSERT_TRUE(lock.try_lock());
    const dlock::LockInspection seen = dlock::sync::inspect(redis, name);
    EXPECT_TRUE(seen.held);
    ASSERT_TRUE(seen.holder.has_value());
    EXPECT_EQ(seen.holder->pid, ::getpid());
    lock.unlock();
    EXPECT_FALSE(dlock::sync::inspect(redis, name).held);
}

TEST(InspectSync, TheBlockingFormWorksOnACluster) {
    dlock::sync::RedisCluster cluster(split(server("CLUSTER3X0_SEEDS"), ','));
    const std::string name = unique_name();
    dlock::sync::Lock lock(cluster, name, recorded());
    ASSERT_TRUE(lock.try_lock());
    const dlock::LockInspection seen = dlock::sync::inspect(cluster, name);
    ASSERT_TRUE(seen.holder.has_value());
    EXPECT_EQ(seen.holder->label, "nightly report");
    lock.unlock();
}

}  // namespace
