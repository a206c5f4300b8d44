// Adversarial tests of the kind markers (docs/semantics.md §8, "One name, one kind") and of the
// direct hand-off (§7.13), against the harness's real servers: names the hand-off message must
// carry, TTLs below the claim window, fences across both hand-off paths, waiters that give up
// at the moment of the release, kinds racing on one name, and breaks while waiters queue.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio.hpp>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "async.hpp"
#include "background_acquire.hpp"
#include "child_process.hpp"
#include "dlock/inspect.hpp"
#include "dlock/lock.hpp"
#include "dlock/read_write_lock.hpp"
#include "dlock/redis.hpp"
#include "dlock/semaphore.hpp"
#include "forked_tasks.hpp"
#include "lock/scripts.hpp"
#include "names.hpp"
#include "own_servers.hpp"
#include "protocol/keys.hpp"
#include "servers.hpp"
#include "until_gone.hpp"

namespace {

using namespace std::chrono_literals;
using namespace dlock::test;

std::string plain_url() {
    return dlock::test::server("PLAIN_URL");
}

asio::awaitable<long long> queued_processes(dlock::Redis& admin, const std::string& name) {
    co_return (co_await admin.command("ZCARD", dlock::detail::wait_queue_key(name))).integer;
}

asio::awaitable<bool> until_queued(dlock::Redis& admin, const std::string& name,
                                   long long count = 1) {
    co_return co_await eventually(
        [&]() -> asio::awaitable<bool> {
            co_return co_await queued_processes(admin, name) >= count;
        },
        5s);
}

// The release of `token` and a PTTL of the key, atomically: what the release left behind.
struct Released {
    std::string value;  // "" when the key is gone
    long long pttl = -2;
};
asio::awaitable<Released> release_and_look(dlock::Redis& admin, const std::string& name,
                                           const std::string& token) {
    dlock::Request race({"MULTI"});
    dlock::detail::release_call(name, token, "publish").push_to(race, true);
    race.push({"GET", name});
    race.push({"PTTL", name});
    race.push({"EXEC"});
    const auto replies = co_await admin.pipeline(race);
    const dlock::Reply& results = replies.back();
    EXPECT_EQ(results.elements.at(0).integer, 1) << "the holder's release";
    co_return Released{results.elements.at(1).is_nil() ? "" : results.elements.at(1).str,
                       results.elements.at(2).integer};
}

// sleep 30 s: within the tests' bounds only a wake-up (or a hand-off) can end a wait.
dlock::LockOptions woken_only(dlock::Seconds blocking_timeout = 20s) {
    dlock::LockOptions options;
    options.sleep = 30s;
    options.blocking_timeout = blocking_timeout;
    options.timeout = 30s;
    return options;
}

class AdversaryHandOff : public ::testing::Test {
  protected:
    asio::io_context io;
    dlock::Redis holder_client{io.get_executor(), plain_url()};
    dlock::Redis waiter_client{io.get_executor(), plain_url()};
    dlock::Redis admin{io.get_executor(), plain_url()};
};

// The hand-off message is ':'-separated with NAME last: a name full of ':' (even one that holds
// a whole hand-off message), NUL and non-UTF-8 bytes must still reach its waiter directly.
TEST_F(AdversaryHandOff, ANameWithColonsBinaryBytesAndAMessageInsideIsHandedOnDirectly) {
    using namespace std::string_literals;
    const std::string name = unique_name(":a:1:2:3:\0\xff\n:dlock:handed:00ff:1:50:0:other"s);
    run(io, [&]() -> asio::awaitable<void> {
        dlock::LockOptions fenced = woken_only();
        fenced.fencing = true;
        dlock::Lock holder(holder_client, name, fenced);
        EXPECT_TRUE(co_await holder.acquire({.blocking = false}));
        const std::int64_t holder_fence = holder.fence().value_or(-1);
        dlock::Lock waiter(waiter_client, name, fenced);
        const auto background = acquire_in_background(io.get_executor(), waiter);
        EXPECT_TRUE(co_await until_queued(admin, name));
        const Released left = co_await release_and_look(admin, name, *holder.token());
        EXPECT_FALSE(left.value.starts_with("dlock:claim:")) << "not a direct hand-off";
        EXPECT_TRUE(co_await background->done.wait(10s)) << "the waiter was never told";
        EXPECT_TRUE(background->got);
        EXPECT_EQ(waiter.token().value_or("?"), left.value);
        EXPECT_EQ(waiter.fence().value_or(-1), holder_fence + 1);
        EXPECT_TRUE(co_await waiter.owned());
        co_await waiter.release();
        EXPECT_EQ((co_await admin.command("EXISTS", name)).integer, 0);
    });
}

// A lock whose name is itself shaped like a hand-off message, waited on by the claim path (a
// holder record): its plain wake-up (the payload is the name) must wake its waiter, not be read
// as a hand-off for the name at the message's end and passed on to that lock's queue.
TEST_F(AdversaryHandOff, ANameShapedLikeAHandOffMessageIsWokenByItsPlainWakeUp) {
    const std::string name = "dlock:handed:00ff:1:50:0:" + unique_name();
    run(io, [&]() -> asio::awaitable<void> {
        dlock::LockOptions recorded = woken_only();
        recorded.record_holder = true;  // the claim path: the wake-up's payload is the name
        dlock::Lock holder(holder_client, name, recorded);
        EXPECT_TRUE(co_await holder.acquire({.blocking = false}));
        dlock::Lock waiter(waiter_client, name, recorded);
        const auto background = acquire_in_background(io.get_executor(), waiter);
        EXPECT_TRUE(co_await until_queued(admin, name));
        co_await holder.release();
        EXPECT_TRUE(co_await background->done.wait(10s)) << "the wake-up was taken for a hand-off";
        EXPECT_TRUE(background->got);
        if (background->got) co_await waiter.release();
    });
}

// PX = min(TTL, claim window): a waiter whose TTL is below the window must not hold the key
// longer than its own TTL, and must still get the lock.
TEST_F(AdversaryHandOff, ATtlShorterThanTheClaimWindowIsNotLengthenedByTheHandOff) {
    const std::string name = unique_name();
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Lock holder(holder_client, name, woken_only());
        EXPECT_TRUE(co_await holder.acquire({.blocking = false}));
        dlock::LockOptions short_lease = woken_only();
        const auto ttl = std::chrono::milliseconds(dlock::detail::handoff_claim_window / 2);
        short_lease.timeout = std::chrono::duration<double>(ttl);
        short_lease.sleep = std::chrono::duration<double>(ttl);  // may not exceed the timeout
        dlock::Lock waiter(waiter_client, name, short_lease);
        const auto background = acquire_in_background(io.get_executor(), waiter);
        EXPECT_TRUE(co_await until_queued(admin, name));
        const Released left = co_await release_and_look(admin, name, *holder.token());
        EXPECT_GT(left.pttl, 0);
        EXPECT_LE(left.pttl, ttl.count()) << "the hand-off gave the key more than the waiter's TTL";
        EXPECT_TRUE(co_await background->done.wait(10s));
        EXPECT_TRUE(background->got);
        // Nobody renews it: it ends by itself.
        EXPECT_TRUE(co_await until_gone(admin, name));
    });
}

// The largest TTL the options accept (10^9 s) and the smallest (1 ms) travel in the
// registration and the extension: the first ends with the key's full TTL, the second still
// gets the lock (on the message, or by its next attempt) and leaves no key behind.
TEST_F(AdversaryHandOff, TheLargestAndTheSmallestTtlAreHandedOn) {
    for (const dlock::Seconds ttl : {dlock::Seconds(1e9), dlock::Seconds(0.001)}) {
        const std::string name = unique_name();
        run(io, [&]() -> asio::awaitable<void> {
            dlock::Lock holder(holder_client, name, woken_only());
            EXPECT_TRUE(co_await holder.acquire({.blocking = false}));
            dlock::LockOptions options = woken_only();
            options.timeout = ttl;
            options.sleep = std::min(ttl, options.sleep);
            dlock::Lock waiter(waiter_client, name, options);
            const auto background = acquire_in_background(io.get_executor(), waiter);
            EXPECT_TRUE(co_await until_queued(admin, name));
            co_await holder.release();
            EXPECT_TRUE(co_await background->done.wait(10s));
            EXPECT_TRUE(background->got) << "TTL " << ttl.count() << " s";
            if (ttl.count() > 1) {
                EXPECT_TRUE(co_await eventually(
                    [&]() -> asio::awaitable<bool> {
                        co_return (co_await admin.command("PTTL", name)).integer >
                            1000000000000 - 60000;
                    },
                    5s))
                    << "the huge TTL was not set by the extension";
                co_await waiter.release();
            }
            EXPECT_TRUE(co_await until_gone(admin, name));
        });
    }
}

