// Integration tests of the `dlock` command-line tool: the real binary against the harness's
// real servers. Every exit status the tool documents is provoked for real (a held lock, a
// closed port, a server answering errors, a lock deleted under a running child, a child killed
// by a signal), as are signal forwarding and renewal.
//
// The binary is spawned with its stdout/stderr on pipes; its exit is awaited on a pidfd, and
// "the child has started" is COMMAND printing a line on the shared stdout, so no test sleeps
// to synchronise. The one sleep (RenewalKeepsAShortLockAlive) is the point of that test: time
// must pass beyond the lock's timeout.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "async.hpp"
#include "child_process.hpp"
#include "dlock/sync.hpp"
#include "lock/scripts.hpp"
#include "names.hpp"
#include "protocol/keys.hpp"
#include "protocol/slots.hpp"
#include "servers.hpp"

namespace dlock::test {
namespace {

// The binary under test, from tests/integration/CMakeLists.txt; absent when the build has no
// tools (DLOCK_BUILD_TOOLS=OFF): every test is then skipped.
#ifdef DLOCK_CLI_PATH
constexpr const char* cli_path = DLOCK_CLI_PATH;
#else
constexpr const char* cli_path = nullptr;
#endif

// ---- running a process -------------------------------------------------------------------

// A child with the current environment minus DLOCK_URL and DLOCK_PASSWORD (which the CLI
// reads), plus `env`.
ChildOptions cli_options(const Env& env) {
    return {.env = env, .unset = {"DLOCK_URL", "DLOCK_PASSWORD"}, .pipe_stdin = false};
}

class Process : public ChildProcess {
  public:
    explicit Process(const std::vector<std::string>& args, const Env& env = {})
        : ChildProcess(args, cli_options(env)) {}
};

// Runs `args` to completion (at most `timeout`).
Outcome run_process(const std::vector<std::string>& args, const Env& env = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return dlock::test::run_process(args, cli_options(env), timeout);
}

// ---- helpers -----------------------------------------------------------------------------

using namespace std::chrono_literals;

// `dlock ARGS...` against the shared plain server (DLOCK_URL), unless `env` says otherwise.
std::vector<std::string> dlock_args(std::vector<std::string> args) {
    args.insert(args.begin(), cli_path);
    return args;
}

Env plain_env() {
    return {{"DLOCK_URL", server("PLAIN_URL")}};
}

Outcome dlock(std::vector<std::string> args, Env env = plain_env(),
              std::chrono::milliseconds timeout = 30s) {
    return run_process(dlock_args(std::move(args)), env, timeout);
}

// A lock name of its own per test ("CliTest.Name:hex"), since test executables run in parallel.
std::string lock_name() {
    return unique_name();
}

// A loopback port nobody listens on: bound by us a moment ago, then closed.
int closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

// Fields of `dlock status --json`, checked by a real JSON parser (python3's).
struct Status {
    bool held = false;
    long long ttl_ms = -3;  // -3: null
    std::string name;
};

Status status_of(const std::string& name) {
    const Outcome status = dlock({"status", "--json", name});
    EXPECT_EQ(status.status, 0) << status.err;
    const Outcome parsed = run_process(
        {"python3", "-c",
         "import json, sys\n"
         "d = json.loads(sys.argv[1])\n"
         "assert sorted(d) == ['fence', 'held', 'held_as', 'held_for_ms', 'holder', 'name', "
         "'read_write', 'semaphore', 'ttl_ms', 'waiting'], d\n"
         "assert isinstance(d['held'], bool)\n"
         "assert d['ttl_ms'] is None or isinstance(d['ttl_ms'], int)\n"
         "print(d['name']); print(int(d['held'])); print(-3 if d['ttl_ms'] is None "
         "else d['ttl_ms'])\n",
         status.out});
    EXPECT_EQ(parsed.status, 0) << "not valid status JSON: " << status.out << parsed.err;
    Status result;
    std::istringstream lines(parsed.out);
    std::string held, ttl;
    std::getline(lines, result.name);
    std::getline(lines, held);
    std::getline(lines, ttl);
    result.held = held == "1";
    if (!ttl.empty()) result.ttl_ms = std::stoll(ttl);
    return result;
}

bool pid_alive(pid_t pid) {
    return ::kill(pid, 0) == 0;
}

std::string trim(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

// True once a process is queued in `name`'s wait queue (a waiting dlock subscribes to its inbox
// first), false after 10 s.
bool someone_queued(sync::Redis& redis, const std::string& name) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (redis.command({"ZCARD", detail::wait_queue_key(name)}).integer < 1) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

// The pid that COMMAND (`sh -c 'echo pid=$$; exec ...'`) printed first; throws, failing the
// test, when it printed no line within 10 s.
pid_t printed_pid(Process& run) {
    if (!run.wait_for_output("\n", 10s)) throw std::runtime_error("COMMAND printed no pid");
    return std::stoi(run.out().substr(4));
}

// Deletes `name` under a running `dlock run` (as an operator, or a key lost with its server,
// would) and waits for that run to end: its outcome and the seconds from the DEL. `deleted` is
// false, and nothing waited for, when the lock was not there.
struct LostLock {
    bool deleted = false;
    Outcome outcome;
    double seconds = 0;
};

LostLock delete_under(Process& run, const std::string& name) {
    sync::Redis redis(server("PLAIN_URL"));
    if (redis.command({"DEL", name}).integer != 1) return {};
    Stopwatch watch;
    Outcome outcome = run.wait(10s);
    return {true, std::move(outcome), watch.seconds()};
}

const std::regex token_pattern("[0-9a-f]{32}");

// ---- tests -------------------------------------------------------------------------------

class CliTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (cli_path == nullptr) GTEST_SKIP() << "dlock_cli is not built (DLOCK_BUILD_TOOLS=OFF)";
    }
};

TEST_F(CliTest, VersionAndHelp) {
    const Outcome version = dlock({"--version"});
    EXPECT_EQ(version.status, 0);
    EXPECT_NE(version.out.find("0.1.0"), std::string::npos) << version.out;

    const Outcome run_help = dlock({"run", "--help"});
    EXPECT_EQ(run_help.status, 0);
    EXPECT_NE(run_help.out.find("dlock run [OPTIONS] NAME [--] COMMAND"), std::string::npos)
        << run_help.out;
    EXPECT_NE(run_help.out.find("crontab"), std::string::npos) << run_help.out;
    EXPECT_NE(run_help.out.find("DLOCK_FENCE"), std::string::npos);
    EXPECT_NE(run_help.out.find("75"), std::string::npos);
    for (const char* subcommand :
         {"acquire", "release", "extend", "status", "list", "wait", "break"}) {
        const Outcome help = dlock({subcommand, "--help"});
        EXPECT_EQ(help.status, 0) << subcommand;
        EXPECT_NE(help.out.find("Exit status"), std::string::npos) << subcommand;
        EXPECT_NE(help.out.find("--url"), std::string::npos) << subcommand;
    }
}

TEST_F(CliTest, BadArgumentsAreUsageErrorsWithAHelpfulMessage) {
    const std::string name = lock_name();
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const std::vector<Case> cases{
        {{"run", name}, "missing COMMAND"},
        {{"run", name, "--"}, "missing COMMAND"},
        {{"run", name, "-c", "true", "echo"}, "-c TEXT and COMMAND exclude each other"},
        {{"run", name, "-t", "-1", "--", "true"},
         "--ttl must be a number of seconds > 0, got '-1'"},
        {{"run", name, "-t", "abc", "--", "true"}, "--ttl"},
        {{"run", name, "-w", "-2", "--", "true"}, "--wait"},
        {{"run", name, "--timeout=-2", "true"}, "--wait"},
        {{"run", name, "--bogus", "--", "true"}, "--bogus"},
        {{"run", name, "-n", "-w", "3", "--", "true"}, "--nonblock and --wait"},
        {{"run", name, "--url", "redis://a:1", "--url", "redis://b:2", "true"},
         "Redlock needs 3 or more"},
        {{"break", name}, "--yes"},
        {{"run", name, "-x", "--label", "nightly", "true"}, "--label needs a plain lock"},
        {{"run", name, "--permits", "2", "--label", "x", "true"}, "--label needs a plain lock"},
        // Integers are decimal only, through one parser (CLI11 alone reads 0x10 as 16).
        {{"run", name, "--permits", "abc", "true"}, "--permits: 'abc' is not a number"},
        {{"run", name, "--permits", "0x10", "true"}, "--permits: '0x10' is not a number"},
        {{"run", name, "--permits", "2.5", "true"}, "is not a number"},
        {{"run", name, "--permits", "0", "true"}, "--permits must be between 1 and 1000000"},
        {{"run", name, "-E", "0x10", "true"}, "--conflict-exit-code: '0x10' is not a number"},
        {{"run", name, "-E", "256", "true"}, "--conflict-exit-code must be between 0 and 255"},
        {{"wait", name, "-E", "1e3"}, "--conflict-exit-code: '1e3' is not a number"},
        {{"run", name, "--permits", "99999999999999999999", "true"}, "must be between"},
        {{"wait", name, "-w", "x"}, "--wait"},
        {{"run", name, "--sleep", "5", "-t", "1", "--", "true"}, "--sleep"},
        {{"run", "--", "true"}, "NAME"},
        {{"run", name, "--url", "http://127.0.0.1", "--", "true"}, "scheme"},
        {{"run", name, "--cacert", "/nonexistent/ca.pem", "--", "true"}, "--cacert"},
        {{"extend", name, "token", "soon"}, "SEC"},
        {{"release", name}, "TOKEN"},
        {{"frobnicate"}, "frobnicate"},
        {{}, "subcommand"},
        // An empty --opt= is refused by name (CLI11 would take NAME as its value instead).
        {{"--url=", "status", name}, "--url= has an empty value"},
        {{"status", "--url=", name}, "--url= has an empty value"},
        {{"run", "--label=", name, "true"}, "--label= has an empty value"},
        {{"--url"}, "--url needs a value"},
        // Redlock over one server named twice never has its quorum: it would wait forever.
        {{"run", name, "--url", "redis://127.0.0.1:7", "--url", "redis://127.0.0.1:7/2", "--url",
          "redis://127.0.0.1:8", "true"},
         "--url names 127.0.0.1:7 twice"},
    };
    for (const Case& c : cases) {
        const Outcome outcome = dlock(c.args);
        std::string joined;
        for (const auto& arg : c.args) joined += arg + " ";
        EXPECT_EQ(outcome.status, 64) << joined << "\n" << outcome.err;
        EXPECT_NE(outcome.err.find(c.message), std::string::npos)
            << joined << "\nstderr: " << outcome.err;
        EXPECT_NE(outcome.err.find("--help"), std::string::npos)
            << joined << "\nstderr: " << outcome.err;
    }
    EXPECT_FALSE(status_of(name).held);  // nothing was taken by a rejected command
}

TEST_F(CliTest, RunPassesTheChildsExitStatusOn) {
    const std::string name = lock_name();
    EXPECT_EQ(dlock({"run", name, "--", "true"}).status, 0);
    EXPECT_EQ(dlock({"run", name, "--", "sh", "-c", "exit 3"}).status, 3);
    const Outcome killed = dlock({"run", name, "--", "sh", "-c", "kill -KILL $$"});
    EXPECT_EQ(killed.status, 137);
    EXPECT_FALSE(killed.signaled) << "dlock itself must exit normally with 128+9";
    const Outcome missing = dlock({"run", name, "--", "/nonexistent/command"});
    EXPECT_EQ(missing.status, 127);
    EXPECT_NE(missing.err.find("cannot run /nonexistent/command"), std::string::npos)
        << missing.err;
    // COMMAND's own options are not dlock's.
    const Outcome echoed = dlock({"run", name, "--", "echo", "-n", "--help", "--", "x"});
    EXPECT_EQ(echoed.status, 0);
    EXPECT_EQ(echoed.out, "--help -- x");
    EXPECT_FALSE(status_of(name).held) << "released after each run";
}

TEST_F(CliTest, ChildSeesNameTokenAndFence) {
    const std::string name = lock_name();
    sync::Redis redis(server("PLAIN_URL"));
    Process run(dlock_args({"run", name, "--", "sh", "-c",
                            "echo \"$DLOCK_NAME|$DLOCK_TOKEN|$DLOCK_FENCE|\"; exec sleep 30"}),
                plain_env());
    ASSERT_TRUE(run.wait_for_output("|\n", 10s)) << run.out();
    const std::string line = trim(run.out());
    const auto first = line.find('|'), second = line.find('|', first + 1),
               third = line.find('|', second + 1);
    const std::string child_name = line.substr(0, first);
    const std::string token = line.substr(first + 1, second - first - 1);
    const std::string fence = line.substr(second + 1, third - second - 1);
    EXPECT_EQ(child_name, name);
    EXPECT_TRUE(std::regex_match(token, token_pattern)) << token;
    EXPECT_EQ(redis.command({"GET", name}).str, token)
        << "DLOCK_TOKEN is the lock's value in Redis";
    ASSERT_FALSE(fence.empty());
    const long long first_fence = std::stoll(fence);
    EXPECT_GT(first_fence, 0);
    run.signal(SIGTERM);
    EXPECT_EQ(run.wait(10s).status, 128 + SIGTERM);  // sleep died of the forwarded SIGTERM

    const Outcome again = dlock({"run", name, "--", "sh", "-c", "echo \"$DLOCK_FENCE\""});
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_GT(std::stoll(again.out), first_fence) << "fences grow with every acquisition";

    const Outcome no_fence =
        dlock({"run", "--no-fence", name, "--", "sh", "-c", "echo \"${DLOCK_FENCE-unset}\""});
    EXPECT_EQ(trim(no_fence.out), "unset");
}

TEST_F(CliTest, HeldLockMakesRunFailWithOneOrTheConflictCode) {
    const std::string name = lock_name();
    const Outcome acquired = dlock({"acquire", name});
    ASSERT_EQ(acquired.status, 0) << acquired.err;
    const std::string token = trim(acquired.out);
    ASSERT_TRUE(std::regex_match(token, token_pattern)) << acquired.out;

    const Outcome busy = dlock({"run", "-n", name, "--", "sh", "-c", "echo ran"});
    EXPECT_EQ(busy.status, 1);
    EXPECT_EQ(busy.out, "") << "COMMAND must not run";
    EXPECT_EQ(busy.err, "") << "silent on conflict, as flock -n (cron mails any output)";
    const Outcome verbose = dlock({"run", "-n", "-v", name, "--", "true"});
    EXPECT_EQ(verbose.status, 1);
    EXPECT_NE(verbose.err.find("is held by someone else"), std::string::npos) << verbose.err;
    EXPECT_EQ(dlock({"run", "-n", "-E", "7", name, "--", "true"}).status, 7);
    EXPECT_EQ(dlock({"run", "-n", "-E", "010", name, "--", "true"}).status, 10);  // decimal
    EXPECT_EQ(dlock({"wait", "-w", "0.1", "-E", "012", name}).status, 12);
    const Outcome quiet = dlock({"run", "-n", "-q", name, "--", "true"});
    EXPECT_EQ(quiet.status, 1);
    EXPECT_EQ(quiet.err, "");
    EXPECT_EQ(dlock({"acquire", "-n", name}).status, 1);

    Stopwatch watch;
    const Outcome waited = dlock({"run", "-v", "-w", "0.5", name, "--", "true"});
    EXPECT_EQ(waited.status, 1);
    EXPECT_GE(watch.seconds(), 0.5);
    EXPECT_LT(watch.seconds(), 5.0);
    EXPECT_NE(waited.err.find("after waiting 0.5 s"), std::string::npos) << waited.err;

    EXPECT_EQ(dlock({"release", name, token}).status, 0);
    EXPECT_EQ(dlock({"run", "-n", name, "--", "true"}).status, 0);
}

TEST_F(CliTest, ReleaseWithAWrongTokenFailsAndLeavesTheLock) {
    const std::string name = lock_name();
    const Outcome acquired = dlock({"acquire", name});
    ASSERT_EQ(acquired.status, 0);
    const std::string token = trim(acquired.out);
    const Outcome wrong = dlock({"release", name, std::string(32, '0')});
    EXPECT_EQ(wrong.status, 1);
    EXPECT_NE(wrong.err.find("not held with this token"), std::string::npos) << wrong.err;
    const Status still = status_of(name);
    EXPECT_TRUE(still.held);
    EXPECT_EQ(still.name, name);
    EXPECT_EQ(dlock({"extend", name, "wrong", "10"}).status, 1);
    EXPECT_EQ(dlock({"release", name, token}).status, 0);
    EXPECT_FALSE(status_of(name).held);
    EXPECT_EQ(dlock({"release", name, token}).status, 1) << "a second release finds nothing";
}

TEST_F(CliTest, AcquireExtendStatusInterop) {
    const std::string name = lock_name();
    const Outcome acquired = dlock({"acquire", "-t", "2", "--fence", name});
    ASSERT_EQ(acquired.status, 0) << acquired.err;
    std::istringstream fields(acquired.out);
    std::string token;
    long long fence = 0;
    fields >> token >> fence;
    EXPECT_TRUE(std::regex_match(token, token_pattern)) << acquired.out;
    EXPECT_GT(fence, 0) << acquired.out;

    Status status = status_of(name);
    EXPECT_TRUE(status.held);
    EXPECT_GT(status.ttl_ms, 0);
    EXPECT_LE(status.ttl_ms, 2000);

    EXPECT_EQ(dlock({"extend", name, token, "10"}).status, 0);
    status = status_of(name);
    EXPECT_GT(status.ttl_ms, 10000);
    EXPECT_LE(status.ttl_ms, 12000);
    EXPECT_EQ(dlock({"extend", "--replace", name, token, "5"}).status, 0);
    status = status_of(name);
    EXPECT_GT(status.ttl_ms, 3000);
    EXPECT_LE(status.ttl_ms, 5000);

    // A lock taken with `acquire` keeps `run` out, and `run`'s fence comes after its.
    EXPECT_EQ(dlock({"run", "-n", name, "--", "true"}).status, 1);
    EXPECT_EQ(dlock({"release", name, token}).status, 0);
    const Outcome run = dlock({"run", "-n", name, "--", "sh", "-c", "echo \"$DLOCK_FENCE\""});
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_GT(std::stoll(run.out), fence);

    status = status_of(name);
    EXPECT_FALSE(status.held);
    EXPECT_EQ(status.ttl_ms, -3) << "ttl_ms is null for a free lock";
    const Outcome human = dlock({"status", name});
    EXPECT_EQ(human.status, 0);
    EXPECT_EQ(human.out, "free (last fence " + trim(run.out) + ")\n");
}

TEST_F(CliTest, WaitingRunIsWokenByTheRelease) {
    const std::string name = lock_name();
    const Outcome acquired = dlock({"acquire", name});
    ASSERT_EQ(acquired.status, 0);
    // --sleep 10: only the release notification can wake the waiter within the bound below.
    Process waiter(dlock_args({"run", "-w", "20", "--sleep", "10", name, "--", "echo", "ran"}),
                   plain_env());
    sync::Redis redis(server("PLAIN_URL"));
    ASSERT_TRUE(someone_queued(redis, name)) << "waiter never queued";
    Stopwatch watch;
    ASSERT_EQ(dlock({"release", name, trim(acquired.out)}).status, 0);
    const Outcome ran = waiter.wait(15s);
    EXPECT_EQ(ran.status, 0) << ran.err;
    EXPECT_EQ(ran.out, "ran\n");
    EXPECT_LT(watch.seconds(), 3.0) << "woken by the release, not by the 10 s poll";
}

TEST_F(CliTest, UnreachableServerIs69) {
    const std::string url = "redis://127.0.0.1:" + std::to_string(closed_port());
    const std::string name = lock_name();
    // -n: one attempt (a waiting run or acquire retries an outage until its wait is over).
    for (const auto& args : std::vector<std::vector<std::string>>{{"run", "-n", name, "--", "true"},
                                                                  {"acquire", "-n", name},
                                                                  {"release", name, "token"},
                                                                  {"extend", name, "token", "5"},
                                                                  {"status", name}}) {
        std::vector<std::string> with_url = args;
        with_url.insert(with_url.begin() + 1, {"--url", url});
        const Outcome outcome = dlock(with_url, {});
        EXPECT_EQ(outcome.status, 69) << args.front() << ": " << outcome.err;
        EXPECT_NE(outcome.err.find("cannot reach Redis"), std::string::npos) << outcome.err;
    }
    // The URL may also come from the environment.
    const Outcome from_env = dlock({"run", "-n", name, "--", "true"}, {{"DLOCK_URL", url}});
    EXPECT_EQ(from_env.status, 69);
    // A waiting run keeps trying until its wait is over, then reports the outage.
    Stopwatch watch;
    const Outcome waited = dlock({"run", "-w", "1", name, "true"}, {{"DLOCK_URL", url}});
    EXPECT_EQ(waited.status, 69) << waited.err;
    EXPECT_GE(watch.seconds(), 0.7);
    EXPECT_LT(watch.seconds(), 5.0);
}

TEST_F(CliTest, ServerAnsweringAnErrorIs69) {
    // The ACL server wants a password: NOAUTH on the first command.
    const std::string url = "redis://127.0.0.1:" + server("ACL_PORT");
    const Outcome refused = dlock({"run", "--url", url, lock_name(), "--", "true"}, {});
    EXPECT_EQ(refused.status, 69);
    EXPECT_NE(refused.err.find("NOAUTH"), std::string::npos) << refused.err;
    // ... and works with the password from the environment or from a file.
    EXPECT_EQ(dlock({"run", "--url", url, lock_name(), "--", "true"},
                    {{"DLOCK_PASSWORD", server("ACL_PASSWORD")}})
                  .status,
              0);
    const std::string file = std::filesystem::temp_directory_path() / (lock_name() + ".password");
    std::ofstream(file) << server("ACL_USER_PASSWORD") << "\n";
    const std::string user_url =
        "redis://" + server("ACL_USER") + ":@127.0.0.1:" + server("ACL_PORT");
    const Outcome with_file =
        dlock({"run", "--url", user_url, "--password-file", file, lock_name(), "--", "true"}, {});
    EXPECT_EQ(with_file.status, 0) << with_file.err;
    std::filesystem::remove(file);
}

TEST_F(CliTest, TlsOptions) {
    const std::string name = lock_name();
    const Outcome verified =
        dlock({"run", "--url", server("TLS_URL"), "--cacert", server("TLS_CA"), "--cert",
               server("TLS_CERT"), "--key", server("TLS_KEY"), name, "--", "true"},
              {});
    EXPECT_EQ(verified.status, 0) << verified.err;
    const Outcome wrong_ca =
        dlock({"status", "--url", server("TLS_URL"), "--cacert", server("TLS_OTHER_CA"), "--cert",
               server("TLS_CERT"), "--key", server("TLS_KEY"), name},
              {});
    EXPECT_EQ(wrong_ca.status, 69) << wrong_ca.err;
    const Outcome insecure = dlock(
        {"status", "--url", server("TLS_URL"), "--insecure", "--cacert", server("TLS_OTHER_CA"),
         "--cert", server("TLS_CERT"), "--key", server("TLS_KEY"), name},
        {});
    EXPECT_EQ(insecure.status, 0) << insecure.err;
    const Outcome plain_url = dlock({"status", "--insecure", name});
    EXPECT_EQ(plain_url.status, 64) << "TLS options with a redis:// URL";
}

TEST_F(CliTest, ClusterSeed) {
    const std::string seeds = server("CLUSTER3X1_SEEDS");
    const std::string seed = seeds.substr(0, seeds.find(','));
    const std::string name = lock_name();
    const Outcome acquired = dlock({"acquire", "--cluster", "--url", seed, name}, {});
    ASSERT_EQ(acquired.status, 0) << acquired.err;
    EXPECT_EQ(dlock({"run", "-n", "--cluster", "--url", seed, name, "--", "true"}, {}).status, 1);
    EXPECT_EQ(dlock({"release", "--cluster", "--url", seed, name, trim(acquired.out)}, {}).status,
              0);
    const Outcome run = dlock(
        {"run", "--cluster", "--url", seed, name, "--", "sh", "-c", "echo \"$DLOCK_FENCE\""}, {});
    EXPECT_EQ(run.status, 0) << run.err;
    EXPECT_GT(std::stoll(run.out), 0);
}

TEST_F(CliTest, LockDeletedUnderARunningChildIs75) {
    const std::string name = lock_name();
    // -t 1.5: renewals every 0.5 s, so the loss is seen within about 0.5 s.
    Process run(
        dlock_args({"run", "-t", "1.5", name, "--", "sh", "-c", "echo pid=$$; exec sleep 30"}),
        plain_env());
    const pid_t child = printed_pid(run);
    const LostLock lost = delete_under(run, name);
    ASSERT_TRUE(lost.deleted);
    EXPECT_EQ(lost.outcome.status, 75);
    EXPECT_LT(lost.seconds, 3.0);
    EXPECT_NE(lost.outcome.err.find("dlock: lock " + name + " lost while sh -c"), std::string::npos)
        << lost.outcome.err;
    EXPECT_EQ(lost.outcome.err.find("dlock: warning:"), std::string::npos)
        << "the library log is off";
    EXPECT_FALSE(pid_alive(child)) << "COMMAND was stopped";
}

TEST_F(CliTest, VerboseAddsTheLibrarysLogOfALostLock) {
    const std::string name = lock_name();
    Process run(dlock_args({"run", "-v", "-t", "1.5", name, "--", "sh", "-c",
                            "echo started; exec sleep 30"}),
                plain_env());
    ASSERT_TRUE(run.wait_for_output("\n", 10s));
    const LostLock lost = delete_under(run, name);
    ASSERT_TRUE(lost.deleted);
    EXPECT_EQ(lost.outcome.status, 75);
    EXPECT_NE(
        lost.outcome.err.find("dlock: warning: lock '" + name + "' lost (renewal_found_gone)"),
        std::string::npos)
        << lost.outcome.err;
}

TEST_F(CliTest, ChildIgnoringSigtermIsKilledAfterTheGracePeriod) {
    const std::string name = lock_name();
    // An ignored signal stays ignored across exec: this sleep cannot be stopped by SIGTERM.
    Process run(dlock_args({"run", "-t", "1.5", "--kill-after", "0.5", name, "--", "sh", "-c",
                            "trap '' TERM; echo pid=$$; exec sleep 30"}),
                plain_env());
    const pid_t child = printed_pid(run);
    const LostLock lost = delete_under(run, name);
    ASSERT_TRUE(lost.deleted);
    EXPECT_GE(lost.seconds, 0.5) << "the grace period";
    EXPECT_LT(lost.seconds, 4.0);
    EXPECT_EQ(lost.outcome.status, 75);
    EXPECT_FALSE(pid_alive(child));
}

TEST_F(CliTest, SigtermIsForwardedAndTheLockReleasedAfterTheChildExits) {
    const std::string name = lock_name();
    const std::string marker = std::filesystem::temp_directory_path() / (name + ".marker");
    std::filesystem::remove(marker);
    sync::Redis redis(server("PLAIN_URL"));
    Process run(dlock_args({"run", name, "--", "sh", "-c",
                            "trap 'echo got-term > \"$MARKER\"; kill $!; exit 0' TERM; echo ready; "
                            "sleep 30 & wait"}),
                {{"DLOCK_URL", server("PLAIN_URL")}, {"MARKER", marker}});
    ASSERT_TRUE(run.wait_for_output("ready\n", 10s));
    EXPECT_EQ(redis.command({"EXISTS", name}).integer, 1);
    run.signal(SIGTERM);
    const Outcome outcome = run.wait(10s);
    EXPECT_EQ(outcome.status, 0) << "the child's status (its trap exits 0); stderr: "
                                 << outcome.err;
    std::ifstream file(marker);
    std::string content;
    std::getline(file, content);
    EXPECT_EQ(content, "got-term");
    EXPECT_EQ(redis.command({"EXISTS", name}).integer, 0) << "released after the child exited";
    std::filesystem::remove(marker);
}

TEST_F(CliTest, SigintWhileWaitingEndsDlockBySigint) {
    const std::string name = lock_name();
    const Outcome acquired = dlock({"acquire", name});
    ASSERT_EQ(acquired.status, 0);
    Process waiter(dlock_args({"run", name, "--", "echo", "ran"}), plain_env());
    sync::Redis redis(server("PLAIN_URL"));
    ASSERT_TRUE(someone_queued(redis, name)) << "waiter never queued";
    waiter.signal(SIGINT);
    const Outcome outcome = waiter.wait(10s);
    EXPECT_TRUE(outcome.signaled) << "a shell must see 'killed by SIGINT'";
    EXPECT_EQ(outcome.status, 128 + SIGINT);
    EXPECT_EQ(outcome.out, "");
    EXPECT_EQ(redis.command({"GET", name}).str, trim(acquired.out))
        << "the holder's lock is untouched";
    // It left the wait queue before dying (it stayed counted, "1 waiting", until the queue
    // expired, and the next release offered the lock to it first).
    EXPECT_EQ(redis.command({"ZCARD", detail::wait_queue_key(name)}).integer, 0);
}

// The same for a waiting `dlock acquire` (which has no COMMAND to pass the signal to).
TEST_F(CliTest, SigtermWhileAcquireWaitsEndsItBySigtermOutOfTheQueue) {
    const std::string name = lock_name();
    const Outcome acquired = dlock({"acquire", name});
    ASSERT_EQ(acquired.status, 0);
    Process waiter(dlock_args({"acquire", name}), plain_env());
    sync::Redis redis(server("PLAIN_URL"));
    ASSERT_TRUE(someone_queued(redis, name)) << "waiter never queued";
    waiter.signal(SIGTERM);
    const Outcome outcome = waiter.wait(10s);
    EXPECT_TRUE(outcome.signaled);
    EXPECT_EQ(outcome.status, 128 + SIGTERM);
    EXPECT_EQ(outcome.out, "") << "no token printed";
    EXPECT_EQ(redis.command({"GET", name}).str, trim(acquired.out));
    EXPECT_EQ(redis.command({"ZCARD", detail::wait_queue_key(name)}).integer, 0);
}

TEST_F(CliTest, RenewalKeepsAShortLockAlive) {
    const std::string name = lock_name();
    sync::Redis redis(server("PLAIN_URL"));
    Stopwatch watch;
    Process run(dlock_args({"run", "-t", "2", name, "--", "sh", "-c", "echo ready; sleep 6"}),
                plain_env());
    ASSERT_TRUE(run.wait_for_output("ready\n", 10s));
    for (int check = 0; check < 2; ++check) {
        // Past the 2 s timeout: only renewal can keep the lock.
        std::this_thread::sleep_for(2s);
        EXPECT_EQ(dlock({"acquire", "-n", name}).status, 1) << "check " << check;
        const long long ttl = redis.command({"PTTL", name}).integer;
        EXPECT_GT(ttl, 0);
        EXPECT_LE(ttl, 2000);
    }
    const Outcome outcome = run.wait(15s);
    EXPECT_EQ(outcome.status, 0) << outcome.err;
    EXPECT_GE(watch.seconds(), 6.0);
    EXPECT_EQ(redis.command({"EXISTS", name}).integer, 0);
}

TEST_F(CliTest, KilledDlockLeavesALockThatExpires) {
    const std::string name = lock_name();
    sync::Redis redis(server("PLAIN_URL"));
    Process run(
        dlock_args({"run", "-t", "1", name, "--", "sh", "-c", "echo pid=$$; exec sleep 30"}),
        plain_env());
    const pid_t child = printed_pid(run);
    run.signal(SIGKILL);
    run.wait(10s);
    EXPECT_EQ(redis.command({"EXISTS", name}).integer, 1) << "nobody released it";
    Stopwatch watch;
    const Outcome next = dlock({"run", "-w", "5", name, "--", "true"});
    EXPECT_EQ(next.status, 0) << next.err;
    EXPECT_LT(watch.seconds(), 2.5) << "free once its 1 s timeout ran out";
    ::kill(child, SIGKILL);  // the orphaned COMMAND: dlock was not there to stop it
}

// ---- issue 12: the command as people type it ------------------------------------------------

// The common orders of issue 12, each run for real against the plain server with the URL given
// on the command line only. {N} is the lock's name, {T} a token of a fresh `acquire` of it, {U}
// the URL. Before the fix, --url swallowed NAME (64 "NAME is required"), options before the
// subcommand were refused, and COMMAND needed `--`.
TEST_F(CliTest, CommonOrdersOfOptionsAndPositionalsAllWork) {
    struct Case {
        std::vector<std::string> args;
        int status;
        bool needs_token;  // {T}: acquire first
        bool leaves_lock;  // release it afterwards
    };
    const std::vector<Case> cases{
        {{"acquire", "--url", "{U}", "{N}", "-t", "5"}, 0, false, true},
        {{"acquire", "{N}", "--url", "{U}", "-t", "5"}, 0, false, true},
        {{"acquire", "-t", "5", "{N}", "--url", "{U}"}, 0, false, true},
        {{"--url", "{U}", "acquire", "{N}", "--ttl=5"}, 0, false, true},
        {{"acquire", "--url={U}", "--ttl", "5", "-n", "{N}"}, 0, false, true},
        {{"run", "--url", "{U}", "{N}", "-n", "--", "true"}, 0, false, false},
        {{"run", "{N}", "--url", "{U}", "-n", "true"}, 0, false, false},
        {{"run", "-n", "--url", "{U}", "{N}", "true"}, 0, false, false},
        {{"--url", "{U}", "run", "{N}", "true"}, 0, false, false},
        {{"--url={U}", "run", "-w", "1", "{N}", "sh", "-c", "exit 3"}, 3, false, false},
        {{"run", "{N}", "-c", "exit 4", "--url", "{U}"}, 4, false, false},
        {{"run", "-t", "5", "--wait", "1", "{N}", "echo", "-n", "x"}, 0, false, false},
        {{"run", "{N}", "--timeout=1", "--url", "{U}", "--", "true"}, 0, false, false},
        {{"run", "-nt5", "{N}", "--url", "{U}", "true"}, 0, false, false},
        // `--` before NAME ends the options, as getopt reads it; a second one is accepted.
        {{"run", "--url", "{U}", "--", "{N}", "true"}, 0, false, false},
        {{"run", "-n", "--url={U}", "--", "{N}", "--", "true"}, 0, false, false},
        {{"status", "--url", "{U}", "{N}", "--json"}, 0, false, false},
        {{"status", "{N}", "--url", "{U}"}, 0, false, false},
        {{"--url", "{U}", "status", "--json", "{N}"}, 0, false, false},
        {{"extend", "--url", "{U}", "{N}", "{T}", "5", "--replace"}, 0, true, true},
        {{"extend", "{N}", "{T}", "5", "--url", "{U}"}, 0, true, true},
        {{"extend", "--replace", "{N}", "--url={U}", "{T}", "5"}, 0, true, true},
        {{"release", "--url", "{U}", "{N}", "{T}"}, 0, true, false},
        {{"release", "{N}", "{T}", "--url", "{U}"}, 0, true, false},
        {{"--url", "{U}", "release", "{N}", "{T}"}, 0, true, false},
        {{"wait", "--url", "{U}", "{N}", "-w", "1"}, 0, false, false},
        {{"break", "--url", "{U}", "{N}", "--yes"}, 0, true, false},
        {{"--url", "{U}", "break", "-y", "{N}"}, 0, true, false},
    };
    const std::string url = server("PLAIN_URL");
    for (const Case& c : cases) {
        const std::string name = lock_name();
        std::string token;
        if (c.needs_token) {
            const Outcome acquired = dlock({"acquire", "--url", url, name}, {});
            ASSERT_EQ(acquired.status, 0) << acquired.err;
            token = trim(acquired.out);
        }
        std::vector<std::string> args;
        std::string joined;
        for (std::string arg : c.args) {
            for (const auto& [from, to] :
                 {std::pair<std::string, std::string>{"{U}", url}, {"{N}", name}, {"{T}", token}}) {
                const auto at = arg.find(from);
                if (at != std::string::npos) arg.replace(at, from.size(), to);
            }
            joined += arg + " ";
            args.push_back(arg);
        }
        // Without DLOCK_URL, except where the case gives no --url at all.
        bool has_url = false;
        for (const auto& arg : c.args) has_url = has_url || arg.find("{U}") != std::string::npos;
        const Outcome outcome = dlock(args, has_url ? Env{} : plain_env());
        EXPECT_EQ(outcome.status, c.status) << joined << "\nstderr: " << outcome.err;
        if (c.args.front() == "status" || c.args[2] == "status") {
            EXPECT_NE(outcome.out.find(
                          c.args.back() == "--json" || c.args[3] == "--json" ? "\"held\"" : "free"),
                      std::string::npos)
                << joined << outcome.out;
        }
        sync::Redis redis(url);
        const bool held = redis.command({"EXISTS", name}).integer == 1;
        EXPECT_EQ(held, c.leaves_lock) << joined;
        redis.command({"DEL", name});
    }
}

TEST_F(CliTest, WaitIsHowLongToWaitAsInFlock) {
    const std::string name = lock_name();
    const Outcome acquired = dlock({"acquire", "-t", "20", name});
    ASSERT_EQ(acquired.status, 0);
    // flock --timeout 1 gives up at 1 s; dlock's --timeout used to be the lock's life.
    for (const std::vector<std::string>& wait :
         {std::vector<std::string>{"--timeout", "1"}, {"-w", "1"}, {"--wait=1"}}) {
        std::vector<std::string> args{"run"};
        args.insert(args.end(), wait.begin(), wait.end());
        args.insert(args.end(), {name, "echo", "ran"});
        Stopwatch watch;
        const Outcome waited = dlock(args);
        EXPECT_EQ(waited.status, 1) << wait.front() << waited.err;
        EXPECT_EQ(waited.out, "");
        EXPECT_EQ(waited.err, "") << "silent, as flock -w";
        EXPECT_GE(watch.seconds(), 0.9) << wait.front();
        EXPECT_LT(watch.seconds(), 2.5) << wait.front();
    }
    EXPECT_EQ(dlock({"run", "-w", "0.2", "-E", "9", name, "true"}).status, 9);
    EXPECT_EQ(dlock({"wait", "-w", "0.3", name}).status, 1) << "still held";
    // -t/--ttl is the lock's life.
    ASSERT_EQ(dlock({"release", name, trim(acquired.out)}).status, 0);
    const Outcome ttl = dlock({"acquire", "--ttl", "3", name});
    ASSERT_EQ(ttl.status, 0);
    const Status status = status_of(name);
    EXPECT_GT(status.ttl_ms, 2000);
    EXPECT_LE(status.ttl_ms, 3000);
    EXPECT_EQ(dlock({"release", name, trim(ttl.out)}).status, 0);
}

TEST_F(CliTest, CommandWithoutSeparatorAndShellString) {
    const std::string name = lock_name();
    // COMMAND starts at the first word after NAME; its options are its own.
    const Outcome echoed = dlock({"run", name, "echo", "-n", "--help", "-w", "x"});
    EXPECT_EQ(echoed.status, 0) << echoed.err;
    EXPECT_EQ(echoed.out, "--help -w x");
    // A NAME that starts with '-' comes after `--`; COMMAND keeps its own options.
    const Outcome dashed = dlock({"run", "--", "-" + name, "echo", "-n", "x"});
    EXPECT_EQ(dashed.status, 0) << dashed.err;
    EXPECT_EQ(dashed.out, "x");
    const Outcome shell = dlock({"run", name, "-c", "echo \"$DLOCK_NAME\" | tr a-z A-Z; exit 5"});
    EXPECT_EQ(shell.status, 5) << shell.err;
    std::string upper = name;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(shell.out, upper + "\n");
    EXPECT_EQ(dlock({"run", "--command=exit 6", name}).status, 6);
    EXPECT_FALSE(status_of(name).held);
}

TEST_F(CliTest, WaitUntilFreeAndBreakAStuckLock) {
    const std::string name = lock_name();
    EXPECT_EQ(dlock({"wait", name}).status, 0) << "free: at once";
    const Outcome acquired = dlock({"acquire", "-t", "60", name});
    ASSERT_EQ(acquired.status, 0);
    Process waiter(dlock_args({"wait", "-w", "20", name}), plain_env());
    Process runner(dlock_args({"run", "-w", "20", name, "echo", "ran"}), plain_env());
    sync::Redis redis(server("PLAIN_URL"));
    ASSERT_TRUE(someone_queued(redis, name)) << "runner never queued";
    const Outcome human = dlock({"status", name});
    EXPECT_NE(human.out.find(", 1 waiting"), std::string::npos) << human.out;
    const Outcome json = dlock({"status", "--json", name});
    EXPECT_NE(json.out.find("\"waiting\":1"), std::string::npos) << json.out;

    EXPECT_EQ(dlock({"break", name}).status, 64) << "needs --yes";
    Stopwatch watch;
    const Outcome broken = dlock({"break", "--yes", name});
    EXPECT_EQ(broken.status, 0) << broken.err;
    EXPECT_EQ(waiter.wait(10s).status, 0);
    const Outcome ran = runner.wait(10s);
    EXPECT_EQ(ran.status, 0) << ran.err;
    EXPECT_EQ(ran.out, "ran\n");
    EXPECT_LT(watch.seconds(), 5.0);
    EXPECT_EQ(dlock({"break", "--yes", name}).status, 1) << "nothing to break";
    EXPECT_EQ(dlock({"release", name, trim(acquired.out)}).status, 1) << "the holder lost it";
}

TEST_F(CliTest, PasswordsStayOutOfMessagesAndOfTheChild) {
    const std::string name = lock_name();
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"status", "--url", "redis://alice:hunter2@127.0.0.1:notaport",
                                   name},
          {"status", "--url", "http://alice:hunter2@127.0.0.1", name},
          {"status", "--url", "redis://alice:hunter2@127.0.0.1:1", "--insecure", name}}) {
        const Outcome outcome = dlock(args, {});
        EXPECT_EQ(outcome.status, 64) << args[2];
        EXPECT_EQ(outcome.err.find("hunter2"), std::string::npos) << outcome.err;
        EXPECT_NE(outcome.err.find("alice:***@"), std::string::npos) << outcome.err;
    }
    const std::string port = server("ACL_PORT");
    // redis://alice@host is user alice (as redis-py), the password from DLOCK_PASSWORD...
    const Outcome user =
        dlock({"run", "--url", "redis://" + server("ACL_USER") + "@127.0.0.1:" + port, name, "-c",
               "echo \"${DLOCK_PASSWORD-unset}\""},
              {{"DLOCK_PASSWORD", server("ACL_USER_PASSWORD")}});
    EXPECT_EQ(user.status, 0) << user.err;
    EXPECT_EQ(user.out, "unset\n") << "DLOCK_PASSWORD is not passed on to COMMAND";
    // ... and user and password are percent-decoded (%6F is 'o', %40 would be '@').
    std::string password = server("ACL_USER_PASSWORD");
    std::string encoded;
    for (const char c : password) encoded += c == 'o' ? std::string("%6F") : std::string(1, c);
    const Outcome decoded =
        dlock({"status", "--url",
               "redis://" + server("ACL_USER") + ":" + encoded + "@127.0.0.1:" + port, name},
              {});
    EXPECT_EQ(decoded.status, 0) << decoded.err;
    const Outcome wrong =
        dlock({"status", "--url",
               "redis://" + server("ACL_USER") + ":wrong-hunter2@127.0.0.1:" + port, name},
              {});
    EXPECT_EQ(wrong.status, 69);
    EXPECT_EQ(wrong.err.find("hunter2"), std::string::npos) << wrong.err;
    EXPECT_NE(wrong.err.find("--password-file"), std::string::npos) << "a hint: " << wrong.err;
    const Outcome none = dlock({"status", "--url", "redis://127.0.0.1:" + port, name}, {});
    EXPECT_EQ(none.status, 69);
    EXPECT_NE(none.err.find("NOAUTH"), std::string::npos) << none.err;
    EXPECT_NE(none.err.find("DLOCK_PASSWORD"), std::string::npos) << "a hint: " << none.err;
    // Nor in what `ps` shows of a running dlock (its command line, readable by every user).
    const Outcome shown = dlock(
        {"run", "--url", server("ACL_URL"), name, "-c", "tr '\\0' ' ' < /proc/$PPID/cmdline"}, {});
    EXPECT_EQ(shown.status, 0) << shown.err;
    EXPECT_EQ(shown.out.find(server("ACL_PASSWORD")), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("redis://:***"), std::string::npos) << shown.out;
}

