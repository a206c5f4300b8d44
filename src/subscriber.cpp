#include "dlock/detail/subscriber.hpp"

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include "dlock/errors.hpp"

namespace dlock::detail {

namespace {
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr auto unsubscribe_timeout = std::chrono::seconds(5);
}  // namespace

Subscriber::Subscriber(asio::any_io_executor executor, ConnectionOptions options, bool sharded)
    : sharded_(sharded), alive_(std::make_shared<bool>(true)) {
    options.client_name = options.client_name.empty() ? "" : options.client_name + "-sub";
    connection_ = std::make_shared<Connection>(std::move(executor), std::move(options));
    connection_->set_push_handler([this](Reply&& message) { on_message(std::move(message)); });
    connection_->set_on_connect([this] { on_reconnect(); });
}

Subscriber::~Subscriber() {
    *alive_ = false;
    connection_->set_push_handler({});
    connection_->set_on_connect({});
    connection_->close();
}

asio::awaitable<Subscriber::WaiterPtr> Subscriber::watch(const std::string& channel,
                                                         Deadline deadline) {
    auto waiter = std::make_shared<Waiter>(connection_->get_executor());
    waiter->channel = channel;
    auto [it, inserted] = channels_.try_emplace(channel);
    it->second.waiters.push_back(waiter);
    if (inserted || !it->second.confirmed) {
        try {
            // Every waiter that arrives before confirmation sends its own SUBSCRIBE: it must
            // not try to acquire before the server has confirmed. Redis answers each one.
            Request request({sharded_ ? "SSUBSCRIBE" : "SUBSCRIBE", channel});
            auto replies = co_await connection_->execute(request, deadline);
            replies.front().value();
            if (auto found = channels_.find(channel); found != channels_.end()) found->second.confirmed = true;
        } catch (...) {
            unwatch(waiter);
            throw;
        }
    }
    co_return waiter;
}

asio::awaitable<bool> Subscriber::wait(Waiter& waiter, Deadline deadline) {
    if (!waiter.notified) {
        waiter.timer.expires_at(deadline);
        co_await waiter.timer.async_wait(use_tuple);
    }
    const bool notified = waiter.notified;
    waiter.notified = false;
    co_return notified;
}

void Subscriber::unwatch(const WaiterPtr& waiter) {
    auto it = channels_.find(waiter->channel);
    if (it == channels_.end()) return;
    auto& waiters = it->second.waiters;
    const bool had_notification = waiter->notified;
    waiters.remove(waiter);
    if (!waiters.empty()) {
        // A wake-up this waiter did not use goes to the next one, so it is not lost.
        if (had_notification) {
            waiters.front()->notified = true;
            waiters.front()->timer.cancel();
        }
        return;
    }
    const std::string channel = it->first;
    channels_.erase(it);
    if (!connection_->connected()) return;  // the server forgot our subscriptions already
    // Unsubscribe in the background; replies arrive in order, so a later SUBSCRIBE to the same
    // channel (sent after this) wins.
    asio::co_spawn(
        connection_->get_executor(),
        [connection = connection_, channel, sharded = sharded_]() -> asio::awaitable<void> {
            Request request({sharded ? "SUNSUBSCRIBE" : "UNSUBSCRIBE", channel});
            try {
                co_await connection->execute(request, Clock::now() + unsubscribe_timeout);
            } catch (const std::exception&) {
                // A dropped connection unsubscribes everything anyway.
            }
        },
        asio::detached);
}

void Subscriber::on_message(Reply&& message) {
    // ["message", channel, payload] or ["smessage", channel, payload]
    if (message.elements.size() < 3) return;
    ++messages_;
    auto it = channels_.find(message.elements[1].str);
    if (it == channels_.end() || it->second.waiters.empty()) return;
    // Wake the oldest waiter that is not already awake; if all are, the oldest keeps the flag.
    for (auto& waiter : it->second.waiters) {
        if (!waiter->notified) {
            waiter->notified = true;
            waiter->timer.cancel();
            return;
        }
    }
}

void Subscriber::on_reconnect() {
    if (!std::exchange(ever_connected_, true)) return;  // first connect: nothing was missed
    // Messages sent while we were away are lost: wake everyone to re-check, and re-subscribe.
    for (auto& [channel, state] : channels_) {
        state.confirmed = false;
        for (auto& waiter : state.waiters) {
            waiter->notified = true;
            waiter->timer.cancel();
        }
        asio::co_spawn(
            connection_->get_executor(),
            [this, alive = alive_, channel = channel]() -> asio::awaitable<void> {
                Request request({sharded_ ? "SSUBSCRIBE" : "SUBSCRIBE", channel});
                try {
                    auto connection = connection_;
                    co_await connection->execute(request, Clock::now() + unsubscribe_timeout);
                    if (!*alive) co_return;
                    if (auto it = channels_.find(channel); it != channels_.end()) it->second.confirmed = true;
                } catch (const std::exception&) {
                    // Waiters fall back to polling until the next reconnect.
                }
            },
            asio::detached);
    }
}

}  // namespace dlock::detail
