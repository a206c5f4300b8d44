// dlock/redlock.hpp: Redlock, a lock held by a majority of N independent Redis primaries.
//
//   dlock::Redlock group(io.get_executor(), urls);   // 3 or more independent primaries
//   dlock::RedlockLock lock(group, "reports", {.timeout = 10s});
//   if (co_await lock.acquire()) { ...; co_await lock.release(); }
//
// How it works: acquire() sends SET name token NX PX ttl to every node at once, each call
// bounded by node_timeout. The lock is held when a quorum (N/2 + 1) of nodes set the key and
// time is left: validity = ttl - elapsed - (ttl * clock_drift_factor + 2 ms) > 0. Otherwise
// the attempt is rolled back on every node (token-checked, so other holders' keys are never
// touched) and, when blocking, retried after a jittered delay (so competing clients do not
// retry in lock step). Release and extension are token-checked scripts, also sent to all nodes;
// extension needs a quorum too.
//
// What it guarantees: while validity() has not run out (measured on this host's steady clock,
// from the start of the acquisition), no other Redlock client on the same name holds a quorum,
// provided that the nodes do not lose keys (no restart without persistence: a node that comes
// back empty must stay down for one TTL) and that clocks run at about the same rate
// (clock_drift_factor bounds the difference).
//
// What it does not guarantee (Kleppmann, "How to do distributed locking", 2016): a process
// pause (GC, swap, SIGSTOP), a delayed network packet or a jump of a server's clock can let the
// key expire while the holder still believes it holds the lock; it then acts on the resource
// at the same time as the next holder. Redlock cannot detect this, and this class hands out no
// fencing token. When the protected resource must never see two holders, use dlock::Lock with
// `fencing = true` on a single server or cluster, and have the resource reject stale fences.
// Use Redlock for efficiency (avoid doing work twice), not for correctness.
//
// Concurrency contract (as dlock::Lock): one RedlockLock is used by one coroutine at a time; a
// second operation started while one is in progress throws std::logic_error. Any number of
// RedlockLocks may share one Redlock group. All calls are made on the group's executor
// (single-threaded io_context or strand). The group and the lock must outlive any operation in
// progress. Destroying a RedlockLock does not release it (no I/O in destructors): the keys
// expire by their TTL.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "dlock/errors.hpp"
#include "dlock/lock_concept.hpp"
#include "dlock/lock_options.hpp"
#include "dlock/observer.hpp"
#include "dlock/options.hpp"
#include "dlock/redis.hpp"

namespace dlock {

namespace detail {
class LockEvents;
}

// The set of independent primaries a RedlockLock runs on. Owns one dlock::Redis per node.
class Redlock {
  public:
    // Throws std::invalid_argument ("urls: ...") with fewer than 3 nodes, or on a bad URL.
    // An odd number of nodes is recommended: an even one tolerates no more failures than the
    // odd number below it.
    Redlock(asio::any_io_executor executor, const std::vector<std::string>& urls);
    Redlock(asio::any_io_executor executor, std::vector<ConnectionOptions> nodes);
    ~Redlock();
    Redlock(const Redlock&) = delete;
    Redlock& operator=(const Redlock&) = delete;

    std::size_t size() const noexcept { return nodes_.size(); }
    // Nodes that must agree: size() / 2 + 1.
    std::size_t quorum() const noexcept { return nodes_.size() / 2 + 1; }
    Redis& node(std::size_t index) { return *nodes_.at(index); }
    asio::any_io_executor get_executor() const { return executor_; }

    // What one node answered to a fanned-out call: a reply (possibly an error reply), or the
    // exception its call ended with (ConnectionError, TimeoutError...).
    struct NodeResult {
        std::optional<Reply> reply{};
        std::exception_ptr failure{};
    };
    using NodeCall = std::function<asio::awaitable<Reply>(Redis& node)>;
    // Runs `call` on every node concurrently and returns when all have finished, one result
    // per node in node order. Never throws for a node's failure: it is in the result. Each
    // call bounds itself (the caller passes its deadline).
    asio::awaitable<std::vector<NodeResult>> on_all_nodes(NodeCall call);

