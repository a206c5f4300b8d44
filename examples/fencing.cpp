// fencing: a lock alone cannot stop a holder that was paused past its timeout; a fencing token
// checked by the resource can.
//
//   fencing [redis://host:port]      (or DLOCK_URL; default redis://127.0.0.1:6379)
//
// The first holder takes a 0.5 s lock, writes, then stalls for 1 s (a GC pause, swap, SIGSTOP):
// its lock expires and a second holder takes it and writes. The first holder resumes, still
// believing it holds the lock, and writes again. Each write carries the fence its holder got
// from acquire(); dlock::fenced_write refuses the stale one. Exit status 0 when it was refused.
#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <cstdlib>
#include <dlock/fencing.hpp>
#include <dlock/lock.hpp>
#include <dlock/redis.hpp>
#include <future>
#include <iostream>
#include <string>

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

namespace {

const std::string lock_name = "dlock:example:fencing";
const std::string resource = "dlock:example:fencing:report";  // what the lock protects

asio::awaitable<void> pause(std::chrono::milliseconds duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(asio::use_awaitable);
}

// Holds the lock (already acquired), writes, stalls past the lock's timeout, writes again.
// Returns true when its late write was refused.
asio::awaitable<bool> stalled_holder(dlock::Redis& redis, dlock::Lock& lock) {
    const std::int64_t fence = *lock.fence();
    const std::string before = "written by the first holder",
                      after = "written by the first holder after its pause";
    const bool first_write = co_await dlock::fenced_write(redis, resource, fence, before);
    std::cout << "first holder:  fence " << fence << ", write "
              << (first_write ? "accepted" : "refused") << "\n";
    co_await pause(1000ms);  // the "pause": the 0.5 s lock expires meanwhile
    const bool late_write = co_await dlock::fenced_write(redis, resource, fence, after);
    std::cout << "first holder:  resumed, fence " << fence << ", write "
              << (late_write ? "accepted (the resource is corrupted!)" : "refused as stale")
              << "\n";
    try {
        co_await lock.release();
    } catch (const dlock::LockReleaseError& e) {
        std::cout << "first holder:  " << e.what() << "\n";
    }
    co_return !late_write;
}

// Takes the lock once the first holder's key has expired (nobody announces an expiry, so this
// wait is the `sleep` poll), writes with its newer fence.
asio::awaitable<void> next_holder(dlock::Redis& redis, dlock::Lock& lock) {
    if (!co_await lock.acquire())
        throw std::runtime_error("the second holder could not get the lock");
    const std::int64_t fence = *lock.fence();
    const std::string value = "written by the second holder";
    const bool written = co_await dlock::fenced_write(redis, resource, fence, value);
    std::cout << "second holder: fence " << fence << ", write "
              << (written ? "accepted" : "refused") << "\n";
    co_await pause(1000ms);  // still working when the first holder resumes
    co_await lock.release();
}

// Returns true when the stale write was refused.
asio::awaitable<bool> demonstrate(dlock::Redis& redis) {
    dlock::Lock first(redis, lock_name, {.timeout = 500ms, .fencing = true});
    dlock::Lock second(redis, lock_name,
                       {.timeout = 10s, .sleep = 50ms, .blocking_timeout = 5s, .fencing = true});
    if (!co_await first.acquire()) throw std::runtime_error("the lock is held by someone else");
    const bool refused = co_await (stalled_holder(redis, first) && next_holder(redis, second));
    std::cout << "resource now: " << (co_await redis.command("GET", resource)).str << "\n";
    co_await redis.command("DEL", resource, dlock::last_fence_key(resource));
    co_return refused;
}

// The exit status. Errors (an unreachable server, a lock held by someone else) are caught here,
// inside the coroutine, where they are thrown: main only needs the number.
asio::awaitable<int> run(dlock::Redis& redis) {
    int status = 1;
    try {
        status = co_await demonstrate(redis) ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "fencing: " << e.what() << "\n";
    }
    redis.close();  // lets io.run() return
    co_return status;
}

// argv[1], else $DLOCK_URL, else a server on this machine.
std::string server_url(int argc, char** argv) {
    const char* env = std::getenv("DLOCK_URL");
    return argc > 1 ? argv[1] : env ? env : "redis://127.0.0.1:6379";
}

}  // namespace

int main(int argc, char** argv) {
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), server_url(argc, argv));
    // run() throws nothing, so its result can come back through a future.
    std::future<int> status = asio::co_spawn(io, run(redis), asio::use_future);
    io.run();
    return status.get();
}
