// dlock/wire.hpp: the exact commands a Lock sends, for tools that replay dlock's traffic
// without a Lock object (the benchmark's pipelined ceiling sends them with redis-cli --pipe).
//
// Built by the same code as Lock's own calls, so they cannot drift from what Lock sends.
#pragma once

#include <string_view>

#include "dlock/options.hpp"
#include "dlock/request.hpp"

namespace dlock::wire {

// SCRIPT LOAD of the release script, so that release_request()'s EVALSHA finds it.
Request load_release_script();

// What Lock::release() sends on one server (not a cluster) for lock `name` held with `token`:
// EVALSHA of the token-checked delete that also wakes the first queued waiter.
Request release_request(std::string_view name, std::string_view token);

// SCRIPT LOAD of the acquire script (what a blocking acquire runs once it waits in line).
Request load_acquire_script();

// The acquire script's EVALSHA for lock `name`, `token` and a TTL of `ttl` (as a Lock's
// timeout: whole milliseconds, rounded up; std::invalid_argument naming "ttl" when negative or
// under 1 ms), as a waiter that is not queued would send it: no fencing, no inbox. Lock sends a
// plain SET NX PX instead in that case; the benchmark sends this to measure what the plain SET
// saves.
Request acquire_script_request(std::string_view name, std::string_view token, Seconds ttl);

}  // namespace dlock::wire
