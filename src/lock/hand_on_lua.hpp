// hand_on_lua.hpp (private): the one Lua function that hands a name on to the first process in
// a Lock's wait queue, shared by the Lock's release and leave scripts (scripts.cpp) and by the
// last permit or reader out (lease_lua.hpp: hand_name_on). scripts.cpp says how a hand-off
// works (direct to a registered token, or a claim marker) and why the queue keys are in ARGV
// and touched through pcall.
//
// Needs next_fence (fence_lua.hpp) only when given the registrations, so a script that hands
// on claims only may leave it out.
#pragma once

namespace dlock::detail {

inline constexpr const char* hand_on_lua = R"lua(
-- Whether the process with `inbox`, queued in the Lock's queue `lock_queue` of `name` as another
-- kind's member "INBOX|WAIT_NAME", still has a waiter in that kind's own queue: the Lock
-- queue's prefix, then WAIT_NAME ("dlock:queue:{tag}:WAIT_NAME", a wait name has the name's
-- slot, so the same tag). A waiter of another kind whose departure never reached the server
-- (its connection dropped) leaves its member in the Lock's queue, but not in its own queue.
local function in_own_queue(lock_queue, name, inbox, wait_name)
  local own = string.sub(lock_queue, 1, #lock_queue - #name) .. wait_name
  return type(redis.pcall('zscore', own, inbox)) == 'string'
end
-- Pops `queue` (of lock `name`) until a process that still waits is reached by `publish`, and
-- sets key `key` for it: to its registered waiter's token, with the next fence if it asked
-- (`registrations`: the hand-off registrations, nil for claims only), or else to its claim
-- marker "dlock:claim:MEMBER", for at most `claim_ms` (a token's own TTL if shorter). A member
-- "INBOX|WAIT_NAME" (another kind) is woken under its wait name, and skipped when its process
-- left that kind's queue; a process with no subscriber is dropped. Tries 16 at most, so a
-- release never runs long. Returns whether one was reached. With `claim_ms` nil it only wakes
-- that process (`key` is left alone), which then competes with whoever else was woken.
local function hand_on(queue, publish, name, claim_ms, registrations, fence_counter, key)
  for _ = 1, 16 do
    local head = redis.pcall('zpopmin', queue)
    if type(head) ~= 'table' or #head == 0 then return false end
    local inbox, message = head[1], name
    local bar = string.find(inbox, '|', 1, true)
    local reg = false
    if bar then
      inbox, message = string.sub(inbox, 1, bar - 1), string.sub(inbox, bar + 1)
      if not in_own_queue(queue, name, inbox, message) then inbox = false end
    elseif registrations then
      reg = redis.pcall('hget', registrations, inbox)
    end
    local seq, ttl, fencing, token
    if type(reg) == 'string' then
      redis.pcall('hdel', registrations, inbox)
      seq, ttl, fencing, token = string.match(reg, '^(%d+):(%d+):([01]):(%x+)$')
    end
    local px = tonumber(claim_ms)
    if token then
      if tonumber(ttl) > 0 and tonumber(ttl) < px then px = tonumber(ttl) end
      local fence = 0
      if fencing == '1' then fence = next_fence(fence_counter) end
      message = 'dlock:handed:' .. token .. ':' .. seq .. ':' .. px .. ':' ..
                string.format('%d', fence) .. ':' .. name
    end
    local reached = 0
    if inbox then reached = redis.pcall(publish, inbox, message) end
    if type(reached) ~= 'number' then return false end
    if reached > 0 then
      if token then
        redis.call('set', key, token, 'PX', px)
      elseif px then
        redis.call('set', key, 'dlock:claim:' .. head[1], 'PX', px)
      end
      return true
    end
  end
  return false
end
)lua";

}  // namespace dlock::detail
