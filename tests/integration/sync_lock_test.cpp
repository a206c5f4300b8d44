// dlock::sync::Lock: the blocking API, as the standard library's lock utilities use it
// (std::unique_lock, std::scoped_lock, std::lock_guard, try_lock_for/until), LockGuard, a
// many-thread stress test on one lock name, and no thread left behind once the clients are gone.
#include <atomic>
#include <filesystem>
#include <future>
#include <iostream>
#include <iterator>
#include <mutex>
#include <thread>
#include <vector>

#include "async.hpp"
#include "dlock/sync.hpp"
#include "forked_tasks.hpp"
#include "names.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::LockOptions;
using namespace dlock::test;
using SyncLock = dlock::sync::Lock;

class SyncLockTest : public ::testing::Test {
  protected:
    void TearDown() override {
        redis_.command({"DEL", name_});
        redis_.command({"DEL", other_});
    }
    std::optional<std::string> get(const std::string& key) {
        dlock::Reply reply = redis_.command({"GET", key});
        if (reply.is_nil()) return std::nullopt;
        return reply.str;
    }
    bool exists(const std::string& key) { return redis_.command({"EXISTS", key}).integer == 1; }
    // `holder` takes name_ and unlocks it from another thread after `delay`; meanwhile
    // `take()` must get it for `taker`. Returns how long take() took.
    template <class Take>
    double seconds_to_take_over(SyncLock& holder, SyncLock& taker, std::chrono::milliseconds delay,
                                Take take) {
        holder.lock();
        std::thread releaser([&] {
            std::this_thread::sleep_for(delay);
            holder.unlock();
        });
        Stopwatch watch;
        EXPECT_TRUE(take());
        const double took = watch.seconds();
        releaser.join();
        EXPECT_EQ(get(name_), taker.token());
        taker.unlock();
        return took;
    }
    // `attempt()` returns false (it did not get the lock), after at least `at_least` seconds
    // and less than `below`.
    template <class Attempt>
    void expect_gives_up(Attempt attempt, double at_least, double below) {
        Stopwatch watch;
        EXPECT_FALSE(attempt());
        EXPECT_GE(watch.seconds(), at_least);
        EXPECT_LT(watch.seconds(), below);
    }

    dlock::sync::Redis redis_{dlock::test::server("PLAIN_URL")};
    const std::string name_ = dlock::test::unique_name();
    const std::string other_ = dlock::test::unique_name(":other");
};

// ---- the seed's names, blocking --------------------------------------------------------------

TEST_F(SyncLockTest, SeedApiWorksBlocking) {
    SyncLock lock(redis_, name_, {.timeout = 10s});
    EXPECT_FALSE(lock.locked());
    EXPECT_TRUE(lock.acquire());
    EXPECT_EQ(get(name_), lock.token());
    EXPECT_TRUE(lock.locked());
    EXPECT_TRUE(lock.owned());
    EXPECT_TRUE(lock.extend(10s));
    EXPECT_GT(redis_.command({"PTTL", name_}).integer, 18000);
    EXPECT_TRUE(lock.extend(5s, dlock::ExtendMode::replace));
    EXPECT_LE(redis_.command({"PTTL", name_}).integer, 5000);
    EXPECT_TRUE(lock.reacquire());
    EXPECT_GT(redis_.command({"PTTL", name_}).integer, 8000);
    EXPECT_EQ(lock.replication_factor(), 0u);
    lock.release();
    EXPECT_FALSE(lock.token());
    EXPECT_FALSE(exists(name_));
    EXPECT_THROW(lock.release(), dlock::LockReleaseError);
    EXPECT_THROW(lock.extend(1s), dlock::LockExtensionError);
}

TEST_F(SyncLockTest, ValidationIsTheSameAsTheAsyncLock) {
    EXPECT_THROW(SyncLock(redis_, ""), std::invalid_argument);
    EXPECT_THROW(SyncLock(redis_, name_, {.timeout = 0.1s, .sleep = 1s}), std::invalid_argument);
    EXPECT_THROW(SyncLock(redis_, name_, {.timeout = dlock::Seconds(-1)}), std::invalid_argument);
    SyncLock lock(redis_, name_, {.timeout = 10s});
    EXPECT_TRUE(lock.acquire());
    EXPECT_THROW(lock.extend(dlock::Seconds(-1)), std::invalid_argument);
    EXPECT_THROW((void)lock.acquire(), dlock::LockError);  // already held by this object
    lock.release();
}

// ---- standard lock utilities ----------------------------------------------------------------

