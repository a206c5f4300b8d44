// dlock::Semaphore on real servers: at most N holders over processes and tasks, the stored
// permit count, leases that free a crashed holder's permit, one wake-up per freed permit (no
// polling, no herd), fencing, auto-renewal's lost signal, and a Cluster.
//
// Waiters that must be woken use sleep = 5 s: only a wake-up can get them in within the
// bounds asserted here (3 s). Command counts run on a server of their own (SemaphoreOnOwnServer).
#include "dlock/semaphore.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <asio.hpp>
#include <memory>
#include <vector>

#include "async.hpp"
#include "dlock/lock.hpp"
#include "dlock/read_write_lock.hpp"
#include "dlock/redis.hpp"
#include "dlock/redis_cluster.hpp"
#include "fences.hpp"
#include "forked_tasks.hpp"
#include "names.hpp"
#include "observed.hpp"
#include "overlap.hpp"
#include "own_server_test.hpp"
#include "plain_server_test.hpp"
#include "protocol/keys.hpp"
#include "server_stats.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::LockOptions;
using dlock::Semaphore;
using namespace dlock::test;

LockOptions lease(dlock::Seconds timeout = 10s) {
    return LockOptions{.timeout = timeout, .blocking = false};
}

LockOptions woken_only(dlock::Seconds blocking_timeout = 20s) {
    return LockOptions{.timeout = 10s, .sleep = 5s, .blocking_timeout = blocking_timeout};
}

// On the harness's shared plain server; `other_` is another process's client.
class SemaphoreTest : public PlainServerTest {};
// The tests that count the commands of a server of their own.
class SemaphoreOnOwnServer : public OwnServerTest {};

TEST_F(SemaphoreTest, AdmitsExactlyNAndAFreedPermitIsTakenAgain) {
    run([&]() -> asio::awaitable<void> {
        std::vector<std::unique_ptr<Semaphore>> permits;
        for (int i = 0; i < 3; ++i) {
            permits.push_back(std::make_unique<Semaphore>(client_, name_, 3, lease()));
            EXPECT_TRUE(co_await permits.back()->acquire());
        }
        Semaphore fourth(client_, name_, 3, lease());
        EXPECT_FALSE(co_await fourth.acquire());
        EXPECT_EQ(co_await fourth.holders(), 3u);
        EXPECT_TRUE(co_await permits[1]->owned());
        EXPECT_FALSE(co_await fourth.owned());
        co_await permits[1]->release();
        EXPECT_FALSE(co_await permits[1]->owned());
        EXPECT_TRUE(co_await fourth.acquire());
        EXPECT_THROW(co_await permits[1]->release(), dlock::LockReleaseError);
        EXPECT_THROW(co_await fourth.acquire(), dlock::LockError);  // holds one already
        co_await fourth.release();
        for (auto& permit : permits) {
            if (permit->token()) co_await permit->release();
        }
        EXPECT_FALSE(co_await fourth.locked());
        // Nothing is left behind once every permit is back.
        const auto left =
            co_await client_.command("EXISTS", dlock::detail::semaphore_holders_key(name_), name_);
        EXPECT_EQ(left.integer, 0);
    });
}

TEST_F(SemaphoreTest, BadArgumentsNameTheParameter) {
    EXPECT_THROW(Semaphore(client_, "s", 0, lease()), std::invalid_argument);
    EXPECT_THROW(Semaphore(client_, "s", 2, LockOptions{}), std::invalid_argument);  // no lease
    EXPECT_THROW(Semaphore(client_, "", 2, lease()), std::invalid_argument);
    try {
        Semaphore(client_, "s", 0, lease());
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("permits"), std::string::npos);
    }
}

TEST_F(SemaphoreTest, AnotherPermitCountIsRefusedWhileHeldAndTakesOverWhenIdle) {
    run([&]() -> asio::awaitable<void> {
        Semaphore two(client_, name_, 2, lease());
        Semaphore five(client_, name_, 5, lease());
        EXPECT_TRUE(co_await two.acquire());
        const auto error = co_await thrown_by(five.acquire());
        const auto mismatch = as<dlock::SemaphoreMismatchError>(error);
        CO_ASSERT(mismatch.has_value());
        EXPECT_EQ(mismatch->stored_permits(), 2);
        EXPECT_EQ(mismatch->lock_name(), name_);
        EXPECT_NE(std::string(mismatch->what()).find("2 permits"), std::string::npos);
        EXPECT_EQ(co_await two.holders(), 1u);  // nothing was taken
        co_await two.release();
        EXPECT_TRUE(co_await five.acquire());  // idle: the new count takes over
        EXPECT_TRUE(is<dlock::SemaphoreMismatchError>(co_await thrown_by(two.acquire())));
        co_await five.release();
    });
}