TEST_F(CliTest, ClusterNodeWithoutClusterFlagSaysToAddIt) {
    const std::string seeds = server("CLUSTER3X1_SEEDS");
    const std::string name = lock_name();
    bool hinted = false;
    std::size_t start = 0;
    while (start < seeds.size()) {
        const std::size_t comma = seeds.find(',', start);
        const std::string seed = seeds.substr(start, comma - start);
        start = comma == std::string::npos ? seeds.size() : comma + 1;
        const Outcome outcome = dlock({"status", "--url", seed, name}, {});
        if (outcome.status == 69 && outcome.err.find("MOVED") != std::string::npos) {
            EXPECT_NE(outcome.err.find("add --cluster"), std::string::npos) << outcome.err;
            hinted = true;
        }
    }
    EXPECT_TRUE(hinted) << "some node must have answered MOVED for " << name;
    // `list` on one node would show only that node's locks: refused with the same advice.
    const Outcome listed = dlock({"list", "--url", seeds.substr(0, seeds.find(','))}, {});
    EXPECT_EQ(listed.status, 64) << listed.out << listed.err;
    EXPECT_NE(listed.err.find("add --cluster"), std::string::npos) << listed.err;
}

TEST_F(CliTest, SeveralUrlsAreRedlock) {
    std::vector<std::string> connection;
    const std::string urls = server("REDLOCK5_URLS");
    std::vector<std::string> nodes;
    for (std::size_t start = 0; start < urls.size();) {
        const std::size_t comma = urls.find(',', start);
        nodes.push_back(urls.substr(start, comma - start));
        connection.insert(connection.end(), {"--url", nodes.back()});
        start = comma == std::string::npos ? urls.size() : comma + 1;
    }
    ASSERT_EQ(nodes.size(), 5u);
    const std::string name = lock_name();
    auto with = [&](std::vector<std::string> args) {
        args.insert(args.begin() + 1, connection.begin(), connection.end());
        return dlock(args, {});
    };
    const Outcome acquired = with({"acquire", "-t", "5", name});
    ASSERT_EQ(acquired.status, 0) << acquired.err;
    const std::string token = trim(acquired.out);
    std::size_t holding = 0;
    for (const std::string& node : nodes) {
        holding += sync::Redis(node).command({"GET", name}).str == token ? 1 : 0;
    }
    EXPECT_GE(holding, 3u) << "a quorum of the 5 nodes";
    EXPECT_EQ(with({"run", "-n", name, "true"}).status, 1);
    const Outcome status = with({"status", "--json", name});
    EXPECT_NE(status.out.find("\"held\":true"), std::string::npos) << status.out;
    EXPECT_NE(status.out.find("\"waiting\":null"), std::string::npos) << status.out;
    EXPECT_EQ(with({"extend", name, token, "20", "--replace"}).status, 0);
    EXPECT_GT(sync::Redis(nodes.front()).command({"PTTL", name}).integer, 15000);
    EXPECT_EQ(with({"release", name, token}).status, 0);
    EXPECT_EQ(with({"release", name, token}).status, 1);
    // --force breaks it on every node, whoever holds it.
    ASSERT_EQ(with({"acquire", "-t", "30", name}).status, 0);
    EXPECT_EQ(with({"release", "--force", name}).status, 0);
    for (const std::string& node : nodes) {
        EXPECT_EQ(sync::Redis(node).command({"EXISTS", name}).integer, 0) << node;
    }
    EXPECT_EQ(with({"release", "--force", name}).status, 1) << "nothing left to break";

    // run renews the lock on the nodes: past its 1 s TTL, it is still held.
    Process run(dlock_args([&] {
                    std::vector<std::string> args{"run"};
                    args.insert(args.end(), connection.begin(), connection.end());
                    args.insert(args.end(), {"-t", "1", name, "-c",
                                             "echo \"ready ${DLOCK_FENCE-nofence}\"; sleep 2.5"});
                    return args;
                }()),
                {});
    ASSERT_TRUE(run.wait_for_output("\n", 10s)) << run.out();
    EXPECT_EQ(run.out(), "ready nofence\n") << "Redlock hands out no fence";
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(with({"acquire", "-n", name}).status, 1) << "renewed past its TTL";
    const Outcome ran = run.wait(15s);
    EXPECT_EQ(ran.status, 0) << ran.err;
    EXPECT_EQ(with({"status", name}).out, "free\n");

    const Outcome held = with({"acquire", "-t", "30", name});
    ASSERT_EQ(held.status, 0);
    EXPECT_EQ(with({"break", "--yes", name}).status, 0);
    EXPECT_EQ(with({"status", name}).out, "free\n");
}

