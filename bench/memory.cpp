// Client memory: VmRSS of this process with many locks held, and with many coroutines
// blocked on one lock. Each runs in its own dlock-bench process so other scenarios do not
// inflate the figure.
#include <malloc.h>

#include <algorithm>
#include <dlock/lock.hpp>
#include <dlock/redis.hpp>
#include <iostream>
#include <memory>

#include "run_io.hpp"

namespace dlock::bench {

namespace {

// Bytes of heap in use (allocated and not freed), from malloc itself.
long long heap_in_use() {
    return static_cast<long long>(mallinfo2().uordblks);
}

// RSS after handing freed heap back to the kernel: what is really live, without the high-water
// mark that malloc keeps (e.g. 10,000 acquisitions in flight at once).
long trimmed_rss_kib() {
    malloc_trim(0);
    return rss_kib();
}

JsonLine memory_line(std::string_view scenario, const JsonLine& params, long before, long with,
                     long with_trimmed, long long heap_growth, int count) {
    JsonLine line;
    line.add("scenario", scenario).add("impl", "dlock").add_raw("params", params.str());
    line.add("rss_kib_before", static_cast<long long>(before));
    line.add("rss_kib_with", static_cast<long long>(with));
    line.add("bytes_per_item", static_cast<double>(with - before) * 1024.0 / count);
    line.add("rss_kib_with_trimmed", static_cast<long long>(with_trimmed));
    line.add("heap_bytes_per_item", static_cast<double>(heap_growth) / count);
    return line;
}

}  // namespace

void run_memory_held(const Params& params) {
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), params.url);
    std::vector<std::unique_ptr<dlock::Lock>> locks;
    long before = 0, with = 0, with_trimmed = 0;
    long long heap_before = 0, heap_with = 0;
    double acquire_s = 0, release_s = 0;
    run_to_end(io, [&]() -> asio::awaitable<void> {
        // What is paid once per process, not per lock, is paid before the first sample: the
        // connection and its buffers, the scripts' SHA-1s, the token generator's buffer and
        // the table of cluster slot tags (512 KiB, which would add 512 bytes per lock at 1k).
        {
            dlock::Lock warm_up(redis, "bench:held:warm-up", lock_options(60));
            if (!co_await warm_up.acquire({.blocking = false}))
                throw std::runtime_error("lock was taken");
            co_await warm_up.release();
        }
        // The application's own vector of locks is not the library's memory.
        locks.reserve(static_cast<std::size_t>(params.locks));
        before = trimmed_rss_kib();
        heap_before = heap_in_use();
        // Held from the first acquisition to the last release: at 1M on a loaded machine that
        // is minutes, and an expired lock would fail its release.
        const double timeout_s = std::max(60.0, params.locks / 1000.0);
        for (int i = 0; i < params.locks; ++i) {
            locks.push_back(std::make_unique<dlock::Lock>(redis, "bench:held:" + std::to_string(i),
                                                          lock_options(timeout_s)));
        }
        const auto t0 = Clock::now();
        // 1,000 acquisitions in flight at a time: 100,000 at once outlast their command
        // timeout in the connection's queue.
        constexpr std::size_t in_flight = 1000;
        for (std::size_t first = 0; first < locks.size(); first += in_flight) {
            Join acquired(co_await asio::this_coro::executor);
            for (std::size_t i = first; i < std::min(locks.size(), first + in_flight); ++i) {
                acquired.spawn([](dlock::Lock& l) -> asio::awaitable<void> {
                    if (!co_await l.acquire({.blocking = false}))
                        throw std::runtime_error("lock was taken");
                }(*locks[i]));
            }
            co_await acquired.wait();
        }
        acquire_s = std::chrono::duration<double>(Clock::now() - t0).count();
        with = rss_kib();
        heap_with = heap_in_use();
        with_trimmed = trimmed_rss_kib();
        const auto t1 = Clock::now();
        for (std::size_t first = 0; first < locks.size(); first += in_flight) {
            Join released(co_await asio::this_coro::executor);
            for (std::size_t i = first; i < std::min(locks.size(), first + in_flight); ++i)
                released.spawn(locks[i]->release());
            co_await released.wait();
        }
        release_s = std::chrono::duration<double>(Clock::now() - t1).count();
    }());
    JsonLine p;
    p.add("locks", params.locks).add("connections", 1);
    JsonLine line = memory_line("mem_held", p, before, with, with_trimmed, heap_with - heap_before,
                                params.locks);
    line.add("acquire_all_s", acquire_s);
    line.add("release_all_s", release_s);
    std::cout << line.str() << std::endl;
}

