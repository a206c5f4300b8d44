// lease_lua.hpp (private): Lua shared by the scripts of the lock kinds whose holders are leases
// in a sorted set (Semaphore's permits, ReadWriteLock's readers): token -> end of its lease,
// in milliseconds of the server's clock, pruned by every script that reads the set; and the
// kind markers those holders keep in key NAME (keys.hpp), so kinds of one name exclude each
// other.
//
// The wait queue part is the Lock's (scripts.cpp): a sorted set of waiting processes' inboxes
// in arrival order (server clock, microseconds); ZADD NX keeps a waiter's place, a woken waiter
// that was overtaken goes back to the head, and queue calls go through pcall (see scripts.cpp
// for why the queue is in ARGV and a wake-up is best effort). A script puts hand_on_lua.hpp's
// functions ahead of this prelude.
#pragma once

namespace dlock::detail {

inline constexpr const char* lease_lua_prelude = R"lua(
local function now_us()
  local t = redis.call('time')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function now_ms()
  return math.floor(now_us() / 1000)
end
-- Drops the leases that ended; returns how many are left.
local function prune(set, now)
  redis.call('zremrangebyscore', set, '-inf', now)
  return redis.call('zcard', set)
end
-- The set (and the companion keys in `others`) expire with its last lease, or go now.
local function keep_until_last_lease(set, others)
  local last = redis.call('zrange', set, -1, -1, 'WITHSCORES')
  if #last == 0 then
    redis.call('del', set, unpack(others))
    return
  end
  redis.call('pexpireat', set, last[2])
  for _, key in ipairs(others) do redis.call('pexpireat', key, last[2]) end
end
-- Key NAME says which kind holds the name (protocol/keys.hpp): a token (a Lock, a read/write
-- lock's writer, another client's SET NX lock), or while permits or readers are held, their
-- marker, which no token equals (tokens are hex). So every kind's acquire, and any client's
-- SET NX, sees the name taken.
local readers_marker = 'dlock-kind:readers'
local semaphore_marker_prefix = 'dlock-kind:semaphore:'
-- The permit count a semaphore's marker names, or nil for any other value.
local function marker_permits(value)
  if type(value) ~= 'string' then return nil end
  return tonumber(string.match(value, '^dlock%-kind:semaphore:(%d+)$'))
end
local function is_semaphore_marker(value) return marker_permits(value) ~= nil end
local function is_readers_marker(value) return value == readers_marker end
-- When key NAME holds this kind's marker (`ours`), it expires with the last lease of `set`, and
-- goes with it: returns true then (the name is free for every kind). A key NAME holding
-- anything else (another kind's holder) is left alone.
local function name_follows(name_key, ours, set)
  local current = redis.pcall('get', name_key)
  if type(current) ~= 'string' or not ours(current) then return false end
  local last = redis.call('zrange', set, -1, -1, 'WITHSCORES')
  if #last == 0 then
    redis.call('del', name_key)
    return true
  end
  redis.call('pexpireat', name_key, last[2])
  return false
end
-- A process waiting as another kind behind a Lock's holder is in the Lock's wait queue as
-- "INBOX|WAIT_NAME" (inboxes have no '|'): its wake-up is its own kind's (the wait name), sent
-- to its inbox. Returns the channel and the payload for a queue member.
local function waiter_address(member, name)
  local bar = string.find(member, '|', 1, true)
  if not bar then return member, name end
  return string.sub(member, 1, bar - 1), string.sub(member, bar + 1)
end
-- Wakes the first queued process that still listens (a gone one is dropped). Returns whether
-- one was reached.
local function wake_next(queue, publish, name)
  for _ = 1, 16 do
    local head = redis.pcall('zpopmin', queue)
    if type(head) ~= 'table' or #head == 0 then return false end
    local channel, payload = waiter_address(head[1], name)
    local reached = redis.pcall(publish, channel, payload)
    if type(reached) ~= 'number' or reached > 0 then return true end
  end
  return false
end
-- Wakes up to `count` queued processes.
local function wake(queue, publish, name, count)
  if publish == '' then return end
  for _ = 1, count do
    if not wake_next(queue, publish, name) then return end
  end
end
-- A failed attempt with a ticket: the process keeps (or, woken, regains) its place.
local function queue_waiter(queue, inbox, queue_ttl, woken)
  if inbox == '' then return end
  local score = now_us()
  if woken == 'front' then
    local head = redis.pcall('zrange', queue, 0, 0, 'WITHSCORES')
    if type(head) == 'table' and #head == 2 then score = tonumber(head[2]) - 1 end
  end
  redis.pcall('zadd', queue, 'NX', score, inbox)
  redis.pcall('pexpire', queue, queue_ttl)
end
-- The Lock's release hands the name on to the first process in the Lock's wait queue (a token
-- or a claim marker: scripts.cpp), so a stream of Lock holders would keep every other kind out.
-- A waiter of another kind that finds a Lock's holder (any value but a kind's marker) in key
-- NAME therefore queues there too, as the member "INBOX|WAIT_NAME" (nil without an inbox): the
-- Lock's FIFO then covers it, and the release that reaches it sets NAME to that member's claim
-- marker, which only that kind's waiters in that process take (not its Lock waiters, whose
-- claim marker names the inbox alone).
local function lock_queue_member(inbox, wait_name)
  if inbox == '' then return nil end
  return inbox .. '|' .. wait_name
