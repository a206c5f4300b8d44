// dlock::RedisCluster and Lock on the harness's shared clusters (3 primaries with 0, 1 and 2
// replicas each): routing over all slots, hash tags, replication factor and WAIT, release
// notifications over sharded pub/sub, fencing, the sync facade. Nothing here stops, pauses or
// reconfigures a node (cluster_faults_test.cpp does, on clusters of its own).
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "async.hpp"
#include "client/backend.hpp"
#include "client/cluster_topology.hpp"
#include "dlock/lock.hpp"
#include "dlock/redis.hpp"
#include "dlock/redis_cluster.hpp"
#include "dlock/sync_cluster.hpp"
#include "lock/scripts.hpp"
#include "names.hpp"
#include "net/subscriber.hpp"
#include "protocol/keys.hpp"
#include "protocol/slots.hpp"
#include "server_stats.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::Lock;
using dlock::RedisCluster;
using dlock::Reply;
using dlock::Seconds;
using namespace dlock::test;

std::vector<std::string> seeds(const std::string& kind) {
    return split(server(kind + "_SEEDS"), ',');
}

// Unique per run: the clusters are shared with tests running in parallel.
std::string unique_prefix() {
    return dlock::test::unique_name(":");
}

// `cmdstat_wait` calls on the node at `url` (0 when WAIT never ran there).
long long wait_calls(asio::io_context& io, const std::string& url) {
    dlock::Redis node(io.get_executor(), url);
    return run(io, [&] { return dlock::test::calls_of(node, "wait"); });
}

long long total_wait_calls(asio::io_context& io, const std::string& kind) {
    long long total = 0;
    for (const std::string& url : seeds(kind)) total += wait_calls(io, url);
    return total;
}

// Runs `count` coroutines made by `make(i)` at once on `io` and waits for all; rethrows the
// first failure.
template <class Make>
asio::awaitable<void> all(std::size_t count, Make make) {
    auto executor = co_await asio::this_coro::executor;
    Notification done(executor, count);
    std::exception_ptr first_error;
    for (std::size_t i = 0; i < count; ++i) {
        asio::co_spawn(executor, make(i), [&](std::exception_ptr error) {
            if (error && !first_error) first_error = error;
            done.notify();
        });
    }
    co_await done.wait();
    if (first_error) std::rethrow_exception(first_error);
}

TEST(Cluster, LocksOnManyNamesSpreadOverAllSlotsAndShards) {
    asio::io_context io;
    RedisCluster cluster(io.get_executor(), seeds("CLUSTER3X1"));
    const std::string prefix = unique_prefix();
    constexpr std::size_t count = 2000;
    std::vector<std::unique_ptr<Lock>> locks;
    std::set<std::uint16_t> slots;
    for (std::size_t i = 0; i < count; ++i) {
        locks.push_back(
            std::make_unique<Lock>(cluster, prefix + std::to_string(i),
                                   dlock::LockOptions{.timeout = 60s, .blocking = false}));
        slots.insert(dlock::detail::key_slot(locks.back()->name()));
    }
    // Sequential names do not spread like random ones (CRC16), but widely enough: 1,600-1,900
    // distinct slots, in every 1/16th of the slot space.
    EXPECT_GT(slots.size(), 1000u);
    std::set<std::uint16_t> bands;
    for (std::uint16_t slot : slots) bands.insert(static_cast<std::uint16_t>(slot / 1024));
    EXPECT_EQ(bands.size(), 16u);

    const auto started = std::chrono::steady_clock::now();
    run(io, [&]() -> asio::awaitable<void> {
        co_await all(count, [&](std::size_t i) -> asio::awaitable<void> {
            if (!co_await locks[i]->acquire())
                throw std::runtime_error("not acquired: " + locks[i]->name());
        });
    });
    const Seconds took = std::chrono::steady_clock::now() - started;
    RecordProperty("acquire_2000_with_wait_s", std::to_string(took.count()));
    std::cout << "[ measured ] 2,000 concurrent acquisitions (SET + WAIT 1) on 3x1: "
              << took.count() << " s\n";
    std::map<std::string, std::size_t> per_primary;
    for (const auto& lock : locks) {
        ASSERT_TRUE(lock->token());
        EXPECT_EQ(lock->replication_shortfalls(), 0u);
        per_primary[cluster.primary_of(lock->name()).value()]++;
    }
    ASSERT_EQ(per_primary.size(), 3u);
    for (const auto& [primary, n] : per_primary) EXPECT_GT(n, 500u) << primary;

    // Each key is really on the node the client routed it to, holding this lock's token.
    run(io, [&]() -> asio::awaitable<void> {
        for (std::size_t i = 0; i < count; i += 97) {
            dlock::Redis node(io.get_executor(),
                              "redis://" + cluster.primary_of(locks[i]->name()).value());
            const Reply value = co_await node.command("GET", locks[i]->name());
            EXPECT_EQ(value.str, *locks[i]->token());
        }
    });

    run(io, [&]() -> asio::awaitable<void> {
        co_await all(count,
                     [&](std::size_t i) -> asio::awaitable<void> { co_await locks[i]->release(); });
        for (const auto& lock : locks) {
            const Reply exists = co_await cluster.command("EXISTS", lock->name());
            EXPECT_EQ(exists.integer, 0) << lock->name();
        }
    });
    EXPECT_EQ(cluster.redirections(), 0u);  // the slot map was right from the start
}

