// subscriber.hpp (private): release notifications for waiting lock acquirers.
//
// Why pub/sub and not a per-lock signal list (BLPOP): a blocking pop ties up one connection per
// waiter and leaves list keys behind when a waiter dies; a subscription costs one connection per
// process and server, whatever the number of waiters.
//
// Each process listens on its own inbox channel (one per server; on a cluster one per slot in
// use, so a script can SPUBLISH to it from the lock key's shard). A waiter that finds the lock
// held queues its process's inbox in the lock's wait queue, in the same atomic script as the
// failed SET; a release wakes only the first queued process, by publishing the lock's name to
// its inbox, and that process wakes its oldest local waiter. So a release costs one SET attempt,
// not one per waiter nor one per waiting process, and processes are served in arrival order.
//
// No lost wake-up: the inbox is subscribed (confirmed by the server) before the waiter queues
// itself, and a wake-up that arrives before wait() leaves `notified` set. A wake-up nobody here
// can use (the waiter left) goes to the next local waiter, or back to the server through the
// unclaimed handler, which wakes the next queued process. The `sleep` poll covers the rest
// (a holder that crashed, a release by redis-py). A hand-off message (protocol/keys.hpp: the
// release set the key to a waiter's registered token) goes to the waiter with that token; if it
// left, its departure hands the lock on, and the message wakes the oldest local waiter instead.
//
// Dropped connection: the server forgets the subscriptions and messages sent meanwhile are
// lost. While any waiter is registered the subscriber reconnects by itself (backing off
// 10 ms .. 1 s while the server is unreachable), re-subscribes, and only once the server
// confirmed an inbox wakes all its waiters to try again.
//
// An inbox stays subscribed for a short linger after its last waiter leaves, so a process that
// waits on and off does not pay SUBSCRIBE + UNSUBSCRIBE each time; then it is unsubscribed.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/connection.hpp"

namespace dlock::detail {

class Subscriber {
  public:
    struct Waiter {
        explicit Waiter(const asio::any_io_executor& executor) : signal(executor) {}
        std::string lock_name;
        std::string inbox;
        // A wake-up for the lock (a release's message, or one a departing local waiter did not
        // use); wait() consumes it, unwatch() passes an unconsumed one on.
        bool wakeup = false;
        // The waiter just became the oldest local waiter on its lock (the one before it left).
        bool promoted = false;
        // The token this waiter registered for a direct hand-off (empty: none), set by the lock;
        // and what a hand-off message to that token said (attempt number, the key's PX, the
        // fence), with `wakeup` (docs/semantics.md §7.12-7.13).
        std::string registered_token;
        struct Handed {
            std::uint64_t seq = 0;
            std::int64_t px = 0;
            std::int64_t fence = 0;
        };
        std::optional<Handed> handed;
        // Notified with either, and by the lock's owner to end a wait (neither is set then).
        Notification signal;
        // Its place in the list of its lock's waiters, while listed: unwatch() takes it out in
        // O(1) (10,000 waiters on one name spent a third of their time searching the list).
        std::optional<std::list<std::shared_ptr<Waiter>>::iterator> place;
    };
    using WaiterPtr = std::shared_ptr<Waiter>;

    // How a wait() ended: a wake-up, a promotion to oldest waiter, or neither (the deadline, or
    // the owner ended it).
    struct WaitOutcome {
        bool woken = false;
        bool promoted = false;
    };

    // What unwatch() tells the lock: whether this was the process's last waiter on the lock
    // (then its inbox must leave the wait queue) and whether it dropped an unused wake-up.
    struct Departure {
        bool last_for_lock = false;
        bool unused_wakeup = false;
    };

    // A wake-up for a lock nobody here waits on any more: (lock name, inbox).
    using UnclaimedHandler = std::function<void(const std::string&, const std::string&)>;

    Subscriber(asio::any_io_executor executor, ConnectionOptions options, bool sharded);
    ~Subscriber();
    Subscriber(const Subscriber&) = delete;
    Subscriber& operator=(const Subscriber&) = delete;

    // How long an inbox stays subscribed after its last waiter left.
    static constexpr std::chrono::milliseconds linger{2000};

