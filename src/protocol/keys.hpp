// keys.hpp: every key and channel name dlock writes besides the lock's own key.
//
// This is dlock's wire contract with other processes and other dlock versions: change a name
// here and two versions stop seeing each other's fences, queues and wake-ups. The names are
// pinned by tests/unit/keys_test.cpp.
//
// The lock's key is its name, as in redis-py and coredis (so their locks and dlock's exclude
// each other). Key NAME also says which kind holds the name (see "Kinds" below), so a Lock, a
// Semaphore and a ReadWriteLock of one name exclude each other too. Every derived key carries a
// {hash tag} that maps to the lock name's cluster slot (see slots.hpp), so one server-side script
// can touch them all on a Redis Cluster.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dlock::detail {

// A kind of key or channel name derived from a lock name: "PREFIX{tag}:NAME", tag = the name's
// slot tag, so it is in the name's slot. Called as a function (`fence_key(name)`); its prefix
// is the one place that spelling is written (lock_name_of reads it back by it).
struct CompanionName {
    std::string_view prefix;
    std::string operator()(std::string_view lock_name) const;
};

// "dlock:fence:{tag}:NAME": the fencing counter of lock NAME (INCR per acquisition; no TTL, so
// fences keep growing across expiries).
inline constexpr CompanionName fence_key{"dlock:fence:"};

// "dlock:queue:{tag}:NAME": the wait queue of lock NAME, a sorted set of waiting processes'
// inbox channels scored by arrival time (microseconds, server clock). A process waiting as
// another kind (a permit, a reader, a writer of NAME) while a Lock's holder has the name is
// there as "INBOX|WAIT_NAME" (its kind's wait name, below): the Lock's release wakes it under
// that name, with the claim marker "dlock:claim:INBOX|WAIT_NAME", so kinds take turns in one
// FIFO (docs/semantics.md §8).
inline constexpr CompanionName wait_queue_key{"dlock:queue:"};

// "dlock:holder:{tag}:NAME": who holds lock NAME (LockOptions::record_holder), a hash with the
// fields owner (SHA-1 of the holder's token, so a record left by an earlier holder is not taken
// for the current one's), host, pid, label and since (server clock, ms since the epoch). Written
// with the lock's key, with the same expiry; deleted by the release.
inline constexpr CompanionName holder_key{"dlock:holder:"};

// "dlock:handoff:{tag}:NAME": the direct hand-off registrations of lock NAME's queued processes
// (docs/semantics.md §7.12-7.13), a hash inbox -> "SEQ:TTL:FENCING:TOKEN": the token of the
// process's oldest local waiter, its TTL in ms ('0' = none), '1' when it wants a fence, and SEQ,
// the number of the attempt that wrote it. A release that pops the inbox sets the lock's key to
// TOKEN and tells the process with a hand-off message. Expires with the queue.
inline constexpr CompanionName handoff_key{"dlock:handoff:"};

// A Lock's fence_key, wait_queue_key and handoff_key from one slot computation: the acquire,
// release and leave scripts name all three, once per operation, and the release is on every
// uncontended acquire + release (S1).
struct LockCompanionKeys {
    std::string fence, queue, handoff;
};
LockCompanionKeys lock_companion_keys(std::string_view lock_name);
// The same into `keys`, whose strings keep their capacity (the release's per-thread scratch).
void lock_companion_keys_into(LockCompanionKeys& keys, std::string_view lock_name);

// The message a release publishes on an inbox when it set the lock's key straight to a queued
// waiter's token: "dlock:handed:TOKEN:SEQ:PX:FENCE:NAME" (PX: the expiry the release gave the
// key, ms; FENCE: 0 without fencing). Any other message is the plain wake-up, the lock's (or
// wait name's) NAME. Built by the release script (lock/scripts.cpp).
struct HandoffMessage {
    std::string_view token;
    std::uint64_t seq = 0;
    std::int64_t px = 0;
    std::int64_t fence = 0;
    std::string_view name;
};
inline constexpr std::string_view handoff_message_prefix = "dlock:handed:";
// The value of key NAME while a release (a Lock's, or the last permit's or reader's) hands the
// name to a queued process that registered no token (the claim, docs/semantics.md §7.12, §8):
// "dlock:claim:INBOX", until that process's waiter takes it ("dlock:claim:INBOX|WAIT_NAME" for a
// waiter of another kind: wait_queue_key). (The Lua of lock/scripts.cpp and lock/lease_lua.hpp
// spells this and the message prefix; keys_test pins both spellings to these.)
inline constexpr std::string_view claim_marker_prefix = "dlock:claim:";
// The parts of a hand-off message, or nothing when `message` is not one (a plain wake-up).
std::optional<HandoffMessage> parse_handoff_message(std::string_view message);

