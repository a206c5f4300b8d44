// Redlock: the group's fan-out to all nodes, and the lock's quorum logic (see redlock.hpp).
#include "dlock/redlock.hpp"

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <cmath>
#include <random>
#include <stdexcept>
#include <utility>

#include "client/backend.hpp"
#include "lock/busy.hpp"
#include "lock/eval.hpp"
#include "lock/lock_events.hpp"
#include "lock/scripts.hpp"
#include "net/asio.hpp"
#include "net/notification.hpp"
#include "protocol/durations.hpp"
#include "protocol/keys.hpp"
#include "protocol/token.hpp"
#include "redlock/validity.hpp"

namespace dlock {

namespace {

using detail::Clock;
using detail::Deadline;
using detail::use_tuple;
using std::chrono::milliseconds;

// Redlock has no wait queue: its releases wake nobody.
constexpr std::string_view wake_nobody = "";

std::vector<std::unique_ptr<Redis>> connect_all(const asio::any_io_executor& executor,
                                                std::vector<ConnectionOptions> nodes) {
    if (nodes.size() < 3) {
        throw std::invalid_argument("urls: Redlock needs at least 3 independent primaries");
    }
    std::vector<std::unique_ptr<Redis>> out;
    out.reserve(nodes.size());
    for (auto& options : nodes)
        out.push_back(std::make_unique<Redis>(executor, std::move(options)));
    return out;
}

// (connect_all() checks the count, once for both constructors.)
std::vector<ConnectionOptions> parse_all(const std::vector<std::string>& urls) {
    std::vector<ConnectionOptions> out;
    out.reserve(urls.size());
    for (const auto& url : urls) out.push_back(parse_url(url));
    return out;
}

// Results of one fan-out, shared by the per-node coroutines so that none outlives what it
// writes to, even if the waiting caller is gone.
struct Gather {
    explicit Gather(const asio::any_io_executor& executor, std::size_t nodes,
                    Redlock::NodeCall node_call)
        : results(nodes), left(nodes), call(std::move(node_call)), done(executor) {}
    std::vector<Redlock::NodeResult> results;
    std::size_t left;
    Redlock::NodeCall call;
    detail::Notification done;  // the last node answered
};

asio::awaitable<void> run_on_node(std::shared_ptr<Gather> gather, Redis& node, std::size_t index) {
    try {
        gather->results[index].reply = co_await gather->call(node);
    } catch (...) {
        gather->results[index].failure = std::current_exception();
    }
    if (--gather->left == 0) gather->done.notify();
}

asio::awaitable<Reply> command_on_node(Redis& node, std::string key, Request request,
                                       Deadline deadline) {
    auto replies = co_await detail::backend_of(node).execute_for_key(key, request, deadline);
    co_return std::move(replies.front());
}

std::size_t count_replies(const std::vector<Redlock::NodeResult>& results,
                          const std::function<bool(const Reply&)>& wanted) {
    std::size_t count = 0;
    for (const auto& result : results) count += result.reply && wanted(*result.reply);
    return count;
}

bool all_failed_in_transport(const std::vector<Redlock::NodeResult>& results) {
    for (const auto& result : results) {
        if (!result.failure) return false;
    }
    return true;
}

// For queries: an answer from fewer than a quorum says nothing, so it is an error.
void require_answers(const std::vector<Redlock::NodeResult>& results, std::size_t quorum) {
    const std::size_t answered =
        count_replies(results, [](const Reply& reply) { return !reply.is_error(); });
    if (answered >= quorum) return;
    for (const auto& result : results) {
        if (result.failure) std::rethrow_exception(result.failure);
        if (result.reply) result.reply->value();  // throws ServerError
    }
    throw ConnectionError("fewer than a quorum of Redlock nodes answered");
}

// One script call on every node at once, each bounded by `node_timeout`.
asio::awaitable<std::vector<Redlock::NodeResult>> run_script_on_all(Redlock& group,
                                                                    detail::ScriptCall script,
                                                                    milliseconds node_timeout) {
    const Deadline deadline = Clock::now() + node_timeout;
    Redlock::NodeCall call = [script = std::move(script), deadline](Redis& node) {
        return detail::eval(detail::backend_of(node), script, deadline);
    };
    co_return co_await group.on_all_nodes(std::move(call));
}

Seconds jittered(milliseconds mean) {
    // Seeded from the kernel's CSPRNG: clients started together must not share a sequence.
    static thread_local std::mt19937 random{std::random_device{}()};
    std::uniform_real_distribution<double> factor(0.5, 1.5);
    return Seconds(std::chrono::duration<double, std::milli>(mean)) * factor(random);
}

}  // namespace

// ---- Redlock ----------------------------------------------------------------------------------

Redlock::Redlock(asio::any_io_executor executor, const std::vector<std::string>& urls)
    : Redlock(std::move(executor), parse_all(urls)) {}

Redlock::Redlock(asio::any_io_executor executor, std::vector<ConnectionOptions> nodes)
    : executor_(executor), nodes_(connect_all(executor, std::move(nodes))) {}

Redlock::~Redlock() = default;

asio::awaitable<std::vector<Redlock::NodeResult>> Redlock::on_all_nodes(NodeCall call) {
    auto gather = std::make_shared<Gather>(executor_, nodes_.size(), std::move(call));
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        asio::co_spawn(executor_, run_on_node(gather, *nodes_[i], i), asio::detached);
    }
    // Each node call is bounded by its own deadline, so this ends.
    co_await gather->done.wait(Deadline::max());
    co_return std::move(gather->results);
}

