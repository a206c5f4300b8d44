// dlock::Lock (async API) on a standalone server: the coredis and redis-py lock suites, case
// by case, at the level of docs/semantics.md §1-2, plus dlock's own contracts (concurrency, names
// with arbitrary bytes, one shared connection).
#include "dlock/lock.hpp"

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <string>

#include "async.hpp"
#include "dlock/redis.hpp"
#include "dlock/sync.hpp"
#include "names.hpp"
#include "own_server_test.hpp"
#include "own_servers.hpp"
#include "server_stats.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::ExtendMode;
using dlock::Lock;
using dlock::LockOptions;
using dlock::Seconds;
using namespace dlock::test;

// Whether `message` names `field` as a whole word ("timeout" is not in "blocking_timeout").
bool names_field(const std::string& message, const std::string& field) {
    for (auto at = message.find(field); at != std::string::npos; at = message.find(field, at + 1)) {
        const bool starts =
            at == 0 ||
            (!std::isalnum(static_cast<unsigned char>(message[at - 1])) && message[at - 1] != '_');
        const auto end = at + field.size();
        const bool ends =
            end == message.size() ||
            (!std::isalnum(static_cast<unsigned char>(message[end])) && message[end] != '_');
        if (starts && ends) return true;
    }
    return false;
}

class LockTest : public ::testing::Test {
  protected:
    void TearDown() override {
        run([this]() -> asio::awaitable<void> { co_await redis_.command("DEL", name_); });
    }

    template <class F>
    void run(F body) {
        dlock::test::run(io_, std::move(body));
    }

    // name_'s TTL in ms is above `above` and at most `at_most`. (No std::source_location for
    // the caller's line: clang 14 with libstdc++ 12 has none; the bounds name the check.)
    asio::awaitable<void> expect_ttl_between(long long above, long long at_most) {
        const long long ttl = co_await pttl(name_);
        EXPECT_GT(ttl, above) << "TTL checked for (" << above << ", " << at_most << "]";
        EXPECT_LE(ttl, at_most) << "TTL checked for (" << above << ", " << at_most << "]";
    }
    asio::awaitable<long long> pttl(const std::string& key) {
        co_return (co_await redis_.command("PTTL", key)).integer;
    }
    asio::awaitable<std::optional<std::string>> get(const std::string& key) {
        dlock::Reply reply = co_await redis_.command("GET", key);
        if (reply.is_nil()) co_return std::nullopt;
        co_return reply.str;
    }
    asio::awaitable<bool> exists(const std::string& key) {
        co_return (co_await redis_.command("EXISTS", key)).integer == 1;
    }
    // Polls until the key is gone (it expires on the server's clock); false after 5 s.
    asio::awaitable<bool> wait_gone(const std::string& key) {
        asio::steady_timer timer(io_);
        for (Stopwatch watch; watch.elapsed() < 5s;) {
            if (!co_await exists(key)) co_return true;
            timer.expires_after(10ms);
            co_await timer.async_wait(asio::use_awaitable);
        }
        co_return false;
    }

    asio::io_context io_;
    dlock::Redis redis_{io_.get_executor(), dlock::test::server("PLAIN_URL")};
    const std::string name_ = dlock::test::unique_name();
};

// ---- key layout -----------------------------------------------------------------------------

TEST_F(LockTest, AcquireSetsTheKeyToTheTokenAndReleaseDeletesIt) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_);
        EXPECT_FALSE(lock.token());
        EXPECT_TRUE(co_await lock.acquire());
        EXPECT_TRUE(lock.token());
        EXPECT_EQ(co_await get(name_), lock.token());
        co_await lock.release();
        EXPECT_FALSE(lock.token());
        EXPECT_FALSE(co_await exists(name_));
    });
}

TEST_F(LockTest, NoTimeoutMeansNoExpiry) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_);
        EXPECT_TRUE(co_await lock.acquire());
        EXPECT_EQ(co_await pttl(name_), -1);
        co_await lock.release();
    });
}

TEST_F(LockTest, TimeoutBecomesTheKeysTtl) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.timeout = 10s});
        EXPECT_TRUE(co_await lock.acquire());
        co_await expect_ttl_between(8000, 10000);
        co_await lock.release();
    });
}

