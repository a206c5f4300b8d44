// dlock/detail/scripts.hpp: the server-side Lua scripts a Lock runs, and how they are called.
//
// Scripts run by EVALSHA; on NOSCRIPT (a fresh or flushed server) the same call is retried
// once with EVAL, which also caches the script. So a script crosses the wire once per server,
// not once per call, and no SCRIPT LOAD round trip is spent up front.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/detail/connection.hpp"

namespace dlock::detail {

struct Script {
    explicit Script(std::string_view source);
    std::string_view source;
    std::string sha1;  // lowercase hex
};

// Waiting processes queue on the server: the lock's wait queue, wait_queue_key(name), is a
// sorted set of inbox channels (one per waiting process, see subscriber.hpp) in arrival order;
// a release wakes only the first. Scripts get the queue's name in ARGV (why: scripts.cpp).

// KEYS[1] lock; ARGV[1] token, ARGV[2] publish_command() ('' = wake no one), ARGV[3] lock
// name, ARGV[4] wait queue. Deletes the key only if it holds the token, then wakes the first
// queued process. Returns 1 or 0.
const Script& release_script();
// KEYS[1] lock; ARGV[1] inbox, ARGV[2] publish command, ARGV[3] lock name, ARGV[4] '1' when the
// caller drops a wake-up it did not use, ARGV[5] wait queue. Takes the inbox out of the queue
// and, for an unused wake-up on a free lock, wakes the next process instead.
const Script& leave_queue_script();
// KEYS[1] lock, ARGV[1] token, ARGV[2] ms, ARGV[3] 'add', 'replace' or 'renew' (TTL := ms
// unless more is left: auto-renewal). Returns 1 (owned) or 0.
const Script& extend_script();
// KEYS[1] lock, KEYS[2] fence counter (only with fencing); ARGV[1] token, ARGV[2] ms ('0' = no
// expiry), ARGV[3] '1' = fencing, ARGV[4] inbox ('' = not queueing), ARGV[5] queue TTL ms,
// ARGV[6] 'stay' (this process has more waiters) or 'leave', ARGV[7] wait queue, ARGV[8]
// 'front' when the caller was just woken (it queues again at the head if it lost the race).
// SET NX [PX] (+ INCR of the fence counter) atomically; on failure queues the inbox. Returns
// the fence (0 without fencing), or nil when the lock is held.
const Script& acquire_script();

std::string wait_queue_key(std::string_view name);

// For a Subscriber's unclaimed handler: a wake-up reached this process after its waiters on
// `lock_name` left. Takes `inbox` out of the lock's queue and wakes the next process if the
// lock is free, on `connection` (the server that owns the lock's key). Best effort, in the
// background: the poll covers a failure.
void pass_on_wakeup(const std::shared_ptr<Connection>& connection, const std::string& lock_name,
                    const std::string& inbox, bool cluster);
// "publish" on a standalone server, "spublish" (sharded pub/sub) on a cluster.
std::string_view publish_command(bool cluster);

// For a Redis-backed protected resource: KEYS[1] resource, KEYS[2] its last-fence key,
// ARGV[1] fence, ARGV[2] value. Writes only if the fence is >= the last one seen.
// Returns 1 (written) or 0 (stale fence: refused).
const Script& fenced_write_script();

// Appends EVALSHA (or EVAL when `full`) of `script` with keys and args to `request`.
void push_script(Request& request, const Script& script, const std::vector<std::string_view>& keys,
                 const std::vector<std::string_view>& args, bool full);

}  // namespace dlock::detail