end
local function is_claim_for(value, member)
  return member ~= nil and value == 'dlock:claim:' .. member
end
local function queue_behind_lock(lock_queue, member, queue_ttl, woken)
  if member then queue_waiter(lock_queue, member, queue_ttl, woken) end
end
local function leave_lock_queue(lock_queue, member)
  if member then redis.pcall('zrem', lock_queue, member) end
end
-- Whether the waiter behind Lock queue member `member` still waits: its process listens on its
-- inbox and, for another kind's member ("INBOX|WAIT_NAME"), is still in that kind's own queue
-- (in_own_queue, hand_on_lua.hpp). A Lock's waiter takes its member out itself.
local function still_waits(member, lock_queue, name_key, publish)
  local inbox, kind = waiter_address(member, '')
  if kind ~= '' and not in_own_queue(lock_queue, name_key, inbox, kind) then return false end
  local count = 'numsub'
  if publish == 'spublish' then count = 'shardnumsub' end
  local reply = redis.pcall('pubsub', count, inbox)
  return type(reply) == 'table' and (tonumber(reply[2]) or 0) > 0
end
-- Overlapping permits (or readers) never leave key NAME free, so a Lock, a writer or the other
-- shared kind waiting for the name would wait for ever. While such a waiter is queued for the name
-- ahead of this one (`member`: this waiter's own place in the Lock's queue, nil for none) and its
-- process still listens, no new holder of this kind (`own`: its wait name) goes in, as a waiting
-- writer keeps new readers out: those inside drain, and the last one out hands the name on
-- (hand_name_on). Waiters of this kind ahead are passed over (they may come in with us). Looks
-- at the first 16 members; one that no longer waits (still_waits) is dropped.
local function other_kind_waits_ahead(lock_queue, name_key, member, own, publish)
  if publish == '' then return false end
  local mine = member and redis.pcall('zscore', lock_queue, member)
  mine = type(mine) == 'string' and tonumber(mine) or nil
  local heads = redis.pcall('zrange', lock_queue, 0, 15, 'WITHSCORES')
  if type(heads) ~= 'table' then return false end
  for i = 1, #heads, 2 do
    if mine and tonumber(heads[i + 1]) >= mine then return false end
    local _, kind = waiter_address(heads[i], '')  -- '' for a Lock's waiter
    if kind ~= own then
      if still_waits(heads[i], lock_queue, name_key, publish) then return true end
      redis.pcall('zrem', lock_queue, heads[i])
    end
  end
  return false
end
-- The last permit or reader out hands key NAME to the first process in the Lock's queue that
-- still waits, as a Lock's release does, always with a claim (hand_on, hand_on_lua.hpp): NAME
-- holds that member's claim marker for `claim_ms`, so no newcomer slips in between the wake-up
-- and its attempt, and a waiter that has just left holds the name for at most that. Returns
-- whether one was reached (else NAME stays free).
local function hand_name_on(lock_queue, publish, name_key, claim_ms)
  if publish == '' then return false end
  return hand_on(lock_queue, publish, name_key, claim_ms, nil, nil, name_key)
end
-- A success with a ticket: the process leaves the queue, or (more local waiters) goes to the
-- back, so one busy process cannot keep the others out.
local function queue_after_success(queue, inbox, queue_ttl, stay)
  if inbox == '' then return end
  if stay == 'stay' then
    redis.pcall('zadd', queue, now_us(), inbox)
    redis.pcall('pexpire', queue, queue_ttl)
  else
    redis.pcall('zrem', queue, inbox)
  end
end
-- Changes the lease of `token` in `set` as extend() says (key NAME's marker follows: see
-- name_follows); 1, or 0 when it is not held.
local function extend_lease(set, others, token, ms, change, name_key, ours)
  local now = now_ms()
  local ends = tonumber(redis.call('zscore', set, token) or '0')
  if ends <= now then return 0 end
  if change == 'add' then
    ends = ends + ms
  elseif change == 'renew' then
    -- Auto-renewal never moves the end earlier (it would undo an extend()).
    if ends - now > ms then return 1 end
    ends = now + ms
  else
    ends = now + ms
  end
  redis.call('zadd', set, 'XX', ends, token)
  keep_until_last_lease(set, others)
  name_follows(name_key, ours, set)
  return 1
end
)lua";

}  // namespace dlock::detail
