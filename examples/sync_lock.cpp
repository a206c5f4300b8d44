// sync_lock: threads serialise a read-modify-write of a Redis counter with std::unique_lock.
//
//   sync_lock [redis://host:port]       (or DLOCK_URL; default redis://127.0.0.1:6379)
//
// dlock::sync::Lock is Lockable, so the standard lock utilities work with it. Without the lock
// the GET/SET pairs of different threads would interleave and lose increments.
#include <cstdlib>
#include <dlock/sync.hpp>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

int main(int argc, char** argv) try {
    const char* env = std::getenv("DLOCK_URL");
    const std::string url = argc > 1 ? argv[1] : env ? env : "redis://127.0.0.1:6379";
    const std::string lock_name = "dlock:example:sync-lock";
    const std::string counter = lock_name + ":counter";
    constexpr int threads = 4, rounds = 25;

    dlock::sync::Redis redis(url);  // one connection and I/O thread, shared by all threads
    redis.command({"DEL", counter});

    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            // One Lock object per thread (a Lock is not shared between threads); same name.
            dlock::sync::Lock lock(redis, lock_name, {.timeout = 10s});
            for (int i = 0; i < rounds; ++i) {
                std::unique_lock guard(lock);  // blocks until acquired; released at scope end
                const dlock::Reply value = redis.command({"GET", counter});
                const int next = (value.is_nil() ? 0 : std::stoi(value.str)) + 1;
                redis.command({"SET", counter, std::to_string(next)});
            }
            if (lock.last_unlock_error()) std::cerr << "a lock expired while held\n";
        });
    }
    for (auto& worker : workers) worker.join();

    const std::string total = redis.command({"GET", counter}).str;
    redis.command({"DEL", counter});
    std::cout << "counter = " << total << " (expected " << threads * rounds << ")\n";
    return total == std::to_string(threads * rounds) ? 0 : 1;
} catch (const std::exception& e) {
    std::cerr << "sync_lock: " << e.what() << "\n";
    return 1;
}