TEST_F(LockTest, FloatTimeoutInSecondsBecomesMilliseconds) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.timeout = Seconds(10.0)});
        EXPECT_TRUE(co_await lock.acquire());
        co_await expect_ttl_between(8000, 10000);
        co_await lock.release();

        Lock fraction(redis_, name_, {.timeout = Seconds(2.5)});
        EXPECT_TRUE(co_await fraction.acquire());
        co_await expect_ttl_between(1500, 2500);
        co_await fraction.release();
    });
}

TEST_F(LockTest, ReplicationFactorIsZeroOnAStandaloneServer) {
    Lock lock(redis_, name_);
    EXPECT_EQ(lock.replication_factor(), 0u);
    EXPECT_EQ(lock.name(), name_);
}

// ---- competition and blocking ---------------------------------------------------------------

TEST_F(LockTest, CompetingLockCannotBeAcquiredWithoutBlocking) {
    run([this]() -> asio::awaitable<void> {
        Lock holder(redis_, name_);
        Lock other(redis_, name_, {.blocking = false});
        EXPECT_TRUE(co_await holder.acquire());
        EXPECT_FALSE(co_await other.acquire());
        EXPECT_FALSE(co_await other.acquire({.blocking = false}));
        EXPECT_FALSE(other.token());
        EXPECT_EQ(co_await get(name_), holder.token());  // the holder's key is untouched
        co_await holder.release();
        EXPECT_TRUE(co_await other.acquire());
        co_await other.release();
    });
}

TEST_F(LockTest, BlockingTimeoutGivesUpAfterAtLeastThatLong) {
    struct Case {
        Seconds sleep;
        Seconds blocking_timeout;
        double at_most;  // seconds
    };
    // The second row is docs/semantics.md §3.8: coredis sleeps a whole `sleep` even when
    // blocking_timeout ends sooner (with these values it returns after 5 s). dlock never sleeps
    // past the deadline.
    const Case cases[] = {{0.05s, 0.5s, 1.5}, {5s, 0.3s, 2.0}};
    run([&]() -> asio::awaitable<void> {
        Lock holder(redis_, name_);
        EXPECT_TRUE(co_await holder.acquire());
        for (const Case& c : cases) {
            for (const bool wake_on_release : {true, false}) {
                Lock other(redis_, name_,
                           {.sleep = c.sleep,
                            .blocking_timeout = c.blocking_timeout,
                            .wake_on_release = wake_on_release});
                Stopwatch watch;
                EXPECT_FALSE(co_await other.acquire());
                const std::string label = "sleep=" + std::to_string(c.sleep.count()) +
                                          " wake_on_release=" + std::to_string(wake_on_release);
                EXPECT_GE(watch.seconds(), c.blocking_timeout.count()) << label;
                EXPECT_LT(watch.seconds(), c.at_most) << label;
            }
        }
        // The same given as an argument instead of an option.
        Lock other(redis_, name_, {.sleep = 0.05s});
        Stopwatch watch;
        EXPECT_FALSE(co_await other.acquire({.blocking_timeout = 0.3s}));
        EXPECT_GE(watch.seconds(), 0.3);
        EXPECT_LT(watch.seconds(), 1.3);
        co_await holder.release();
    });
}

TEST_F(LockTest, BlockingAcquireTakesTheLockOnceTheHolderReleases) {
    run([this]() -> asio::awaitable<void> {
        for (const bool wake_on_release : {true, false}) {
            Lock holder(redis_, name_);
            // With notifications, `sleep` is only the fallback poll: 5 s would fail the bound.
            Lock waiter(redis_, name_,
                        {.sleep = wake_on_release ? Seconds(5) : Seconds(0.05),
                         .blocking_timeout = 10s,
                         .wake_on_release = wake_on_release});
            EXPECT_TRUE(co_await holder.acquire());
            bool acquired = false;
            Stopwatch watch;
            asio::co_spawn(io_, waiter.acquire(),
                           [&](std::exception_ptr, bool ok) { acquired = ok; });
            asio::steady_timer pause(io_, 200ms);
            co_await pause.async_wait(asio::use_awaitable);
            EXPECT_FALSE(acquired);
            co_await holder.release();
            while (!acquired && watch.elapsed() < 10s) {
                pause.expires_after(5ms);
                co_await pause.async_wait(asio::use_awaitable);
            }
            EXPECT_TRUE(acquired) << "wake_on_release=" << wake_on_release;
            EXPECT_LT(watch.seconds(), 2.0) << "wake_on_release=" << wake_on_release;
            EXPECT_EQ(co_await get(name_), waiter.token());
            co_await waiter.release();
        }
    });
}

