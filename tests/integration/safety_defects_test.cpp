// Safety defects of issue 11 found by adversarial runs against real servers: one regression
// test each, named by the rule it checks. Every test runs on a redis-server of its own (they
// flush its script cache, change its ACLs or count its commands), through the public API;
// wire names (the wait queue key) and raw commands serve only to set up or observe the fault.
//
// No sleep synchronises anything: a test waits for an event (a completion, a server-side
// state polled every 2 ms) and a generous watchdog turns a hang into a failure.
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "async.hpp"
#include "dlock/errors.hpp"
#include "dlock/lock.hpp"
#include "dlock/redis.hpp"
#include "dlock/sync.hpp"
#include "lock/scripts.hpp"
#include "names.hpp"
#include "net/subscriber.hpp"
#include "own_servers.hpp"
#include "protocol/keys.hpp"
#include "server_stats.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using dlock::Lock;
using dlock::LockOptions;
using dlock::Seconds;
using namespace dlock::test;

constexpr auto watchdog = 10s;  // turns a hang into a failure; never reached when all is well
constexpr auto an_hour = Seconds(3600);

// The outcome of an operation started in the background, and a way to wait for it.
template <class T>
class Outcome {
  public:
    explicit Outcome(asio::any_io_executor executor) : done_(std::move(executor)) {}
    void set(std::exception_ptr error, T value) {
        error_ = error;
        value_ = value;
        done_.notify();
    }
    auto handler() {
        return [this](std::exception_ptr error, T value) { set(error, value); };
    }
    // Waits for the outcome, at most `bound`. True once it is there.
    asio::awaitable<bool> wait(Clock::duration bound = watchdog) { return done_.wait(bound); }
    bool done() const { return done_.notified(); }
    std::exception_ptr error() const { return error_; }
    const T& value() const { return value_; }

  private:
    dlock::test::Notification done_;
    std::exception_ptr error_;
    T value_{};
};

class SafetyDefectsTest : public ::testing::Test {
  protected:
    template <class F>
    void run(F body) {
        dlock::test::run(io_, std::move(body));
    }
    asio::awaitable<bool> exists(const std::string& key) {
        co_return (co_await admin_.command("EXISTS", key)).integer == 1;
    }
    asio::awaitable<long long> queued_processes() {
        co_return (co_await admin_.command("ZCARD", queue_)).integer;
    }
    // Scripts the server ran (EVALSHA + EVAL), and calls of one command.
    asio::awaitable<long long> script_calls() { return dlock::test::script_calls(admin_); }
    asio::awaitable<long long> calls_of(const std::string& command) {
        return dlock::test::calls_of(admin_, command);
    }

    dlock::test::OwnServers server_{"plain"};
    asio::io_context io_;
    dlock::Redis redis_{io_.get_executor(), server_.url()};  // the process under test
    dlock::Redis other_{io_.get_executor(), server_.url()};  // another process
    dlock::Redis admin_{io_.get_executor(), server_.url()};  // observes and injects faults
    dlock::sync::Redis sync_admin_{server_.url()};           // works while io_ is blocked
    const std::string name_ = dlock::test::unique_name();
    const std::string queue_ = dlock::detail::wait_queue_key(name_);
};

// ---- Defect 1: lost wake-up ---------------------------------------------------------------

