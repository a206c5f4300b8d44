// async_lock: two coroutines compete for one distributed lock.
//
//   async_lock [redis://host:port]      (or DLOCK_URL; default redis://127.0.0.1:6379)
//
// Each worker runs its critical section with Lock::with(), which acquires (waiting up to
// blocking_timeout), runs the body, and releases even if the body throws. Both workers share
// one dlock::Redis, so they share one connection; a waiter is woken by the holder's release.
#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <cstdlib>
#include <dlock/lock.hpp>
#include <dlock/redis.hpp>
#include <iostream>
#include <string>

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

namespace {

const std::string lock_name = "dlock:example:async-lock";

asio::awaitable<void> worker(dlock::Redis& redis, std::string who) {
    // timeout: the lock expires by itself if this process dies while holding it.
    dlock::Lock lock(redis, lock_name, {.timeout = 10s, .blocking_timeout = 30s});
    for (int round = 1; round <= 3; ++round) {
        co_await lock.with([&]() -> asio::awaitable<void> {
            std::cout << who << " holds the lock (round " << round << ", token " << *lock.token()
                      << ")\n";
            asio::steady_timer work(co_await asio::this_coro::executor, 50ms);
            co_await work.async_wait(asio::use_awaitable);
            co_await lock.extend(5s);  // the work took longer than planned: keep the lock longer
        });
        // Work outside the lock: meanwhile the other worker, woken by the release, gets its turn.
        asio::steady_timer other_work(co_await asio::this_coro::executor, 20ms);
        co_await other_work.async_wait(asio::use_awaitable);
    }
    std::cout << who << " is done\n";
}

asio::awaitable<void> run(dlock::Redis& redis) {
    const std::string alice = "alice", bob = "bob";  // (no literals inside co_await: GCC 12)
    co_await (worker(redis, alice) && worker(redis, bob));
    redis.close();  // lets io.run() return
}

}  // namespace

int main(int argc, char** argv) {
    const char* env = std::getenv("DLOCK_URL");
    const std::string url = argc > 1 ? argv[1] : env ? env : "redis://127.0.0.1:6379";
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), url);
    int status = 0;
    // A coroutine's exception arrives here, at its completion handler.
    asio::co_spawn(io, run(redis), [&](std::exception_ptr error) {
        if (!error) return;
        status = 1;
        redis.close();  // the other worker may still hold the connection: io.run() must return
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            std::cerr << "async_lock: " << e.what() << "\n";
        }
    });
    io.run();
    return status;
}
