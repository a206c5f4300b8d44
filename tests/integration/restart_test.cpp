// A server that restarts under a lock (issue 11): the fence counter lost with a dataset that was
// not persisted, and acquisitions made while a restarted server still loads its dataset. Each
// test restarts a redis-server of its own through the harness.
#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include "async.hpp"
#include "dlock/errors.hpp"
#include "dlock/fencing.hpp"
#include "dlock/lock.hpp"
#include "dlock/redis.hpp"
#include "names.hpp"
#include "own_servers.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::Lock;
using dlock::Seconds;
using namespace dlock::test;

// ---- the fence counter after a restart without persistence -------------------------------

// The counter lived only in memory: after a restart it began again at 1, so every fence was
// below the last one the resource had seen and every fenced write was refused (safe, but no
// progress ever again). A counter found missing now restarts from the server's clock in
// microseconds, above every fence handed out before.
TEST(Restart, FencesKeepGrowingAfterARestartWithoutPersistence) {
    OwnServers server{"plain"};
    asio::io_context io;
    dlock::Redis resource(io.get_executor(), dlock::test::server("PLAIN_URL"));  // not restarted
    const std::string name = unique_name();
    const std::string resource_key = unique_name() + ":resource";
    std::int64_t before = 0;
    {
        dlock::Redis redis(io.get_executor(), server.url());
        Lock lock(redis, name, {.timeout = Seconds(60), .fencing = true});
        run(io, [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 3; ++i) {
                EXPECT_TRUE(co_await lock.acquire());
                before = lock.fence().value_or(0);
                EXPECT_TRUE(co_await dlock::fenced_write(resource, resource_key, before, "old"));
                co_await lock.release();
            }
        });
    }
    server.restart();  // no persistence: the counter is gone

    dlock::Redis redis(io.get_executor(), server.url());
    Lock lock(redis, name, {.timeout = Seconds(60), .fencing = true});
    run(io, [&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await lock.acquire());
        const std::int64_t after = lock.fence().value_or(0);
        EXPECT_GT(after, before) << "the fence went backwards after the restart";
        EXPECT_TRUE(co_await dlock::fenced_write(resource, resource_key, after, "new"))
            << "the resource refuses every holder after the restart";
        co_await lock.release();
        co_await resource.command("DEL", resource_key, dlock::last_fence_key(resource_key));
    });
}

// ---- acquiring while a restarted server loads its dataset ---------------------------------

// Saves a dataset of 50k keys and restarts the server on it with 20 us per key of loading
// (debugging settings, kept in redis.conf for the restart): some seconds of LOADING, a window
// no test step can miss, during which the server answers every 1 KiB of dataset read (by
// default every 2 MiB: commands would time out rather than see LOADING). Returns once the
// server answers INFO, which it does while loading.
void restart_into_a_long_load(OwnServers& server, asio::io_context& io) {
    dlock::Redis admin(io.get_executor(), server.url());
    run(io, [&]() -> asio::awaitable<void> {
        co_await admin.command("DEBUG", "POPULATE", "50000", "dlock-restart-fill", "8");
        co_await admin.command("CONFIG", "SET", "key-load-delay", "20");
        co_await admin.command("CONFIG", "SET", "loading-process-events-interval-bytes", "1024");
        co_await admin.command("CONFIG", "REWRITE");
        co_await admin.command("SAVE");
    });
    server.restart();
}

// A restarted server answers LOADING until its dataset is in memory. acquire() threw that
// ServerError even when told to wait; a blocking acquire now polls through the load (nothing
// was written) and a non-blocking one still throws it: it makes exactly one attempt.
TEST(Restart, ABlockingAcquireWaitsWhileTheServerLoadsItsDataset) {
    OwnServers server{"plain"};
    asio::io_context io;
    restart_into_a_long_load(server, io);

    dlock::Redis redis(io.get_executor(), server.url());
    const std::string name = unique_name();
    run(io, [&]() -> asio::awaitable<void> {
        const std::string persistence = (co_await redis.command("INFO", "persistence")).str;
        EXPECT_NE(persistence.find("loading:1"), std::string::npos)
            << "the dataset loaded too fast for this test";

        Lock once(redis, name, {.timeout = Seconds(60), .blocking = false});
        const std::exception_ptr refused = co_await thrown_by(once.acquire());
        const auto loading = as<dlock::ServerError>(refused);
        EXPECT_TRUE(loading && loading->code() == "LOADING") << what(refused);

        Lock waiting(redis, name, {.timeout = Seconds(60), .blocking_timeout = Seconds(60)});
        const std::exception_ptr failed = co_await thrown_by(waiting.acquire());
        EXPECT_FALSE(failed) << what(failed);
        if (!failed) {
            EXPECT_TRUE(waiting.token());
            co_await waiting.release();
        }
    });
}

// A blocking acquire whose deadline passes while the server still loads says why it failed
// (ServerError LOADING) rather than "held by someone else".
TEST(Restart, AWaitThatEndsDuringTheLoadThrowsLoading) {
    OwnServers server{"plain"};
    asio::io_context io;
    restart_into_a_long_load(server, io);

    dlock::Redis redis(io.get_executor(), server.url());
    run(io, [&]() -> asio::awaitable<void> {
        Lock lock(redis, unique_name(),
                  {.timeout = Seconds(60), .sleep = Seconds(0.05), .blocking_timeout = 0.2s});
        const std::exception_ptr failed = co_await thrown_by(lock.acquire());
        const auto loading = as<dlock::ServerError>(failed);
        EXPECT_TRUE(loading && loading->code() == "LOADING") << what(failed);
    });
}

}  // namespace
