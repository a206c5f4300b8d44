// lock_state.hpp (private): the state behind a dlock::Lock, and the steps its operations are
// made of. lock.cpp holds the public operations; lock_acquire.cpp one acquisition attempt
// (SET or script, WAIT, roll-back, wait queue); lock_renewal.cpp auto-renewal.
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
#include "lock/scripts.hpp"
#include "protocol/durations.hpp"

namespace dlock::detail {

using std::chrono::milliseconds;

struct LockState {
    Backend* client = nullptr;
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

    std::optional<std::string> token;
    std::optional<std::int64_t> fence;
    bool busy = false;
    bool lost = false;
    bool release_in_doubt = false;  // a release() timed out: it may have run after all
    std::uint64_t shortfalls = 0;
    Clock::time_point attempt_sent{};   // when the last acquisition attempt was sent
    std::uint64_t hold_generation = 0;  // bumped on acquire/release/destroy: stops renewals
    // The Lock object is gone: an acquire() still running must not take the lock (nobody could
    // release it, and auto-renewal would keep it forever). `waiting`: the timer it sleeps on.
    bool abandoned = false;
    asio::steady_timer* waiting = nullptr;
    std::shared_ptr<asio::steady_timer> renew_timer;
    // wait_lost() callers of the current hold, each answered with its own hold's outcome.
    struct LostWaiter {
        explicit LostWaiter(const asio::any_io_executor& executor)
            : timer(executor, Clock::time_point::max()) {}
        asio::steady_timer timer;
        std::optional<bool> lost;
    };
    std::vector<std::shared_ptr<LostWaiter>> lost_waiters;

    Deadline command_deadline() const { return Clock::now() + command_timeout; }
    std::string_view publish() const { return client->notify_command(); }
};

// Marks the object busy for one operation (see the concurrency contract in lock.hpp).
class LockBusy : public BusyGuard {
  public:
    explicit LockBusy(LockState& state) : BusyGuard(state.busy, "dlock::Lock", state.name) {}
};

// Hold bookkeeping: answer wait_lost() callers (lost or not); stop a renewal loop (bumps
// hold_generation); report a lost lock (lost(), wait_lost(), on_lost).
void wake_lost_waiters(LockState& state, bool lost);
void stop_renewal(LockState& state);
void mark_lost(LockState& state);

// lock_acquire.cpp
asio::awaitable<bool> try_acquire(LockState& state, const std::string& token,
                                  std::optional<Deadline> deadline, const QueueTicket* ticket);
void leave_queue_later(const std::shared_ptr<LockState>& state, std::string inbox,
                       bool unused_wakeup);

// lock_renewal.cpp: extends the lock to its full timeout every renew_interval while
// hold_generation stays `generation`. `sent`: when the acquisition was sent (the key's expiry
// counts from its execution, which is no earlier).
asio::awaitable<void> renew_loop(std::shared_ptr<LockState> state, std::uint64_t generation,
                                 std::string token, Clock::time_point sent);

}  // namespace dlock::detail
