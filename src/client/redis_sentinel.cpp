// RedisSentinel: a primary found through sentinels, followed across failovers (see
// dlock/redis_sentinel.hpp). Connections, subscribers and deadlines are the standalone
// client's (net/); this file only decides which server they point at.
#include "dlock/redis_sentinel.hpp"

#include <algorithm>
#include <asio.hpp>
#include <map>
#include <stdexcept>

#include "client/backend.hpp"
#include "client/cluster_topology.hpp"
#include "client/sentinel_replies.hpp"
#include "dlock/errors.hpp"
#include "net/asio.hpp"
#include "net/connection.hpp"
#include "net/notification.hpp"
#include "net/single_flight.hpp"
#include "net/subscriber.hpp"
#include "protocol/durations.hpp"
#include "protocol/log.hpp"

namespace dlock::detail {

namespace {
constexpr std::string_view ping_command[] = {"PING"};
constexpr std::string_view role_command[] = {"ROLE"};
constexpr std::string_view switch_master_channel = "+switch-master";
// Back-off between discoveries while no primary can be found (a failover takes ~1-3 s).
constexpr std::chrono::milliseconds first_backoff{10};
constexpr std::chrono::milliseconds max_backoff{200};

asio::awaitable<void> sleep_until(const asio::any_io_executor& executor, Clock::time_point until) {
    asio::steady_timer timer(executor, until);
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec == asio::error::operation_aborted) throw asio::system_error(ec);
}

// (Built from arrays, not braced lists: GCC 12 miscompiles braced lists of literals inside
// co_await expressions.)
Request command_of(std::span<const std::string_view> args) {
    Request request;
    request.push(args);
    return request;
}

bool is_readonly(const std::vector<Reply>& replies) {
    return std::any_of(replies.begin(), replies.end(), [](const Reply& reply) {
        return reply.is_error() && reply.str.rfind("READONLY", 0) == 0;
    });
}
}  // namespace

// Shared with background discoveries, which may outlive the RedisSentinel by one bounded read.
struct SentinelState final : Backend, std::enable_shared_from_this<SentinelState> {
    asio::any_io_executor executor;
    SentinelOptions options;
    std::vector<NodeAddress> sentinels;  // in asking order
    std::map<std::string, std::shared_ptr<Connection>, std::less<>> sentinel_connections;

    std::optional<NodeAddress> primary;
    std::shared_ptr<Connection> primary_connection;
    std::unique_ptr<Subscriber> subscriber;
    NodeAddress subscriber_address;  // where `subscriber` listens
    static inline const NodeAddress unknown_primary{"127.0.0.1", 0};
    // Subscribers of earlier primaries: a waiting acquire may still point at one (its waiters
    // fall back to the poll). Kept until the client goes away.
    std::vector<std::unique_ptr<Subscriber>> retired_subscribers;

    std::size_t replicas = 0;
    Clock::time_point replicas_read_at{};
    bool reading_replicas = false;

    // The discovery, shared by everyone waiting for it.
    SingleFlight discovering;

    // The +switch-master subscription, on the sentinel that answered last.
    std::shared_ptr<Connection> watch;

    std::shared_ptr<FailoverSignal> failover;  // notified (and replaced) at a primary change
    std::uint64_t discoveries = 0;
    std::uint64_t primary_changes = 0;
    bool closed = false;

    ConnectionOptions sentinel_options(const NodeAddress& address) const {
        ConnectionOptions out = options.sentinels.front();
        for (const ConnectionOptions& given : options.sentinels) {
            if (given.host == address.host && given.port == address.port) out = given;
        }
        out.host = address.host;
        out.port = address.port;
        return out;
    }
    ConnectionOptions data_options(const NodeAddress& address) const {
        ConnectionOptions out = options.data;
        out.host = address.host;
        out.port = address.port;
        out.unix_path.clear();
        return out;
    }
    Deadline sentinel_deadline(Deadline cap) const {
        return std::min(cap, Clock::now() + to_ms(options.sentinels.front().command_timeout,
                                                  "command_timeout"));
    }

