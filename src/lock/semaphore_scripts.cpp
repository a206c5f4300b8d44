#include "lock/semaphore_scripts.hpp"

#include "lock/fence_lua.hpp"
#include "lock/hand_on_lua.hpp"
#include "lock/lease_lua.hpp"
#include "protocol/keys.hpp"

namespace dlock::detail {

namespace {

std::string_view change_word(TtlChange change) {
    return change == TtlChange::add ? "add" : change == TtlChange::replace ? "replace" : "renew";
}

// A client with another count is refused only while holders admitted under the stored count
// are there: at most max(counts) can never be exceeded that way, and a semaphore nobody holds
// takes the count of its next holder (so a count can be changed by draining it). The count is
// stored in key NAME's marker; any other value there is another kind's holder (a Lock, a
// writer, readers, another client's lock): the semaphore is taken as full meanwhile, and the
// waiter queues behind it in the Lock's queue too (queue_behind_lock), so a stream of Lock
// holders hands the name to it in its turn (as this process's claim marker).
const Script& semaphore_acquire_script() {
    static const std::string source =
        std::string(next_fence_lua) + hand_on_lua + lease_lua_prelude + R"lua(
local holders, name_key = KEYS[1], KEYS[2]
local permits = tonumber(ARGV[3])
local now = now_ms()
local held = prune(holders, now)
local current = redis.pcall('get', name_key)
local stored = marker_permits(current)
local member = lock_queue_member(ARGV[5], ARGV[11])
if current and not stored and not is_claim_for(current, member) then
  queue_waiter(ARGV[8], ARGV[5], ARGV[6], ARGV[9])
  queue_behind_lock(ARGV[10], member, ARGV[6], ARGV[9])
  return false
end
if stored and held > 0 and stored ~= permits then return -stored end
local others_first = held > 0 and other_kind_waits_ahead(ARGV[10], name_key, member, ARGV[11],
                                                         ARGV[12])
if held >= permits or others_first then
  queue_waiter(ARGV[8], ARGV[5], ARGV[6], ARGV[9])
  if others_first then queue_behind_lock(ARGV[10], member, ARGV[6], ARGV[9]) end
  return false
end
local fence = 0
if ARGV[4] == '1' then fence = next_fence(KEYS[3]) end
redis.call('zadd', holders, now + tonumber(ARGV[2]), ARGV[1])
redis.call('set', name_key, semaphore_marker_prefix .. ARGV[3])
keep_until_last_lease(holders, {})
name_follows(name_key, is_semaphore_marker, holders)
queue_after_success(ARGV[8], ARGV[5], ARGV[6], ARGV[7])
leave_lock_queue(ARGV[10], member)
return fence
)lua";
    static const Script script(source);
    return script;
}

// The freed permit (released now, or found ended: free either way) wakes one waiting process;
// the last one out frees key NAME, or hands it to the first process queued for a Lock of the
// name (its claim marker: hand_name_on), which new permits made way for
// (other_kind_waits_ahead).
const Script& semaphore_release_script() {
    static const std::string source = std::string(hand_on_lua) + lease_lua_prelude + R"lua(
local now = now_ms()
local ends = tonumber(redis.call('zscore', KEYS[1], ARGV[1]) or '0')
redis.call('zrem', KEYS[1], ARGV[1])
prune(KEYS[1], now)
keep_until_last_lease(KEYS[1], {})
if name_follows(KEYS[2], is_semaphore_marker, KEYS[1]) then
  hand_name_on(ARGV[5], ARGV[2], KEYS[2], ARGV[6])
end
wake(ARGV[4], ARGV[2], ARGV[3], 1)
if ends <= now then return 0 end
return 1
)lua";
    static const Script script(source);
    return script;
}

const Script& semaphore_extend_script() {
    static const std::string source = std::string(hand_on_lua) + lease_lua_prelude + R"lua(
return extend_lease(KEYS[1], {}, ARGV[1], tonumber(ARGV[2]), ARGV[3], KEYS[2], is_semaphore_marker)
)lua";
    static const Script script(source);
    return script;
}

