// The opt-in WAIT of a plain dlock::Redis pointed at a primary with a replica
// (ConnectionOptions::confirm_on_replicas), on a real primary + replica (scripts/redis-harness
// kind `replicated`). Every test starts its own pair, since it stops or kills the replica.
#include <signal.h>

#include <asio.hpp>
#include <string>
#include <vector>

#include "async.hpp"
#include "client/backend.hpp"
#include "dlock/lock.hpp"
#include "dlock/redis.hpp"
#include "later_writes.hpp"
#include "names.hpp"
#include "own_servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::Lock;
using dlock::Reply;
using namespace dlock::test;

constexpr std::size_t primary = 0;
constexpr std::size_t replica = 1;

dlock::ConnectionOptions confirming(const OwnServers& own, std::size_t replicas = 0) {
    dlock::ConnectionOptions options = dlock::parse_url(own.url(primary));
    options.confirm_on_replicas = {.enabled = true, .replicas = replicas};
    return options;
}

// One command on one server (from inside a coroutine), errors returned as replies.
asio::awaitable<Reply> on_server_args(std::string url, std::vector<std::string> args) {
    dlock::Redis node(co_await asio::this_coro::executor, url);
    dlock::Request request;
    request.push(std::span<const std::string>(args));
    auto replies = co_await node.pipeline(request);
    co_return std::move(replies.front());
}
// Variadic, not a braced list: GCC 12 miscompiles braced lists inside co_await expressions.
template <class... Args>
asio::awaitable<Reply> on_server(const std::string& url, const Args&... args) {
    return on_server_args(url, std::vector<std::string>{std::string(args)...});
}

// Every test starts its own primary + replica; `redis` confirms on the replica (R from ROLE).
class ReplicaConfirmation : public ::testing::Test {
  protected:
    OwnServers own{"replicated"};
    asio::io_context io;
    dlock::Redis redis{io.get_executor(), confirming(own)};
};

TEST_F(ReplicaConfirmation, IsOffByDefault) {
    dlock::Redis plain(io.get_executor(), own.url(primary));
    run(io, [&]() -> asio::awaitable<void> {
        Lock lock(plain, unique_name(":") + "off", {.timeout = 10s, .blocking = false});
        EXPECT_TRUE(co_await lock.acquire());
        EXPECT_EQ(lock.replication_factor(), 0u);
        co_await lock.release();
    });
}

TEST_F(ReplicaConfirmation, AcquisitionCountsOnlyOnceTheReplicaHasIt) {
    const std::string name = unique_name(":") + "confirmed";
    run(io, [&]() -> asio::awaitable<void> {
        // A WAIT that may take its time (a loaded machine): only a replica that never
        // confirms may fail this test.
        Lock lock(redis, name, {.timeout = 10s, .blocking = false, .replication_timeout = 10s});
        EXPECT_TRUE(co_await lock.acquire());
        // ROLE was read before the first write: R = 1, WAIT 1.
        EXPECT_EQ(lock.replication_factor(), 1u);
        EXPECT_EQ(lock.replication_shortfalls(), 0u);
        // Confirmed by WAIT: the replica has the key when acquire() returns.
        EXPECT_EQ((co_await on_server(own.url(replica), "EXISTS", name)).integer, 1);
        co_await lock.release();
    });
}

TEST_F(ReplicaConfirmation, AFrozenReplicaMakesTheAcquisitionFailWithoutLeavingTheKey) {
    const std::string name = unique_name(":") + "frozen";
    run(io, [&]() -> asio::awaitable<void> {
        co_await redis.command("PING");  // ROLE read while the replica is linked
        own.freeze(replica);
        std::vector<dlock::ReplicationShortfall> told;
        Lock lock(
            redis, name,
            {.timeout = 10s, .blocking = false, .on_replication_shortfall = appending_to(told)});
        EXPECT_FALSE(co_await lock.acquire());
        own.thaw(replica);
        EXPECT_EQ(lock.replication_shortfalls(), 1u);
        CO_ASSERT(told.size() == 1u);
        EXPECT_EQ(told[0].needed, 1u);
        EXPECT_EQ(told[0].confirmed, 0);
        EXPECT_EQ((co_await redis.command("EXISTS", name)).integer, 0);  // rolled back
        // Thawed: the next attempt is confirmed.
        Lock again(redis, name,
                   {.timeout = 10s, .blocking_timeout = 10s, .replication_timeout = 10s});
        EXPECT_TRUE(co_await again.acquire());
        co_await again.release();
    });
}

// A killed replica vanishes from ROLE at once; the configured count keeps R at 1, so the
// acquisition is refused rather than confirmed by nobody.
TEST_F(ReplicaConfirmation, AStoppedReplicaStillCountsWhenTheExpectedCountIsGiven) {
    dlock::Redis counted(io.get_executor(), confirming(own, 1));
    dlock::Redis& listed_only = redis;
    const std::string name = unique_name(":") + "stopped";
    run(io, [&]() -> asio::awaitable<void> {
        own.kill(replica);
        Lock lock(counted, name, {.timeout = 10s, .blocking = false});
        EXPECT_FALSE(co_await lock.acquire());
        EXPECT_EQ(lock.replication_factor(), 1u);
        EXPECT_EQ(lock.replication_shortfalls(), 1u);
        EXPECT_EQ((co_await counted.command("EXISTS", name)).integer, 0);
        // Without the count, R is what ROLE lists: none once the primary saw the replica's
        // connection close, so nothing is confirmed (the reason to give the count).
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> {
                const Reply role = co_await on_server(own.url(primary), "ROLE");
                co_return role.is_array() && role.elements.size() == 3 &&
                    role.elements[2].elements.empty();
            },
            5s));
        Lock unconfirmed(listed_only, name, {.timeout = 10s, .blocking = false});
        EXPECT_TRUE(co_await unconfirmed.acquire());
        EXPECT_EQ(unconfirmed.replication_factor(), 0u);
        co_await unconfirmed.release();
    });
}

TEST_F(ReplicaConfirmation, ExtendAndReleaseWaitToo) {
    run(io, [&]() -> asio::awaitable<void> {
        co_await expect_later_writes_fall_short(
            redis, unique_name(":") + "later", [&] { own.freeze(replica); },
            [&] { own.thaw(replica); });
        co_await expect_permit_writes_fall_short(
            redis, unique_name(":") + "permit", [&] { own.freeze(replica); },
            [&] { own.thaw(replica); });
    });
}

TEST(ReplicaConfirmationOptions, BadMaxAgeIsRefusedNamingTheField) {
    dlock::ConnectionOptions options;
    options.confirm_on_replicas = {.enabled = true, .max_age = dlock::Seconds(-1)};
    asio::io_context io;
    const std::string message =
        invalid_argument_from([&] { dlock::Redis redis(io.get_executor(), options); });
    EXPECT_NE(message.find("confirm_on_replicas.max_age"), std::string::npos) << message;
}

}  // namespace
