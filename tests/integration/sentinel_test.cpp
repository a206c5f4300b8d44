// RedisSentinel and Lock on a real Sentinel group (scripts/redis-harness kind `sentinel`: a
// primary, two replicas, three redis-sentinel processes). Every test starts a group of its
// own since it kills, stops or fails over servers; the harness's watchdog stops it even if
// this process dies.
#include <signal.h>

#include <algorithm>
#include <asio.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "async.hpp"
#include "child_process.hpp"
#include "client/backend.hpp"
#include "dlock/lock.hpp"
#include "dlock/log.hpp"
#include "dlock/redis.hpp"
#include "dlock/redis_sentinel.hpp"
#include "dlock/sync.hpp"
#include "dlock/sync_sentinel.hpp"
#include "failover.hpp"
#include "later_writes.hpp"
#include "names.hpp"
#include "own_servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::Lock;
using dlock::LockOptions;
using dlock::RedisSentinel;
using dlock::Reply;
using dlock::Seconds;
using namespace dlock::test;

// Server indices of the harness's sentinel kind.
constexpr std::size_t first_primary = 0;
constexpr std::size_t first_sentinel = 3;

std::string service_url(const OwnServers& own) {
    return own.env_value("SENTINEL_SERVICE_URL");
}

// Runs `body(own, redis)` on a Sentinel group of its own, `redis` a client of its service.
template <class Body>
void on_own_group(Body body) {
    OwnServers own("sentinel");
    asio::io_context io;
    RedisSentinel redis(io.get_executor(), service_url(own));
    run(io, [&]() -> asio::awaitable<void> { co_await body(own, redis); });
}

// ---- plain operation ----------------------------------------------------------------------

TEST(Sentinel, LockOperationsGoToThePrimaryAndWaitForAReplica) {
    on_own_group([](OwnServers& own, RedisSentinel& redis) -> asio::awaitable<void> {
        const std::string name = unique_name(":") + "ops";
        EXPECT_EQ((co_await redis.command("PING")).str, "PONG");
        EXPECT_EQ(redis.primary(), "127.0.0.1:" + std::to_string(own.port(first_primary)));
        EXPECT_EQ(redis.sentinels().size(), 3u);
        // WAIT may take up to 10 s: a busy CI machine can keep a replica past the default 100 ms,
        // and this test checks where the commands go, not how fast a replica confirms.
        const LockOptions confirmed{.timeout = 10s, .blocking = false, .replication_timeout = 10s};
        Lock lock(redis, name, confirmed);
        EXPECT_EQ(lock.replication_factor(), 1u);  // two replicas: WAIT 1
        EXPECT_TRUE(co_await lock.acquire());
        EXPECT_EQ(lock.replication_shortfalls(), 0u);
        // The key is on a replica as well.
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> {
                co_return (co_await on_server(own.port(1), "EXISTS", name)).integer == 1;
            },
            5s));
        Lock other(redis, name, confirmed);
        EXPECT_FALSE(co_await other.acquire());
        EXPECT_TRUE(co_await lock.extend(Seconds(5)));
        co_await lock.release();
        EXPECT_TRUE(co_await other.acquire());
        co_await other.release();
        EXPECT_EQ((co_await redis.command("EXISTS", name)).integer, 0);
    });
}

TEST(Sentinel, SyncClientTakesLocks) {
    OwnServers own("sentinel");
    dlock::sync::RedisSentinel redis(service_url(own));
    dlock::sync::Lock lock(redis, unique_name(":") + "sync", {.timeout = 10s});
    {
        std::unique_lock guard(lock);
        EXPECT_TRUE(lock.owned());
    }
    EXPECT_FALSE(lock.locked());
}

TEST(Sentinel, DiscoveryAsksTheOtherSentinelsWhenOneIsDown) {
    OwnServers own("sentinel");
    own.kill(first_sentinel);
    asio::io_context io;
    // The dead sentinel is listed first.
    const std::string url = service_url(own);
    RedisSentinel redis(io.get_executor(), url);
    ASSERT_EQ(redis.sentinels().front(), "127.0.0.1:" + std::to_string(own.port(first_sentinel)));
    run(io, [&]() -> asio::awaitable<void> {
        co_await redis.discover();
        EXPECT_EQ(redis.primary(), "127.0.0.1:" + std::to_string(own.port(first_primary)));
        // The one that answered moved to the front; the dead one is still known.
        EXPECT_NE(redis.sentinels().front(),
                  "127.0.0.1:" + std::to_string(own.port(first_sentinel)));
        EXPECT_EQ(redis.sentinels().size(), 3u);
        Lock lock(redis, unique_name(":") + "one-down", {.timeout = 10s, .blocking = false});
        EXPECT_TRUE(co_await lock.acquire());
        co_await lock.release();
    });
}