TEST(Cluster, HashTaggedNamesShareOneSlot) {
    asio::io_context io;
    RedisCluster cluster(io.get_executor(), seeds("CLUSTER3X0"));
    const std::string tag = "{" + unique_prefix() + "}";
    const std::uint16_t slot = dlock::detail::key_slot(tag);
    std::vector<std::unique_ptr<Lock>> locks;
    for (int i = 0; i < 50; ++i) {
        locks.push_back(std::make_unique<Lock>(cluster, tag + ":job" + std::to_string(i),
                                               dlock::LockOptions{.timeout = 30s}));
        EXPECT_EQ(dlock::detail::key_slot(locks.back()->name()), slot);
    }
    run(io, [&]() -> asio::awaitable<void> {
        for (auto& lock : locks) EXPECT_TRUE(co_await lock->acquire());
        const std::string node_url = "redis://" + cluster.primary_of(tag).value();
        dlock::Redis node(io.get_executor(), node_url);
        const Reply in_slot =
            co_await node.command("CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot));
        EXPECT_EQ(in_slot.integer, 50);
        // A multi-key command over the tagged names is served by that one node.
        const Reply exist = co_await cluster.command("EXISTS", locks[0]->name(), locks[1]->name(),
                                                     locks[49]->name());
        EXPECT_EQ(exist.integer, 3);
        for (auto& lock : locks) co_await lock->release();
        EXPECT_EQ(
            (co_await node.command("CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot))).integer, 0);
    });
}

TEST(Cluster, ReplicationFactorFollowsTheTopology) {
    asio::io_context io;
    const std::map<std::string, std::pair<std::size_t, std::size_t>> expected = {
        {"CLUSTER3X0", {0, 0}}, {"CLUSTER3X1", {1, 1}}, {"CLUSTER3X2", {2, 1}}};  // R, ceil(R/2)
    for (const auto& [kind, figures] : expected) {
        SCOPED_TRACE(kind);
        RedisCluster cluster(io.get_executor(), seeds(kind));
        Lock before(cluster, unique_prefix() + "x");
        EXPECT_EQ(before.replication_factor(), 0u);  // no slot map read yet
        run(io, [&]() -> asio::awaitable<void> { co_await cluster.refresh(); });
        EXPECT_EQ(cluster.primaries().size(), 3u);
        for (int i = 0; i < 20; ++i) {
            Lock lock(cluster, unique_prefix() + std::to_string(i));
            EXPECT_EQ(dlock::detail::backend_of(cluster).replicas_of(lock.name()), figures.first);
            EXPECT_EQ(lock.replication_factor(), figures.second);
        }
    }
}

TEST(Cluster, WaitIsSentOnlyWhenThereAreReplicas) {
    asio::io_context io;
    for (const std::string kind : {"CLUSTER3X0", "CLUSTER3X1", "CLUSTER3X2"}) {
        SCOPED_TRACE(kind);
        RedisCluster cluster(io.get_executor(), seeds(kind));
        const long long waits_before = total_wait_calls(io, kind);
        std::vector<std::unique_ptr<Lock>> locks;
        std::size_t shortfalls = 0;
        for (int i = 0; i < 30; ++i) {
            dlock::LockOptions options{.timeout = 30s};
            options.on_replication_shortfall = [&](const dlock::ReplicationShortfall&) {
                ++shortfalls;
            };
            locks.push_back(
                std::make_unique<Lock>(cluster, unique_prefix() + std::to_string(i), options));
        }
        run(io, [&]() -> asio::awaitable<void> {
            for (auto& lock : locks) EXPECT_TRUE(co_await lock->acquire());
            for (auto& lock : locks) co_await lock->release();
        });
        EXPECT_EQ(shortfalls, 0u);
        const long long waits = total_wait_calls(io, kind) - waits_before;
        if (kind == "CLUSTER3X0") {
            EXPECT_EQ(waits, 0);  // R = 0: nothing to wait for, and never WAIT 0
        } else {
            EXPECT_GE(waits, 30);  // one WAIT per acquisition (other tests may add theirs)
        }
    }
}

TEST(Cluster, ReplicatedAcquisitionReachesTheReplicas) {
    asio::io_context io;
    RedisCluster cluster(io.get_executor(), seeds("CLUSTER3X2"));
    const std::string name = unique_prefix() + "replicated";
    Lock lock(cluster, name, {.timeout = 30s});
    run(io, [&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await lock.acquire());
        // WAIT confirmed ceil(2/2) = 1 replica; read it on every replica of the shard (READONLY
        // lets a replica serve reads of its primary's slots). The second replica may lag, but
        // WAIT 1 guarantees at least one has it.
        dlock::Redis node(io.get_executor(), "redis://" + cluster.primary_of(name).value());
        const Reply slots = co_await node.command("CLUSTER", "SLOTS");
        const auto topology = dlock::detail::Topology::from_cluster_slots(slots, "127.0.0.1");
        const auto* shard = topology.shard_of(dlock::detail::key_slot(name));
        EXPECT_EQ(shard->replicas.size(), 2u);
        int holding = 0;
        for (const auto& replica : shard->replicas) {
            dlock::Redis reader(io.get_executor(), "redis://" + replica.key());
            co_await reader.command("READONLY");
            if ((co_await reader.command("GET", name)).str == *lock.token()) ++holding;
        }
        EXPECT_GE(holding, 1);
        co_await lock.release();
    });
}

TEST(Cluster, ReleaseWakesAWaiterThroughShardedPubSub) {
    asio::io_context io;
    RedisCluster cluster(io.get_executor(), seeds("CLUSTER3X1"));
    const std::string name = unique_prefix() + "handoff";
    // A 5 s poll: only the release notification can wake the waiter early.
    Lock holder(cluster, name, {.timeout = 30s, .sleep = Seconds(5)});
    Lock waiter(cluster, name,
                {.timeout = 30s, .sleep = Seconds(5), .blocking_timeout = Seconds(10)});
    run(io, [&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await holder.acquire());
        auto executor = co_await asio::this_coro::executor;
        std::optional<std::chrono::steady_clock::time_point> released_at;
        std::chrono::steady_clock::duration handoff{};
        bool got = false;
        Notification waiting(executor);
        asio::co_spawn(
            executor,
            [&]() -> asio::awaitable<void> {
                got = co_await waiter.acquire();
                if (released_at) handoff = std::chrono::steady_clock::now() - *released_at;
                waiting.notify();
            },
            asio::detached);
        // Release once the waiter is subscribed (its channel shows up on the primary).
        auto& subscriber = dlock::detail::backend_of(cluster).subscriber_for(name);
        for (int i = 0; i < 500 && subscriber.channel_count() == 0; ++i) {
            asio::steady_timer tick(executor, 10ms);
            co_await tick.async_wait(asio::use_awaitable);
        }
        EXPECT_EQ(subscriber.channel_count(), 1u);
        released_at = std::chrono::steady_clock::now();
        co_await holder.release();
        co_await waiting.wait();
        EXPECT_TRUE(got);
        EXPECT_LT(handoff, 2s) << "woken by the poll, not by SPUBLISH";
        EXPECT_GE(subscriber.messages_received(), 1u);
        co_await waiter.release();
    });
}

TEST(Cluster, FencingTokensGrowOnACluster) {
    asio::io_context io;
    RedisCluster cluster(io.get_executor(), seeds("CLUSTER3X1"));
    const std::string name = unique_prefix() + "fenced";
    Lock lock(cluster, name, {.timeout = 30s, .fencing = true});
    run(io, [&]() -> asio::awaitable<void> {
        std::int64_t last = 0;
        for (int i = 0; i < 5; ++i) {
            EXPECT_TRUE(co_await lock.acquire());
            EXPECT_GT(lock.fence().value(), last);
            last = *lock.fence();
            co_await lock.release();
        }
        co_await cluster.command("DEL", dlock::detail::fence_key(name));
    });
}

TEST(Cluster, CommandRoutesByTheFirstKey) {
    asio::io_context io;
    RedisCluster cluster(io.get_executor(), seeds("CLUSTER3X0"));
    const std::string prefix = unique_prefix();
    run(io, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 50; ++i) {
            const std::string key = prefix + std::to_string(i);
            EXPECT_TRUE(
                (co_await cluster.command("SET", key, "v" + std::to_string(i), "PX", "30000"))
                    .is_ok());
        }
        for (int i = 0; i < 50; ++i) {
            const std::vector<std::string> get{"GET", prefix + std::to_string(i)};
            EXPECT_EQ((co_await cluster.command(get)).str, "v" + std::to_string(i));
        }
        // EVAL routes by its first key; keyless commands go anywhere.
        const Reply eval = co_await cluster.command("EVAL", "return redis.call('get', KEYS[1])",
                                                    "1", prefix + "7");
        EXPECT_EQ(eval.str, "v7");
        EXPECT_EQ((co_await cluster.command("PING")).str, "PONG");
        EXPECT_EQ((co_await cluster.command("CLUSTER", "INFO")).str.find("cluster_state:ok"), 0u);
        // Keys of different slots in one command: the server refuses, nothing is guessed.
        std::string code;
        try {
            co_await cluster.command("EXISTS", prefix + "1", prefix + "2");
        } catch (const dlock::ServerError& e) {
            code = e.code();
        }
        EXPECT_EQ(code, "CROSSSLOT");
        for (int i = 0; i < 50; ++i) co_await cluster.command("DEL", prefix + std::to_string(i));
    });
    EXPECT_EQ(cluster.redirections(), 0u);
}