// ---- outages, through the fault proxy of tests/chaos -------------------------------------

#ifdef DLOCK_PROXY_PATH
// dlock_chaos_proxy between the CLI and the plain server, driven through its control port.
class FaultProxy {
  public:
    FaultProxy()
        : listen_(closed_port()),
          control_(closed_port()),
          process_({DLOCK_PROXY_PATH, "--listen", std::to_string(listen_), "--target",
                    server("PLAIN_PORT"), "--control", std::to_string(control_)}) {
        if (!process_.wait_for_output("ready", 10s)) throw std::runtime_error("proxy not ready");
    }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(listen_); }
    void send(const std::string& command) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(static_cast<std::uint16_t>(control_));
        ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
        const std::string line = command + "\n";
        ASSERT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
        char answer[16] = {};
        (void)::read(fd, answer, sizeof answer - 1);
        ::close(fd);
        EXPECT_EQ(std::string(answer).substr(0, 2), "ok") << command;
    }

  private:
    int listen_;
    int control_;
    Process process_;
};

TEST_F(CliTest, WaitingRunSurvivesAKilledConnection) {
    FaultProxy proxy;
    const std::string name = lock_name();
    const Outcome acquired = dlock({"acquire", name});
    ASSERT_EQ(acquired.status, 0);
    Process waiter(dlock_args({"run", "-w", "20", "--url", proxy.url(), name, "echo", "ran"}), {});
    sync::Redis redis(server("PLAIN_URL"));
    ASSERT_TRUE(someone_queued(redis, name)) << "waiter never queued";
    proxy.send("refuse");
    proxy.send("drop");
    std::this_thread::sleep_for(700ms);  // the outage: reconnections are refused meanwhile
    proxy.send("pass");
    ASSERT_EQ(dlock({"release", name, trim(acquired.out)}).status, 0);
    const Outcome ran = waiter.wait(20s);
    EXPECT_EQ(ran.status, 0) << ran.err;
    EXPECT_EQ(ran.out, "ran\n");
}

