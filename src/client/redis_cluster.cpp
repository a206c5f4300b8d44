// RedisCluster: slot routing, redirections, topology reads (see dlock/redis_cluster.hpp).
#include "dlock/redis_cluster.hpp"

#include <algorithm>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <map>
#include <stdexcept>

#include "client/backend.hpp"
#include "client/cluster_routing.hpp"
#include "client/cluster_topology.hpp"
#include "dlock/errors.hpp"
#include "net/asio.hpp"
#include "net/notification.hpp"
#include "net/single_flight.hpp"
#include "net/subscriber.hpp"
#include "protocol/durations.hpp"
#include "protocol/log.hpp"
#include "protocol/slots.hpp"

namespace dlock::detail {

namespace {
constexpr std::string_view cluster_slots_command[] = {"CLUSTER", "SLOTS"};
constexpr std::string_view ping_command[] = {"PING"};

// Waits until `until`; throws operation_aborted when the caller is cancelled.
asio::awaitable<void> sleep_until(const asio::any_io_executor& executor, Clock::time_point until) {
    asio::steady_timer timer(executor, until);
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec == asio::error::operation_aborted) throw asio::system_error(ec);
}
}  // namespace

struct ClusterNode {
    std::shared_ptr<Connection> connection;
    std::unique_ptr<Subscriber> subscriber;
    // When a request to this node last failed (connect, drop or timeout); epoch = never. Slot
    // map reads ask the nodes that failed least recently first.
    Clock::time_point last_failure{};
};

// Shared with background slot-map reads, which may outlive the RedisCluster object by the
// length of one bounded read.
struct ClusterState final : Backend, std::enable_shared_from_this<ClusterState> {
    asio::any_io_executor executor;
    std::vector<NodeAddress> seeds;
    ConnectionOptions node_options;  // the first seed's; host and port are set per node
    ClusterOptions options;

    Topology topology;
    bool have_topology = false;
    Clock::time_point topology_read_at{};
    std::map<std::string, ClusterNode, std::less<>> nodes;  // by "host:port"

    // The slot-map read, shared by everyone waiting for it.
    SingleFlight reading;
    std::uint64_t refreshes = 0;
    std::uint64_t redirections = 0;
    bool closed = false;

    ClusterNode& node(const NodeAddress& address) {
        const std::string key = address.key();
        auto it = nodes.find(key);
        if (it == nodes.end()) {
            it = nodes.emplace(key, ClusterNode{}).first;
            it->second.connection = std::make_shared<Connection>(executor, options_for(address));
        }
        return it->second;
    }

    ConnectionOptions options_for(const NodeAddress& address) const {
        ConnectionOptions out = node_options;
        out.host = address.host;
        out.port = address.port;
        return out;
    }

    // Where a command for `slot` goes: the slot's primary; for no slot (or a slot nobody
    // serves, as far as we know) any primary, which answers or redirects.
    NodeAddress route(std::optional<std::uint16_t> slot) const {
        if (slot) {
            if (const Shard* shard = topology.shard_of(*slot)) return shard->primary;
        }
        if (!topology.shards().empty()) return topology.shards().front().primary;
        return seeds.front();
    }

    void refresh_if_stale() {
        if (have_topology && options.topology_max_age &&
            Clock::now() - topology_read_at >
                to_ms(*options.topology_max_age, "topology_max_age")) {
            refresh_in_background();
        }
    }

    void refresh_in_background() {
        if (closed) return;
        reading.start(executor, shared_from_this(), &ClusterState::refresh_task);
    }

    // Joins the read in progress (or starts one) and waits for it, until `deadline`. The
    // outcome is that read's, even if another read started before this caller resumed.
    asio::awaitable<void> refresh(Deadline deadline) {
        auto self = shared_from_this();
        refresh_in_background();
        co_await reading.join(deadline, "the cluster client is closed",
                              "reading the cluster's slot map timed out");
    }