// A waiter that gives up takes its process out of the wait queue; with a cold script cache
// (fresh server, restart, SCRIPT FLUSH, promoted replica) that took EVALSHA, NOSCRIPT, then
// EVAL one round trip later. A new wait of the same process queued in between (ZADD NX keeps
// the old entry) and the late ZREM deleted it: the release woke nobody and the new waiter
// slept its whole `sleep` on a free lock. Here sleep is an hour: only a wake-up can end it.
TEST_F(SafetyDefectsTest, LeavingTheQueueWithAColdScriptCacheNeverDeletesANewerEntry) {
    run([this]() -> asio::awaitable<void> {
        co_await admin_.command("SCRIPT", "FLUSH");
        Lock holder(other_, name_);
        EXPECT_TRUE(co_await holder.acquire());

        const long long eval_before = co_await calls_of("eval");
        const long long evalsha_before = co_await calls_of("evalsha");

        Lock first(redis_, name_, {.sleep = an_hour, .blocking_timeout = 0.2s});
        EXPECT_FALSE(co_await first.acquire());  // queued, gave up: its process leaves the queue

        // At once, the same process waits again (same inbox, still subscribed).
        // Its final attempt at blocking_timeout would take the free lock: beyond the watchdog.
        Lock second(redis_, name_, {.sleep = an_hour, .blocking_timeout = 2 * watchdog});
        Outcome<bool> acquired(io_.get_executor());
        asio::co_spawn(io_, second.acquire(), acquired.handler());
        // first: EVALSHA (NOSCRIPT), EVAL (queued), EVALSHA at its deadline; its departure ran
        // once an EVAL of the leave script did; second's attempt is one more EVALSHA.
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> {
                co_return co_await calls_of("eval") >= eval_before + 2 &&
                    co_await calls_of("evalsha") >= evalsha_before + 3;
            },
            watchdog))
            << "the departure or the second attempt never ran";
        EXPECT_EQ(co_await queued_processes(), 1) << "the second waiter's queue entry was deleted";

        co_await holder.release();  // wakes the first queued process: ours
        const bool woken = co_await acquired.wait();
        EXPECT_TRUE(woken) << "the release woke nobody: the waiter sleeps on a free lock";
        if (!woken) co_await acquired.wait();  // its blocking_timeout ends it
        EXPECT_FALSE(acquired.error()) << what(acquired.error());
        if (acquired.value()) co_await second.release();
    });
}

// ---- Defect 2: a lock nobody can stop -----------------------------------------------------

// A Lock destroyed while its acquire() waits: the wait went on, the acquisition succeeded
// later and started auto-renewal with the generation the destructor had already bumped, so
// the key was renewed forever with nobody left to release it.
TEST_F(SafetyDefectsTest, DestroyingALockWhileItsAcquireWaitsNeverLeavesARenewedKeyBehind) {
    run([this]() -> asio::awaitable<void> {
        Lock holder(other_, name_);
        EXPECT_TRUE(co_await holder.acquire());

        const Seconds timeout = 1s;
        auto orphan = std::make_unique<Lock>(
            redis_, name_, LockOptions{.timeout = timeout, .sleep = timeout, .auto_renew = true});
        Outcome<bool> acquired(io_.get_executor());
        asio::co_spawn(io_, orphan->acquire(), acquired.handler());
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> { co_return co_await queued_processes() == 1; },
            watchdog))
            << "the waiter never queued";

        orphan.reset();             // destroyed while its acquire() waits
        co_await holder.release();  // the lock is free: a still-running wait would take it
        EXPECT_TRUE(co_await acquired.wait()) << "the orphaned acquire() never ended";
        EXPECT_FALSE(acquired.error()) << what(acquired.error());
        EXPECT_FALSE(acquired.value()) << "an acquisition for a destroyed Lock succeeded";

        const bool left_behind = co_await exists(name_);
        std::string evidence;
        if (left_behind) {
            // Not an assertion, evidence for the message: renewed past several timeouts.
            co_await pause_for(std::chrono::duration_cast<Clock::duration>(timeout * 3));
            evidence = "after 3 timeouts: EXISTS " +
                       std::to_string((co_await admin_.command("EXISTS", name_)).integer) +
                       ", PTTL " +
                       std::to_string((co_await admin_.command("PTTL", name_)).integer) + " ms";
            co_await admin_.command("DEL", name_);
        }
        EXPECT_FALSE(left_behind) << "the destroyed Lock's key is held and renewed: " << evidence;
    });
}

// ---- Defect 3: renew_interval >= timeout --------------------------------------------------

// The lock would expire before its first renewal.
TEST_F(SafetyDefectsTest, ARenewIntervalNotShorterThanTheTimeoutIsRejectedNamingTheBound) {
    for (const Seconds interval : {Seconds(1), Seconds(1.5), Seconds(60)}) {
        SCOPED_TRACE(interval.count());
        std::string message;
        try {
            Lock lock(redis_, name_,
                      {.timeout = 1s, .auto_renew = true, .renew_interval = interval});
        } catch (const std::invalid_argument& e) {
            message = e.what();
        }
        EXPECT_NE(message.find("renew_interval"), std::string::npos) << "'" << message << "'";
        EXPECT_NE(message.find("less than timeout"), std::string::npos) << "'" << message << "'";
    }
    EXPECT_NO_THROW(
        Lock(redis_, name_, {.timeout = 1s, .auto_renew = true, .renew_interval = 0.999s}));
}

// ---- Defect 4: extend under auto-renewal --------------------------------------------------