TEST(Cluster, SeedsAreValidatedAndBadSeedsFailClearly) {
    asio::io_context io;
    EXPECT_THROW(RedisCluster(io.get_executor(), std::vector<std::string>{}),
                 std::invalid_argument);
    EXPECT_THROW(RedisCluster(io.get_executor(), std::vector<std::string>{"unix:///tmp/x.sock"}),
                 std::invalid_argument);
    EXPECT_THROW(RedisCluster(io.get_executor(), std::vector<std::string>{"redis://127.0.0.1:1/2"}),
                 std::invalid_argument);
    EXPECT_THROW(RedisCluster(io.get_executor(), std::vector<std::string>{"http://x"}),
                 std::invalid_argument);

    // One dead seed among live ones: the map is read from the next.
    std::vector<std::string> some = seeds("CLUSTER3X0");
    some.insert(some.begin(), "redis://127.0.0.1:1");
    RedisCluster partly(io.get_executor(), some);
    run(io, [&]() -> asio::awaitable<void> { co_await partly.refresh(); });
    EXPECT_EQ(partly.primaries().size(), 3u);

    // Only dead seeds: ConnectionError, from refresh() and from a Lock alike.
    RedisCluster dead(io.get_executor(), std::vector<std::string>{"redis://127.0.0.1:1"});
    EXPECT_THROW(run(io, [&]() -> asio::awaitable<void> { co_await dead.refresh(); }),
                 dlock::ConnectionError);
    Lock lock(dead, "x", {.blocking = false});
    EXPECT_THROW(run(io, [&]() -> asio::awaitable<bool> { co_return co_await lock.acquire(); }),
                 dlock::ConnectionError);

    // A standalone server is not a cluster: its refusal comes through.
    RedisCluster standalone(io.get_executor(), std::vector<std::string>{server("PLAIN_URL")});
    try {
        run(io, [&]() -> asio::awaitable<void> { co_await standalone.refresh(); });
        ADD_FAILURE() << "refresh() on a standalone server succeeded";
    } catch (const dlock::ServerError& e) {
        EXPECT_NE(std::string(e.what()).find("cluster support disabled"), std::string::npos)
            << e.what();
    }
}

