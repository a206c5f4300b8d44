// dlock/detail/scripts.hpp: the server-side Lua scripts a Lock runs, and how they are called.
//
// Scripts run by EVALSHA; on NOSCRIPT (a fresh or flushed server) the same call is retried
// once with EVAL, which also caches the script. So a script crosses the wire once per server,
// not once per call, and no SCRIPT LOAD round trip is spent up front.
#pragma once

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

// KEYS[1] lock, ARGV[1] token, ARGV[2] channel ('' = none), ARGV[3] 'publish' or 'spublish'.
// Deletes the key only if it holds the token, then tells waiters. Returns 1 or 0.
const Script& release_script();
// KEYS[1] lock, ARGV[1] token, ARGV[2] ms, ARGV[3] 'add' or 'replace'. Returns 1 or 0.
const Script& extend_script();
// KEYS[1] lock, KEYS[2] fence counter, ARGV[1] token, ARGV[2] ms ('0' = no expiry).
// SET NX [PX] and INCR the counter atomically; returns the fence number, or nil if held.
const Script& acquire_fenced_script();
// For a Redis-backed protected resource: KEYS[1] resource, KEYS[2] its last-fence key,
// ARGV[1] fence, ARGV[2] value. Writes only if the fence is >= the last one seen.
// Returns 1 (written) or 0 (stale fence: refused).
const Script& fenced_write_script();

// Appends EVALSHA (or EVAL when `full`) of `script` with keys and args to `request`.
void push_script(Request& request, const Script& script, const std::vector<std::string_view>& keys,
                 const std::vector<std::string_view>& args, bool full);

}  // namespace dlock::detail