TEST_F(SyncLockTest, UniqueLockAcquiresAndReleases) {
    SyncLock lock(redis_, name_, {.timeout = 10s});
    {
        std::unique_lock guard(lock);
        EXPECT_TRUE(guard.owns_lock());
        EXPECT_EQ(get(name_), lock.token());
    }
    EXPECT_FALSE(exists(name_));
    EXPECT_FALSE(lock.last_unlock_error());
    {
        std::unique_lock guard(lock, std::defer_lock);
        EXPECT_FALSE(exists(name_));
        EXPECT_TRUE(guard.try_lock_for(1s));
        EXPECT_TRUE(exists(name_));
        guard.unlock();
        EXPECT_FALSE(exists(name_));
    }
}

TEST_F(SyncLockTest, UniqueLockWithTryToLockFailsWhileHeldElsewhere) {
    SyncLock holder(redis_, name_);
    SyncLock other(redis_, name_);
    std::unique_lock held(holder);
    std::unique_lock attempt(other, std::try_to_lock);
    EXPECT_FALSE(attempt.owns_lock());
    EXPECT_EQ(get(name_), holder.token());
}

TEST_F(SyncLockTest, LockGuardAcquiresAndReleases) {
    SyncLock lock(redis_, name_);
    {
        std::lock_guard guard(lock);
        EXPECT_EQ(get(name_), lock.token());
    }
    EXPECT_FALSE(exists(name_));
}

TEST_F(SyncLockTest, ScopedLockTakesTwoDistributedLocks) {
    SyncLock first(redis_, name_);
    SyncLock second(redis_, other_);
    {
        std::scoped_lock both(first, second);
        EXPECT_EQ(get(name_), first.token());
        EXPECT_EQ(get(other_), second.token());
    }
    EXPECT_FALSE(exists(name_));
    EXPECT_FALSE(exists(other_));
}

// std::scoped_lock's deadlock avoidance (lock one, try_lock the other, back off) needs a
// try_lock that makes one attempt and an unlock that really releases: two threads taking the
// same two names in opposite order must both make progress.
TEST_F(SyncLockTest, ScopedLockInOppositeOrdersDoesNotDeadlock) {
    constexpr int rounds = 25;
    int counter = 0;  // guarded by both locks
    auto worker = [&](const std::string& a, const std::string& b) {
        SyncLock first(redis_, a, {.sleep = 0.01s});
        SyncLock second(redis_, b, {.sleep = 0.01s});
        for (int i = 0; i < rounds; ++i) {
            std::scoped_lock both(first, second);
            const int seen = counter;
            std::this_thread::yield();
            counter = seen + 1;
        }
    };
    Stopwatch watch;
    std::thread forward(worker, name_, other_);
    std::thread backward(worker, other_, name_);
    forward.join();
    backward.join();
    EXPECT_EQ(counter, 2 * rounds);
    EXPECT_FALSE(exists(name_));
    EXPECT_FALSE(exists(other_));
    std::cout << "[ info ] " << 2 * rounds << " scoped_lock rounds in " << watch.seconds()
              << " s\n";
}

// ---- try_lock and friends --------------------------------------------------------------------

TEST_F(SyncLockTest, TryLockMakesOneAttempt) {
    SyncLock holder(redis_, name_);
    SyncLock other(redis_, name_, {.sleep = 0.05s});
    EXPECT_TRUE(holder.try_lock());
    Stopwatch watch;
    EXPECT_FALSE(other.try_lock());
    EXPECT_LT(watch.seconds(), 0.5);
    holder.unlock();
    EXPECT_TRUE(other.try_lock());
    other.unlock();
}

TEST_F(SyncLockTest, TryLockForGivesUpAfterAtLeastTheDuration) {
    SyncLock holder(redis_, name_);
    SyncLock other(redis_, name_, {.sleep = 0.05s});
    holder.lock();
    expect_gives_up([&] { return other.try_lock_for(300ms); }, 0.3, 1.3);
    EXPECT_FALSE(other.try_lock_for(-1s));  // a duration already over: one attempt
    holder.unlock();
}

TEST_F(SyncLockTest, TryLockForSucceedsWhenTheHolderReleasesMeanwhile) {
    SyncLock holder(redis_, name_);
    SyncLock other(redis_, name_, {.sleep = 5s});  // woken by the release, not by polling
    // The delay only makes it likely that the waiter is already blocked; either way it must
    // take the lock long before its 5 s poll.
    EXPECT_LT(seconds_to_take_over(holder, other, 200ms, [&] { return other.try_lock_for(10s); }),
              3.0);
}

