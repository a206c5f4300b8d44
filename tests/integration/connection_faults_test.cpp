// Transport faults a real Redis will not produce on demand, injected by an in-process fake
// server (fake_server.hpp): garbage bytes, a reply cut short by a close, a stall, a silent
// AUTH or TLS handshake. Each failure must surface as its own exception type, within its
// deadline, and leave the client usable.
#include <gtest/gtest.h>

#include <asio.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "async.hpp"
#include "call.hpp"
#include "client/standalone.hpp"
#include "dlock/errors.hpp"
#include "dlock/redis.hpp"
#include "fake_server.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::ConnectionOptions;
using dlock::Reply;
using namespace dlock::test;

// The bounds of a wait: at least `min`, less than `max`.
struct Bounds {
    Clock::duration min;
    Clock::duration max;
};

// A PING on `redis` fails with TimeoutError (else the test fails with `otherwise`), within
// `bounds`.
void expect_ping_times_out(asio::io_context& io, dlock::Redis& redis, Bounds bounds,
                           const std::string& otherwise) {
    const auto start = Clock::now();
    const auto error = caught<dlock::TimeoutError>([&] { call(io, redis, {"PING"}); });
    const auto elapsed = Clock::now() - start;
    EXPECT_TRUE(error) << otherwise;
    EXPECT_GE(elapsed, bounds.min);
    EXPECT_LT(elapsed, bounds.max);
}

// Options for the fake server: no CLIENT SETNAME, so the first command the fake sees is ours.
ConnectionOptions fake_options(const FakeServer& fake) {
    ConnectionOptions options = dlock::parse_url(fake.url());
    options.client_name.clear();
    return options;
}

TEST(Faults, GarbageIsProtocolErrorAndTheClientRecovers) {
    // Set after construction: the behaviour reports to the server object itself.
    FakeServer fake(dlock::test::stall);
    fake.set_behaviour([&fake](FakeConnection& connection) {
        if (!connection.read_command()) return;
        connection.write("?this is not RESP\r\n");
        connection.wait_for_client_close();
        fake.note("client closed");
    });
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), fake_options(fake));

    auto error = caught<dlock::ProtocolError>([&] { call(io, redis, {"PING"}); });
    ASSERT_TRUE(error) << "garbage was accepted as a reply";
    // The broken connection is dropped by the client, not left open.
    EXPECT_TRUE(fake.wait_for("client closed", 5s));
    EXPECT_FALSE(dlock::detail::connection_of(redis)->connected());

    fake.set_behaviour(dlock::test::answer_correctly);
    EXPECT_EQ(call(io, redis, {"PING"}).str, "PONG");
    EXPECT_EQ(fake.accepted(), 2) << "the client did not reconnect";
}

TEST(Faults, ReplyCutShortByCloseIsConnectionError) {
    FakeServer fake([](FakeConnection& connection) {
        if (!connection.read_command()) return;
        connection.write("$10\r\nhello");  // half of a 10-byte bulk string, then the close
    });
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), fake_options(fake));

    auto error = caught<dlock::ConnectionError>([&] { call(io, redis, {"GET", "k"}); });
    ASSERT_TRUE(error) << "a truncated reply was not reported as a lost connection";
    EXPECT_NE(std::string(error->what()).find("lost"), std::string::npos) << error->what();

    fake.set_behaviour(dlock::test::answer_correctly);
    EXPECT_EQ(call(io, redis, {"PING"}).str, "PONG");
}

TEST(Faults, CloseRightAfterAcceptIsConnectionError) {
    FakeServer fake([](FakeConnection&) {});  // returning closes the connection
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), fake_options(fake));
    EXPECT_THROW(call(io, redis, {"PING"}), dlock::ConnectionError);
}

TEST(Faults, StalledServerIsTimeoutErrorWithinCommandTimeout) {
    FakeServer fake(dlock::test::stall);
    asio::io_context io;
    ConnectionOptions options = fake_options(fake);
    options.command_timeout = 300ms;
    dlock::Redis redis(io.get_executor(), options);
    expect_ping_times_out(io, redis, {300ms, 3s}, "a command to a silent server returned");
}

// connect_timeout bounds the whole connect, AUTH included, independently of command_timeout.
TEST(Faults, SilentAuthHandshakeIsTimeoutErrorWithinConnectTimeout) {
    FakeServer fake(dlock::test::stall);
    asio::io_context io;
    ConnectionOptions options = fake_options(fake);
    options.password = "never-answered";
    options.connect_timeout = 300ms;
    options.command_timeout = 20s;
    dlock::Redis redis(io.get_executor(), options);
    // Bounded by connect_timeout, not by command_timeout (20 s).
    expect_ping_times_out(io, redis, {300ms, 5s},
                          "a connect whose AUTH is never answered did not time out");

    // The abandoned AUTH must not take the replies of the next connection's handshake.
    fake.set_behaviour(dlock::test::answer_correctly);
    EXPECT_EQ(call(io, redis, {"PING"}).str, "PONG");
    EXPECT_EQ(fake.accepted(), 2);
}