// extend() on an auto-renewed lock raises the renewal target: a renewal never moves the
// key's expiry earlier, so later renewals keep at least what extend() set (the TTL is
// max(remaining, timeout) after each renewal). Before, the next renewal reset the TTL to
// `timeout`, silently undoing extend(60 s).
TEST_F(SafetyDefectsTest, ExtendingAnAutoRenewedLockIsNotUndoneByTheNextRenewal) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.timeout = 2s, .auto_renew = true, .renew_interval = 0.05s});
        EXPECT_TRUE(co_await lock.acquire());
        EXPECT_TRUE(co_await lock.extend(60s));
        const long long after_extend = co_await script_calls();
        EXPECT_GT((co_await admin_.command("PTTL", name_)).integer, 55000);
        // Two more scripts ran: at least one renewal was sent after extend() and has run.
        EXPECT_TRUE(co_await eventually(
            [&]() -> asio::awaitable<bool> {
                co_return co_await script_calls() >= after_extend + 2;
            },
            watchdog))
            << "no renewal ran";
        EXPECT_GT((co_await admin_.command("PTTL", name_)).integer, 55000)
            << "the renewal undid extend(60 s)";
        EXPECT_FALSE(lock.lost());
        co_await lock.release();
    });
}

// ---- Defect 5: sync::Redis destruction waited for the subscription linger -----------------

// An inbox stays subscribed for Subscriber::linger (2 s) after its last waiter left. The
// linger timer was not cancelled on shutdown, so the I/O thread (which runs until no work is
// left) kept ~sync::Redis waiting for it. Timing is the only observable here (the timer has
// no effect once the subscriber is gone), so the bound is the linger itself, started before
// the waiter even left: the defect cannot finish before it, the fix takes milliseconds.
TEST(SafetyDefectsSync, DestroyingASyncClientRightAfterAWaitDoesNotWaitForTheLinger) {
    dlock::test::OwnServers server{"plain"};
    dlock::sync::Redis holder_client(server.url());
    const std::string name = dlock::test::unique_name();
    dlock::sync::Lock holder(holder_client, name);
    holder.lock();

    auto client = std::make_unique<dlock::sync::Redis>(server.url());
    const auto linger_cannot_end_before = Clock::now() + dlock::detail::Subscriber::linger;
    {
        dlock::sync::Lock waiter(*client, name, {.sleep = an_hour});
        EXPECT_FALSE(waiter.try_lock_for(50ms));  // subscribed and queued, then gave up
    }
    client.reset();
    const auto destroyed = Clock::now();
    EXPECT_LT(destroyed, linger_cannot_end_before) << "~sync::Redis waited for the linger timer";
    holder.unlock();
}

// ---- Suspicion 1: a release retried after a dropped connection ----------------------------

// The release ran on the server, but the connection dropped before its reply was read: the
// caller gets ConnectionError and keeps the token, and the retry finds the key gone. Its error
// must say that the earlier release may have done it (as after a TimeoutError), not only
// "expired or taken over".
TEST_F(SafetyDefectsTest,
       AReleaseRetriedAfterItsConnectionDroppedSaysAnEarlierReleaseMayHaveDoneIt) {
    run([this]() -> asio::awaitable<void> {
        const auto& script = dlock::detail::release_script();
        EXPECT_EQ((co_await admin_.command("SCRIPT", "LOAD", script.source)).str, script.sha1);
        Lock lock(redis_, name_);
        EXPECT_TRUE(co_await lock.acquire());
        Outcome<int> released(io_.get_executor());
        asio::co_spawn(
            io_,
            [&]() -> asio::awaitable<int> {
                co_await lock.release();
                co_return 0;
            },
            released.handler());
        co_await let_others_run();  // the writer sends the release
        // Blocking this thread (sync admin), so the release's reply stays unread: wait until
        // the server ran it, then drop the connection.
        const auto give_up = Clock::now() + watchdog;
        while (sync_admin_.command({"EXISTS", name_}).integer == 1 && Clock::now() < give_up) {
        }
        EXPECT_FALSE(released.done()) << "setup: the reply was read before the drop";
        redis_.close();
        EXPECT_TRUE(co_await released.wait());
        EXPECT_TRUE(is<dlock::ConnectionError>(released.error())) << what(released.error());
        EXPECT_TRUE(lock.token()) << "the token must be kept for a retry";

        const std::exception_ptr retry = co_await thrown_by(lock.release());
        EXPECT_TRUE(is<dlock::LockReleaseError>(retry)) << what(retry);
        EXPECT_NE(what(retry).find("earlier release"), std::string::npos) << what(retry);
    });
}