TEST(Cluster, SyncFacadeLocksFromThreads) {
    dlock::sync::RedisCluster cluster(seeds("CLUSTER3X1"));
    const std::string name = unique_prefix() + "sync";
    constexpr int threads = 4, rounds = 25;
    int counter = 0;  // protected by the distributed lock only
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            dlock::sync::Lock lock(cluster, name, {.timeout = 30s, .sleep = Seconds(0.01)});
            for (int i = 0; i < rounds; ++i) {
                std::unique_lock guard(lock);
                const int seen = counter;
                std::this_thread::yield();
                counter = seen + 1;
            }
        });
    }
    for (auto& worker : workers) worker.join();
    EXPECT_EQ(counter, threads * rounds);
    dlock::sync::Lock lock(cluster, name, {.timeout = 30s});
    EXPECT_EQ(lock.replication_factor(), 1u);
    EXPECT_EQ(cluster.command({"EXISTS", name}).integer, 0);
    EXPECT_NO_THROW(cluster.refresh());
}

// Wait-queue entries (ZCARD of the lock's queue, which lives in the lock's slot).
asio::awaitable<long long> queued_processes(RedisCluster& cluster, const std::string& name) {
    co_return (co_await cluster.command("ZCARD", dlock::detail::wait_queue_key(name))).integer;
}

