// The Lock: acquisition loop, token-checked release/extend, replication check, auto-renewal.
#include "dlock/lock.hpp"

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <cmath>

#include "dlock/detail/scripts.hpp"
#include "dlock/detail/slots.hpp"
#include "dlock/detail/subscriber.hpp"
#include "dlock/detail/token.hpp"

namespace dlock::detail {

using std::chrono::milliseconds;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
// Script arguments as named views: GCC 12 cannot keep string-literal temporaries alive across
// co_await ("array used as initializer"), so literals never appear in awaited expressions.
constexpr std::string_view not_queueing = "";
constexpr std::string_view fencing_on = "1";
constexpr std::string_view fencing_off = "0";
constexpr std::string_view stay_queued = "stay";
constexpr std::string_view leave_queue = "leave";
constexpr std::string_view wakeup_unused = "1";
constexpr std::string_view wakeup_none = "0";
constexpr std::string_view mode_add = "add";
constexpr std::string_view mode_replace = "replace";

struct LockState {
    Client* client = nullptr;
    std::string name;
    LockOptions options;
    std::optional<milliseconds> timeout;
    milliseconds sleep{100};
    milliseconds command_timeout{5000};
    milliseconds replication_timeout{100};
    milliseconds renew_interval{0};
    std::string fence_key;  // fencing counter, same slot as the key
    std::string queue_key;  // wait queue of processes (see subscriber.hpp), same slot
    std::string queue_ttl;  // ms: a queue whose waiters all died expires by itself

    std::optional<std::string> token;
    std::optional<std::int64_t> fence;
    bool busy = false;
    bool lost = false;
    std::uint64_t shortfalls = 0;
    std::uint64_t hold_generation = 0;  // bumped on acquire/release/destroy: stops renewals
    std::shared_ptr<asio::steady_timer> renew_timer;
    std::vector<std::shared_ptr<asio::steady_timer>> lost_waiters;

    Deadline command_deadline() const { return Clock::now() + command_timeout; }
    std::string_view publish() const { return publish_command(client->is_cluster()); }
};

// Where a blocked acquire stands in the wait queue: its process's inbox, and whether other
// local waiters on the same lock stay queued after it succeeds.
struct QueueTicket {
    std::string_view inbox;
    bool others_waiting = false;
};

namespace {

// Validates a duration option and converts it to whole milliseconds (rounded up, so a
// positive duration never becomes 0).
milliseconds to_ms(Seconds value, const char* field) {
    const double seconds = value.count();
    if (std::isnan(seconds) || std::isinf(seconds)) {
        throw std::invalid_argument(std::string(field) + " must be a finite duration");
    }
    if (seconds < 0) throw std::invalid_argument(std::string(field) + " must not be negative");
    if (seconds > 1e9) throw std::invalid_argument(std::string(field) + " is too large");
    return milliseconds(static_cast<long long>(std::ceil(seconds * 1000.0 - 1e-9)));
}

// Marks the object busy for one operation (see the concurrency contract in lock.hpp).
class BusyGuard {
  public:
    explicit BusyGuard(LockState& state) : state_(state) {
        if (state_.busy) {
            throw std::logic_error("dlock::Lock '" + state_.name +
                                   "': another operation on this object is in progress");
        }
        state_.busy = true;
    }
    ~BusyGuard() { state_.busy = false; }
    BusyGuard(const BusyGuard&) = delete;
    BusyGuard& operator=(const BusyGuard&) = delete;

