// Fencing tokens: every acquisition of a name gets a larger number than all before (across Lock
// objects, clients and expiries), and a holder that was paused past its timeout has its stale
// write refused by the resource (dlock::fenced_write).
#include "dlock/fencing.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <optional>

#include "async.hpp"
#include "dlock/lock.hpp"
#include "dlock/redis.hpp"
#include "names.hpp"
#include "plain_server_test.hpp"
#include "protocol/keys.hpp"
#include "protocol/slots.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::detail::fence_key;
using dlock::detail::key_slot;
using dlock::detail::wait_queue_key;

dlock::LockOptions fenced(std::optional<dlock::Seconds> timeout = {}) {
    dlock::LockOptions options;
    options.fencing = true;
    options.timeout = timeout;
    options.sleep = 0.005s;  // waiting for an expiry is polling: nobody publishes it
    options.blocking_timeout = 5s;
    return options;
}

TEST(FencingKeys, CounterChannelAndLastFenceShareTheSlotOfTheirKey) {
    const std::vector<std::string> names{"a",
                                         "orders",
                                         "user:{42}:profile",
                                         "{}",
                                         "{",
                                         "}{x}",
                                         std::string("bin\0ary\xff", 8),
                                         "{tag}rest",
                                         std::string(300, 'z')};
    for (const auto& name : names) {
        EXPECT_EQ(key_slot(fence_key(name)), key_slot(name)) << name;
        EXPECT_EQ(key_slot(wait_queue_key(name)), key_slot(name)) << name;
        EXPECT_EQ(key_slot(dlock::last_fence_key(name)), key_slot(name)) << name;
    }
}

class Fencing : public dlock::test::PlainServerTest {};

TEST_F(Fencing, EveryAcquisitionGetsALargerFenceThanAllBefore) {
    dlock::Redis& admin = new_client();
    run([&]() -> asio::awaitable<void> {
        // Three objects on two connections; one with a 30 ms timeout that is never released,
        // so the next acquisition happens only after its key expired.
        dlock::Lock a(client_, name_, fenced());
        dlock::Lock b(other_, name_, fenced());
        dlock::Lock expiring(other_, name_, fenced(0.03s));
        std::int64_t previous = 0;
        for (int i = 0; i < 100; ++i) {
            dlock::Lock& lock = i % 3 == 0 ? a : i % 3 == 1 ? b : expiring;
            EXPECT_TRUE(co_await lock.acquire()) << "acquisition " << i;
            const std::optional<std::int64_t> fence = lock.fence();
            EXPECT_TRUE(fence.has_value()) << "acquisition " << i;
            if (!fence) co_return;
            EXPECT_GT(*fence, previous) << "acquisition " << i;
            previous = *fence;
            if (&lock != &expiring) {
                co_await lock.release();
                EXPECT_FALSE(lock.fence().has_value());
            }
        }
        // The counter lives on after the lock key is gone.
        EXPECT_EQ((co_await admin.command("EXISTS", name_)).integer, 0);
        const dlock::Reply counter = co_await admin.command("GET", fence_key(name_));
        EXPECT_EQ(counter.str, std::to_string(previous));
        dlock::Lock after(client_, name_, fenced());
        EXPECT_TRUE(co_await after.acquire());
        EXPECT_EQ(after.fence(), previous + 1);
        co_await after.release();
        co_await admin.command("DEL", fence_key(name_));
    });
}

TEST_F(Fencing, WithoutTheOptionThereIsNoFence) {
    run([&]() -> asio::awaitable<void> {
        dlock::Lock lock(client_, name_);
        EXPECT_TRUE(co_await lock.acquire());
        EXPECT_FALSE(lock.fence().has_value());
        const dlock::Reply counter = co_await client_.command("EXISTS", fence_key(name_));
        EXPECT_EQ(counter.integer, 0);
        co_await lock.release();
    });
}

TEST_F(Fencing, APausedHolderHasItsStaleWriteRefused) {
    dlock::Redis& resource = new_client();
    const std::string resource_key = name_ + ":resource";
    run([&]() -> asio::awaitable<void> {
        dlock::Lock paused(client_, name_, fenced(0.2s));
        EXPECT_TRUE(co_await paused.acquire());
        const std::int64_t old_fence = paused.fence().value_or(-1);
        EXPECT_TRUE(co_await dlock::fenced_write(resource, resource_key, old_fence,
                                                 "written by the first holder"));

        // The first holder now stalls (GC, swap, SIGSTOP): it does nothing while its key
        // expires and the next holder takes the lock and writes.
        dlock::Lock next(other_, name_, fenced(10s));
        EXPECT_TRUE(co_await next.acquire());
        const std::int64_t new_fence = next.fence().value_or(-1);
        EXPECT_GT(new_fence, old_fence);
        EXPECT_TRUE(co_await dlock::fenced_write(resource, resource_key, new_fence,
                                                 "written by the next holder"));
        EXPECT_TRUE(co_await dlock::fenced_write(resource, resource_key, new_fence,
                                                 "and again"));  // same fence: ok

        // The first holder resumes, unaware, and writes with its old fence: refused.
        EXPECT_FALSE(
            co_await dlock::fenced_write(resource, resource_key, old_fence, "stale write"));
        EXPECT_EQ((co_await resource.command("GET", resource_key)).str, "and again");
        const std::string last_fence_key = dlock::last_fence_key(resource_key);
        EXPECT_EQ((co_await resource.command("GET", last_fence_key)).str,
                  std::to_string(new_fence));
        // And its lock is gone, as release() tells it.
        bool release_refused = false;
        try {
            co_await paused.release();
        } catch (const dlock::LockReleaseError&) {
            release_refused = true;
        }
        EXPECT_TRUE(release_refused);

        co_await next.release();
        co_await resource.command("DEL", resource_key, last_fence_key, fence_key(name_));
    });
}

TEST_F(Fencing, FencedWriteRejectsBadArguments) {
    run([&]() -> asio::awaitable<void> {
        const std::string key = dlock::test::unique_name();
        EXPECT_THROW(co_await dlock::fenced_write(client_, "", 1, "v"), std::invalid_argument);
        EXPECT_THROW(co_await dlock::fenced_write(client_, key, -1, "v"), std::invalid_argument);
        EXPECT_THROW(co_await dlock::fenced_write(client_, key, 1, "v", dlock::Seconds(0)),
                     std::invalid_argument);
        // A last-fence key that is not a string: the server's error comes through.
        co_await client_.command("RPUSH", dlock::last_fence_key(key), "x");
        EXPECT_THROW(co_await dlock::fenced_write(client_, key, 1, "v"), dlock::ServerError);
        co_await client_.command("DEL", key, dlock::last_fence_key(key));
    });
}

}  // namespace