// Key NAME says which kind holds a name, so a Lock, a read/write lock and a semaphore of one
// name exclude each other: a client that forgot the permit count, or any other client's SET NX
// lock (redis-py, coredis), does not get in beside the permits, nor they beside it.
TEST_F(SemaphoreTest, ExcludesALockAWriterReadersAndOtherClientsOfTheSameName) {
    run([&]() -> asio::awaitable<void> {
        Semaphore sem(client_, name_, 2, lease()), other(client_, name_, 2, lease());
        dlock::Lock plain(client_, name_, {.timeout = 10s, .blocking = false});
        dlock::ReadWriteLock rw(client_, name_, lease());
        EXPECT_TRUE(co_await sem.acquire());
        EXPECT_FALSE(co_await plain.acquire());
        EXPECT_FALSE(co_await rw.acquire());
        EXPECT_FALSE(co_await rw.acquire_shared());
        EXPECT_TRUE((co_await client_.command("SET", name_, "x", "NX", "PX", "10000")).is_nil());
        EXPECT_TRUE(co_await plain.locked());  // the name is in use
        co_await sem.release();
        EXPECT_EQ((co_await client_.command("EXISTS", name_)).integer, 0);  // gone with the last
        EXPECT_TRUE(co_await plain.acquire());
        EXPECT_FALSE(co_await other.acquire());  // a Lock's token
        co_await plain.release();
        EXPECT_TRUE(co_await rw.acquire_shared());
        EXPECT_FALSE(co_await other.acquire());  // the readers' marker
        co_await rw.release();
        EXPECT_TRUE(co_await rw.acquire());
        EXPECT_FALSE(co_await other.acquire());  // a writer's token
        co_await rw.release();
        EXPECT_TRUE(co_await other.acquire());
        co_await other.release();
    });
}

// A Lock waiting behind permits is woken when the last permit goes (its poll is 5 s away).
TEST_F(SemaphoreTest, TheLastPermitOutWakesALockWaitingForTheName) {
    run([&]() -> asio::awaitable<void> {
        Semaphore a(client_, name_, 2, lease()), b(client_, name_, 2, lease());
        EXPECT_TRUE(co_await a.acquire());
        EXPECT_TRUE(co_await b.acquire());
        dlock::Lock plain(other_, name_, {.timeout = 10s, .sleep = 5s, .blocking_timeout = 20s});
        auto executor = co_await asio::this_coro::executor;
        Notification got(executor);
        asio::co_spawn(
            executor,
            [&]() -> asio::awaitable<void> {
                if (co_await plain.acquire()) got.notify();
            },
            asio::detached);
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> {
                co_return (co_await client_.command("ZCARD", dlock::detail::wait_queue_key(name_)))
                        .integer == 1;
            },
            5s));
        co_await a.release();
        EXPECT_FALSE(co_await got.wait(300ms));  // one permit is still held
        co_await b.release();
        EXPECT_TRUE(co_await got.wait(3s));
        co_await plain.release();
    });
}

// Fences grow with every permit, across lock kinds of one name, and past a lost counter.
TEST_F(SemaphoreTest, FencesGrowWithEveryPermitAcrossKindsAndPastALostCounter) {
    run([&]() -> asio::awaitable<void> {
        LockOptions options = lease();
        options.fencing = true;
        Semaphore a(client_, name_, 2, options), b(client_, name_, 2, options);
        EXPECT_TRUE(co_await a.acquire());
        EXPECT_TRUE(co_await b.acquire());
        CO_ASSERT(a.fence() && b.fence());
        EXPECT_LT(*a.fence(), *b.fence());
        co_await a.release();
        EXPECT_FALSE(a.fence());
        EXPECT_TRUE(co_await a.acquire());
        EXPECT_GT(*a.fence(), *b.fence());
        const auto newest = *a.fence();
        co_await a.release();
        co_await b.release();
        // A Lock of the same name shares the counter, and a counter lost with the dataset (a
        // restart without persistence) restarts from the server's clock, above every fence
        // before, not from 1 (semantics §7.10).
        dlock::Lock lock(client_, name_, options);
        EXPECT_TRUE(co_await lock.acquire());
        CO_ASSERT(lock.fence().has_value());
        EXPECT_GT(*lock.fence(), newest);
        const auto lock_fence = *lock.fence();
        co_await lock.release();
        co_await expect_fence_above_after_a_lost_counter(client_, a, lock_fence);
    });
}

