// `dlock run --permits N` (at most N commands at once) and `dlock run -s` / `-x` (readers
// together, a writer alone), with the real binary against the shared plain server. Each
// command marks itself in a directory while it runs and logs how many marks it saw.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "names.hpp"
#include "servers.hpp"

namespace dlock::test {
namespace {

using namespace std::chrono_literals;

#ifdef DLOCK_CLI_PATH
constexpr const char* cli_path = DLOCK_CLI_PATH;
#else
constexpr const char* cli_path = nullptr;
#endif

ChildOptions cli_env() {
    return {.env = {{"DLOCK_URL", server("PLAIN_URL")}}, .unset = {"DLOCK_PASSWORD"}};
}

// A shell command that marks itself in `dir`, logs the number of marks, waits, and unmarks.
std::string marking(const std::string& dir, const char* hold = "0.3") {
    return "touch " + dir + "/$$; ls " + dir + " | wc -l >> " + dir + ".log; sleep " + hold +
           "; rm " + dir + "/$$";
}

int most_seen(const std::string& dir) {
    std::ifstream log(dir + ".log");
    int most = 0, seen = 0, lines = 0;
    while (log >> seen) {
        most = std::max(most, seen);
        ++lines;
    }
    return lines == 0 ? -1 : most;
}

class CliLeaseTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (cli_path == nullptr) GTEST_SKIP() << "dlock_cli is not built";
        char dir[] = "/tmp/dlock-cli-lease-XXXXXX";
        ASSERT_NE(::mkdtemp(dir), nullptr);
        dir_ = dir;
    }
    void TearDown() override {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
        std::filesystem::remove(dir_ + ".log", ignored);
    }
    std::vector<std::string> run(std::vector<std::string> options, const std::string& name,
                                 const char* hold = "0.3") const {
        std::vector<std::string> args{cli_path, "run"};
        args.insert(args.end(), options.begin(), options.end());
        args.insert(args.end(), {name, "-c", marking(dir_, hold)});
        return args;
    }
    std::string dir_;
};

TEST_F(CliLeaseTest, PermitsLetAtMostNCommandsRunAtOnce) {
    const std::string name = unique_name();
    std::vector<std::unique_ptr<ChildProcess>> runs;
    for (int i = 0; i < 6; ++i)
        runs.push_back(std::make_unique<ChildProcess>(run({"--permits", "2"}, name), cli_env()));
    for (auto& process : runs) {
        const Outcome outcome = process->wait(30s);
        EXPECT_EQ(outcome.status, 0) << outcome.err;
    }
    EXPECT_EQ(most_seen(dir_), 2);
    // Another count while it is held is refused, with a message.
    ChildProcess holder(run({"--permits", "2"}, name, "2"), cli_env());
    std::this_thread::sleep_for(500ms);
    const Outcome other =
        run_process({cli_path, "run", "--permits", "3", name, "--", "true"}, cli_env(), 30s);
    EXPECT_EQ(other.status, 64);  // the command line's count is wrong: not 70, dlock's bug
    EXPECT_NE(other.err.find("2 permits"), std::string::npos) << other.err;
    EXPECT_EQ(other.err.find("internal error"), std::string::npos) << other.err;
    EXPECT_EQ(holder.wait(30s).status, 0);
}

TEST_F(CliLeaseTest, SharedRunsTogetherAndExclusiveAlone) {
    const std::string name = unique_name();
    std::vector<std::unique_ptr<ChildProcess>> readers;
    for (int i = 0; i < 3; ++i)
        readers.push_back(std::make_unique<ChildProcess>(run({"-s"}, name, "1"), cli_env()));
    std::this_thread::sleep_for(500ms);
    const Outcome writer =
        run_process({cli_path, "run", "-x", "-n", name, "--", "true"}, cli_env(), 30s);
    EXPECT_EQ(writer.status, 1) << writer.err;  // readers inside
    for (auto& process : readers) EXPECT_EQ(process->wait(30s).status, 0);
    EXPECT_EQ(most_seen(dir_), 3);
    EXPECT_EQ(run_process({cli_path, "run", "-x", "-n", name, "--", "true"}, cli_env(), 30s).status,
              0);
    const Outcome both =
        run_process({cli_path, "run", "-s", "-x", name, "--", "true"}, cli_env(), 30s);
    EXPECT_EQ(both.status, 64) << both.err;
}

// `dlock ARGS...` against the shared plain server.
Outcome dlock(std::vector<std::string> args) {
    args.insert(args.begin(), cli_path);
    return run_process(args, cli_env(), 30s);
}

