// RedisCluster and Lock when the cluster misbehaves: a replica that cannot acknowledge, a
// primary killed and failed over, a slot migrated live (MOVED, ASK, TRYAGAIN), a primary that
// stops answering. Every test starts a cluster of its own (scripts/redis-harness into a temp
// dir) since it stops, kills or reconfigures nodes; the harness's watchdog stops it even if
// this process dies.
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "async.hpp"
#include "background_acquire.hpp"
#include "client/backend.hpp"
#include "client/cluster_topology.hpp"
#include "dlock/lock.hpp"
#include "dlock/redis.hpp"
#include "dlock/redis_cluster.hpp"
#include "failover.hpp"
#include "later_writes.hpp"
#include "names.hpp"
#include "net/subscriber.hpp"
#include "own_servers.hpp"
#include "protocol/slots.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::Lock;
using dlock::LockOptions;
using dlock::RedisCluster;
using dlock::Reply;
using dlock::Seconds;
using namespace dlock::test;
using Clock = std::chrono::steady_clock;

std::string url(int port) {
    return "redis://127.0.0.1:" + std::to_string(port);
}

asio::awaitable<dlock::detail::Topology> read_topology(int port) {
    const Reply slots = co_await on_server(port, "CLUSTER", "SLOTS");
    co_return dlock::detail::Topology::from_cluster_slots(slots, "127.0.0.1");
}

// The shard serving `name` (after a refresh), as the node that owns it reports it; a copy,
// since the test goes on to stop its nodes. nullopt when that node serves no such slot.
asio::awaitable<std::optional<dlock::detail::Shard>> shard_serving(RedisCluster& cluster,
                                                                   const std::string& name) {
    co_await cluster.refresh();
    const auto topology = co_await read_topology(port_of(cluster.primary_of(name).value()));
    const auto* shard = topology.shard_of(dlock::detail::key_slot(name));
    if (shard == nullptr) co_return std::nullopt;
    co_return *shard;
}

std::string unique_prefix() {
    return dlock::test::unique_name(":");
}

// `count` names whose slot the shard of `primary` serves.
std::vector<std::string> names_on(RedisCluster& cluster, const std::string& primary,
                                  std::size_t count, const std::string& prefix) {
    std::vector<std::string> out;
    for (int i = 0; out.size() < count; ++i) {
        if (i > 100000)
            throw std::runtime_error("no name with prefix " + prefix + " on " + primary);
        std::string name = prefix + std::to_string(i);
        if (cluster.primary_of(name) == primary) out.push_back(std::move(name));
    }
    return out;
}

// Polls (there is no event for it) until CLUSTER SLOTS on every node but `skip` lists
// `replicas` replicas for `slot`: the views of the nodes converge by gossip, and the client
// may read the map from any of them. False after 20 s.
asio::awaitable<bool> every_node_lists(const OwnServers& own, std::uint16_t slot,
                                       std::size_t replicas, int skip) {
    const auto give_up = Clock::now() + 20s;
    while (Clock::now() < give_up) {
        bool all = true;
        for (int port : own.ports()) {
            if (port == skip) continue;
            const auto topology = co_await read_topology(port);
            const auto* shard = topology.shard_of(slot);
            all = all && shard != nullptr && shard->replicas.size() == replicas;
        }
        if (all) co_return true;
        co_await pause_for(100ms);
    }
    co_return false;
}

// ---- a replica that cannot acknowledge -------------------------------------------------

// Runs `body(own, cluster, name, shard)` on a cluster of its own with one replica per shard,
// `shard` serving `name`. No background re-read: the test controls when the slot map changes.
template <class Body>
void on_replicated_shard(const std::string& what, Body body) {
    OwnServers own("cluster3x1");
    asio::io_context io;
    RedisCluster cluster(io.get_executor(), own.seeds(), {.topology_max_age = std::nullopt});
    const std::string name = unique_prefix() + what;
    run(io, [&]() -> asio::awaitable<void> {
        const auto shard = co_await shard_serving(cluster, name);
        CO_ASSERT(shard && shard->replicas.size() == 1u);
        co_await body(own, cluster, name, *shard);
    });
}

