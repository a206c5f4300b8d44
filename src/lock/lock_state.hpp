// lock_state.hpp (private): the state behind a dlock::Lock, and the steps its operations are
// made of. lock.cpp holds the public operations; acquire.cpp one acquisition attempt
// (SET or script, WAIT, roll-back, wait queue); renewal.cpp auto-renewal; hold.hpp the hold.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "client/backend.hpp"
#include "dlock/client.hpp"
#include "dlock/errors.hpp"
#include "dlock/lock_options.hpp"
#include "lock/busy.hpp"
#include "lock/eval.hpp"
#include "lock/hold.hpp"
#include "lock/lock_events.hpp"
#include "lock/scripts.hpp"
#include "net/notification.hpp"
#include "protocol/durations.hpp"

namespace dlock::detail {

using std::chrono::milliseconds;

struct LockState;
// failover_check.cpp: on a backend that follows failovers, starts a watch of the current hold:
// at the next failover the key is read on the new primary at once, and a hold whose token is
// not there is reported lost (mark_lost). Ends with the hold.
void watch_failovers(const std::shared_ptr<LockState>& state);

// What a lock is: fixed once the Lock is built (validated options, derived key names).
struct LockSpec {
    // Validates `options` (std::invalid_argument naming the field) and derives the keys.
    LockSpec(std::shared_ptr<Backend> backend, std::string name, LockOptions options);

    // Shared with the client that made it: a Lock that outlives its client (a sync::Lock
    // after its sync::Redis, say) still has a live backend, which reconnects on demand.
    std::shared_ptr<Backend> client;
    std::string name;
    LockOptions options;
    std::optional<milliseconds> timeout;
    milliseconds sleep{100};
    milliseconds command_timeout{5000};
    milliseconds replication_timeout{100};
    milliseconds renew_interval{0};
    milliseconds queue_ttl{60000};  // a queue whose waiters all died expires by itself
    // The companion keys (fence counter, wait queue: protocol/keys.hpp) are not kept here:
    // each script call derives them, and kept they were ~190 bytes of every held lock.

    Deadline command_deadline() const { return Clock::now() + command_timeout; }
    std::string_view publish() const { return client->notify_command(); }
};

// The state behind a dlock::Lock: its spec (const), its hold (changed only by Hold's
// transitions), and the bookkeeping of the operation in progress.
struct LockState {
    LockState(std::shared_ptr<Backend> backend, std::string name, LockOptions options)
        : spec(std::move(backend), std::move(name), std::move(options)),
          events(spec.options.observer ? spec.options.observer : spec.client->observer, spec.name),
          hold(events) {}

    virtual ~LockState() = default;
    LockState(const LockState&) = delete;
    LockState& operator=(const LockState&) = delete;

    // The kind's requests, for the steps every kind shares (try_acquire, roll_back,
    // renew_loop): a Lock's own here (acquire.cpp), a lease kind's in LeaseState (lease.hpp).
    //
    // One acquisition attempt's request, sent on the connection it reports in `used` (as
    // eval()): its reply is the fence (0 without fencing) or a status when taken, nil when
    // held (having queued `ticket`'s inbox), or a negative number that refused() explains.
    // `blocking`: the attempt belongs to an acquire() that will wait.
    virtual asio::awaitable<Reply> send_acquire(const std::string& token, const QueueTicket* ticket,
                                                bool blocking, std::shared_ptr<Connection>* used);
    // A negative reply to send_acquire(): throws what it means.
    virtual void refused(long long reply) const;
    // Token-checked release (1, or 0 when not held); wakes the first waiter with `notify`.
    virtual ScriptCall release_script(const std::string& token, std::string_view notify) const;
    virtual ScriptCall extend_script(const std::string& token, milliseconds ms,
                                     TtlChange change) const;
    // The key whose shard's replicas must confirm an acquisition (WAIT).
    virtual const std::string& replica_key() const { return spec.name; }

    // The rest of what acquire() (acquire.cpp) asks of the kind.
    // "dlock::Lock": for messages.
    virtual const char* type_name() const { return "dlock::Lock"; }
    // "lock 'jobs'": how messages name this object.
    virtual std::string described() const { return "lock '" + spec.name + "'"; }
    // The name its waiters wait under (wait_room.hpp): a Lock's own name.
    virtual std::string wait_name() const { return spec.name; }
    // Whether only the process's oldest local waiter on the name polls (WaitRoom::sleep): true
    // for a Lock (one holder at a time); a lease kind admits several, so each of its waiters
    // polls.
    virtual bool oldest_waiter_polls() const { return true; }
    // acquire() on an object that still has a token: ends that hold if the server no longer
    // has it (its wait_lost() callers hear acquire_found_gone) and returns true; false when it
    // is still held (a usage error). A Lock asks the server; a lease kind trusts lost().
    virtual asio::awaitable<bool> end_stale_hold();
    // Whether a release may hand this waiter the lock directly (its token set as the key's
    // value, docs/semantics.md §7.12-7.13): a Lock on one server, with no replicas to confirm
    // and no holder record. Otherwise it is handed a claim.
    virtual bool takes_direct_handoff() const;
    // A hold began (renewal is started next): a Lock watches failovers (failover_check.cpp).
    virtual void hold_began(const std::shared_ptr<LockState>& self) { watch_failovers(self); }
    // A blocking acquire() that ends without the lock withdraws, in the background, what its
    // attempts left on the server (a waiting writer's claim). A Lock's attempts leave nothing.
    virtual void withdraw_later(const std::shared_ptr<LockState>& /*self*/,
                                const std::string& /*token*/) {}