TEST(Sentinel, BadOptionsAreRefusedAtConstructionNamingTheField) {
    asio::io_context io;
    auto make = [&](dlock::SentinelOptions options) {
        return [&io, options] { RedisSentinel redis(io.get_executor(), options); };
    };
    dlock::SentinelOptions no_sentinel;
    no_sentinel.service = "s";
    EXPECT_NE(invalid_argument_from(make(no_sentinel)).find("sentinels"), std::string::npos);
    dlock::SentinelOptions no_service;
    no_service.sentinels.emplace_back();
    EXPECT_NE(invalid_argument_from(make(no_service)).find("service"), std::string::npos);
    dlock::ConnectionOptions on_socket;
    on_socket.unix_path = "/tmp/sentinel.sock";
    dlock::SentinelOptions unix_sentinel;
    unix_sentinel.service = "s";
    unix_sentinel.sentinels.push_back(on_socket);
    EXPECT_NE(invalid_argument_from(make(unix_sentinel)).find("TCP"), std::string::npos);
    dlock::SentinelOptions bad_age;
    bad_age.service = "s";
    bad_age.sentinels.emplace_back();
    bad_age.replicas_max_age = Seconds(-1);
    EXPECT_NE(invalid_argument_from(make(bad_age)).find("replicas_max_age"), std::string::npos);
    EXPECT_NE(invalid_argument_from([&] {
                  RedisSentinel redis(io.get_executor(), "redis://h");
              }).find("unknown scheme"),
              std::string::npos);
}

TEST(Sentinel, SentinelListIsLearnedFromTheOneGiven) {
    OwnServers own("sentinel");
    asio::io_context io;
    RedisSentinel redis(io.get_executor(), "redis-sentinel://127.0.0.1:" +
                                               std::to_string(own.port(first_sentinel + 1)) +
                                               "#dlock-primary");
    run(io, [&]() -> asio::awaitable<void> {
        co_await redis.discover();
        EXPECT_EQ(redis.sentinels().size(), 3u);
    });
}

TEST(Sentinel, UnknownServiceFailsWithinTheDeadline) {
    OwnServers own("sentinel");
    asio::io_context io;
    auto options = dlock::parse_sentinel_url(service_url(own));
    options.service = "no-such-service";
    RedisSentinel redis(io.get_executor(), options);
    run(io, [&]() -> asio::awaitable<void> {
        const Stopwatch watch;
        std::vector<std::string> ping(1, "PING");  // (no braced list inside co_await: GCC 12)
        const auto error = co_await thrown_by(redis.command(std::move(ping), Seconds(0.5)));
        EXPECT_TRUE(is<dlock::ConnectionError>(error) || is<dlock::TimeoutError>(error))
            << what(error);
        EXPECT_NE(what(error).find("no-such-service"), std::string::npos) << what(error);
        EXPECT_LT(watch.seconds(), 2.0);
    });
}

// ---- the CLI ---------------------------------------------------------------------------------

#ifdef DLOCK_CLI_PATH
// `dlock ARGS... --url URL` (the URL last, so it follows the subcommand's own options).
Outcome cli(const std::string& url, std::vector<std::string> args) {
    args.insert(args.begin(), DLOCK_CLI_PATH);
    args.insert(args.begin() + 2, {"--url", url});
    return run_process(args, {.env = {}, .unset = {"DLOCK_URL", "DLOCK_PASSWORD"}});
}

TEST(Sentinel, CliSubcommandsTakeASentinelUrl) {
    OwnServers own("sentinel");
    const std::string url = service_url(own);
    const std::string name = unique_name(":") + "cli";
    const Outcome acquired = cli(url, {"acquire", "-t", "20", name});
    ASSERT_EQ(acquired.status, 0) << acquired.err;
    std::string token = acquired.out;
    while (!token.empty() && token.back() == '\n') token.pop_back();
    EXPECT_EQ(cli(url, {"status", name}).out.rfind("held", 0), 0u);
    EXPECT_EQ(cli(url, {"extend", name, token, "10"}).status, 0);
    EXPECT_EQ(cli(url, {"run", "-n", name, "--", "true"}).status, 1);  // held
    EXPECT_EQ(cli(url, {"release", name, token}).status, 0);
    const Outcome run = cli(url, {"run", "-n", name, "--", "sh", "-c", "echo \"$DLOCK_FENCE\""});
    EXPECT_EQ(run.status, 0) << run.err;
    EXPECT_EQ(cli(url, {"status", name}).out.rfind("free", 0), 0u);
    const Outcome bad = cli("redis-sentinel://:hunter2@127.0.0.1:1", {"status", name});
    EXPECT_EQ(bad.status, 64) << bad.err;  // no #service: a usage error
    EXPECT_EQ(bad.err.find("hunter2"), std::string::npos);
}
#endif