// Three ways a queued waiter gets the lock: directly (the first waiter of a process), by the
// claim marker (a process's second local waiter; a waiter recording its holder). Fences must
// grow along the chain whichever way each one took, and no two may hold at once.
TEST_F(AdversaryHandOff, FencesGrowAndOneHoldsAtATimeAcrossDirectAndClaimHandOffs) {
    const std::string name = unique_name();
    dlock::Redis other_client(io.get_executor(), plain_url());
    run(io, [&]() -> asio::awaitable<void> {
        dlock::LockOptions fenced = woken_only();
        fenced.fencing = true;
        dlock::LockOptions recorded = fenced;
        recorded.record_holder = true;
        dlock::Lock holder(holder_client, name, fenced);
        EXPECT_TRUE(co_await holder.acquire({.blocking = false}));
        std::vector<std::int64_t> fences{holder.fence().value_or(-1)};
        int holding = 0, overlaps = 0, done = 0;
        const int rounds = 3;
        const auto waiter = [&](dlock::Redis& client, dlock::LockOptions options) {
            asio::co_spawn(
                io,
                [&, options]() -> asio::awaitable<void> {
                    dlock::Lock lock(client, name, options);
                    for (int i = 0; i < rounds; ++i) {
                        if (!co_await lock.acquire()) break;
                        if (++holding > 1) ++overlaps;
                        fences.push_back(lock.fence().value_or(-1));
                        co_await let_others_run();
                        --holding;
                        co_await lock.release();
                    }
                    ++done;
                },
                asio::detached);
        };
        waiter(waiter_client, fenced);    // direct (its process's oldest)
        waiter(waiter_client, fenced);    // claim (second local waiter)
        waiter(other_client, fenced);     // direct
        waiter(other_client, recorded);   // claim (holder record)
        waiter(holder_client, recorded);  // claim
        EXPECT_TRUE(co_await until_queued(admin, name, 3));
        co_await holder.release();
        EXPECT_TRUE(
            co_await eventually([&]() -> asio::awaitable<bool> { co_return done == 5; }, 20s))
            << done << " of 5 waiters finished (a lost wake-up waits for the 30 s poll)";
        EXPECT_EQ(overlaps, 0);
        EXPECT_EQ(fences.size(), 1u + 5u * rounds);
        for (std::size_t i = 1; i < fences.size(); ++i)
            EXPECT_LT(fences[i - 1], fences[i]) << "fence " << i << " went backwards";
    });
}

// The oldest local waiter gives up at the moment the release hands it the lock (the release
// lands within 1.5 ms either side of its deadline; in some rounds the message then arrives after
// it stopped listening): the lock it may have been handed goes on, to its process's second
// waiter or to the next process, by a wake-up (both wait with a 30 s poll), and nothing is left
// behind.
TEST_F(AdversaryHandOff, AWaiterGivingUpAroundTheReleaseLosesNoWakeUpAndLeavesNoKey) {
    dlock::Redis other_client(io.get_executor(), plain_url());
    std::mt19937 random{std::random_device{}()};
    bool failed = false;
    for (int round = 0; round < 100 && !failed; ++round) {
        const std::string name = unique_name(":" + std::to_string(round));
        run(io, [&]() -> asio::awaitable<void> {
            dlock::Lock holder(holder_client, name, woken_only());
            EXPECT_TRUE(co_await holder.acquire({.blocking = false}));
            const auto giving_up = 40ms;
            int acquired = 0, holding = 0, overlaps = 0, finished_count = 0;
            const auto waiter = [&](dlock::Redis& client, dlock::Seconds blocking_timeout) {
                asio::co_spawn(
                    io,
                    [&, blocking_timeout]() -> asio::awaitable<void> {
                        dlock::Lock lock(client, name, woken_only(blocking_timeout));
                        if (co_await lock.acquire()) {
                            ++acquired;
                            if (++holding > 1) ++overlaps;
                            co_await let_others_run();
                            --holding;
                            co_await lock.release();
                        }
                        ++finished_count;
                    },
                    asio::detached);
            };
            const auto first_started = Clock::now();
            waiter(waiter_client, giving_up);  // registers, then gives up
            EXPECT_TRUE(co_await until_queued(admin, name));
            waiter(waiter_client, 20s);  // its process's second waiter
            waiter(other_client, 20s);   // the next process
            EXPECT_TRUE(co_await until_queued(admin, name, 2));
            const auto offset =
                std::chrono::microseconds(std::uniform_int_distribution<int>(-1500, 1500)(random));
            co_await pause_for(first_started + giving_up + offset - Clock::now());
            co_await holder.release();
            if (!co_await eventually(
                    [&]() -> asio::awaitable<bool> { co_return finished_count == 3; }, 15s)) {
                ADD_FAILURE() << "round " << round << ": " << finished_count
                              << " of 3 waiters finished (a lost wake-up waits for the 30 s poll)";
                failed = true;  // (its waiters still run: no further round)
                co_return;
            }
            EXPECT_GE(acquired, 2) << "round " << round;
            EXPECT_EQ(overlaps, 0) << "round " << round;
            EXPECT_TRUE(co_await until_gone(admin, name))
                << "round " << round << ": a key left behind";
            const auto registrations =
                co_await admin.command("EXISTS", dlock::detail::handoff_key(name));
            EXPECT_EQ(registrations.integer, 0) << "round " << round << ": a registration left";
        });
    }
}

// blocking_timeout 0 in a process that already listens: its one attempt may queue and
// register; its departure must take that back, and the process's other waiter stays first.
TEST_F(AdversaryHandOff, AZeroBlockingTimeoutBesideAWaiterTakesNothingFromIt) {
    const std::string name = unique_name();
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Lock holder(holder_client, name, woken_only());
        EXPECT_TRUE(co_await holder.acquire({.blocking = false}));
        dlock::Lock first(waiter_client, name, woken_only());
        const auto background = acquire_in_background(io.get_executor(), first);
        EXPECT_TRUE(co_await until_queued(admin, name));
        for (int i = 0; i < 5; ++i) {
            dlock::Lock impatient(waiter_client, name, woken_only(0s));
            EXPECT_FALSE(co_await impatient.acquire());
        }
        const Released left = co_await release_and_look(admin, name, *holder.token());
        EXPECT_TRUE(co_await background->done.wait(10s));
        EXPECT_TRUE(background->got);
        EXPECT_EQ(first.token().value_or("?"), left.value) << "handed to someone else";
        co_await first.release();
    });
}

