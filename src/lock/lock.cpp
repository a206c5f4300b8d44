// The Lock's public operations: validation, the acquisition loop (waiting by wake-ups or
// polling), release, extend, and the queries. The steps live in lock_acquire.cpp and
// lock_renewal.cpp (see lock_state.hpp).
#include "dlock/lock.hpp"

#include <asio.hpp>

#include "lock/lock_state.hpp"
#include "lock/replication.hpp"
#include "lock/wakeups.hpp"
#include "net/subscriber.hpp"
#include "protocol/keys.hpp"
#include "protocol/slots.hpp"
#include "protocol/token.hpp"

namespace dlock {

using detail::Clock;
using detail::Deadline;
using detail::LockState;
using std::chrono::milliseconds;

Lock::Lock(Client& client, std::string name, LockOptions options)
    : state_(std::make_shared<LockState>()) {
    if (name.empty()) throw std::invalid_argument("name must not be empty");
    LockState& s = *state_;
    s.client = &detail::backend_of(client);
    s.name = std::move(name);
    if (options.timeout) {
        s.timeout = detail::to_ms(*options.timeout, "timeout");
        if (*s.timeout < milliseconds(1))
            throw std::invalid_argument("timeout must be at least 1 ms");
    }
    s.sleep = detail::to_ms(options.sleep, "sleep");
    if (s.timeout && options.sleep > *options.timeout) {
        throw std::invalid_argument("sleep (" + std::to_string(options.sleep.count()) +
                                    " s) must not be greater than timeout (" +
                                    std::to_string(options.timeout->count()) + " s)");
    }
    if (options.blocking_timeout) detail::to_ms(*options.blocking_timeout, "blocking_timeout");
    s.command_timeout = detail::to_ms(options.command_timeout, "command_timeout");
    if (s.command_timeout < milliseconds(1))
        throw std::invalid_argument("command_timeout must be at least 1 ms");
    s.replication_timeout = std::max(
        milliseconds(1), detail::to_ms(options.replication_timeout, "replication_timeout"));
    if (options.auto_renew) {
        if (!s.timeout) throw std::invalid_argument("auto_renew needs a timeout");
        s.renew_interval = options.renew_interval
                               ? detail::to_ms(*options.renew_interval, "renew_interval")
                               : *s.timeout / 3;
        if (s.renew_interval < milliseconds(1))
            throw std::invalid_argument("renew_interval must be at least 1 ms");
        // The lock would expire before its first renewal.
        if (s.renew_interval >= *s.timeout) {
            throw std::invalid_argument(
                "renew_interval (" + std::to_string(s.renew_interval.count()) +
                " ms) must be less than timeout (" + std::to_string(s.timeout->count()) + " ms)");
        }
    }
    s.queue_key = detail::wait_queue_key(s.name);
    s.queue_ttl = std::max(milliseconds(60000), s.sleep * 3);
    s.fence_key = detail::fence_key(s.name);
    s.options = std::move(options);
}

Lock::~Lock() {
    // An acquire() still waiting (it keeps the state alive) gives up now, without the lock.
    state_->abandoned = true;
    if (state_->waiting) state_->waiting->cancel();
    detail::stop_renewal(*state_);
    detail::wake_lost_waiters(*state_, state_->lost);
}

asio::awaitable<bool> Lock::acquire() {
    return acquire(WaitPolicy{state_->options.blocking, state_->options.blocking_timeout});
}

asio::awaitable<bool> Lock::acquire(WaitPolicy wait) {
    const bool blocking = wait.blocking;
    const std::optional<Seconds> blocking_timeout = wait.blocking_timeout;
    auto state = state_;  // keeps the state alive across suspensions
    LockState& s = *state;
    detail::LockBusy busy(s);
    std::optional<Deadline> deadline;
    if (blocking_timeout)
        deadline = Clock::now() + detail::to_ms(*blocking_timeout, "blocking_timeout");

    if (s.token) {
        const Request get({"GET", s.name});
        Reply current =
            (co_await s.client->execute_for_key(s.name, get, s.command_deadline())).front();
        if (current.is_string() && current.str == *s.token) {
            if (!s.lost) {
                throw LockError("lock '" + s.name + "' is already held by this object", s.name);
            }
            // A false "lost" (renewals failed, yet the key is still ours): delete it, token-
            // checked, rather than wait for our own stale key to expire.
            const detail::ScriptCall call = detail::release_call(s.name, *s.token, "");
            (co_await detail::eval(*s.client, call, s.command_deadline())).value();
        }
        detail::stop_renewal(s);
        s.token.reset();
        // That hold ended without a release (expired, or taken over): it was lost, and its
        // wait_lost() callers learn it now, not at the end of the new hold.
        detail::wake_lost_waiters(s, true);
    }
    s.lost = false;
    s.release_in_doubt = false;
    s.fence.reset();

    const std::string token = detail::make_token();
    detail::Subscriber* subscriber = nullptr;
    detail::Subscriber::WaiterPtr waiter;
    bool acquired = false;
    struct Unwatch {  // leaves the wait on every way out, exceptions included
        std::shared_ptr<LockState>& state;
        detail::Subscriber*& subscriber;
        detail::Subscriber::WaiterPtr& waiter;
        bool& acquired;
        ~Unwatch() {
            if (!waiter) return;
            const auto departure = subscriber->unwatch(waiter);
            // Our success already updated the queue; otherwise the last local waiter takes this
            // process out of it (and passes on a wake-up it did not use).
            if (!acquired && departure.last_for_lock) {
                detail::leave_queue_later(state, waiter->inbox, departure.unused_wakeup);
            }
        }
    } unwatch{state, subscriber, waiter, acquired};
    asio::steady_timer poll(s.client->get_executor());
    // Local: a failed subscription makes this wait poll, but must not stop release() from
    // waking the waiters of other processes.
    bool use_wakeups = s.options.wake_on_release && blocking;
    if (use_wakeups) {
        // Already listening (another wait in this process, or a recent one): queue from the
        // first attempt on, saving the plain SET that would fail.
        detail::Subscriber& candidate = detail::wakeup_subscriber(*s.client, s.name);
        if (candidate.ready_for(s.name)) {
            subscriber = &candidate;
            waiter = co_await subscriber->watch(s.name, s.command_deadline());
        }
    }

    bool woken = false;  // the last wait ended with a wake-up
    for (;;) {
        std::optional<detail::QueueTicket> ticket;
        if (waiter) {
            ticket = detail::QueueTicket{waiter->inbox, subscriber->others_waiting(*waiter), woken};
        }
        if (co_await detail::try_acquire(s, token, deadline, ticket ? &*ticket : nullptr)) {
            acquired = true;
            s.token = token;
            if (s.options.auto_renew) {
                asio::co_spawn(s.client->get_executor(),
                               detail::renew_loop(state, s.hold_generation, token, s.attempt_sent),
                               asio::detached);
            }
            co_return true;
        }
        if (!blocking || s.abandoned) co_return false;
        const auto now = Clock::now();
        if (deadline && now >= *deadline) co_return false;
        if (!waiter && use_wakeups) {
            // Subscribe, then try again (queueing) before waiting: a release in between is
            // not missed.
            try {
                subscriber = &detail::wakeup_subscriber(*s.client, s.name);
                auto watch_deadline = s.command_deadline();
                if (deadline) watch_deadline = std::min(watch_deadline, *deadline);
                waiter = co_await subscriber->watch(s.name, watch_deadline);
                continue;
            } catch (const Error&) {
                // No notifications (e.g. pub/sub refused by ACL): fall back to polling.
                use_wakeups = false;
            }
        }
        auto wake_at = now + s.sleep;
        if (deadline) wake_at = std::min(wake_at, *deadline);  // never sleep past the deadline
        if (waiter) {
            s.waiting = &waiter->timer;
            woken = co_await subscriber->wait(*waiter, wake_at);
        } else {
            s.waiting = &poll;
            poll.expires_at(wake_at);
            co_await poll.async_wait(detail::use_tuple);
        }
        s.waiting = nullptr;
        if (s.abandoned) co_return false;
    }
}

asio::awaitable<void> Lock::release() {
    auto state = state_;
    LockState& s = *state;
    detail::LockBusy busy(s);
    if (!s.token) {
        throw LockReleaseError("cannot release lock '" + s.name + "': not acquired by this object",
                               s.name);
    }
    detail::stop_renewal(s);  // no renewal is sent after this point
    // The token is forgotten only once the server answered: a release that fails on the
    // network can be retried. Whatever this object's own wait mode, the release wakes the
    // first queued process.
    const detail::ScriptCall call = detail::release_call(s.name, *s.token, s.publish());
    Reply reply;
    try {
        reply = co_await detail::eval(*s.client, call, s.command_deadline());
        reply.value();
    } catch (const ServerError&) {
        throw;  // refused by the server: nothing was done
    } catch (...) {
        // Timed out, cancelled, or the connection dropped: the script may have run (or still
        // run when the server catches up), so a retry may find the key gone because of this
        // very attempt.
        s.release_in_doubt = true;
        throw;
    }
    const bool in_doubt = std::exchange(s.release_in_doubt, false);
    s.token.reset();
    s.fence.reset();
    detail::wake_lost_waiters(s, false);
    if (reply.integer != 1) {
        throw LockReleaseError("cannot release lock '" + s.name + "': no longer owned (" +
                                   (in_doubt ? "an earlier release() that failed may have "
                                               "released it, or it expired or was taken over)"
                                             : "it expired or was taken over)"),
                               s.name);
    }
}

asio::awaitable<bool> Lock::extend(Seconds additional_time, ExtendMode mode) {
    auto state = state_;
    LockState& s = *state;
    detail::LockBusy busy(s);
    const milliseconds ms = detail::to_ms(additional_time, "additional_time");
    if (mode == ExtendMode::replace && ms < milliseconds(1)) {
        throw std::invalid_argument(
            "additional_time must be at least 1 ms with ExtendMode::replace");
    }
    if (!s.token) {
        throw LockExtensionError("cannot extend lock '" + s.name + "': not acquired by this object",
                                 s.name);
    }
    if (!s.timeout) {
        throw LockExtensionError("cannot extend lock '" + s.name + "': it has no timeout", s.name);
    }
    const detail::ScriptCall call = detail::extend_call(
        s.name, *s.token, ms,
        mode == ExtendMode::add ? detail::TtlChange::add : detail::TtlChange::replace);
    Reply reply = co_await detail::eval(*s.client, call, s.command_deadline());
    reply.value();
    if (reply.integer != 1) {
        throw LockExtensionError(
            "cannot extend lock '" + s.name + "': no longer owned (it expired or was taken over)",
            s.name);
    }
    co_return true;
}

asio::awaitable<bool> Lock::reacquire() {
    if (!state_->timeout) {
        throw LockExtensionError("cannot reacquire lock '" + state_->name + "': it has no timeout",
                                 state_->name);
    }
    co_return co_await extend(Seconds(*state_->timeout), ExtendMode::replace);
}

asio::awaitable<bool> Lock::locked() {
    auto state = state_;
    detail::LockBusy busy(*state);
    const Request exists({"EXISTS", state->name});
    auto replies =
        co_await state->client->execute_for_key(state->name, exists, state->command_deadline());
    co_return replies.front().value().integer == 1;
}

asio::awaitable<bool> Lock::owned() {
    auto state = state_;
    detail::LockBusy busy(*state);
    if (!state->token || state->lost) co_return false;
    const Request get({"GET", state->name});
    auto replies =
        co_await state->client->execute_for_key(state->name, get, state->command_deadline());
    const Reply& value = replies.front().value();
    co_return value.is_string() && state->token&& value.str == *state->token;
}

asio::awaitable<LockTtl> Lock::ttl() {
    auto state = state_;
    detail::LockBusy busy(*state);
    const Request pttl({"PTTL", state->name});
    auto replies =
        co_await state->client->execute_for_key(state->name, pttl, state->command_deadline());
    const long long ms = replies.front().value().integer;
    LockTtl out;
    out.held = ms != -2;
    if (ms >= 0) out.remaining = std::chrono::duration_cast<Seconds>(milliseconds(ms));
    co_return out;
}

asio::awaitable<std::size_t> Lock::waiting() {
    auto state = state_;
    detail::LockBusy busy(*state);
    const Request zcard({"ZCARD", state->queue_key});
    auto replies = co_await state->client->execute_for_key(state->queue_key, zcard,
                                                           state->command_deadline());
    const long long count = replies.front().value().integer;
    co_return count > 0 ? static_cast<std::size_t>(count) : 0;
}

void Lock::adopt(std::string token) {
    if (token.empty()) throw std::invalid_argument("token must not be empty");
    LockState& s = *state_;
    detail::LockBusy busy(s);
    if (s.token) throw LockError("lock '" + s.name + "' is already held by this object", s.name);
    detail::stop_renewal(s);
    s.lost = false;
    s.release_in_doubt = false;
    s.fence.reset();
    s.token = std::move(token);
}

asio::awaitable<bool> Lock::wait_lost() {
    auto state = state_;
    if (state->lost) co_return true;
    if (!state->token) co_return false;
    auto waiter = std::make_shared<LockState::LostWaiter>(state->client->get_executor());
    state->lost_waiters.push_back(waiter);
    co_await waiter->timer.async_wait(detail::use_tuple);
    co_return waiter->lost.value_or(state->lost);
}

std::size_t Lock::replication_factor() const {
    return detail::replication_factor(state_->client->replicas_of(state_->name));
}
const std::string& Lock::name() const noexcept {
    return state_->name;
}
const std::optional<std::string>& Lock::token() const noexcept {
    return state_->token;
}
std::optional<std::int64_t> Lock::fence() const noexcept {
    return state_->fence;
}
bool Lock::lost() const noexcept {
    return state_->lost;
}
std::uint64_t Lock::replication_shortfalls() const noexcept {
    return state_->shortfalls;
}
const LockOptions& Lock::options() const noexcept {
    return state_->options;
}

}  // namespace dlock