TEST_F(CliTest, FinalReleaseIsRetriedThenReportedWith74) {
    FaultProxy proxy;
    const std::string name = lock_name();
    sync::Redis redis(server("PLAIN_URL"));
    {
        // Redis is away when COMMAND ends and back 0.8 s later: the release goes through.
        Process run(dlock_args({"run", "--url", proxy.url(), name, "-c", "echo ready; sleep 0.5"}),
                    {});
        ASSERT_TRUE(run.wait_for_output("ready\n", 10s));
        proxy.send("refuse");
        proxy.send("drop");
        std::this_thread::sleep_for(1300ms);
        proxy.send("pass");
        const Outcome outcome = run.wait(20s);
        EXPECT_EQ(outcome.status, 0) << outcome.err;
        EXPECT_EQ(redis.command({"EXISTS", name}).integer, 0)
            << "released, so the next -n run is not refused until the TTL";
    }
    {
        // Away for longer than the bound (min(TTL, 10 s) = 2 s): a distinct exit status.
        Process run(dlock_args({"run", "-t", "2", "--url", proxy.url(), name, "-c",
                                "echo ready; sleep 0.2"}),
                    {});
        ASSERT_TRUE(run.wait_for_output("ready\n", 10s));
        proxy.send("refuse");
        proxy.send("drop");
        const Outcome outcome = run.wait(20s);
        proxy.send("pass");
        EXPECT_EQ(outcome.status, 74) << outcome.err;
        EXPECT_NE(outcome.err.find("could not release"), std::string::npos) << outcome.err;
    }
}
#endif