// A server restart (its dataset saved, so the lock, the queue and the registration come back)
// between the waiter's registration and the release, the waiter's subscriber reconnecting
// meanwhile: whichever registration the release then finds (the restored one, naming an attempt
// sent before the restart, or a newer one), the waiter must get the lock, alone, with a larger
// fence and its full TTL.
TEST(AdversaryRestart, ARegistrationFromBeforeARestartStillHandsOnSafely) {
    OwnServers server{"plain"};
    asio::io_context io;
    dlock::Redis holder_client(io.get_executor(), server.url());
    dlock::Redis waiter_client(io.get_executor(), server.url());
    const std::string name = unique_name();
    dlock::LockOptions fenced = woken_only(30s);
    fenced.fencing = true;
    dlock::Lock holder(holder_client, name, fenced);
    dlock::Lock waiter(waiter_client, name, fenced);
    std::shared_ptr<BackgroundAcquire> background;  // goes on across the restart
    run(io, [&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await holder.acquire({.blocking = false}));
        background = acquire_in_background(io.get_executor(), waiter);
        dlock::Redis admin(io.get_executor(), server.url());
        EXPECT_TRUE(co_await until_queued(admin, name));
        EXPECT_EQ((co_await admin.command("HLEN", dlock::detail::handoff_key(name))).integer, 1);
        co_await admin.command("SAVE");
    });
    server.restart();
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Redis admin(io.get_executor(), server.url());
        EXPECT_EQ((co_await admin.command("HLEN", dlock::detail::handoff_key(name))).integer, 1)
            << "the registration did not come back with the dataset";
        // The waiter's process listens again (its subscriber reconnected).
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> {
                const dlock::Reply channels =
                    co_await admin.command("PUBSUB", "CHANNELS", "dlock:inbox:*");
                co_return !channels.elements.empty();
            },
            10s));
        std::exception_ptr failed;
        for (int i = 0; i < 50; ++i) {  // the holder's client reconnects on a later command
            failed = co_await thrown_by(holder.release());
            if (!failed || is<dlock::LockReleaseError>(failed)) break;
            co_await pause_for(20ms);
        }
        EXPECT_FALSE(failed) << what(failed);
        EXPECT_TRUE(co_await background->done.wait(25s));
        EXPECT_TRUE(background->got);
        EXPECT_GT(waiter.fence().value_or(-1), holder.fence().value_or(0));
        EXPECT_EQ((co_await admin.command("GET", name)).str, waiter.token().value_or("?"));
        EXPECT_GT((co_await admin.command("PTTL", name)).integer,
                  dlock::detail::handoff_claim_window.count())
            << "the waiter holds the key only for the claim window";
        if (background->got) co_await waiter.release();
    });
}

// A waiter in another process (the CLI, which records its holder: the claim path) queues, then
// is SIGSTOPped or SIGKILLed before the release: the key goes to its claim for at most the
// claim window, a waiter queued behind it
// then gets the lock (its poll), and the stopped one, continued while that waiter holds,
// does not run as a second holder.
TEST(AdversaryProcesses, AWaiterStoppedOrKilledAfterRegisteringHoldsUpTheNextOnlyBriefly) {
    for (const int signal_number : {SIGSTOP, SIGKILL}) {
        asio::io_context io;
        dlock::Redis holder_client(io.get_executor(), plain_url());
        dlock::Redis waiter_client(io.get_executor(), plain_url());
        dlock::Redis admin(io.get_executor(), plain_url());
        const std::string name = unique_name();
        dlock::LockOptions fenced = woken_only();
        fenced.fencing = true;
        dlock::Lock holder(holder_client, name, fenced);
        run(io, [&]() -> asio::awaitable<void> {
            EXPECT_TRUE(co_await holder.acquire({.blocking = false}));
        });
        ChildProcess child({DLOCK_CLI_PATH, "run", "--url", plain_url(), "--sleep", "30", "-w",
                            "30", name, "--", "echo", "child-ran"});
        run(io, [&]() -> asio::awaitable<void> {
            EXPECT_TRUE(co_await eventually(
                [&]() -> asio::awaitable<bool> {
                    co_return co_await queued_processes(admin, name) == 1;
                },
                10s))
                << "the CLI waiter never queued";
            child.signal(signal_number);
            dlock::LockOptions polling = fenced;
            polling.sleep = 50ms;
            dlock::Lock next(waiter_client, name, polling);
            const auto background = acquire_in_background(io.get_executor(), next);
            EXPECT_TRUE(co_await until_queued(admin, name, 2));
            const Released left = co_await release_and_look(admin, name, *holder.token());
            if (!left.value.empty()) {
                EXPECT_GT(left.pttl, 0) << "handed on without an expiry";
                EXPECT_LE(left.pttl, dlock::detail::handoff_claim_window.count())
                    << "a stopped or dead waiter keeps the lock beyond the claim window";
            }
            EXPECT_TRUE(co_await background->done.wait(10s));
            EXPECT_TRUE(background->got);
            EXPECT_GT(next.fence().value_or(-1), holder.fence().value_or(0));
            if (signal_number == SIGSTOP) {
                child.signal(SIGCONT);
                EXPECT_FALSE(child.wait_for_output("child-ran", 300ms))
                    << "the continued waiter ran while another process held the lock";
            }
            if (background->got) co_await next.release();
            if (signal_number == SIGSTOP) {
                EXPECT_TRUE(child.wait_for_output("child-ran", 10000ms))
                    << "the continued waiter never got the lock";
            }
        });
    }
}

// ---- Kinds on one name --------------------------------------------------------------------

// What holds the name right now, as the tasks of this process see it (marked after an acquire
// returns, unmarked before the release is sent: any overlap seen is a real one).
struct KindCounts {
    int locks = 0, permits = 0, readers = 0, writers = 0;
    int violations = 0;
    void check(int permit_limit) {
        const int exclusive = locks + writers;
        const bool ok = (exclusive == 0 || (exclusive == 1 && permits == 0 && readers == 0)) &&
                        (permits == 0 || readers == 0) && permits <= permit_limit;
        if (!ok) ++violations;
    }
};

// Lock, Semaphore(2), writers and readers of one name, over two clients, acquiring and
// releasing as fast as they can (short waits, a 10 ms poll for the cross-kind waits), each
// task pausing 10 ms between holds so the name is free at times (without the pause the Locks
// would take turns, and the other kinds would get in only in theirs).
TEST(AdversaryKinds, LocksPermitsReadersAndWritersRacingOnOneNameNeverOverlap) {
    asio::io_context io;
    dlock::Redis a(io.get_executor(), plain_url());
    dlock::Redis b(io.get_executor(), plain_url());
    const std::string name = unique_name();
    KindCounts counts;
    int acquisitions[4] = {0, 0, 0, 0};
    int done = 0;
    const int tasks_per_kind = 3;
    const auto stop_at = Clock::now() + 3s;
    dlock::LockOptions options;
    options.timeout = 10s;
    options.sleep = 10ms;
    options.blocking_timeout = 500ms;
    // One hold: counted in `held` while it lasts; then a pause outside the name.
    const auto hold = [&](int& held, int kind) -> asio::awaitable<void> {
        ++held;
        counts.check(2);
        ++acquisitions[kind];
        co_await let_others_run();
        --held;
    };
    // kind 0 Lock, 1 Semaphore(2), 2 reader, 3 writer.
    const auto task = [&](dlock::Redis& client, int kind) -> asio::awaitable<void> {
        while (Clock::now() < stop_at) {
            if (kind == 0) {
                dlock::Lock lock(client, name, options);
                if (co_await lock.acquire()) {
                    co_await hold(counts.locks, kind);
                    co_await lock.release();
                }
            } else if (kind == 1) {
                dlock::Semaphore permit(client, name, 2, options);
                if (co_await permit.acquire()) {
                    co_await hold(counts.permits, kind);
                    co_await permit.release();
                }
            } else {
                dlock::ReadWriteLock rw(client, name, options);
                bool got = false;  // (no co_await inside ?: : GCC 12)
                if (kind == 2) {
                    got = co_await rw.acquire_shared();
                } else {
                    got = co_await rw.acquire();
                }
                if (got) {
                    co_await hold(kind == 2 ? counts.readers : counts.writers, kind);
                    co_await rw.release();
                }
            }
            co_await pause_for(10ms);
        }
        ++done;
    };
    for (int i = 0; i < tasks_per_kind; ++i) {
        for (int kind = 0; kind < 4; ++kind)
            asio::co_spawn(io, task(i % 2 ? a : b, kind), asio::detached);
    }
    dlock::Redis admin(io.get_executor(), plain_url());
    run(io, [&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> { co_return done == 4 * tasks_per_kind; }, 30s));
        EXPECT_EQ((co_await admin.command("EXISTS", name)).integer, 0) << "a marker or key left";
    });
    EXPECT_EQ(counts.violations, 0);
    std::cout << "acquisitions: locks " << acquisitions[0] << ", permits " << acquisitions[1]
              << ", readers " << acquisitions[2] << ", writers " << acquisitions[3] << "\n";
}

enum class Kind { lock, permit, reader, writer };

