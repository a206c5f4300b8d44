#include "lock/rwlock_scripts.hpp"

#include "lock/fence_lua.hpp"
#include "lock/hand_on_lua.hpp"
#include "lock/lease_lua.hpp"
#include "protocol/keys.hpp"

namespace dlock::detail {

namespace {

// Every rwlock script sees the same KEYS and the same first ARGV (see rw_call below), so the
// roles of its keys are named once here.
constexpr const char* rw_prelude = R"lua(
local writer, readers, writers_waiting, readers_waiting, turn = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local token, notify = ARGV[1], ARGV[2]
local reader_name, reader_queue, writer_name, writer_queue = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local now = now_ms()
-- Key NAME is free of other holders: absent, the readers' marker (then only the readers'
-- leases say whether a reader is in), or the claim marker a Lock's release left to `member`
-- (lock_queue_member; nil for none).
local function name_open(member)
  local current = redis.pcall('get', writer)
  return not current or current == readers_marker or is_claim_for(current, member)
end
local function claimed_by(member) return is_claim_for(redis.pcall('get', writer), member) end
-- The last reader out (nobody with a turn pending) lets the first waiting writer in.
local function wake_writer_if_free()
  if prune(readers, now) == 0 and prune(turn, now) == 0 and prune(writers_waiting, now) > 0
      and name_open() then
    wake(writer_queue, notify, writer_name, 1)
  end
end
local function drop(set, member)
  redis.call('zrem', set, member)
  keep_until_last_lease(set, {})
end
-- Not let in: a claim in `waiting` until now + claim_ms ('0' = no claim), and a place in `queue`
-- for this process's inbox, and in `lock_queue` (under `wait_name`) while another holder than
-- readers has key NAME, or (`others_first`) a waiter of another kind is queued ahead. The
-- acquire's reply is then nil (false).
local function wait_behind(waiting, claim_ms, queue, inbox, queue_ttl, place, lock_queue, wait_name,
                           others_first)
  if claim_ms ~= '0' then
    redis.call('zadd', waiting, now + tonumber(claim_ms), token)
    keep_until_last_lease(waiting, {})
  end
  queue_waiter(queue, inbox, queue_ttl, place)
  local member = lock_queue_member(inbox, wait_name)
  if others_first or not name_open(member) then
    queue_behind_lock(lock_queue, member, queue_ttl, place)
  end
  return false
end
)lua";

// A script's source (the preludes + its body) and the Script that views it.
struct RwScript {
    explicit RwScript(const char* body)
        : source(std::string(next_fence_lua) + hand_on_lua + lease_lua_prelude + rw_prelude + body),
          script(source) {}
    std::string source;
    Script script;
};

