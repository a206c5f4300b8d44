// tools/lease_locks.hpp: `dlock run --permits N` (a Semaphore permit) and `dlock run -s` (a
// ReadWriteLock's shared hold; -x, the default, is the plain exclusive lock) behind the
// CliLock interface `run` uses.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "dlock/client.hpp"
#include "dlock/lock_options.hpp"
#include "servers.hpp"

namespace dlock::cli {

// permits > 0: a permit of semaphore `name`; else a read (`shared`) or write hold of
// read/write lock `name`.
std::unique_ptr<CliLock> make_lease_lock(Client& client, const std::string& name,
                                         std::size_t permits, bool shared,
                                         const LockOptions& options);

}  // namespace dlock::cli