TEST_F(LockTest, BlockingAcquireTakesTheLockOnceTheHoldersKeyExpires) {
    run([this]() -> asio::awaitable<void> {
        Lock holder(redis_, name_, {.timeout = 0.3s, .sleep = 0.05s});
        Lock waiter(redis_, name_, {.sleep = 0.05s, .blocking_timeout = 5s});
        EXPECT_TRUE(co_await holder.acquire());
        Stopwatch watch;
        EXPECT_TRUE(
            co_await waiter.acquire());  // no release, so no notification: the poll finds it
        EXPECT_GE(watch.seconds(), 0.2);
        EXPECT_LT(watch.seconds(), 2.0);
        EXPECT_EQ(co_await get(name_), waiter.token());
        co_await waiter.release();
        EXPECT_THROW(co_await holder.release(), dlock::LockReleaseError);
    });
}

// ---- the scoped form ------------------------------------------------------------------------

TEST_F(LockTest, WithHoldsTheLockDuringTheBodyAndReleasesAfter) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.timeout = 10s});
        const int result = co_await lock.with([&]() -> asio::awaitable<int> {
            EXPECT_EQ(co_await get(name_), lock.token());
            co_return 42;
        });
        EXPECT_EQ(result, 42);
        EXPECT_FALSE(co_await exists(name_));
        EXPECT_FALSE(lock.token());
    });
}

TEST_F(LockTest, WithReleasesWhenTheBodyThrowsAndTheBodysExceptionPropagates) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_);
        bool ran = false;
        std::exception_ptr error = co_await thrown_by(lock.with([&]() -> asio::awaitable<void> {
            ran = true;
            throw std::runtime_error("body failed");
            co_return;
        }));
        EXPECT_TRUE(ran);
        auto failure = as<std::runtime_error>(error);
        CO_ASSERT(failure);
        EXPECT_STREQ(failure->what(), "body failed");
        EXPECT_FALSE(as<dlock::LockError>(error));
        EXPECT_FALSE(co_await exists(name_));
    });
}

TEST_F(LockTest, WithReportsALockLostDuringTheBody) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_);
        std::exception_ptr error = co_await thrown_by(lock.with([&]() -> asio::awaitable<void> {
            co_await redis_.command("DEL", name_);  // someone else removes our key
        }));
        auto lost = as<dlock::LockReleaseError>(error);
        CO_ASSERT(lost);
        EXPECT_EQ(lost->lock_name(), name_);
        // Taken over by another holder during the body: the same, and theirs stays.
        error = co_await thrown_by(lock.with([&]() -> asio::awaitable<void> {
            co_await redis_.command("SET", name_, "someone-else");
        }));
        EXPECT_TRUE(as<dlock::LockReleaseError>(error));
        EXPECT_EQ(co_await get(name_), "someone-else");
    });
}

TEST_F(LockTest, WithThrowsLockAcquisitionErrorWhenTheLockIsHeldElsewhere) {
    run([this]() -> asio::awaitable<void> {
        Lock holder(redis_, name_);
        EXPECT_TRUE(co_await holder.acquire());
        for (const auto& options : {LockOptions{.blocking = false},
                                    LockOptions{.sleep = 0.05s, .blocking_timeout = 0.2s}}) {
            Lock other(redis_, name_, options);
            bool ran = false;
            std::exception_ptr error =
                co_await thrown_by(other.with([&]() -> asio::awaitable<void> {
                    ran = true;
                    co_return;
                }));
            EXPECT_FALSE(ran);
            auto failed = as<dlock::LockAcquisitionError>(error);
            CO_ASSERT(failed);
            EXPECT_EQ(failed->lock_name(), name_);
        }
        EXPECT_EQ(co_await get(name_), holder.token());
        co_await holder.release();
    });
}