  private:
    LockState& state_;
};

// EVALSHA, and EVAL once on NOSCRIPT. Error replies throw ServerError. `send_source`: EVAL
// straight away, for calls whose effect matters even when nobody waits for the reply (a
// NOSCRIPT that arrives after the deadline would leave the work undone, with no retry).
asio::awaitable<Reply> run_script(LockState& state, const Script& script,
                                  const std::vector<std::string_view>& keys,
                                  const std::vector<std::string_view>& args, Deadline deadline,
                                  std::shared_ptr<Connection>* used = nullptr,
                                  bool send_source = false) {
    for (int attempt = send_source ? 1 : 0; attempt < 2; ++attempt) {
        const bool full = attempt == 1;
        Request request;
        push_script(request, script, keys, args, full);
        auto replies = co_await state.client->execute_for_key(state.name, request, deadline, used);
        Reply& reply = replies.front();
        if (!full && reply.is_error() && reply.str.rfind("NOSCRIPT", 0) == 0) continue;
        reply.value();
        co_return std::move(reply);
    }
    throw ProtocolError("unreachable: script retry loop");
}

void wake_lost_waiters(LockState& state) {
    for (auto& waiter : std::exchange(state.lost_waiters, {})) waiter->cancel();
}

void stop_renewal(LockState& state) {
    ++state.hold_generation;
    if (state.renew_timer) state.renew_timer->cancel();
    state.renew_timer.reset();
}

void mark_lost(LockState& state) {
    state.lost = true;
    wake_lost_waiters(state);
    if (state.options.on_lost) state.options.on_lost();
}

// Token-checked delete used to undo an acquisition that must not count. Best effort: if it
// fails, the key still expires by its PX. Sent as EVAL: after a timed-out SET it is queued
// behind that SET on the same connection and may run long after we stopped waiting, when a
// NOSCRIPT reply could no longer be answered with a retry (the key would stay, unknown to all).
asio::awaitable<void> roll_back(LockState& state, const std::string& token) {
    try {
        const std::vector<std::string_view> keys{state.name},
            args{token, state.publish(), state.name, state.queue_key};
        co_await run_script(state, release_script(), keys, args, state.command_deadline(), nullptr,
                            true);
    } catch (const std::exception&) {
    }
}

// One renewal (extend to the full timeout). Not run_script(): its NOSCRIPT retry could reach
// the server after release() returned. Returns nothing when the hold ended meanwhile.
asio::awaitable<std::optional<Reply>> renew_once(LockState& state, std::uint64_t generation,
                                                 const std::string& token, Deadline deadline) {
    const std::string ms = std::to_string(state.timeout->count());
    const std::vector<std::string_view> keys{state.name}, args{token, ms, mode_replace};
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool full = attempt == 1;
        Request request;
        push_script(request, extend_script(), keys, args, full);
        auto replies = co_await state.client->execute_for_key(state.name, request, deadline);
        if (state.hold_generation != generation) co_return std::nullopt;
        Reply& reply = replies.front();
        if (!full && reply.is_error() && reply.str.rfind("NOSCRIPT", 0) == 0) continue;
        reply.value();
        co_return std::move(reply);
    }
    throw ProtocolError("unreachable: script retry loop");
}

asio::awaitable<void> renew_loop(std::shared_ptr<LockState> state, std::uint64_t generation,
                                 std::string token) {
    // Spawned, so it starts later: the lock may already be released or destroyed (then the
    // client may be gone too). Touch nothing and leave no timer behind in that case.
    if (state->hold_generation != generation) co_return;
    const milliseconds ttl = *state->timeout;
    auto expires = Clock::now() + ttl;  // as far as we know, when the key expires
    auto timer = std::make_shared<asio::steady_timer>(state->client->get_executor());
    state->renew_timer = timer;
    milliseconds interval = state->renew_interval;
    for (;;) {
        timer->expires_after(interval);
        co_await timer->async_wait(use_tuple);
        if (state->hold_generation != generation) co_return;
        const auto sent = Clock::now();
        try {
            const std::optional<Reply> reply = co_await renew_once(
                *state, generation, token, std::min(state->command_deadline(), expires));
            if (!reply) co_return;  // released or destroyed meanwhile
            if (reply->integer != 1) {
                mark_lost(*state);
                co_return;
            }
            expires = sent + ttl;
            interval = state->renew_interval;
        } catch (const std::exception&) {
            if (state->hold_generation != generation) co_return;
            if (Clock::now() >= expires) {
                mark_lost(*state);
                co_return;
            }
            // Try again soon, while the key may still be alive.
            const auto left = std::chrono::duration_cast<milliseconds>(expires - Clock::now());
            interval = std::max(milliseconds(1), std::min(state->renew_interval, left / 4));
        }
    }
}

// Takes this process's inbox out of the lock's wait queue, in the background (called from a
// destructor). Best effort: a stale entry is skipped by the next release (nobody receives the
// wake-up) and the queue expires with its TTL.
void leave_queue_later(const std::shared_ptr<LockState>& state, std::string inbox,
                       bool unused_wakeup) {
    asio::co_spawn(
        state->client->get_executor(),
        [state, inbox = std::move(inbox), unused_wakeup]() -> asio::awaitable<void> {
            try {
                const std::vector<std::string_view> keys{state->name},
                    args{inbox, state->publish(), state->name,
                         unused_wakeup ? wakeup_unused : wakeup_none, state->queue_key};
                co_await run_script(*state, leave_queue_script(), keys, args,
                                    state->command_deadline());
            } catch (const std::exception&) {
            }
        },
        asio::detached);
}

// One acquisition attempt, then WAIT on a cluster. A plain SET NX when nobody waits and
// fencing is off (the uncontended path); otherwise the acquire script, which also queues the
// waiter's process when the lock is held.
asio::awaitable<bool> try_acquire(LockState& state, const std::string& token,
                                  std::optional<Deadline> deadline, const QueueTicket* ticket) {
    const std::string px = state.timeout ? std::to_string(state.timeout->count()) : "0";
    std::shared_ptr<Connection> used;
    Reply reply;
    std::exception_ptr failure;
    try {
        if (state.options.fencing || ticket) {
            std::vector<std::string_view> keys{state.name};
            if (state.options.fencing) keys.push_back(state.fence_key);
            const std::vector<std::string_view> args{
                token,
                px,
                state.options.fencing ? fencing_on : fencing_off,
                ticket ? ticket->inbox : not_queueing,
                state.queue_ttl,
                ticket && ticket->others_waiting ? stay_queued : leave_queue,
                state.queue_key};
            reply = co_await run_script(state, acquire_script(), keys, args,
                                        state.command_deadline(), &used);
        } else {
            Request request;
            if (state.timeout) {
                request.push({"SET", state.name, token, "NX", "PX", px});
            } else {
                request.push({"SET", state.name, token, "NX"});
            }
            auto replies = co_await state.client->execute_for_key(state.name, request,
                                                                  state.command_deadline(), &used);
            reply = std::move(replies.front());
            reply.value();
        }
    } catch (const ServerError&) {
        throw;  // the server refused the command: nothing was written
    } catch (const std::exception&) {
        failure = std::current_exception();
    }
    if (failure) {
        // Timed out or dropped: the SET may have been applied. Remove it if it is ours, so no
        // lock nobody knows about is left behind (with no timeout it would never expire).
        co_await roll_back(state, token);
        std::rethrow_exception(failure);
    }
    if (reply.is_nil()) co_return false;  // held by someone else: never WAIT after a failed SET
    if (state.options.fencing) state.fence = reply.integer;

    const std::size_t needed = (state.client->replicas_of(state.name) + 1) / 2;
    if (needed > 0 && used) {
        milliseconds wait_for = state.replication_timeout;
        if (deadline) {
            const auto left = std::chrono::duration_cast<milliseconds>(*deadline - Clock::now());
            wait_for = std::min(wait_for, left);
        }
        wait_for = std::max(wait_for, milliseconds(1));  // WAIT n 0 would block forever
        Request wait({"WAIT", std::to_string(needed), std::to_string(wait_for.count())});
        long long confirmed = -1;
        try {
            auto replies =
                co_await used->execute(wait, Clock::now() + wait_for + state.command_timeout);
            confirmed = replies.front().value().integer;
        } catch (const std::exception&) {
            failure = std::current_exception();
        }
        if (failure || confirmed < static_cast<long long>(needed)) {
            co_await roll_back(state, token);
            state.fence.reset();
            if (failure) std::rethrow_exception(failure);
            ++state.shortfalls;
            if (state.options.on_replication_shortfall) {
                state.options.on_replication_shortfall({state.name, needed, confirmed});
            }
            co_return false;
        }
    }
    co_return true;
}

}  // namespace
}  // namespace dlock::detail