  private:
    asio::any_io_executor executor_;
    std::vector<std::unique_ptr<Redis>> nodes_;
};

// Plain struct; every field has a documented default. Durations are validated when the lock is
// built: negative, NaN or infinite values throw std::invalid_argument naming the field.
struct RedlockOptions {
    // Life of the keys (PX). Required: a Redlock without expiry could never recover from a
    // crashed holder. At least 1 ms and more than node_timeout.
    std::optional<Seconds> timeout{};
    // false: acquire() makes exactly one attempt.
    bool blocking = true;
    // Blocking acquire gives up (returns false) after this long. None: wait forever.
    std::optional<Seconds> blocking_timeout{};
    // Mean delay between attempts; each delay is drawn uniformly from [0.5x, 1.5x].
    Seconds retry_delay{0.2};
    // Bound on each node's answer. Keep it small against timeout: a slow node must not eat the
    // validity of the lock. A node that does not answer in time counts as a refusal.
    Seconds node_timeout{0.05};
    // Clock rate difference allowed between this host and the nodes, as a fraction of the TTL.
    double clock_drift_factor = 0.01;
    // Receives this lock's events (dlock/observer.hpp), as a Lock's observer does: acquired,
    // not acquired (held; unavailable when fewer than a quorum of nodes answered), released,
    // extended, lost (release found the key gone on a majority). None: no events.
    std::shared_ptr<Observer> observer{};
};

class RedlockLock {
  public:
    using Options = RedlockOptions;

    // Throws std::invalid_argument: empty name, no timeout, bad durations (naming the field),
    // timeout under 1 ms or not above node_timeout, clock_drift_factor outside [0, 1).
    RedlockLock(Redlock& group, std::string name, RedlockOptions options);
    ~RedlockLock();
    RedlockLock(const RedlockLock&) = delete;
    RedlockLock& operator=(const RedlockLock&) = delete;

    // Tries to take the lock on a quorum of nodes, as the options say (blocking or not, bounded
    // by blocking_timeout). Returns false when no quorum was reached and the wait is over.
    // Node failures (down, slow, error replies) count as refusals, they do not throw. Throws
    // LockError if this object already holds the lock.
    asio::awaitable<bool> acquire();
    // The same, waiting as `wait` says instead of the options' blocking/blocking_timeout.
    asio::awaitable<bool> acquire(WaitPolicy wait);

    // Releases the lock on all nodes. Throws LockReleaseError when fewer than a quorum of nodes
    // still held this object's token (all nodes are tried regardless). When every node failed
    // on the network, the token is kept and the first error (ConnectionError/TimeoutError)
    // propagates, so release() can be retried.
    asio::awaitable<void> release();

    // Adds `additional_time` to each node's remaining TTL (ExtendMode::replace: sets the TTL to
    // it) and recomputes validity(). Returns true. Throws LockExtensionError when fewer than a
    // quorum of nodes took the extension or no validity is left; std::invalid_argument for a
    // bad duration.
    asio::awaitable<bool> extend(Seconds additional_time, ExtendMode mode = ExtendMode::add);

    // Whether a quorum of nodes has a key of this name / this object's token (asks the nodes).
    // Throw the first node's error (ConnectionError/TimeoutError) when fewer than a quorum
    // answered.
    asio::awaitable<bool> locked();
    asio::awaitable<bool> owned();

    // Takes over a hold this object did not make: `token` is what another RedlockLock (or
    // `dlock acquire`, in another process) got for this name. No I/O: release() and extend()
    // then check the token on the nodes as for an own acquisition. validity() is zero until an
    // extend() measures it. Throws std::invalid_argument for an empty token, LockError when this
    // object holds the lock already.
    void adopt(std::string token);

    const std::string& name() const noexcept { return name_; }
    // The token while this object holds the lock (as far as it knows), else empty.
    const std::optional<std::string>& token() const noexcept { return token_; }
    // Time the lock was known valid for, as of the last acquisition or extension (zero when
    // not held). It counts down from validity_start(); it is not updated by itself.
    Seconds validity() const noexcept { return validity_; }
    std::chrono::steady_clock::time_point validity_start() const noexcept {
        return validity_start_;
    }
    const RedlockOptions& options() const noexcept { return options_; }

    // The scoped form: with_lock(*this, body) (dlock/lock_concept.hpp).
    template <class Body>
    auto with(Body body) -> std::invoke_result_t<Body&> {
        return with_lock(*this, std::move(body));
    }

  private:
    // One round: nothing when taken, else why not (held, or unavailable).
    asio::awaitable<std::optional<NotAcquiredReason>> try_once(const std::string& token);

    Redlock& group_;
    std::string name_;
    RedlockOptions options_;
    std::chrono::milliseconds ttl_{};
    std::chrono::milliseconds retry_delay_{};
    std::chrono::milliseconds node_timeout_{};
    std::optional<std::string> token_{};
    Seconds validity_{0};
    std::chrono::steady_clock::time_point validity_start_{};
    bool busy_ = false;
    std::unique_ptr<detail::LockEvents> events_;  // the observer's events (one emitter)
};

static_assert(AsyncLock<RedlockLock>);

}  // namespace dlock