// ---- RedlockLock ------------------------------------------------------------------------------

RedlockLock::RedlockLock(Redlock& group, std::string name, RedlockOptions options)
    : group_(group),
      name_(std::move(name)),
      options_(std::move(options)),
      events_(std::make_unique<detail::LockEvents>(options_.observer, name_)) {
    if (name_.empty()) throw std::invalid_argument("name must not be empty");
    if (!options_.timeout) {
        throw std::invalid_argument("timeout: Redlock needs a TTL (keys must expire)");
    }
    ttl_ = detail::to_ms(*options_.timeout, "timeout");
    if (ttl_ < milliseconds(1)) throw std::invalid_argument("timeout must be at least 1 ms");
    retry_delay_ = detail::to_ms(options_.retry_delay, "retry_delay");
    node_timeout_ = detail::to_ms(options_.node_timeout, "node_timeout");
    if (node_timeout_ < milliseconds(1)) {
        throw std::invalid_argument("node_timeout must be at least 1 ms");
    }
    if (node_timeout_ >= ttl_) {
        throw std::invalid_argument("node_timeout must be less than timeout");
    }
    if (options_.blocking_timeout) detail::to_ms(*options_.blocking_timeout, "blocking_timeout");
    const double drift_factor = options_.clock_drift_factor;
    if (!std::isfinite(drift_factor) || drift_factor < 0 || drift_factor >= 1) {
        throw std::invalid_argument("clock_drift_factor must be in [0, 1)");
    }
}

RedlockLock::~RedlockLock() = default;

asio::awaitable<std::optional<NotAcquiredReason>> RedlockLock::try_once(const std::string& token) {
    const auto start = Clock::now();
    const Deadline deadline = start + node_timeout_;
    const std::string ttl_text = std::to_string(ttl_.count());
    Request set({"SET", name_, token, "NX", "PX", ttl_text});
    Redlock::NodeCall call = [key = name_, set = std::move(set), deadline](Redis& node) {
        return command_on_node(node, key, set, deadline);
    };
    auto results = co_await group_.on_all_nodes(std::move(call));
    const auto now = Clock::now();
    const detail::Round round{
        .successes = count_replies(results, [](const Reply& reply) { return reply.is_ok(); }),
        .quorum = group_.quorum(),
        .start = start,
        .now = now,
    };
    if (auto validity = detail::acquire_validity(ttl_, round, options_.clock_drift_factor)) {
        validity_ = *validity;
        validity_start_ = start;
        co_return std::nullopt;
    }
    // Roll back everywhere, not only where SET said OK: a node that timed out may still have
    // set the key. Token-checked, so other holders' keys stay.
    co_await run_script_on_all(group_, detail::release_call(name_, token, wake_nobody).owned(),
                               node_timeout_);
    // Held, as far as a quorum of nodes can tell (a nil reply is a refusal by a holder).
    const std::size_t answered =
        count_replies(results, [](const Reply& reply) { return !reply.is_error(); });
    co_return answered >= group_.quorum() ? NotAcquiredReason::held
                                          : NotAcquiredReason::unavailable;
}

asio::awaitable<bool> RedlockLock::acquire() {
    return acquire(WaitPolicy{options_.blocking, options_.blocking_timeout});
}

asio::awaitable<bool> RedlockLock::acquire(WaitPolicy wait) {
    detail::BusyGuard busy(busy_, "dlock::RedlockLock", name_);
    if (token_) {
        throw LockError("lock '" + name_ + "' is already acquired by this object", name_);
    }
    std::optional<Deadline> deadline;
    if (wait.blocking_timeout) {
        deadline = Clock::now() + detail::to_ms(*wait.blocking_timeout, "blocking_timeout");
    }
    detail::AcquireReport report(*events_);  // one Acquired or NotAcquired per call from here
    asio::steady_timer pause(group_.get_executor());
    for (;;) {
        // A fresh token per attempt: a late SET from a rolled-back attempt must not count
        // for a later one.
        std::string token = detail::make_token();
        report.attempt();
        const std::optional<NotAcquiredReason> refused = co_await try_once(token);
        if (!refused) {
            token_ = std::move(token);
            events_->hold_began();
            report.acquired(false);  // no wake-ups: every wait is a retry delay
            co_return true;
        }
        if (!wait.blocking) co_return report.not_acquired(*refused);
        const auto now = Clock::now();
        if (deadline && now >= *deadline) {
            co_return report.not_acquired(*refused == NotAcquiredReason::held
                                              ? NotAcquiredReason::timed_out
                                              : NotAcquiredReason::unavailable);
        }
        auto wake_at = now + std::chrono::duration_cast<Clock::duration>(jittered(retry_delay_));
        if (deadline) wake_at = std::min(wake_at, *deadline);  // never sleep past the deadline
        pause.expires_at(wake_at);
        co_await pause.async_wait(use_tuple);
    }
}