    // Nodes to read the slot map from: known primaries, known replicas, then the seeds; the
    // ones that failed least recently first (a stopped node would cost a whole timeout).
    std::vector<NodeAddress> refresh_candidates() const {
        std::vector<NodeAddress> out;
        auto add = [&](const NodeAddress& address) {
            if (std::find(out.begin(), out.end(), address) == out.end()) out.push_back(address);
        };
        for (const Shard& shard : topology.shards()) add(shard.primary);
        for (const Shard& shard : topology.shards()) {
            for (const NodeAddress& replica : shard.replicas) add(replica);
        }
        for (const NodeAddress& seed : seeds) add(seed);
        auto failed_at = [&](const NodeAddress& address) {
            auto it = nodes.find(address.key());
            return it == nodes.end() ? Clock::time_point{} : it->second.last_failure;
        };
        std::stable_sort(out.begin(), out.end(), [&](const NodeAddress& a, const NodeAddress& b) {
            return failed_at(a) < failed_at(b);
        });
        return out;
    }

    asio::awaitable<void> refresh_task(std::shared_ptr<SingleFlight::Run> read) {
        auto self = shared_from_this();
        std::exception_ptr error;
        bool done = false;
        for (const NodeAddress& address : refresh_candidates()) {
            if (closed) break;
            try {
                Request request;
                request.push(std::span<const std::string_view>(cluster_slots_command));
                auto connection = node(address).connection;
                auto replies = co_await connection->execute(
                    request, Clock::now() + to_ms(node_options.command_timeout, "command_timeout"));
                Topology fresh = Topology::from_cluster_slots(replies.front(), address.host);
                if (fresh.empty())
                    throw ServerError("CLUSTERDOWN " + address.key() +
                                      " lists no slot (CLUSTER SLOTS)");
                topology = std::move(fresh);
                if (log_enabled(LogLevel::debug))
                    log(LogLevel::debug, "cluster slot map read from " + address.key());
                have_topology = true;
                topology_read_at = Clock::now();
                ++refreshes;
                done = true;
                break;
            } catch (const std::exception&) {
                error = std::current_exception();
                node(address).last_failure = Clock::now();
            }
        }
        if (!done && !error)
            error = std::make_exception_ptr(ConnectionError("the cluster client is closed"));
        reading.finish(read, done ? nullptr : error);
    }

