// scripts.hpp (private): the server-side Lua scripts dlock runs, and one typed call per script.
//
// A script's KEYS/ARGV order is written once, in its *_call() function next to its source;
// lock/eval.hpp sends calls (EVALSHA, EVAL on NOSCRIPT).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/request.hpp"

namespace dlock::detail {

struct Script {
    explicit Script(std::string_view source);
    std::string_view source;
    std::string sha1;  // lowercase hex
};

// One call of a script: which script, its KEYS and ARGV. Built only by the *_call() functions
// below, so a script's argument order is written once, next to its source.
struct ScriptCall {
    const Script* script = nullptr;
    std::vector<std::string> keys;  // keys[0] routes the call (the lock's key)
    std::vector<std::string> args;

    // Appends EVALSHA (or EVAL with the source, when `full`) of this call to `request`.
    void push_to(Request& request, bool full) const;
    std::string_view route_key() const { return keys.front(); }
};

// Waiting processes queue on the server: the lock's wait queue, wait_queue_key(name), is a
// sorted set of inbox channels (one per waiting process, see net/subscriber.hpp) in arrival
// order; a release wakes only the first. Scripts get the queue's name in ARGV, not KEYS (why:
// scripts.cpp). `notify` is Backend::notify_command() ("publish"/"spublish"), or empty to wake
// no one (Redlock, which has no wait queue).

// How long a release reserves the lock for the first live queued process (the direct
// hand-off, docs/semantics.md): enough for the woken process to be scheduled and send its
// claim, short enough that a claimant that died meanwhile costs little. A waiter that leaves
// hands on at once.
inline constexpr std::chrono::milliseconds handoff_claim_window{50};

// If the lock's key holds `token`: hands the lock to the first live queued process (the key
// becomes its registered waiter's token, or else its claim marker, for at most `claim_window`),
// or deletes it when nobody is queued (or `notify` is empty). With `holder_recorded`, deletes the
// holder record too (holder_key in KEYS[2]). Returns 1, or 0 when the key does not hold `token`.
//
// Unlike the other calls it keeps views, not strings, and encodes straight from them: the
// release ends every uncontended acquire + release (S1, S2), where a ScriptCall cost ~10
// allocations (its vectors, the copied arguments, the three companion keys). So `name`, `token`
// and `notify` must outlive it.
struct ReleaseCall {
    std::string_view name, token, notify;
    bool holder_recorded = false;
    std::chrono::milliseconds claim_window = handoff_claim_window;

    void push_to(Request& request, bool full) const;
    std::string_view route_key() const { return name; }
    // The same call with its own strings, for a caller that keeps it past its views.
    ScriptCall owned() const;
};
ReleaseCall release_call(std::string_view name, std::string_view token, std::string_view notify,
                         bool holder_recorded = false,
                         std::chrono::milliseconds claim_window = handoff_claim_window);

// Takes `inbox` out of the lock's queue and its hand-off registration (or, with
// `process_stays`, only the leaving waiter's registration of `registered_token`). If the lock
// was handed to this inbox (a claim it will not use) or to `registered_token`, or the caller
// drops a wake-up it did not use (`unused_wakeup`) while the lock is free, hands the lock on to
// the next live process (or frees it). A waiter of another kind (`name` its wait name) whose
// process leaves also takes its member "INBOX|WAIT_NAME" out of `lock_queue`, the Lock's queue of
// the name it waited for, so nobody hands that name to a process that no longer waits for it.
// Returns 1.
ScriptCall leave_queue_call(std::string_view name, std::string_view inbox, std::string_view notify,
                            bool unused_wakeup,
                            std::chrono::milliseconds claim_window = handoff_claim_window,
                            std::string_view registered_token = {}, bool process_stays = false,
                            std::string_view lock_queue = {});

// A waiter whose token a release set as the key's value (the direct hand-off) takes the lock:
// the key gets `ttl` (none: no expiry), and the process's inbox goes back to the queue's tail
// when `others_waiting`. Returns 1, or 0 when the key no longer holds `token`.
ScriptCall take_handoff_call(std::string_view name, std::string_view token,
                             std::optional<std::chrono::milliseconds> ttl, std::string_view inbox,
                             bool others_waiting, std::chrono::milliseconds queue_ttl);

// How extend_call applies `ms`: added to the remaining TTL, replacing it, or (auto-renewal)
// replacing it unless more is left, so a renewal never undoes an extend().
enum class TtlChange { add, replace, renew };
// Changes the TTL of the lock's key if it holds `token` (and of the holder record with
// `holder_recorded`, so both keep expiring together). Returns 1 or 0 (not held, or `add` on a
// key without expiry).
ScriptCall extend_call(std::string_view name, std::string_view token, std::chrono::milliseconds ms,
                       TtlChange change, bool holder_recorded = false);

// What a queued waiter registers for the direct hand-off (handoff_key): its token, TTL and
// fencing, and `seq`, the number of the attempt that carries it (the message names it back, so
// the waiter knows which send time bounds its lease from below).
struct HandoffRegistration {
    std::string_view token;
    std::optional<std::chrono::milliseconds> ttl;
    bool fencing = false;
    std::uint64_t seq = 0;
};
// Where a blocked acquire stands in the wait queue: its process's inbox, whether other local
// waiters on the same lock stay queued after it succeeds, whether this attempt follows a
// wake-up (then, overtaken, it queues again at the head, not the tail), and the registration for
// a direct hand-off (none: a release hands this process a claim).
struct QueueTicket {
    std::string_view inbox;
    bool others_waiting = false;
    bool woken = false;
    std::optional<HandoffRegistration> registration;
};
// Who takes the lock, for its holder record (holder_key; `since` is the server's clock).
struct HolderFields {
    std::string_view host;
    std::string_view pid;
    std::string_view label;
};

// SET NX [PX ttl] (+ INCR of the fence counter when `fencing`, + the holder record when
// `holder` is given, with the same expiry) atomically, or the claim of a lock a release handed
// to the ticket's inbox; when the lock is held (or handed to another process) and a ticket is
// given, queues the ticket's inbox (the queue expires after `queue_ttl`). Returns the fence
// (0 without fencing), or nil when the lock is held. A key holding `token` (handed to this waiter
// directly) is taken like a free one: its expiry set, a fresh fence.
ScriptCall acquire_call(std::string_view name, std::string_view token,
                        std::optional<std::chrono::milliseconds> ttl, bool fencing,
                        const QueueTicket* ticket, std::chrono::milliseconds queue_ttl,
                        const HolderFields* holder = nullptr);

// Read-only look at lock `name` (dlock::inspect): returns the array
// [exists 0/1, PTTL, holder record [host, pid, label, since] or nil (no record, or one left by
// an earlier holder), last fence or nil, queued processes, server time in ms, semaphore NAME
// [permit count or nil, [remaining ms of each lease], queued processes] or nil, read/write
// lock NAME [[remaining ms of each reader's lease], queued readers, queued writers] or nil,
// key NAME's kind marker (keys.hpp) or nil].
ScriptCall inspect_call(std::string_view name);

// For a Redis-backed protected resource: writes `value` to `resource` only if `fence` is >= the
// last fence seen for it (kept in last_fence_key(resource)). Returns 1 (written) or 0 (stale).
ScriptCall fenced_write_call(std::string_view resource, std::int64_t fence, std::string_view value);

// The scripts themselves (tests replay them; the bench's ceiling sends release's bytes).
const Script& release_script();
const Script& extend_script();
const Script& acquire_script();

}  // namespace dlock::detail
