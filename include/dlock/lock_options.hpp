// dlock/lock_options.hpp: how a Lock behaves. Plain struct; every field has a documented default.
//
// One duration vocabulary in the whole public API: dlock::Seconds (options.hpp), a
// std::chrono::duration<double>, so `10s`, `1500ms` and the seed's float seconds
// (`dlock::Seconds(1.5)`) all fit, here as in ConnectionOptions, ClusterOptions, command
// timeouts and the sync facade. Durations are validated when the object that takes them is
// built: negative, NaN or infinite values throw std::invalid_argument naming the field.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "dlock/observer.hpp"
#include "dlock/options.hpp"

namespace dlock {

// Told when WAIT confirmed a write on too few replicas (Cluster, Sentinel, or a Redis with
// confirm_on_replicas): an acquisition (rolled back), an extension or a release (see
// ReplicatedWrite in observer.hpp).
struct ReplicationShortfall {
    std::string lock_name{};
    std::size_t needed = 0;   // replication_factor()
    long long confirmed = 0;  // what WAIT reported; -1: WAIT itself failed (a release's only)
    ReplicatedWrite write = ReplicatedWrite::acquisition;
};

// How one acquire() call waits, instead of LockOptions::blocking and blocking_timeout:
//   co_await lock.acquire({.blocking = false});             // one attempt
//   co_await lock.acquire({.blocking_timeout = 2s});        // wait at most 2 s
//   co_await lock.acquire(dlock::WaitPolicy{});             // wait without limit
struct WaitPolicy {
    bool blocking = true;
    std::optional<Seconds> blocking_timeout{};  // None: no limit
};

// Every member has an initializer (`{}` at least) so that designated initializers such as
// `{.timeout = 10s}` compile without -Wmissing-field-initializers (-Wextra) in users' code.
struct LockOptions {
    // Maximum life of the lock (PX). None: the lock stays until released.
    std::optional<Seconds> timeout{};
    // Blocking acquire: time between attempts. With wake_on_release it is only the fallback
    // poll (a holder that crashed and let the key expire; a notification lost on reconnect).
    Seconds sleep{0.1};
    // false: acquire() makes exactly one attempt.
    bool blocking = true;
    // Blocking acquire gives up (returns false) after this long. None: wait forever.
    std::optional<Seconds> blocking_timeout{};

    // Wake blocked acquirers when the holder releases (pub/sub), instead of polling only.
    bool wake_on_release = true;
    // Hand out a fencing token (strictly increasing per name) with each acquisition: fence().
    bool fencing = false;
    // Record who holds the lock (host, pid, holder_label, since) next to its key, written with
    // the acquisition and expiring with it, for dlock::inspect() and `dlock status`. Off by
    // default: it makes the uncontended acquisition run a script instead of a plain SET NX.
    // (The `dlock` command turns it on.) The record is public to whoever can read the keys.
    bool record_holder = false;
    // Free text stored in the holder record (a job id, a URL); empty by default.
    std::string holder_label{};
    // Keep extending the lock to its full timeout while held (needs a timeout); a renewal
    // never shortens the TTL, so an extend() beyond the timeout is kept (see Lock::extend). The
    // period is renew_interval, default timeout/3; it must be less than timeout
    // (std::invalid_argument otherwise: the lock would expire before its first renewal). When a
    // renewal finds the lock gone, or cannot reach the server before the lock would expire, on_lost
    // runs and lost() turns true.
    bool auto_renew = false;
    std::optional<Seconds> renew_interval{};
    std::function<void()> on_lost{};

    // Bound on each server call the lock makes (SET, scripts, WAIT).
    Seconds command_timeout{5.0};
    // WAIT timeout (Cluster, Sentinel, a Redis with confirm_on_replicas): for an acquisition
    // when there is no blocking_timeout (otherwise what is left of it, capped by this), and
    // for every extension and release; never 0, which would make WAIT block forever.
    Seconds replication_timeout{0.1};
    // Called when WAIT confirmed fewer replicas than replication_factor() (Cluster, Sentinel,
    // a Redis with confirm_on_replicas), for an acquisition, an extension or a release.
    std::function<void(const ReplicationShortfall&)> on_replication_shortfall{};

    // Receives this lock's events (dlock/observer.hpp). None: the client's observer
    // (Client::set_observer) as it was when the Lock was built, if any.
    std::shared_ptr<Observer> observer{};
};

}  // namespace dlock