namespace dlock {

using detail::Clock;
using detail::Deadline;
using detail::LockState;
using std::chrono::milliseconds;

Lock::Lock(Client& client, std::string name, LockOptions options)
    : state_(std::make_shared<LockState>()) {
    if (name.empty()) throw std::invalid_argument("name must not be empty");
    LockState& s = *state_;
    s.client = &client;
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
    }
    s.queue_key = detail::wait_queue_key(s.name);
    s.queue_ttl = std::to_string(std::max(milliseconds(60000), s.sleep * 3).count());
    s.fence_key = detail::companion_key("dlock:fence:", s.name);
    s.options = std::move(options);
}

Lock::~Lock() {
    detail::stop_renewal(*state_);
    detail::wake_lost_waiters(*state_);
}

asio::awaitable<bool> Lock::acquire() {
    return acquire(state_->options.blocking, state_->options.blocking_timeout);
}

asio::awaitable<bool> Lock::acquire(bool blocking, std::optional<Seconds> blocking_timeout) {
    auto state = state_;  // keeps the state alive across suspensions
    LockState& s = *state;
    detail::BusyGuard busy(s);
    std::optional<Deadline> deadline;
    if (blocking_timeout)
        deadline = Clock::now() + detail::to_ms(*blocking_timeout, "blocking_timeout");

    if (s.token) {
        const detail::Request get({"GET", s.name});
        Reply current =
            (co_await s.client->execute_for_key(s.name, get, s.command_deadline())).front();
        if (current.is_string() && current.str == *s.token && !s.lost) {
            throw LockError("lock '" + s.name + "' is already held by this object", s.name);
        }
        detail::stop_renewal(s);
        s.token.reset();
    }
    s.lost = false;
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
        detail::Subscriber& candidate = s.client->subscriber_for(s.name);
        if (candidate.ready_for(s.name)) {
            subscriber = &candidate;
            waiter = co_await subscriber->watch(s.name, s.command_deadline());
        }
    }

    for (;;) {
        std::optional<detail::QueueTicket> ticket;
        if (waiter)
            ticket = detail::QueueTicket{waiter->inbox, subscriber->others_waiting(*waiter)};
        if (co_await detail::try_acquire(s, token, deadline, ticket ? &*ticket : nullptr)) {
            acquired = true;
            s.token = token;
            if (s.options.auto_renew) {
                asio::co_spawn(s.client->get_executor(),
                               detail::renew_loop(state, s.hold_generation, token), asio::detached);
            }
            co_return true;
        }
        if (!blocking) co_return false;
        const auto now = Clock::now();
        if (deadline && now >= *deadline) co_return false;
        if (!waiter && use_wakeups) {
            // Subscribe, then try again (queueing) before waiting: a release in between is
            // not missed.
            try {
                subscriber = &s.client->subscriber_for(s.name);
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
            co_await subscriber->wait(*waiter, wake_at);
        } else {
            poll.expires_at(wake_at);
            co_await poll.async_wait(detail::use_tuple);
        }
    }
}

