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
#include "protocol/durations.hpp"

namespace dlock::detail {

using std::chrono::milliseconds;

// What a lock is: fixed once the Lock is built (validated options, derived key names).
struct LockSpec {
    // Validates `options` (std::invalid_argument naming the field) and derives the keys.
    LockSpec(Backend& backend, std::string name, LockOptions options);

    Backend* client;
    std::string name;
    LockOptions options;
    std::optional<milliseconds> timeout;
    milliseconds sleep{100};
    milliseconds command_timeout{5000};
    milliseconds replication_timeout{100};
    milliseconds renew_interval{0};
    std::string fence_key;          // fencing counter, same slot as the key
    std::string queue_key;          // wait queue of processes (see subscriber.hpp), same slot
    milliseconds queue_ttl{60000};  // a queue whose waiters all died expires by itself

    Deadline command_deadline() const { return Clock::now() + command_timeout; }
    std::string_view publish() const { return client->notify_command(); }
};

// The state behind a dlock::Lock: its spec (const), its hold (changed only by Hold's
// transitions), and the bookkeeping of the operation in progress.
struct LockState {
    LockState(Backend& backend, std::string name, LockOptions options)
        : spec(backend, std::move(name), std::move(options)),
          events(spec.options.observer ? spec.options.observer : backend.observer, spec.name),
          hold(backend.get_executor(), events) {}

    const LockSpec spec;
    LockEvents events;  // the observer's events (lock_events.hpp)
    Hold hold;
    bool busy = false;
    std::uint64_t shortfalls = 0;
    Clock::time_point attempt_sent{};  // when the last acquisition attempt was sent
    // The Lock object is gone: an acquire() still running must not take the lock (nobody could
    // release it, and auto-renewal would keep it forever). `waiting`: the timer it sleeps on.
    bool abandoned = false;
    asio::steady_timer* waiting = nullptr;
};

// Marks the object busy for one operation (see the concurrency contract in lock.hpp).
class LockBusy : public BusyGuard {
  public:
    explicit LockBusy(LockState& state) : BusyGuard(state.busy, "dlock::Lock", state.spec.name) {}
};

// A renewal found the lock lost: lost(), wait_lost(), on_lost, the observer.
void mark_lost(LockState& state, LostReason reason);

// acquire.cpp: one attempt. `acquired` with the fence when fencing.
struct Attempt {
    bool acquired = false;
    std::optional<std::int64_t> fence;
};
asio::awaitable<Attempt> try_acquire(LockState& state, const std::string& token,
                                     std::optional<Deadline> deadline, const QueueTicket* ticket);
void leave_queue_later(const std::shared_ptr<LockState>& state, std::string inbox,
                       bool unused_wakeup);

// renewal.cpp: extends the lock to its full timeout every renew_interval while
// hold.generation() stays `generation`. `sent`: when the acquisition was sent (the key's expiry
// counts from its execution, which is no earlier).
asio::awaitable<void> renew_loop(std::shared_ptr<LockState> state, std::uint64_t generation,
                                 std::string token, Clock::time_point sent);

}  // namespace dlock::detail
