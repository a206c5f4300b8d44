// dlock/detail/subscriber.hpp: release notifications for waiting lock acquirers.
//
// Why pub/sub and not a per-lock signal list (BLPOP): a blocking pop ties up one connection per
// waiter and leaves list keys behind when a waiter dies; a subscription costs one connection per
// process and server, whatever the number of waiters, and leaves nothing on the server.
//
// One Subscriber per server holds one connection in subscriber mode. Waiters in this process
// on the same lock share one channel subscription; a release message wakes ONE local waiter
// (the oldest), so a release costs one SET attempt per waiting process, not one per waiter.
// Subscriptions are dropped when the last waiter of a channel leaves.
//
// No lost wake-up: a waiter subscribes (and waits for the server's confirmation) BEFORE its
// acquisition attempt; a release between that attempt and wait() leaves `notified` set, so
// wait() returns at once.
//
// Dropped connection: the server forgets the subscriptions and messages sent meanwhile are
// lost. While any waiter is registered the subscriber reconnects by itself (backing off
// 10 ms .. 1 s while the server is unreachable), re-subscribes every channel, and only once
// the server confirmed a channel wakes all its waiters to try again: a release during the gap
// is then seen by that attempt, a later one by the new subscription.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dlock/detail/connection.hpp"

namespace dlock::detail {

class Subscriber {
public:
    struct Waiter {
        explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
        std::string channel;
        asio::steady_timer timer;
        bool notified = false;
    };
    using WaiterPtr = std::shared_ptr<Waiter>;

    Subscriber(asio::any_io_executor executor, ConnectionOptions options, bool sharded);
    ~Subscriber();

    // Registers a waiter on `channel`, subscribing first if this process has none there yet.
    // Returns once the server confirmed the subscription. Throws like Connection::execute.
    asio::awaitable<WaiterPtr> watch(const std::string& channel, Deadline deadline);

    // Waits until a notification for the waiter's channel, or `deadline`. Returns true when
    // notified (and clears the flag for the next round).
    asio::awaitable<bool> wait(Waiter& waiter, Deadline deadline);

    // Removes the waiter; the last one out of a channel unsubscribes (in the background).
    void unwatch(const WaiterPtr& waiter);

    // Drops the connection; with waiters registered it reconnects and re-subscribes at once.
    void close() { connection_->close(); }

    // Channels subscribed by this process right now (for leak checks).
    std::size_t channel_count() const noexcept { return channels_.size(); }
    std::size_t messages_received() const noexcept { return messages_; }

private:
    struct Channel {
        std::list<WaiterPtr> waiters;  // oldest first: the one a message wakes
        bool confirmed = false;
    };
    void on_message(Reply&& message);
    void on_reconnect();
    void on_disconnect();
    static void wake_all(Channel& channel);
    // Keep the connection up while waiters need it; re-subscribe after a reconnect. Both take
    // `alive` and check it after every suspension: they may outlive the subscriber.
    asio::awaitable<void> reconnect(std::shared_ptr<bool> alive, std::shared_ptr<Connection> connection);
    asio::awaitable<void> resubscribe(std::shared_ptr<bool> alive, std::shared_ptr<Connection> connection);

    std::shared_ptr<Connection> connection_;
    bool sharded_;
    std::map<std::string, Channel, std::less<>> channels_;
    std::size_t messages_ = 0;
    bool ever_connected_ = false;
    bool reconnecting_ = false;  // a reconnect() loop is running
    std::shared_ptr<bool> alive_;  // lets detached unsubscribes outlive us safely
};

}  // namespace dlock::detail