// ---- replicas that cannot confirm -----------------------------------------------------------

TEST(Sentinel, AllReplicasStoppedRefusesAcquisitionsAndLeavesNoKey) {
    on_own_group([](OwnServers& own, RedisSentinel& redis) -> asio::awaitable<void> {
        const std::string name = unique_name(":") + "no-replicas";
        co_await redis.discover();
        // Killed, not frozen: the primary then drops them from ROLE at once, so a client that
        // counted only connected replicas would ask WAIT for none.
        own.kill(1);
        own.kill(2);
        std::vector<dlock::ReplicationShortfall> told;
        Lock lock(
            redis, name,
            {.timeout = 10s, .blocking = false, .on_replication_shortfall = appending_to(told)});
        EXPECT_EQ(lock.replication_factor(), 1u);
        EXPECT_FALSE(co_await lock.acquire());
        EXPECT_EQ(lock.replication_shortfalls(), 1u);
        EXPECT_EQ(told.size(), 1u);
        EXPECT_EQ((co_await redis.command("EXISTS", name)).integer, 0);
        // Still refused after R was re-read (replicas_max_age 1 s): a replica that is down
        // counts as one that did not confirm, so R stays 2.
        co_await pause_for(1500ms);
        EXPECT_EQ(dlock::detail::backend_of(redis).replicas_of(name), 2u);
        co_await pause_for(100ms);  // the background re-read
        EXPECT_FALSE(co_await lock.acquire());
        EXPECT_EQ((co_await redis.command("EXISTS", name)).integer, 0);
        own.restart(1);
        // One replica back is enough for WAIT 1.
        Lock again(redis, name, {.timeout = 10s, .blocking_timeout = 10s});
        EXPECT_TRUE(co_await again.acquire());
        co_await again.release();
    });
}

// Both replicas frozen (SIGSTOP): the primary still lists them, WAIT 1 gets no answer.
TEST(Sentinel, ExtendAndReleaseWaitForAReplica) {
    on_own_group([](OwnServers& own, RedisSentinel& redis) -> asio::awaitable<void> {
        co_await expect_later_writes_fall_short(
            redis, unique_name(":") + "later",
            [&] {
                own.freeze(1);
                own.freeze(2);
            },
            [&] {
                own.thaw(1);
                own.thaw(2);
            });
    });
}

// ---- failovers ------------------------------------------------------------------------------

// `count` locks, each confirmed by WAIT.
asio::awaitable<std::vector<std::unique_ptr<Lock>>> take_locks(RedisSentinel& redis,
                                                               const std::string& prefix,
                                                               int count) {
    std::vector<std::unique_ptr<Lock>> locks;
    for (int i = 0; i < count; ++i) {
        locks.push_back(std::make_unique<Lock>(redis, prefix + std::to_string(i),
                                               LockOptions{.timeout = 120s, .blocking = false}));
        EXPECT_TRUE(co_await locks.back()->acquire());
    }
    co_return locks;
}

// Extends and releases each lock; returns how many of them were lost.
asio::awaitable<std::size_t> count_lost(std::vector<std::unique_ptr<Lock>>& locks) {
    std::size_t lost = 0;
    for (auto& lock : locks) {
        try {
            EXPECT_TRUE(co_await lock->extend(Seconds(10)));
            co_await lock->release();
        } catch (const dlock::LockError& e) {
            ++lost;
            ADD_FAILURE() << lock->name() << ": " << e.what();
        }
    }
    co_return lost;
}

