// dlock/wire.hpp: the exact commands a Lock sends, for tools that replay dlock's traffic
// without a Lock object (the benchmark's pipelined ceiling sends them with redis-cli --pipe).
//
// Built by the same code as Lock's own calls, so they cannot drift from what Lock sends.
#pragma once

#include <string_view>

#include "dlock/request.hpp"

namespace dlock::wire {

// SCRIPT LOAD of the release script, so that release_request()'s EVALSHA finds it.
Request load_release_script();

// What Lock::release() sends on one server (not a cluster) for lock `name` held with `token`:
// EVALSHA of the token-checked delete that also wakes the first queued waiter.
Request release_request(std::string_view name, std::string_view token);

}  // namespace dlock::wire
