// dlock_chaos_soak: memory must stay flat over many operations of every public pattern.
//
//   dlock_chaos_soak --url U [--ops N] [--sync-ops M] [--concurrency C] [--threads T] [--leak]
//
// Runs N operations (default 100000) of each async pattern, C at a time on one client: acquire +
// release (a Lock built per operation), the scoped form Lock::with, auto-renewal with a
// wait_lost() racing the release (every 100th operation the key is deleted under the holder, so
// the renewal finds it lost), and waiters that time out on a held lock. Then M operations
// (default N) of each pattern of the blocking facade, from T threads (default 4) on one
// sync::Redis: std::unique_lock over a sync::Lock, sync::LockGuard with its checked release(),
// try_lock_for() timing out on a held lock, and auto-renewal whose loss lost() reports (every
// 100th key deleted under its holder). Prints RSS and live heap
// (glibc mallinfo2: bytes in use) at every tenth; fails when the live heap grew by more than
// 1 MiB between the first tenth (warm-up: pools, script cache, connection buffers) and the end
// -- a leak of 1 byte per operation over 1M operations is that much. --leak keeps 64 bytes
// per operation on purpose: the soak must then fail.
#include <malloc.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <dlock/errors.hpp>
#include <dlock/lock.hpp>
#include <dlock/redis.hpp>
#include <dlock/sync.hpp>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "error_type.hpp"
#include "history.hpp"
#include "options.hpp"

namespace dlock::chaos {
namespace {

using namespace std::chrono_literals;

struct Memory {
    long rss_kib;
    long heap_kib;
};

Memory memory() {
    long pages = 0, resident = 0;
    std::ifstream("/proc/self/statm") >> pages >> resident;
    const struct mallinfo2 info = mallinfo2();
    return {resident * (sysconf(_SC_PAGESIZE) / 1024), static_cast<long>(info.uordblks / 1024)};
}

using Op = std::function<asio::awaitable<void>(long i, long slot)>;
using SyncOp = std::function<void(long i, long slot)>;

// Prints one pattern's row; false when the live heap grew by more than 1 MiB after the first
// tenth.
bool report(const char* pattern, long done, std::chrono::steady_clock::time_point t0,
            const std::vector<Memory>& samples, const std::map<std::string, long>& errors) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-28s %8ld ops %6.1f s ", pattern, done, seconds);
    for (const auto& [type, n] : errors) std::printf("%s=%ld ", type.c_str(), n);
    std::printf("\n  rss KiB: ");
    for (const auto& m : samples) std::printf("%ld ", m.rss_kib);
    std::printf("\n  heap KiB:");
    for (const auto& m : samples) std::printf(" %ld", m.heap_kib);
    const long growth = samples.empty() ? 0 : samples.back().heap_kib - samples.front().heap_kib;
    const long rss_growth = samples.empty() ? 0 : samples.back().rss_kib - samples.front().rss_kib;
    const bool flat = growth <= 1024;
    std::printf("\n  heap growth after warm-up: %ld KiB, rss growth: %ld KiB: %s\n", growth,
                rss_growth, flat ? "flat" : "GROWING");
    std::fflush(stdout);
    return flat;
}

// The blocking facade's patterns: `ops` operations from `threads` threads at once.
class SyncSoak {
  public:
    SyncSoak(long ops, long threads) : ops_(ops), threads_(threads) {}

    bool run(const char* pattern, const SyncOp& op) {
        std::atomic<long> next{0}, done{0};
        std::mutex mutex;  // guards samples and errors
        std::vector<Memory> samples;
        std::map<std::string, long> errors;
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> threads;
        for (long slot = 0; slot < threads_; ++slot) {
            threads.emplace_back([&, slot] {
                for (long i = next++; i < ops_; i = next++) {
                    if (leak_) {
                        const std::lock_guard guard(mutex);
                        leaked_.push_back(std::make_unique<char[]>(64));
                    }
                    try {
                        op(i, slot);
                    } catch (...) {
                        const std::lock_guard guard(mutex);
                        ++errors[error_type(std::current_exception())];
                    }
                    if (++done % (ops_ / 10) == 0) {
                        const std::lock_guard guard(mutex);
                        samples.push_back(memory());
                    }
                }
            });
        }
        for (auto& thread : threads) thread.join();
        return report(pattern, done, t0, samples, errors);
    }
    void leak() { leak_ = true; }

