// Test helpers for integration tests: where the harness's real servers are, and running a
// coroutine to completion from a plain test body.
#pragma once

#include <gtest/gtest.h>

#include <asio.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <stdexcept>
#include <string>

namespace dlock::test {

// KEY=VALUE lines written by `scripts/redis-harness start` (file named by DLOCK_SERVERS_ENV).
inline const std::map<std::string, std::string>& servers_env() {
    static const std::map<std::string, std::string> values = [] {
        std::map<std::string, std::string> out;
        const char* path = std::getenv("DLOCK_SERVERS_ENV");
        if (path == nullptr) return out;
        std::ifstream file(path);
        std::string line;
        while (std::getline(file, line)) {
            const auto eq = line.find('=');
            if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
        }
        return out;
    }();
    return values;
}

// The value of `key`; fails the test (not skip: the harness must provide it) when missing.
inline std::string server(const std::string& key) {
    const auto& env = servers_env();
    auto it = env.find(key);
    if (it == env.end()) {
        throw std::runtime_error("servers.env has no " + key +
                                 " (run through ctest, which starts scripts/redis-harness)");
    }
    return it->second;
}

// Runs `make()` (returning asio::awaitable<T>) on `io` until it completes, even if other work
// (connections, timers) stays pending, and returns its result or rethrows its exception.
template <class F>
auto run(asio::io_context& io, F make) {
    auto future = asio::co_spawn(io, std::move(make), asio::use_future);
    while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        // An io_context that ran out of work (e.g. after a failed connect) stays stopped, and
        // run_one_for() would return at once forever: restart it.
        if (io.stopped()) io.restart();
        io.run_one_for(std::chrono::milliseconds(100));
    }
    return future.get();
}

}  // namespace dlock::test
