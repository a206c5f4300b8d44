// Servers of a test's own, for tests that pause, kill, restart, reconfigure or count on a
// server: the shared ones serve other tests meanwhile. The one way to start them is the
// harness: `scripts/redis-harness start DIR KIND` into a fresh temp dir, `stop DIR` in the
// destructor; the harness's watchdog stops them even if this process dies.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "servers.hpp"

namespace dlock::test {

// The servers of one harness KIND (see scripts/redis-harness): `plain` (one TCP server),
// `unix` (one server on a Unix socket only), `redlock5`, `cluster3x0`, `cluster3x1`,
// `cluster3x2`, `sentinel` (servers 0-2 data nodes, 0 the first primary; 3-5 sentinels),
// `replicated` (server 0 a primary, 1 its replica).
// Server i is the i-th in port order.
class OwnServers {
  public:
    explicit OwnServers(const std::string& kind) : kind_(kind) {
        char dir[] = "/tmp/dlock-own-XXXXXX";
        if (::mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp failed");
        dir_ = dir;
        const Outcome started = harness({"start", dir_, kind});
        if (started.status != 0) {
            stop();
            throw std::runtime_error("could not start an own " + kind + ": " + started.err);
        }
        env_ = read_servers_env(dir_ + "/servers.env");
        const auto& env = env_;
        std::string prefix = kind;
        for (char& c : prefix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        auto value = [&](const std::string& key) {
            const auto it = env.find(prefix + key);
            return it == env.end() ? std::string() : it->second;
        };
        if (env.count(prefix + "_URL")) {  // a single server
            urls_ = {value("_URL")};
            pids_ = {static_cast<pid_t>(std::stol(value("_PID")))};
            if (!value("_PORT").empty()) ports_ = {std::stoi(value("_PORT"))};
            socket_path_ = value("_PATH");
            names_ = {kind};
        } else {
            urls_ = split(value(prefix.rfind("CLUSTER", 0) == 0 ? "_SEEDS" : "_URLS"), ',');
            for (const auto& port : split(value("_PORTS"), ' ')) ports_.push_back(std::stoi(port));
            for (const auto& pid : split(value("_PIDS"), ' '))
                pids_.push_back(static_cast<pid_t>(std::stol(pid)));
            for (std::size_t i = 0; i < pids_.size(); ++i)
                names_.push_back(kind + "-" + std::to_string(i));
        }
        if (urls_.empty() || urls_.size() != pids_.size()) {
            stop();
            throw std::runtime_error("bad servers.env in " + dir_);
        }
    }
    ~OwnServers() { stop(); }
    OwnServers(const OwnServers&) = delete;
    OwnServers& operator=(const OwnServers&) = delete;

    std::size_t size() const { return urls_.size(); }
    std::string url(std::size_t i = 0) const { return urls_.at(i); }
    const std::vector<std::string>& urls() const { return urls_; }
    const std::vector<std::string>& seeds() const { return urls_; }  // a cluster's nodes
    int port(std::size_t i = 0) const { return ports_.at(i); }
    const std::vector<int>& ports() const { return ports_; }
    pid_t pid(std::size_t i = 0) const { return pids_.at(i); }
    // Any servers.env value of this kind, by its full key (e.g. SENTINEL_SERVICE_URL); empty
    // when absent.
    std::string env_value(const std::string& key) const {
        const auto it = env_.find(key);
        return it == env_.end() ? std::string() : it->second;
    }
    // `unix` only: the server's socket.
    const std::string& socket_path() const { return socket_path_; }

    // SIGSTOP / SIGCONT: the server stops answering without closing anything.
    void freeze(std::size_t i = 0) const { ::kill(pid(i), SIGSTOP); }
    void thaw(std::size_t i = 0) const { ::kill(pid(i), SIGCONT); }
    void signal_on_port(int port, int signal_number) const {
        for (std::size_t i = 0; i < ports_.size(); ++i) {
            if (ports_[i] == port) {
                ASSERT_EQ(::kill(pids_[i], signal_number), 0);
                return;
            }
        }
        throw std::runtime_error("no own server on port " + std::to_string(port));
    }

    // SIGKILL (the server gets no chance to close anything politely); returns once it is gone.
    void kill(std::size_t i = 0) const {
        ::kill(pid(i), SIGCONT);  // a frozen process would not die until continued
        ::kill(pid(i), SIGKILL);
        for (int wait = 0; wait < 500 && alive(pid(i)); ++wait)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Kills server i and starts it again on the same port (or socket path).
    void restart(std::size_t i = 0) {
        kill(i);
        const Outcome restarted = harness({"restart", dir_, names_.at(i)});
        if (restarted.status != 0)
            throw std::runtime_error("could not restart " + names_.at(i) + ": " + restarted.err);
        pids_.at(i) = static_cast<pid_t>(std::stol(restarted.out));
    }

  private:
    static std::string harness_path() {
        const char* source = std::getenv("DLOCK_SOURCE_DIR");
        const std::filesystem::path root =
            source ? std::filesystem::path(source)
                   : std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
        return (root / "scripts" / "redis-harness").string();
    }

    // The watchdog stops the servers once this process is gone, whatever happens to it.
    static Outcome harness(std::vector<std::string> args) {
        args.insert(args.begin(), harness_path());
        return run_process(args,
                           {.env = {{"DLOCK_HARNESS_OWNER_PID", std::to_string(::getpid())}},
                            .unset = {},
                            .pipe_stdin = false},
                           std::chrono::seconds(120));
    }

    // Alive and not a zombie: a killed server is not our child, and init reaps it later.
    static bool alive(pid_t pid) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        if (!std::getline(stat, line)) return false;
        const auto state = line.find(") ");
        return state != std::string::npos && line[state + 2] != 'Z' && line[state + 2] != 'X';
    }

    void stop() {
        if (harness({"stop", dir_}).status == 0) {
            std::error_code ignored;
            std::filesystem::remove_all(dir_, ignored);
        }
    }

    std::string kind_, dir_, socket_path_;
    std::map<std::string, std::string> env_;
    std::vector<std::string> urls_, names_;
    std::vector<int> ports_;
    std::vector<pid_t> pids_;
};

}  // namespace dlock::test