// Takes `name` once as `kind` (a permit of a Semaphore of 2) and gives it back; returns how many
// `turns` went by while it waited, or -1 when it did not get in.
asio::awaitable<int> take_once(dlock::Redis& client, const std::string& name,
                               const dlock::LockOptions& options, Kind kind, const int& turns) {
    const int before = turns;
    bool got = false;
    int went_by = 0;
    if (kind == Kind::lock) {
        dlock::Lock lock(client, name, options);
        got = co_await lock.acquire();
        went_by = turns - before;
        if (got) co_await lock.release();
    } else if (kind == Kind::permit) {
        dlock::Semaphore permit(client, name, 2, options);
        got = co_await permit.acquire();
        went_by = turns - before;
        if (got) co_await permit.release();
    } else {
        dlock::ReadWriteLock rw(client, name, options);
        // (Not one co_await of a conditional expression: g++ 12 miscompiles that.)
        if (kind == Kind::writer) {
            got = co_await rw.acquire();
        } else {
            got = co_await rw.acquire_shared();
        }
        went_by = turns - before;
        if (got) co_await rw.release();
    }
    co_return got ? went_by : -1;
}

// One task per client taking a name in turn until `stop`: `take_turn(client)` acquires, holds,
// releases, and says whether it got in. `turns` counts the turns taken.
struct TakingTurns {
    bool stop = false;
    int turns = 0;
    int running = 0;
    template <class TakeTurn>
    void start(asio::io_context& io, std::initializer_list<dlock::Redis*> clients,
               TakeTurn take_turn) {
        for (dlock::Redis* client : clients) {
            ++running;
            // The closure (and `take_turn` in it) lives in the spawned task's frame, so each
            // turn's coroutine may refer to it.
            asio::co_spawn(
                io,
                [this, client, take_turn]() -> asio::awaitable<void> {
                    while (!stop) {
                        if (co_await take_turn(*client)) ++turns;
                    }
                    --running;
                },
                asio::detached);
        }
    }
    // Once the stream runs, `client` takes the name once as `kind` (sleep 10 ms, 3 s at most);
    // it must get in in its turn: fewer than 50 turns go by. Returns how many did.
    asio::awaitable<int> take_in_turn(dlock::Redis& client, const std::string& name,
                                      dlock::LockOptions options, Kind kind) {
        EXPECT_TRUE(
            co_await eventually([&]() -> asio::awaitable<bool> { co_return turns >= 20; }, 10s));
        options.sleep = 10ms;
        options.blocking_timeout = 3s;
        const int went_by = co_await take_once(client, name, options, kind, turns);
        EXPECT_NE(went_by, -1) << "waited 3 s";
        EXPECT_LT(went_by, 50);
        std::cout << "got in after " << went_by << " turns of the others\n";
        co_return went_by;
    }
    asio::awaitable<void> finish() {
        stop = true;
        EXPECT_TRUE(
            co_await eventually([&]() -> asio::awaitable<bool> { co_return running == 0; }, 15s));
    }
};

// Was a defect (kinds starved): a Lock's release hands the name straight to the next queued
// Lock waiter (direct hand-off or claim marker), and Semaphore, reader and writer waiters of the
// same name only polled, finding key NAME free only when no Lock waited. So two processes taking
// turns on a Lock kept a reader out for ever (2,342 Lock holds in 3 s, 0 readers). Now a waiter
// of another kind that finds a Lock's holder queues in the Lock's queue too, and the release
// that reaches it leaves it its claim marker: it gets in within the Lock holds queued before it.
TEST(AdversaryKinds, ALockStreamLetsEveryOtherKindInInItsTurn) {
    for (const Kind kind : {Kind::permit, Kind::reader, Kind::writer}) {
        SCOPED_TRACE(kind == Kind::permit   ? "semaphore"
                     : kind == Kind::reader ? "reader"
                                            : "writer");
        asio::io_context io;
        dlock::Redis a(io.get_executor(), plain_url());
        dlock::Redis b(io.get_executor(), plain_url());
        dlock::Redis admin(io.get_executor(), plain_url());
        const std::string name = unique_name();
        dlock::LockOptions options;
        options.timeout = 10s;
        TakingTurns stream;
        stream.start(io, {&a, &b}, [&](dlock::Redis& client) -> asio::awaitable<bool> {
            dlock::Lock lock(client, name, options);
            if (!co_await lock.acquire()) co_return false;
            co_await pause_for(1ms);
            co_await lock.release();
            co_return true;
        });
        run(io, [&]() -> asio::awaitable<void> {
            // In its turn: the holds queued before it, and those that went by while it
            // subscribed (a hold lasts at least 1 ms). Before the fix: every hold for 3 s.
            co_await stream.take_in_turn(a, name, options, kind);
            co_await stream.finish();
            // Its place behind the Lock ("INBOX|WAIT_NAME") went with its success.
            const dlock::Reply queued =
                co_await admin.command("ZRANGE", dlock::detail::wait_queue_key(name), "0", "-1");
            for (const dlock::Reply& member : queued.elements)
                EXPECT_EQ(member.str.find('|'), std::string::npos) << member.str;
        });
    }
}

// The other way round: permits (or readers) that overlap never leave key NAME free, and the
// last one out was the only thing that woke a Lock of that name, so three tasks taking permits
// (or read holds) in turn kept a Lock, a writer or the other shared kind out. Before the fix, in
// 3 runs, 75-1,699 permits went in while a Lock waited, 211-3,698 while a writer did (once it
// never got in), 251-590 while a reader did, and 241-2,010 reads while a Lock did, 92-2,949
// while a permit did (a writer behind readers got in after 0-3: its claim kept new readers out).
// Now any waiter of another kind queued ahead keeps new permits or readers out while those
// inside drain, and the last one out hands it the name (its claim marker): 0-6 turns ended while
// it waited (those inside when it came among them), every combination, 3 runs. The stream goes
// on after it.
TEST(AdversaryKinds, OverlappingPermitsOrReadersLetEveryOtherKindInInItsTurn) {
    // The stream (permits or readers), and who waits. (Plain copies, not a structured binding:
    // clang 14 cannot capture one.)
    for (const std::pair<bool, Kind>& round :
         std::vector<std::pair<bool, Kind>>{{true, Kind::lock},
                                            {true, Kind::writer},
                                            {true, Kind::reader},
                                            {false, Kind::lock},
                                            {false, Kind::writer},
                                            {false, Kind::permit}}) {
        const bool semaphore = round.first;
        const Kind waiter = round.second;
        SCOPED_TRACE(std::string(semaphore ? "permits" : "readers") + ", then a " +
                     (waiter == Kind::lock     ? "Lock"
                      : waiter == Kind::writer ? "writer"
                      : waiter == Kind::reader ? "reader"
                                               : "permit"));
        asio::io_context io;
        dlock::Redis a(io.get_executor(), plain_url());
        dlock::Redis b(io.get_executor(), plain_url());
        dlock::Redis c(io.get_executor(), plain_url());
        dlock::Redis d(io.get_executor(), plain_url());
        const std::string name = unique_name();
        dlock::LockOptions options;
        options.timeout = 10s;
        options.blocking_timeout = 5s;
        TakingTurns stream;
        int& turns = stream.turns;
        stream.start(io, {&a, &b, &c}, [&](dlock::Redis& client) -> asio::awaitable<bool> {
            if (semaphore) {
                dlock::Semaphore permit(client, name, 3, options);
                if (!co_await permit.acquire()) co_return false;
                co_await pause_for(2ms);
                co_await permit.release();
            } else {
                dlock::ReadWriteLock rw(client, name, options);
                if (!co_await rw.acquire_shared()) co_return false;
                co_await pause_for(2ms);
                co_await rw.release();
            }
            co_return true;
        });
        run(io, [&]() -> asio::awaitable<void> {
            // Those inside drain, and those that went in while it subscribed: a few.
            co_await stream.take_in_turn(d, name, options, waiter);
            // The others go on: nothing is left waiting for a waiter that has gone.
            const int turns_after = turns;
            EXPECT_TRUE(co_await eventually(
                [&]() -> asio::awaitable<bool> { co_return turns >= turns_after + 20; }, 10s));
            co_await stream.finish();
        });
    }
}

