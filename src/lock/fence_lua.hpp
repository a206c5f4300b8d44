// fence_lua.hpp (private): the one Lua function that hands out a fencing number, shared by the
// acquire scripts of every lock kind (scripts.cpp, semaphore_scripts.cpp, rwlock_scripts.cpp),
// so a name used as a Lock, a Semaphore or a ReadWriteLock has one counter that only grows.
//
// A counter lost with the dataset (a restart without persistence) starts again from the
// server's clock in microseconds, above every fence handed out before: a server hands out far
// fewer than one per microsecond (docs/semantics.md, section 7.10). Written as text: Lua would
// print the number as 1.7e+15.
#pragma once

namespace dlock::detail {

inline constexpr const char* next_fence_lua = R"lua(
local function next_fence(counter)
  if redis.call('exists', counter) == 0 then
    local t = redis.call('time')
    redis.call('set', counter, t[1] .. string.sub('00000' .. t[2], -6))
  end
  return redis.call('incr', counter)
end
)lua";

}  // namespace dlock::detail
