#include "lock/scripts.hpp"

#include <openssl/sha.h>

#include <array>
#include <asio.hpp>
#include <charconv>

#include "lock/fence_lua.hpp"
#include "lock/hand_on_lua.hpp"
#include "protocol/hex.hpp"
#include "protocol/keys.hpp"
#include "protocol/slots.hpp"

namespace dlock::detail {

namespace {

std::string sha1_hex(std::string_view text) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    return to_hex(digest);
}

// The strings of a call's KEYS or ARGV, each built in place (a braced list would copy every
// one, and the companion keys are too long for the small-string buffer).
template <class... Parts>
std::vector<std::string> strings(Parts&&... parts) {
    std::vector<std::string> out;
    out.reserve(sizeof...(parts));
    (out.emplace_back(std::forward<Parts>(parts)), ...);
    return out;
}

}  // namespace

Script::Script(std::string_view text) : source(text), sha1(sha1_hex(text)) {}

// Hands the lock to the first queued waiting process (a sorted set of inbox channels by
// arrival time). Two ways (docs/semantics.md §7.12-7.13):
//   - direct: the process registered its oldest local waiter (handoff_key: "SEQ:TTL:F:TOKEN").
//     The key becomes that TOKEN at once, for PX = min(TTL, claim window), with the next fence
//     when it asked for one, and the message "dlock:handed:TOKEN:SEQ:PX:FENCE:NAME" tells it.
//     The waiter counts as holding it on the message and extends the key to its full TTL
//     (take_handoff_script); a waiter that died or left keeps it for at most PX.
//   - claim: anyone else (an older dlock, a Cluster, replicas to confirm, a holder record, a
//     second local waiter): publishes the lock's name, and sets the key to that inbox's claim
//     marker for the claim window (`claim_ms`). Only that process's acquire script may then take
//     the key; a newcomer's SET NX fails, so nobody jumps the queue, and a dead or departed
//     claimant blocks the lock for at most the window (its departure hands on at once:
//     leave_queue_script).
// A waiter of another kind (a permit, a reader, a writer) queued behind the Lock's holder as
// "INBOX|WAIT_NAME" (lease_lua.hpp) takes the claim path, woken under its own wait name, and
// the claim marker names that whole member, so the process's Lock waiters cannot take it. Its
// process must still be in that kind's own queue (the queue key's prefix, then WAIT_NAME:
// still_waits in lease_lua.hpp): one that gave up is dropped like a gone process.
// A process gone since it queued has no subscriber (PUBLISH reaches 0 clients): it is dropped
// and the next one tried (a fence taken for it is skipped: fences only need to grow). Bounded,
// so a release never runs long (hand_on_lua.hpp: hand_on).
//
// The queue and registration keys are passed in ARGV, not declared in KEYS, and touched only
// through pcall: they live in the lock key's slot, so they are local on a cluster node, but a
// multi-key script would get TRYAGAIN while its slot migrates, and a lock operation must not
// fail for the sake of a wake-up. Likewise a user without channel rights (Redis 7's default for
// new ACL users) can still release. Wake-ups are best effort; the `sleep` poll covers their
// failure.
const Script& release_script() {
    static const std::string source =
        std::string(next_fence_lua) + hand_on_lua +
        "if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end\n"
        "if KEYS[2] then redis.call('del', KEYS[2]) end\n"
        "if ARGV[2] ~= '' and hand_on(ARGV[4], ARGV[2], ARGV[3], ARGV[5], ARGV[6], ARGV[7], "
        "KEYS[1]) then\n"
        "  return 1\n"
        "end\n"
        "redis.call('del', KEYS[1])\n"
        "return 1\n";
    static const Script script(source);
    return script;
}

