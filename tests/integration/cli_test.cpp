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
    const Outcome parsed =
        run_process({"python3", "-c",
                     "import json, sys\n"
                     "d = json.loads(sys.argv[1])\n"
                     "assert sorted(d) == ['held', 'name', 'ttl_ms'], d\n"
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
    EXPECT_NE(run_help.out.find("dlock run NAME [OPTIONS] -- COMMAND"), std::string::npos)
        << run_help.out;
    EXPECT_NE(run_help.out.find("crontab"), std::string::npos) << run_help.out;
    EXPECT_NE(run_help.out.find("DLOCK_FENCE"), std::string::npos);
    EXPECT_NE(run_help.out.find("75"), std::string::npos);
    for (const char* subcommand : {"acquire", "release", "extend", "status"}) {
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
        {{"run", name, "true"}, "missing '--' before COMMAND"},
        {{"run", name, "--"}, "missing COMMAND"},
        {{"run", name, "-t", "-1", "--", "true"},
         "--timeout must be a number of seconds > 0, got '-1'"},
        {{"run", name, "-t", "abc", "--", "true"}, "--timeout"},
        {{"run", name, "-w", "-2", "--", "true"}, "--wait"},
        {{"run", name, "--bogus", "--", "true"}, "--bogus"},
        {{"run", name, "-n", "-w", "3", "--", "true"}, "--no-wait and --wait"},
        {{"run", name, "--sleep", "5", "-t", "1", "--", "true"}, "--sleep"},
        {{"run", "--", "true"}, "NAME"},
        {{"run", name, "--url", "redis://127.0.0.1:1", "--url", "redis://127.0.0.1:2", "--",
          "true"},
         "Redlock (several --url) is not supported yet"},
        {{"run", name, "--url", "http://127.0.0.1", "--", "true"}, "scheme"},
        {{"run", name, "--cacert", "/nonexistent/ca.pem", "--", "true"}, "--cacert"},
        {{"extend", name, "token", "soon"}, "SEC"},
        {{"release", name}, "TOKEN"},
        {{"frobnicate"}, "frobnicate"},
        {{}, "subcommand"},
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
    EXPECT_NE(busy.err.find("is held by someone else"), std::string::npos) << busy.err;
    EXPECT_EQ(dlock({"run", "-n", "-E", "7", name, "--", "true"}).status, 7);
    const Outcome quiet = dlock({"run", "-n", "-q", name, "--", "true"});
    EXPECT_EQ(quiet.status, 1);
    EXPECT_EQ(quiet.err, "");
    EXPECT_EQ(dlock({"acquire", "-n", name}).status, 1);

    Stopwatch watch;
    const Outcome waited = dlock({"run", "-w", "0.5", name, "--", "true"});
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
    EXPECT_EQ(human.out, "free\n");
}

TEST_F(CliTest, WaitingRunIsWokenByTheRelease) {
    const std::string name = lock_name();
    const Outcome acquired = dlock({"acquire", name});
    ASSERT_EQ(acquired.status, 0);
    // --sleep 10: only the release notification can wake the waiter within the bound below.
    Process waiter(dlock_args({"run", "-w", "20", "--sleep", "10", name, "--", "echo", "ran"}),
                   plain_env());
    sync::Redis redis(server("PLAIN_URL"));
    // Waiting means queued in the lock's wait queue (after subscribing to its inbox).
    const std::string queue = detail::wait_queue_key(name);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (redis.command({"ZCARD", queue}).integer < 1) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "waiter never queued";
        std::this_thread::sleep_for(10ms);
    }
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
    for (const auto& args : std::vector<std::vector<std::string>>{{"run", name, "--", "true"},
                                                                  {"acquire", name},
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
    const Outcome from_env = dlock({"run", name, "--", "true"}, {{"DLOCK_URL", url}});
    EXPECT_EQ(from_env.status, 69);
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
    sync::Redis redis(server("PLAIN_URL"));
    // -t 1.5: renewals every 0.5 s, so the loss is seen within about 0.5 s.
    Process run(
        dlock_args({"run", "-t", "1.5", name, "--", "sh", "-c", "echo pid=$$; exec sleep 30"}),
        plain_env());
    ASSERT_TRUE(run.wait_for_output("\n", 10s));
    const pid_t child = std::stoi(run.out().substr(4));
    ASSERT_EQ(redis.command({"DEL", name}).integer, 1);
    Stopwatch watch;
    const Outcome lost = run.wait(10s);
    EXPECT_EQ(lost.status, 75);
    EXPECT_LT(watch.seconds(), 3.0);
    EXPECT_NE(lost.err.find("dlock: lock " + name + " lost while sh -c"), std::string::npos)
        << lost.err;
    EXPECT_FALSE(pid_alive(child)) << "COMMAND was stopped";
}

TEST_F(CliTest, ChildIgnoringSigtermIsKilledAfterTheGracePeriod) {
    const std::string name = lock_name();
    sync::Redis redis(server("PLAIN_URL"));
    // An ignored signal stays ignored across exec: this sleep cannot be stopped by SIGTERM.
    Process run(dlock_args({"run", "-t", "1.5", "--kill-after", "0.5", name, "--", "sh", "-c",
                            "trap '' TERM; echo pid=$$; exec sleep 30"}),
                plain_env());
    ASSERT_TRUE(run.wait_for_output("\n", 10s));
    const pid_t child = std::stoi(run.out().substr(4));
    ASSERT_EQ(redis.command({"DEL", name}).integer, 1);
    Stopwatch watch;
    const Outcome lost = run.wait(10s);
    EXPECT_EQ(lost.status, 75);
    EXPECT_GE(watch.seconds(), 0.5);
    EXPECT_LT(watch.seconds(), 4.0);
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
    // Waiting means queued in the lock's wait queue (after subscribing to its inbox).
    const std::string queue = detail::wait_queue_key(name);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (redis.command({"ZCARD", queue}).integer < 1) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "waiter never queued";
        std::this_thread::sleep_for(10ms);
    }
    waiter.signal(SIGINT);
    const Outcome outcome = waiter.wait(10s);
    EXPECT_TRUE(outcome.signaled) << "a shell must see 'killed by SIGINT'";
    EXPECT_EQ(outcome.status, 128 + SIGINT);
    EXPECT_EQ(outcome.out, "");
    EXPECT_EQ(redis.command({"GET", name}).str, trim(acquired.out))
        << "the holder's lock is untouched";
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
    ASSERT_TRUE(run.wait_for_output("\n", 10s));
    const pid_t child = std::stoi(run.out().substr(4));
    run.signal(SIGKILL);
    run.wait(10s);
    EXPECT_EQ(redis.command({"EXISTS", name}).integer, 1) << "nobody released it";
    Stopwatch watch;
    const Outcome next = dlock({"run", "-w", "5", name, "--", "true"});
    EXPECT_EQ(next.status, 0) << next.err;
    EXPECT_LT(watch.seconds(), 2.5) << "free once its 1 s timeout ran out";
    ::kill(child, SIGKILL);  // the orphaned COMMAND: dlock was not there to stop it
}

}  // namespace
}  // namespace dlock::test