  private:
    long ops_, threads_;
    bool leak_ = false;
    std::vector<std::unique_ptr<char[]>> leaked_;
};

class Soak {
  public:
    // (The Redis client is the patterns' own: each op captures what it uses.)
    Soak(asio::io_context& io, Redis& /*redis*/, long ops, long concurrency)
        : io_(io), ops_(ops), concurrency_(concurrency) {}

    // Runs `op` ops_ times, concurrency_ at a time; returns false when the heap grew.
    bool run(const char* pattern, Op op) {
        long next = 0, done = 0, running = concurrency_;
        std::vector<Memory> samples;
        std::map<std::string, long> errors;
        const auto t0 = std::chrono::steady_clock::now();
        for (long slot = 0; slot < concurrency_; ++slot) {
            asio::co_spawn(
                io_,
                [&, slot]() -> asio::awaitable<void> {
                    while (next < ops_) {
                        const long i = next++;
                        // --leak: keep 64 bytes per operation, to prove the check sees it.
                        if (leak_) leaked_.push_back(std::make_unique<char[]>(64));
                        try {
                            co_await op(i, slot);
                        } catch (...) {
                            ++errors[error_type(std::current_exception())];
                        }
                        if (++done % (ops_ / 10) == 0) samples.push_back(memory());
                    }
                    if (--running == 0) io_.stop();
                },
                asio::detached);
        }
        io_.restart();
        io_.run();
        return report(pattern, done, t0, samples, errors);
    }

    asio::awaitable<void> pause(std::chrono::milliseconds d) {
        asio::steady_timer timer(io_, d);
        co_await timer.async_wait(asio::use_awaitable);
    }

    void leak() { leak_ = true; }

  private:
    asio::io_context& io_;
    long ops_, concurrency_;
    bool leak_ = false;
    std::vector<std::unique_ptr<char[]>> leaked_;
};

std::string name_of(const char* pattern, long slot) {
    return std::string("soak:") + pattern + ":" + std::to_string(getpid()) + ":" +
           std::to_string(slot);
}

// The blocking facade's patterns (see the header). Returns false when memory grew.
bool soak_sync(const std::string& url, long ops, long threads, bool leak) {
    using namespace std::chrono_literals;
    sync::Redis redis(url);
    SyncSoak soak(ops, threads);
    if (leak) soak.leak();
    std::printf("soak: %ld operations per pattern of the blocking facade, %ld threads\n", ops,
                threads);
    bool ok = true;
    ok &= soak.run("sync unique_lock", [&](long, long slot) {
        sync::Lock lock(redis, name_of("sync-plain", slot), {.timeout = 10s});
        const std::unique_lock guard(lock);
    });
    ok &= soak.run("sync LockGuard", [&](long, long slot) {
        sync::Lock lock(redis, name_of("sync-guard", slot), {.timeout = 10s});
        sync::LockGuard guard(lock);
        guard.release();  // throws LockReleaseError if the hold was lost
    });
    // One holder per thread; its waiters give up after 2 ms.
    std::vector<std::unique_ptr<sync::Lock>> holders(static_cast<std::size_t>(threads));
    ok &= soak.run("sync try_lock_for timing out", [&](long, long slot) {
        const std::string name = name_of("sync-wait", slot);
        auto& holder = holders[static_cast<std::size_t>(slot)];
        if (!holder) {
            holder = std::make_unique<sync::Lock>(redis, name, LockOptions{});
            holder->lock();
        }
        sync::Lock waiter(redis, name, {.timeout = 10s, .sleep = 1ms});
        if (waiter.try_lock_for(2ms)) throw LockError("acquired a held lock", name);
    });
    for (auto& holder : holders) {
        if (holder) holder->unlock();
    }
    ok &= soak.run("sync auto_renew + lost()", [&](long i, long slot) {
        sync::Lock lock(
            redis, name_of("sync-renew", slot),
            {.timeout = 60ms, .sleep = 20ms, .auto_renew = true, .renew_interval = 10ms});
        lock.lock();
        if (i % 100 != 0) {
            lock.unlock();
            if (lock.last_unlock_error()) std::rethrow_exception(lock.last_unlock_error());
            return;
        }
        // Take the key away: the renewal must find it lost.
        redis.command({"DEL", lock.name()});
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        while (!lock.lost()) {
            if (std::chrono::steady_clock::now() > give_up)
                throw LockError("loss not reported", lock.name());
            std::this_thread::sleep_for(1ms);  // lost() is a state; no event to wait on here
        }
    });
    return ok;
}

}  // namespace
}  // namespace dlock::chaos

