#include "lock/wait_room.hpp"

#include <asio.hpp>

#include "dlock/errors.hpp"
#include "lock/wakeups.hpp"
#include "protocol/keys.hpp"

namespace dlock::detail {

namespace {

// Takes this process's inbox out of the queue of `site.name`, in the background (called from a
// destructor). Best effort: a stale entry is skipped by the next release (nobody receives the
// wake-up) and the queue expires with its TTL.
//
// Sent as EVAL, in one round trip: the request is queued on the connection before the caller
// goes on, so a new wait of this process on the name (same inbox, queued by a later script on
// the same connection) always runs after it. An EVALSHA answered by NOSCRIPT (cold script
// cache) used to send the ZREM one round trip later, after such a new wait had queued: it
// deleted the new entry and the next release woke nobody. No retry also means nothing touches
// the client after the first suspension (it holds the backend alive).
//
// `registered_token`: the leaving waiter's direct hand-off registration (a lock handed to it is
// handed on); `process_stays`: other local waiters keep the process queued.
void leave_queue_later(const WaitSite& site, std::string inbox, bool unused_wakeup,
                       std::string registered_token = {}, bool process_stays = false) {
    asio::co_spawn(
        site.client->get_executor(),
        [owner = site.owner, client = site.client, name = site.name,
         deadline = Clock::now() + site.command_timeout, inbox = std::move(inbox), unused_wakeup,
         registered_token = std::move(registered_token), process_stays,
         lock_queue = site.lock_queue]() -> asio::awaitable<void> {
            try {
                co_await eval(*client,
                              leave_queue_call(name, inbox, client->notify_command(), unused_wakeup,
                                               handoff_claim_window, registered_token,
                                               process_stays, lock_queue),
                              deadline, EvalMode::source_only);
            } catch (const std::exception&) {
            }
        },
        asio::detached);
}

}  // namespace

WaitRoom::WaitRoom(WaitSite site, bool wakeups, bool oldest_polls_only)
    : site_(std::move(site)),
      wakeups_(wakeups),
      oldest_polls_only_(oldest_polls_only),
      poll_(site_.client->get_executor()) {}

WaitRoom::WaitRoom(std::shared_ptr<LockState> state, bool wakeups)
    : WaitRoom(WaitSite{state, state->spec.client, state->wait_name(), state->spec.command_timeout,
                        &state->waiting, &state->events,
                        state->wait_name() == state->spec.name ? std::string()
                                                               : wait_queue_key(state->spec.name)},
               wakeups, state->oldest_waiter_polls()) {}

WaitRoom::~WaitRoom() {
    // Ended without resuming (its io_context destroyed mid-sleep): the owner's destructor must
    // not notify what is gone.
    if (*site_.waiting == &poll_ || (waiter_ && *site_.waiting == &waiter_->signal)) {
        *site_.waiting = nullptr;
    }
    if (!waiter_) return;
    const auto departure = subscriber_->unwatch(waiter_);
    // Our success already updated the queue; otherwise the last local waiter takes this
    // process out of it (and passes on a wake-up it did not use). A waiter that registered for
    // a direct hand-off withdraws that too, and hands on a lock given to its token.
    const std::string& registered = waiter_->registered_token;
    if (!acquired_ && departure.last_for_lock) {
        leave_queue_later(site_, waiter_->inbox, departure.unused_wakeup, registered);
        if (departure.unused_wakeup && site_.events) site_.events->wakeup_passed_on();
    } else if (!acquired_ && !registered.empty()) {
        leave_queue_later(site_, waiter_->inbox, false, registered, true);
    }
}

bool WaitRoom::listening() {
    if (!wakeups_) return false;
    Subscriber& candidate = wakeup_subscriber(*site_.client, site_.name);
    if (!candidate.ready_for(site_.name)) return false;
    subscriber_ = &candidate;
    return true;
}

asio::awaitable<void> WaitRoom::enter_listening() {
    waiter_ = co_await subscriber_->watch(site_.name, command_deadline());
}

asio::awaitable<bool> WaitRoom::enter(std::optional<Deadline> deadline) {
    try {
        subscriber_ = &wakeup_subscriber(*site_.client, site_.name);
        auto watch_deadline = command_deadline();
        if (deadline) watch_deadline = std::min(watch_deadline, *deadline);
        waiter_ = co_await subscriber_->watch(site_.name, watch_deadline);
        co_return true;
    } catch (const Error&) {
        // No notifications: fall back to polling. Local to this wait: a release still wakes
        // the waiters of other processes.
        wakeups_ = false;
        co_return false;
    }
}

void WaitRoom::offer_direct_handoff(std::string token, std::optional<std::chrono::milliseconds> ttl,
                                    bool fencing) {
    offered_token_ = std::move(token);
    offer_ = HandoffRegistration{{}, ttl, fencing, 0};
}

std::optional<QueueTicket> WaitRoom::ticket() {
    if (!waiter_) return std::nullopt;
    QueueTicket ticket{waiter_->inbox, subscriber_->others_waiting(*waiter_), woken_, std::nullopt};
    // Only the oldest local waiter registers: the process's own FIFO picks who is handed the
    // lock, and it stays the oldest until it leaves.
    if (offer_ && subscriber_->oldest_for_lock(*waiter_)) {
        registered_at_.push_back(Clock::now());  // no later than the attempt's send
        waiter_->registered_token = offered_token_;
        ticket.registration = *offer_;
        ticket.registration->token = offered_token_;
        ticket.registration->seq = registered_at_.size();
    }
    return ticket;
}

std::optional<WaitRoom::Handed> WaitRoom::take_handoff() {
    if (!waiter_ || !waiter_->handed) return std::nullopt;
    const Subscriber::Waiter::Handed handed = *std::exchange(waiter_->handed, std::nullopt);
    if (handed.seq == 0 || handed.seq > registered_at_.size() || handed.px <= 0)
        return std::nullopt;  // not a registration of ours: the next attempt finds out
    // The key was set after the server ran that attempt, so it lives until at least its send
    // time + PX; less a drift for the two clocks' rates (Redlock's 1% + 2 ms).
    const std::chrono::milliseconds px(handed.px);
    const auto drift = px / 100 + std::chrono::milliseconds(2);
    return Handed{handed.fence, px, registered_at_[handed.seq - 1] + px - drift};
}

asio::awaitable<void> WaitRoom::sleep(Clock::duration poll, std::optional<Deadline> deadline) {
    auto poll_at = Clock::now() + poll;
    const auto bounded = [&](Deadline at) { return deadline ? std::min(at, *deadline) : at; };
    if (!waiter_ || !oldest_polls_only_) {
        co_await sleep(bounded(poll_at));
        co_return;
    }
    *site_.waiting = &waiter_->signal;
    woken_ = false;
    for (;;) {
        // Not the oldest: only a wake-up, the deadline, or becoming the oldest end the sleep.
        // A day stands for "no deadline": then the wait just polls once more.
        const Deadline until = subscriber_->oldest_for_lock(*waiter_)
                                   ? bounded(poll_at)
                                   : bounded(Clock::now() + std::chrono::hours(24));
        const auto outcome = co_await subscriber_->wait(*waiter_, until);
        if (outcome.woken) {
            woken_ = true;
            break;
        }
        if (!outcome.promoted) break;  // the poll, the deadline, or the owner ended the wait
        poll_at = std::max(poll_at, Clock::now() + poll);  // the oldest now: it polls from here
    }
    *site_.waiting = nullptr;
}

asio::awaitable<void> WaitRoom::sleep(Deadline until) {
    if (waiter_) {
        *site_.waiting = &waiter_->signal;
        for (;;) {
            const auto outcome = co_await subscriber_->wait(*waiter_, until);
            woken_ = outcome.woken;
            // Becoming the oldest changes nothing here: every waiter of this room polls.
            if (woken_ || !outcome.promoted || Clock::now() >= until) break;
        }
    } else {
        *site_.waiting = &poll_;
        co_await poll_.wait(until);
    }
    *site_.waiting = nullptr;
}

}  // namespace dlock::detail
