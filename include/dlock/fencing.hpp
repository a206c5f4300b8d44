// dlock/fencing.hpp: the protected resource's side of fencing tokens, for a resource that
// lives in Redis.
//
// A lock alone cannot stop a holder that was paused (GC, swap, SIGSTOP) past its timeout from
// writing after another holder took over. With LockOptions::fencing, every acquisition gets a
// number larger than all before for that name (Lock::fence()). Pass it along with each write;
// the resource remembers the largest number it has seen and refuses writes that carry a
// smaller one. The lock cannot do this by itself: the resource must check (here: a server-side
// script next to the data).
//
//   dlock::Lock lock(redis, "invoices", {.timeout = 10s, .fencing = true});
//   if (co_await lock.acquire()) {
//       if (!co_await dlock::fenced_write(redis, "invoices:latest", *lock.fence(), data)) {
//           // a newer holder has written meanwhile: this holder lost the lock, stop
//       }
//   }
#pragma once

#include <asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "dlock/client.hpp"
#include "dlock/lock_options.hpp"

namespace dlock {

// Sets `resource_key` to `value` only if `fence` is >= the largest fence accepted for that key
// so far (equal is accepted: one holder may write several times). Returns true when written,
// false when refused as stale. The largest fence is kept in last_fence_key(resource_key),
// which has the same cluster slot as `resource_key` (so this works on a RedisCluster too) and
// never expires. Both keys are plain strings with no TTL.
//
// The views must stay valid until the call completes (always true for `co_await
// fenced_write(...)`). Throws std::invalid_argument for an empty resource_key, a negative
// fence or a non-positive/non-finite timeout; ConnectionError, TimeoutError (after `timeout`),
// ServerError (e.g. WRONGTYPE when the key is not a string).
asio::awaitable<bool> fenced_write(Client& resource, std::string_view resource_key,
                                   std::int64_t fence, std::string_view value,
                                   Seconds timeout = Seconds(5.0));

// Where fenced_write() keeps the largest accepted fence of `resource_key`.
std::string last_fence_key(std::string_view resource_key);

}  // namespace dlock