// ---- Suspicion 3: acquire() after a false "lost" ------------------------------------------

// Renewals fail (here: the ACL refuses scripts) until the lock, as far as this object can
// tell, has expired: on_lost, lost(). But the key may still be there with our token (a
// renewal's effect unknown, an extend()): a false "lost". acquire() then competed with its
// own stale key and waited until it expired (a whole TTL). The key is ours: take it back.
TEST_F(SafetyDefectsTest, AcquireAfterAFalseLostTakesBackItsOwnKeyAtOnce) {
    run([this]() -> asio::awaitable<void> {
        co_await admin_.command("ACL", "SETUSER", "admin", "on", ">secret", "~*", "&*", "+@all");
        co_await admin_.command("AUTH", "admin", "secret");
        Lock lock(redis_, name_,
                  {.timeout = 1s, .sleep = 1s, .auto_renew = true, .renew_interval = 0.1s});
        EXPECT_TRUE(co_await lock.acquire());
        const std::string token = *lock.token();
        co_await admin_.command("ACL", "SETUSER", "default", "-evalsha", "-eval");
        co_await admin_.command("PEXPIRE", name_, "60000");  // outlives the renewals' failure
        Outcome<bool> lost(io_.get_executor());
        asio::co_spawn(io_, lock.wait_lost(), lost.handler());
        EXPECT_TRUE(co_await lost.wait());
        EXPECT_TRUE(lost.value());
        EXPECT_EQ((co_await admin_.command("GET", name_)).str, token) << "setup: not a false lost";
        co_await admin_.command("ACL", "SETUSER", "default", "+evalsha", "+eval");

        // The watchdog bounds the wait: the stale key has ~59 s left.
        EXPECT_TRUE(co_await lock.acquire({.blocking_timeout = Seconds(watchdog)}))
            << "acquire() waited for its own stale key";
        EXPECT_FALSE(lock.lost());
        if (lock.token()) co_await lock.release();
        co_await admin_.command("DEL", name_);
    });
}

// ---- Suspicion 5: wait_lost() callers of an earlier hold ----------------------------------

// A hold ended without release (expired, or taken over) and the same object acquired again:
// wait_lost() callers of the first hold must be answered (lost) then, not carried into the
// new hold and answered by its end.
TEST_F(SafetyDefectsTest, AWaitLostCallerOfAnEarlierHoldIsAnsweredWhenANewHoldBegins) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.timeout = 60s});
        EXPECT_TRUE(co_await lock.acquire());
        Outcome<bool> first_hold(io_.get_executor());
        asio::co_spawn(io_, lock.wait_lost(), first_hold.handler());
        co_await let_others_run();
        co_await admin_.command("DEL", name_);  // the first hold ends, as if it expired
        EXPECT_TRUE(co_await lock.acquire());   // a new hold of the same object
        for (int i = 0; i < 3; ++i) co_await let_others_run();
        EXPECT_TRUE(first_hold.done()) << "still waiting: it will be answered by the new hold";
        EXPECT_TRUE(first_hold.value()) << "the first hold was lost, not released";
        co_await lock.release();
        co_await first_hold.wait();
    });
}

// ---- Suspicion 6: sync::Lock destroyed on the I/O thread ----------------------------------

// ~sync::Lock releases the lock. On dlock's I/O thread (a callback such as on_lost, or a
// coroutine of the user's on that thread) it cannot block, and it skipped the release
// silently (the logic_error of the refused sync call was swallowed): a lock without timeout
// stayed forever. It must release without blocking.
TEST(SafetyDefectsSync, ASyncLockDestroyedOnTheIoThreadStillReleases) {
    dlock::test::OwnServers server{"plain"};
    dlock::sync::Redis admin(server.url());
    dlock::sync::Redis client(server.url());
    const std::string name = dlock::test::unique_name();
    auto lock = std::make_unique<dlock::sync::Lock>(client, name);
    lock->lock();
    client.io().run([&]() -> asio::awaitable<void> {
        lock.reset();
        co_return;
    });
    const auto give_up = Clock::now() + watchdog;
    bool released = false;
    while (!(released = admin.command({"EXISTS", name}).integer == 0) && Clock::now() < give_up) {
        std::this_thread::sleep_for(2ms);  // polls a server-side state: no event announces it
    }
    EXPECT_TRUE(released) << "the lock (no timeout) stays forever";
    admin.command({"DEL", name});
}

}  // namespace
