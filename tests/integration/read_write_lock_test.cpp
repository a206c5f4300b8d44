// dlock::ReadWriteLock on real servers: readers together, a writer alone (over forked
// processes), a waiting writer keeps new readers out and gets in when the readers inside leave,
// a writer's release lets the waiting readers in ahead of the next writer, wake-ups by role (no
// polling: waiters sleep 60 s between attempts, longer than any wait here, each of which is
// only a 30 s guard against a hang; the stream of readers also counts scripts), leases that
// end for a crashed holder, a Cluster.
#include "dlock/read_write_lock.hpp"

#include <asio.hpp>
#include <memory>
#include <vector>

#include "async.hpp"
#include "dlock/lock.hpp"
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
using dlock::ReadWriteLock;
using namespace dlock::test;

LockOptions once() {
    return LockOptions{.timeout = 10s, .blocking = false};
}
// A waiter that gets in within a test's 30 s guard was woken: its first poll is 60 s away.
LockOptions woken_only() {
    return LockOptions{.timeout = 60s, .sleep = 60s, .blocking_timeout = 60s};
}

// Starts `rw.acquire()` or `acquire_shared()` in the background; `done` is notified on success.
void start(asio::any_io_executor executor, ReadWriteLock& rw, bool shared, Notification& done) {
    asio::co_spawn(
        executor,
        [&rw, shared, &done]() -> asio::awaitable<void> {
            if (shared ? co_await rw.acquire_shared() : co_await rw.acquire()) done.notify();
        },
        asio::detached);
}

// On the harness's shared plain server; `other_` is another process's client.
class ReadWriteLockTest : public PlainServerTest {};
// The tests that count the commands of a server of their own.
class ReadWriteLockOnOwnServer : public OwnServerTest {};

// Readers together, a writer alone; while readers hold, key NAME holds their marker, so a
// Lock and any other client's SET NX lock of the name stay out too.
TEST_F(ReadWriteLockTest, ReadersTogetherAWriterAloneAndALockOutOfBoth) {
    run([&]() -> asio::awaitable<void> {
        ReadWriteLock r1(client_, name_, once()), r2(client_, name_, once()),
            w(client_, name_, once());
        dlock::Lock plain(client_, name_, {.timeout = 10s, .blocking = false});
        EXPECT_TRUE(co_await r1.acquire_shared());
        EXPECT_TRUE(co_await r2.acquire_shared());
        EXPECT_EQ(r1.mode(), ReadWriteLock::Mode::shared);
        // Key NAME holds the readers' marker: a Lock and other clients' SET NX stay out.
        EXPECT_FALSE(co_await plain.acquire());
        EXPECT_TRUE((co_await client_.command("SET", name_, "x", "NX", "PX", "10000")).is_nil());
        EXPECT_FALSE(co_await w.locked());  // readers, no writer
        EXPECT_FALSE(co_await w.acquire());
        EXPECT_TRUE(co_await r1.owned());
        co_await r1.release();
        EXPECT_FALSE(co_await w.acquire());
        EXPECT_FALSE(co_await plain.acquire());  // one reader is left
        EXPECT_TRUE(co_await r2.extend(20s));
        EXPECT_GT((co_await client_.command("PTTL", name_)).integer, 15000);  // the marker follows
        co_await r2.release();
        EXPECT_EQ((co_await client_.command("EXISTS", name_)).integer, 0);  // gone with the last
        EXPECT_TRUE(co_await w.acquire());
        EXPECT_EQ(w.mode(), ReadWriteLock::Mode::exclusive);
        EXPECT_TRUE(co_await w.locked());
        EXPECT_FALSE(co_await r1.acquire_shared());
        EXPECT_FALSE(co_await plain.acquire());  // a writer is a Lock's key
        EXPECT_THROW(co_await w.acquire_shared(), dlock::LockError);
        co_await w.release();
        EXPECT_THROW(co_await w.release(), dlock::LockReleaseError);
        EXPECT_TRUE(co_await plain.acquire());
        EXPECT_FALSE(co_await r1.acquire_shared());
        co_await plain.release();
        EXPECT_TRUE(co_await r1.acquire_shared());
        co_await r1.release();
    });
}

// Writers get fences, readers none; a lost counter does not make them go backwards.
TEST_F(ReadWriteLockTest, FencesForWritersOnlyAndTheyKeepGrowingWhenTheCounterIsLost) {
    run([&]() -> asio::awaitable<void> {
        LockOptions options = once();
        options.fencing = true;
        ReadWriteLock rw(client_, name_, options);
        EXPECT_TRUE(co_await rw.acquire());
        const auto first = rw.fence();
        CO_ASSERT(first.has_value());
        co_await rw.release();
        EXPECT_TRUE(co_await rw.acquire_shared());
        EXPECT_FALSE(rw.fence());
        co_await rw.release();
        EXPECT_TRUE(co_await rw.acquire());
        CO_ASSERT(rw.fence().has_value());
        const auto second = *rw.fence();
        EXPECT_GT(second, *first);
        co_await rw.release();
        // The counter lost (a restart without persistence): the next writer's fence restarts
        // from the server's clock, above the old ones, not from 1 (semantics §7.10).
        co_await expect_fence_above_after_a_lost_counter(client_, rw, second);
    });
}