// ---- who holds it: the holder record, status, list, release --force, progress ----------

std::string this_host() {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return host;
}

// Runs python3 `script` with `json` as sys.argv[1]; its stdout, or a failure.
std::string python_on(const std::string& script, const std::string& json) {
    const Outcome parsed = run_process({"python3", "-c", "import json, sys\n" + script, json});
    EXPECT_EQ(parsed.status, 0) << json << parsed.err;
    return parsed.out;
}

TEST_F(CliTest, StatusShowsHolderSinceTtlFenceAndWaiters) {
    const std::string name = lock_name();
    const Outcome acquired = dlock({"acquire", "-t", "60", "--label", "job \"7\"", "--json", name});
    ASSERT_EQ(acquired.status, 0) << acquired.err;
    const std::string token = trim(
        python_on("d = json.loads(sys.argv[1]); assert sorted(d) == ['fence', 'name', 'token'], d\n"
                  "assert d['fence'] >= 1\nprint(d['token'])",
                  acquired.out));
    Process runner(dlock_args({"run", "-w", "20", name, "true"}), plain_env());
    sync::Redis redis(server("PLAIN_URL"));
    ASSERT_TRUE(someone_queued(redis, name)) << "runner never queued";
    const Outcome human = dlock({"status", name});
    EXPECT_EQ(human.status, 0);
    // The holder is the `dlock acquire` process that took it (gone since: its lock lives on).
    EXPECT_TRUE(std::regex_search(human.out,
                                  std::regex("^held by " + this_host() +
                                             ":[0-9]+ \\(\"job \"7\"\"\\) for [0-9.]+ s, "
                                             "expires in [0-9.]+ s, fence [0-9]+, 1 waiting\n$")))
        << human.out;
    const Outcome json = dlock({"status", "--json", name});
    EXPECT_EQ(python_on("d = json.loads(sys.argv[1])\n"
                        "h = d['holder']\n"
                        "assert h['host'] == sys.argv[2] if len(sys.argv) > 2 else True\n"
                        "assert isinstance(h['pid'], int) and h['pid'] > 0\n"
                        "assert isinstance(h['since_ms'], int)\n"
                        "assert 0 <= d['held_for_ms'] < 60000 and 0 < d['ttl_ms'] <= 60000\n"
                        "print(h['label'], d['fence'] > 0, d['waiting'])",
                        json.out),
              "job \"7\" True 1\n");
    EXPECT_EQ(dlock({"release", name, token}).status, 0);
    EXPECT_EQ(runner.wait(10s).status, 0);
    EXPECT_EQ(redis.command({"EXISTS", detail::holder_key(name)}).integer, 0)
        << "the record goes with the release";
    // A lock written by another client (redis-py, coredis): held, holder unknown.
    redis.command({"SET", name, "foreign-token", "PX", "20000"});
    // (Fences start from the server's clock, docs/semantics.md 7.10: only their order is fixed.)
    const std::string foreign = dlock({"status", name}).out;
    EXPECT_TRUE(std::regex_match(
        foreign, std::regex("held \\(holder unknown\\), expires in 20 s, fence [1-9][0-9]*\n")))
        << foreign;
    redis.command({"DEL", name});
}