// The read/write lock's scripts, built together on first use (their ARGV after rw_call's).
struct RwScripts {
    // ARGV[7] lease ms, ARGV[8] '1' = fencing, ARGV[9] inbox, ARGV[10] queue TTL, ARGV[11]
    // 'stay'/'leave', ARGV[12] 'front'/'back', ARGV[13] claim ms ('0' = no claim), ARGV[14] the
    // wait queue of a Lock of NAME. A claim marker left to this process is its turn: readers'
    // turns wait behind it.
    const RwScript write_acquire{R"lua(
prune(writers_waiting, now)
local member = lock_queue_member(ARGV[9], writer_name)
if name_open(member) and prune(readers, now) == 0 and (claimed_by(member) or prune(turn, now) == 0) then
  local fence = 0
  if ARGV[8] == '1' then fence = next_fence(KEYS[6]) end
  redis.call('set', writer, token, 'PX', ARGV[7])
  drop(writers_waiting, token)
  queue_after_success(writer_queue, ARGV[9], ARGV[10], ARGV[11])
  leave_lock_queue(ARGV[14], member)
  return fence
end
return wait_behind(writers_waiting, ARGV[13], writer_queue, ARGV[9], ARGV[10], ARGV[12], ARGV[14],
                   writer_name, false)
)lua"};
    // ARGV[7] the wait queue of a Lock of NAME. Its first live process (a Lock's waiter, or a
    // permit's that found the writer) is woken too, with no claim: it competes with the readers
    // or the writer woken here (a reader's turn keeps its place), and nobody waits for a poll.
    const RwScript write_release{R"lua(
if redis.call('get', writer) ~= token then return 0 end
redis.call('del', writer)
local waiting = prune(readers_waiting, now)
if waiting > 0 then
  -- The readers waiting now have their turn, ahead of every writer (no reader starvation).
  redis.call('zunionstore', turn, 2, turn, readers_waiting, 'AGGREGATE', 'MAX')
  redis.call('del', readers_waiting)
  keep_until_last_lease(turn, {})
  wake(reader_queue, notify, reader_name, waiting)
else
  wake(writer_queue, notify, writer_name, 1)
end
if notify ~= '' then hand_on(ARGV[7], notify, writer, nil, nil, nil, writer) end
return 1
)lua"};
    const RwScript write_withdraw{R"lua(
drop(writers_waiting, token)
if prune(writers_waiting, now) == 0 and name_open() then
  wake(reader_queue, notify, reader_name, math.max(1, prune(readers_waiting, now)))
end
return 1
)lua"};
    // ARGV[7] lease ms, ARGV[8] inbox, ARGV[9] queue TTL, ARGV[10] 'stay'/'leave', ARGV[11]
    // 'front'/'back', ARGV[12] claim ms ('0' = no claim), ARGV[13] the wait queue of a Lock of
    // NAME. A claim marker left to this process is its turn, ahead of waiting writers. Readers
    // with no turn stay out while a waiter of another kind is queued ahead
    // (other_kind_waits_ahead), so overlapping readers drain and the last one out hands the name
    // on.
    const RwScript read_acquire{R"lua(
prune(turn, now)
local member = lock_queue_member(ARGV[8], reader_name)
local invited = redis.call('zscore', turn, token) or claimed_by(member)
local open, writers = name_open(member), prune(writers_waiting, now)
local others_first = open and not invited and writers == 0 and prune(readers, now) > 0 and
                     other_kind_waits_ahead(ARGV[13], writer, member, reader_name, notify)
if open and (invited or (writers == 0 and not others_first)) then
  redis.call('zadd', readers, now + tonumber(ARGV[7]), token)
  keep_until_last_lease(readers, {})
  redis.call('set', writer, readers_marker)
  name_follows(writer, is_readers_marker, readers)
  drop(turn, token)
  drop(readers_waiting, token)
  queue_after_success(reader_queue, ARGV[8], ARGV[9], ARGV[10])
  leave_lock_queue(ARGV[13], member)
  if ARGV[10] == 'stay' and notify ~= '' and (prune(turn, now) > 0 or prune(writers_waiting, now) == 0) then
    -- Readers go in together: the next reader waiting in this process may come in too.
    redis.pcall(notify, ARGV[8], reader_name)
  end
  return 0
end
return wait_behind(readers_waiting, ARGV[12], reader_queue, ARGV[8], ARGV[9], ARGV[11], ARGV[13],
                   reader_name, others_first)
)lua"};
    // ARGV[7] the wait queue of a Lock of NAME, ARGV[8] the claim window ms. The last reader out
    // hands the name to the first process in that queue (hand_name_on); a writer waiting behind
    // the readers is woken to queue behind it (its attempt finds the claim).
    const RwScript read_release{R"lua(
local ends = tonumber(redis.call('zscore', readers, token) or '0')
drop(readers, token)
if name_follows(writer, is_readers_marker, readers) and hand_name_on(ARGV[7], notify, writer, ARGV[8])
    and prune(writers_waiting, now) > 0 then
  wake(writer_queue, notify, writer_name, 1)
end
wake_writer_if_free()
if ends <= now then return 0 end
return 1
)lua"};
    // ARGV[7] ms, ARGV[8] the change.
    const RwScript read_extend{R"lua(
return extend_lease(readers, {}, token, tonumber(ARGV[7]), ARGV[8], writer, is_readers_marker)
)lua"};
    const RwScript read_withdraw{R"lua(
drop(readers_waiting, token)
drop(turn, token)
wake_writer_if_free()
return 1
)lua"};
};

