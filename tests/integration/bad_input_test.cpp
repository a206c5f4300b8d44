// Bad input (docs/bad-input.md): every row of that table not already backed by another test.
// Each check asserts the exception type, that the message names the parameter, and that no
// password appears in any message (library errors and the CLI's output alike).
//
// Almost everything here is refused before any I/O; the few rows that need a server (a
// connection left usable, a wrong password, a COMMAND that cannot be executed) use the
// harness's servers.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

#include "async.hpp"
#include "child_process.hpp"
#include "dlock/fencing.hpp"
#include "dlock/lock.hpp"
#include "dlock/redis.hpp"
#include "dlock/redis_cluster.hpp"
#include "dlock/redlock.hpp"
#include "dlock/sync.hpp"
#include "dlock/sync_cluster.hpp"
#include "dlock/sync_redlock.hpp"
#include "servers.hpp"

namespace {

using namespace std::chrono_literals;
using dlock::ConnectionOptions;
using dlock::ExtendMode;
using dlock::Lock;
using dlock::LockOptions;
using dlock::RedlockLock;
using dlock::RedlockOptions;
using dlock::Seconds;
using dlock::test::server;

constexpr const char* secret = "secretpw";
const double nan_s = std::numeric_limits<double>::quiet_NaN();
const double inf_s = std::numeric_limits<double>::infinity();

// `field` appears in `message` as a whole word (so "timeout" is not found in "command_timeout").
bool names(const std::string& message, const std::string& field) {
    auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    for (auto at = message.find(field); at != std::string::npos; at = message.find(field, at + 1)) {
        const auto end = at + field.size();
        if ((at == 0 || !word(message[at - 1])) && (end == message.size() || !word(message[end])))
            return true;
    }
    return false;
}

// Calls `f` and checks it throws an E whose message names `field` and holds no password.
template <class E, class F>
void expect_refused(F f, const std::string& field, const std::string& what) {
    SCOPED_TRACE(what);
    try {
        f();
        ADD_FAILURE() << what << ": accepted, expected " << typeid(E).name();
    } catch (const E& e) {
        const std::string message = e.what();
        EXPECT_TRUE(names(message, field))
            << "message does not name '" << field << "': " << message;
        EXPECT_EQ(message.find(secret), std::string::npos) << "password in message: " << message;
    } catch (const std::exception& e) {
        ADD_FAILURE() << what << ": threw " << typeid(e).name() << " (" << e.what()
                      << "), expected " << typeid(E).name();
    }
}

class BadInputTest : public ::testing::Test {
  protected:
    // Runs one coroutine to completion on io_ (rethrows what it throws).
    template <class Make>
    void go(Make make) {
        dlock::test::run(io_, std::move(make));
    }