// ---- validation -----------------------------------------------------------------------------

TEST_F(LockTest, SleepLongerThanTimeoutIsRejected) {
    const std::string message =
        invalid_argument_from([&] { Lock lock(redis_, name_, {.timeout = 0.1s, .sleep = 0.5s}); });
    EXPECT_TRUE(names_field(message, "sleep")) << message;
    // Equal is fine, and so is any sleep without a timeout.
    EXPECT_NO_THROW(Lock(redis_, name_, {.timeout = 0.5s, .sleep = 0.5s}));
    EXPECT_NO_THROW(Lock(redis_, name_, {.sleep = 60s}));
}

TEST_F(LockTest, InvalidDurationsAreRejectedNamingTheField) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    for (const double bad : {-1.0, -0.001, nan, inf, -inf}) {
        SCOPED_TRACE(bad);
        const Seconds value(bad);
        auto check = [&](const char* field, LockOptions options) {
            const std::string message =
                invalid_argument_from([&] { Lock lock(redis_, name_, options); });
            EXPECT_TRUE(names_field(message, field)) << field << ": '" << message << "'";
        };
        check("timeout", {.timeout = value});
        check("sleep", {.sleep = value});
        check("blocking_timeout", {.blocking_timeout = value});
        check("command_timeout", {.command_timeout = value});
        check("replication_timeout", {.replication_timeout = value});
        check("renew_interval", {.timeout = 10s, .auto_renew = true, .renew_interval = value});
    }
}

TEST_F(LockTest, InvalidDurationsGivenToOperationsAreRejectedNamingTheField) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.timeout = 10s});
        for (const double bad : {-1.0, std::numeric_limits<double>::quiet_NaN(),
                                 std::numeric_limits<double>::infinity()}) {
            auto error = as<std::invalid_argument>(
                co_await thrown_by(lock.acquire({.blocking_timeout = Seconds(bad)})));
            CO_ASSERT(error);
            EXPECT_TRUE(names_field(error->what(), "blocking_timeout")) << error->what();
        }
        EXPECT_TRUE(co_await lock.acquire());
        for (const double bad : {-1.0, std::numeric_limits<double>::quiet_NaN(),
                                 std::numeric_limits<double>::infinity()}) {
            for (const ExtendMode mode : {ExtendMode::add, ExtendMode::replace}) {
                auto error =
                    as<std::invalid_argument>(co_await thrown_by(lock.extend(Seconds(bad), mode)));
                CO_ASSERT(error);
                EXPECT_TRUE(names_field(error->what(), "additional_time")) << error->what();
            }
        }
        EXPECT_EQ(co_await get(name_), lock.token());  // still held, TTL untouched
        co_await lock.release();
    });
}

TEST_F(LockTest, EmptyNameIsRejected) {
    const std::string message = invalid_argument_from([&] { Lock lock(redis_, ""); });
    EXPECT_TRUE(names_field(message, "name")) << message;
}

// ---- release --------------------------------------------------------------------------------

TEST_F(LockTest, ReleasingALockNeverAcquiredThrows) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_);
        auto error = as<dlock::LockReleaseError>(co_await thrown_by(lock.release()));
        CO_ASSERT(error);
        EXPECT_EQ(error->lock_name(), name_);
        // Twice released: the second one throws too.
        EXPECT_TRUE(co_await lock.acquire());
        co_await lock.release();
        EXPECT_THROW(co_await lock.release(), dlock::LockReleaseError);
    });
}

TEST_F(LockTest, ReleasingALockWhoseKeyWasOverwrittenThrowsAndKeepsTheOtherKey) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_);
        EXPECT_TRUE(co_await lock.acquire());
        co_await redis_.command("SET", name_, "someone-else");
        auto error = as<dlock::LockReleaseError>(co_await thrown_by(lock.release()));
        CO_ASSERT(error);
        EXPECT_EQ(error->lock_name(), name_);
        EXPECT_EQ(co_await get(name_), "someone-else");
        EXPECT_FALSE(lock.token());
    });
}