    std::shared_ptr<Connection> sentinel_connection(const NodeAddress& address) {
        auto& slot = sentinel_connections[address.key()];
        if (!slot) slot = std::make_shared<Connection>(executor, sentinel_options(address));
        return slot;
    }

    void add_sentinel(const NodeAddress& address) {
        if (std::find(sentinels.begin(), sentinels.end(), address) == sentinels.end())
            sentinels.push_back(address);
    }

    // Starts a discovery unless one is under way.
    void discover_in_background() {
        if (closed) return;
        discovering.start(executor, shared_from_this(), &SentinelState::discover_task);
    }

    // Joins the discovery in progress (or starts one) and waits for its outcome until
    // `deadline`.
    asio::awaitable<void> discover(Deadline deadline) {
        auto self = shared_from_this();
        discover_in_background();
        co_await discovering.join(deadline, "the sentinel client is closed",
                                  "finding the primary of " + options.service + " timed out");
    }

    asio::awaitable<void> discover_task(std::shared_ptr<SingleFlight::Run> run) {
        auto self = shared_from_this();
        std::exception_ptr error;
        bool found = false;
        const std::vector<NodeAddress> asking = sentinels;
        for (const NodeAddress& sentinel : asking) {
            if (closed) break;
            try {
                auto connection = sentinel_connection(sentinel);
                const std::string_view ask[] = {"SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                                options.service};
                auto named = co_await connection->execute(command_of(ask),
                                                          sentinel_deadline(Deadline::max()));
                const std::optional<NodeAddress> address = primary_address(named.front());
                if (!address) {
                    throw ConnectionError("sentinel " + sentinel.key() + " does not monitor " +
                                          options.service);
                }
                auto candidate =
                    primary && *primary == *address
                        ? primary_connection
                        : std::make_shared<Connection>(executor, data_options(*address));
                auto role_reply = co_await candidate->execute(
                    command_of(role_command),
                    Clock::now() + to_ms(options.data.command_timeout, "command_timeout"));
                const Role role = parse_role(role_reply.front());
                if (!role.primary) {
                    throw ConnectionError(address->key() + ", named by sentinel " + sentinel.key() +
                                          ", is not a primary (ROLE)");
                }
                co_await learn_group(connection, role);
                adopt(*address, std::move(candidate));
                // The sentinel that answered is asked first next time.
                std::erase(sentinels, sentinel);
                sentinels.insert(sentinels.begin(), sentinel);
                ensure_watch(sentinel);
                found = true;
                break;
            } catch (const std::exception&) {
                error = std::current_exception();
            }
        }
        if (!found && !error)
            error = std::make_exception_ptr(ConnectionError("the sentinel client is closed"));
        discovering.finish(run, found ? nullptr : error);
    }

    // SENTINEL SENTINELS (new peers join the list) and SENTINEL REPLICAS (the replica count),
    // from the sentinel that just answered. Failures are ignored: the primary is known.
    asio::awaitable<void> learn_group(const std::shared_ptr<Connection>& sentinel, Role role) {
        std::size_t listed = 0;
        try {
            const std::string_view peers[] = {"SENTINEL", "SENTINELS", options.service};
            const std::string_view known[] = {"SENTINEL", "REPLICAS", options.service};
            Request request = command_of(peers);
            request.push(std::span<const std::string_view>(known));
            auto replies = co_await sentinel->execute(request, sentinel_deadline(Deadline::max()));
            for (const NodeAddress& peer : listed_addresses(replies[0])) add_sentinel(peer);
            listed = listed_addresses(replies[1]).size();
        } catch (const std::exception&) {
        }
        set_replicas(std::max(listed, role.replicas));
    }

    void set_replicas(std::size_t count) {
        replicas = count;
        replicas_read_at = Clock::now();
    }

    void adopt(const NodeAddress& address, std::shared_ptr<Connection> connection) {
        ++discoveries;
        if (primary && *primary == address) return;
        if (primary) {
            ++primary_changes;
            if (log_enabled(LogLevel::info)) {
                log(LogLevel::info,
                    "sentinel: failover followed from " + primary->key() + " to " + address.key());
            }
        }
        if (primary_connection && primary_connection != connection) primary_connection->close();
        if (subscriber) {
            subscriber->close();
            retired_subscribers.push_back(std::move(subscriber));
        }
        primary = address;
        primary_connection = std::move(connection);
        if (failover) {
            auto signal = std::move(failover);
            failover.reset();
            signal->done.notify();  // held locks re-check their keys on the new primary
        }
    }

    // Subscribes to +switch-master on `sentinel` unless a subscription is up.
    void ensure_watch(const NodeAddress& sentinel) {
        if (closed || (watch && watch->connected())) return;
        if (watch) watch->close();
        watch = std::make_shared<Connection>(executor, sentinel_options(sentinel));
        std::weak_ptr<SentinelState> weak = shared_from_this();
        watch->set_push_handler([weak](Reply&& message) {
            auto self = weak.lock();
            if (!self || self->closed || message.elements.size() < 3) return;
            const auto to = switched_primary(message.elements[2].str, self->options.service);
            if (to && (!self->primary || *self->primary != *to)) self->follow_switch(*to);
        });
        watch->set_on_disconnect([weak] {
            // The sentinel went away: re-subscribe (to whichever sentinel answers) soon.
            if (auto self = weak.lock(); self && !self->closed) self->discover_in_background();
        });
        asio::co_spawn(
            executor,
            [self = shared_from_this(), connection = watch]() -> asio::awaitable<void> {
                try {
                    const std::string_view subscribe[] = {"SUBSCRIBE", switch_master_channel};
                    co_await connection->execute(command_of(subscribe),
                                                 self->sentinel_deadline(Deadline::max()));
                } catch (const std::exception&) {
                    // Not subscribed: the next discovery tries again; commands still follow
                    // a failover through READONLY and refused connections.
                }
            },
            asio::detached);
    }

    // +switch-master named `to`: adopt it once ROLE confirms, without asking the sentinels
    // again (the others may still name the old primary for a second or two, and the old
    // primary may still say "master" until the leader demotes it).
    void follow_switch(const NodeAddress& to) {
        asio::co_spawn(
            executor,
            [self = shared_from_this(), to]() -> asio::awaitable<void> {
                try {
                    auto candidate =
                        std::make_shared<Connection>(self->executor, self->data_options(to));
                    auto role = co_await candidate->execute(
                        command_of(role_command),
                        Clock::now() +
                            to_ms(self->options.data.command_timeout, "command_timeout"));
                    const Role parsed = parse_role(role.front());
                    if (self->closed) co_return;
                    if (!parsed.primary) {
                        self->discover_in_background();
                        co_return;
                    }
                    self->adopt(to, std::move(candidate));
                    self->set_replicas(std::max(self->replicas, parsed.replicas));
                } catch (const std::exception&) {
                    if (!self->closed) self->discover_in_background();
                }
            },
            asio::detached);
    }

    void refresh_replicas_if_stale() {
        if (closed || reading_replicas || !primary_connection || sentinels.empty()) return;
        if (Clock::now() - replicas_read_at < to_ms(options.replicas_max_age, "replicas_max_age"))
            return;
        reading_replicas = true;
        asio::co_spawn(
            executor,
            [self = shared_from_this()]() -> asio::awaitable<void> {
                try {
                    auto role = co_await self->primary_connection->execute(
                        command_of(role_command), self->sentinel_deadline(Deadline::max()));
                    co_await self->learn_group(self->sentinel_connection(self->sentinels.front()),
                                               parse_role(role.front()));
                } catch (const std::exception&) {
                }
                self->reading_replicas = false;
            },
            asio::detached);
    }

    asio::awaitable<std::vector<Reply>> execute(const Request& request, Deadline deadline,
                                                std::shared_ptr<Connection>* used) {
        auto self = shared_from_this();
        Clock::duration backoff = first_backoff;
        for (;;) {
            if (closed) throw ConnectionError("the sentinel client is closed");
            std::exception_ptr failure;
            std::vector<Reply> replies;
            bool readonly = false;
            bool sent = false;  // the request reached a primary: a drop now is final
            try {
                if (!primary_connection) co_await discover(deadline);
                auto connection = primary_connection;
                if (!connection->connected()) {
                    // A failed connect proves nothing was sent, so the request may go to
                    // the next primary (the same reasoning as the cluster client's).
                    co_await connection->execute(command_of(ping_command), deadline);
                }
                sent = true;
                replies = co_await connection->execute(request, deadline);
                readonly = is_readonly(replies);
                if (!readonly) {
                    if (used) *used = connection;
                    co_return replies;
                }
                // READONLY: the server was demoted; the write did not run anywhere.
                failure = std::make_exception_ptr(
                    ServerError(replies.front().is_error() ? replies.front().str : "READONLY"));
            } catch (const ConnectionError&) {
                if (sent) {
                    discover_in_background();  // it may have run: not re-sent
                    throw;
                }
                failure = std::current_exception();
            } catch (const TimeoutError&) {
                if (Clock::now() >= deadline) throw;
                failure = std::current_exception();
            }
            if (Clock::now() + backoff >= deadline) {
                if (readonly) co_return replies;  // the caller sees the error replies
                std::rethrow_exception(failure);
            }
            co_await sleep_until(executor, Clock::now() + backoff);
            backoff = std::min<Clock::duration>(backoff * 2, max_backoff);
            try {
                co_await discover(deadline);
            } catch (const std::exception&) {
                // Not yet (the sentinels may still name the old primary); the loop asks again.
            }
        }
    }

    // Backend
    asio::any_io_executor get_executor() const override { return executor; }
    asio::awaitable<std::vector<Reply>> execute_for_key(
        std::string_view, const Request& request, Deadline deadline,
        std::shared_ptr<Connection>* used) override {
        return execute(request, deadline, used);
    }
    // The replicas the sentinels list for the service (down ones too) or the primary's
    // connected ones, whichever is more, as last read.
    std::size_t replicas_of(std::string_view) override {
        refresh_replicas_if_stale();
        return replicas;
    }
    // Before the first discovery (a blocking acquire looks for a subscriber before its first
    // attempt) these point at port 0, which refuses: nothing is subscribed or sent there, and
    // the next call after the discovery gets the primary's.
    Subscriber& subscriber_for(std::string_view) override {
        const NodeAddress at = primary.value_or(unknown_primary);
        if (subscriber && subscriber_address != at) {
            subscriber->close();
            retired_subscribers.push_back(std::move(subscriber));
        }
        if (!subscriber) {
            subscriber = std::make_unique<Subscriber>(executor, data_options(at), false);
            subscriber_address = at;
        }
        return *subscriber;
    }
    std::shared_ptr<Connection> connection_for(std::string_view) override {
        if (!primary_connection)
            return std::make_shared<Connection>(executor, data_options(unknown_primary));
        return primary_connection;
    }
    std::string_view notify_command() const noexcept override { return "publish"; }
    std::shared_ptr<FailoverSignal> next_failover() override {
        if (!failover) failover = std::make_shared<FailoverSignal>(executor);
        return failover;
    }

    // The client goes away: lock re-checks waiting for a failover end without touching it.
    void end_failover_waits() {
        if (!failover) return;
        failover->outcome = FailoverOutcome::client_closed;
        failover->done.notify();
        failover.reset();
    }

    void close_all() {
        if (primary_connection) primary_connection->close();
        if (subscriber) subscriber->close();
        for (auto& retired : retired_subscribers) retired->close();
        for (auto& [key, connection] : sentinel_connections) connection->close();
        if (watch) watch->close();
    }
};

}  // namespace dlock::detail