// A `dlock run OPTIONS NAME` whose COMMAND says "in" and then holds until it is stopped.
std::unique_ptr<ChildProcess> holding(std::vector<std::string> options, const std::string& name) {
    std::vector<std::string> args{cli_path, "run"};
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {name, "-c", "echo in; exec sleep 60"});
    auto process = std::make_unique<ChildProcess>(args, cli_env());
    EXPECT_TRUE(process->wait_for_output("in\n", 15s)) << process->err();
    return process;
}

// `dlock status --json NAME` checked by python3's JSON parser with `assertions` (a Python
// expression on `d`, the object); empty when it holds, else what failed.
std::string status_json_fails(const std::string& name, const std::string& assertions) {
    const Outcome status = dlock({"status", name, "--json"});
    if (status.status != 0) return "status exited " + std::to_string(status.status) + status.err;
    const Outcome checked = run_process(
        {"python3", "-c",
         "import json, sys\nd = json.loads(sys.argv[1])\nassert " + assertions + ", d\n",
         status.out},
        {}, 30s);
    return checked.status == 0 ? "" : status.out + checked.err;
}

// Polls `dlock status` (a state that a third process reaches, no event to wait on) until
// `assertions` hold, for at most 15 s.
bool status_becomes(const std::string& name, const std::string& assertions) {
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (!status_json_fails(name, assertions).empty()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(100ms);
    }
    return true;
}

TEST_F(CliLeaseTest, StatusShowsTheHoldersOfASemaphore) {
    const std::string name = unique_name();
    auto first = holding({"--permits", "2", "-t", "20"}, name);
    auto second = holding({"--permits", "2", "-t", "20"}, name);
    ChildProcess third({cli_path, "run", "--permits", "2", name, "--", "true"}, cli_env());
    ASSERT_TRUE(status_becomes(name,
                               "d['semaphore'] is not None and "
                               "d['semaphore']['waiting'] == 1"))
        << status_json_fails(name, "False");
    EXPECT_EQ(status_json_fails(name,
                                "d['semaphore']['permits'] == 2 and "
                                "len(d['semaphore']['holders']) == 2 and "
                                "all(0 < h['ttl_ms'] <= 20000 for h in d['semaphore']['holders'])"
                                " and d['held'] is True and d['held_as'] == 'semaphore' and "
                                "d['holder'] is None and d['read_write'] is None"),
              "");
    const Outcome text = dlock({"status", name});
    EXPECT_NE(text.out.find("semaphore of 2 permits: 2 held (leases end in "), std::string::npos)
        << text.out;
    EXPECT_NE(text.out.find(", 1 waiting"), std::string::npos) << text.out;
    // `list` names the semaphore itself, not its internal wait name.
    const Outcome listed = dlock({"list", name});
    EXPECT_EQ(listed.out.rfind(name + "\tsemaphore of 2 permits", 0), 0u) << listed.out;
    EXPECT_EQ(listed.out.find("dlock:"), std::string::npos) << listed.out;

    first->signal(SIGTERM);
    second->signal(SIGTERM);
    EXPECT_EQ(third.wait(30s).status, 0) << third.err();
    first->wait(30s);
    second->wait(30s);
    EXPECT_TRUE(status_becomes(name,
                               "d['semaphore'] is None or "
                               "d['semaphore']['holders'] == []"));
}

TEST_F(CliLeaseTest, StatusShowsTheReadersAndTheWriterOfAReadWriteLock) {
    const std::string name = unique_name();
    auto reader1 = holding({"-s", "-t", "20"}, name);
    auto reader2 = holding({"-s", "-t", "20"}, name);
    ChildProcess writer({cli_path, "run", "-x", name, "-c", "echo in; exec sleep 60"}, cli_env());
    ASSERT_TRUE(status_becomes(name,
                               "d['read_write'] is not None and "
                               "d['read_write']['writers_waiting'] == 1"))
        << status_json_fails(name, "False");
    EXPECT_EQ(status_json_fails(name,
                                "len(d['read_write']['readers']) == 2 and "
                                "all(0 < r['ttl_ms'] <= 20000 for r in d['read_write']['readers'])"
                                " and d['read_write']['readers_waiting'] == 0 and "
                                "d['held'] is True and d['held_as'] == 'readers' and "
                                "d['semaphore'] is None"),
              "");
    const Outcome text = dlock({"status", name});
    EXPECT_NE(text.out.find("2 readers (leases end in "), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("1 writer waiting; writer free"), std::string::npos) << text.out;

    // The readers leave, the writer gets in: status shows it as the holder of the key.
    reader1->signal(SIGTERM);
    reader2->signal(SIGTERM);
    ASSERT_TRUE(writer.wait_for_output("in\n", 15s)) << writer.err();
    EXPECT_EQ(
        status_json_fails(name, "d['held'] is True and d['held_as'] == 'lock' and 0 < d['ttl_ms']"),
        "");
    writer.signal(SIGTERM);
    writer.wait(30s);
    reader1->wait(30s);
    reader2->wait(30s);
}