// Release-driven hand-off on 20 names over all three shards: a waiter in another process (its
// own RedisCluster, so its own per-slot inboxes) with a 30 s poll is woken by the release alone,
// i.e. SSUBSCRIBE on the slot's primary and SPUBLISH inside the release script both work.
TEST(Cluster, ReleaseWakesTheQueuedProcessOnNamesOverAllShards) {
    asio::io_context io;
    RedisCluster holder_cluster(io.get_executor(), seeds("CLUSTER3X1"));
    RedisCluster waiter_cluster(io.get_executor(), seeds("CLUSTER3X1"));
    const std::string prefix = unique_prefix();
    constexpr std::size_t names = 20;
    std::vector<Seconds> handoffs(names);
    std::vector<bool> acquired(names, false);
    run(io, [&]() -> asio::awaitable<void> {
        co_await all(names, [&](std::size_t i) -> asio::awaitable<void> {
            const std::string name = prefix + std::to_string(i);
            Lock holder(holder_cluster, name, {.timeout = 60s});
            // sleep 30 s: only the release's SPUBLISH can wake it within the bound below.
            Lock waiter(waiter_cluster, name,
                        {.timeout = 60s, .sleep = Seconds(30), .blocking_timeout = Seconds(20)});
            if (!co_await holder.acquire()) throw std::runtime_error("holder failed: " + name);
            auto executor = co_await asio::this_coro::executor;
            Notification done(executor);
            std::optional<std::chrono::steady_clock::time_point> released_at;
            asio::co_spawn(
                executor,
                [&]() -> asio::awaitable<void> {
                    acquired[i] = co_await waiter.acquire();
                    if (released_at) handoffs[i] = std::chrono::steady_clock::now() - *released_at;
                    done.notify();
                },
                [&](std::exception_ptr error) {
                    if (error) ADD_FAILURE() << name << ": the waiter threw";
                    done.notify();
                });
            // Release once the waiter's process is queued (it subscribed its inbox before).
            bool queued = false;
            for (int tick = 0; tick < 500 && !queued; ++tick) {
                queued = co_await queued_processes(holder_cluster, name) == 1;
                if (!queued) {
                    asio::steady_timer pause(executor, 10ms);
                    co_await pause.async_wait(asio::use_awaitable);
                }
            }
            EXPECT_TRUE(queued) << name;
            released_at = std::chrono::steady_clock::now();
            co_await holder.release();
            co_await done.wait();
            if (waiter.token()) co_await waiter.release();
            EXPECT_EQ(co_await queued_processes(holder_cluster, name), 0) << name;
        });
    });

    std::set<std::string> shards;
    std::set<std::uint16_t> slots;
    std::set<dlock::detail::Subscriber*> subscribers;  // one per node, each with per-slot inboxes
    Seconds slowest{0};
    for (std::size_t i = 0; i < names; ++i) {
        const std::string name = prefix + std::to_string(i);
        shards.insert(holder_cluster.primary_of(name).value());
        slots.insert(dlock::detail::key_slot(name));
        subscribers.insert(&dlock::detail::backend_of(waiter_cluster).subscriber_for(name));
        EXPECT_TRUE(acquired[i]) << name;
        EXPECT_LT(handoffs[i], 5s) << name << ": woken by the poll, not by SPUBLISH";
        slowest = std::max(slowest, handoffs[i]);
    }
    EXPECT_EQ(shards.size(), 3u) << "the names did not cover every shard";
    // CRC16 spreads them, but it is affine: names that differ only in their last digits collide
    // in groups: about one prefix in a thousand puts these 20 names on 16 slots.
    EXPECT_GE(slots.size(), names / 2);
    EXPECT_EQ(subscribers.size(), 3u);
    std::size_t wakeups = 0;
    for (const auto* subscriber : subscribers) wakeups += subscriber->messages_received();
    EXPECT_EQ(wakeups, names) << "one wake-up per release";
    std::cout << "[ measured ] " << names << " names on " << shards.size()
              << " shards: slowest release-to-acquire " << slowest.count() * 1000 << " ms\n";
    EXPECT_EQ(waiter_cluster.redirections(), 0u);
}

