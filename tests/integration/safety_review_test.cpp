// Findings of the safety review (issue 11, second round): object lifetimes across the sync
// facade's I/O thread, a release that fails, and a close() that races a connect. One test per
// finding, named by the rule it checks; each failed (crash, hang or wrong error) before its fix.
//
// No sleep synchronises anything: a test waits for an event (a completion, a server-side
// state polled every 2 ms) and a watchdog turns a hang into a failure.
#include <asio.hpp>
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "async.hpp"
#include "dlock/errors.hpp"
#include "dlock/lock.hpp"
#include "dlock/redis.hpp"
#include "dlock/sync.hpp"
#include "names.hpp"
#include "net/connection.hpp"
#include "own_servers.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using dlock::Lock;
using dlock::LockOptions;
using namespace dlock::test;

constexpr auto watchdog = 10s;  // turns a hang into a failure; never reached when all is well

// Polls the server until `name` is gone (a release done in the background announces nothing).
bool eventually_gone(dlock::sync::Redis& admin, const std::string& name) {
    const auto give_up = Clock::now() + watchdog;
    while (admin.command({"EXISTS", name}).integer != 0) {
        if (Clock::now() >= give_up) return false;
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

// Runs `f` in a handler on `io`'s thread and waits until it returned.
template <class F>
void on_io_thread(asio::io_context& io, F f) {
    std::promise<void> done;
    asio::post(io, [&] {
        f();
        done.set_value();
    });
    done.get_future().wait();
}

// ---- a. a Lock outlives its client --------------------------------------------------------

// The lock kept a raw pointer to the client's backend: any call after the client was
// destroyed read freed memory (ASan: heap-use-after-free). The lock now shares the backend.
TEST(SafetyReview, ASyncLockOutlivesItsClient) {
    OwnServers server{"plain"};
    dlock::sync::Redis admin(server.url());
    const std::string name = unique_name();
    auto client = std::make_unique<dlock::sync::Redis>(server.url());
    dlock::sync::Lock lock(*client, name, {.timeout = dlock::Seconds(60)});
    ASSERT_TRUE(lock.acquire());
    client.reset();
    EXPECT_TRUE(lock.owned());
    lock.release();
    EXPECT_EQ(admin.command({"EXISTS", name}).integer, 0);
    EXPECT_TRUE(lock.acquire()) << "a new hold after the client is gone";
}

TEST(SafetyReview, AnAsyncLockOutlivesItsClient) {
    OwnServers server{"plain"};
    asio::io_context io;
    const std::string name = unique_name();
    auto client = std::make_unique<dlock::Redis>(io.get_executor(), server.url());
    Lock lock(*client, name, {.timeout = dlock::Seconds(60), .auto_renew = true});
    run(io, [&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await lock.acquire());
        client.reset();
        EXPECT_TRUE(co_await lock.owned());
        co_await lock.release();
        EXPECT_FALSE(co_await lock.locked());
    });
}

// ---- b. the last owner of the I/O thread goes away on that thread ---------------------------

// ~sync::Lock on the I/O thread, after its client is gone: dropping the last reference to the
// IoThread ran its destructor there, which joined its own thread (std::terminate). The thread
// is now let go and ends by itself once the lock's background release is done.
TEST(SafetyReview, ASyncLockDestroyedOnTheIoThreadAfterItsClientIsGone) {
    OwnServers server{"plain"};
    dlock::sync::Redis admin(server.url());
    const std::string name = unique_name();
    auto client = std::make_unique<dlock::sync::Redis>(server.url());
    asio::io_context& io = client->io().context();
    auto lock = std::make_unique<dlock::sync::Lock>(*client, name);  // no timeout: never expires
    lock->lock();
    client.reset();  // the lock is now the I/O thread's only owner
    on_io_thread(io, [&] { lock.reset(); });
    EXPECT_TRUE(eventually_gone(admin, name)) << "the background release never ran";
}

// ---- e. a sync client destroyed on its own I/O thread ---------------------------------------

// ~BasicClient waited for its teardown through io().run(), which throws std::logic_error on
// the I/O thread: thrown from a destructor, std::terminate. On that thread it now tears the
// async client down at once.
TEST(SafetyReview, ASyncClientDestroyedOnItsOwnIoThread) {
    OwnServers server{"plain"};
    auto client = std::make_unique<dlock::sync::Redis>(server.url());
    EXPECT_EQ(client->command({"PING"}).str, "PONG");
    asio::io_context& io = client->io().context();
    on_io_thread(io, [&] { client.reset(); });
    EXPECT_FALSE(client);
}

// ---- c. a release that fails --------------------------------------------------------------

class FailedReleaseTest : public ::testing::Test {
  protected:
    template <class F>
    void run(F body) {
        dlock::test::run(io_, std::move(body));
    }
    // Waits for the hold's end as wait_lost() reports it; empty when it never came.
    asio::awaitable<std::optional<bool>> lost_within_watchdog(Lock& lock) {
        dlock::test::Notification done(io_.get_executor());
        auto outcome = std::make_shared<std::optional<bool>>();
        asio::co_spawn(
            io_,
            [&lock, outcome, &done]() -> asio::awaitable<void> {
                *outcome = co_await lock.wait_lost();
                done.notify();
            },
            asio::detached);
        if (!co_await done.wait(watchdog)) co_return std::nullopt;
        co_return *outcome;
    }

    OwnServers server_{"plain"};
    asio::io_context io_;
    dlock::Redis redis_{io_.get_executor(), server_.url()};
    dlock::Redis admin_{io_.get_executor(), server_.url()};
    const std::string name_ = unique_name();
    const LockOptions renewed_{.timeout = dlock::Seconds(1), .auto_renew = true};
};

// A release refused by the server (here: DEL denied by ACL) did nothing, yet it had stopped
// renewal: the key expired and nobody told the holder (lost() false, wait_lost() forever).
// Renewal goes on after the refusal, so a later loss is reported as for any hold.
TEST_F(FailedReleaseTest, ARefusedReleaseKeepsRenewingAndALaterLossIsReported) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, renewed_);
        EXPECT_TRUE(co_await lock.acquire());
        co_await admin_.command("ACL", "SETUSER", "default", "-del");
        const std::exception_ptr refused = co_await thrown_by(lock.release());
        co_await admin_.command("ACL", "SETUSER", "default", "+del");
        EXPECT_TRUE(is<dlock::ServerError>(refused)) << what(refused);
        EXPECT_TRUE(lock.token()) << "the hold is still ours";

        // Beyond the key's 1 s life: renewal must have kept it.
        co_await pause_for(1500ms);
        EXPECT_TRUE(co_await lock.owned()) << "renewal stopped after the refused release";

        co_await admin_.command("SET", name_, "someone-else");  // taken over
        const std::optional<bool> lost = co_await lost_within_watchdog(lock);
        EXPECT_TRUE(lost.has_value()) << "the holder never learns that the lock is gone";
        EXPECT_TRUE(lost.value_or(false));
        EXPECT_TRUE(lock.lost());
        co_await admin_.command("DEL", name_);
    });
}