// Whatever kind holds a name, every other kind (and a plain `dlock run` that forgot --permits)
// stays out: `-n` runs give up with 1 instead of running beside the holders.
TEST_F(CliLeaseTest, DifferentKindsOnOneNameExcludeEachOther) {
    const std::string name = unique_name();
    const auto tries = [&](std::vector<std::string> options) {
        std::vector<std::string> args{"run", "-n"};
        args.insert(args.end(), options.begin(), options.end());
        args.insert(args.end(), {name, "--", "true"});
        return dlock(args);
    };
    {
        auto permits = holding({"--permits", "2", "-t", "20"}, name);
        for (const auto& options : std::vector<std::vector<std::string>>{{}, {"-s"}, {"-x"}}) {
            const Outcome other = tries(options);
            EXPECT_EQ(other.status, 1) << (options.empty() ? "plain" : options[0]) << other.err;
        }
        EXPECT_EQ(tries({"--permits", "2"}).status, 0);  // a free permit is still free
        permits->signal(SIGTERM);
        EXPECT_EQ(permits->wait(30s).status, 143);
    }
    for (const auto& holder : std::vector<std::vector<std::string>>{{"-x"}, {"-s"}, {}}) {
        auto held = holding(holder, name);
        const Outcome other = tries({"--permits", "2"});
        EXPECT_EQ(other.status, 1) << (holder.empty() ? "plain" : holder[0]) << other.err;
        if (holder.empty()) {
            EXPECT_EQ(tries({"-s"}).status, 1);
        } else if (holder[0] == "-s") {
            EXPECT_EQ(tries({}).status, 1);
        }
        held->signal(SIGTERM);
        held->wait(30s);
    }
    EXPECT_EQ(tries({}).status, 0);
}

// `dlock wait` waits for permits and readers too: key NAME exists while they hold.
TEST_F(CliLeaseTest, WaitWaitsWhileASemaphoreOrAReaderHolds) {
    const std::string name = unique_name();
    for (const auto& kind : std::vector<std::vector<std::string>>{{"--permits", "1"}, {"-s"}}) {
        auto held = holding(kind, name);
        EXPECT_EQ(dlock({"wait", "-w", "0.3", name}).status, 1) << kind[0];
        ChildProcess waiting({cli_path, "wait", name}, cli_env());
        held->signal(SIGTERM);
        EXPECT_EQ(waiting.wait(30s).status, 0) << waiting.err();
        held->wait(30s);
    }
}

// `break --yes` and `release --force` take the name from permits and readers as from a lock:
// every lease ends, the holders find it lost (75), and the name is free.
TEST_F(CliLeaseTest, BreakAndReleaseForceEndEveryPermitOrReader) {
    const std::string name = unique_name();
    // A 3 s lease is renewed every second: the holders find out soon.
    const std::vector<std::vector<std::string>> kinds{{"--permits", "3", "-t", "3"},
                                                      {"-s", "-t", "3"}};
    const std::vector<std::vector<std::string>> breaks{{"break", name, "--yes"},
                                                       {"release", name, "--force"}};
    for (const auto& kind : kinds) {
        for (const auto& how : breaks) {
            auto first = holding(kind, name);
            auto second = holding(kind, name);
            const Outcome broken = dlock(how);
            EXPECT_EQ(broken.status, 0) << kind[0] << " " << how[0] << broken.err;
            const std::string said = kind[0] == "-s" ? "ended 2 readers of read/write lock '"
                                                     : "ended 2 permits of semaphore '";
            EXPECT_NE(broken.err.find(said + name + "'"), std::string::npos) << broken.err;
            EXPECT_EQ(status_json_fails(name, "d['held'] is False and d['held_as'] is None"), "");
            EXPECT_EQ(first->wait(30s).status, 75) << first->err();
            EXPECT_EQ(second->wait(30s).status, 75) << second->err();
            EXPECT_EQ(dlock(how).status, 1);  // nothing left to break
        }
    }
}

}  // namespace
}  // namespace dlock::test