TEST_F(SemaphoreTest, ExtendChangesOnlyThisPermitsLease) {
    run([&]() -> asio::awaitable<void> {
        Semaphore a(client_, name_, 2, lease(300ms)), b(client_, name_, 2, lease(300ms));
        EXPECT_TRUE(co_await a.acquire());
        EXPECT_TRUE(co_await b.acquire());
        EXPECT_TRUE(co_await a.extend(20s));
        co_await pause_for(600ms);  // b's lease is over, a's is not
        EXPECT_TRUE(co_await a.owned());
        EXPECT_FALSE(co_await b.owned());
        EXPECT_EQ(co_await a.holders(), 1u);
        EXPECT_THROW(co_await b.extend(1s), dlock::LockExtensionError);
        EXPECT_THROW(co_await b.release(), dlock::LockReleaseError);
        co_await a.release();
    });
}

// Over several processes (fork) with several tasks each, the holders never exceed N.
TEST(Semaphore, NeverMoreThanNHoldersOverProcessesAndTasks) {
    const std::string name = unique_name();
    constexpr int permits = 3, processes = 4, tasks = 4, rounds = 25;
    SharedOverlap overlap;
    run_forked_tasks(processes, tasks, server("PLAIN_URL"),
                     [&](dlock::Redis& redis, int) -> asio::awaitable<void> {
                         for (int r = 0; r < rounds; ++r) {
                             Semaphore permit(redis, name, permits, {.timeout = 10s, .sleep = 1s});
                             if (!co_await permit.acquire()) continue;
                             overlap->enter();
                             co_await pause_for(1ms);
                             overlap->leave();
                             co_await permit.release();
                         }
                     });
    EXPECT_EQ(overlap->entries.load(), processes * tasks * rounds);
    EXPECT_LE(overlap->most.load(), permits);
    EXPECT_EQ(overlap->most.load(), permits);  // the load does fill every permit
}

// A holder that dies without releasing: its permit frees when its lease ends.
TEST(Semaphore, ACrashedHoldersPermitFreesWhenItsLeaseEnds) {
    const std::string name = unique_name();
    const pid_t pid = fork_child([&] {  // exits holding the permit: no release
        asio::io_context io;
        dlock::Redis redis(io.get_executor(), server("PLAIN_URL"));
        Semaphore permit(redis, name, 1, lease(500ms));
        return run(io, [&] { return permit.acquire(); }) ? 0 : 1;
    });
    ASSERT_EQ(wait_child(pid), 0);
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), server("PLAIN_URL"));
    run(io, [&]() -> asio::awaitable<void> {
        Semaphore next(redis, name, 1, {.timeout = 10s, .sleep = 50ms, .blocking_timeout = 10s});
        EXPECT_EQ(co_await next.holders(), 1u);
        const Stopwatch watch;
        EXPECT_TRUE(co_await next.acquire());
        EXPECT_LT(watch.seconds(), 5.0);
        co_await next.release();
    });
}

// A release wakes exactly one waiting process, which takes the permit; the others stay asleep
// (no herd), and nothing polls: the scripts run are the release and the woken attempt.
TEST_F(SemaphoreOnOwnServer, AFreedPermitWakesOneWaitingProcessAndNothingPolls) {
    dlock::Redis& admin = new_client();         // async, unlike admin_
    std::vector<dlock::Redis*> waiter_clients;  // one "process" each
    for (int i = 0; i < 3; ++i) waiter_clients.push_back(&new_client());
    const std::string queue =
        dlock::detail::wait_queue_key(dlock::detail::semaphore_wait_name(name_));
    run([&]() -> asio::awaitable<void> {
        Semaphore a(redis_, name_, 2, lease()), b(redis_, name_, 2, lease());
        EXPECT_TRUE(co_await a.acquire());
        EXPECT_TRUE(co_await b.acquire());
        auto executor = co_await asio::this_coro::executor;
        std::vector<std::unique_ptr<Semaphore>> waiters;
        int got = 0;
        Notification first(executor), second(executor);
        for (auto& client : waiter_clients) {
            waiters.push_back(std::make_unique<Semaphore>(*client, name_, 2, woken_only()));
            Semaphore& waiter = *waiters.back();
            asio::co_spawn(
                executor,
                [&]() -> asio::awaitable<void> {
                    if (co_await waiter.acquire()) {
                        ++got;
                        (got == 1 ? first : second).notify();
                    }
                },
                asio::detached);
            // Queued in arrival order.
            const auto before = waiters.size();
            EXPECT_TRUE(co_await eventually(
                [&]() -> asio::awaitable<bool> {
                    co_return (co_await admin.command("ZCARD", queue)).integer ==
                        static_cast<long long>(before);
                },
                5s));
        }
        {  // the release script in the server's cache, so no NOSCRIPT round is counted
            Semaphore warm(redis_, unique_name(":warm"), 1, lease());
            EXPECT_TRUE(co_await warm.acquire());
            co_await warm.release();
        }
        const long long scripts_before = co_await script_calls(admin);
        co_await a.release();
        EXPECT_TRUE(co_await first.wait(3s));
        co_await pause_for(300ms);  // a herd would show now
        EXPECT_EQ(got, 1);
        EXPECT_TRUE(waiters[0]->token().has_value());  // the first to queue
        // release + the woken attempt (the woken process leaves the queue in it).
        EXPECT_EQ(co_await script_calls(admin) - scripts_before, 2);
        EXPECT_EQ((co_await admin.command("ZCARD", queue)).integer, 2);
        co_await b.release();
        EXPECT_TRUE(co_await second.wait(3s));
        EXPECT_TRUE(waiters[1]->token().has_value());
        EXPECT_EQ(co_await script_calls(admin) - scripts_before, 4);
        co_await waiters[0]->release();
        co_await waiters[1]->release();
        // The third now gets in (woken by the first release above).
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> { co_return waiters[2]->token().has_value(); }, 3s));
        co_await waiters[2]->release();
    });
}

