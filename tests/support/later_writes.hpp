// The WAIT of extend() and release() on a replicated deployment (Cluster, Sentinel, a Redis
// with confirm_on_replicas), checked the same way on each: docs/semantics.md §4.3.
#pragma once

#include <gtest/gtest.h>

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "async.hpp"
#include "dlock/errors.hpp"
#include "dlock/lock.hpp"
#include "dlock/semaphore.hpp"

namespace dlock::test {

// An on_replication_shortfall that appends each report to `told`.
inline std::function<void(const ReplicationShortfall&)> appending_to(
    std::vector<ReplicationShortfall>& told) {
    return [&told](const ReplicationShortfall& s) { told.push_back(s); };
}

// Takes `name` (confirmed), extends it once while the replicas answer, then calls
// `stop_replicas` (every replica of the key's shard stops acknowledging) and checks:
//   - extend() throws ReplicationShortfallError (a LockExtensionError) with needed/confirmed,
//     and the lock is still held, with the new TTL on the primary;
//   - release() returns: the key is gone on the primary;
//   - both shortfalls were counted and told (on_replication_shortfall), with their kind.
// `start_replicas` undoes the stop before returning.
inline asio::awaitable<void> expect_later_writes_fall_short(Client& client, const std::string& name,
                                                            std::function<void()> stop_replicas,
                                                            std::function<void()> start_replicas) {
    using namespace std::chrono_literals;
    std::vector<ReplicationShortfall> told;
    Lock lock(
        client, name,
        {.timeout = 10s, .blocking_timeout = 10s, .on_replication_shortfall = appending_to(told)});
    CO_ASSERT(co_await lock.acquire());
    const std::size_t needed = lock.replication_factor();
    EXPECT_GE(needed, 1u);
    EXPECT_TRUE(co_await lock.extend(Seconds(5)));  // confirmed
    EXPECT_EQ(lock.replication_shortfalls(), 0u);

    stop_replicas();
    const std::exception_ptr error = co_await thrown_by(lock.extend(Seconds(30)));
    const auto shortfall = as<ReplicationShortfallError>(error);
    EXPECT_TRUE(shortfall) << what(error);
    EXPECT_TRUE(is<LockExtensionError>(error));
    if (shortfall) {
        EXPECT_EQ(shortfall->needed(), needed);
        EXPECT_EQ(shortfall->confirmed(), 0);
        EXPECT_EQ(shortfall->lock_name(), name);
    }
    EXPECT_TRUE(co_await lock.owned());  // still held
    const LockTtl ttl = co_await lock.ttl();
    EXPECT_GT(ttl.remaining.value_or(Seconds(0)).count(), 20.0);  // ~45 s on the primary

    co_await lock.release();  // released all the same
    EXPECT_FALSE(co_await lock.locked());
    start_replicas();

    EXPECT_EQ(lock.replication_shortfalls(), 2u);
    CO_ASSERT(told.size() == 2u);
    EXPECT_EQ(told[0].write, ReplicatedWrite::extension);
    EXPECT_EQ(told[1].write, ReplicatedWrite::release);
    EXPECT_EQ(told[1].needed, needed);
    EXPECT_EQ(told[1].confirmed, 0);
}

// The same for a Semaphore's permit (the lease kinds share the Lock's WAIT).
inline asio::awaitable<void> expect_permit_writes_fall_short(Client& client,
                                                             const std::string& name,
                                                             std::function<void()> stop_replicas,
                                                             std::function<void()> start_replicas) {
    using namespace std::chrono_literals;
    Semaphore permit(client, name, 2, {.timeout = 10s, .blocking_timeout = 10s});
    CO_ASSERT(co_await permit.acquire());
    stop_replicas();
    const std::exception_ptr error = co_await thrown_by(permit.extend(Seconds(30)));
    EXPECT_TRUE(is<ReplicationShortfallError>(error)) << what(error);
    co_await permit.release();
    start_replicas();
    EXPECT_EQ(permit.replication_shortfalls(), 2u);
}

}  // namespace dlock::test
