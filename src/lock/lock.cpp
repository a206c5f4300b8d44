// The Lock's public operations: release, extend, and the queries. The acquisition (the loop
// and its attempts) lives in acquire.cpp and renewal in renewal.cpp, shared with the other
// kinds; the spec (validation) and the hold (its transitions) in lock_state.hpp, hold.hpp.
#include "dlock/lock.hpp"

#include <asio.hpp>

#include "lock/lock_state.hpp"
#include "protocol/keys.hpp"

namespace dlock {

using detail::Clock;
using detail::Deadline;
using detail::LockState;
using std::chrono::milliseconds;

Lock::Lock(Client& client, std::string name, LockOptions options)
    : state_(std::make_shared<LockState>(detail::shared_backend_of(client), std::move(name),
                                         std::move(options))) {}

Lock::~Lock() {
    detail::abandon(*state_);  // an acquire() still waiting gives up now, without the lock
}

asio::awaitable<bool> Lock::acquire() {
    return acquire(
        WaitPolicy{state_->spec.options.blocking, state_->spec.options.blocking_timeout});
}

asio::awaitable<bool> Lock::acquire(WaitPolicy wait) {
    return detail::acquire(state_, wait);
}

asio::awaitable<void> Lock::release() {
    auto state = state_;
    LockState& s = *state;
    detail::LockBusy busy(s);
    if (!s.hold.token()) {
        throw LockReleaseError(
            "cannot release lock '" + s.spec.name + "': not acquired by this object", s.spec.name);
    }
    s.hold.stop_renewal();  // no renewal is sent after this point
    // The token is forgotten only once the server answered: a release that fails on the
    // network can be retried. Whatever this object's own wait mode, the release wakes the
    // first queued process.
    const detail::ReleaseCall call = detail::release_call(
        s.spec.name, *s.hold.token(), s.spec.publish(), s.spec.options.record_holder);
    Reply reply;
    std::shared_ptr<detail::Connection> used;
    try {
        reply = co_await detail::eval(*s.spec.client, call, s.spec.command_deadline(),
                                      detail::EvalMode::cached_first, &used);
        reply.value();
    } catch (const ServerError&) {
        // Refused by the server: nothing was done, the hold goes on (and so does its renewal,
        // which reports a loss as for any hold; docs/semantics.md §7.3).
        if (!s.abandoned) detail::start_renewal(state);
        throw;
    } catch (...) {
        // Timed out, cancelled, or the connection dropped: the script may have run (or still
        // run when the server catches up), so a retry may find the key gone because of this
        // very attempt. Renewal resumes (token-checked): if the release did run, it finds the
        // key gone and the holder hears "lost"; if not, the hold is kept alive until a retry.
        s.hold.release_failed();
        if (!s.abandoned) detail::start_renewal(state);
        throw;
    }
    const bool in_doubt = s.hold.release_in_doubt();
    // Found gone (and not by an earlier attempt of ours): the hold was lost, and its wait_lost()
    // callers hear so.
    s.hold.end(reply.integer != 1 && !in_doubt ? std::optional(LostReason::release_found_gone)
                                               : std::nullopt);
    if (reply.integer != 1) {
        throw LockReleaseError("cannot release lock '" + s.spec.name + "': no longer owned (" +
                                   (in_doubt ? "an earlier release() that failed may have "
                                               "released it, or it expired or was taken over)"
                                             : "it expired or was taken over)"),
                               s.spec.name);
    }
    // Released: the key is gone on the primary whatever WAIT says; a shortfall is reported
    // only (a failover may bring the key back until its TTL ends; docs/semantics.md §4.3).
    // (Checked first, so that an unreplicated release starts no coroutine for it.)
    if (used && detail::replicas_to_confirm(s) > 0)
        co_await detail::confirm_write(s, used, ReplicatedWrite::release);
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
    if (!s.hold.token()) {
        throw LockExtensionError(
            "cannot extend lock '" + s.spec.name + "': not acquired by this object", s.spec.name);
    }
    if (!s.spec.timeout) {
        throw LockExtensionError("cannot extend lock '" + s.spec.name + "': it has no timeout",
                                 s.spec.name);
    }
    const detail::ScriptCall call = detail::extend_call(
        s.spec.name, *s.hold.token(), ms,
        mode == ExtendMode::add ? detail::TtlChange::add : detail::TtlChange::replace,
        s.spec.options.record_holder);
    std::shared_ptr<detail::Connection> used;
    Reply reply = co_await detail::eval(*s.spec.client, call, s.spec.command_deadline(),
                                        detail::EvalMode::cached_first, &used);
    reply.value();
    if (reply.integer != 1) {
        throw LockExtensionError("cannot extend lock '" + s.spec.name +
                                     "': no longer owned (it expired or was taken over)",
                                 s.spec.name);
    }
    const auto shortfall = co_await detail::confirm_write(s, used, ReplicatedWrite::extension);
    if (shortfall) detail::throw_unconfirmed_extension("lock '" + s.spec.name + "'", *shortfall);
    s.events.extended(false);
    co_return true;
}

asio::awaitable<bool> Lock::reacquire() {
    if (!state_->spec.timeout) {
        throw LockExtensionError(
            "cannot reacquire lock '" + state_->spec.name + "': it has no timeout",
            state_->spec.name);
    }
    co_return co_await extend(Seconds(*state_->spec.timeout), ExtendMode::replace);
}

namespace {

// One query about the lock's key ("EXISTS", "GET", "PTTL"), on the server that owns it.
// Throws ServerError on an error reply.
asio::awaitable<Reply> ask_about_key(const LockState& state, std::string_view command) {
    const Request request({command, state.spec.name});
    auto replies = co_await state.spec.client->execute_for_key(state.spec.name, request,
                                                               state.spec.command_deadline());
    replies.front().value();
    co_return std::move(replies.front());
}

constexpr std::string_view exists_command = "EXISTS";
constexpr std::string_view get_command = "GET";
constexpr std::string_view pttl_command = "PTTL";

}  // namespace

asio::awaitable<bool> Lock::locked() {
    auto state = state_;
    detail::LockBusy busy(*state);
    co_return (co_await ask_about_key(*state, exists_command)).integer == 1;
}

asio::awaitable<bool> Lock::owned() {
    auto state = state_;
    detail::LockBusy busy(*state);
    if (!state->hold.token() || state->hold.lost()) co_return false;
    const Reply value = co_await ask_about_key(*state, get_command);
    co_return value.is_string() && state->hold.token() && value.str == *state->hold.token();
}

asio::awaitable<LockTtl> Lock::ttl() {
    auto state = state_;
    detail::LockBusy busy(*state);
    const long long ms = (co_await ask_about_key(*state, pttl_command)).integer;
    LockTtl out;
    out.held = ms != -2;
    if (ms >= 0) out.remaining = std::chrono::duration_cast<Seconds>(milliseconds(ms));
    co_return out;
}

asio::awaitable<std::size_t> Lock::waiting() {
    auto state = state_;
    detail::LockBusy busy(*state);
    const std::string queue = detail::wait_queue_key(state->spec.name);
    const Request zcard({"ZCARD", queue});
    auto replies =
        co_await state->spec.client->execute_for_key(queue, zcard, state->spec.command_deadline());
    const long long count = replies.front().value().integer;
    co_return count > 0 ? static_cast<std::size_t>(count) : 0;
}

void Lock::adopt(std::string token) {
    if (token.empty()) throw std::invalid_argument("token must not be empty");
    LockState& s = *state_;
    detail::LockBusy busy(s);
    if (s.hold.token()) {
        throw LockError("lock '" + s.spec.name + "' is already held by this object", s.spec.name);
    }
    s.hold.begin(std::move(token), std::nullopt);
}

asio::awaitable<bool> Lock::wait_lost() {
    return detail::wait_lost(state_);
}

std::size_t Lock::replication_factor() const {
    return detail::replicas_to_confirm(*state_);
}
const std::string& Lock::name() const noexcept {
    return state_->spec.name;
}
const std::optional<std::string>& Lock::token() const noexcept {
    return state_->hold.token();
}
std::optional<std::int64_t> Lock::fence() const noexcept {
    return state_->hold.fence();
}
bool Lock::lost() const noexcept {
    return state_->hold.lost();
}
std::uint64_t Lock::replication_shortfalls() const noexcept {
    return state_->shortfalls;
}
const LockOptions& Lock::options() const noexcept {
    return state_->spec.options;
}

}  // namespace dlock