    asio::awaitable<std::vector<Reply>> execute(std::optional<std::uint16_t> slot,
                                                const Request& request, Deadline deadline,
                                                std::shared_ptr<Connection>* used) {
        auto self = shared_from_this();
        if (!have_topology) co_await refresh(deadline);
        refresh_if_stale();
        std::optional<NodeAddress> redirected_to;  // set by MOVED/ASK for the next attempt
        bool asking = false;
        Progress progress{.redirects = 0,
                          .max_redirects = options.max_redirects,
                          .retries = 0,
                          .now = {},
                          .deadline = deadline,
                          .closed = closed};
        for (;;) {
            const NodeAddress address = redirected_to ? *redirected_to : route(slot);
            auto connection = node(address).connection;
            std::vector<Reply> replies;
            std::exception_ptr error;
            Failure failure = Failure::none;
            if (!connection->connected()) {
                // Connect with a PING first (one extra round trip per connection): a failure
                // here proves the request was never sent, so it may go elsewhere. A node that
                // just died may still accept a TCP connection and reset it a moment later,
                // which the request itself could not tell from "ran, then dropped".
                try {
                    Request ping;
                    ping.push(std::span<const std::string_view>(ping_command));
                    co_await connection->execute(ping, deadline);
                } catch (const ConnectionError&) {
                    error = std::current_exception();
                    failure = Failure::connect_failed;
                } catch (const TimeoutError&) {
                    error = std::current_exception();
                    failure = Failure::connect_timed_out;
                }
            }
            if (!error) {
                try {
                    if (asking) {
                        const Request asked = with_asking(request);
                        replies = without_asking(co_await connection->execute(asked, deadline));
                    } else {
                        replies = co_await connection->execute(request, deadline);
                    }
                } catch (const ConnectionError&) {
                    error = std::current_exception();
                    failure = Failure::dropped;  // it may have run: not re-sent
                } catch (const TimeoutError&) {
                    error = std::current_exception();
                    failure = Failure::timed_out;
                }
            }
            if (error) node(address).last_failure = Clock::now();
            progress.now = Clock::now();
            progress.closed = closed;
            Step step = next_step(failure, replies, address.host, progress);
            switch (step.action) {
                case Step::Action::done:
                    if (used) *used = connection;
                    co_return replies;
                case Step::Action::rethrow:
                    refresh_in_background();  // the node may be failing over
                    std::rethrow_exception(error);
                case Step::Action::follow_moved:
                case Step::Action::follow_ask:
                    ++progress.redirects;
                    ++redirections;
                    if (step.action == Step::Action::follow_moved) {
                        if (log_enabled(LogLevel::info)) {
                            log(LogLevel::info, "slot " + std::to_string(step.redirect->slot) +
                                                    " moved to " + step.redirect->node.key() +
                                                    ": following");
                        }
                        topology.set_primary(step.redirect->slot, step.redirect->node);
                        refresh_in_background();
                    }
                    asking = step.action == Step::Action::follow_ask;
                    redirected_to = std::move(step.redirect->node);
                    continue;
                case Step::Action::retry_after_backoff:
                    ++progress.retries;
                    refresh_in_background();  // CLUSTERDOWN: a failover may be under way
                    co_await sleep_until(executor, step.wake_at);
                    break;
                case Step::Action::refresh_then_retry:
                    ++progress.retries;
                    co_await sleep_until(executor, step.wake_at);
                    try {
                        co_await refresh(deadline);
                    } catch (const std::exception&) {
                        // No node answered yet; the next attempt finds out again, until the
                        // deadline.
                    }
                    break;
            }
            // Retried where the slot map says.
            redirected_to.reset();
            asking = false;
        }
    }

    // Backend
    asio::any_io_executor get_executor() const override { return executor; }
    asio::awaitable<std::vector<Reply>> execute_for_key(
        std::string_view key, const Request& request, Deadline deadline,
        std::shared_ptr<Connection>* used) override {
        // Not a coroutine: the slot is computed while `key` is certainly alive.
        return execute(key_slot(key), request, deadline, used);
    }
    // Replicas of the key's shard listed by CLUSTER SLOTS at the last read (0 before any).
    std::size_t replicas_of(std::string_view key) override {
        refresh_if_stale();
        const Shard* shard = topology.shard_of(key_slot(key));
        return shard ? shard->replicas.size() : 0;
    }
    // One sharded-pub/sub subscriber (SSUBSCRIBE) per primary, for the primary serving `key`.
    Subscriber& subscriber_for(std::string_view key) override {
        const NodeAddress address = route(key_slot(key));
        ClusterNode& entry = node(address);
        if (!entry.subscriber) {
            entry.subscriber = std::make_unique<Subscriber>(executor, options_for(address), true);
        }
        return *entry.subscriber;
    }
    std::shared_ptr<Connection> connection_for(std::string_view key) override {
        return node(route(key_slot(key))).connection;
    }
    std::string_view notify_command() const noexcept override { return "spublish"; }

    void close_all() {
        for (auto& [key, node] : nodes) {
            node.connection->close();
            if (node.subscriber) node.subscriber->close();
        }
    }
};

}  // namespace dlock::detail