    const LockSpec spec;
    LockEvents events;  // the observer's events (lock_events.hpp)
    Hold hold;
    bool busy = false;
    std::uint64_t shortfalls = 0;
    Clock::time_point attempt_sent{};  // when the last acquisition attempt was sent
    // When the command that last set the key's TTL to `timeout` was sent (the acquisition or a
    // renewal): the key lives at least until then + timeout. Where a renewal resumes from.
    Clock::time_point renewed_sent{};
    // The Lock object is gone: an acquire() still running must not take the lock (nobody could
    // release it, and auto-renewal would keep it forever). `waiting`: what it sleeps on, which
    // ~Lock notifies to end the sleep at once.
    bool abandoned = false;
    Notification* waiting = nullptr;
};

// The holder record's fields for an acquisition by this process (this host, this pid, the
// options' label), or nothing when options.record_holder is off. The views point into storage
// owned by `spec` and by this process, valid while `spec` lives.
std::optional<HolderFields> holder_fields(const LockSpec& spec);

// Marks the object busy for one operation (see the concurrency contract in lock.hpp).
class LockBusy : public BusyGuard {
  public:
    explicit LockBusy(LockState& state)
        : BusyGuard(state.busy, state.type_name(), state.spec.name) {}
};

// A renewal found the lock lost: lost(), wait_lost(), on_lost, the observer.
void mark_lost(LockState& state, LostReason reason);

// wait_lost() of every kind: true when the current hold was lost, false when it was released
// or nothing is held.
asio::awaitable<bool> wait_lost(std::shared_ptr<LockState> state);

// The lock object goes away (no I/O): a waiting acquire() gives up without the lock, renewal
// stops, wait_lost() callers learn the hold's state as it is.
void abandon(LockState& state);

// acquire.cpp: acquire() of every kind: attempts (try_acquire) until taken, or the wait is over
// (false), waiting by wake-ups or polling (wait_room.hpp); then auto-renewal. A blocking one
// polls through LOADING until its deadline (docs/semantics.md §7.9). The observer hears one
// Acquired or NotAcquired per call.
asio::awaitable<bool> acquire(std::shared_ptr<LockState> state, WaitPolicy wait);

// acquire.cpp: one attempt of any kind: send_acquire(), then confirm_acquisition().
// `acquired` with the fence when fencing.
struct Attempt {
    bool acquired = false;
    std::optional<std::int64_t> fence;
};
asio::awaitable<Attempt> try_acquire(LockState& state, const std::string& token,
                                     std::optional<Deadline> deadline, const QueueTicket* ticket,
                                     bool blocking);

// Token-checked release of an acquisition that must not count (best effort: the key expires
// by its TTL). EVAL straight away, never EVALSHA first (why: acquire.cpp).
asio::awaitable<void> roll_back(LockState& state, const std::string& token);

// How many replicas a write to the lock must reach before it counts: ceil(R/2) of the R
// replicas of replica_key()'s shard, 0 without replicas or with replication_factor off.
std::size_t replicas_to_confirm(const LockState& state);

// WAIT on `used` until `needed` replicas have its writes, bounded by replication_timeout and
// `deadline`. Returns the replicas confirmed, or nothing when none are needed (needed == 0, or
// no connection reported). Throws when WAIT fails.
asio::awaitable<std::optional<long long>> wait_for_replicas(const LockState& state,
                                                            const std::shared_ptr<Connection>& used,
                                                            std::size_t needed,
                                                            std::optional<Deadline> deadline);

// The replication check of an acquisition written on `used`: WAIT for ceil(R/2) replicas of
// replica_key()'s shard. On a shortfall the acquisition is rolled back by token, counted
// (shortfalls), reported (observer, on_replication_shortfall) and false returned: the caller
// tries again as if it had been held. When WAIT fails: rolled back, and the failure rethrown.
asio::awaitable<bool> confirm_acquisition(LockState& state, const std::string& token,
                                          const std::shared_ptr<Connection>& used,
                                          std::optional<Deadline> deadline);

// Counts a shortfall (shortfalls) and reports it (observer, on_replication_shortfall).
void report_shortfall(LockState& state, const ReplicationShortfall& shortfall);

// The replication check of a later write (`write`: an extension or a release) made on `used`:
// WAIT for ceil(R/2) replicas of replica_key()'s shard, bounded by replication_timeout.
// Returns the shortfall, already counted and reported, or nothing when confirmed (or none is
// needed). A failed WAIT is rethrown for an extension (in doubt, like any failed call); for a
// release it is a shortfall with confirmed -1 (the release stands). docs/semantics.md §4.3.
asio::awaitable<std::optional<ReplicationShortfall>> confirm_write(
    LockState& state, const std::shared_ptr<Connection>& used, ReplicatedWrite write);
// Throws the ReplicationShortfallError of an extension of `what` ("lock 'x'") that fell short.
[[noreturn]] void throw_unconfirmed_extension(const std::string& what,
                                              const ReplicationShortfall& shortfall);

// renewal.cpp (every kind): extends the lock to its full timeout every renew_interval while
// hold.generation() stays `generation`. `sent`: when the acquisition was sent (the key's expiry
// counts from its execution, which is no earlier).
asio::awaitable<void> renew_loop(std::shared_ptr<LockState> state, std::uint64_t generation,
                                 std::string token, Clock::time_point sent);
// Starts renewal of the current hold (options.auto_renew) from `renewed_sent`.
void start_renewal(const std::shared_ptr<LockState>& state);

}  // namespace dlock::detail
