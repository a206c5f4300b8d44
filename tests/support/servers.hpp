// Where the harness's shared servers are: `scripts/redis-harness start` writes KEY=VALUE lines
// (its header lists the keys) to the file that DLOCK_SERVERS_ENV names; ctest sets it.
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace dlock::test {

// The non-empty items of `text` between `separator`s (servers.env lists ports, pids and URLs).
inline std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> out;
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, separator)) {
        if (!item.empty()) out.push_back(item);
    }
    return out;
}

// The KEY=VALUE lines of a servers.env file; empty when it cannot be read.
inline std::map<std::string, std::string> read_servers_env(const std::string& path) {
    std::map<std::string, std::string> out;
    std::ifstream file(path);
    std::string line;
    while (std::getline(file, line)) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
}

// The shared servers' servers.env (file named by DLOCK_SERVERS_ENV).
inline const std::map<std::string, std::string>& servers_env() {
    static const std::map<std::string, std::string> values = [] {
        const char* path = std::getenv("DLOCK_SERVERS_ENV");
        return path == nullptr ? std::map<std::string, std::string>{} : read_servers_env(path);
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

}  // namespace dlock::test