namespace dlock {

namespace {
std::vector<ConnectionOptions> parse_seed_urls(const std::vector<std::string>& urls) {
    std::vector<ConnectionOptions> out;
    out.reserve(urls.size());
    for (const std::string& url : urls) out.push_back(parse_url(url));
    return out;
}

std::shared_ptr<detail::ClusterState> make_state(asio::any_io_executor executor,
                                                 std::vector<ConnectionOptions> seeds,
                                                 ClusterOptions options) {
    if (seeds.empty()) throw std::invalid_argument("seeds must name at least one cluster node");
    auto state = std::make_shared<detail::ClusterState>();
    for (const ConnectionOptions& seed : seeds) {
        if (!seed.unix_path.empty()) {
            throw std::invalid_argument(
                "seeds must be TCP addresses (redis:// or rediss://), not unix:" + seed.unix_path);
        }
        if (seed.db != 0)
            throw std::invalid_argument("seeds must use database 0 (a cluster has no other)");
        state->seeds.push_back(detail::NodeAddress{seed.host, seed.port});
    }
    // Validated now (std::invalid_argument naming the field), not when a node is first used.
    detail::to_timeout_ms(seeds.front().connect_timeout, "connect_timeout");
    detail::to_timeout_ms(seeds.front().command_timeout, "command_timeout");
    if (options.topology_max_age) detail::to_ms(*options.topology_max_age, "topology_max_age");
    state->executor = std::move(executor);
    state->node_options = std::move(seeds.front());
    state->options = options;
    return state;
}

}  // namespace

RedisCluster::RedisCluster(asio::any_io_executor executor, std::vector<ConnectionOptions> seeds,
                           ClusterOptions options)
    : Client(make_state(std::move(executor), std::move(seeds), options)) {}

RedisCluster::RedisCluster(asio::any_io_executor executor, std::vector<std::string> seed_urls,
                           ClusterOptions options)
    : RedisCluster(std::move(executor), parse_seed_urls(seed_urls), options) {}

RedisCluster::RedisCluster(asio::any_io_executor executor,
                           std::initializer_list<std::string_view> seed_urls,
                           ClusterOptions options)
    : RedisCluster(std::move(executor),
                   std::vector<std::string>(seed_urls.begin(), seed_urls.end()), options) {}

RedisCluster::~RedisCluster() {
    auto& state = detail::backend_as<detail::ClusterState>(*this);
    state.closed = true;
    state.close_all();
}

asio::awaitable<void> RedisCluster::refresh() {
    auto state = detail::backend_as<detail::ClusterState>(*this).shared_from_this();
    co_await state->refresh(detail::Deadline::max());
}

asio::awaitable<Reply> RedisCluster::command_views(std::span<const std::string_view> args,
                                                   std::optional<Seconds> timeout) {
    Request request;
    request.push(args);
    std::optional<std::uint16_t> slot;
    if (auto index = detail::routing_key_index(args)) slot = detail::key_slot(args[*index]);
    return run(std::move(request), slot, timeout);
}

asio::awaitable<Reply> RedisCluster::run(Request request, std::optional<std::uint16_t> slot,
                                         std::optional<Seconds> timeout) {
    auto state = detail::backend_as<detail::ClusterState>(*this).shared_from_this();
    const auto deadline =
        detail::Clock::now() +
        detail::to_ms(timeout.value_or(state->node_options.command_timeout), "timeout");
    auto replies = co_await state->execute(slot, request, deadline, nullptr);
    replies.front().value();  // throws ServerError on an error reply
    co_return std::move(replies.front());
}

void RedisCluster::close() {
    detail::backend_as<detail::ClusterState>(*this).close_all();
}

std::optional<std::string> RedisCluster::primary_of(std::string_view key) const {
    if (const detail::Shard* shard =
            detail::backend_as<detail::ClusterState>(*this).topology.shard_of(
                detail::key_slot(key)))
        return shard->primary.key();
    return std::nullopt;
}

std::vector<std::string> RedisCluster::primaries() const {
    std::vector<std::string> out;
    for (const detail::Shard& shard :
         detail::backend_as<detail::ClusterState>(*this).topology.shards())
        out.push_back(shard.primary.key());
    return out;
}

std::uint64_t RedisCluster::topology_refreshes() const noexcept {
    return detail::backend_as<detail::ClusterState>(*this).refreshes;
}
std::uint64_t RedisCluster::redirections() const noexcept {
    return detail::backend_as<detail::ClusterState>(*this).redirections;
}
const ConnectionOptions& RedisCluster::seed_options() const noexcept {
    return detail::backend_as<detail::ClusterState>(*this).node_options;
}
}  // namespace dlock
