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

#include "dlock/client.hpp"
#include "dlock/errors.hpp"
#include "dlock/lock_options.hpp"
#include "lock/durations.hpp"
#include "lock/scripts.hpp"

namespace dlock::detail {

using std::chrono::milliseconds;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// Script arguments as named views: GCC 12 cannot keep string-literal temporaries alive across
// co_await ("array used as initializer"), so literals never appear in awaited expressions.
constexpr std::string_view not_queueing = "";
constexpr std::string_view wake_nobody = "";
constexpr std::string_view fencing_on = "1";
constexpr std::string_view fencing_off = "0";
constexpr std::string_view stay_queued = "stay";
constexpr std::string_view leave_queue = "leave";
constexpr std::string_view queue_front = "front";
constexpr std::string_view queue_back = "back";
constexpr std::string_view wakeup_unused = "1";
constexpr std::string_view wakeup_none = "0";
constexpr std::string_view mode_add = "add";
constexpr std::string_view mode_replace = "replace";
constexpr std::string_view mode_renew = "renew";

struct LockState {
    Client* client = nullptr;
    std::string name;
    LockOptions options;
    std::optional<milliseconds> timeout;
    milliseconds sleep{100};
    milliseconds command_timeout{5000};
    milliseconds replication_timeout{100};
    milliseconds renew_interval{0};
    std::string fence_key;  // fencing counter, same slot as the key
    std::string queue_key;  // wait queue of processes (see subscriber.hpp), same slot
    std::string queue_ttl;  // ms: a queue whose waiters all died expires by itself

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
    std::string_view publish() const { return publish_command(client->is_cluster()); }
};

// Where a blocked acquire stands in the wait queue: its process's inbox, and whether other
// local waiters on the same lock stay queued after it succeeds.
struct QueueTicket {
    std::string_view inbox;
    bool others_waiting = false;
    bool woken = false;  // this attempt follows a wake-up (see acquire_script's 'front')
};

// Marks the object busy for one operation (see the concurrency contract in lock.hpp).
class BusyGuard {
  public:
    explicit BusyGuard(LockState& state) : state_(state) {
        if (state_.busy) {
            throw std::logic_error("dlock::Lock '" + state_.name +
                                   "': another operation on this object is in progress");
        }
        state_.busy = true;
    }
    ~BusyGuard() { state_.busy = false; }
    BusyGuard(const BusyGuard&) = delete;
    BusyGuard& operator=(const BusyGuard&) = delete;

  private:
    LockState& state_;
};

// EVALSHA, and EVAL once on NOSCRIPT. Error replies throw ServerError. `send_source`: EVAL
// straight away, for calls whose effect matters even when nobody waits for the reply (a
// NOSCRIPT that arrives after the deadline would leave the work undone, with no retry).
asio::awaitable<Reply> run_script(LockState& state, const Script& script,
                                  const std::vector<std::string_view>& keys,
                                  const std::vector<std::string_view>& args, Deadline deadline,
                                  std::shared_ptr<Connection>* used = nullptr,
                                  bool send_source = false);

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
