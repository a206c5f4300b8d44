// What the failover tests (Cluster, Sentinel) share: a figure recorded for the report, one
// command on one server by port, and an acquisition that rides through a failover.
#pragma once

#include <gtest/gtest.h>

#include <asio.hpp>
#include <iostream>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dlock/errors.hpp"
#include "dlock/lock.hpp"
#include "dlock/redis.hpp"

namespace dlock::test {

// A measured figure: in the test's XML properties and on stdout.
inline void record(const std::string& key, double value) {
    ::testing::Test::RecordProperty(key, std::to_string(value));
    std::cout << "[ measured ] " << key << " = " << value << '\n';
}

// "127.0.0.1:7001" -> 7001.
inline int port_of(const std::string& host_port) {
    return std::stoi(host_port.substr(host_port.rfind(':') + 1));
}

// One command on the server at 127.0.0.1:`port` (from inside a coroutine), on a connection of
// its own; errors are returned as replies.
inline asio::awaitable<Reply> on_server_args(int port, std::vector<std::string> args) {
    dlock::Redis node(co_await asio::this_coro::executor,
                      "redis://127.0.0.1:" + std::to_string(port));
    dlock::Request request;
    request.push(std::span<const std::string>(args));
    auto replies = co_await node.pipeline(request);
    co_return std::move(replies.front());
}
// Variadic, not a braced list: GCC 12 miscompiles braced lists inside co_await expressions.
template <class... Args>
asio::awaitable<Reply> on_server(int port, const Args&... args) {
    return on_server_args(port, std::vector<std::string>{std::string(args)...});
}

// Non-blocking acquisitions of `probe` (built with a command timeout that outlasts the
// failover) until one succeeds, at most `tries`. Only a command already written when the
// primary died fails (ConnectionError: it may have run), and the caller tries again.
struct ProbeOutcome {
    bool acquired = false;
    int in_flight_failures = 0;  // ConnectionErrors on the way
};
inline asio::awaitable<ProbeOutcome> acquire_through_failover(Lock& probe, int tries = 5) {
    ProbeOutcome outcome;
    for (int attempt = 0; attempt < tries && !outcome.acquired; ++attempt) {
        try {
            outcome.acquired = co_await probe.acquire();
        } catch (const dlock::ConnectionError&) {
            ++outcome.in_flight_failures;
        }
    }
    co_return outcome;
}

}  // namespace dlock::test
