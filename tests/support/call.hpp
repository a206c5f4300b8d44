// One command from a plain test body (not a coroutine).
#pragma once

#include <asio/io_context.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "async.hpp"
#include "dlock/redis.hpp"

namespace dlock::test {

// Runs the command to completion on `io`: returns its reply, or throws what the client throws.
inline dlock::Reply call(asio::io_context& io, dlock::Redis& redis, std::vector<std::string> args,
                         std::optional<dlock::Seconds> timeout = {}) {
    return run(io, [&] { return redis.command(std::move(args), timeout); });
}

}  // namespace dlock::test