// A departing waiter hands on what it will not use: the lock handed straight to its token
// (ARGV[9]), its process's claim marker, or (`unused_wakeup`) a wake-up it drops while the lock
// is free. Its registration goes (token-checked, or all of its process's when the process
// leaves the queue).
static const Script& leave_queue_script() {
    static const std::string source =
        std::string(next_fence_lua) + hand_on_lua +
        "if ARGV[10] ~= '1' then\n"
        "  redis.pcall('zrem', ARGV[5], ARGV[1])\n"
        "  redis.pcall('hdel', ARGV[7], ARGV[1])\n"
        "  if ARGV[11] ~= '' then redis.pcall('zrem', ARGV[11], ARGV[1] .. '|' .. ARGV[3]) end\n"
        "elseif ARGV[9] ~= '' then\n"
        "  local reg = redis.pcall('hget', ARGV[7], ARGV[1])\n"
        "  if type(reg) == 'string' and string.sub(reg, -#ARGV[9] - 1) == ':' .. ARGV[9] then\n"
        "    redis.pcall('hdel', ARGV[7], ARGV[1])\n"
        "  end\n"
        "end\n"
        "local current = redis.call('get', KEYS[1])\n"
        "local ours = current == 'dlock:claim:' .. ARGV[1] or\n"
        "             (ARGV[9] ~= '' and current == ARGV[9])\n"
        "if ours or (ARGV[4] == '1' and not current) then\n"
        "  local handed = hand_on(ARGV[5], ARGV[2], ARGV[3], ARGV[6], ARGV[7], ARGV[8], KEYS[1])\n"
        "  if ours and not handed then redis.call('del', KEYS[1]) end\n"
        "end\n"
        "return 1\n";
    static const Script script(source);
    return script;
}

// The waiter a release handed the lock to (its token is the key's value) takes it for its full
// TTL (ARGV[2] ms, '0' = none) and settles its process's place in the queue like a successful
// acquire (ARGV[3] inbox, ARGV[4] 'stay' or 'leave', ARGV[5] queue, ARGV[6] queue TTL ms).
// Returns 1, or 0 when the key no longer holds the token (it expired before this arrived).
static const Script& take_handoff_script() {
    static const Script script(R"lua(
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] ~= '0' then
  redis.call('pexpire', KEYS[1], ARGV[2])
else
  redis.call('persist', KEYS[1])
end
if ARGV[4] == 'stay' then
  local t = redis.call('time')
  redis.pcall('zadd', ARGV[5], tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[3])
  redis.pcall('pexpire', ARGV[5], ARGV[6])
end
return 1
)lua");
    return script;
}

const Script& extend_script() {
    static const Script script(R"lua(
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
local ms = tonumber(ARGV[2])
if ARGV[3] == 'add' then
  local ttl = redis.call('pttl', KEYS[1])
  if ttl < 0 then return 0 end
  ms = ms + ttl
elseif ARGV[3] == 'renew' then
  -- Auto-renewal never moves the expiry earlier (it would undo an extend()).
  if redis.call('pttl', KEYS[1]) > ms then return 1 end
end
redis.call('pexpire', KEYS[1], ms)
if KEYS[2] then redis.call('pexpire', KEYS[2], ms) end
return 1
)lua");
    return script;
}