// A release that timed out (the server paused) may still run later. It did here: the holder
// learns the hold is over (lost, from the resumed renewal) instead of waiting forever, and a
// retried release says an earlier one may have done it.
TEST_F(FailedReleaseTest, AReleaseInDoubtThatRanLaterEndsTheHoldAsLost) {
    run([this]() -> asio::awaitable<void> {
        LockOptions options = renewed_;
        options.timeout = dlock::Seconds(2);
        options.command_timeout = dlock::Seconds(0.1);
        Lock lock(redis_, name_, options);
        // One release first: with the script cached, the late EVALSHA runs (else it would
        // get NOSCRIPT, and the release would not have run at all).
        EXPECT_TRUE(co_await lock.acquire());
        co_await lock.release();
        EXPECT_TRUE(co_await lock.acquire());
        co_await admin_.command("CLIENT", "PAUSE", "400", "WRITE");
        const std::exception_ptr timed_out = co_await thrown_by(lock.release());
        EXPECT_TRUE(is<dlock::TimeoutError>(timed_out)) << what(timed_out);

        const std::optional<bool> lost = co_await lost_within_watchdog(lock);
        EXPECT_TRUE(lost.has_value()) << "the holder never learns that the hold is over";
        EXPECT_TRUE(lost.value_or(false));
        EXPECT_FALSE(co_await lock.locked()) << "the late release did run";
        const std::exception_ptr retried = co_await thrown_by(lock.release());
        EXPECT_TRUE(is<dlock::LockReleaseError>(retried)) << what(retried);
        EXPECT_NE(what(retried).find("earlier release"), std::string::npos) << what(retried);
    });
}

// ---- d. close() during a connect ----------------------------------------------------------

// close() while Stream::open was in flight did nothing: the connect completed afterwards and
// left an open connection (and its reader) that nobody had asked for, and the callers waited
// for the whole connect_timeout. They now fail at once with ConnectionError, and what the
// attempt opens is dropped.
TEST(SafetyReview, CloseDuringAConnectFailsItsCallersAndLeavesNoConnection) {
    asio::io_context io;
    // A TLS handshake with a listener that never answers: the connect stays in flight.
    asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
    dlock::ConnectionOptions options;
    options.port = silent.local_endpoint().port();
    options.tls.enabled = true;
    options.connect_timeout = dlock::Seconds(watchdog);
    auto connection = std::make_shared<dlock::detail::Connection>(io.get_executor(), options);
    run(io, [&]() -> asio::awaitable<void> {
        asio::ip::tcp::socket peer(io);
        dlock::test::Notification failed(io.get_executor());
        std::exception_ptr error;
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                const dlock::Request ping{std::string_view("PING")};
                error = co_await thrown_by(connection->execute(ping, Clock::now() + 2 * watchdog));
                failed.notify();
            },
            asio::detached);
        co_await silent.async_accept(peer, asio::use_awaitable);  // the handshake has begun
        connection->close();
        EXPECT_TRUE(co_await failed.wait(watchdog / 2)) << "close() left the connect running";
        EXPECT_TRUE(is<dlock::ConnectionError>(error)) << what(error);
        EXPECT_FALSE(connection->connected());
    });
}

}  // namespace