void run_memory_waiters(const Params& params) {
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), params.url);
    const std::string name = "bench:waited-on";
    long before = 0, with = 0, with_trimmed = 0;
    long long heap_before = 0, heap_with = 0;
    double drain_s = 0;
    double attempts_per_handoff = 0;
    run_to_end(io, [&]() -> asio::awaitable<void> {
        co_await redis.command("DEL", name);
        dlock::Lock holder(redis, name, lock_options(60));
        if (!co_await holder.acquire()) throw std::runtime_error("could not take the lock");
        // Acquisition attempts that can queue a waiter run dlock's acquire script, which runs
        // ZADD exactly once when it fails (the lock is held: it queues the process).
        const auto queued_attempts = [&]() -> asio::awaitable<long long> {
            const Reply info = co_await redis.command("INFO", "commandstats");
            co_return command_calls(info.str)["zadd"];
        };
        const long long attempts_before = co_await queued_attempts();
        before = trimmed_rss_kib();
        heap_before = heap_in_use();
        Join done(co_await asio::this_coro::executor);
        for (int i = 0; i < params.waiters; ++i) {
            done.spawn([](dlock::Redis& r, std::string n) -> asio::awaitable<void> {
                dlock::Lock lock(r, n, lock_options(60));
                if (!co_await lock.acquire())
                    throw std::runtime_error("blocking acquire returned false");
                co_await lock.release();
            }(redis, name));
        }
        // A waiter is blocked once its attempt through the acquire script (after its process's
        // inbox was subscribed) failed; its first poll comes only after the lock's `sleep`.
        for (;;) {
            if (co_await queued_attempts() - attempts_before >= params.waiters) break;
            co_await pause(std::chrono::milliseconds(5));
        }
        with = rss_kib();
        heap_with = heap_in_use();
        with_trimmed = trimmed_rss_kib();
        // While processes are queued every acquisition attempt and every release is one
        // script call (the plain-SET fast path is only for a lock nobody waits for; a "set"
        // inside a script counts in commandstats too, so scripts are what is counted): during
        // the drain there are waiters + 1 releases, the rest are the hand-offs' attempts
        // (exactly 1 each when the wake-up reaches the right waiter and nobody polls).
        const auto lock_calls = [&]() -> asio::awaitable<long long> {
            const Reply info = co_await redis.command("INFO", "commandstats");
            auto calls = command_calls(info.str);
            co_return calls["evalsha"] + calls["eval"];
        };
        const long long calls_before = co_await lock_calls();
        const auto t0 = Clock::now();
        co_await holder.release();  // the waiters now take and release the lock one by one
        co_await done.wait();
        drain_s = std::chrono::duration<double>(Clock::now() - t0).count();
        const long long attempts = co_await lock_calls() - calls_before - (params.waiters + 1);
        attempts_per_handoff = static_cast<double>(attempts) / params.waiters;
    }());
    JsonLine p;
    p.add("waiters", params.waiters).add("model", "coroutines on one client");
    JsonLine line = memory_line("mem_waiters", p, before, with, with_trimmed,
                                heap_with - heap_before, params.waiters);
    line.add("drain_s", drain_s);
    line.add("ops_per_s", drain_s > 0 ? params.waiters / drain_s : 0.0);
    line.add("attempts_per_handoff", attempts_per_handoff);
    std::cout << line.str() << std::endl;
}

}  // namespace dlock::bench