TEST_F(CliTest, ListShowsTheLocksDlockKnowsOfOnEveryPrimary) {
    const std::string seed = split(server("CLUSTER3X0_SEEDS"), ',').front();
    const Env env{{"DLOCK_URL", seed}};
    const std::string prefix = lock_name();
    // Enough names to land on every one of the 3 primaries.
    std::vector<std::string> names;
    for (int i = 0; i < 12; ++i) names.push_back(prefix + "/" + std::to_string(i));
    for (const std::string& name : names) {
        ASSERT_EQ(dlock({"acquire", "--cluster", "-t", "60", name}, env).status, 0);
    }
    const Outcome listed = dlock({"list", "--cluster", prefix + "/*"}, env);
    EXPECT_EQ(listed.status, 0) << listed.err;
    std::size_t lines = 0;
    for (const std::string& line : split(listed.out, '\n')) {
        ++lines;
        EXPECT_EQ(line.rfind(prefix + "/", 0), 0u) << line;
        EXPECT_NE(line.find("\theld by " + this_host() + ":"), std::string::npos) << line;
    }
    EXPECT_EQ(lines, names.size()) << listed.out;
    const Outcome json = dlock({"list", "--cluster", "--json", prefix + "/1*"}, env);
    EXPECT_EQ(python_on("d = json.loads(sys.argv[1])\n"
                        "print(sorted(x['name'].split('/')[-1] for x in d if x['held']))",
                        json.out),
              "['1', '10', '11']\n");
    for (const std::string& name : names) {
        EXPECT_EQ(dlock({"release", "--cluster", "--force", name}, env).status, 0);
    }
    EXPECT_NE(dlock({"list", "--cluster", prefix + "/*"}, env).out.find("\tfree (last fence "),
              std::string::npos);
}

