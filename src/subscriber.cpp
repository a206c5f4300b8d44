#include "dlock/detail/subscriber.hpp"

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include "dlock/errors.hpp"

namespace dlock::detail {

namespace {
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr auto unsubscribe_timeout = std::chrono::seconds(5);
constexpr auto first_reconnect_delay = std::chrono::milliseconds(10);
constexpr auto max_reconnect_delay = std::chrono::seconds(1);
}  // namespace

Subscriber::Subscriber(asio::any_io_executor executor, ConnectionOptions options, bool sharded)
    : sharded_(sharded), alive_(std::make_shared<bool>(true)) {
    options.client_name = options.client_name.empty() ? "" : options.client_name + "-sub";
    connection_ = std::make_shared<Connection>(std::move(executor), std::move(options));
    connection_->set_push_handler([this](Reply&& message) { on_message(std::move(message)); });
    connection_->set_on_connect([this] { on_reconnect(); });
    connection_->set_on_disconnect([this] { on_disconnect(); });
}

Subscriber::~Subscriber() {
    *alive_ = false;
    connection_->set_push_handler({});
    connection_->set_on_connect({});
    connection_->set_on_disconnect({});
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
            // Dropped since the reply arrived: the re-subscription after the reconnect confirms it.
            if (!connection_->connected()) co_return waiter;
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

void Subscriber::wake_all(Channel& channel) {
    for (auto& waiter : channel.waiters) {
        waiter->notified = true;
        waiter->timer.cancel();
    }
}

void Subscriber::on_disconnect() {
    for (auto& [name, channel] : channels_) channel.confirmed = false;  // the server forgot them
    if (channels_.empty() || reconnecting_) return;
    reconnecting_ = true;
    asio::co_spawn(connection_->get_executor(), reconnect(alive_, connection_), asio::detached);
}

asio::awaitable<void> Subscriber::reconnect(std::shared_ptr<bool> alive,
                                            std::shared_ptr<Connection> connection) {
    asio::steady_timer backoff(connection->get_executor());
    auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(first_reconnect_delay);
    // Any command reconnects; on_reconnect() then re-subscribes.
    const Request ping({"PING"});
    while (*alive && !channels_.empty() && !connection->connected()) {
        bool failed = false;
        try {
            co_await connection->execute(ping, Clock::now() + connection->options().connect_timeout +
                                                   connection->options().command_timeout);
        } catch (const std::exception&) {
            failed = true;  // unreachable for now: back off
        }
        if (failed && *alive) {
            backoff.expires_after(delay);
            co_await backoff.async_wait(use_tuple);
            delay = std::min(delay * 2, std::chrono::duration_cast<std::chrono::milliseconds>(max_reconnect_delay));
        }
    }
    if (*alive) reconnecting_ = false;
}

void Subscriber::on_reconnect() {
    if (!std::exchange(ever_connected_, true)) return;  // first connect: nothing was missed
    if (channels_.empty()) return;
    asio::co_spawn(connection_->get_executor(), resubscribe(alive_, connection_), asio::detached);
}

asio::awaitable<void> Subscriber::resubscribe(std::shared_ptr<bool> alive,
                                              std::shared_ptr<Connection> connection) {
    if (!*alive) co_return;
    // The channels of this moment, not of the reconnect: one whose waiters all left meanwhile
    // must not be subscribed again (its UNSUBSCRIBE may already be on the wire).
    std::vector<std::string> names;
    Request request;
    const std::string_view command = sharded_ ? "SSUBSCRIBE" : "SUBSCRIBE";
    for (auto& [name, channel] : channels_) {
        channel.confirmed = false;
        names.push_back(name);
        const std::string_view args[] = {command, name};
        request.push(std::span<const std::string_view>(args));
    }
    std::vector<Reply> replies;
    try {
        replies = co_await connection->execute(request, Clock::now() + unsubscribe_timeout);
    } catch (const std::exception&) {
        co_return;  // dropped again: the next reconnect runs this again (timed out: waiters poll)
    }
    if (!*alive) co_return;
    for (std::size_t i = 0; i < names.size() && i < replies.size(); ++i) {
        auto it = channels_.find(names[i]);
        if (it == channels_.end()) continue;  // its waiters left; their UNSUBSCRIBE follows ours
        if (!replies[i].is_error()) it->second.confirmed = true;
        // Messages sent while we were away are lost: everyone re-checks the lock, now that a
        // release from here on is announced again (or, on an error reply, falls back to polling).
        wake_all(it->second);
    }
}

}  // namespace dlock::detail
