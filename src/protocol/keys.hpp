// keys.hpp: every key and channel name dlock writes besides the lock's own key.
//
// This is dlock's wire contract with other processes and other dlock versions: change a name
// here and two versions stop seeing each other's fences, queues and wake-ups. The names are
// pinned by tests/unit/keys_test.cpp.
//
// The lock's key is its name, as in redis-py and coredis (so their locks and dlock's exclude
// each other). Every derived key carries a {hash tag} that maps to the lock name's cluster slot
// (see slots.hpp), so one server-side script can touch them all on a Redis Cluster.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dlock::detail {

// "dlock:fence:{tag}:NAME": the fencing counter of lock NAME (INCR per acquisition; no TTL, so
// fences keep growing across expiries).
std::string fence_key(std::string_view lock_name);

// "dlock:queue:{tag}:NAME": the wait queue of lock NAME, a sorted set of waiting processes'
// inbox channels scored by arrival time (microseconds, server clock).
std::string wait_queue_key(std::string_view lock_name);

// "dlock:holder:{tag}:NAME": who holds lock NAME (LockOptions::record_holder), a hash with the
// fields owner (SHA-1 of the holder's token, so a record left by an earlier holder is not taken
// for the current one's), host, pid, label and since (server clock, ms since the epoch). Written
// with the lock's key, with the same expiry; deleted by the release.
std::string holder_key(std::string_view lock_name);

// The lock name that `key` is a holder record, fence counter or wait queue of; empty for any
// other key. (`dlock list` finds locks by these keys.) All three start with "dlock:".
std::optional<std::string> lock_name_of(std::string_view key);

// "dlock:inbox:ID" (one server) or "dlock:inbox:{tag}:ID" (cluster: one per slot in use, so
// the lock's script can SPUBLISH to it from the key's shard): the channel a waiting process
// listens on. ID is random per process and server.
std::string inbox_channel(std::string_view process_id, std::optional<std::uint16_t> slot);

// "dlock:last-fence:{tag}:RESOURCE": the largest fence fenced_write() accepted for RESOURCE.
std::string last_fence_key(std::string_view resource_key);

}  // namespace dlock::detail
