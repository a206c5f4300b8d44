// The fencing check every lock kind shares: a fence counter lost with the dataset (a restart
// without persistence) must not restart fences from 1 (docs/semantics.md §7.10).
#pragma once

#include <gtest/gtest.h>

#include <asio/awaitable.hpp>
#include <cstdint>

#include "async.hpp"
#include "dlock/redis.hpp"
#include "protocol/keys.hpp"

namespace dlock::test {

// Deletes `lock`'s fence counter, then expects its next acquire() to get a fence above
// `floor` (the server's clock takes over), and releases.
template <class Lock>
asio::awaitable<void> expect_fence_above_after_a_lost_counter(dlock::Redis& redis, Lock& lock,
                                                              std::int64_t floor) {
    co_await redis.command("DEL", dlock::detail::fence_key(lock.name()));
    EXPECT_TRUE(co_await lock.acquire());
    CO_ASSERT(lock.fence().has_value());
    EXPECT_GT(*lock.fence(), floor);
    co_await lock.release();
}

}  // namespace dlock::test