// The shard's one replica frozen after the acquisition: extend() and release() fall short.
TEST(ClusterFaults, ExtendAndReleaseWaitForTheShardsReplica) {
    on_replicated_shard("later",
                        [](OwnServers& own, RedisCluster& cluster, const std::string& name,
                           const dlock::detail::Shard& shard) -> asio::awaitable<void> {
                            const int replica = shard.replicas.at(0).port;
                            co_await expect_later_writes_fall_short(
                                cluster, name, [&] { own.signal_on_port(replica, SIGSTOP); },
                                [&] { own.signal_on_port(replica, SIGCONT); });
                        });
}

TEST(ClusterFaults, StoppedReplicaMakesAcquisitionFailWithoutLeavingTheKey) {
    on_replicated_shard(
        "stopped-replica",
        [](OwnServers& own, RedisCluster& cluster, const std::string& name,
           const dlock::detail::Shard& shard) -> asio::awaitable<void> {
            own.signal_on_port(shard.replicas.at(0).port, SIGSTOP);
            const int primary = shard.primary.port;
            const std::uint16_t slot_of_name = dlock::detail::key_slot(name);

            std::vector<dlock::ReplicationShortfall> told;
            auto tell = appending_to(told);

            // Non-blocking: one attempt, rolled back.
            // The observer hears the same shortfall, and why the acquire() failed.
            struct Shortfalls : dlock::Observer {
                std::vector<long long> confirmed;
                std::vector<dlock::NotAcquiredReason> failed;
                void on_shortfall(const dlock::Shortfall& e) override {
                    confirmed.push_back(e.confirmed);
                }
                void on_not_acquired(const dlock::NotAcquired& e) override {
                    failed.push_back(e.reason);
                }
            };
            auto observer = std::make_shared<Shortfalls>();
            Lock once(cluster, name,
                      {.timeout = 30s,
                       .blocking = false,
                       .on_replication_shortfall = tell,
                       .observer = observer});
            EXPECT_EQ(once.replication_factor(), 1u);
            EXPECT_FALSE(co_await once.acquire());
            EXPECT_EQ(once.replication_shortfalls(), 1u);
            EXPECT_FALSE(once.token());
            CO_ASSERT(told.size() == 1u);
            EXPECT_EQ(told[0].lock_name, name);
            EXPECT_EQ(told[0].needed, 1u);
            EXPECT_EQ(told[0].confirmed, 0);
            EXPECT_EQ(observer->confirmed, std::vector<long long>{0});
            EXPECT_EQ(observer->failed,
                      std::vector<dlock::NotAcquiredReason>{dlock::NotAcquiredReason::unavailable});
            EXPECT_EQ((co_await cluster.command("EXISTS", name)).integer, 0);

            // Blocking with a timeout: retries until the deadline, then false; nothing left behind.
            Lock blocking(cluster, name,
                          {.timeout = 30s,
                           .blocking_timeout = Seconds(0.5),
                           .on_replication_shortfall = tell});
            const auto started = Clock::now();
            EXPECT_FALSE(co_await blocking.acquire());
            const Seconds took = Clock::now() - started;
            EXPECT_GE(took.count(), 0.5);
            EXPECT_LT(took.count(), 5.0);
            EXPECT_GE(blocking.replication_shortfalls(), 2u);
            EXPECT_EQ((co_await cluster.command("EXISTS", name)).integer, 0);

            // Someone else's lock, already there: SET NX fails, no WAIT, the key stays.
            co_await cluster.command("SET", name, "someone-else", "PX", "30000");
            const auto before = told.size();
            EXPECT_FALSE(co_await once.acquire());
            EXPECT_EQ(told.size(), before);
            EXPECT_EQ((co_await cluster.command("GET", name)).str, "someone-else");
            co_await cluster.command("DEL", name);

            // Someone else's lock that replaced ours while WAIT was waiting: the roll-back is
            // token-checked, so their key stays (coredis would delete it).
            Lock slow(cluster, name,
                      {.timeout = 30s,
                       .blocking = false,
                       .replication_timeout = Seconds(2),
                       .on_replication_shortfall = tell});
            bool slow_result = true;
            Notification slow_done(co_await asio::this_coro::executor);
            asio::co_spawn(
                co_await asio::this_coro::executor,
                [&]() -> asio::awaitable<void> {
                    slow_result = co_await slow.acquire();
                    slow_done.notify();
                },
                asio::detached);
            Reply value;
            for (int i = 0; i < 400 && !value.is_string();
                 ++i) {  // our SET lands, then WAIT blocks
                value = co_await on_server(primary, "GET", name);
                if (!value.is_string()) co_await pause_for(5ms);
            }
            CO_ASSERT(value.is_string());
            co_await on_server(primary, "SET", name, "intruder", "XX", "PX", "30000");
            co_await slow_done.wait();
            EXPECT_FALSE(slow_result);
            EXPECT_EQ(slow.replication_shortfalls(), 1u);
            EXPECT_EQ((co_await cluster.command("GET", name)).str, "intruder");
            co_await cluster.command("DEL", name);

            // Other shards are not affected.
            for (const std::string& other : cluster.primaries()) {
                if (port_of(other) == primary) continue;
                Lock elsewhere(cluster, names_on(cluster, other, 1, name + ":other").front(),
                               {.timeout = 30s, .blocking = false});
                EXPECT_TRUE(co_await elsewhere.acquire());
                EXPECT_EQ(elsewhere.replication_shortfalls(), 0u);
                co_await elsewhere.release();
            }

            // Once the cluster lists the replica as failed, a re-read lowers R to 0: the lock is
            // available again, held by the primary alone.
            const int replica = shard.replicas.at(0).port;
            EXPECT_TRUE(co_await every_node_lists(own, slot_of_name, 0, replica));
            co_await cluster.refresh();
            EXPECT_EQ(dlock::detail::backend_of(cluster).replicas_of(name), 0u);
            EXPECT_TRUE(co_await once.acquire());
            co_await once.release();

            // The replica comes back: after the next re-read the acquisition is replicated again.
            own.signal_on_port(replica, SIGCONT);
            EXPECT_TRUE(co_await every_node_lists(own, slot_of_name, 1, 0));
            co_await cluster.refresh();
            Lock again(cluster, name,
                       {.timeout = 30s,
                        .blocking_timeout = Seconds(10),
                        .on_replication_shortfall = tell});
            EXPECT_TRUE(co_await again.acquire());
            EXPECT_EQ(again.replication_factor(), 1u);
            co_await again.release();
        });
}

