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
#include "lock/scripts.hpp"
#include "net/asio.hpp"
#include "protocol/durations.hpp"
#include "protocol/keys.hpp"
#include "protocol/token.hpp"

namespace dlock {

namespace {

using detail::Clock;
using detail::Deadline;
using detail::use_tuple;
using std::chrono::milliseconds;

// Redlock has no wait queue: its releases wake nobody.
constexpr std::string_view wake_nobody = "";
// The fixed part of the drift allowance (docs/semantics.md §5): timer granularity and the like.
constexpr Seconds drift_floor{0.002};

std::vector<std::unique_ptr<Redis>> connect_all(const asio::any_io_executor& executor,
                                                std::vector<ConnectionOptions> nodes) {
    if (nodes.size() < 3) {
        throw std::invalid_argument("urls: Redlock needs at least 3 independent primaries");
    }
    std::vector<std::unique_ptr<Redis>> out;
    for (auto& options : nodes)
        out.push_back(std::make_unique<Redis>(executor, std::move(options)));
    return out;
}

std::vector<ConnectionOptions> parse_all(const std::vector<std::string>& urls) {
    if (urls.size() < 3) {
        throw std::invalid_argument("urls: Redlock needs at least 3 independent primaries");
    }
    std::vector<ConnectionOptions> out;
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
    asio::steady_timer done;
};

asio::awaitable<void> run_on_node(std::shared_ptr<Gather> gather, Redis& node, std::size_t index) {
    try {
        gather->results[index].reply = co_await gather->call(node);
    } catch (...) {
        gather->results[index].failure = std::current_exception();
    }
    if (--gather->left == 0) gather->done.cancel();
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
    gather->done.expires_at(asio::steady_timer::time_point::max());
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        asio::co_spawn(executor_, run_on_node(gather, *nodes_[i], i), asio::detached);
    }
    // The nodes may all have finished already (co_spawn can run them inline): then the cancel
    // found no waiter, and waiting would never end.
    if (gather->left > 0) co_await gather->done.async_wait(use_tuple);
    co_return std::move(gather->results);
}

// ---- RedlockLock ------------------------------------------------------------------------------

RedlockLock::RedlockLock(Redlock& group, std::string name, RedlockOptions options)
    : group_(group), name_(std::move(name)), options_(std::move(options)) {
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

Seconds RedlockLock::drift(Seconds ttl) const {
    return ttl * options_.clock_drift_factor + drift_floor;
}

asio::awaitable<bool> RedlockLock::try_once(const std::string& token) {
    const auto start = Clock::now();
    const Deadline deadline = start + node_timeout_;
    const std::string ttl_text = std::to_string(ttl_.count());
    Request set({"SET", name_, token, "NX", "PX", ttl_text});
    Redlock::NodeCall call = [key = name_, set = std::move(set), deadline](Redis& node) {
        return command_on_node(node, key, set, deadline);
    };
    auto results = co_await group_.on_all_nodes(std::move(call));
    const auto elapsed = Clock::now() - start;
    const std::size_t successes =
        count_replies(results, [](const Reply& reply) { return reply.is_ok(); });
    const Seconds validity = Seconds(ttl_) - elapsed - drift(Seconds(ttl_));
    if (successes >= group_.quorum() && validity > Seconds(0)) {
        validity_ = validity;
        validity_start_ = start;
        co_return true;
    }
    // Roll back everywhere, not only where SET said OK: a node that timed out may still have
    // set the key. Token-checked, so other holders' keys stay.
    co_await run_script_on_all(group_, detail::release_call(name_, token, wake_nobody),
                               node_timeout_);
    co_return false;
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
    asio::steady_timer pause(group_.get_executor());
    for (;;) {
        // A fresh token per attempt: a late SET from a rolled-back attempt must not count
        // for a later one.
        std::string token = detail::make_token();
        if (co_await try_once(token)) {
            token_ = std::move(token);
            co_return true;
        }
        if (!wait.blocking) co_return false;
        const auto now = Clock::now();
        if (deadline && now >= *deadline) co_return false;
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
        group_, detail::release_call(name_, *token_, wake_nobody), node_timeout_);
    if (all_failed_in_transport(results)) {
        std::rethrow_exception(results.front().failure);  // token kept: release() may be retried
    }
    token_.reset();
    validity_ = Seconds(0);
    const std::size_t released = count_replies(
        results, [](const Reply& reply) { return reply.is_integer() && reply.integer == 1; });
    if (released < group_.quorum()) {
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
    const auto elapsed = Clock::now() - start;
    const std::size_t extended = count_replies(
        results, [](const Reply& reply) { return reply.is_integer() && reply.integer == 1; });
    // With `add`, the nodes' TTLs grow by `ms` from what they had; what this client knew of
    // that is the validity left, which already had its drift taken off.
    const Seconds base =
        mode == ExtendMode::add ? Seconds(validity_ - (start - validity_start_)) : Seconds(0);
    const Seconds validity =
        base + Seconds(ms) - elapsed -
        (mode == ExtendMode::add ? Seconds(ms) * options_.clock_drift_factor : drift(Seconds(ms)));
    if (extended < group_.quorum() || validity <= Seconds(0)) {
        throw LockExtensionError("cannot extend lock '" + name_ + "': only " +
                                     std::to_string(extended) + " of " +
                                     std::to_string(group_.size()) +
                                     " nodes took the extension (it expired or was taken over)",
                                 name_);
    }
    validity_ = validity;
    validity_start_ = start;
    co_return true;
}

asio::awaitable<bool> RedlockLock::locked() {
    detail::BusyGuard busy(busy_, "dlock::RedlockLock", name_);
    Request exists({"EXISTS", name_});
    const Deadline deadline = Clock::now() + node_timeout_;
    Redlock::NodeCall call = [key = name_, exists = std::move(exists), deadline](Redis& node) {
        return command_on_node(node, key, exists, deadline);
    };
    auto results = co_await group_.on_all_nodes(std::move(call));
    require_answers(results, group_.quorum());
    co_return count_replies(results, [](const Reply& reply) {
        return reply.is_integer() && reply.integer == 1;
    }) >= group_.quorum();
}

asio::awaitable<bool> RedlockLock::owned() {
    detail::BusyGuard busy(busy_, "dlock::RedlockLock", name_);
    if (!token_) co_return false;
    Request get({"GET", name_});
    const Deadline deadline = Clock::now() + node_timeout_;
    Redlock::NodeCall call = [key = name_, get = std::move(get), deadline](Redis& node) {
        return command_on_node(node, key, get, deadline);
    };
    auto results = co_await group_.on_all_nodes(std::move(call));
    require_answers(results, group_.quorum());
    const std::string& token = *token_;
    co_return count_replies(results, [&token](const Reply& reply) {
        return reply.is_string() && reply.str == token;
    }) >= group_.quorum();
}

}  // namespace dlock