// SIGKILLs the primary, then takes a lock as soon as the client follows the failover (attempts
// keep coming until one succeeds on the new primary). Returns the seconds from the kill to
// that acquisition.
asio::awaitable<double> kill_primary_and_acquire(OwnServers& own, RedisSentinel& redis,
                                                 const std::string& prefix) {
    own.kill(first_primary);
    const Stopwatch since_kill;
    Lock probe(redis, prefix + "probe",
               {.timeout = 30s, .blocking = false, .command_timeout = Seconds(30)});
    const ProbeOutcome probed = co_await acquire_through_failover(probe);
    const double first_acquisition = since_kill.seconds();
    EXPECT_TRUE(probed.acquired);
    EXPECT_LE(probed.in_flight_failures, 1);
    EXPECT_TRUE(redis.primary().has_value());
    if (redis.primary()) {
        EXPECT_NE(port_of(*redis.primary()), own.port(first_primary));
    }
    EXPECT_EQ(redis.primary_changes(), 1u);
    if (probed.acquired) co_await probe.release();
    co_return first_acquisition;
}

TEST(Sentinel, KilledPrimaryFailsOverAndEveryConfirmedLockSurvives) {
    on_own_group([](OwnServers& own, RedisSentinel& redis) -> asio::awaitable<void> {
        const std::string prefix = unique_name(":") + "kill:";
        auto locks = co_await take_locks(redis, prefix, 200);
        // One lock that will not survive: its key is removed from both replicas behind the
        // primary's back (as if replication had lost it), so the promoted one lacks it.
        bool told_lost = false;
        Lock doomed(redis, prefix + "doomed",
                    {.timeout = 120s, .blocking = false, .on_lost = [&] { told_lost = true; }});
        EXPECT_TRUE(co_await doomed.acquire());
        for (std::size_t replica : {1u, 2u}) {
            co_await on_server(own.port(replica), "CONFIG", "SET", "replica-read-only", "no");
            co_await on_server(own.port(replica), "DEL", doomed.name());
        }
        const Stopwatch since_kill;
        record("sentinel_kill_first_acquisition_s",
               co_await kill_primary_and_acquire(own, redis, prefix));
        CO_ASSERT(redis.primary().has_value());
        const int heir = port_of(*redis.primary());
        // Reported lost by the re-check at the failover (no renewal runs: auto_renew is off).
        EXPECT_TRUE(
            co_await eventually([&]() -> asio::awaitable<bool> { co_return told_lost; }, 5s));
        EXPECT_TRUE(doomed.lost());
        record("sentinel_kill_unreplicated_lock_reported_lost_after_s", since_kill.seconds());

        const std::size_t lost = co_await count_lost(locks);
        record("sentinel_kill_locks_lost", static_cast<double>(lost));
        EXPECT_EQ(lost, 0u);

        // The old primary comes back: the sentinels make it a replica of the new one, and
        // writes keep going to the new one.
        own.restart(first_primary);
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> {
                // The sentinels' reconfiguration of the rejoining server kills its normal
                // clients (CLIENT KILL TYPE normal): a dropped connection means "ask again".
                std::optional<Reply> role;
                try {
                    role = co_await on_server(own.port(first_primary), "ROLE");
                } catch (const dlock::ConnectionError&) {
                    co_return false;
                }
                co_return role->is_array() && role->elements.at(0).str == "slave";
            },
            60s));
        record("sentinel_old_primary_demoted_after_s", since_kill.seconds());
        int dropped = 0;
        for (int i = 0; i < 20; ++i) {
            // Blocking: while the demoted primary resyncs, a replica may be short for a moment
            // and WAIT confirm too few (a shortfall is rolled back and retried).
            Lock fresh(redis, prefix + "after:" + std::to_string(i),
                       {.timeout = 30s, .blocking_timeout = 30s});
            bool acquired = false;
            try {
                acquired = co_await fresh.acquire();
                EXPECT_TRUE(acquired);
                if (acquired) co_await fresh.release();
            } catch (const dlock::ConnectionError&) {
                // A second failover (seen under CI load) closes the connection to the server it
                // demotes, failing the command in flight on it (a typed error, as documented):
                // that name again, a few times at most.
                CO_ASSERT(++dropped <= 5);
                --i;
            }
        }
        // The client writes where the sentinels say the primary is. That is usually the heir,
        // but a loaded machine has seen the sentinels fail over a second time here, so the
        // check is against their answer, not against the heir.
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> {
                // A second failover drops the client's connection to the server it demotes.
                try {
                    co_await redis.command("PING");
                } catch (const dlock::ConnectionError&) {
                    co_return false;
                }
                std::optional<Reply> named;
                try {
                    named = co_await on_server(own.port(first_sentinel), "SENTINEL",
                                               "GET-MASTER-ADDR-BY-NAME", "dlock-primary");
                } catch (const dlock::ConnectionError&) {
                    co_return false;
                }
                co_return named->is_array() && named->elements.size() == 2 &&
                    port_of(*redis.primary()) == std::stoi(named->elements[1].str);
            },
            10s));
        record("sentinel_kill_primary_changes", static_cast<double>(redis.primary_changes()));
        if (port_of(*redis.primary()) != heir) record("sentinel_kill_second_failover", 1);
    });
}