// ---- a primary killed and failed over --------------------------------------------------

TEST(ClusterFaults, FailoverKeepsReplicatedLocksAndTheClientRecovers) {
    OwnServers own("cluster3x1");
    asio::io_context io;
    RedisCluster cluster(io.get_executor(), own.seeds());
    const std::string prefix = unique_prefix() + "failover:";
    run(io, [&]() -> asio::awaitable<void> {
        co_await cluster.refresh();
        std::vector<std::unique_ptr<Lock>> locks;
        for (int i = 0; i < 300; ++i) {
            locks.push_back(
                std::make_unique<Lock>(cluster, prefix + std::to_string(i),
                                       LockOptions{.timeout = 120s, .blocking = false}));
            EXPECT_TRUE(co_await locks.back()->acquire());
        }
        const std::string victim = cluster.primary_of(locks[0]->name()).value();
        const auto topology = co_await read_topology(port_of(victim));
        const int heir =
            topology.shard_of(dlock::detail::key_slot(locks[0]->name()))->replicas.at(0).port;
        std::size_t on_victim = 0;
        for (auto& lock : locks) on_victim += cluster.primary_of(lock->name()) == victim;
        EXPECT_GT(on_victim, 50u);

        own.signal_on_port(port_of(victim), SIGKILL);
        const auto killed_at = Clock::now();

        // The same client, not rebuilt: an acquisition on the dead primary's slots rides
        // through the failover (connection refused -> re-read -> CLUSTERDOWN -> back-off ...)
        // if its command timeout outlasts it.
        Lock probe(cluster, "{" + locks[0]->name() + "}:probe",
                   {.timeout = 30s, .blocking = false, .command_timeout = Seconds(30)});
        const ProbeOutcome probed = co_await acquire_through_failover(probe);
        EXPECT_TRUE(probed.acquired);
        EXPECT_LE(probed.in_flight_failures, 1);
        record("failover_probe_in_flight_failures", probed.in_flight_failures);
        const Seconds recovered = Clock::now() - killed_at;
        record("failover_first_acquisition_s", recovered.count());
        EXPECT_EQ(cluster.primary_of(probe.name()), "127.0.0.1:" + std::to_string(heir));
        EXPECT_EQ(dlock::detail::backend_of(cluster).replicas_of(probe.name()),
                  0u);  // the old primary is gone: R = 0 until it returns
        co_await probe.release();

        // What the cluster says (polled: there is no event to wait for).
        bool promoted = false;
        while (!promoted && Clock::now() - killed_at < 60s) {
            const Reply info = co_await on_server(heir, "CLUSTER", "INFO");
            const Reply role = co_await on_server(heir, "ROLE");
            promoted = info.str.find("cluster_state:ok") != std::string::npos && role.is_array() &&
                       role.elements.at(0).str == "master";
            if (!promoted) co_await pause_for(50ms);
        }
        EXPECT_TRUE(promoted);
        record("failover_promotion_seen_by_s", Seconds(Clock::now() - killed_at).count());

        // Locks taken before the failover: WAIT had each one on the (only) replica, which is
        // now the primary, so every one survived and can be extended and released.
        std::size_t survived = 0, lost = 0;
        for (auto& lock : locks) {
            try {
                EXPECT_TRUE(co_await lock->extend(Seconds(10)));
                co_await lock->release();
                ++survived;
            } catch (const dlock::LockError& e) {
                ++lost;
                ADD_FAILURE() << lock->name() << ": " << e.what();
            }
        }
        record("failover_locks_on_killed_primary", static_cast<double>(on_victim));
        record("failover_locks_lost", static_cast<double>(lost));
        EXPECT_EQ(survived, locks.size());
        EXPECT_GE(cluster.topology_refreshes(), 2u);

        // New acquisitions anywhere work.
        for (int i = 0; i < 100; ++i) {
            Lock fresh(cluster, prefix + "after:" + std::to_string(i),
                       {.timeout = 30s, .blocking = false});
            EXPECT_TRUE(co_await fresh.acquire());
            co_await fresh.release();
        }
    });
}

