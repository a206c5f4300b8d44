// What a server says about itself (INFO commandstats, CLIENT LIST), for tests that count the
// commands or connections of their own server (see own_servers.hpp).
#pragma once

#include <asio.hpp>
#include <string>

#include "dlock/redis.hpp"
#include "dlock/sync.hpp"

namespace dlock::test {

// Calls of `command` (lower case) in the text of INFO commandstats; 0 if it never ran.
inline long long calls_in(const std::string& commandstats, const std::string& command) {
    const std::string field = "cmdstat_" + command + ":calls=";
    const auto at = commandstats.find(field);
    return at == std::string::npos ? 0 : std::stoll(commandstats.substr(at + field.size()));
}

// Calls of one command since the server started (or CONFIG RESETSTAT), scripts' inner calls
// included.
inline long long command_calls(sync::Redis& admin, const std::string& command) {
    return calls_in(admin.command({"INFO", "commandstats"}).str, command);
}
// (`command` by value: a coroutine must not keep a reference to its caller's temporary.)
inline asio::awaitable<long long> calls_of(Redis& admin, std::string command) {
    co_return calls_in((co_await admin.command("INFO", "commandstats")).str, command);
}

// Scripts the server ran (EVALSHA + EVAL).
inline asio::awaitable<long long> script_calls(Redis& admin) {
    const std::string info = (co_await admin.command("INFO", "commandstats")).str;
    co_return calls_in(info, "evalsha") + calls_in(info, "eval");
}

// Number of client connections the server has, admin's own included.
inline int client_count(sync::Redis& admin) {
    const std::string list = admin.command({"CLIENT", "LIST"}).str;
    int lines = 0;
    for (char c : list) lines += c == '\n';
    return lines;
}

}  // namespace dlock::test