namespace dlock {

namespace {
std::shared_ptr<detail::SentinelState> make_state(asio::any_io_executor executor,
                                                  SentinelOptions options) {
    if (options.sentinels.empty())
        throw std::invalid_argument("sentinels must name at least one sentinel");
    if (options.service.empty())
        throw std::invalid_argument("service must name the primary the sentinels monitor");
    auto state = std::make_shared<detail::SentinelState>();
    for (const ConnectionOptions& sentinel : options.sentinels) {
        if (!sentinel.unix_path.empty())
            throw std::invalid_argument("sentinels must be TCP addresses, not unix:" +
                                        sentinel.unix_path);
        detail::to_timeout_ms(sentinel.connect_timeout, "connect_timeout");
        detail::to_timeout_ms(sentinel.command_timeout, "command_timeout");
        state->add_sentinel(detail::NodeAddress{sentinel.host, sentinel.port});
    }
    detail::to_timeout_ms(options.data.connect_timeout, "connect_timeout");
    detail::to_timeout_ms(options.data.command_timeout, "command_timeout");
    detail::to_ms(options.replicas_max_age, "replicas_max_age");
    state->executor = std::move(executor);
    state->options = std::move(options);
    return state;
}

}  // namespace

RedisSentinel::RedisSentinel(asio::any_io_executor executor, SentinelOptions options)
    : Client(make_state(std::move(executor), std::move(options))) {}

RedisSentinel::RedisSentinel(asio::any_io_executor executor, std::string_view url)
    : RedisSentinel(std::move(executor), parse_sentinel_url(url)) {}

RedisSentinel::~RedisSentinel() {
    auto& state = detail::backend_as<detail::SentinelState>(*this);
    state.closed = true;
    state.end_failover_waits();
    state.close_all();
}

asio::awaitable<void> RedisSentinel::discover() {
    auto state = detail::backend_as<detail::SentinelState>(*this).shared_from_this();
    co_await state->discover(detail::Deadline::max());
}

asio::awaitable<Reply> RedisSentinel::command_views(std::span<const std::string_view> args,
                                                    std::optional<Seconds> timeout) {
    Request request;
    request.push(args);
    auto state = detail::backend_as<detail::SentinelState>(*this).shared_from_this();
    const auto deadline =
        detail::Clock::now() +
        detail::to_ms(timeout.value_or(state->options.data.command_timeout), "timeout");
    return [](std::shared_ptr<detail::SentinelState> state, Request request,
              detail::Deadline deadline) -> asio::awaitable<Reply> {
        auto replies = co_await state->execute(request, deadline, nullptr);
        replies.front().value();  // throws ServerError on an error reply
        co_return std::move(replies.front());
    }(std::move(state), std::move(request), deadline);
}

void RedisSentinel::close() {
    detail::backend_as<detail::SentinelState>(*this).close_all();
}

std::optional<std::string> RedisSentinel::primary() const {
    const auto& primary = detail::backend_as<detail::SentinelState>(*this).primary;
    if (!primary) return std::nullopt;
    return primary->key();
}

std::vector<std::string> RedisSentinel::sentinels() const {
    std::vector<std::string> out;
    for (const auto& sentinel : detail::backend_as<detail::SentinelState>(*this).sentinels)
        out.push_back(sentinel.key());
    return out;
}

std::uint64_t RedisSentinel::discoveries() const noexcept {
    return detail::backend_as<detail::SentinelState>(*this).discoveries;
}
std::uint64_t RedisSentinel::primary_changes() const noexcept {
    return detail::backend_as<detail::SentinelState>(*this).primary_changes;
}
const SentinelOptions& RedisSentinel::options() const noexcept {
    return detail::backend_as<detail::SentinelState>(*this).options;
}

}  // namespace dlock
