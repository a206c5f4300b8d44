#include "lock/wait_room.hpp"

#include <asio.hpp>

#include "dlock/errors.hpp"
#include "lock/wakeups.hpp"

namespace dlock::detail {

WaitRoom::WaitRoom(std::shared_ptr<LockState> state, bool wakeups)
    : state_(std::move(state)), wakeups_(wakeups), poll_(state_->spec.client->get_executor()) {}

WaitRoom::~WaitRoom() {
    // Ended without resuming (its io_context destroyed mid-sleep): ~Lock must not cancel a timer
    // that is gone.
    if (state_->waiting == &poll_ || (waiter_ && state_->waiting == &waiter_->timer)) {
        state_->waiting = nullptr;
    }
    if (!waiter_) return;
    const auto departure = subscriber_->unwatch(waiter_);
    // Our success already updated the queue; otherwise the last local waiter takes this
    // process out of it (and passes on a wake-up it did not use).
    if (!acquired_ && departure.last_for_lock) {
        leave_queue_later(state_, waiter_->inbox, departure.unused_wakeup);
        if (departure.unused_wakeup) state_->events.wakeup_passed_on();
    }
}

asio::awaitable<void> WaitRoom::enter_if_listening() {
    if (!wakeups_) co_return;
    const LockSpec& spec = state_->spec;
    Subscriber& candidate = wakeup_subscriber(*spec.client, spec.name);
    if (candidate.ready_for(spec.name)) {
        subscriber_ = &candidate;
        waiter_ = co_await subscriber_->watch(spec.name, spec.command_deadline());
    }
}

asio::awaitable<bool> WaitRoom::enter(std::optional<Deadline> deadline) {
    const LockSpec& spec = state_->spec;
    try {
        subscriber_ = &wakeup_subscriber(*spec.client, spec.name);
        auto watch_deadline = spec.command_deadline();
        if (deadline) watch_deadline = std::min(watch_deadline, *deadline);
        waiter_ = co_await subscriber_->watch(spec.name, watch_deadline);
        co_return true;
    } catch (const Error&) {
        // No notifications: fall back to polling. Local to this wait: release() still wakes
        // the waiters of other processes.
        wakeups_ = false;
        co_return false;
    }
}

std::optional<QueueTicket> WaitRoom::ticket() const {
    if (!waiter_) return std::nullopt;
    return QueueTicket{waiter_->inbox, subscriber_->others_waiting(*waiter_), woken_};
}

asio::awaitable<void> WaitRoom::sleep(Deadline until) {
    if (waiter_) {
        state_->waiting = &waiter_->timer;
        woken_ = co_await subscriber_->wait(*waiter_, until);
    } else {
        state_->waiting = &poll_;
        poll_.expires_at(until);
        co_await poll_.async_wait(use_tuple);
    }
    state_->waiting = nullptr;
}

}  // namespace dlock::detail