TEST_F(SyncLockTest, TryLockUntilGivesUpAtTheTimePoint) {
    SyncLock holder(redis_, name_);
    SyncLock other(redis_, name_, {.sleep = 0.05s});
    holder.lock();
    expect_gives_up([&] { return other.try_lock_until(std::chrono::steady_clock::now() + 300ms); },
                    0.3, 1.3);
    // Converted via system_clock::now(): some slack.
    expect_gives_up([&] { return other.try_lock_until(std::chrono::system_clock::now() + 300ms); },
                    0.25, 1.3);
    holder.unlock();
    EXPECT_TRUE(other.try_lock_until(std::chrono::steady_clock::now() + 1s));
    other.unlock();
}

TEST_F(SyncLockTest, LockWaitsWithoutLimitEvenWhenTheOptionsSayNonBlocking) {
    SyncLock holder(redis_, name_);
    SyncLock other(redis_, name_, {.sleep = 0.05s, .blocking = false});
    const double took = seconds_to_take_over(holder, other, 300ms, [&] {
        other.lock();
        return true;
    });
    EXPECT_GE(took, 0.25);
}

// ---- unlock and release failures ------------------------------------------------------------

TEST_F(SyncLockTest, UnlockNeverThrowsButRecordsTheFailure) {
    SyncLock lock(redis_, name_);
    lock.unlock();  // never locked
    EXPECT_TRUE(lock.last_unlock_error());
    lock.lock();
    redis_.command({"SET", name_, "someone-else"});
    lock.unlock();  // lost meanwhile
    auto error = lock.last_unlock_error();
    ASSERT_TRUE(error);
    auto lost = caught<dlock::LockReleaseError>([&] { std::rethrow_exception(error); });
    ASSERT_TRUE(lost);
    EXPECT_EQ(lost->lock_name(), name_);
    EXPECT_EQ(get(name_), "someone-else");
    redis_.command({"DEL", name_});
    lock.lock();
    lock.unlock();
    EXPECT_FALSE(lock.last_unlock_error());  // a successful unlock clears it
}

TEST_F(SyncLockTest, UniqueLockOfALostLockEndsQuietly) {
    SyncLock lock(redis_, name_);
    {
        std::unique_lock guard(lock);
        redis_.command({"DEL", name_});
    }  // unlock() finds the lock gone: no exception out of the destructor
    EXPECT_TRUE(lock.last_unlock_error());
}

TEST_F(SyncLockTest, LockGuardReleasesAtTheEndOfItsScope) {
    SyncLock lock(redis_, name_);
    {
        dlock::sync::LockGuard guard(lock);
        EXPECT_EQ(get(name_), lock.token());
    }
    EXPECT_FALSE(exists(name_));
    {
        dlock::sync::LockGuard guard(lock);
        guard.release();
        EXPECT_FALSE(exists(name_));
    }
}

TEST_F(SyncLockTest, LockGuardReleaseReportsALostLock) {
    SyncLock lock(redis_, name_);
    dlock::sync::LockGuard guard(lock);
    redis_.command({"SET", name_, "someone-else"});
    auto lost = caught<dlock::LockReleaseError>([&] { guard.release(); });
    ASSERT_TRUE(lost);
    EXPECT_EQ(lost->lock_name(), name_);
    EXPECT_EQ(get(name_), "someone-else");
}

TEST_F(SyncLockTest, LockGuardThrowsWhenItCannotAcquire) {
    SyncLock holder(redis_, name_);
    holder.lock();
    SyncLock non_blocking(redis_, name_, {.blocking = false});
    auto failed =
        caught<dlock::LockAcquisitionError>([&] { dlock::sync::LockGuard guard(non_blocking); });
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->lock_name(), name_);
    SyncLock bounded(redis_, name_, {.sleep = 0.05s, .blocking_timeout = 0.2s});
    EXPECT_THROW(dlock::sync::LockGuard guard(bounded), dlock::LockAcquisitionError);
    EXPECT_EQ(get(name_), holder.token());
    holder.unlock();
}

TEST_F(SyncLockTest, DestroyingASyncLockReleasesIt) {
    {
        SyncLock lock(redis_, name_);
        lock.lock();
        EXPECT_TRUE(exists(name_));
    }
    EXPECT_FALSE(exists(name_));
}