const RwScripts& rw_scripts() {
    static const RwScripts scripts;
    return scripts;
}

// KEYS[1] key NAME (the writer), KEYS[2] readers, KEYS[3] writers waiting, KEYS[4] readers
// waiting, KEYS[5] readers' turn; ARGV[1] token, ARGV[2] notify command, ARGV[3] readers' wait
// name, ARGV[4] their queue, ARGV[5] writers' wait name, ARGV[6] their queue; then the
// script's own (listed above each).
ScriptCall rw_call(const Script& script, const RwCall& call) {
    const std::string reader_name = reader_wait_name(call.name);
    const std::string writer_name = writer_wait_name(call.name);
    return {&script,
            {std::string(call.name), readers_key(call.name), writers_waiting_key(call.name),
             readers_waiting_key(call.name), readers_turn_key(call.name)},
            {std::string(call.token), std::string(call.notify), reader_name,
             wait_queue_key(reader_name), writer_name, wait_queue_key(writer_name)}};
}

void push_ticket(ScriptCall& out, const QueueTicket* ticket, std::chrono::milliseconds queue_ttl,
                 bool with_order) {
    out.args.push_back(ticket ? std::string(ticket->inbox) : "");
    out.args.push_back(std::to_string(queue_ttl.count()));
    out.args.push_back(ticket && ticket->others_waiting ? "stay" : "leave");
    if (with_order) out.args.push_back(ticket && ticket->woken ? "front" : "back");
}

}  // namespace

ScriptCall rw_write_acquire_call(const RwCall& call, std::chrono::milliseconds ttl, bool fencing,
                                 const QueueTicket* ticket, std::chrono::milliseconds queue_ttl,
                                 std::chrono::milliseconds claim) {
    ScriptCall out = rw_call(rw_scripts().write_acquire.script, call);
    if (fencing) out.keys.push_back(fence_key(call.name));  // KEYS[6]
    out.args.push_back(std::to_string(ttl.count()));
    out.args.push_back(fencing ? "1" : "0");
    push_ticket(out, ticket, queue_ttl, true);
    out.args.push_back(std::to_string(claim.count()));
    out.args.push_back(wait_queue_key(call.name));
    return out;
}

ScriptCall rw_write_release_call(const RwCall& call) {
    ScriptCall out = rw_call(rw_scripts().write_release.script, call);
    out.args.push_back(wait_queue_key(call.name));
    return out;
}

ScriptCall rw_write_withdraw_call(const RwCall& call) {
    return rw_call(rw_scripts().write_withdraw.script, call);
}

ScriptCall rw_read_acquire_call(const RwCall& call, std::chrono::milliseconds ttl,
                                const QueueTicket* ticket, std::chrono::milliseconds queue_ttl,
                                std::chrono::milliseconds claim) {
    ScriptCall out = rw_call(rw_scripts().read_acquire.script, call);
    out.args.push_back(std::to_string(ttl.count()));
    push_ticket(out, ticket, queue_ttl, true);
    out.args.push_back(std::to_string(claim.count()));
    out.args.push_back(wait_queue_key(call.name));
    return out;
}

ScriptCall rw_read_release_call(const RwCall& call) {
    ScriptCall out = rw_call(rw_scripts().read_release.script, call);
    out.args.push_back(wait_queue_key(call.name));
    out.args.push_back(std::to_string(handoff_claim_window.count()));
    return out;
}

ScriptCall rw_read_extend_call(const RwCall& call, std::chrono::milliseconds ms, TtlChange change) {
    ScriptCall out = rw_call(rw_scripts().read_extend.script, call);
    out.args.push_back(std::to_string(ms.count()));
    out.args.push_back(change == TtlChange::add       ? "add"
                       : change == TtlChange::replace ? "replace"
                                                      : "renew");
    return out;
}

ScriptCall rw_read_withdraw_call(const RwCall& call) {
    return rw_call(rw_scripts().read_withdraw.script, call);
}

}  // namespace dlock::detail
