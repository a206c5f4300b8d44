#include "net/subscriber.hpp"

#include <algorithm>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include "dlock/errors.hpp"
#include "net/asio.hpp"
#include "protocol/durations.hpp"
#include "protocol/keys.hpp"
#include "protocol/slots.hpp"
#include "protocol/token.hpp"

namespace dlock::detail {

namespace {
constexpr auto unsubscribe_timeout = std::chrono::seconds(5);
constexpr auto first_reconnect_delay = std::chrono::milliseconds(10);
constexpr auto max_reconnect_delay = std::chrono::milliseconds(1000);
}  // namespace

Subscriber::Subscriber(asio::any_io_executor executor, ConnectionOptions options, bool sharded)
    : sharded_(sharded),
      id_(make_token()),
      unsharded_inbox_(sharded ? "" : inbox_channel(id_, std::nullopt)),
      alive_(std::make_shared<bool>(true)) {
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
    for (auto& timer : timers_) {
        if (auto alive = timer.lock()) alive->cancel();
    }
}

std::shared_ptr<asio::steady_timer> Subscriber::make_timer() {
    std::erase_if(timers_, [](const auto& timer) { return timer.expired(); });
    auto timer = std::make_shared<asio::steady_timer>(connection_->get_executor());
    timers_.push_back(timer);
    return timer;
}

std::string Subscriber::inbox_for(std::string_view lock_name) const {
    if (!sharded_) return unsharded_inbox_;
    return inbox_channel(id_, key_slot(lock_name));
}

bool Subscriber::ready_for(std::string_view lock_name) const {
    auto it = sharded_ ? inboxes_.find(inbox_for(lock_name)) : inboxes_.find(unsharded_inbox_);
    return it != inboxes_.end() && it->second.confirmed && connection_->connected();
}

asio::awaitable<Subscriber::WaiterPtr> Subscriber::watch(const std::string& lock_name,
                                                         Deadline deadline) {
    auto waiter = std::make_shared<Waiter>(connection_->get_executor());
    waiter->lock_name = lock_name;
    waiter->inbox = inbox_for(lock_name);
    auto& list = waiters_[lock_name];
    waiter->place = list.insert(list.end(), waiter);
    Inbox& inbox = inboxes_[waiter->inbox];
    ++inbox.users;
    if (!inbox.confirmed) {
        try {
            // Every waiter that arrives before confirmation sends its own SUBSCRIBE: it must
            // not queue itself before the server has confirmed. Redis answers each one.
            Request request({sharded_ ? "SSUBSCRIBE" : "SUBSCRIBE", waiter->inbox});
            auto replies = co_await connection_->execute(request, deadline);
            replies.front().value();
            // Dropped since the reply arrived: the re-subscription after the reconnect confirms it.
            if (!connection_->connected()) co_return waiter;
            if (auto it = inboxes_.find(waiter->inbox); it != inboxes_.end())
                it->second.confirmed = true;
        } catch (...) {
            unwatch(waiter);
            throw;
        }
    }
    co_return waiter;
}

asio::awaitable<Subscriber::WaitOutcome> Subscriber::wait(Waiter& waiter, Deadline deadline) {
    co_await waiter.signal.wait(deadline);
    const WaitOutcome outcome{waiter.wakeup, waiter.promoted};
    waiter.wakeup = waiter.promoted = false;
    waiter.signal.reset();
    co_return outcome;
}

namespace {

void wake(Subscriber::Waiter& waiter) {
    waiter.wakeup = true;
    waiter.signal.notify();
}

}  // namespace

Subscriber::Departure Subscriber::unwatch(const WaiterPtr& waiter) {
    Departure departure;
    departure.unused_wakeup = waiter->wakeup;
    if (auto it = waiters_.find(waiter->lock_name); it != waiters_.end()) {
        auto& list = it->second;
        if (waiter->place) {
            const bool was_oldest = *waiter->place == list.begin();
            list.erase(*waiter->place);
            waiter->place.reset();
            if (list.empty()) {
                waiters_.erase(it);
                departure.last_for_lock = true;
            } else {
                if (departure.unused_wakeup) {
                    // Not lost: the oldest local waiter on the same lock not yet woken takes it
                    // (when all are, they are about to try).
                    const auto next = std::find_if(list.begin(), list.end(),
                                                   [](const WaiterPtr& w) { return !w->wakeup; });
                    if (next != list.end()) wake(**next);
                    departure.unused_wakeup = false;
                }
                if (was_oldest && !list.front()->wakeup) {
                    // The new oldest waiter is the one that polls now (wait_room.hpp).
                    list.front()->promoted = true;
                    list.front()->signal.notify();
                }
            }
            release_inbox(waiter->inbox);
        }
    }
    return departure;
}

bool Subscriber::others_waiting(const Waiter& waiter) const {
    auto it = waiters_.find(waiter.lock_name);
    return it != waiters_.end() && it->second.size() > 1;
}

bool Subscriber::oldest_for_lock(const Waiter& waiter) const {
    auto it = waiters_.find(waiter.lock_name);
    return it != waiters_.end() && !it->second.empty() && it->second.front().get() == &waiter;
}

void Subscriber::release_inbox(const std::string& name) {
    auto it = inboxes_.find(name);
    if (it == inboxes_.end() || it->second.users == 0) return;
    if (--it->second.users > 0) return;
    if (!it->second.confirmed) {
        // Never confirmed (refused, timed out, or dropped): nothing worth keeping.
        inboxes_.erase(it);
        return;
    }
    it->second.idle_since_gen = ++linger_generation_;
    if (const auto pending = it->second.linger_timer.lock()) pending->cancel();
    asio::co_spawn(connection_->get_executor(),
                   drop_after_linger(alive_, name, it->second.idle_since_gen), asio::detached);
}

asio::awaitable<void> Subscriber::drop_after_linger(std::shared_ptr<bool> alive, std::string name,
                                                    std::uint64_t generation) {
    if (!*alive) co_return;
    auto connection = connection_;
    const auto timer = make_timer();
    if (auto idle = inboxes_.find(name);
        idle != inboxes_.end() && idle->second.idle_since_gen == generation) {
        idle->second.linger_timer = timer;
    }
    timer->expires_after(linger);
    co_await timer->async_wait(use_tuple);
    if (!*alive) co_return;
    auto it = inboxes_.find(name);
    if (it == inboxes_.end() || it->second.users > 0 || it->second.idle_since_gen != generation) {
        co_return;  // back in use (or already gone)
    }
    inboxes_.erase(it);
    if (!connection->connected()) co_return;  // the server forgot our subscriptions already
    // Replies arrive in order, so a later SUBSCRIBE to the same inbox (sent after this) wins.
    Request request;
    if (sharded_) {
        // Its confirmation is a push (see Connection); the PING's reply ends the request.
        request.push_unanswered({"SUNSUBSCRIBE", name});
        request.push({"PING"});
    } else {
        request.push({"UNSUBSCRIBE", name});
    }
    try {
        co_await connection->execute(request, Clock::now() + unsubscribe_timeout);
    } catch (const std::exception&) {
        // A dropped connection unsubscribes everything anyway.
    }
}

void Subscriber::on_message(Reply&& message) {
    if (message.elements.size() < 3) return;
    if (message.elements[0].str == "sunsubscribe") {
        // Unasked: the inbox's slot moved to another node. Its waiters fall back to polling
        // (woken now to re-check once); ours arrive for inboxes already forgotten.
        if (auto it = inboxes_.find(message.elements[1].str); it != inboxes_.end()) {
            it->second.confirmed = false;
            wake_all(it->first);
        }
        return;
    }
    // ["message", inbox, lock name or hand-off] or ["smessage", inbox, lock name or hand-off]
    ++messages_;
    const std::string& payload = message.elements[2].str;
    const std::optional<HandoffMessage> handoff = parse_handoff_message(payload);
    const std::string lock_name = handoff ? std::string(handoff->name) : payload;
    auto it = waiters_.find(lock_name);
    if (handoff && it != waiters_.end()) {
        for (auto& waiter : it->second) {
            if (waiter->registered_token != handoff->token) continue;
            waiter->handed = Waiter::Handed{handoff->seq, handoff->px, handoff->fence};
            wake(*waiter);
            return;
        }
        // Not ours any more (that waiter left: its departure hands the lock on): a plain wake-up.
    }
    if (it == waiters_.end() || it->second.empty()) {
        // Our waiters left after the release popped us: hand the wake-up to the next process.
        if (unclaimed_) unclaimed_(lock_name, message.elements[1].str);
        return;
    }
    // Wake the oldest waiter that is not already awake; if all are, they are about to try.
    for (auto& waiter : it->second) {
        if (!waiter->wakeup) {
            wake(*waiter);
            return;
        }
    }
}

void Subscriber::wake_all(const std::string& inbox) {
    for (auto& [lock_name, list] : waiters_) {
        for (auto& waiter : list) {
            if (waiter->inbox != inbox) break;  // one lock name, one inbox
            wake(*waiter);
        }
    }
}

void Subscriber::on_disconnect() {
    for (auto& [name, inbox] : inboxes_) inbox.confirmed = false;  // the server forgot them
    if (waiters_.empty() || reconnecting_) return;
    reconnecting_ = true;
    asio::co_spawn(connection_->get_executor(), reconnect(alive_, connection_), asio::detached);
}

asio::awaitable<void> Subscriber::reconnect(std::shared_ptr<bool> alive,
                                            std::shared_ptr<Connection> connection) {
    if (!*alive) co_return;
    const auto backoff = make_timer();
    std::chrono::milliseconds delay = first_reconnect_delay;
    // Any command reconnects; on_reconnect() then re-subscribes.
    const Request ping({"PING"});
    while (*alive && !waiters_.empty() && !connection->connected()) {
        bool failed = false;
        try {
            co_await connection->execute(
                ping, Clock::now() +
                          to_ms(connection->options().connect_timeout, "connect_timeout") +
                          connection->command_timeout());
        } catch (const std::exception&) {
            failed = true;  // unreachable for now: back off
        }
        if (failed && *alive) {
            backoff->expires_after(delay);
            co_await backoff->async_wait(use_tuple);
            delay = std::min(delay * 2, max_reconnect_delay);
        }
    }
    if (*alive) reconnecting_ = false;
}

void Subscriber::on_reconnect() {
    if (!std::exchange(ever_connected_, true)) return;  // first connect: nothing was missed
    if (inboxes_.empty()) return;
    asio::co_spawn(connection_->get_executor(), resubscribe(alive_, connection_), asio::detached);
}

asio::awaitable<void> Subscriber::resubscribe(std::shared_ptr<bool> alive,
                                              std::shared_ptr<Connection> connection) {
    if (!*alive) co_return;
    // The inboxes of this moment: idle ones (lingering) are simply forgotten.
    std::vector<std::string> names;
    Request request;
    const std::string_view command = sharded_ ? "SSUBSCRIBE" : "SUBSCRIBE";
    for (auto it = inboxes_.begin(); it != inboxes_.end();) {
        if (it->second.users == 0) {
            it = inboxes_.erase(it);
            continue;
        }
        it->second.confirmed = false;
        names.push_back(it->first);
        const std::string_view args[] = {command, it->first};
        request.push(std::span<const std::string_view>(args));
        ++it;
    }
    if (names.empty()) co_return;
    std::vector<Reply> replies;
    try {
        replies = co_await connection->execute(request, Clock::now() + unsubscribe_timeout);
    } catch (const std::exception&) {
        co_return;  // dropped again: the next reconnect runs this again (timed out: waiters poll)
    }
    if (!*alive) co_return;
    for (std::size_t i = 0; i < names.size() && i < replies.size(); ++i) {
        auto it = inboxes_.find(names[i]);
        if (it == inboxes_.end()) continue;
        if (!replies[i].is_error()) it->second.confirmed = true;
        // Wake-ups sent while we were away are lost: everyone re-checks the lock, now that a
        // release from here on reaches us again (or, on an error reply, falls back to polling).
        wake_all(names[i]);
    }
}

}  // namespace dlock::detail