// A reader on `client` that queues behind the holder of `name` (in the Lock's queue) and gives
// up: its departure takes its place out of the Lock's queue too (checked here). Then that place
// is put back, as a departure that never reached the server would leave it (a dropped
// connection, say), while the process still listens on its inbox. Returns the place.
asio::awaitable<std::string> stale_reader_place(dlock::Redis& admin, dlock::Redis& client,
                                                const std::string& name) {
    dlock::LockOptions giving_up;
    giving_up.timeout = 10s;
    giving_up.sleep = 50ms;
    giving_up.blocking_timeout = 300ms;
    dlock::ReadWriteLock reader(client, name, giving_up);
    const std::string queue = dlock::detail::wait_queue_key(name);
    Notification gave_up(co_await asio::this_coro::executor);
    asio::co_spawn(
        co_await asio::this_coro::executor,
        [&]() -> asio::awaitable<void> {
            EXPECT_FALSE(co_await reader.acquire_shared());
            gave_up.notify();
        },
        asio::detached);
    EXPECT_TRUE(co_await until_queued(admin, name));
    const dlock::Reply queued = co_await admin.command("ZRANGE", queue, "0", "-1");
    EXPECT_EQ(queued.elements.size(), 1u);
    const std::string place = queued.elements.empty() ? "" : queued.elements[0].str;
    EXPECT_NE(place.find('|'), std::string::npos) << place;
    EXPECT_TRUE(co_await gave_up.wait(10s));
    EXPECT_TRUE(co_await eventually(
        [&]() -> asio::awaitable<bool> { co_return co_await queued_processes(admin, name) == 0; },
        5s))
        << "the departure left its place in the Lock's queue";
    co_await admin.command("ZADD", queue, "1", place);
    const dlock::Reply listening =
        co_await admin.command("PUBSUB", "NUMSUB", place.substr(0, place.find('|')));
    EXPECT_EQ(listening.elements.at(1).integer, 1) << place;
    co_return place;
}

// A reader's place left behind in the Lock's queue (stale_reader_place) must not keep new
// permits out (they would wait for every permit inside to drain): the process left the readers'
// own queue, so the gate passes over it and drops it.
TEST(AdversaryKinds, AWaiterOfAnotherKindThatGaveUpKeepsNoPermitOut) {
    asio::io_context io;
    dlock::Redis a(io.get_executor(), plain_url());
    dlock::Redis b(io.get_executor(), plain_url());
    dlock::Redis e(io.get_executor(), plain_url());
    dlock::Redis admin(io.get_executor(), plain_url());
    const std::string name = unique_name();
    dlock::LockOptions options;
    options.timeout = 10s;
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Semaphore held(a, name, 2, options);
        EXPECT_TRUE(co_await held.acquire());
        co_await stale_reader_place(admin, e, name);
        dlock::LockOptions at_once = options;
        at_once.blocking = false;
        dlock::Semaphore second(b, name, 2, at_once);
        EXPECT_TRUE(co_await second.acquire()) << "a permit was free, and nobody waits";
        const dlock::Reply after =
            co_await admin.command("ZCARD", dlock::detail::wait_queue_key(name));
        EXPECT_EQ(after.integer, 0) << "the gate dropped the place nobody waits in";
        co_await second.release();
        co_await held.release();
    });
}

// The same place behind a Lock's holder: the release that reaches it leaves the name free at
// once (before: its claim marker for the claim window, 50 ms, which nobody would take).
TEST(AdversaryKinds, AWaiterOfAnotherKindThatGaveUpHoldsNoLockReleaseUp) {
    asio::io_context io;
    dlock::Redis a(io.get_executor(), plain_url());
    dlock::Redis e(io.get_executor(), plain_url());
    dlock::Redis admin(io.get_executor(), plain_url());
    const std::string name = unique_name();
    dlock::LockOptions options;
    options.timeout = 10s;
    run(io, [&]() -> asio::awaitable<void> {
        dlock::Lock held(a, name, options);
        EXPECT_TRUE(co_await held.acquire());
        co_await stale_reader_place(admin, e, name);
        co_await held.release();
        const dlock::Reply value = co_await admin.command("GET", name);
        EXPECT_TRUE(value.is_nil()) << value.str;
    });
}

// Breaking readers or permits while a Lock, a writer and waiters of the same kind queue: the
// woken kinds still exclude each other, and every waiter gets in.
TEST(AdversaryKinds, BreakingReadersOrPermitsWithMixedWaitersKeepsTheKindsApart) {
    for (const bool semaphore : {false, true}) {
        asio::io_context io;
        dlock::Redis a(io.get_executor(), plain_url());
        dlock::Redis b(io.get_executor(), plain_url());
        const std::string name = unique_name(semaphore ? ":sem" : ":rw");
        KindCounts counts;
        int finished_count = 0, got = 0;
        dlock::LockOptions options;
        options.timeout = 30s;
        options.sleep = 50ms;
        options.blocking_timeout = 15s;
        const auto wait_and_hold = [&](auto make, auto take, int& held) {
            asio::co_spawn(
                io,
                [&, make, take]() -> asio::awaitable<void> {
                    auto lock = make();
                    if (co_await take(*lock)) {
                        ++got;
                        ++held;
                        counts.check(2);
                        co_await pause_for(20ms);
                        --held;
                        co_await lock->release();
                    }
                    ++finished_count;
                },
                asio::detached);
        };
        const auto lock_of = [&](dlock::Redis& c) {
            return [&c, &name, options] { return std::make_unique<dlock::Lock>(c, name, options); };
        };
        const auto sem_of = [&](dlock::Redis& c) {
            return [&c, &name, options] {
                return std::make_unique<dlock::Semaphore>(c, name, 2, options);
            };
        };
        const auto rw_of = [&](dlock::Redis& c) {
            return [&c, &name, options] {
                return std::make_unique<dlock::ReadWriteLock>(c, name, options);
            };
        };
        const auto take = [](auto& lock) { return lock.acquire(); };
        const auto take_shared = [](dlock::ReadWriteLock& lock) { return lock.acquire_shared(); };
        run(io, [&]() -> asio::awaitable<void> {
            // The holders that will be broken (never released by their owners).
            std::vector<std::unique_ptr<dlock::Semaphore>> permits;
            std::vector<std::unique_ptr<dlock::ReadWriteLock>> readers;
            for (int i = 0; i < 2; ++i) {
                if (semaphore) {
                    permits.push_back(sem_of(a)());
                    EXPECT_TRUE(co_await permits.back()->acquire({.blocking = false}));
                } else {
                    readers.push_back(rw_of(a)());
                    EXPECT_TRUE(co_await readers.back()->acquire_shared({.blocking = false}));
                }
            }
            wait_and_hold(lock_of(a), take, counts.locks);
            wait_and_hold(lock_of(b), take, counts.locks);
            wait_and_hold(rw_of(b), take, counts.writers);
            wait_and_hold(sem_of(b), take, counts.permits);
            wait_and_hold(sem_of(a), take, counts.permits);
            wait_and_hold(sem_of(b), take, counts.permits);
            wait_and_hold(rw_of(a), take_shared, counts.readers);
            co_await pause_for(100ms);  // the waiters' first attempts fail and queue
            const auto ended = co_await dlock::break_leases(a, name);
            EXPECT_GE(ended.value_or(0), 2u) << "the holders were not broken";
            EXPECT_TRUE(co_await eventually(
                [&]() -> asio::awaitable<bool> { co_return finished_count == 7; }, 20s));
            EXPECT_EQ(got, 7);
        });
        EXPECT_EQ(counts.violations, 0) << (semaphore ? "semaphore" : "read/write lock");
    }
}

// ---- Turn-taking under adversity ----------------------------------------------------------

const char* kind_name(Kind kind) {
    return kind == Kind::lock     ? "Lock"
           : kind == Kind::permit ? "permit"
           : kind == Kind::reader ? "reader"
                                  : "writer";
}