TEST_F(SemaphoreTest, AutoRenewalKeepsThePermitAndReportsItsLoss) {
    run([&]() -> asio::awaitable<void> {
        int lost_calls = 0;
        Semaphore permit(client_, name_, 1,
                         {.timeout = 300ms, .blocking = false, .auto_renew = true, .on_lost = [&] {
                              ++lost_calls;
                          }});
        EXPECT_TRUE(co_await permit.acquire());
        co_await pause_for(900ms);  // three leases long
        EXPECT_TRUE(co_await permit.owned());
        co_await client_.command("DEL", dlock::detail::semaphore_holders_key(name_));
        EXPECT_TRUE(co_await permit.wait_lost());
        EXPECT_TRUE(permit.lost());
        EXPECT_EQ(lost_calls, 1);
        EXPECT_THROW(co_await permit.release(), dlock::LockReleaseError);
    });
}

TEST(Semaphore, OnAClusterAllKeysShareASlotAndWaitConfirms) {
    asio::io_context io;
    dlock::RedisCluster cluster(io.get_executor(), split(server("CLUSTER3X1_SEEDS"), ','));
    run(io, [&]() -> asio::awaitable<void> {
        co_await cluster.refresh();  // the slot map, with each shard's replicas
        for (int i = 0; i < 20; ++i) {
            const std::string name = unique_name(":" + std::to_string(i));
            LockOptions options = lease();
            options.fencing = true;
            options.replication_timeout = 2s;  // a loaded machine must not fail the WAIT
            Semaphore a(cluster, name, 2, options), b(cluster, name, 2, options),
                c(cluster, name, 2, options);
            EXPECT_EQ(a.replication_factor(), 1u);
            EXPECT_TRUE(co_await a.acquire());
            EXPECT_TRUE(co_await b.acquire());
            EXPECT_FALSE(co_await c.acquire());
            EXPECT_EQ(a.replication_shortfalls(), 0u);
            co_await a.release();
            EXPECT_TRUE(co_await c.acquire());
            co_await b.release();
            co_await c.release();
        }
    });
}

TEST(Semaphore, OnAClusterAFreedPermitWakesAWaiter) {
    asio::io_context io;
    dlock::RedisCluster holder_client(io.get_executor(), split(server("CLUSTER3X1_SEEDS"), ','));
    dlock::RedisCluster waiter_client(io.get_executor(), split(server("CLUSTER3X1_SEEDS"), ','));
    const std::string name = unique_name();
    run(io, [&]() -> asio::awaitable<void> {
        Semaphore a(holder_client, name, 1, lease());
        EXPECT_TRUE(co_await a.acquire());
        Semaphore waiter(waiter_client, name, 1, woken_only());
        Notification got(co_await asio::this_coro::executor);
        asio::co_spawn(
            co_await asio::this_coro::executor,
            [&]() -> asio::awaitable<void> {
                if (co_await waiter.acquire()) got.notify();
            },
            asio::detached);
        co_await pause_for(300ms);  // queued (subscribed first)
        co_await a.release();
        EXPECT_TRUE(co_await got.wait(3s));
        if (waiter.token()) co_await waiter.release();
    });
}

// ---- observer events (dlock/observer.hpp): the same as a Lock's ------------------------------