// ---- a slot migrated while locks come and go -------------------------------------------

asio::awaitable<void> migrate_keys(int source, int target, const std::vector<std::string>& keys) {
    if (keys.empty()) co_return;
    std::vector<std::string> args{"MIGRATE", "127.0.0.1", std::to_string(target), "", "0",
                                  "5000",    "KEYS"};
    args.insert(args.end(), keys.begin(), keys.end());
    const Reply reply = co_await on_server_args(source, args);
    EXPECT_TRUE(reply.is_ok()) << reply.to_string();
}

asio::awaitable<std::vector<std::string>> keys_in_slot(int port, std::uint16_t slot) {
    const Reply keys =
        co_await on_server(port, "CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "1000");
    std::vector<std::string> out;
    for (const Reply& key : keys.elements) out.push_back(key.str);
    co_return out;
}

// Does `port` hold `key`? (ASKING: the node may be importing the key's slot.)
asio::awaitable<bool> holds(int port, const std::string& key) {
    dlock::Redis node(co_await asio::this_coro::executor, url(port));
    dlock::Request request;
    request.push({"ASKING"});
    request.push({"EXISTS", key});
    auto replies = co_await node.pipeline(request);
    co_return replies.at(1).integer == 1;
}

TEST(ClusterFaults, LiveSlotMigrationFollowsMovedAskAndTryAgain) {
    OwnServers own("cluster3x1");
    asio::io_context io;
    RedisCluster cluster(io.get_executor(), own.seeds());
    const std::string tag = "{" + unique_prefix() + "mig}";
    const std::uint16_t slot = dlock::detail::key_slot(tag);
    run(io, [&]() -> asio::awaitable<void> {
        co_await cluster.refresh();
        const int source = port_of(cluster.primary_of(tag).value());
        int target = 0;
        std::vector<int> primaries;
        for (const auto& primary : cluster.primaries()) {
            primaries.push_back(port_of(primary));
            if (port_of(primary) != source && target == 0) target = port_of(primary);
        }
        const std::string source_id = (co_await on_server(source, "CLUSTER", "MYID")).str;
        const std::string target_id = (co_await on_server(target, "CLUSTER", "MYID")).str;
        LockOptions options{.timeout = 120s, .blocking = false};

        std::vector<std::unique_ptr<Lock>> old;
        for (int i = 0; i < 10; ++i) {
            old.push_back(
                std::make_unique<Lock>(cluster, tag + ":old" + std::to_string(i), options));
            EXPECT_TRUE(co_await old.back()->acquire());
        }
        // A fenced lock taken and released: its fence counter stays on the source.
        LockOptions fenced_options = options;
        fenced_options.fencing = true;
        Lock fenced(cluster, tag + ":fenced", fenced_options);
        EXPECT_TRUE(co_await fenced.acquire());
        const std::int64_t first_fence = fenced.fence().value();
        co_await fenced.release();
        // A waiter subscribed on the source, for a lock held by old[0].
        Lock waiter(cluster, old[0]->name(),
                    {.timeout = 120s, .sleep = Seconds(0.2), .blocking_timeout = Seconds(30)});
        const auto waiter_run = acquire_in_background(co_await asio::this_coro::executor, waiter);
        auto& source_subscriber = dlock::detail::backend_of(cluster).subscriber_for(tag);
        for (int i = 0; i < 500 && source_subscriber.channel_count() == 0; ++i)
            co_await pause_for(10ms);
        EXPECT_EQ(source_subscriber.channel_count(), 1u);

        // Start the migration and move half of the lock keys.
        EXPECT_TRUE((co_await on_server(target, "CLUSTER", "SETSLOT", std::to_string(slot),
                                        "IMPORTING", source_id))
                        .is_ok());
        EXPECT_TRUE((co_await on_server(source, "CLUSTER", "SETSLOT", std::to_string(slot),
                                        "MIGRATING", target_id))
                        .is_ok());
        std::vector<std::string> half;
        for (int i = 1; i < 10; i += 2) half.push_back(old[i]->name());
        co_await migrate_keys(source, target, half);
        const auto redirections_before = cluster.redirections();

        // During: new locks land on the target by ASK (and WAIT runs on the target's
        // connection); old ones are released/extended wherever their key is.
        std::vector<std::unique_ptr<Lock>> fresh;
        for (int i = 0; i < 10; ++i) {
            fresh.push_back(
                std::make_unique<Lock>(cluster, tag + ":new" + std::to_string(i), options));
            EXPECT_TRUE(co_await fresh.back()->acquire());
            EXPECT_EQ(fresh.back()->replication_shortfalls(), 0u);
            EXPECT_TRUE(co_await holds(target, fresh.back()->name()));
            EXPECT_FALSE(co_await holds(source, fresh.back()->name()));
        }
        EXPECT_GE(cluster.redirections() - redirections_before, 10u);
        EXPECT_EQ(cluster.primary_of(tag),
                  "127.0.0.1:" + std::to_string(source));  // ASK changes no map
        for (int i = 1; i < 10; ++i) {                     // old[0] stays held for the waiter
            EXPECT_TRUE(co_await old[i]->extend(Seconds(5)));
            if (i >= 8) co_await old[i]->release();  // one migrated (9), one not (8)
        }
        for (int i = 0; i < 5; ++i) co_await fresh[i]->release();

        // A fenced acquisition now needs the fence key (on the source) and the lock key (absent
        // there): the source answers TRYAGAIN until the migration ends.
        const auto fenced_run = acquire_in_background(co_await asio::this_coro::executor, fenced);
        co_await pause_for(300ms);
        EXPECT_FALSE(fenced_run->got);  // still retrying TRYAGAIN

        // Finish: move the rest, then hand the slot over (target, source, then the others).
        const auto finishing = Clock::now();
        co_await migrate_keys(source, target, co_await keys_in_slot(source, slot));
        for (int port : {target, source}) {
            EXPECT_TRUE((co_await on_server(port, "CLUSTER", "SETSLOT", std::to_string(slot),
                                            "NODE", target_id))
                            .is_ok());
        }
        for (int port : primaries) {
            if (port != source && port != target) {
                co_await on_server(port, "CLUSTER", "SETSLOT", std::to_string(slot), "NODE",
                                   target_id);
            }
        }
        co_await fenced_run->done.wait();
        EXPECT_TRUE(fenced_run->got);
        EXPECT_GT(fenced.fence().value(), first_fence);
        EXPECT_GE(fenced_run->finished, finishing);
        co_await fenced.release();

        // After: MOVED, the map is patched, everything is on the target.
        for (int i = 10; i < 20; ++i) {
            fresh.push_back(
                std::make_unique<Lock>(cluster, tag + ":new" + std::to_string(i), options));
            EXPECT_TRUE(co_await fresh.back()->acquire());
        }
        EXPECT_EQ(cluster.primary_of(tag), "127.0.0.1:" + std::to_string(target));
        for (int i = 1; i < 8; ++i) co_await old[i]->release();
        for (int i = 5; i < 20; ++i) co_await fresh[i]->release();

        // The waiter: its subscription on the source ended with the slot (Redis sends an
        // unsolicited SUNSUBSCRIBE); it falls back to polling and still gets the lock.
        const auto released_at = Clock::now();
        co_await old[0]->release();
        co_await waiter_run->done.wait();
        EXPECT_TRUE(waiter_run->got);
        EXPECT_LT(Seconds(Clock::now() - released_at).count(), 5.0);
        co_await waiter.release();

        // The source's subscriber still works for the slots it kept: a hand-off with a 5 s poll
        // completes early only through a notification.
        const std::string kept =
            names_on(cluster, "127.0.0.1:" + std::to_string(source), 1, unique_prefix() + "kept")
                .front();
        Lock holder(cluster, kept, {.timeout = 30s, .sleep = Seconds(5)});
        Lock next(cluster, kept,
                  {.timeout = 30s, .sleep = Seconds(5), .blocking_timeout = Seconds(20)});
        EXPECT_TRUE(co_await holder.acquire());
        const auto next_run = acquire_in_background(co_await asio::this_coro::executor, next);
        auto& kept_subscriber = dlock::detail::backend_of(cluster).subscriber_for(kept);
        EXPECT_EQ(&kept_subscriber, &source_subscriber);
        for (int i = 0; i < 500 && kept_subscriber.channel_count() == 0; ++i)
            co_await pause_for(10ms);
        const auto handoff_from = Clock::now();
        co_await holder.release();
        co_await next_run->done.wait();
        EXPECT_TRUE(next_run->got);
        EXPECT_LT(Seconds(Clock::now() - handoff_from).count(), 2.0);
        co_await next.release();

        EXPECT_EQ((co_await keys_in_slot(source, slot)).size(), 0u);
        EXPECT_EQ((co_await keys_in_slot(target, slot)).size(), 1u);  // the fence counter
    });
}

// ---- a primary that stops answering ----------------------------------------------------

TEST(ClusterFaults, StoppedPrimaryDoesNotBlockTheOtherShards) {
    OwnServers own("cluster3x0");
    asio::io_context io;
    std::vector<dlock::ConnectionOptions> seeds;
    for (const auto& seed : own.seeds()) {
        seeds.push_back(dlock::parse_url(seed));
        seeds.back().command_timeout = 300ms;
    }
    RedisCluster cluster(io.get_executor(), seeds);
    const std::string prefix = unique_prefix() + "stopped-primary:";
    const LockOptions options{.timeout = 30s, .blocking = false, .command_timeout = Seconds(0.3)};
    run(io, [&]() -> asio::awaitable<void> {
        // Without replicas a stopped primary cannot be failed over; this keeps the rest of the
        // cluster serving once the node is marked failed (the default would answer CLUSTERDOWN).
        for (int port : own.ports()) {
            co_await on_server(port, "CONFIG", "SET", "cluster-require-full-coverage", "no");
        }
        co_await cluster.refresh();
        const std::vector<std::string> primaries = cluster.primaries();
        CO_ASSERT(primaries.size() == 3u);
        const std::string victim = primaries[0];
        const std::vector<std::string> stuck = names_on(cluster, victim, 3, prefix + "stuck");
        std::vector<std::string> others;
        for (std::size_t p = 1; p < primaries.size(); ++p) {
            for (auto& name : names_on(cluster, primaries[p], 10, prefix + "ok"))
                others.push_back(name);
        }

        own.signal_on_port(port_of(victim), SIGSTOP);
        // An acquisition on the stopped shard fails with TimeoutError after the command timeout
        // (SET, then the token-checked roll-back, each bounded), while the others go on.
        bool stuck_timed_out = false;
        Seconds stuck_took{};
        std::size_t done_meanwhile = 0;
        bool stuck_finished = false;
        Notification stuck_done(co_await asio::this_coro::executor);
        asio::co_spawn(
            co_await asio::this_coro::executor,
            [&]() -> asio::awaitable<void> {
                Lock lock(cluster, stuck[0], options);
                const auto started = Clock::now();
                try {
                    co_await lock.acquire();
                } catch (const dlock::TimeoutError&) {
                    stuck_timed_out = true;
                }
                stuck_took = Clock::now() - started;
                stuck_finished = true;
                stuck_done.notify();
            },
            asio::detached);
        for (int round = 0; round < 3; ++round) {
            for (const auto& name : others) {
                Lock lock(cluster, name, options);
                EXPECT_TRUE(co_await lock.acquire());
                co_await lock.release();
                if (!stuck_finished) ++done_meanwhile;
            }
        }
        co_await stuck_done.wait();
        EXPECT_TRUE(stuck_timed_out);
        EXPECT_GE(stuck_took.count(), 0.3);
        EXPECT_LT(stuck_took.count(), 3.0);
        EXPECT_GT(done_meanwhile, 0u);
        record("stopped_primary_acquire_timeout_s", stuck_took.count());

        // Still working past the cluster's node timeout (2 s), when the node is marked failed.
        co_await pause_for(2500ms);
        for (const auto& name : others) {
            Lock lock(cluster, name, options);
            EXPECT_TRUE(co_await lock.acquire());
            co_await lock.release();
        }

        // The node resumes: the same client serves its keys again, and the SET that timed out
        // was rolled back (the roll-back was queued behind it on the same connection).
        own.signal_on_port(port_of(victim), SIGCONT);
        bool back = false;
        for (int attempt = 0; attempt < 100 && !back; ++attempt) {
            try {
                Lock lock(cluster, stuck[1], options);
                back = co_await lock.acquire();
                co_await lock.release();
            } catch (const dlock::Error&) {
                back = false;
            }
            if (!back) co_await pause_for(100ms);
        }
        EXPECT_TRUE(back);
        EXPECT_EQ((co_await cluster.command("EXISTS", stuck[0])).integer, 0);
    });
}

}  // namespace