TEST(Faults, SilentTlsHandshakeIsTimeoutErrorWithinConnectTimeout) {
    FakeServer fake(dlock::test::stall);
    asio::io_context io;
    ConnectionOptions options = fake_options(fake);
    options.tls.enabled = true;
    options.tls.verify = false;  // never gets as far as a certificate anyway
    options.connect_timeout = 300ms;
    options.command_timeout = 20s;
    dlock::Redis redis(io.get_executor(), options);
    expect_ping_times_out(io, redis, {300ms, 5s},
                          "a TLS handshake that never completes did not time out");
}

// A valid reply the parser cannot represent (arrays nested deeper than hiredis's limit, which a
// Lua script can return; a RESP3 map) answers one request: that request fails with
// ProtocolError, and the requests pipelined with it on the shared connection are untouched.
TEST(Faults, UnrepresentableReplyFailsOnlyItsOwnRequest) {
    std::string deep;
    for (int i = 0; i < 9; ++i) deep += "*1\r\n";
    deep += ":1\r\n";
    FakeServer fake([&deep](FakeConnection& connection) {
        while (auto command = connection.read_command()) {
            if (command->front() == "DEEP") {
                connection.write(deep);
            } else if (command->front() == "MAP") {
                connection.write("%1\r\n+key\r\n:1\r\n");
            } else {
                connection.write("+PONG\r\n");
            }
        }
    });
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), fake_options(fake));
    auto wait = [&io](auto& future) {
        dlock::test::run_until_ready(io, future);
        return future.get();
    };

    for (const std::string odd : {"DEEP", "MAP"}) {
        // Spawned in this order, so both commands leave in one write, the odd one first.
        auto odd_reply =
            asio::co_spawn(io, redis.command(std::vector<std::string>{odd}), asio::use_future);
        auto pong =
            asio::co_spawn(io, redis.command(std::vector<std::string>{"PING"}), asio::use_future);
        EXPECT_EQ(wait(pong).str, "PONG") << "after " << odd;
        EXPECT_THROW(wait(odd_reply), dlock::ProtocolError) << odd;
        EXPECT_TRUE(dlock::detail::connection_of(redis)->connected()) << "after " << odd;
    }
    EXPECT_EQ(call(io, redis, {"PING"}).str, "PONG");
    EXPECT_EQ(fake.accepted(), 1) << "the shared connection was dropped";
}

}  // namespace

namespace {

// Found by the chaos suite (server restarts): when a connect attempt failed, a caller that
// resumed after another caller had already started the next attempt judged by the
// connection's current state ("connecting") and threw a bare asio operation_aborted instead of
// the failed attempt's ConnectionError. Every caller must get a dlock::Error.
TEST(Faults, CallersOfAFailedConnectGetItsErrorEvenWhenANewAttemptStarted) {
    FakeServer fake([](FakeConnection&) {});  // accepts, then closes: every connect fails
    asio::io_context io;
    ConnectionOptions options = fake_options(fake);
    options.client_name = "dlock";  // the handshake's SETNAME fails on the closed socket
    dlock::Redis redis(io.get_executor(), options);
    int others = 0;
    int aborted = 0;
    constexpr int callers = 16;
    constexpr int rounds = 8;
    run(io, [&]() -> asio::awaitable<void> {
        auto one = [&]() -> asio::awaitable<void> {
            for (int round = 0; round < rounds; ++round) {
                try {
                    co_await redis.command("PING");
                } catch (const dlock::Error&) {
                    // what every caller must get
                } catch (const asio::system_error&) {
                    ++aborted;
                } catch (...) {
                    ++others;
                }
            }
        };
        auto done = std::make_shared<int>(0);
        asio::steady_timer all_done(io, std::chrono::steady_clock::time_point::max());
        for (int i = 0; i < callers; ++i) {
            asio::co_spawn(io, one(), [&, done](std::exception_ptr) {
                if (++*done == callers) all_done.cancel();
            });
        }
        co_await all_done.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    });
    EXPECT_EQ(aborted, 0) << "callers got asio's operation_aborted, not ConnectionError";
    EXPECT_EQ(others, 0);
}

}  // namespace
