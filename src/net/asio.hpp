// asio.hpp (private): the few Asio spellings every I/O file shares.
#pragma once

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>

namespace dlock::detail {

// Every deadline is on the steady clock: a wall-clock jump must not stretch or cut a wait.
using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// co_await x.async_wait(use_tuple) returns (error_code) instead of throwing: a cancelled timer
// is how a waiter is woken, not an error.
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace dlock::detail