TEST_F(CliTest, ReleaseForceBreaksAStuckLockAndWakesTheNextWaiter) {
    const std::string name = lock_name();
    ASSERT_EQ(dlock({"acquire", "-t", "600", name}).status, 0);
    Process runner(dlock_args({"run", "-w", "60", name, "echo", "ran"}), plain_env());
    sync::Redis redis(server("PLAIN_URL"));
    ASSERT_TRUE(someone_queued(redis, name)) << "runner never queued";
    EXPECT_EQ(dlock({"release", name}).status, 64) << "neither TOKEN nor --force";
    EXPECT_EQ(dlock({"release", name, "tok", "--force"}).status, 64) << "both";
    Stopwatch watch;
    const Outcome forced = dlock({"release", "--force", name});
    EXPECT_EQ(forced.status, 0) << forced.err;
    EXPECT_NE(forced.err.find("held by " + this_host() + ":"), std::string::npos) << forced.err;
    const Outcome ran = runner.wait(10s);
    EXPECT_EQ(ran.out, "ran\n");
    // Woken by the release, not by its fallback poll (--sleep 0.1 would do too; a missing
    // wake-up shows as the poll only if the lock stayed): the holder record went with the key.
    EXPECT_LT(watch.seconds(), 5.0);
    EXPECT_EQ(redis.command({"EXISTS", detail::holder_key(name)}).integer, 0);
    EXPECT_EQ(dlock({"release", "-f", name}).status, 1) << "nothing to release";
}