    asio::io_context io_;
    // No I/O happens until a command is run: most rows never talk to it.
    dlock::Redis redis_{io_.get_executor(), server("PLAIN_URL")};
    std::string name_ = "dlock-bad-input-" + std::to_string(::getpid());
};

// ---- parse_url and everything that takes a URL ----------------------------------------------

TEST_F(BadInputTest, UrlRowsNotInUrlTest) {
    for (const char* url : {"unix:///tmp/x.sock?mode=1", "unix:///tmp/x.sock?db=x", "redis://[::1",
                            "redis://[::1]x", "redis://[::1]:", "redis://localhost/2000000"}) {
        expect_refused<std::invalid_argument>([&] { dlock::parse_url(url); }, "url", url);
    }
}

// A URL usually holds the password: an error about the URL must not print it.
TEST_F(BadInputTest, NoPasswordInAnyUrlError) {
    for (const std::string url :
         {"redis://u:secretpw@host:notaport", "redis://:secretpw@host:0", "redis://secretpw@:6379",
          "redis://u:secretpw@host/x1", "rediss://u:secretpw%zz@host", "redis://u:secretpw@[::1"}) {
        expect_refused<std::invalid_argument>([&] { dlock::parse_url(url); }, "url", url);
        expect_refused<std::invalid_argument>([&] { dlock::Redis(io_.get_executor(), url); }, "url",
                                              "Redis(" + url + ")");
        expect_refused<std::invalid_argument>(
            [&] { dlock::RedisCluster(io_.get_executor(), std::vector<std::string>{url}); }, "url",
            "RedisCluster(" + url + ")");
    }
    expect_refused<std::invalid_argument>(
        [] { dlock::sync::Redis redis("redis://u:secretpw@h:notaport"); }, "url",
        "sync::Redis URL with password");
}

TEST_F(BadInputTest, NoPasswordInTheErrorOfAWrongPassword) {
    ConnectionOptions options = dlock::parse_url(server("ACL_URL"));
    options.password = std::string(secret) + "-wrong";
    dlock::Redis redis(io_.get_executor(), options);
    try {
        go([&]() -> asio::awaitable<void> { co_await redis.command("PING"); });
        ADD_FAILURE() << "a wrong password was accepted";
    } catch (const dlock::ServerError& e) {
        EXPECT_EQ(e.code(), "WRONGPASS") << e.what();
        EXPECT_EQ(std::string(e.what()).find(secret), std::string::npos) << e.what();
    }
}

// ---- ConnectionOptions (validated by Redis, RedisCluster, Redlock and the sync clients) ------

TEST_F(BadInputTest, ConnectionTimeouts) {
    for (const double bad : {-1.0, nan_s, inf_s, 0.0, 2e9}) {
        for (const char* field : {"connect_timeout", "command_timeout"}) {
            ConnectionOptions options;
            (std::string(field) == "connect_timeout" ? options.connect_timeout
                                                     : options.command_timeout) = Seconds(bad);
            const std::string what = std::string(field) + " = " + std::to_string(bad);
            expect_refused<std::invalid_argument>(
                [&] { dlock::Redis(io_.get_executor(), options); }, field, "Redis " + what);
            expect_refused<std::invalid_argument>(
                [&] { dlock::RedisCluster(io_.get_executor(), std::vector{options}); }, field,
                "RedisCluster " + what);
            expect_refused<std::invalid_argument>(
                [&] {
                    dlock::Redlock(io_.get_executor(), std::vector{options, options, options});
                },
                field, "Redlock " + what);
        }
    }
}

TEST_F(BadInputTest, UnreadableTlsFiles) {
    ConnectionOptions ca = dlock::parse_url(server("TLS_URL"));
    ca.tls.ca_file = "/nonexistent/ca.pem";
    expect_refused<std::invalid_argument>([&] { dlock::Redis(io_.get_executor(), ca); },
                                          "tls.ca_file", "ca_file");
    ConnectionOptions key = dlock::parse_url(server("TLS_URL"));
    key.tls.cert_file = server("TLS_CERT");
    key.tls.key_file = "/nonexistent/client.key";
    expect_refused<std::invalid_argument>([&] { dlock::Redis(io_.get_executor(), key); },
                                          "tls.key_file", "key_file");
}

// ---- Redis::command / pipeline ----------------------------------------------------------------

TEST_F(BadInputTest, CommandTimeoutsAreValidated) {
    // Named, not braced lists inside co_await (GCC 12 miscompiles those: dlock/redis.hpp).
    const std::vector<std::string> ping{"PING"};
    const dlock::Request ping_request{"PING"};
    for (const double bad : {-1.0, nan_s, inf_s}) {
        expect_refused<std::invalid_argument>(
            [&] {
                go([&]() -> asio::awaitable<void> { co_await redis_.command(ping, Seconds(bad)); });
            },
            "timeout", "command timeout " + std::to_string(bad));
        expect_refused<std::invalid_argument>(
            [&] {
                go([&]() -> asio::awaitable<void> {
                    co_await redis_.pipeline(ping_request, Seconds(bad));
                });
            },
            "timeout", "pipeline timeout " + std::to_string(bad));
    }
    // Zero is accepted: the deadline has passed at once.
    EXPECT_THROW(go([&]() -> asio::awaitable<void> { co_await redis_.command(ping, Seconds(0)); }),
                 dlock::TimeoutError);
}

// An empty command gets no reply from Redis (it ignores "*0"): it must be refused, as
// RedisCluster::command does, rather than leave a request waiting for a reply that never comes.
// Each later reply would then be handed to the request before it.
TEST_F(BadInputTest, AnEmptyCommandIsRefusedAndLeavesTheConnectionInStep) {
    ConnectionOptions options = dlock::parse_url(server("PLAIN_URL"));
    options.command_timeout = 0.5s;
    dlock::Redis redis(io_.get_executor(), options);
    expect_refused<std::invalid_argument>(
        [&] {
            go([&]() -> asio::awaitable<void> {
                co_await redis.command(std::vector<std::string>{});
            });
        },
        "args", "Redis::command({})");
    std::string pong;
    dlock::Client& client = redis;  // command() is the Client's: any client runs one
    try {
        go([&]() -> asio::awaitable<void> { pong = (co_await client.command("PING")).str; });
    } catch (const std::exception& e) {
        pong = std::string("threw: ") + e.what();
    }
    EXPECT_EQ(pong, "PONG") << "the connection is out of step after an empty command";
}

TEST_F(BadInputTest, AnEmptyCommandInARequestIsRefused) {
    const std::vector<std::string> none;
    expect_refused<std::invalid_argument>(
        [&] {
            dlock::Request request;
            request.push(std::span<const std::string>(none));
            go([&]() -> asio::awaitable<void> { co_await redis_.pipeline(request, 0.5s); });
        },
        "args", "Request::push({})");
}

// ---- RedisCluster (no I/O in the constructor) -------------------------------------------------

TEST_F(BadInputTest, ClusterSeedsAndOptions) {
    auto cluster = [&](std::vector<std::string> urls, dlock::ClusterOptions options = {}) {
        return [this, urls, options] { dlock::RedisCluster(io_.get_executor(), urls, options); };
    };
    expect_refused<std::invalid_argument>(cluster({}), "seeds", "no seed");
    expect_refused<std::invalid_argument>(cluster({"unix:///tmp/x.sock"}), "seeds", "unix seed");
    expect_refused<std::invalid_argument>(cluster({"redis://127.0.0.1:1/2"}), "seeds", "db 2");
    for (const double bad : {-1.0, nan_s, inf_s}) {
        expect_refused<std::invalid_argument>(
            cluster({"redis://127.0.0.1:1"}, {.topology_max_age = Seconds(bad)}),
            "topology_max_age", "topology_max_age " + std::to_string(bad));
    }
    expect_refused<std::invalid_argument>(
        [&] { dlock::sync::RedisCluster sync_cluster(std::vector<std::string>{}); }, "seeds",
        "sync::RedisCluster without seeds");

    dlock::RedisCluster unused(io_.get_executor(), {"redis://127.0.0.1:1"});
    const std::vector<std::string> get{"GET", "k"};
    expect_refused<std::invalid_argument>(
        [&] {
            go([&]() -> asio::awaitable<void> {
                co_await unused.command(std::vector<std::string>{});
            });
        },
        "args", "cluster command({})");
    expect_refused<std::invalid_argument>(
        [&] {
            go([&]() -> asio::awaitable<void> {  // optional<>: RedisCluster::command's variadic
                                                 // template is unconstrained, so a
                // plain Seconds would pick it (dlock::Redis constrains its one).
                co_await unused.command(get, std::optional<Seconds>(Seconds(-1)));
            });
        },
        "timeout", "cluster command timeout -1");
}

// ---- Lock -------------------------------------------------------------------------------------

TEST_F(BadInputTest, LockOptionsNotCoveredElsewhere) {
    auto lock = [&](LockOptions options) {
        return [this, options] { Lock l(redis_, name_, options); };
    };
    expect_refused<std::invalid_argument>(lock({.timeout = Seconds(0)}), "timeout", "timeout 0");
    expect_refused<std::invalid_argument>(lock({.timeout = Seconds(2e9)}), "timeout", "huge");
    expect_refused<std::invalid_argument>(lock({.command_timeout = Seconds(0)}), "command_timeout",
                                          "command_timeout 0");
    expect_refused<std::invalid_argument>(lock({.auto_renew = true}), "auto_renew",
                                          "auto_renew without timeout");
    expect_refused<std::invalid_argument>(
        lock({.timeout = 10s, .auto_renew = true, .renew_interval = Seconds(0)}), "renew_interval",
        "renew_interval 0");
    // Accepted: replication_timeout 0 (used as 1 ms: WAIT 0 would block forever), sleep 0.
    EXPECT_NO_THROW(Lock(redis_, name_, {.replication_timeout = Seconds(0)}));
    EXPECT_NO_THROW(Lock(redis_, name_, {.sleep = Seconds(0)}));
}

TEST_F(BadInputTest, LockOperations) {
    Lock lock(redis_, name_, {.timeout = 10s});
    expect_refused<std::invalid_argument>(
        [&] {
            go([&]() -> asio::awaitable<void> {
                co_await lock.extend(Seconds(0), ExtendMode::replace);
            });
        },
        "additional_time", "extend(0, replace)");
    expect_refused<std::invalid_argument>([&] { lock.adopt(""); }, "token", "adopt(\"\")");
    lock.adopt("someone-elses-token");
    expect_refused<dlock::LockError>([&] { lock.adopt("another"); }, "held", "adopt while held");

    Lock no_timeout(redis_, name_);
    no_timeout.adopt("token");
    expect_refused<dlock::LockExtensionError>(
        [&] { go([&]() -> asio::awaitable<void> { co_await no_timeout.reacquire(); }); }, "timeout",
        "reacquire without timeout");
}

// ---- fenced_write -----------------------------------------------------------------------------

TEST_F(BadInputTest, FencedWriteMessagesNameTheParameter) {
    auto write = [&](std::string key, std::int64_t fence, Seconds timeout) {
        return [this, key, fence, timeout] {
            go([&]() -> asio::awaitable<void> {
                co_await dlock::fenced_write(redis_, key, fence, "v", timeout);
            });
        };
    };
    expect_refused<std::invalid_argument>(write("", 1, 5s), "resource_key", "empty key");
    expect_refused<std::invalid_argument>(write(name_, -1, 5s), "fence", "fence -1");
    for (const double bad : {0.0, -1.0, nan_s, inf_s}) {
        expect_refused<std::invalid_argument>(write(name_, 1, Seconds(bad)), "timeout",
                                              "timeout " + std::to_string(bad));
    }
}

// ---- Redlock ----------------------------------------------------------------------------------

class BadInputRedlockTest : public BadInputTest {
  protected:
    std::vector<std::string> urls_ =
        std::vector<std::string>(3, server("PLAIN_URL"));  // no I/O in these rows
    dlock::Redlock group_{io_.get_executor(), urls_};
};

TEST_F(BadInputRedlockTest, GroupAndOptionsNotCoveredElsewhere) {
    expect_refused<std::invalid_argument>(
        [&] {
            dlock::Redlock(io_.get_executor(),
                           std::vector<std::string>{urls_[0], urls_[1], "http://x"});
        },
        "url", "bad node URL");
    auto lock = [&](RedlockOptions options) {
        return [this, options] { RedlockLock l(group_, name_, options); };
    };
    expect_refused<std::invalid_argument>(lock({.timeout = Seconds(0)}), "timeout", "timeout 0");
    expect_refused<std::invalid_argument>(lock({.timeout = 10s, .node_timeout = Seconds(0)}),
                                          "node_timeout", "node_timeout 0");
    for (const double bad : {1.0, 2.0, inf_s}) {
        expect_refused<std::invalid_argument>(lock({.timeout = 10s, .clock_drift_factor = bad}),
                                              "clock_drift_factor",
                                              "clock_drift_factor " + std::to_string(bad));
    }
}

TEST_F(BadInputRedlockTest, Operations) {
    RedlockLock lock(group_, name_, {.timeout = 10s});
    for (const double bad : {-1.0, nan_s, inf_s}) {
        expect_refused<std::invalid_argument>(
            [&] {
                go([&]() -> asio::awaitable<void> {
                    co_await lock.acquire({.blocking_timeout = Seconds(bad)});
                });
            },
            "blocking_timeout", "acquire blocking_timeout " + std::to_string(bad));
        expect_refused<std::invalid_argument>(
            [&] { go([&]() -> asio::awaitable<void> { co_await lock.extend(Seconds(bad)); }); },
            "additional_time", "extend " + std::to_string(bad));
    }
    expect_refused<std::invalid_argument>(
        [&] {
            go([&]() -> asio::awaitable<void> {
                co_await lock.extend(Seconds(0), ExtendMode::replace);
            });
        },
        "additional_time", "extend(0, replace)");
}

// ---- the sync forms: same validation as the async classes -------------------------------------

TEST(BadInputSync, SyncClientsAndLocksValidateLikeTheAsyncOnes) {
    expect_refused<std::invalid_argument>([] { dlock::sync::Redis redis("http://x"); }, "url",
                                          "sync::Redis bad URL");
    const std::vector<std::string> two(2, server("PLAIN_URL"));
    expect_refused<std::invalid_argument>([&] { dlock::sync::Redlock group(two); }, "urls",
                                          "sync::Redlock with 2 nodes");
    dlock::sync::Redlock group(std::vector<std::string>(3, server("PLAIN_URL")));
    expect_refused<std::invalid_argument>([&] { dlock::sync::RedlockLock lock(group, "x", {}); },
                                          "timeout", "sync::RedlockLock without timeout");
    expect_refused<std::invalid_argument>(
        [&] { dlock::sync::RedlockLock lock(group, "", {.timeout = 1s}); }, "name",
        "sync::RedlockLock empty name");
}

// docs/semantics.md §7.4: the Redlock sync form is the same facade as sync::Lock. And
// try_lock_for with a negative duration is one attempt (as std::timed_mutex).
TEST(BadInputSync, SyncRedlockLocksLikeSyncLockAndANegativeWaitIsOneAttempt) {
    std::vector<std::string> urls;
    const std::string list = server("REDLOCK5_URLS");
    for (std::size_t at = 0; at <= list.size();) {
        const auto comma = std::min(list.find(',', at), list.size());
        urls.push_back(list.substr(at, comma - at));
        at = comma + 1;
    }
    dlock::sync::Redlock group(urls);
    const std::string name = "dlock-bad-input-redlock-" + std::to_string(::getpid());
    // Bounded waits only: a test must end even when the servers are gone.
    dlock::sync::RedlockLock first(group, name, {.timeout = 10s, .blocking_timeout = 5s});
    dlock::sync::RedlockLock second(group, name, {.timeout = 10s});
    {
        std::unique_lock guard(first, 5s);
        ASSERT_TRUE(guard.owns_lock());
        EXPECT_TRUE(first.owned());
        EXPECT_FALSE(second.try_lock_for(-1s));  // held: one attempt, no wait
    }
    EXPECT_FALSE(first.locked());
    EXPECT_TRUE(second.try_lock_for(-1s));
    second.unlock();
    EXPECT_EQ(second.last_unlock_error(), nullptr);
    {
        dlock::sync::RedlockLockGuard guard(first);
        guard.release();
    }
}

// ---- the CLI ----------------------------------------------------------------------------------

#ifdef DLOCK_CLI_PATH
constexpr const char* cli_path = DLOCK_CLI_PATH;
#else
constexpr const char* cli_path = nullptr;
#endif

struct CliOutcome {
    int status = -1;
    std::string output;  // stdout, then stderr
};

// Runs the dlock binary with `args`, without DLOCK_URL / DLOCK_PASSWORD from the environment.
CliOutcome run_cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv{cli_path};
    argv.insert(argv.end(), args.begin(), args.end());
    dlock::test::ChildOptions options;
    options.unset = {"DLOCK_URL", "DLOCK_PASSWORD"};
    dlock::test::ChildProcess child(argv, options);
    const dlock::test::Outcome outcome = child.wait(std::chrono::seconds(60));
    return {outcome.status, outcome.out + outcome.err};
}

class BadInputCliTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (cli_path == nullptr) GTEST_SKIP() << "dlock_cli is not built";
    }
    // Expects exit status `status`, `mention` in the output, and no password in it.
    void expect(const std::vector<std::string>& args, int status, const std::string& mention) {
        std::string joined;
        for (const auto& arg : args) joined += "'" + arg + "' ";
        SCOPED_TRACE(joined);
        const CliOutcome outcome = run_cli(args);
        EXPECT_EQ(outcome.status, status) << outcome.output;
        EXPECT_NE(outcome.output.find(mention), std::string::npos)
            << "does not mention '" << mention << "': " << outcome.output;
        EXPECT_EQ(outcome.output.find(secret), std::string::npos)
            << "password in the output: " << outcome.output;
    }
    std::string url_ = server("PLAIN_URL");
    std::string name_ = "dlock-bad-input-cli-" + std::to_string(::getpid());
};

TEST_F(BadInputCliTest, UsageErrorsNotCoveredByCliTest) {
    const std::string n = name_;
    const std::string u = url_;
    const std::string empty_file =
        (std::filesystem::temp_directory_path() / (n + ".empty")).string();
    std::ofstream(empty_file) << "\n";
    const std::string password_file =
        (std::filesystem::temp_directory_path() / (n + ".password")).string();
    std::ofstream(password_file) << "pw\n";
    struct Case {
        std::vector<std::string> args;
        std::string mention;
    };
    const std::vector<Case> cases{
        {{"run", "", "--url", u, "--", "true"}, "NAME must not be empty"},
        {{"status", "", "--url", u}, "NAME must not be empty"},
        {{"release", "", "tok", "--url", u}, "NAME must not be empty"},
        {{"extend", "", "tok", "5", "--url", u}, "NAME must not be empty"},
        {{"run", n, "-t", "0", "--", "true"}, "--ttl"},
        {{"run", n, "-t", "inf", "--", "true"}, "--ttl"},
        {{"run", n, "-t", "nan", "--", "true"}, "--ttl"},
        {{"run", n, "-t", "5s", "--", "true"}, "--ttl"},
        {{"run", n, "-t", "2e9", "--", "true"}, "--ttl"},
        {{"run", n, "-w", "abc", "--", "true"}, "--wait"},
        {{"run", n, "--sleep", "0", "--", "true"}, "--sleep"},
        {{"run", n, "-E", "256", "--", "true"}, "--conflict-exit-code"},
        {{"run", n, "-E", "x", "--", "true"}, "conflict-exit-code"},
        {{"run", n, "--kill-after", "-1", "--", "true"}, "--kill-after"},
        {{"run", n, "--kill-after", "soon", "--", "true"}, "--kill-after"},
        {{"status", n, "--cert", "/nonexistent/c.pem"}, "--cert and --key"},
        {{"status", n, "--url", "rediss://127.0.0.1:1", "--cert", "/nonexistent/c.pem", "--key",
          "/nonexistent/k.pem"},
         "--cert"},
        {{"status", n, "--password-file", "/nonexistent/pw"}, "--password-file"},
        {{"status", n, "--password-file", empty_file}, "--password-file"},
        {{"status", n, "--url", "redis://:pw@127.0.0.1:1", "--password-file", password_file},
         "password given twice"},
        {{"acquire", n, "--fence", "--no-fence"}, "--fence and --no-fence"},
        {{"release", n, "", "--url", u}, "token"},
        {{"extend", n, "tok", "0", "--url", u}, "SEC"},
        {{"extend", n, "tok", "nan", "--url", u}, "SEC"},
    };
    for (const Case& c : cases) expect(c.args, 64, c.mention);
    std::filesystem::remove(empty_file);
    std::filesystem::remove(password_file);
}

// The CLI prints a rejected URL or option back: never with its password.
TEST_F(BadInputCliTest, NoPasswordInTheCliOutput) {
    expect({"status", name_, "--url", "redis://u:secretpw@127.0.0.1:notaport"}, 64, "port");
    expect({"status", name_, "--insecure", "--url", "redis://:secretpw@127.0.0.1:1"}, 64,
           "rediss://");
}

// A timeout so short that timeout/3 rounds to the timeout itself: still a usage error.
TEST_F(BadInputCliTest, ATimeoutTooShortToRenewIsAUsageError) {
    expect({"run", name_, "--url", url_, "-t", "0.001", "--sleep", "0.001", "--", "true"}, 64,
           "renew_interval");
}

TEST_F(BadInputCliTest, ACommandThatCannotBeExecutedIs126) {
    const std::string file =
        (std::filesystem::temp_directory_path() / (name_ + ".not-executable")).string();
    std::ofstream(file) << "#!/bin/sh\ntrue\n";
    std::filesystem::permissions(file, std::filesystem::perms::owner_read);
    expect({"run", name_, "--url", url_, "--", file}, 126, file);
    std::filesystem::remove(file);
}

}  // namespace