// ---- credentials from the seed ----------------------------------------------------------

TEST(ClusterFaults, SeedPasswordAppliesToEveryNode) {
    OwnServers own("cluster3x0");
    asio::io_context io;
    run(io, [&]() -> asio::awaitable<void> {
        for (int port : own.ports())
            co_await on_server(port, "CONFIG", "SET", "requirepass", "s3cret");
    });
    // Only the first seed carries the password; the nodes learnt from CLUSTER SLOTS get it too.
    std::vector<std::string> seeds{"redis://:s3cret@127.0.0.1:" + std::to_string(own.ports()[0])};
    RedisCluster cluster(io.get_executor(), seeds);
    RedisCluster anonymous(io.get_executor(), own.seeds());
    run(io, [&]() -> asio::awaitable<void> {
        co_await cluster.refresh();
        CO_ASSERT(cluster.primaries().size() == 3u);
        for (const std::string& primary : cluster.primaries()) {
            const std::string name =
                names_on(cluster, primary, 1, unique_prefix() + "auth").front();
            Lock lock(cluster, name, {.timeout = 30s, .blocking = false});
            EXPECT_TRUE(co_await lock.acquire());
            co_await lock.release();
        }
        std::string code;
        try {
            co_await anonymous.refresh();
        } catch (const dlock::ServerError& e) {
            code = e.code();
        }
        EXPECT_EQ(code, "NOAUTH");
        // The harness stops the nodes by pid: no password needed for that.
    });
}