int main(int argc, char** argv) {
    using namespace dlock;
    using namespace dlock::chaos;
    try {
        Args args(argc, argv);
        asio::io_context io;
        Redis redis(io.get_executor(), args.str("url"));
        const long ops = std::max(10L, args.num("ops", 100000));
        Soak soak(io, redis, ops, args.num("concurrency", 16));
        if (args.flag("leak")) soak.leak();
        bool ok = true;
        std::printf("soak: %ld operations per pattern, memory at every tenth\n", ops);

        ok &= soak.run("acquire/release", [&](long, long slot) -> asio::awaitable<void> {
            Lock lock(redis, name_of("plain", slot), {.timeout = 10s});
            if (!co_await lock.acquire()) throw LockError("not acquired", lock.name());
            co_await lock.release();
        });

        ok &= soak.run("Lock::with", [&](long i, long slot) -> asio::awaitable<void> {
            Lock lock(redis, name_of("with", slot), {.timeout = 10s});
            // Every 10th body throws: the scoped form must release and rethrow without leaking.
            try {
                co_await lock.with([&]() -> asio::awaitable<void> {
                    if (i % 10 == 0) throw std::runtime_error("body failed");
                    co_return;
                });
            } catch (const std::runtime_error& e) {
                if (std::string(e.what()) != "body failed") throw;
            }
        });

        ok &= soak.run("auto_renew + wait_lost", [&](long i, long slot) -> asio::awaitable<void> {
            LockOptions o;
            o.timeout = 60ms;
            o.sleep = 20ms;
            o.auto_renew = true;
            o.renew_interval = 10ms;
            Lock lock(redis, name_of("renew", slot), o);
            if (!co_await lock.acquire()) throw LockError("not acquired", lock.name());
            bool lost = false, finished = false;
            asio::co_spawn(
                io,
                [&]() -> asio::awaitable<void> {
                    lost = co_await lock.wait_lost();
                    finished = true;
                },
                asio::detached);
            if (i % 100 == 0) {
                // Take the key away: the renewal must find it lost and wake wait_lost().
                co_await redis.command("DEL", lock.name());
                while (!finished) co_await soak.pause(5ms);
                if (!lost) throw LockError("loss not reported", lock.name());
                try {
                    co_await lock.release();
                } catch (const LockReleaseError&) {
                }
            } else {
                co_await lock.release();
                while (!finished) co_await soak.pause(1ms);
                if (lost) throw LockError("false loss", lock.name());
            }
        });

        // Waiters time out on a lock held by someone else (one holder per slot).
        std::vector<std::unique_ptr<Lock>> holders;
        ok &= soak.run("waiter timing out", [&](long, long slot) -> asio::awaitable<void> {
            const std::string name = name_of("wait", slot);
            if (holders.size() <= static_cast<std::size_t>(slot)) holders.resize(slot + 1);
            if (!holders[slot]) {
                holders[slot] = std::make_unique<Lock>(redis, name, LockOptions{});
                if (!co_await holders[slot]->acquire()) throw LockError("holder", name);
            }
            LockOptions o;
            o.timeout = 10s;
            o.sleep = 1ms;
            o.blocking_timeout = 2ms;
            Lock waiter(redis, name, o);
            if (co_await waiter.acquire()) throw LockError("acquired a held lock", name);
        });
        // Release the holders, then stop: the client's connections keep io.run() busy forever.
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                for (auto& h : holders) {
                    if (h) co_await h->release();
                }
                io.stop();
            },
            asio::detached);
        io.restart();
        io.run();

        ok &= soak_sync(args.str("url"), std::max(10L, args.num("sync-ops", ops)),
                        args.num("threads", 4), args.flag("leak"));
        std::printf("soak: %s\n", ok ? "memory flat in every pattern" : "FAILED: memory grew");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dlock_chaos_soak: %s\n", e.what());
        return 2;
    }
}