// Issue 13's count over repeated runs: DLOCK_SENTINEL_KILL_RUNS times a fresh group, 200 locks
// confirmed by WAIT, the primary SIGKILLed; each run prints the locks lost and the time to the
// first acquisition after the kill. Skipped unless the variable is set: the ctest entry
// sentinel_kill_repeated (label chaos) sets it to 5.
TEST(Sentinel, RepeatedKillsLoseNoConfirmedLock) {
    const char* runs_text = std::getenv("DLOCK_SENTINEL_KILL_RUNS");
    if (runs_text == nullptr) GTEST_SKIP() << "set DLOCK_SENTINEL_KILL_RUNS=N to run it";
    const int runs = std::stoi(runs_text);
    std::size_t lost_in_all = 0;
    for (int i = 1; i <= runs; ++i) {
        OwnServers own("sentinel");
        asio::io_context io;
        RedisSentinel redis(io.get_executor(), service_url(own));
        const std::string prefix = unique_name(":") + "kill" + std::to_string(i) + ":";
        run(io, [&]() -> asio::awaitable<void> {
            auto locks = co_await take_locks(redis, prefix, 200);
            const double first = co_await kill_primary_and_acquire(own, redis, prefix);
            const std::size_t lost = co_await count_lost(locks);
            lost_in_all += lost;
            std::cout << "[ measured ] kill run " << i << " of " << runs << ": " << lost
                      << " of 200 confirmed locks lost, first acquisition " << first
                      << " s after the kill\n";
            record("sentinel_kill_run" + std::to_string(i) + "_locks_lost",
                   static_cast<double>(lost));
            record("sentinel_kill_run" + std::to_string(i) + "_first_acquisition_s", first);
        });
    }
    record("sentinel_kill_runs", runs);
    record("sentinel_kill_locks_lost_in_all_runs", static_cast<double>(lost_in_all));
    EXPECT_EQ(lost_in_all, 0u);
}

TEST(Sentinel, GracefulFailoverLosesNoLock) {
    OwnServers own("sentinel");
    asio::io_context io;
    RedisSentinel redis(io.get_executor(), service_url(own));
    const std::string prefix = unique_name(":") + "graceful:";
    std::vector<std::string> logged;  // the sink runs on this thread (io.run below)
    dlock::set_log_sink(
        [&](dlock::LogLevel, std::string_view message) { logged.emplace_back(message); });
    run(io, [&]() -> asio::awaitable<void> {
        auto locks = co_await take_locks(redis, prefix, 200);
        const Reply started =
            co_await on_server(own.port(first_sentinel), "SENTINEL", "FAILOVER", "dlock-primary");
        EXPECT_TRUE(started.is_ok()) << started.to_string();
        const Stopwatch since_failover;
        // The client follows: +switch-master (or READONLY from the demoted primary).
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> {
                co_await redis.command("PING");
                co_return port_of(redis.primary().value()) != own.port(first_primary);
            },
            30s));
        record("sentinel_graceful_client_moved_after_s", since_failover.seconds());
        Lock probe(redis, prefix + "probe", {.timeout = 30s, .blocking_timeout = 30s});
        EXPECT_TRUE(co_await probe.acquire());
        record("sentinel_graceful_first_acquisition_s", since_failover.seconds());
        EXPECT_NE(port_of(redis.primary().value()), own.port(first_primary));
        co_await probe.release();
        const std::size_t lost = co_await count_lost(locks);
        record("sentinel_graceful_locks_lost", static_cast<double>(lost));
        EXPECT_EQ(lost, 0u);
    });
    dlock::set_log_sink(nullptr);
    const std::string followed =
        "sentinel: failover followed from 127.0.0.1:" + std::to_string(own.port(first_primary));
    EXPECT_TRUE(std::any_of(logged.begin(), logged.end(), [&](const std::string& line) {
        return line.rfind(followed, 0) == 0;
    })) << "the log says the client followed the failover";
}

}  // namespace
