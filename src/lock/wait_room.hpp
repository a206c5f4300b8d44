// wait_room.hpp (private): the waiting half of one blocking Lock::acquire().
//
// A waiter listens on its process's inbox (net/subscriber.hpp) and, once subscribed, queues
// the process in the lock's wait queue with every failed attempt (the acquire script does
// that). The room keeps that place: it knows the ticket the next attempt carries, sleeps until
// a wake-up or the poll, and on every way out (success, timeout, exception, destroyed Lock)
// leaves: the last local waiter on the lock takes the process out of the queue and passes on
// a wake-up it did not use, so no other process is kept waiting for it.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <memory>
#include <optional>

#include "lock/lock_state.hpp"
#include "lock/scripts.hpp"
#include "net/subscriber.hpp"

namespace dlock::detail {

class WaitRoom {
  public:
    // `wakeups`: wait for release notifications (else only poll every `sleep`).
    WaitRoom(std::shared_ptr<LockState> state, bool wakeups);
    ~WaitRoom();
    WaitRoom(const WaitRoom&) = delete;
    WaitRoom& operator=(const WaitRoom&) = delete;

    // Enters at once when this process already listens for the lock (another wait here, or a
    // recent one): the first attempt can queue, saving the plain SET that would fail.
    asio::awaitable<void> enter_if_listening();
    // Whether enter() is worth trying: wake-ups wanted, and not entered yet.
    bool may_enter() const noexcept { return wakeups_ && !waiter_; }
    // Subscribes (bounded by `deadline` and the command timeout). Returns true when entered:
    // then try again at once (queueing), so a release in between is not missed. False when
    // notifications are unavailable (e.g. pub/sub refused by ACL): this wait polls.
    asio::awaitable<bool> enter(std::optional<Deadline> deadline);

    // What the next attempt carries (none before entering).
    std::optional<QueueTicket> ticket() const;
    // Until a wake-up or `until`. A destroyed Lock cancels it (LockState::waiting).
    asio::awaitable<void> sleep(Deadline until);
    // The attempt succeeded: the acquire script already updated the queue.
    void acquired() noexcept { acquired_ = true; }
    // The last sleep ended with a release notification (not the poll).
    bool woken() const noexcept { return woken_; }

  private:
    std::shared_ptr<LockState> state_;
    bool wakeups_;
    Subscriber* subscriber_ = nullptr;
    Subscriber::WaiterPtr waiter_;
    asio::steady_timer poll_;
    bool woken_ = false;  // the last sleep ended with a wake-up
    bool acquired_ = false;
};

}  // namespace dlock::detail
