// tools/servers.hpp: what the connection options point at — one server, a Redis Cluster, or
// (several --url) a Redlock group of independent primaries — and one lock on it, behind one
// interface so that every subcommand works the same on all three.
#pragma once

#include <asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client_args.hpp"
#include "dlock/inspect.hpp"
#include "dlock/lock.hpp"
#include "dlock/lock_concept.hpp"
#include "dlock/lock_options.hpp"

namespace dlock::cli {

class CliLock {
  public:
    virtual ~CliLock() = default;
    virtual asio::awaitable<bool> acquire(WaitPolicy wait) = 0;
    virtual asio::awaitable<void> release() = 0;
    virtual asio::awaitable<bool> extend(Seconds time, ExtendMode mode) = 0;
    virtual void adopt(std::string token) = 0;
    virtual std::optional<std::string> token() const = 0;
    virtual std::optional<std::int64_t> fence() const = 0;  // empty on Redlock
    virtual asio::awaitable<LockTtl> ttl() = 0;
    // Processes queued for the lock; empty when not knowable (Redlock waiters do not queue).
    virtual asio::awaitable<std::optional<std::size_t>> waiting() = 0;
    // The token the lock is held with now (whoever holds it), empty when free.
    virtual asio::awaitable<std::optional<std::string>> holder_token() = 0;
};

class Servers {
  public:
    virtual ~Servers() = default;
    // A lock named `name`; options.auto_renew and options.on_lost are honoured on Redlock too.
    virtual std::unique_ptr<CliLock> make_lock(const std::string& name,
                                               const LockOptions& options) = 0;
    virtual bool is_redlock() const = 0;
    // What the servers know of lock `name` (dlock::inspect; on Redlock only held and TTL, as a
    // quorum of nodes sees them: no holder record, fence or queue). Usable while a lock of
    // this name is being acquired on the same servers.
    virtual asio::awaitable<LockInspection> inspect(const std::string& name) = 0;
    // The names of the locks with a holder record, fence counter or wait queue on any server
    // (every primary of a cluster, every Redlock node), matching the glob `pattern`; sorted.
    virtual asio::awaitable<std::vector<std::string>> list(const std::string& pattern) = 0;
    // The one client (server or cluster) behind make_lock; none for Redlock.
    virtual Client* client() { return nullptr; }
};

// Runs `body` on a fresh io_context with the servers `args` describe, and returns what it
// returns. Exceptions thrown by `body` (or by resolve_servers) propagate.
int run_with_servers(const ConnectionArgs& args,
                     const std::function<asio::awaitable<int>(Servers&)>& body);

// acquire() that rides out connection failures (ConnectionError, TimeoutError) with back-off
// until the wait's deadline (forever without one); a non-blocking attempt is not retried.
// Says once on stderr that it is retrying. Rethrows the last failure when the wait is over.
asio::awaitable<bool> acquire_riding_outages(CliLock& lock, WaitPolicy wait);

// Call after an acquire that gave up, before the command returns: its lock left the wait queue
// in the background (a call spawned as the wait ended), which run_with_servers would otherwise
// cut off when it stops the loop, leaving the entry counted ("1 ahead of you") until the queue
// expires. Yields once, so that call writes its command first, then reads `name` once on the
// same connection: its reply comes after the queue entry is gone. Errors are ignored.
asio::awaitable<void> let_the_queue_entry_go(Servers& servers, const std::string& name);

// release() retried on connection failures for at most `bound`; then rethrows.
asio::awaitable<void> release_with_retries(CliLock& lock, Seconds bound);

}  // namespace dlock::cli
