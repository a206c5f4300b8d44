// Helpers shared by the Lock test suites: unique lock names (test executables run in parallel
// on the shared servers), a private redis-server for tests that stall it or read its global
// statistics, and a stopwatch.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dlock/reply.hpp"
#include "dlock/sync.hpp"

extern char** environ;

namespace dlock::test {

// "<Suite>.<Test>:<random hex>": unique across parallel runs, readable in MONITOR output.
inline std::string unique_name(const std::string& suffix = "") {
    static thread_local std::mt19937_64 random{std::random_device{}()};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "dlock";
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(random()));
    return name + ":" + hex + suffix;
}

class Stopwatch {
  public:
    Stopwatch() : start_(std::chrono::steady_clock::now()) {}
    std::chrono::duration<double> elapsed() const {
        return std::chrono::steady_clock::now() - start_;
    }
    double seconds() const { return elapsed().count(); }

  private:
    std::chrono::steady_clock::time_point start_;
};

// A redis-server of the test's own, on a free loopback port; killed (by pid) in the destructor.
// For tests that pause, stop or count on a server: the shared ones serve other tests meanwhile.
class OwnRedis {
  public:
    OwnRedis() {
        std::mt19937 random{std::random_device{}()};
        // Outside the harness's 20000-22767 (+10000 for cluster buses) and below Linux's
        // ephemeral range, so no outgoing connection grabs the port in between.
        std::uniform_int_distribution<int> ports(23000, 29999);
        for (int attempt = 0; attempt < 20 && pid_ <= 0; ++attempt) {
            const int port = ports(random);
            if (!bindable(port)) continue;
            if (spawn(port) && wait_ready()) {
                port_ = port;
                return;
            }
            stop();
        }
        throw std::runtime_error("could not start an own redis-server");
    }
    ~OwnRedis() { stop(); }
    OwnRedis(const OwnRedis&) = delete;
    OwnRedis& operator=(const OwnRedis&) = delete;

    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }
    pid_t pid() const { return pid_; }
    // SIGSTOP / SIGCONT: the server stops answering without closing anything.
    void freeze() const { ::kill(pid_, SIGSTOP); }
    void thaw() const { ::kill(pid_, SIGCONT); }

  private:
    static bool bindable(int port) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        ::close(fd);
        return ok;
    }

    bool spawn(int port) {
        std::vector<std::string> args{"redis-server",
                                      "--port",
                                      std::to_string(port),
                                      "--bind",
                                      "127.0.0.1",
                                      "--save",
                                      "",
                                      "--appendonly",
                                      "no",
                                      "--logfile",
                                      "",
                                      "--enable-debug-command",
                                      "local"};
        std::vector<char*> argv;
        for (auto& arg : args) argv.push_back(arg.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
        const int rc = posix_spawnp(&pid_, "redis-server", &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) pid_ = 0;
        port_ = port;
        return rc == 0;
    }

    // PING over a raw socket until PONG; false if the server died (port taken) or 10 s passed.
    bool wait_ready() const {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) return false;
            const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_port = htons(static_cast<std::uint16_t>(port_));
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            bool pong = false;
            if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
                const char ping[] = "PING\r\n";
                char reply[16] = {};
                if (::send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL) == sizeof ping - 1 &&
                    ::recv(fd, reply, sizeof reply - 1, 0) > 0) {
                    pong = std::string(reply).rfind("+PONG", 0) == 0;
                }
            }
            ::close(fd);
            if (pong) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGCONT);  // a frozen process would not die until continued
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = 0;
    }

    pid_t pid_ = 0;
    int port_ = 0;
};

// Calls of one command since the server started (or CONFIG RESETSTAT), from INFO commandstats.
inline long long command_calls(sync::Redis& admin, const std::string& command) {
    const std::string info = admin.command({"INFO", "commandstats"}).str;
    const std::string field = "cmdstat_" + command + ":calls=";
    const auto at = info.find(field);
    if (at == std::string::npos) return 0;
    return std::stoll(info.substr(at + field.size()));
}

// Number of client connections the server has, admin's own included.
inline int client_count(sync::Redis& admin) {
    const std::string list = admin.command({"CLIENT", "LIST"}).str;
    int lines = 0;
    for (char c : list) lines += c == '\n';
    return lines;
}

}  // namespace dlock::test