// A sync call made on dlock's own I/O thread (here: from on_lost, which runs there) would wait
// for itself forever; it is refused instead.
TEST_F(SyncLockTest, ASyncCallFromTheIoThreadIsRefused) {
    std::promise<std::exception_ptr> from_callback;
    std::unique_ptr<SyncLock> lock;
    lock = std::make_unique<SyncLock>(
        redis_, name_,
        LockOptions{.timeout = 1s,
                    .sleep = 0.05s,
                    .auto_renew = true,
                    .renew_interval = 0.05s,
                    .on_lost = [&] {
                        try {
                            (void)lock->locked();
                            from_callback.set_value(nullptr);
                        } catch (...) {
                            from_callback.set_value(std::current_exception());
                        }
                    }});
    lock->lock();
    redis_.command({"DEL", name_});  // the next renewal finds the lock gone
    auto outcome = from_callback.get_future();
    ASSERT_EQ(outcome.wait_for(10s), std::future_status::ready);
    auto error = outcome.get();
    EXPECT_TRUE(caught<std::logic_error>([&] {
        if (error) std::rethrow_exception(error);
    }));
    EXPECT_TRUE(lock->lost());
}

// ---- stress ---------------------------------------------------------------------------------

constexpr int stress_threads = 8;
constexpr int stress_rounds = 500;

// Each thread increments a counter that only the distributed lock protects: read, yield,
// write. Any overlap of two holders loses an increment.
template <class Counter, class MakeClient>
double stress(const std::string& name, Counter& counter, MakeClient client_for) {
    Stopwatch watch;
    std::vector<std::thread> threads;
    for (int t = 0; t < stress_threads; ++t) {
        threads.emplace_back([&, t] {
            dlock::sync::Client& client = client_for(t);
            SyncLock lock(client, name, {.timeout = 30s});
            for (int i = 0; i < stress_rounds; ++i) {
                std::lock_guard guard(lock);
                const int seen = counter.read();
                std::this_thread::yield();
                counter.write(seen + 1);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    return watch.seconds();
}

// A plain int: on one shared sync::Redis, every acquisition and release goes through the one
// I/O thread, which orders them for the memory model too (TSan checks that).
struct PlainCounter {
    int value = 0;
    int read() const { return value; }
    void write(int v) { value = v; }
};

// With a client per thread, the only thing ordering the threads is the Redis server, which
// TSan cannot see: relaxed atomics keep it quiet without making the increment atomic.
struct RelaxedCounter {
    std::atomic<int> value{0};
    int read() const { return value.load(std::memory_order_relaxed); }
    void write(int v) { value.store(v, std::memory_order_relaxed); }
};

TEST_F(SyncLockTest, StressThreadsSharingOneClient) {
    PlainCounter counter;
    const double seconds =
        stress(name_, counter, [&](int) -> dlock::sync::Client& { return redis_; });
    EXPECT_EQ(counter.value, stress_threads * stress_rounds);
    EXPECT_FALSE(exists(name_));
    std::cout << "[ info ] " << stress_threads << " threads x " << stress_rounds
              << " acquisitions, one shared sync::Redis: " << seconds << " s ("
              << stress_threads * stress_rounds / seconds << " hand-offs/s)\n";
}

TEST_F(SyncLockTest, StressThreadsWithAClientEach) {
    std::vector<std::unique_ptr<dlock::sync::Redis>> clients;
    for (int t = 0; t < stress_threads; ++t) {
        clients.push_back(std::make_unique<dlock::sync::Redis>(dlock::test::server("PLAIN_URL")));
    }
    RelaxedCounter counter;
    const double seconds =
        stress(name_, counter, [&](int t) -> dlock::sync::Client& { return *clients[t]; });
    EXPECT_EQ(counter.value.load(), stress_threads * stress_rounds);
    EXPECT_FALSE(exists(name_));
    std::cout << "[ info ] " << stress_threads << " threads x " << stress_rounds
              << " acquisitions, a sync::Redis per thread: " << seconds << " s ("
              << stress_threads * stress_rounds / seconds << " hand-offs/s)\n";
}

// Once its clients are gone, the facade has left no thread behind: a program may fork then
// without forking a multi-threaded process (asio::use_future, which the facade used to wait
// with, starts asio's system thread pool for the life of the process). Counted in a forked
// child, where no other test's threads are.
std::ptrdiff_t threads_of_this_process() {
    return std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                         std::filesystem::directory_iterator{});
}
TEST(SyncFacade, LeavesNoThreadBehindOnceItsClientsAreGone) {
    const std::string url = server("PLAIN_URL");
    const pid_t child = fork_child([&] {
        const std::ptrdiff_t before = threads_of_this_process();
        {
            dlock::sync::Redis redis(url);
            SyncLock lock(redis, unique_name(), {.timeout = 10s});
            if (!lock.acquire()) return 3;
            lock.release();
        }
        const std::ptrdiff_t after = threads_of_this_process();
        return after == before ? 0 : 1;
    });
    EXPECT_EQ(wait_child(child), 0) << "1: threads left behind, 2: an exception, 3: no lock";
}

}  // namespace