TEST_F(LockTest, ReleasingALockWhoseKeyExpiredThrows) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.timeout = 0.1s, .sleep = 0.05s});
        EXPECT_TRUE(co_await lock.acquire());
        EXPECT_TRUE(co_await wait_gone(name_));
        EXPECT_THROW(co_await lock.release(), dlock::LockReleaseError);
    });
}

// ---- extend and reacquire -------------------------------------------------------------------

TEST_F(LockTest, ExtendAddsToTheRemainingTtl) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.timeout = 10s});
        EXPECT_TRUE(co_await lock.acquire());
        EXPECT_TRUE(co_await lock.extend(10s));
        co_await expect_ttl_between(18000, 20000);
        EXPECT_TRUE(co_await lock.extend(Seconds(2.5)));  // the seed's float seconds
        co_await expect_ttl_between(20500, 22500);
        co_await lock.release();
    });
}

TEST_F(LockTest, ExtendWithReplaceSetsTheTtl) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.timeout = 10s});
        EXPECT_TRUE(co_await lock.acquire());
        EXPECT_TRUE(co_await lock.extend(5s, ExtendMode::replace));
        co_await expect_ttl_between(3000, 5000);
        EXPECT_TRUE(co_await lock.extend(Seconds(20.5), ExtendMode::replace));
        co_await expect_ttl_between(18500, 20500);
        co_await lock.release();
    });
}

TEST_F(LockTest, ExtendingAnUnlockedLockThrows) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.timeout = 10s});
        auto error = as<dlock::LockExtensionError>(co_await thrown_by(lock.extend(10s)));
        CO_ASSERT(error);
        EXPECT_EQ(error->lock_name(), name_);
        EXPECT_FALSE(co_await exists(name_));
    });
}

TEST_F(LockTest, ExtendingALockNoLongerOwnedThrows) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.timeout = 10s});
        EXPECT_TRUE(co_await lock.acquire());
        co_await redis_.command("SET", name_, "someone-else", "PX", "10000");
        for (const ExtendMode mode : {ExtendMode::add, ExtendMode::replace}) {
            auto error = as<dlock::LockExtensionError>(co_await thrown_by(lock.extend(100s, mode)));
            CO_ASSERT(error);
            EXPECT_EQ(error->lock_name(), name_);
        }
        EXPECT_LE(co_await pttl(name_), 10000);  // the other holder's TTL is untouched
        EXPECT_EQ(co_await get(name_), "someone-else");

        Lock expiring(redis_, name_ + ":expiring", {.timeout = 0.1s, .sleep = 0.05s});
        EXPECT_TRUE(co_await expiring.acquire());
        EXPECT_TRUE(co_await wait_gone(expiring.name()));
        EXPECT_THROW(co_await expiring.extend(10s), dlock::LockExtensionError);
        EXPECT_FALSE(co_await exists(expiring.name()));
    });
}

TEST_F(LockTest, ReacquireResetsTheTtlToTheFullTimeout) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_, {.timeout = 10s});
        EXPECT_TRUE(co_await lock.acquire());
        co_await redis_.command("PEXPIRE", name_, "3000");  // as if 7 s had passed
        EXPECT_TRUE(co_await lock.reacquire());
        co_await expect_ttl_between(8000, 10000);
        co_await lock.release();
    });
}

TEST_F(LockTest, ExtendingALockWithoutTimeoutThrows) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_);
        EXPECT_TRUE(co_await lock.acquire());
        EXPECT_THROW(co_await lock.extend(10s), dlock::LockExtensionError);
        EXPECT_THROW(co_await lock.extend(10s, ExtendMode::replace), dlock::LockExtensionError);
        EXPECT_EQ(co_await pttl(name_), -1);
        co_await lock.release();
    });
}

TEST_F(LockTest, ReacquireFailsLikeExtend) {
    run([this]() -> asio::awaitable<void> {
        Lock no_timeout(redis_, name_);
        EXPECT_TRUE(co_await no_timeout.acquire());
        EXPECT_THROW(co_await no_timeout.reacquire(), dlock::LockExtensionError);
        co_await no_timeout.release();

        Lock lock(redis_, name_, {.timeout = 10s});
        EXPECT_THROW(co_await lock.reacquire(), dlock::LockExtensionError);  // not acquired
        EXPECT_TRUE(co_await lock.acquire());
        co_await redis_.command("SET", name_, "someone-else");
        auto error = as<dlock::LockExtensionError>(co_await thrown_by(lock.reacquire()));
        CO_ASSERT(error);
        EXPECT_EQ(error->lock_name(), name_);
        EXPECT_EQ(co_await pttl(name_), -1);
    });
}