asio::awaitable<void> Lock::release() {
    auto state = state_;
    LockState& s = *state;
    detail::BusyGuard busy(s);
    if (!s.token) {
        throw LockReleaseError("cannot release lock '" + s.name + "': not acquired by this object",
                               s.name);
    }
    detail::stop_renewal(s);  // no renewal is sent after this point
    // The token is forgotten only once the server answered: a release that fails on the
    // network can be retried.
    // Whatever this object's own wait mode, the release wakes the first queued process.
    const std::vector<std::string_view> keys{s.name},
        args{*s.token, s.publish(), s.name, s.queue_key};
    Reply reply =
        co_await detail::run_script(s, detail::release_script(), keys, args, s.command_deadline());
    s.token.reset();
    s.fence.reset();
    detail::wake_lost_waiters(s);
    if (reply.integer != 1) {
        throw LockReleaseError(
            "cannot release lock '" + s.name + "': no longer owned (it expired or was taken over)",
            s.name);
    }
}

asio::awaitable<bool> Lock::extend(Seconds additional_time, ExtendMode mode) {
    auto state = state_;
    LockState& s = *state;
    detail::BusyGuard busy(s);
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
    const std::string ms_text = std::to_string(ms.count());
    const std::vector<std::string_view> keys{s.name},
        args{*s.token, ms_text, mode == ExtendMode::add ? detail::mode_add : detail::mode_replace};
    Reply reply =
        co_await detail::run_script(s, detail::extend_script(), keys, args, s.command_deadline());
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
    detail::BusyGuard busy(*state);
    const detail::Request exists({"EXISTS", state->name});
    auto replies =
        co_await state->client->execute_for_key(state->name, exists, state->command_deadline());
    co_return replies.front().value().integer == 1;
}

asio::awaitable<bool> Lock::owned() {
    auto state = state_;
    detail::BusyGuard busy(*state);
    if (!state->token || state->lost) co_return false;
    const detail::Request get({"GET", state->name});
    auto replies =
        co_await state->client->execute_for_key(state->name, get, state->command_deadline());
    const Reply& value = replies.front().value();
    co_return value.is_string() && state->token&& value.str == *state->token;
}

asio::awaitable<bool> Lock::wait_lost() {
    auto state = state_;
    if (state->lost) co_return true;
    if (!state->token) co_return false;
    auto timer = std::make_shared<asio::steady_timer>(state->client->get_executor(),
                                                      Clock::time_point::max());
    state->lost_waiters.push_back(timer);
    co_await timer->async_wait(detail::use_tuple);
    co_return state->lost;
}

std::size_t Lock::replication_factor() const {
    return (state_->client->replicas_of(state_->name) + 1) / 2;
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
