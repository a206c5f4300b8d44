#include "dlock/detail/scripts.hpp"

#include <openssl/sha.h>

namespace dlock::detail {

namespace {

std::string sha1_hex(std::string_view text) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char byte : digest) {
        out.push_back(hex[byte >> 4]);
        out.push_back(hex[byte & 15]);
    }
    return out;
}

}  // namespace

Script::Script(std::string_view text) : source(text), sha1(sha1_hex(text)) {}

// The notification is best effort (pcall): a user without channel rights (Redis 7's default
// for new ACL users) must still be able to release, and the DEL has happened by then anyway.
const Script& release_script() {
    static const Script script(R"lua(
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('del', KEYS[1])
if ARGV[2] ~= '' then redis.pcall(ARGV[3], ARGV[2], '1') end
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
end
redis.call('pexpire', KEYS[1], ms)
return 1
)lua");
    return script;
}

const Script& acquire_fenced_script() {
    static const Script script(R"lua(
if redis.call('exists', KEYS[1]) == 1 then return false end
local fence = redis.call('incr', KEYS[2])
if ARGV[2] ~= '0' then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('set', KEYS[1], ARGV[1])
end
return fence
)lua");
    return script;
}

const Script& fenced_write_script() {
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

void push_script(Request& request, const Script& script, const std::vector<std::string_view>& keys,
                 const std::vector<std::string_view>& args, bool full) {
    const std::string key_count = std::to_string(keys.size());
    std::vector<std::string_view> command;
    command.reserve(3 + keys.size() + args.size());
    command.push_back(full ? "EVAL" : "EVALSHA");
    command.push_back(full ? script.source : std::string_view(script.sha1));
    command.push_back(key_count);
    command.insert(command.end(), keys.begin(), keys.end());
    command.insert(command.end(), args.begin(), args.end());
    request.push(std::span<const std::string_view>(command));
}

}  // namespace dlock::detail