    // The inbox channel of this process for `lock_name` (same cluster slot as the name).
    std::string inbox_for(std::string_view lock_name) const;
    // True when that inbox is subscribed and confirmed: a waiter can queue at once.
    bool ready_for(std::string_view lock_name) const;

    // Registers a waiter on `lock_name`, subscribing its inbox first if needed. Returns once the
    // server confirmed the subscription. Throws like Connection::execute.
    asio::awaitable<WaiterPtr> watch(const std::string& lock_name, Deadline deadline);

    // Waits until the waiter is signalled or `deadline`, and says why it woke (re-arming the
    // waiter for the next round). Throws operation_aborted when cancelled.
    asio::awaitable<WaitOutcome> wait(Waiter& waiter, Deadline deadline);

    // Removes the waiter. An unused wake-up goes to the next local waiter on the same lock.
    Departure unwatch(const WaiterPtr& waiter);

    // Whether other local waiters wait on the same lock as `waiter`.
    bool others_waiting(const Waiter& waiter) const;
    // Whether `waiter` is the oldest local waiter on its lock (the next wake-up is its).
    bool oldest_for_lock(const Waiter& waiter) const;

    void set_unclaimed_handler(UnclaimedHandler handler) { unclaimed_ = std::move(handler); }
    bool has_unclaimed_handler() const noexcept { return static_cast<bool>(unclaimed_); }

    // Drops the connection; with waiters registered it reconnects and re-subscribes at once.
    void close() { connection_->close(); }

    // Inboxes subscribed right now and locks waited on (for leak checks).
    std::size_t channel_count() const noexcept { return inboxes_.size(); }
    std::size_t waiter_count() const noexcept { return waiters_.size(); }
    std::size_t messages_received() const noexcept { return messages_; }

  private:
    struct Inbox {
        bool confirmed = false;
        std::size_t users = 0;  // waiters registered on it
        std::uint64_t idle_since_gen =
            0;  // linger generation: a newer one cancels the pending drop
        // The pending drop's timer: a newer linger wakes it at once, so that one inbox has at
        // most one lingering coroutine (one per wait would pile up for `linger` under churn).
        std::weak_ptr<asio::steady_timer> linger_timer;
    };
    void on_message(Reply&& message);
    void on_reconnect();
    void on_disconnect();
    void wake_all(const std::string& inbox);
    void release_inbox(const std::string& inbox);
    // Keep the connection up while waiters need it; re-subscribe after a reconnect; drop an
    // idle inbox after the linger. They take `alive` and check it after every suspension:
    // they may outlive the subscriber.
    asio::awaitable<void> reconnect(std::shared_ptr<bool> alive,
                                    std::shared_ptr<Connection> connection);
    asio::awaitable<void> resubscribe(std::shared_ptr<bool> alive,
                                      std::shared_ptr<Connection> connection);
    asio::awaitable<void> drop_after_linger(std::shared_ptr<bool> alive, std::string inbox,
                                            std::uint64_t generation);

    std::shared_ptr<Connection> connection_;
    bool sharded_;
    std::string id_;  // random: makes this process's inbox names unique
    // The one inbox of an unsharded subscriber (every lock name's): ready_for runs before
    // every blocking acquisition, most of which never wait, so it is not rebuilt each time.
    std::string unsharded_inbox_;
    std::map<std::string, Inbox, std::less<>> inboxes_;
    std::map<std::string, std::list<WaiterPtr>, std::less<>>
        waiters_;  // by lock name, oldest first
    UnclaimedHandler unclaimed_;
    std::size_t messages_ = 0;
    std::uint64_t linger_generation_ = 0;
    bool ever_connected_ = false;
    bool reconnecting_ = false;  // a reconnect() loop is running
    std::shared_ptr<bool> alive_;
    // Timers of the coroutines above (linger, reconnect back-off), cancelled by the
    // destructor: a pending one would keep the executor busy (~sync::Redis joins its thread
    // only once no work is left).
    std::vector<std::weak_ptr<asio::steady_timer>> timers_;
    std::shared_ptr<asio::steady_timer> make_timer();
};

}  // namespace dlock::detail
