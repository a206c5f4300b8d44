// Waiting for a key to disappear by itself (a lease's expiry, a departure script run in the
// background): no event announces that, so it is polled (eventually(), async.hpp).
#pragma once

#include <asio.hpp>
#include <chrono>
#include <string>

#include "async.hpp"
#include "dlock/redis.hpp"

namespace dlock::test {

// True once `key` no longer exists on `admin`'s server, false if `bound` passed first.
// (`key` by value: a coroutine must not keep a reference to its caller's temporary.)
inline asio::awaitable<bool> until_gone(Redis& admin, std::string key,
                                        Clock::duration bound = std::chrono::seconds(5)) {
    co_return co_await eventually(
        [&]() -> asio::awaitable<bool> {
            co_return (co_await admin.command("EXISTS", key)).integer == 0;
        },
        bound);
}

}  // namespace dlock::test