// Fencing on a cluster under contention: two processes take turns on one name (woken by the
// release, 30 s poll); the fences, in acquisition order, strictly increase.
TEST(Cluster, FencesStrictlyIncreaseOverContendedAcquisitions) {
    asio::io_context io;
    RedisCluster first(io.get_executor(), seeds("CLUSTER3X1"));
    RedisCluster second(io.get_executor(), seeds("CLUSTER3X1"));
    const std::string name = unique_prefix() + "fenced";
    constexpr int per_process = 10;
    std::vector<std::int64_t> fences;  // in acquisition order: the lock serialises the appends
    bool overlapped = false, holding = false;
    const auto started = std::chrono::steady_clock::now();
    run(io, [&]() -> asio::awaitable<void> {
        RedisCluster* clients[] = {&first, &second};
        co_await all(2, [&](std::size_t p) -> asio::awaitable<void> {
            Lock lock(*clients[p], name,
                      {.timeout = 60s,
                       .sleep = Seconds(30),
                       .blocking_timeout = Seconds(20),
                       .fencing = true});
            for (int i = 0; i < per_process; ++i) {
                if (!co_await lock.acquire()) throw std::runtime_error("not acquired");
                if (std::exchange(holding, true)) overlapped = true;
                fences.push_back(lock.fence().value());
                // Hold briefly: the other process queues meanwhile.
                asio::steady_timer hold(co_await asio::this_coro::executor, 2ms);
                co_await hold.async_wait(asio::use_awaitable);
                holding = false;
                co_await lock.release();
            }
        });
    });
    const Seconds took = std::chrono::steady_clock::now() - started;
    std::cout << "[ measured ] " << fences.size()
              << " fenced acquisitions by 2 processes on 3x1: " << took.count() * 1000
              << " ms, fences " << fences.front() << ".." << fences.back() << "\n";
    EXPECT_FALSE(overlapped);
    ASSERT_EQ(fences.size(), 2u * per_process);
    for (std::size_t i = 1; i < fences.size(); ++i) {
        EXPECT_GT(fences[i], fences[i - 1]) << "acquisition " << i;
    }
    EXPECT_LT(took, 15s) << "a hand-off waited for the 30 s poll";
    run(io, [&]() -> asio::awaitable<void> {
        const std::string fence_key = dlock::detail::fence_key(name);
        EXPECT_EQ(std::stoll((co_await first.command("GET", fence_key)).str), fences.back());
        const std::string queue = dlock::detail::wait_queue_key(name);
        EXPECT_EQ((co_await first.command("EXISTS", queue)).integer, 0);
        co_await first.command("DEL", fence_key);
    });
}

}  // namespace