// The members of the Lock's wait queue of `name`, oldest first.
asio::awaitable<std::vector<std::string>> lock_queue_members(dlock::Redis& admin,
                                                             const std::string& name) {
    const dlock::Reply reply =
        co_await admin.command("ZRANGE", dlock::detail::wait_queue_key(name), "0", "-1");
    std::vector<std::string> members;
    for (const dlock::Reply& member : reply.elements) members.push_back(member.str);
    co_return members;
}

// How many connections listen on `inbox` (PUBSUB NUMSUB).
asio::awaitable<long long> listeners_of(dlock::Redis& admin, const std::string& inbox) {
    const dlock::Reply reply = co_await admin.command("PUBSUB", "NUMSUB", inbox);
    co_return reply.elements.at(1).integer;
}

// A process of its own that, once started (a byte on its pipe), waits for `name` once as `kind`
// (polling every second) and is then SIGKILLed by the test: no departure script runs, its
// connections just close. Forked before the round's io_context exists, so it shares no state
// with the test; killed (and reaped) by the destructor whatever fails.
class WaiterProcess {
  public:
    WaiterProcess(const std::string& url, const std::string& name, Kind kind) {
        int go[2];
        if (::pipe(go) != 0) throw std::runtime_error("pipe failed");
        pid_ = fork_child([&] {
            ::close(go[1]);
            char byte = 0;
            if (::read(go[0], &byte, 1) != 1) return 2;
            asio::io_context io;
            dlock::Redis client(io.get_executor(), url);
            const int turns = 0;
            dlock::LockOptions options = woken_only(60s);
            // A waiting reader's or writer's claim (readers' or writers' waiting set) is a
            // lease of 2 x sleep + 1 s: a dead writer keeps new readers without a turn out that
            // long (docs/semantics.md §8). 1 s: the test's waiters outlast it.
            options.sleep = 1s;
            run(io, [&]() -> asio::awaitable<void> {
                co_await take_once(client, name, options, kind, turns);
            });
            return 3;  // not reached: the test kills it while it waits
        });
        ::close(go[0]);
        go_ = go[1];
    }
    ~WaiterProcess() {
        kill();
        if (go_ >= 0) ::close(go_);
    }
    WaiterProcess(const WaiterProcess&) = delete;
    WaiterProcess& operator=(const WaiterProcess&) = delete;
    void start() {
        const char byte = 'g';
        EXPECT_EQ(::write(go_, &byte, 1), 1);
        ::close(go_);
        go_ = -1;
    }
    void signal(int signal_number) const { ::kill(pid_, signal_number); }
    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = 0;
    }

  private:
    pid_t pid_ = 0;
    int go_ = -1;
};

// A semaphore, reader or writer waiter in another process queues behind a Lock's holder (its
// member "INBOX|WAIT_NAME" in the Lock's queue), then a live waiter of each kind queues behind
// it, and the waiter's process is SIGKILLed before its wake-up:
//   - before the release, which comes once the server has seen it go (no listener on its
//     inbox): the release must pass over it and hand the name to the live waiter, which gets in
//     by that wake-up (it polls every 30 s);
//   - after the release reached it (it was SIGSTOPped, so it could not act on the wake-up): key
//     NAME holds its claim marker for the claim window at most, and the live waiter (polling at
//     50 ms then: nobody is left to hand the name on) still gets in; a live reader behind a
//     dead writer only once the writer's claim in the writers' waiting set has ended (2 x its
//     sleep + 1 s, here 3 s: docs/semantics.md §8), since key NAME gave it no turn.
// The dead writer's rounds cover a Lock waiting behind a killed writer.
TEST(AdversaryKinds, AKilledWaiterOfAnotherKindBehindALockHoldsTheNameOnlyForTheClaimWindow) {
    for (const Kind dead : {Kind::permit, Kind::reader, Kind::writer}) {
        for (const Kind live : {Kind::lock, Kind::permit, Kind::reader, Kind::writer}) {
            for (const bool woken_first : {false, true}) {
                SCOPED_TRACE(
                    std::string("a killed ") + kind_name(dead) + ", then a live " +
                    kind_name(live) +
                    (woken_first ? " (killed once woken)" : " (killed before the release)"));
                const std::string name = unique_name();
                WaiterProcess child(plain_url(), name, dead);
                asio::io_context io;
                dlock::Redis holder_client(io.get_executor(), plain_url());
                dlock::Redis live_client(io.get_executor(), plain_url());
                dlock::Redis admin(io.get_executor(), plain_url());
                run(io, [&]() -> asio::awaitable<void> {
                    dlock::Lock holder(holder_client, name, woken_only());
                    CO_ASSERT(co_await holder.acquire({.blocking = false}));
                    child.start();
                    CO_ASSERT(co_await until_queued(admin, name));
                    const std::vector<std::string> members =
                        co_await lock_queue_members(admin, name);
                    CO_ASSERT(members.size() == 1u);
                    const std::string dead_member = members.front();
                    CO_ASSERT(dead_member.find('|') != std::string::npos);
                    const std::string dead_inbox = dead_member.substr(0, dead_member.find('|'));

                    dlock::LockOptions options = woken_only();
                    if (woken_first) options.sleep = 50ms;
                    Notification done(io.get_executor());
                    int went_by = -2;
                    const int no_turns = 0;
                    asio::co_spawn(
                        io,
                        [&]() -> asio::awaitable<void> {
                            went_by =
                                co_await take_once(live_client, name, options, live, no_turns);
                            done.notify();
                        },
                        asio::detached);
                    CO_ASSERT(co_await until_queued(admin, name, 2));
                    if (woken_first) {
                        child.signal(SIGSTOP);
                    } else {
                        child.kill();
                        EXPECT_TRUE(co_await eventually(
                            [&]() -> asio::awaitable<bool> {
                                co_return co_await listeners_of(admin, dead_inbox) == 0;
                            },
                            5s))
                            << "the server still counts the killed process's inbox";
                    }
                    const Released left = co_await release_and_look(admin, name, *holder.token());
                    if (woken_first) {
                        child.kill();
                        EXPECT_EQ(left.value, "dlock:claim:" + dead_member)
                            << "the stopped waiter's process still listened";
                        EXPECT_GT(left.pttl, 0) << "a dead waiter's claim without an expiry";
                        EXPECT_LE(left.pttl, dlock::detail::handoff_claim_window.count())
                            << "a dead waiter's claim beyond the claim window";
                    } else {
                        EXPECT_NE(left.value, "dlock:claim:" + dead_member)
                            << "handed to a process the server knew was gone";
                        EXPECT_FALSE(left.value.empty()) << "handed to nobody";
                    }
                    if (!co_await done.wait(10s)) {
                        // (No co_await inside the stream expression: g++ 12.)
                        const dlock::Reply value = co_await admin.command("GET", name);
                        const dlock::Reply writers = co_await admin.command(
                            "ZRANGE", dlock::detail::writers_waiting_key(name), "0", "-1",
                            "WITHSCORES");
                        const dlock::Reply now = co_await admin.command("TIME");
                        const std::string until =
                            writers.elements.size() > 1 ? " until " + writers.elements[1].str : "";
                        ADD_FAILURE()
                            << "the live waiter never got in; NAME " << value.str
                            << ", writers waiting " << writers.elements.size() / 2 << until
                            << ", server time " << now.elements.at(0).str << " s";
                        co_await done.wait(15s);  // its last attempt, at its deadline (20 s)
                    }
                    EXPECT_GE(went_by, 0) << "the live waiter gave up";
                    EXPECT_TRUE(co_await until_gone(admin, name)) << "key NAME left behind";
                    const std::vector<std::string> after = co_await lock_queue_members(admin, name);
                    for (const std::string& member : after) EXPECT_NE(member, dead_member);
                });
            }
        }
    }
}