// The lock name that `key` is a holder record, fence counter or wait queue of, or a key of
// semaphore or read/write lock NAME (its holders, readers, waiting claims, wait
// queues); empty for any other key. (`dlock list` finds locks by these keys.) All start with
// "dlock:".
std::optional<std::string> lock_name_of(std::string_view key);

// "dlock:inbox:ID" (one server) or "dlock:inbox:{tag}:ID" (cluster: one per slot in use, so
// the lock's script can SPUBLISH to it from the key's shard): the channel a waiting process
// listens on. ID is random per process and server.
std::string inbox_channel(std::string_view process_id, std::optional<std::uint16_t> slot);
inline constexpr std::string_view inbox_channel_prefix = "dlock:inbox:";

// ---- Kinds: what key NAME holds ----
// A token (hex: protocol/token.hpp) when a Lock, a read/write lock's writer or another client's
// SET NX lock holds the name, or a Lock's hand-off claim ("dlock:claim:INBOX"); while a
// semaphore's permits or a read/write lock's readers hold it, their marker below, expiring with
// the last of their leases and deleted with it. No token equals a marker, and every kind's
// acquire (and any SET NX) fails while key NAME exists, unless it holds its own kind's marker.
// "dlock-kind:semaphore:N": a semaphore of N permits holds NAME. N is the count its holders
// were admitted under (a client with another count is refused while they hold).
std::string semaphore_marker(std::size_t permits);
// "dlock-kind:readers": readers of a read/write lock hold NAME.
inline constexpr std::string_view readers_marker = "dlock-kind:readers";
// Which kind a value of key NAME says holds the name: the marker's kind, else a lock (a token,
// a claim, or any value another program wrote).
enum class KindOfValue { lock, semaphore, readers };
KindOfValue kind_of_value(std::string_view value);
// The permit count a semaphore marker names; empty for any other value.
std::optional<std::size_t> permits_of_marker(std::string_view value);

// ---- Semaphore NAME (lock/semaphore_scripts.cpp) ----
// "dlock:sem:{tag}:NAME": its holders, a sorted set of permit tokens scored by their lease's
// end (server clock, ms). Expires with the last lease. (Key NAME holds its marker meanwhile.)
inline constexpr CompanionName semaphore_holders_key{"dlock:sem:"};

// ---- Read/write lock NAME (SharedMutex): the writer holds key NAME, as a Lock does ----
// "dlock:readers:{tag}:NAME": the readers, token -> lease end (ms), like a semaphore's holders.
inline constexpr CompanionName readers_key{"dlock:readers:"};
// "dlock:writers-waiting:{tag}:NAME": writers waiting for the readers to drain, token -> end of
// their claim (ms); while one is there, new readers wait.
inline constexpr CompanionName writers_waiting_key{"dlock:writers-waiting:"};
// "dlock:readers-waiting:{tag}:NAME": readers waiting, token -> end of their claim (ms).
inline constexpr CompanionName readers_waiting_key{"dlock:readers-waiting:"};
// "dlock:readers-turn:{tag}:NAME": readers let in by the last writer's release, ahead of any
// writer (token -> end of their claim); writers wait until it is empty.
inline constexpr CompanionName readers_turn_key{"dlock:readers-turn:"};

// The names their waiters wait under (the subscriber's key, the wake-up's payload; the queue is
// wait_queue_key of it). "dlock:sem-wait:{tag}:NAME", "dlock:rw-read:{tag}:NAME",
// "dlock:rw-write:{tag}:NAME": no key of these names exists, so a wake-up a process did not use
// is always handed on (leave_queue_call finds "the lock" free).
inline constexpr CompanionName semaphore_wait_name{"dlock:sem-wait:"};
inline constexpr CompanionName reader_wait_name{"dlock:rw-read:"};
inline constexpr CompanionName writer_wait_name{"dlock:rw-write:"};

// "dlock:last-fence:{tag}:RESOURCE": the largest fence fenced_write() accepted for RESOURCE.
inline constexpr CompanionName last_fence_key{"dlock:last-fence:"};

}  // namespace dlock::detail
