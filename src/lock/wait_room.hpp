// wait_room.hpp (private): the waiting half of one blocking acquire(), for every lock kind
// (Lock, Semaphore, SharedMutex).
//
// A waiter listens on its process's inbox (net/subscriber.hpp) and, once subscribed, queues
// the process in the wait queue of the name it waits under with every failed attempt (the
// acquire scripts do that). The room keeps that place: it knows the ticket the next attempt
// carries, sleeps until a wake-up or the poll, and on every way out (success, timeout,
// exception, destroyed lock object) leaves: the last local waiter on the name takes the process
// out of the queue and passes on a wake-up it did not use, so no other process is kept waiting
// for it.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/backend.hpp"
#include "lock/lock_state.hpp"
#include "lock/scripts.hpp"
#include "net/notification.hpp"
#include "net/subscriber.hpp"

namespace dlock::detail {

// What a wait room needs of the object whose acquire() blocks.
struct WaitSite {
    std::shared_ptr<void> owner;      // kept alive by the room and by its background departure
    std::shared_ptr<Backend> client;  // kept alive by the background leave-queue call too
    // The name waiters wait under: the subscriber's key, the wake-up's payload, and (through
    // wait_queue_key) the queue. A Lock waits under its own name; the other kinds under names
    // of keys.hpp that no key ever has, so an unused wake-up is always handed on.
    std::string name;
    std::chrono::milliseconds command_timeout{5000};
    Notification** waiting = nullptr;  // what the room sleeps on: the owner notifies it
    LockEvents* events = nullptr;      // hears of a wake-up passed on (lock_events.hpp)
    // For a kind other than the Lock: the Lock's wait queue of the name, where this process may
    // also be queued as "INBOX|WAIT_NAME" (lease_lua.hpp); its departure takes that member out
    // too. Empty for a Lock (its own queue is that queue).
    std::string lock_queue;
};

class WaitRoom {
  public:
    // `wakeups`: wait for release notifications (else only poll every `sleep`).
    // `oldest_polls_only`: see sleep(poll, deadline).
    WaitRoom(WaitSite site, bool wakeups, bool oldest_polls_only = false);
    // The room of a lock of any kind: it waits under state->wait_name(), and only its oldest
    // local waiter polls when state->oldest_waiter_polls() (a Lock).
    WaitRoom(std::shared_ptr<LockState> state, bool wakeups);
    ~WaitRoom();
    WaitRoom(const WaitRoom&) = delete;
    WaitRoom& operator=(const WaitRoom&) = delete;

    // Whether this process already listens for the name (another wait here, or a recent one):
    // then enter_listening() lets the first attempt queue, saving the plain SET that would
    // fail. A plain call, not a coroutine: it runs before every blocking acquisition, and most
    // of them never wait.
    bool listening();
    asio::awaitable<void> enter_listening();
    // Whether enter() is worth trying: wake-ups wanted, and not entered yet.
    bool may_enter() const noexcept { return wakeups_ && !waiter_; }
    // Subscribes (bounded by `deadline` and the command timeout). Returns true when entered:
    // then try again at once (queueing), so a release in between is not missed. False when
    // notifications are unavailable (e.g. pub/sub refused by ACL): this wait polls.
    asio::awaitable<bool> enter(std::optional<Deadline> deadline);

    // Offers a direct hand-off (docs/semantics.md §7.12-7.13): while this waiter is its
    // process's oldest local one on the name, its attempts register `token` (with `ttl` and
    // `fencing`), so a release can set the key straight to it.
    void offer_direct_handoff(std::string token, std::optional<std::chrono::milliseconds> ttl,
                              bool fencing);

    // What the next attempt carries (none before entering). Call it right before sending the
    // attempt: a registration remembers the time as that attempt's send time.
    std::optional<QueueTicket> ticket();
    // Until a wake-up or `until`. A destroyed owner cancels it (WaitSite::waiting).
    asio::awaitable<void> sleep(Deadline until);
    // Until a wake-up, the poll `poll` from now, or `deadline`. With oldest_polls_only (a
    // Lock: one holder at a time), only the process's oldest local waiter on the name polls:
    // its one attempt covers what the poll is for (a missed wake-up, a holder that crashed, a
    // release that published nothing), and the others could not take the lock before it
    // anyway. They sleep until woken, their deadline, or until they become the oldest, and then
    // poll `poll` later. So N local waiters cost one poll per `poll`, not N
    // (bench/run --scale, waiters curve).
    asio::awaitable<void> sleep(Clock::duration poll, std::optional<Deadline> deadline);
    // The attempt succeeded: the acquire script already updated the queue.
    void acquired() noexcept { acquired_ = true; }
    // The last sleep ended with a release notification (not the poll).
    bool woken() const noexcept { return woken_; }

    // The last sleep ended with a hand-off message: the key held this waiter's token from the
    // release on, for PX. `lease_floor`: a time before which the key surely still holds it (the
    // send time of the attempt whose registration the release used, + PX - drift: no clocks
    // compared). Taken once.
    struct Handed {
        std::int64_t fence = 0;
        std::chrono::milliseconds px{0};  // the expiry the release gave the key
        Deadline lease_floor{};
    };
    std::optional<Handed> take_handoff();
    // What a waiter handed the lock needs for take_handoff_call: its inbox, and whether other
    // local waiters on the name stay queued.
    std::string_view inbox() const { return waiter_ ? std::string_view(waiter_->inbox) : ""; }
    bool others_waiting() const { return waiter_ && subscriber_->others_waiting(*waiter_); }

  private:
    Deadline command_deadline() const { return Clock::now() + site_.command_timeout; }

    WaitSite site_;
    bool wakeups_;
    bool oldest_polls_only_;
    Subscriber* subscriber_ = nullptr;
    Subscriber::WaiterPtr waiter_;
    Notification poll_;   // notified only by ~Lock: a sleep without wake-ups is a timeout
    bool woken_ = false;  // the last sleep ended with a wake-up
    bool acquired_ = false;
    // The direct hand-off offer, and the send time of each registering attempt (by its seq, from
    // 1): the message names the one the release used.
    std::optional<HandoffRegistration> offer_;
    std::string offered_token_;
    std::vector<Deadline> registered_at_;
};

}  // namespace dlock::detail