// ---- queries --------------------------------------------------------------------------------

TEST_F(LockTest, LockedAndOwnedTruthTable) {
    run([this]() -> asio::awaitable<void> {
        Lock mine(redis_, name_);
        Lock theirs(redis_, name_);
        // Nobody holds it.
        EXPECT_FALSE(co_await mine.locked());
        EXPECT_FALSE(co_await mine.owned());
        // This object holds it: locked for everyone, owned only here.
        EXPECT_TRUE(co_await mine.acquire());
        EXPECT_TRUE(co_await mine.locked());
        EXPECT_TRUE(co_await mine.owned());
        EXPECT_TRUE(co_await theirs.locked());
        EXPECT_FALSE(co_await theirs.owned());
        // Taken over: still locked, no longer owned (though this object still has its token).
        co_await redis_.command("SET", name_, "someone-else");
        EXPECT_TRUE(co_await mine.locked());
        EXPECT_FALSE(co_await mine.owned());
        // Gone.
        co_await redis_.command("DEL", name_);
        EXPECT_FALSE(co_await mine.locked());
        EXPECT_FALSE(co_await mine.owned());
        // Released.
        EXPECT_TRUE(co_await mine.acquire());
        co_await mine.release();
        EXPECT_FALSE(co_await mine.locked());
        EXPECT_FALSE(co_await mine.owned());
    });
}

TEST_F(LockTest, AcquiringALockThisObjectAlreadyHoldsThrows) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_);
        EXPECT_TRUE(co_await lock.acquire());
        const auto token = lock.token();
        auto error = co_await thrown_by(lock.acquire());
        auto held = as<dlock::LockError>(error);
        CO_ASSERT(held);
        EXPECT_EQ(held->lock_name(), name_);
        EXPECT_FALSE(as<dlock::LockAcquisitionError>(error));  // not "could not acquire"
        EXPECT_EQ(lock.token(), token);
        EXPECT_EQ(co_await get(name_), token);
        co_await lock.release();
    });
}

TEST_F(LockTest, AnObjectWhoseLockWasLostCanAcquireAgain) {
    run([this]() -> asio::awaitable<void> {
        Lock lock(redis_, name_);
        EXPECT_TRUE(co_await lock.acquire());
        const auto first = lock.token();
        co_await redis_.command("DEL", name_);
        EXPECT_TRUE(co_await lock.acquire());
        EXPECT_NE(lock.token(), first);
        EXPECT_EQ(co_await get(name_), lock.token());
        co_await lock.release();
    });
}

// ---- names ----------------------------------------------------------------------------------

TEST_F(LockTest, NamesWithArbitraryBytesWork) {
    std::string all_bytes;
    for (int byte = 0; byte < 256; ++byte) all_bytes.push_back(static_cast<char>(byte));
    const std::vector<std::string> suffixes{
        " with spaces ",
        "quotes \" ' ` \\",
        "crlf\r\nSET injected yes\r\n",
        std::string("nul\0byte", 8),
        "utf-8 \xc3\xa9\xe2\x9c\x93",
        all_bytes,
        std::string(1 << 20, 'x'),  // 1 MB
    };
    run([&]() -> asio::awaitable<void> {
        for (const std::string& suffix : suffixes) {
            const std::string name = name_ + suffix;
            SCOPED_TRACE(name.size());
            Lock lock(redis_, name, {.timeout = 10s});
            Lock other(redis_, name, {.blocking = false});
            EXPECT_TRUE(co_await lock.acquire());
            EXPECT_EQ(co_await get(name), lock.token());
            EXPECT_FALSE(co_await other.acquire());
            EXPECT_TRUE(co_await lock.locked());
            EXPECT_TRUE(co_await lock.owned());
            EXPECT_TRUE(co_await lock.extend(10s));
            EXPECT_GT(co_await pttl(name), 10000);
            co_await lock.release();
            EXPECT_FALSE(co_await exists(name));
        }
        EXPECT_FALSE(co_await exists("injected"));
    });
}

