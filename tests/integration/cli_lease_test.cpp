// `dlock run --permits N` (at most N commands at once) and `dlock run -s` / `-x` (readers
// together, a writer alone), with the real binary against the shared plain server. Each
// command marks itself in a directory while it runs and logs how many marks it saw.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
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
    EXPECT_NE(other.status, 0);
    EXPECT_NE(other.err.find("2 permits"), std::string::npos) << other.err;
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

}  // namespace
}  // namespace dlock::test