// SCRIPT FLUSH (every script gone: each call's EVALSHA gets NOSCRIPT and is sent again with its
// source) while a Lock, writers, readers or permits of another kind and waiters of the holders'
// own kind queue behind held permits (or readers), so the gate keeps the last ones out, and
// again and again while they go in: every waiter still gets in (three times each), and the
// kinds never overlap.
TEST(AdversaryKinds, ScriptFlushWhileTheKindsQueueBehindTheGateLetsEveryWaiterIn) {
    OwnServers server{"plain"};
    for (const bool semaphore : {true, false}) {
        SCOPED_TRACE(semaphore ? "behind permits" : "behind readers");
        asio::io_context io;
        dlock::Redis a(io.get_executor(), server.url());
        dlock::Redis b(io.get_executor(), server.url());
        dlock::Redis c(io.get_executor(), server.url());
        dlock::Redis admin(io.get_executor(), server.url());
        const std::string name = unique_name(semaphore ? ":sem" : ":rw");
        KindCounts counts;
        int finished_count = 0, got = 0, started = 0;
        const int rounds = 3;
        // A writer's release wakes nobody in the Lock's queue (docs/semantics.md §8: a Lock
        // behind a writer's release is found by the `sleep` poll; so is a permit, see
        // APermitQueuedBehindAWriterIsWokenByItsRelease), so the waiters poll every 500 ms.
        dlock::LockOptions options = woken_only(25s);
        options.sleep = 500ms;
        const auto wait_and_hold = [&](dlock::Redis& client, Kind kind) {
            ++started;
            asio::co_spawn(
                io,
                [&, kind]() -> asio::awaitable<void> {
                    for (int round = 0; round < rounds; ++round) {
                        bool in = false;
                        std::unique_ptr<dlock::Lock> lock;
                        std::unique_ptr<dlock::Semaphore> permit;
                        std::unique_ptr<dlock::ReadWriteLock> rw;
                        if (kind == Kind::lock) {
                            lock = std::make_unique<dlock::Lock>(client, name, options);
                            in = co_await lock->acquire();
                        } else if (kind == Kind::permit) {
                            permit = std::make_unique<dlock::Semaphore>(client, name, 2, options);
                            in = co_await permit->acquire();
                        } else {
                            rw = std::make_unique<dlock::ReadWriteLock>(client, name, options);
                            if (kind == Kind::writer) {
                                in = co_await rw->acquire();
                            } else {
                                in = co_await rw->acquire_shared();
                            }
                        }
                        if (!in) break;
                        ++got;
                        int& held = kind == Kind::lock     ? counts.locks
                                    : kind == Kind::permit ? counts.permits
                                    : kind == Kind::reader ? counts.readers
                                                           : counts.writers;
                        ++held;
                        counts.check(2);
                        co_await pause_for(2ms);
                        --held;
                        if (lock) co_await lock->release();
                        if (permit) co_await permit->release();
                        if (rw) co_await rw->release();
                    }
                    ++finished_count;
                },
                asio::detached);
        };
        run(io, [&]() -> asio::awaitable<void> {
            // The holders (released by the test after the first flush).
            dlock::Semaphore permit_a(a, name, 2, options), permit_b(b, name, 2, options);
            dlock::ReadWriteLock reader_a(a, name, options), reader_b(b, name, options);
            if (semaphore) {
                CO_ASSERT(co_await permit_a.acquire({.blocking = false}));
                CO_ASSERT(co_await permit_b.acquire({.blocking = false}));
            } else {
                CO_ASSERT(co_await reader_a.acquire_shared({.blocking = false}));
                CO_ASSERT(co_await reader_b.acquire_shared({.blocking = false}));
            }
            // In this order, each queued before the next comes: a Lock, a writer and the other
            // shared kind wait behind the holders (all but a writer behind readers in the Lock's
            // queue: that one stakes its claim); then the holders' own kind finds them ahead
            // (the gate, or the writer's claim) and waits behind them; then more of each.
            // (EXPECT, not CO_ASSERT: the waiters run on, so the test must wait for them.)
            const std::string lock_queue = dlock::detail::wait_queue_key(name);
            const std::string writers = dlock::detail::writers_waiting_key(name);
            const auto waits_in = [&](const std::string& key,
                                      long long count) -> asio::awaitable<bool> {
                co_return co_await eventually(
                    [&]() -> asio::awaitable<bool> {
                        co_return (co_await admin.command("ZCARD", key)).integer >= count;
                    },
                    5s);
            };
            // (Keys and counts picked first: g++ 12 miscompiles a co_await of a ?: expression.)
            const std::string readers = dlock::detail::readers_waiting_key(name);
            wait_and_hold(c, Kind::lock);
            EXPECT_TRUE(co_await waits_in(lock_queue, 1));
            wait_and_hold(b, Kind::writer);
            EXPECT_TRUE(co_await waits_in(semaphore ? lock_queue : writers, semaphore ? 2 : 1));
            wait_and_hold(a, semaphore ? Kind::reader : Kind::permit);
            EXPECT_TRUE(co_await waits_in(lock_queue, semaphore ? 3 : 2));
            wait_and_hold(c, semaphore ? Kind::permit : Kind::reader);
            EXPECT_TRUE(co_await waits_in(semaphore ? lock_queue : readers, semaphore ? 4 : 1));
            wait_and_hold(a, Kind::lock);
            EXPECT_TRUE(co_await waits_in(lock_queue, semaphore ? 5 : 3));
            wait_and_hold(c, Kind::writer);
            EXPECT_TRUE(co_await waits_in(semaphore ? lock_queue : writers, semaphore ? 6 : 2));
            EXPECT_EQ((co_await admin.command("SCRIPT", "FLUSH")).str, "OK");
            if (semaphore) {
                co_await permit_a.release();
                co_await permit_b.release();
            } else {
                co_await reader_a.release();
                co_await reader_b.release();
            }
            // Flushed again and again while they go in (each flush between two other commands).
            int flushes = 1;
            while (finished_count < started) {
                if (!co_await eventually(
                        [&]() -> asio::awaitable<bool> { co_return finished_count == started; },
                        3ms)) {
                    co_await admin.command("SCRIPT", "FLUSH");
                    ++flushes;
                }
                if (flushes > 10000) break;
            }
            std::cout << flushes << " flushes, " << got << " holds\n";
            EXPECT_EQ(finished_count, started);
            EXPECT_EQ(got, started * rounds) << "a waiter did not get in";
            EXPECT_TRUE(co_await until_gone(admin, name)) << "key NAME left behind";
        });
        EXPECT_EQ(counts.violations, 0);
    }
}

// Right after a release: prints what key NAME and the Lock's queue of `name` hold, then expects
// `background`'s acquire() (polling every 30 s) to be woken by the release, not by its poll
// (else it ends with its last attempt, at its 20 s deadline). Returns whether it got in.
asio::awaitable<bool> expect_woken_by_release(dlock::Redis& admin, const std::string& name,
                                              BackgroundAcquire& background, const char* who) {
    const dlock::Reply value = co_await admin.command("GET", name);
    const long long still_queued = co_await queued_processes(admin, name);
    std::cout << "after the release: NAME " << (value.is_nil() ? "(nil)" : value.str) << ", "
              << still_queued << " queued\n";
    const bool woken = co_await background.done.wait(10s);
    EXPECT_TRUE(woken) << who << " was not woken (it polls every 30 s)";
    if (!woken) co_await background.done.wait(15s);
    EXPECT_TRUE(background.got);
    co_return background.got;
}

