// The blocking facades: sync::Semaphore behaves like std::counting_semaphore across threads,
// sync::ReadWriteLock is a SharedTimedLockable that std::shared_lock and std::unique_lock wrap
// (checked at compile time too).
#include "dlock/sync_semaphore.hpp"

#include <atomic>
#include <mutex>
#include <semaphore>
#include <shared_mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "names.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using namespace dlock::test;

// The standard's requirements, as far as the type system can check them.
template <class M>
concept SharedTimedLockable = requires(M& m, std::chrono::milliseconds d,
                                       std::chrono::steady_clock::time_point t) {
    m.lock();
    { m.try_lock() } -> std::same_as<bool>;
    m.unlock();
    { m.try_lock_for(d) } -> std::same_as<bool>;
    { m.try_lock_until(t) } -> std::same_as<bool>;
    m.lock_shared();
    { m.try_lock_shared() } -> std::same_as<bool>;
    m.unlock_shared();
    { m.try_lock_shared_for(d) } -> std::same_as<bool>;
    { m.try_lock_shared_until(t) } -> std::same_as<bool>;
};
static_assert(SharedTimedLockable<dlock::sync::ReadWriteLock>);
static_assert(SharedTimedLockable<std::shared_timed_mutex>);  // the concept is the standard's
static_assert(std::is_constructible_v<std::shared_lock<dlock::sync::ReadWriteLock>,
                                      dlock::sync::ReadWriteLock&, std::chrono::milliseconds>);
static_assert(std::is_constructible_v<std::unique_lock<dlock::sync::ReadWriteLock>,
                                      dlock::sync::ReadWriteLock&, std::try_to_lock_t>);

template <class S>
concept CountingSemaphoreLike = requires(S& s, std::chrono::milliseconds d,
                                         std::chrono::steady_clock::time_point t) {
    s.acquire();
    { s.try_acquire() } -> std::same_as<bool>;
    { s.try_acquire_for(d) } -> std::same_as<bool>;
    { s.try_acquire_until(t) } -> std::same_as<bool>;
    s.release();
    s.release(std::ptrdiff_t{2});
    { s.max() } -> std::convertible_to<std::ptrdiff_t>;
};
static_assert(CountingSemaphoreLike<dlock::sync::Semaphore>);
static_assert(CountingSemaphoreLike<std::counting_semaphore<4>>);

TEST(SyncSemaphore, AtMostNThreadsInsideAndReleaseFromAnyThread) {
    dlock::sync::Redis redis(server("PLAIN_URL"));
    dlock::sync::Semaphore semaphore(redis, unique_name(), 2, {.timeout = 10s});
    EXPECT_EQ(semaphore.max(), 2u);
    std::atomic<int> inside{0}, most{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10; ++i) {
                semaphore.acquire();
                const int now = ++inside;
                int seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now)) {
                }
                std::this_thread::sleep_for(1ms);
                --inside;
                semaphore.release();
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_LE(most.load(), 2);
    EXPECT_EQ(semaphore.held(), 0u);

    EXPECT_TRUE(semaphore.try_acquire());
    EXPECT_TRUE(semaphore.try_acquire_for(100ms));
    EXPECT_FALSE(semaphore.try_acquire());
    EXPECT_FALSE(semaphore.try_acquire_until(std::chrono::steady_clock::now() + 100ms));
    EXPECT_THROW(semaphore.release(3), std::invalid_argument);
    std::thread([&] { semaphore.release(2); }).join();  // released by another thread
    EXPECT_EQ(semaphore.held(), 0u);
    EXPECT_THROW(semaphore.release(), std::invalid_argument);
}

TEST(SyncReadWriteLock, SharedLockAndUniqueLockWrapIt) {
    dlock::sync::Redis redis(server("PLAIN_URL"));
    dlock::sync::ReadWriteLock rw(redis, unique_name(), {.timeout = 10s, .fencing = true});
    {
        std::shared_lock first(rw);
        std::shared_lock second(rw, 100ms);  // readers share
        EXPECT_TRUE(second.owns_lock());
        std::unique_lock writer(rw, std::try_to_lock);
        EXPECT_FALSE(writer.owns_lock());
    }
    {
        std::unique_lock writer(rw);
        EXPECT_TRUE(rw.fence().has_value());
        std::shared_lock reader(rw, std::try_to_lock);
        EXPECT_FALSE(reader.owns_lock());
        EXPECT_FALSE(rw.try_lock_shared_for(50ms));
    }
    EXPECT_FALSE(rw.last_unlock_error());
    rw.unlock_shared();  // nothing held: recorded, not thrown
    EXPECT_TRUE(rw.last_unlock_error());
}

}  // namespace
