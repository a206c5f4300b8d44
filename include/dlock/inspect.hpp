// dlock/inspect.hpp: what the server knows about a lock, whoever holds it.
//
// For operators and dashboards ("who holds this lock, since when, how many wait?") and for the
// `dlock status` command. One atomic, read-only server-side script reads the lock's key, its
// holder record (LockOptions::record_holder), its fence counter and its wait queue, and the
// keys of a semaphore or read/write lock of that name; nothing is written. It works on every
// dlock::Client (one server, a Redis Cluster: all those keys share the lock's slot) and on locks
// taken by other clients: a lock taken by redis-py or coredis (a plain `SET name token PX ms`)
// shows as held, with no holder record.
//
//   const dlock::LockInspection seen = co_await dlock::inspect(redis, "reports");
//   if (seen.held && seen.holder) std::cout << seen.holder->host << ':' << seen.holder->pid;
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/client.hpp"
#include "dlock/options.hpp"

namespace dlock {

namespace sync {
class Client;
}

// Who took the lock, as its acquisition recorded it.
struct HolderRecord {
    std::string host{};    // gethostname() of the holder's machine
    std::int64_t pid = 0;  // the holder's process id on that host
    std::string label{};   // LockOptions::holder_label (`dlock --label`), may be empty
    // When it was taken, by the server's clock (so all holders and inspectors agree).
    std::chrono::system_clock::time_point since{};
};

// A name in use as a dlock::Semaphore (sync::Semaphore, `dlock run --permits N`). Permits
// hold no holder record: each is known by its lease only.
struct SemaphoreInspection {
    // The permit count its holders were admitted under; empty when no count is stored.
    std::optional<std::size_t> permits{};
    std::vector<Seconds> leases{};  // the remaining life of each permit held, soonest first
    std::size_t waiting = 0;        // processes queued for a permit
};

// A name in use as a dlock::ReadWriteLock (`dlock run -s`/`-x`). Its writer holds the lock's
// own key, so with LockInspection::held_as == lock, holder, ttl and last_fence describe the
// writer.
struct ReadWriteInspection {
    std::vector<Seconds> readers{};   // the remaining life of each reader's lease, soonest first
    std::size_t readers_waiting = 0;  // processes queued to read
    std::size_t writers_waiting = 0;  // processes queued to write
};

// Which kind holds a name. Key NAME says it (docs/semantics.md, "One name, one kind"): a token
// is a lock of some client, a marker the permits or readers.
enum class HeldAs {
    nobody,
    lock,       // a dlock::Lock, a read/write lock's writer, or another client's lock (a token)
    semaphore,  // permits of a dlock::Semaphore
    readers,    // readers of a dlock::ReadWriteLock
};

struct LockInspection {
    bool held = false;  // key NAME exists: someone holds the name, of the kind held_as says
    HeldAs held_as = HeldAs::nobody;
    // Key NAME's remaining life (for permits or readers: until their last lease ends); empty
    // when free or without expiry.
    std::optional<Seconds> ttl{};
    std::optional<HolderRecord> holder{};  // empty: not held as a lock, or without a record
    // How long the current holder has held it (server clock), when there is a record.
    std::optional<Seconds> held_for{};
    // The last fencing token handed out for this name (LockOptions::fencing); empty when none
    // ever was. The counter never expires, so this stays after the lock is released.
    std::optional<std::int64_t> last_fence{};
    // Processes queued waiting for the lock (see Lock::waiting(): one per process, only waiters
    // woken on release; a process that died while waiting counts until the queue expires).
    std::size_t waiting = 0;
    // Present when the name is in use as a semaphore (permits held, a stored count, waiters).
    std::optional<SemaphoreInspection> semaphore{};
    // Present when the name is in use as a read/write lock (readers, or readers or writers
    // queued); a writer alone looks like a plain lock.
    std::optional<ReadWriteInspection> read_write{};
};

// Looks at lock `name` on `client`. Throws std::invalid_argument for an empty name or a
// non-positive/non-finite timeout; ConnectionError, TimeoutError (after `timeout`), ServerError.
asio::awaitable<LockInspection> inspect(Client& client, std::string name,
                                        Seconds timeout = Seconds(5.0));

// The lock name that `key` belongs to when it is one of the keys dlock keeps next to a lock (a
// holder record, a fence counter, a wait queue; all match the SCAN pattern "dlock:*"), else
// empty. A tool can list the locks dlock manages by scanning for these keys; locks that have
// none of them (no fencing, no record, nobody waiting) cannot be told from other keys.
std::optional<std::string> lock_name_of_key(std::string_view key);

// Takes name `name` from the permits of a semaphore or the readers of a read/write lock that
// hold it (LockInspection::held_as semaphore or readers; `dlock break`): ends all their leases
// at once, deletes key NAME's marker, and wakes the waiters that may go in now. Their holders
// find out at their next renewal or release (lost()). Returns how many leases were ended, or
// empty when key NAME holds no such marker (free, or a token: a Lock's, a writer's; nothing is
// changed then). Throws as inspect().
asio::awaitable<std::optional<std::size_t>> break_leases(Client& client, std::string name,
                                                         Seconds timeout = Seconds(5.0));

namespace sync {
// The same, blocking, on a sync client (sync::Redis, sync::RedisCluster). Must not be called
// from that client's I/O thread (std::logic_error, as every sync call).
LockInspection inspect(Client& client, std::string name, Seconds timeout = Seconds(5.0));
std::optional<std::size_t> break_leases(Client& client, std::string name,
                                        Seconds timeout = Seconds(5.0));
}  // namespace sync

}  // namespace dlock