// Waiters of another kind that gave up (readers, each of its own process, whose processes still
// listen but left the readers' queue) are ahead of a Lock's waiter in the Lock's queue: 15 of
// them, and 20 (more than the 16 members a hand-on tries). The release (of a Lock's holder, or
// the last permit out) passes over every one of them and must wake the Lock's waiter (it polls
// every 30 s), however many there are.
TEST(AdversaryKinds, AnyNumberOfWaitersOfAnotherKindThatGaveUpAheadOfALockCostItNoWakeUp) {
    for (const int gave_up : {15, 20}) {
        for (const bool behind_permits : {false, true}) {
            SCOPED_TRACE(std::to_string(gave_up) + " readers that gave up, " +
                         (behind_permits ? "behind permits" : "behind a Lock's holder"));
            asio::io_context io;
            dlock::Redis holder_client(io.get_executor(), plain_url());
            dlock::Redis lock_client(io.get_executor(), plain_url());
            dlock::Redis admin(io.get_executor(), plain_url());
            std::vector<std::unique_ptr<dlock::Redis>> reader_clients;
            for (int i = 0; i < gave_up; ++i)
                reader_clients.push_back(
                    std::make_unique<dlock::Redis>(io.get_executor(), plain_url()));
            const std::string name = unique_name();
            run(io, [&]() -> asio::awaitable<void> {
                dlock::Lock held_lock(holder_client, name, woken_only());
                dlock::Semaphore permit_1(holder_client, name, 2, woken_only());
                dlock::Semaphore permit_2(holder_client, name, 2, woken_only());
                if (behind_permits) {
                    CO_ASSERT(co_await permit_1.acquire({.blocking = false}));
                    CO_ASSERT(co_await permit_2.acquire({.blocking = false}));
                } else {
                    CO_ASSERT(co_await held_lock.acquire({.blocking = false}));
                }
                dlock::LockOptions giving_up = woken_only();
                giving_up.sleep = 50ms;
                giving_up.blocking_timeout = 300ms;
                Notification all_gave_up(io.get_executor(), gave_up);
                int got_in = 0;
                for (auto& client : reader_clients) {
                    asio::co_spawn(
                        io,
                        [&, &client = *client]() -> asio::awaitable<void> {
                            dlock::ReadWriteLock reader(client, name, giving_up);
                            if (co_await reader.acquire_shared()) ++got_in;
                            all_gave_up.notify();
                        },
                        asio::detached);
                }
                CO_ASSERT(co_await all_gave_up.wait(20s));
                EXPECT_EQ(got_in, 0);
                // Each process that gave up takes its member out of the Lock's queue as it
                // leaves its own (in the background): none is left for a release to pass over.
                CO_ASSERT(co_await eventually(
                    [&]() -> asio::awaitable<bool> {
                        co_return co_await queued_processes(admin, name) == 0;
                    },
                    5s));

                dlock::Lock waiter(lock_client, name, woken_only());
                const auto background = acquire_in_background(io.get_executor(), waiter);
                CO_ASSERT(co_await until_queued(admin, name, 1));
                if (behind_permits) {
                    co_await permit_1.release();
                    co_await permit_2.release();
                } else {
                    co_await held_lock.release();
                }
                if (co_await expect_woken_by_release(admin, name, *background, "the Lock's waiter"))
                    co_await waiter.release();
            });
        }
    }
}

// 20 permit waiters, each of its own process, queue behind a Lock's holder (so in the Lock's
// queue), then a writer behind them, and (in one round) two processes keep taking permits: the
// permits go in first, the writer's turn comes after them, and nobody is left out (each waiter
// polls every 30 s); a permit never overlaps the writer or the Lock.
TEST(AdversaryKinds, TwentyPermitWaitersAheadOfAWriterLetTheWriterInInItsTurn) {
    for (const bool stream : {false, true}) {
        SCOPED_TRACE(stream ? "with new permits coming" : "alone");
        asio::io_context io;
        dlock::Redis holder_client(io.get_executor(), plain_url());
        dlock::Redis writer_client(io.get_executor(), plain_url());
        dlock::Redis s1(io.get_executor(), plain_url());
        dlock::Redis s2(io.get_executor(), plain_url());
        dlock::Redis admin(io.get_executor(), plain_url());
        std::vector<std::unique_ptr<dlock::Redis>> permit_clients;
        const int waiting = 20;
        for (int i = 0; i < waiting; ++i)
            permit_clients.push_back(
                std::make_unique<dlock::Redis>(io.get_executor(), plain_url()));
        const std::string name = unique_name();
        KindCounts counts;
        int permits_in = 0, permits_done = 0;
        run(io, [&]() -> asio::awaitable<void> {
            dlock::Lock held(holder_client, name, woken_only());
            CO_ASSERT(co_await held.acquire({.blocking = false}));
            ++counts.locks;
            for (auto& client : permit_clients) {
                asio::co_spawn(
                    io,
                    [&, &client = *client]() -> asio::awaitable<void> {
                        dlock::Semaphore permit(client, name, 2, woken_only());
                        if (co_await permit.acquire()) {
                            ++permits_in;
                            ++counts.permits;
                            counts.check(2);
                            co_await pause_for(2ms);
                            --counts.permits;
                            co_await permit.release();
                        }
                        ++permits_done;
                    },
                    asio::detached);
            }
            CO_ASSERT(co_await until_queued(admin, name, waiting));
            dlock::ReadWriteLock writer(writer_client, name, woken_only());
            Notification writer_done(io.get_executor());
            bool writer_in = false;
            int permits_before_writer = -1;
            asio::co_spawn(
                io,
                [&]() -> asio::awaitable<void> {
                    writer_in = co_await writer.acquire();
                    if (writer_in) {
                        permits_before_writer = permits_in;
                        ++counts.writers;
                        counts.check(2);
                        co_await pause_for(2ms);
                        --counts.writers;
                        co_await writer.release();
                    }
                    writer_done.notify();
                },
                asio::detached);
            CO_ASSERT(co_await until_queued(admin, name, waiting + 1));
            TakingTurns newcomers;
            if (stream) {
                dlock::LockOptions quick;
                quick.timeout = 10s;
                quick.sleep = 10ms;
                quick.blocking_timeout = 5s;
                newcomers.start(io, {&s1, &s2},
                                [&, quick](dlock::Redis& client) -> asio::awaitable<bool> {
                                    dlock::Semaphore permit(client, name, 2, quick);
                                    if (!co_await permit.acquire()) co_return false;
                                    ++counts.permits;
                                    counts.check(2);
                                    co_await pause_for(2ms);
                                    --counts.permits;
                                    co_await permit.release();
                                    co_return true;
                                });
            }
            --counts.locks;
            co_await held.release();
            const bool writer_woken = co_await writer_done.wait(10s);
            EXPECT_TRUE(writer_woken) << "the writer was not woken (it polls every 30 s)";
            // Else it ends with its last attempt, at its deadline (20 s).
            if (!writer_woken) co_await writer_done.wait(15s);
            EXPECT_TRUE(writer_in);
            const int stream_turns = newcomers.turns;
            if (stream) co_await newcomers.finish();
            EXPECT_TRUE(co_await eventually(
                [&]() -> asio::awaitable<bool> { co_return permits_done == waiting; }, 20s));
            EXPECT_EQ(permits_in, waiting) << "a queued permit waiter never got in";
            std::cout << permits_before_writer << " queued permits and " << stream_turns
                      << " new ones (in all) went in before the writer\n";
        });
        EXPECT_EQ(counts.violations, 0);
    }
}

// A permit waiter that finds a writer in key NAME queues behind it in the Lock's queue (as
// "INBOX|WAIT_NAME"), as it does behind a Lock's holder. The writer's release must wake it (it
// polls every 30 s), as a Lock's release does: nothing else will (nobody holds a permit).
// For comparison, the same waiter behind a Lock's holder.
TEST(AdversaryKinds, APermitQueuedBehindAWriterIsWokenByItsRelease) {
    for (const bool behind_writer : {false, true}) {
        SCOPED_TRACE(behind_writer ? "behind a writer" : "behind a Lock's holder");
        asio::io_context io;
        dlock::Redis holder_client(io.get_executor(), plain_url());
        dlock::Redis permit_client(io.get_executor(), plain_url());
        dlock::Redis admin(io.get_executor(), plain_url());
        const std::string name = unique_name();
        run(io, [&]() -> asio::awaitable<void> {
            dlock::ReadWriteLock writer(holder_client, name, woken_only());
            dlock::Lock lock(holder_client, name, woken_only());
            if (behind_writer) {
                CO_ASSERT(co_await writer.acquire({.blocking = false}));
            } else {
                CO_ASSERT(co_await lock.acquire({.blocking = false}));
            }
            dlock::Semaphore permit(permit_client, name, 2, woken_only());
            const auto background = acquire_in_background(io.get_executor(), permit);
            EXPECT_TRUE(co_await until_queued(admin, name));
            const std::vector<std::string> members = co_await lock_queue_members(admin, name);
            for (const std::string& member : members) std::cout << "queued: " << member << "\n";
            if (behind_writer) {
                co_await writer.release();
            } else {
                co_await lock.release();
            }
            if (co_await expect_woken_by_release(admin, name, *background, "the permit waiter"))
                co_await permit.release();
        });
    }
}

}  // namespace