// The queue's score is the server's clock in microseconds: one clock for every client, so
// processes are woken in arrival order. ZADD NX keeps a waiter's place across retries; after
// a success with other waiters left in this process, the inbox goes to the back (plain ZADD),
// so one busy process cannot keep the lock from the others.
const Script& acquire_script() {
    // Script keeps a view of its source: the concatenation must live as long.
    static const std::string source = std::string(next_fence_lua) + R"lua(
local function now()
  local t = redis.call('time')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local queue = ARGV[7]
-- Held (a key of another type counts as held), or handed to another process (its claim
-- marker); a marker naming our inbox is ours to take, and so is our own token: a release handed
-- the lock straight to this waiter (its message may still be on its way, or lost).
local current = redis.pcall('get', KEYS[1])
local handed = current == ARGV[1]
if current and not handed and not (ARGV[4] ~= '' and current == 'dlock:claim:' .. ARGV[4]) then
  if ARGV[4] ~= '' then
    local score = now()
    if ARGV[8] == 'front' then
      -- Woken (so popped from the head) but someone else took the lock first: back to the
      -- head, not the tail, so being overtaken does not cost the place in line.
      local head = redis.pcall('zrange', queue, 0, 0, 'WITHSCORES')
      if type(head) == 'table' and #head == 2 then score = tonumber(head[2]) - 1 end
    end
    redis.pcall('zadd', queue, 'NX', score, ARGV[4])
    redis.pcall('pexpire', queue, ARGV[5])
    if ARGV[9] ~= '' then
      -- The direct hand-off registration of this process's oldest local waiter (handoff_key).
      redis.pcall('hset', ARGV[10], ARGV[4], ARGV[9])
      redis.pcall('pexpire', ARGV[10], ARGV[5])
    end
  end
  return false
end
local fence = 0
if handed then
  -- A fresh fence (the one the release took for us is in its message, which this attempt does
  -- not have): fences only need to grow.
  if ARGV[3] == '1' then fence = next_fence(KEYS[2]) end
  if ARGV[2] ~= '0' then
    redis.call('pexpire', KEYS[1], ARGV[2])
  else
    redis.call('persist', KEYS[1])
  end
else
  if ARGV[3] == '1' then fence = next_fence(KEYS[2]) end
  if ARGV[2] ~= '0' then
    redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  else
    redis.call('set', KEYS[1], ARGV[1])
  end
end
if ARGV[11] == '1' then
  -- The holder record: the last key, same expiry as the lock (none when ARGV[2] is '0').
  local holder = KEYS[#KEYS]
  local t = redis.call('time')
  local since = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('del', holder)
  redis.call('hset', holder, 'owner', redis.sha1hex(ARGV[1]), 'host', ARGV[12], 'pid', ARGV[13],
             'label', ARGV[14], 'since', since)
  if ARGV[2] ~= '0' then redis.call('pexpire', holder, ARGV[2]) end
end
if ARGV[4] ~= '' then
  if ARGV[6] == 'stay' then
    redis.pcall('zadd', queue, now(), ARGV[4])
    redis.pcall('pexpire', queue, ARGV[5])
  else
    redis.pcall('zrem', queue, ARGV[4])
  end
  -- Our registration is used up (a later local waiter registers its own).
  local reg = redis.pcall('hget', ARGV[10], ARGV[4])
  if type(reg) == 'string' and string.sub(reg, -#ARGV[1] - 1) == ':' .. ARGV[1] then
    redis.pcall('hdel', ARGV[10], ARGV[4])
  end
end
return fence
)lua";
    static const Script script(source);
    return script;
}

// Everything dlock::inspect reports, read in one atomic step. The record counts only when its
// owner is the SHA-1 of the value the lock holds now: a lock taken by redis-py (no record), or
// a record outliving a key deleted by hand, shows "holder unknown". pcall: the keys may hold
// other types when the names were used for something else.
static const Script& inspect_script() {
    static const Script script(R"lua(
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local exists = redis.call('exists', KEYS[1])
local pttl = redis.call('pttl', KEYS[1])
local record = false
local value = redis.pcall('get', KEYS[1])
-- Key NAME holds a kind's marker (keys.hpp) while permits or readers hold the name.
local marker = false
if type(value) == 'string' and string.sub(value, 1, 11) == 'dlock-kind:' then marker = value end
if exists == 1 and type(value) == 'string' and not marker then
  local h = redis.pcall('hmget', KEYS[2], 'owner', 'host', 'pid', 'label', 'since')
  if type(h) == 'table' and h[1] == redis.sha1hex(value) then
    record = {h[2] or '', h[3] or '', h[4] or '', h[5] or ''}
  end
end
local fence = redis.pcall('get', KEYS[3])
if type(fence) ~= 'string' then fence = false end
local function count(key)
  local n = redis.pcall('zcard', key)
  if type(n) ~= 'number' then return 0 end
  return n
end
-- The remaining ms of each live lease of a holders set (member -> lease end, ms), soonest
-- first; ended ones not yet pruned are left out.
local function leases(key)
  local ends = redis.pcall('zrangebyscore', key, '(' .. now, '+inf', 'WITHSCORES')
  local out = {}
  if type(ends) ~= 'table' then return out end
  for i = 2, #ends, 2 do out[#out + 1] = tonumber(ends[i]) - now end
  return out
end
local queued = count(KEYS[4])
local semaphore = false
local permits = false
if marker then permits = string.match(marker, '^dlock%-kind:semaphore:(%d+)$') or false end
local permit_leases, permit_waiters = leases(KEYS[5]), count(KEYS[6])
if permits or #permit_leases > 0 or permit_waiters > 0 then
  semaphore = {permits, permit_leases, permit_waiters}
end
local read_write = false
local readers, reader_waiters, writer_waiters = leases(KEYS[7]), count(KEYS[8]), count(KEYS[9])
if #readers > 0 or reader_waiters > 0 or writer_waiters > 0 then
  read_write = {readers, reader_waiters, writer_waiters}
end
return {exists, pttl, record, fence, queued, now, semaphore, read_write, marker}
)lua");
    return script;
}

static const Script& fenced_write_script() {
    static const Script script(R"lua(
local last = tonumber(redis.call('get', KEYS[2]) or '-1')
local fence = tonumber(ARGV[1])
if fence < last then return 0 end
redis.call('set', KEYS[2], ARGV[1])
redis.call('set', KEYS[1], ARGV[2])
return 1
)lua");
    return script;
}

// ---- Typed calls: each script's KEYS and ARGV, in one place ----------------------------

namespace {

// "SEQ:TTL:FENCING:TOKEN" (protocol/keys.hpp, handoff_key).
std::string registration_value(const HandoffRegistration& registration) {
    return std::to_string(registration.seq) + ":" +
           std::to_string(registration.ttl ? registration.ttl->count() : 0) + ":" +
           (registration.fencing ? "1" : "0") + ":" + std::string(registration.token);
}

}  // namespace

void ScriptCall::push_to(Request& request, bool full) const {
    const std::string key_count = std::to_string(keys.size());
    std::vector<std::string_view> command;
    command.reserve(3 + keys.size() + args.size());
    command.push_back(full ? "EVAL" : "EVALSHA");
    command.push_back(full ? script->source : std::string_view(script->sha1));
    command.push_back(key_count);
    command.insert(command.end(), keys.begin(), keys.end());
    command.insert(command.end(), args.begin(), args.end());
    request.push(std::span<const std::string_view>(command));
}

ReleaseCall release_call(std::string_view name, std::string_view token, std::string_view notify,
                         bool holder_recorded, std::chrono::milliseconds claim_window) {
    return {name, token, notify, holder_recorded, claim_window};
}

namespace {

// Calls `use` with the release's KEYS and ARGV as views, in order: the one place of their order,
// for both of ReleaseCall's forms. KEYS[1] lock, KEYS[2] holder record (only when recorded);
// ARGV[1] token, ARGV[2] notify command ('' = wake no one), ARGV[3] lock name, ARGV[4] wait
// queue, ARGV[5] claim window ms, ARGV[6] hand-off registrations, ARGV[7] fence counter. The
// companion keys are built in a per-thread scratch whose strings keep their capacity, so a
// release allocates none once its thread has released a name that long.
template <class Use>
auto with_release_parts(const ReleaseCall& call, Use use) {
    thread_local LockCompanionKeys companions;
    lock_companion_keys_into(companions, call.name);
    char claim_ms[24];
    const auto end = std::to_chars(claim_ms, claim_ms + sizeof claim_ms, call.claim_window.count());
    const std::string holder = call.holder_recorded ? holder_key(call.name) : std::string();
    const std::array<std::string_view, 2> keys{call.name, holder};
    const std::array<std::string_view, 7> args{
        call.token,
        call.notify,
        call.name,
        companions.queue,
        std::string_view(claim_ms, static_cast<std::size_t>(end.ptr - claim_ms)),
        companions.handoff,
        companions.fence};
    return use(std::span(keys.data(), call.holder_recorded ? 2 : 1), std::span(args));
}

}  // namespace

void ReleaseCall::push_to(Request& request, bool full) const {
    with_release_parts(*this, [&](auto keys, auto args) {
        const Script& script = release_script();
        std::array<std::string_view, 3 + 2 + 7> command{
            full ? "EVAL" : "EVALSHA", full ? script.source : std::string_view(script.sha1),
            keys.size() == 2 ? "2" : "1"};
        std::size_t n = 3;
        for (const std::string_view part : keys) command[n++] = part;
        for (const std::string_view part : args) command[n++] = part;
        request.push(std::span<const std::string_view>(command.data(), n));
    });
}

ScriptCall ReleaseCall::owned() const {
    return with_release_parts(*this, [](auto keys, auto args) {
        return ScriptCall{&release_script(), std::vector<std::string>(keys.begin(), keys.end()),
                          std::vector<std::string>(args.begin(), args.end())};
    });
}

ScriptCall leave_queue_call(std::string_view name, std::string_view inbox, std::string_view notify,
                            bool unused_wakeup, std::chrono::milliseconds claim_window,
                            std::string_view registered_token, bool process_stays,
                            std::string_view lock_queue) {
    // KEYS[1] lock; ARGV[1] inbox, ARGV[2] notify command, ARGV[3] lock name, ARGV[4] '1' when
    // the caller drops an unused wake-up, ARGV[5] wait queue, ARGV[6] claim window ms, ARGV[7]
    // hand-off registrations, ARGV[8] fence counter, ARGV[9] the leaving waiter's registered
    // token ('' = none), ARGV[10] '1' when the process stays queued, ARGV[11] the Lock's queue
    // of the name another kind's waiter waited for ('' for a Lock's waiter).
    LockCompanionKeys companions = lock_companion_keys(name);
    return {&leave_queue_script(), strings(name),
            strings(inbox, notify, name, unused_wakeup ? "1" : "0", std::move(companions.queue),
                    std::to_string(claim_window.count()), std::move(companions.handoff),
                    std::move(companions.fence), registered_token, process_stays ? "1" : "0",
                    lock_queue)};
}

ScriptCall take_handoff_call(std::string_view name, std::string_view token,
                             std::optional<std::chrono::milliseconds> ttl, std::string_view inbox,
                             bool others_waiting, std::chrono::milliseconds queue_ttl) {
    // KEYS[1] lock; ARGV[1] token, ARGV[2] ms ('0' = no expiry), ARGV[3] inbox, ARGV[4] 'stay'
    // or 'leave', ARGV[5] wait queue, ARGV[6] queue TTL ms.
    return {&take_handoff_script(),
            {std::string(name)},
            {std::string(token), ttl ? std::to_string(ttl->count()) : "0", std::string(inbox),
             others_waiting ? "stay" : "leave", wait_queue_key(name),
             std::to_string(queue_ttl.count())}};
}

ScriptCall extend_call(std::string_view name, std::string_view token, std::chrono::milliseconds ms,
                       TtlChange change, bool holder_recorded) {
    // KEYS[1] lock, KEYS[2] holder record (only when recorded); ARGV[1] token, ARGV[2] ms,
    // ARGV[3] 'add', 'replace' or 'renew'.
    ScriptCall call{&extend_script(),
                    {std::string(name)},
                    {std::string(token), std::to_string(ms.count()),
                     change == TtlChange::add       ? "add"
                     : change == TtlChange::replace ? "replace"
                                                    : "renew"}};
    if (holder_recorded) call.keys.push_back(holder_key(name));
    return call;
}

ScriptCall acquire_call(std::string_view name, std::string_view token,
                        std::optional<std::chrono::milliseconds> ttl, bool fencing,
                        const QueueTicket* ticket, std::chrono::milliseconds queue_ttl,
                        const HolderFields* holder) {
    // KEYS[1] lock, KEYS[2] fence counter (only with fencing), then the holder record (only
    // with `holder`, always the last key); ARGV[1] token, ARGV[2] ms ('0' = no expiry), ARGV[3]
    // '1' = fencing, ARGV[4] inbox ('' = not queueing), ARGV[5] queue TTL ms, ARGV[6] 'stay'
    // (this process has more waiters) or 'leave', ARGV[7] wait queue, ARGV[8] 'front' when the
    // caller was just woken, ARGV[9] the hand-off registration ('' = none), ARGV[10] the
    // registrations' key; with `holder`: ARGV[11] '1', ARGV[12..14] host, pid, label.
    LockCompanionKeys companions = lock_companion_keys(name);
    ScriptCall call{&acquire_script(), strings(name), {}};
    if (fencing) call.keys.push_back(std::move(companions.fence));
    call.args = strings(
        token, ttl ? std::to_string(ttl->count()) : "0", fencing ? "1" : "0",
        ticket ? ticket->inbox : std::string_view(), std::to_string(queue_ttl.count()),
        ticket && ticket->others_waiting ? "stay" : "leave", std::move(companions.queue),
        ticket && ticket->woken ? "front" : "back",
        ticket && ticket->registration ? registration_value(*ticket->registration) : std::string(),
        std::move(companions.handoff));
    if (holder) {
        call.keys.push_back(holder_key(name));
        call.args.insert(call.args.end(), {"1", std::string(holder->host), std::string(holder->pid),
                                           std::string(holder->label)});
    }
    return call;
}

ScriptCall inspect_call(std::string_view name) {
    // KEYS[1] lock, KEYS[2] holder record, KEYS[3] fence counter, KEYS[4] wait queue;
    // semaphore NAME: KEYS[5] holders, KEYS[6] wait queue; read/write lock NAME: KEYS[7]
    // readers, KEYS[8] readers' wait queue, KEYS[9] writers' wait queue.
    return {
        &inspect_script(),
        {std::string(name), holder_key(name), fence_key(name), wait_queue_key(name),
         semaphore_holders_key(name), wait_queue_key(semaphore_wait_name(name)), readers_key(name),
         wait_queue_key(reader_wait_name(name)), wait_queue_key(writer_wait_name(name))},
        {}};
}

ScriptCall fenced_write_call(std::string_view resource, std::int64_t fence,
                             std::string_view value) {
    // KEYS[1] resource, KEYS[2] its last-fence key; ARGV[1] fence, ARGV[2] value.
    return {&fenced_write_script(),
            {std::string(resource), last_fence_key(resource)},
            {std::to_string(fence), std::string(value)}};
}

}  // namespace dlock::detail