TEST_F(CliTest, AWaitingRunSaysOnceASecondWhatItWaitsFor) {
    const std::string name = lock_name();
    ASSERT_EQ(dlock({"acquire", "-t", "60", "--label", "backup", name}).status, 0);
    // Not a terminal: silent unless --progress. A run that gives up takes itself out of the
    // queue before it exits (it used to stay counted, "1 ahead of you", until the queue expired).
    const Outcome quiet = dlock({"run", "-w", "1.5", name, "true"});
    EXPECT_EQ(quiet.status, 1);
    EXPECT_EQ(quiet.err, "");
    sync::Redis redis(server("PLAIN_URL"));
    EXPECT_EQ(redis.command({"ZCARD", detail::wait_queue_key(name)}).integer, 0)
        << "a run that gave up left its entry in the wait queue";
    const Outcome told = dlock({"run", "--progress", "-w", "2.5", name, "true"});
    EXPECT_EQ(told.status, 1);
    const std::regex line("dlock: waiting for lock " +
                          std::regex_replace(name, std::regex("[.]"), "\\.") + ": held by " +
                          this_host() + ":[0-9]+ \\(\"backup\"\\) for [0-9.]+ s, 0 ahead of you\n");
    const auto count = std::distance(std::sregex_iterator(told.err.begin(), told.err.end(), line),
                                     std::sregex_iterator());
    EXPECT_GE(count, 1) << told.err << " " << name;
    EXPECT_LE(count, 3) << told.err;
    EXPECT_EQ(dlock({"release", "--force", name}).status, 0);
}

}  // namespace
}  // namespace dlock::test