TEST_F(LockTest, AWaiterIsWokenByTheReleaseOfANameWithArbitraryBytes) {
    run([this]() -> asio::awaitable<void> {
        const std::string name = name_ + std::string("\r\n\0*1\r\n$4\r\nPING\r\n", 16);
        Lock holder(redis_, name);
        Lock waiter(redis_, name, {.sleep = 5s, .blocking_timeout = 10s});  // no poll in time
        EXPECT_TRUE(co_await holder.acquire());
        bool acquired = false;
        asio::co_spawn(io_, waiter.acquire(), [&](std::exception_ptr, bool ok) { acquired = ok; });
        asio::steady_timer pause(io_, 100ms);
        co_await pause.async_wait(asio::use_awaitable);
        Stopwatch watch;
        co_await holder.release();
        while (!acquired && watch.elapsed() < 10s) {
            pause.expires_after(5ms);
            co_await pause.async_wait(asio::use_awaitable);
        }
        EXPECT_TRUE(acquired);
        EXPECT_LT(watch.seconds(), 2.0);
        co_await waiter.release();
    });
}

// ---- concurrency contract -------------------------------------------------------------------

TEST_F(LockTest, TwoOperationsAtOnceOnOneObjectAreRefused) {
    run([this]() -> asio::awaitable<void> {
        Lock holder(redis_, name_);
        Lock lock(redis_, name_, {.timeout = 10s, .sleep = 0.05s, .blocking_timeout = 10s});
        EXPECT_TRUE(co_await holder.acquire());
        std::optional<bool> acquired;
        asio::co_spawn(io_, lock.acquire(), [&](std::exception_ptr, bool ok) { acquired = ok; });
        co_await let_others_run();  // the acquire is now waiting on the server
        CO_ASSERT(!acquired);
        EXPECT_THROW(co_await lock.acquire(), std::logic_error);
        EXPECT_THROW(co_await lock.release(), std::logic_error);
        EXPECT_THROW(co_await lock.extend(1s), std::logic_error);
        EXPECT_THROW(co_await lock.reacquire(), std::logic_error);
        EXPECT_THROW(co_await lock.locked(), std::logic_error);
        EXPECT_THROW(co_await lock.owned(), std::logic_error);
        // The operation in progress is not disturbed.
        co_await holder.release();
        asio::steady_timer pause(io_);
        for (Stopwatch watch; !acquired && watch.elapsed() < 10s;) {
            pause.expires_after(5ms);
            co_await pause.async_wait(asio::use_awaitable);
        }
        EXPECT_EQ(acquired, true);
        EXPECT_EQ(co_await get(name_), lock.token());
        co_await lock.release();
    });
}

// The tests that count the clients or commands of a server of their own.
class LockOnOwnServer : public OwnServerTest {};

TEST_F(LockOnOwnServer, ManyLockObjectsShareOneConnection) {
    constexpr int locks = 50;
    const int before = dlock::test::client_count(admin_);
    dlock::test::run(io_, [&]() -> asio::awaitable<void> {
        std::vector<std::unique_ptr<Lock>> held;
        // (A count, not a bare timer's cancel(): the acquisitions may all end before the wait.)
        dlock::test::Notification all_done(io_.get_executor(), locks);
        for (int i = 0; i < locks; ++i) {
            held.push_back(std::make_unique<Lock>(redis_, name_ + ":" + std::to_string(i)));
            asio::co_spawn(io_, held.back()->acquire(), [&](std::exception_ptr, bool ok) {
                EXPECT_TRUE(ok);
                all_done.notify();
            });
        }
        co_await all_done.wait();
        EXPECT_EQ(dlock::test::client_count(admin_), before + 1);

        // Waiters on the same client add one subscriber connection, whatever their number.
        std::vector<std::unique_ptr<Lock>> waiters;
        // A direct hand-off may let the last waiter in before the last release returns.
        dlock::test::Notification all_woken(io_.get_executor(), locks);
        for (int i = 0; i < locks; ++i) {
            waiters.push_back(std::make_unique<Lock>(redis_, held[i]->name(),
                                                     LockOptions{.blocking_timeout = 10s}));
            asio::co_spawn(io_, waiters.back()->acquire(), [&](std::exception_ptr, bool ok) {
                EXPECT_TRUE(ok);
                all_woken.notify();
            });
        }
        for (int i = 0; i < 3; ++i) co_await let_others_run();
        for (auto& lock : held) co_await lock->release();
        co_await all_woken.wait();
        EXPECT_EQ(dlock::test::client_count(admin_), before + 2);
        for (auto& lock : waiters) co_await lock->release();
    });
}

