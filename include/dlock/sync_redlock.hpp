// dlock/sync_redlock.hpp: Redlock for threads.
//
//   dlock::sync::Redlock group(urls);                  // 3 or more independent primaries
//   dlock::sync::RedlockLock lock(group, "reports", {.timeout = 10s});
//   {
//       std::unique_lock guard(lock);                  // Lockable, as sync::Lock
//   }
//
// The same facade as sync::Lock (sync.hpp), over dlock::RedlockLock: read redlock.hpp for what
// Redlock guarantees and what it does not.
#pragma once

#include <string>
#include <vector>

#include "dlock/redlock.hpp"
#include "dlock/sync.hpp"

namespace dlock::sync {

class Redlock : public BasicClient<dlock::Redlock, ClientBase> {
  public:
    // Same arguments and validation as dlock::Redlock.
    explicit Redlock(const std::vector<std::string>& urls) : BasicClient(urls) {}
    explicit Redlock(std::vector<ConnectionOptions> nodes) : BasicClient(std::move(nodes)) {}
};

using RedlockLock = BasicLock<dlock::RedlockLock>;
using RedlockLockGuard = BasicLockGuard<RedlockLock>;

}  // namespace dlock::sync