// The observer tests (dlock/observer.hpp) of observer_test.cpp, for a Semaphore.
class SemaphoreObserver : public ObservedTest {};

TEST_F(SemaphoreObserver, ReportsTheLocksEventsToItsObserver) {
    run(io, [&]() -> asio::awaitable<void> {
        Semaphore a(redis, name, 1, {.timeout = 10s, .observer = recorder});
        Semaphore b(redis, name, 1, {.timeout = 10s, .observer = recorder});
        EXPECT_TRUE(co_await a.acquire());
        EXPECT_FALSE(co_await b.acquire({.blocking = false}));
        EXPECT_FALSE(co_await b.acquire({.blocking_timeout = dlock::Seconds(0.2)}));
        EXPECT_TRUE(co_await a.extend(5s));
        co_await pause_for(20ms);
        co_await a.release();
        EXPECT_TRUE(co_await b.acquire());
        co_await redis.command("DEL", dlock::detail::semaphore_holders_key(name));
        EXPECT_THROW(co_await b.release(), dlock::LockReleaseError);
    });
    EXPECT_TRUE(recorder->all_of(name));
    EXPECT_EQ(recorder->kinds(),
              (std::vector<std::string>{"acquired", "not_acquired", "not_acquired", "extended",
                                        "released", "acquired", "lost"}));
    const auto failed = recorder->of("not_acquired");
    ASSERT_EQ(failed.size(), 2u);
    expect_held_then_timed_out(failed);
    EXPECT_EQ(recorder->of("acquired").front().attempts, 1u);
    EXPECT_FALSE(recorder->of("extended").front().flag) << "an explicit extend()";
    EXPECT_GE(recorder->of("released").front().time, 20ms);
    EXPECT_EQ(recorder->of("lost").front().reason, "release_found_gone");
}

TEST_F(SemaphoreObserver, AWokenWaiterAndARenewalLossAreReported) {
    dlock::Redis other(io.get_executor(), server("PLAIN_URL"));
    redis.set_observer(recorder);  // the client's observer, as for a Lock
    run(io, [&]() -> asio::awaitable<void> {
        Semaphore holder(other, name, 1, lease());
        EXPECT_TRUE(co_await holder.acquire());
        Semaphore waiter(redis, name, 1,
                         {.timeout = 2s,
                          .sleep = 2s,
                          .auto_renew = true,
                          .renew_interval = dlock::Seconds(0.05)});
        Notification done(io.get_executor());
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                EXPECT_TRUE(co_await waiter.acquire());
                done.notify();
            },
            asio::detached);
        co_await pause_for(200ms);
        co_await holder.release();
        CO_ASSERT(co_await done.wait(10s));
        CO_ASSERT(co_await eventually(
            [&]() -> asio::awaitable<bool> { co_return !recorder->of("extended").empty(); }, 5s));
        co_await redis.command("DEL", dlock::detail::semaphore_holders_key(name));
        EXPECT_TRUE(co_await waiter.wait_lost());
    });
    const auto acquired = recorder->of("acquired");
    ASSERT_EQ(acquired.size(), 1u);
    EXPECT_TRUE(acquired[0].flag) << "woken by the release, not by the poll";
    EXPECT_GE(acquired[0].attempts, 2u);
    EXPECT_GE(acquired[0].time, 200ms);
    EXPECT_TRUE(recorder->of("extended").front().flag) << "a renewal";
    const auto lost = recorder->of("lost");
    ASSERT_EQ(lost.size(), 1u);
    EXPECT_EQ(lost[0].reason, "renewal_found_gone");
    EXPECT_TRUE(recorder->of("released").empty()) << "the holder's client has no observer";
}

TEST_F(SemaphoreObserver, AThrowingObserverBreaksNoOperationAndIsCounted) {
    auto thrower = std::make_shared<Thrower>();
    run(io, [&]() -> asio::awaitable<void> {
        Semaphore a(redis, name, 1, {.timeout = 10s, .observer = thrower});
        Semaphore b(redis, name, 1, {.timeout = 10s, .observer = thrower});
        EXPECT_TRUE(co_await a.acquire());                      // 1
        EXPECT_FALSE(co_await b.acquire({.blocking = false}));  // 2 (throws an int)
        EXPECT_TRUE(co_await a.extend(1s));                     // 3
        co_await a.release();                                   // 4
        EXPECT_EQ(co_await b.holders(), 0u);
        EXPECT_TRUE(co_await b.acquire());  // 5
        co_await b.release();               // 6
    });
    EXPECT_EQ(thrower->exceptions_caught(), 6u);
}

}  // namespace