// A writer waiting behind readers keeps new readers out and is woken (not polled) when the last
// reader inside leaves.
TEST_F(ReadWriteLockTest, AWaitingWriterStopsNewReadersAndIsWokenByTheLastReader) {
    run([&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        ReadWriteLock r1(client_, name_, once()), r2(client_, name_, once());
        ReadWriteLock late(client_, name_, once());
        ReadWriteLock w(other_, name_, woken_only());
        EXPECT_TRUE(co_await r1.acquire_shared());
        EXPECT_TRUE(co_await r2.acquire_shared());
        Notification writer_in(executor);
        start(executor, w, false, writer_in);
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> {
                co_return (
                    co_await client_.command("ZCARD", dlock::detail::writers_waiting_key(name_)))
                        .integer == 1;
            },
            3s));
        EXPECT_FALSE(co_await late.acquire_shared());
        co_await r1.release();
        EXPECT_FALSE(writer_in.notified());
        co_await r2.release();
        EXPECT_TRUE(co_await writer_in.wait(30s));
        co_await w.release();
        EXPECT_TRUE(co_await late.acquire_shared());  // the claim went with the writer
        co_await late.release();
    });
}

// A writer's release lets the readers waiting then in ahead of the next waiting writer: a
// stream of writers does not starve readers.
TEST_F(ReadWriteLockTest, AWritersReleaseLetsWaitingReadersInBeforeTheNextWriter) {
    run([&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        ReadWriteLock w1(client_, name_, once());
        ReadWriteLock reader(other_, name_, woken_only()), reader2(other_, name_, woken_only());
        ReadWriteLock w2(new_client(), name_, woken_only());
        EXPECT_TRUE(co_await w1.acquire());
        Notification reader_in(executor), reader2_in(executor), w2_in(executor);
        start(executor, reader, true, reader_in);
        start(executor, reader2, true, reader2_in);
        co_await pause_for(200ms);  // both queued
        start(executor, w2, false, w2_in);
        co_await pause_for(200ms);
        co_await w1.release();
        EXPECT_TRUE(co_await reader_in.wait(30s));
        EXPECT_TRUE(co_await reader2_in.wait(30s));
        EXPECT_FALSE(w2_in.notified());
        co_await reader.release();
        co_await reader2.release();
        EXPECT_TRUE(co_await w2_in.wait(30s));
        co_await w2.release();
    });
}

// Readers keep coming (each task re-acquires as soon as it released); a writer that starts
// waiting gets in after at most one more read per reader task that was inside. Nobody polls
// (woken_only), so each entry after a refusal is a wake-up; and the scripts the server runs
// meanwhile are only the reads' own (2 each), the releases of the reads inside when the writer
// came, at most two refused attempts per reader task (before and after joining the queue) and
// the writer's three (the same two, then the one it was woken for). MONITOR shows 11 for 4 reader
// tasks and no read meanwhile: 4 releases, 4 refusals, 3 writer attempts.
TEST_F(ReadWriteLockOnOwnServer,
       AWriterBehindAStreamOfReadersGetsInWithinBoundedHandOffsWithoutPolling) {
    dlock::Redis& admin = new_client();  // async, unlike admin_
    dlock::Redis& writer_client = new_client();
    constexpr int reader_tasks = 4;
    const LockOptions no_poll = woken_only();
    run([&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        {  // the writer's scripts in the server's cache, so no NOSCRIPT round is counted
            ReadWriteLock warm(writer_client, unique_name(":warm"), once());
            EXPECT_TRUE(co_await warm.acquire());
            co_await warm.release();
        }
        bool stop = false;
        long reads = 0;
        Notification stopped(executor, reader_tasks);
        for (int i = 0; i < reader_tasks; ++i) {
            asio::co_spawn(
                executor,
                [&]() -> asio::awaitable<void> {
                    ReadWriteLock r(redis_, name_, no_poll);
                    while (!stop) {
                        if (!co_await r.acquire_shared()) break;
                        ++reads;
                        co_await pause_for(2ms);
                        co_await r.release();
                    }
                    stopped.notify();
                },
                asio::detached);
        }
        co_await pause_for(200ms);
        // Reads first: a read counted here whose scripts ran before the count below only
        // lowers the count of scripts.
        const long reads_before = reads;
        const long long scripts_before = co_await script_calls(admin);
        ReadWriteLock w(writer_client, name_, no_poll);
        Notification writer_in(executor);
        start(executor, w, false, writer_in);
        CO_ASSERT(co_await writer_in.wait(30s));
        const long reads_while_waiting = reads - reads_before;
        const long long scripts = co_await script_calls(admin) - scripts_before;
        // Each reader inside finishes its read; at most one more started before the claim.
        EXPECT_LE(reads_while_waiting, 2 * reader_tasks);
        EXPECT_LE(scripts, 2 * reads_while_waiting + 3 * reader_tasks + 3)
            << reads_while_waiting << " reads";
        stop = true;
        co_await w.release();
        EXPECT_TRUE(co_await stopped.wait(30s));
    });
}

