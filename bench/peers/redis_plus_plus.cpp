// dlock-bench-redispp: redis-plus-plus (a C++ peer, built against an install of it, see
// bench/CMakeLists.txt) in S1 and S2, one JSON line shaped like dlock-bench's.
//
//   --scenario S1  one thread on a sw::redis::Redis with one connection: try-lock + unlock
//                  of one name in a loop, each pair timed
//   --scenario S2  --tasks N threads sharing one sw::redis::Redis whose pool holds N
//                  connections, each thread on its own name
//
// A pair is what a caller of its Redlock pattern with one server writes: a fresh
// sw::redis::RedLock<RedLockMutex> (a new random value), try_lock with a 10 s TTL (one attempt,
// SET NX PX), then unlock (EVAL of a compare-and-delete). The first min(0.5 s, duration / 5)
// is warm-up, not measured.
#include <hiredis/hiredis.h>
#include <sw/redis++/patterns/redlock.h>
#include <sw/redis++/redis++.h>
#include <sw/redis++/version.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench.hpp"

namespace {

using namespace dlock::bench;

constexpr std::chrono::milliseconds ttl{10000};

struct Window {
    Clock::time_point measure_from;
    Clock::time_point end;
};

// One thread's loop on its own name; returns the pairs done, warm-up included.
long long pair_loop(const std::shared_ptr<sw::redis::Redis>& redis, const std::string& name,
                    Window window, std::vector<double>& samples_us) {
    sw::redis::RedLockMutex mutex(redis, name);
    long long pairs = 0;
    for (;;) {
        const auto start = Clock::now();
        if (start >= window.end) break;
        sw::redis::RedLock<sw::redis::RedLockMutex> lock(mutex, std::defer_lock);
        if (!lock.try_lock(ttl)) throw std::runtime_error("uncontended acquire failed");
        lock.unlock();
        ++pairs;
        if (start >= window.measure_from) samples_us.push_back(micros(Clock::now() - start));
    }
    return pairs;
}

std::string dotted(int major, int minor, int patch) {
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

// {"redis-plus-plus": ..., "hiredis": ...}: the versions compiled in (report.py lists them).
std::string versions() {
    JsonLine version;
    version
        .add("redis-plus-plus",
             dotted(sw::redis::VERSION_MAJOR, sw::redis::VERSION_MINOR, sw::redis::VERSION_PATCH))
        .add("hiredis", dotted(HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH));
    return version.str();
}

void run(const std::string& url, const std::string& scenario, int tasks, double duration_s) {
    const sw::redis::Uri uri(url);
    sw::redis::ConnectionPoolOptions pool = uri.connection_pool_options();
    pool.size = static_cast<std::size_t>(tasks);
    auto redis = std::make_shared<sw::redis::Redis>(uri.connection_options(), pool);
    redis->ping();  // fail here, not in a thread, when the server is not there

    const auto seconds = [](double s) {
        return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
    };
    Window window;
    window.measure_from = Clock::now() + seconds(std::min(0.5, duration_s / 5));
    window.end = window.measure_from + seconds(duration_s);

    const std::string prefix = scenario == "S1" ? "bench:s1:" : "bench:s2:";
    std::vector<std::vector<double>> per_thread(static_cast<std::size_t>(tasks));
    std::vector<long long> pairs(static_cast<std::size_t>(tasks), 0);
    std::exception_ptr failure;
    std::mutex failure_mutex;
    const double cpu_before = cpu_us();
    {
        std::vector<std::jthread> threads;
        for (std::size_t i = 0; i < per_thread.size(); ++i) {
            per_thread[i].reserve(1 << 16);
            threads.emplace_back([&, i] {
                try {
                    pairs[i] = pair_loop(redis, prefix + std::to_string(i), window, per_thread[i]);
                } catch (...) {
                    const std::lock_guard guard(failure_mutex);
                    if (!failure) failure = std::current_exception();
                }
            });
        }
    }
    if (failure) std::rethrow_exception(failure);
    long long all_pairs = 0;
    for (long long n : pairs) all_pairs += n;
    const double cpu_used = cpu_us() - cpu_before;
    std::vector<double> samples_us;
    for (const auto& samples : per_thread)
        samples_us.insert(samples_us.end(), samples.begin(), samples.end());

    JsonLine params;
    params.add("tasks", tasks)
        .add("duration_s", duration_s)
        .add("op", "acquire+release")
        .add("connections", tasks)
        .add("model", "threads")
        .add("ttl_ms", static_cast<long long>(ttl.count()));
    JsonLine line;
    line.add("scenario", scenario).add("impl", "redis-plus-plus").add_raw("params", params.str());
    add_blocking_results(line, samples_us, duration_s,
                         all_pairs > 0 ? cpu_used / static_cast<double>(all_pairs) : 0.0);
    line.add_raw("version", versions());
    std::cout << line.str() << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"redis-plus-plus's RedLock in S1/S2, one JSON line"};
    std::string url = "redis://127.0.0.1:6379", scenario = "S1";
    double duration_s = 3.0;
    int tasks = 64;
    app.add_option("--url", url, "redis://host:port");
    app.add_option("--scenario", scenario, "S1: one thread; S2: --tasks threads")
        ->check(CLI::IsMember({"S1", "S2"}));
    app.add_option("--duration", duration_s, "measured seconds")->check(CLI::PositiveNumber);
    app.add_option("--tasks", tasks, "S2: threads, and connections in the pool")
        ->check(CLI::Range(1, 4096));
    CLI11_PARSE(app, argc, argv);
    if (scenario == "S1") tasks = 1;
    try {
        run(url, scenario, tasks, duration_s);
    } catch (const std::exception& error) {
        JsonLine line;
        line.add("scenario", scenario).add("impl", "redis-plus-plus").add("error", error.what());
        std::cout << line.str() << std::endl;
        std::cerr << "dlock-bench-redispp: " << error.what() << std::endl;
        return 1;
    }
    return 0;
}