TEST_F(LockOnOwnServer, NonBlockingAcquireMakesExactlyOneAttempt) {
    dlock::test::run(io_, [&]() -> asio::awaitable<void> {
        Lock holder(redis_, name_);
        EXPECT_TRUE(co_await holder.acquire());
        Lock option(redis_, name_, {.blocking = false});
        Lock argument(redis_, name_);
        const long long before = dlock::test::command_calls(admin_, "set");
        EXPECT_FALSE(co_await option.acquire());
        EXPECT_EQ(dlock::test::command_calls(admin_, "set"), before + 1);
        EXPECT_FALSE(co_await argument.acquire({.blocking = false, .blocking_timeout = 10s}));
        EXPECT_EQ(dlock::test::command_calls(admin_, "set"), before + 2);
        co_await holder.release();
    });
}

TEST_F(LockOnOwnServer, BlockingAcquirePollsAtTheSleepInterval) {
    dlock::test::run(io_, [&]() -> asio::awaitable<void> {
        Lock holder(redis_, name_);
        EXPECT_TRUE(co_await holder.acquire());
        for (const bool wake_on_release : {true, false}) {
            Lock waiter(
                redis_, name_,
                {.sleep = 0.1s, .blocking_timeout = 1s, .wake_on_release = wake_on_release});
            // An attempt is a plain SET, or (once queued for wake-ups) the acquire script, which
            // runs ZADD NX once when it fails.
            auto attempts_so_far = [&] {
                return dlock::test::command_calls(admin_, "set") +
                       dlock::test::command_calls(admin_, "zadd");
            };
            const long long before = attempts_so_far();
            EXPECT_FALSE(co_await waiter.acquire());
            // One attempt per `sleep` within blocking_timeout: about 10 (+1 after subscribing).
            const long long attempts = attempts_so_far() - before;
            EXPECT_GE(attempts, 5) << "wake_on_release=" << wake_on_release;
            EXPECT_LE(attempts, 13) << "wake_on_release=" << wake_on_release;
        }
        co_await holder.release();
    });
}

// Many coroutines on one client, each with its own Lock object on the same name: the lock
// serialises their read-modify-write of a value in Redis.
TEST_F(LockTest, CoroutinesContendingForOneNameExcludeEachOther) {
    constexpr int workers = 10, rounds = 20;
    const std::string counter = name_ + ":counter";
    run([&]() -> asio::awaitable<void> {
        int finished = 0;
        asio::steady_timer all_done(io_, asio::steady_timer::time_point::max());
        std::vector<std::unique_ptr<Lock>> locks;
        for (int w = 0; w < workers; ++w) {
            locks.push_back(std::make_unique<Lock>(
                redis_, name_, LockOptions{.timeout = 10s, .blocking_timeout = 30s}));
            auto worker = [&, lock = locks.back().get()]() -> asio::awaitable<void> {
                for (int r = 0; r < rounds; ++r) {
                    co_await lock->with([&]() -> asio::awaitable<void> {
                        auto value = co_await get(counter);
                        const int next = value ? std::stoi(*value) + 1 : 1;
                        co_await let_others_run();
                        co_await redis_.command("SET", counter, std::to_string(next));
                    });
                }
            };
            asio::co_spawn(io_, worker, [&](std::exception_ptr error) {
                EXPECT_FALSE(error);
                if (++finished == workers) all_done.cancel();
            });
        }
        co_await all_done.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        EXPECT_EQ(co_await get(counter), std::to_string(workers * rounds));
        co_await redis_.command("DEL", counter);
    });
}

}  // namespace