// Over forked processes of readers and writers: a writer is never inside with anyone, readers
// overlap.
TEST(ReadWriteLock, WritersAloneReadersTogetherOverProcesses) {
    const std::string name = unique_name();
    constexpr int processes = 4, tasks = 3, rounds = 15;
    SharedOverlap overlap;
    // Task 0 of each process writes, the others read.
    run_forked_tasks(processes, tasks, server("PLAIN_URL"),
                     [&](dlock::Redis& redis, int task) -> asio::awaitable<void> {
                         const bool writer = task == 0;
                         for (int r = 0; r < rounds; ++r) {
                             ReadWriteLock rw(redis, name, {.timeout = 10s, .sleep = 1s});
                             if (!(writer ? co_await rw.acquire() : co_await rw.acquire_shared()))
                                 continue;
                             if (writer) {
                                 if (overlap->current.load() != 0) ++overlap->conflicts;
                                 ++overlap->writers;
                             } else if (overlap->writers.load() != 0) {
                                 ++overlap->conflicts;
                             }
                             overlap->enter();
                             co_await pause_for(1ms);
                             overlap->leave();
                             if (writer) --overlap->writers;
                             co_await rw.release();
                         }
                     });
    EXPECT_EQ(overlap->entries.load(), processes * tasks * rounds);
    EXPECT_EQ(overlap->conflicts.load(), 0);
    EXPECT_GE(overlap->most.load(), 2);  // readers did overlap
}

TEST_F(ReadWriteLockTest, ACrashedReadersLeaseEndsAndLetsTheWriterIn) {
    run([&]() -> asio::awaitable<void> {
        {
            ReadWriteLock crashed(client_, name_, {.timeout = 300ms, .blocking = false});
            EXPECT_TRUE(co_await crashed.acquire_shared());
        }  // gone without a release
        ReadWriteLock w(client_, name_, {.timeout = 10s, .sleep = 50ms, .blocking_timeout = 5s});
        EXPECT_TRUE(co_await w.acquire());
        co_await w.release();
    });
}

// The observer hears both roles' events, as a Lock's: a woken writer, the hold times.
TEST_F(ReadWriteLockTest, ReportsEachRolesEventsToItsObserver) {
    auto recorder = std::make_shared<Recorder>();
    auto thrower = std::make_shared<Thrower>();
    run([&]() -> asio::awaitable<void> {
        LockOptions options = woken_only();
        options.observer = recorder;
        ReadWriteLock reader(client_, name_, options), writer(client_, name_, options);
        EXPECT_TRUE(co_await reader.acquire_shared());
        EXPECT_FALSE(co_await writer.acquire({.blocking = false}));
        Notification done(io_.get_executor());
        start(io_.get_executor(), writer, false, done);
        co_await pause_for(200ms);
        co_await reader.release();
        CO_ASSERT(co_await done.wait(3s));
        EXPECT_TRUE(co_await writer.extend(1s));
        co_await writer.release();
        // A throwing observer breaks nothing.
        options.observer = thrower;
        ReadWriteLock throwing(client_, name_, options);
        EXPECT_TRUE(co_await throwing.acquire_shared());
        co_await throwing.release();
    });
    EXPECT_TRUE(recorder->all_of(name_));
    EXPECT_EQ(recorder->kinds(), (std::vector<std::string>{"acquired", "not_acquired", "released",
                                                           "acquired", "extended", "released"}));
    const auto acquired = recorder->of("acquired");
    ASSERT_EQ(acquired.size(), 2u);
    EXPECT_FALSE(acquired[0].flag);
    EXPECT_TRUE(acquired[1].flag) << "the writer was woken by the last reader's release";
    EXPECT_GE(acquired[1].time, 200ms);
    EXPECT_GE(recorder->of("released").front().time, 200ms);
    EXPECT_EQ(recorder->of("not_acquired").front().reason, "held");
    EXPECT_EQ(thrower->exceptions_caught(), 2u);
}

TEST(ReadWriteLock, OnACluster) {
    asio::io_context io;
    dlock::RedisCluster cluster(io.get_executor(), split(server("CLUSTER3X1_SEEDS"), ','));
    dlock::RedisCluster other(io.get_executor(), split(server("CLUSTER3X1_SEEDS"), ','));
    run(io, [&]() -> asio::awaitable<void> {
        co_await cluster.refresh();
        for (int i = 0; i < 10; ++i) {
            const std::string name = unique_name(":" + std::to_string(i));
            LockOptions reader_options = once(), writer_options = woken_only();
            reader_options.replication_timeout = writer_options.replication_timeout = 2s;
            ReadWriteLock r(cluster, name, reader_options), w(other, name, writer_options);
            EXPECT_EQ(r.replication_factor(), 1u);
            EXPECT_TRUE(co_await r.acquire_shared());
            Notification in(co_await asio::this_coro::executor);
            start(co_await asio::this_coro::executor, w, false, in);
            co_await pause_for(100ms);
            co_await r.release();
            EXPECT_TRUE(co_await in.wait(30s));
            if (w.token()) co_await w.release();
        }
    });
}

}  // namespace