asio::awaitable<void> RedlockLock::release() {
    detail::BusyGuard busy(busy_, "dlock::RedlockLock", name_);
    if (!token_) {
        throw LockReleaseError("cannot release lock '" + name_ + "': not acquired by this object",
                               name_);
    }
    auto results = co_await run_script_on_all(
        group_, detail::release_call(name_, *token_, wake_nobody).owned(), node_timeout_);
    if (all_failed_in_transport(results)) {
        std::rethrow_exception(results.front().failure);  // token kept: release() may be retried
    }
    token_.reset();
    validity_ = Seconds(0);
    const std::size_t released = count_replies(
        results, [](const Reply& reply) { return reply.is_integer() && reply.integer == 1; });
    if (released >= group_.quorum()) {
        events_->released();
    } else {
        events_->lost(LostReason::release_found_gone);
        throw LockReleaseError("cannot release lock '" + name_ + "': only " +
                                   std::to_string(released) + " of " +
                                   std::to_string(group_.size()) +
                                   " nodes still held it (it expired or was taken over)",
                               name_);
    }
}

asio::awaitable<bool> RedlockLock::extend(Seconds additional_time, ExtendMode mode) {
    detail::BusyGuard busy(busy_, "dlock::RedlockLock", name_);
    const milliseconds ms = detail::to_ms(additional_time, "additional_time");
    if (mode == ExtendMode::replace && ms < milliseconds(1)) {
        throw std::invalid_argument(
            "additional_time must be at least 1 ms with ExtendMode::replace");
    }
    if (!token_) {
        throw LockExtensionError("cannot extend lock '" + name_ + "': not acquired by this object",
                                 name_);
    }
    const auto start = Clock::now();
    auto results = co_await run_script_on_all(
        group_,
        detail::extend_call(
            name_, *token_, ms,
            mode == ExtendMode::add ? detail::TtlChange::add : detail::TtlChange::replace),
        node_timeout_);
    const auto now = Clock::now();
    const detail::Round round{
        .successes = count_replies(
            results, [](const Reply& reply) { return reply.is_integer() && reply.integer == 1; }),
        .quorum = group_.quorum(),
        .start = start,
        .now = now,
    };
    const auto validity = detail::extend_validity(mode, ms, validity_, validity_start_, round,
                                                  options_.clock_drift_factor);
    if (!validity) {
        throw LockExtensionError("cannot extend lock '" + name_ + "': only " +
                                     std::to_string(round.successes) + " of " +
                                     std::to_string(group_.size()) +
                                     " nodes took the extension (it expired or was taken over)",
                                 name_);
    }
    validity_ = *validity;
    validity_start_ = start;
    events_->extended(false);
    co_return true;
}

void RedlockLock::adopt(std::string token) {
    if (token.empty()) throw std::invalid_argument("token must not be empty");
    detail::BusyGuard busy(busy_, "dlock::RedlockLock", name_);
    if (token_) throw LockError("lock '" + name_ + "' is already held by this object", name_);
    token_ = std::move(token);
    validity_ = Seconds(0);
    validity_start_ = Clock::now();
    events_->hold_began();
}

namespace {

// One query about the lock's key on every node; fewer than a quorum of answers throws.
asio::awaitable<std::vector<Redlock::NodeResult>> ask_all_about_key(Redlock& group,
                                                                    const std::string& name,
                                                                    std::string_view command,
                                                                    milliseconds node_timeout) {
    const Deadline deadline = Clock::now() + node_timeout;
    Redlock::NodeCall call = [key = name, request = Request({command, name}),
                              deadline](Redis& node) {
        return command_on_node(node, key, request, deadline);
    };
    auto results = co_await group.on_all_nodes(std::move(call));
    require_answers(results, group.quorum());
    co_return results;
}

constexpr std::string_view exists_command = "EXISTS";
constexpr std::string_view get_command = "GET";

}  // namespace

asio::awaitable<bool> RedlockLock::locked() {
    detail::BusyGuard busy(busy_, "dlock::RedlockLock", name_);
    auto results = co_await ask_all_about_key(group_, name_, exists_command, node_timeout_);
    co_return count_replies(results, [](const Reply& reply) {
        return reply.is_integer() && reply.integer == 1;
    }) >= group_.quorum();
}

asio::awaitable<bool> RedlockLock::owned() {
    detail::BusyGuard busy(busy_, "dlock::RedlockLock", name_);
    if (!token_) co_return false;
    auto results = co_await ask_all_about_key(group_, name_, get_command, node_timeout_);
    const std::string& token = *token_;
    co_return count_replies(results, [&token](const Reply& reply) {
        return reply.is_string() && reply.str == token;
    }) >= group_.quorum();
}

}  // namespace dlock