const Script& semaphore_holders_script() {
    static const std::string source = std::string(hand_on_lua) + lease_lua_prelude + R"lua(
return redis.call('zcount', KEYS[1], '(' .. now_ms(), '+inf')
)lua";
    static const Script script(source);
    return script;
}

const Script& semaphore_owned_script() {
    static const std::string source = std::string(hand_on_lua) + lease_lua_prelude + R"lua(
local ends = tonumber(redis.call('zscore', KEYS[1], ARGV[1]) or '0')
if ends > now_ms() then return 1 end
return 0
)lua";
    static const Script script(source);
    return script;
}

}  // namespace

ScriptCall semaphore_holders_call(std::string_view name) {
    // KEYS[1] holders.
    return {&semaphore_holders_script(), {semaphore_holders_key(name)}, {}};
}

ScriptCall semaphore_owned_call(std::string_view name, std::string_view token) {
    // KEYS[1] holders; ARGV[1] token.
    return {&semaphore_owned_script(), {semaphore_holders_key(name)}, {std::string(token)}};
}

ScriptCall semaphore_acquire_call(std::string_view name, std::string_view token,
                                  std::chrono::milliseconds ttl, std::size_t permits, bool fencing,
                                  const QueueTicket* ticket, std::chrono::milliseconds queue_ttl,
                                  std::string_view notify) {
    // KEYS[1] holders, KEYS[2] key NAME (its marker), KEYS[3] fence counter (only with fencing);
    // ARGV[1] token, ARGV[2] lease ms, ARGV[3] permits, ARGV[4] '1' = fencing, ARGV[5] inbox
    // ('' = not queueing), ARGV[6] queue TTL ms, ARGV[7] 'stay' or 'leave', ARGV[8] wait queue,
    // ARGV[9] 'front' when the caller was just woken, ARGV[10] the wait queue of a Lock of NAME,
    // ARGV[11] the semaphore's wait name, ARGV[12] the backend's notify command (which inboxes
    // it counts listeners of; '' = none).
    ScriptCall call{
        &semaphore_acquire_script(), {semaphore_holders_key(name), std::string(name)}, {}};
    if (fencing) call.keys.push_back(fence_key(name));
    const std::string wait_name = semaphore_wait_name(name);
    call.args = {std::string(token),
                 std::to_string(ttl.count()),
                 std::to_string(permits),
                 fencing ? "1" : "0",
                 ticket ? std::string(ticket->inbox) : "",
                 std::to_string(queue_ttl.count()),
                 ticket && ticket->others_waiting ? "stay" : "leave",
                 wait_queue_key(wait_name),
                 ticket && ticket->woken ? "front" : "back",
                 wait_queue_key(name),
                 wait_name,
                 std::string(notify)};
    return call;
}

ScriptCall semaphore_release_call(std::string_view name, std::string_view token,
                                  std::string_view notify) {
    // KEYS[1] holders, KEYS[2] key NAME (its marker); ARGV[1] token, ARGV[2] notify command
    // ('' = wake no one), ARGV[3] the wait name (the wake-up's payload), ARGV[4] wait queue,
    // ARGV[5] the wait queue of a Lock of NAME, ARGV[6] the claim window ms.
    const std::string wait_name = semaphore_wait_name(name);
    return {&semaphore_release_script(),
            {semaphore_holders_key(name), std::string(name)},
            {std::string(token), std::string(notify), wait_name, wait_queue_key(wait_name),
             wait_queue_key(name), std::to_string(handoff_claim_window.count())}};
}

ScriptCall semaphore_extend_call(std::string_view name, std::string_view token,
                                 std::chrono::milliseconds ms, TtlChange change) {
    // KEYS[1] holders, KEYS[2] key NAME (its marker); ARGV[1] token, ARGV[2] ms, ARGV[3] the
    // change.
    return {&semaphore_extend_script(),
            {semaphore_holders_key(name), std::string(name)},
            {std::string(token), std::to_string(ms.count()), std::string(change_word(change))}};
}

}  // namespace dlock::detail
