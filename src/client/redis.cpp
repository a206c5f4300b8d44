// dlock::Redis: one server behind one multiplexed connection, plus a subscriber for
// release notifications (see dlock/redis.hpp).
#include "dlock/redis.hpp"

#include <algorithm>
#include <asio.hpp>

#include "client/sentinel_replies.hpp"
#include "client/standalone.hpp"
#include "net/subscriber.hpp"
#include "protocol/durations.hpp"

namespace dlock::detail {

namespace {
constexpr std::string_view role_command[] = {"ROLE"};

// (Built from an array, not a braced list: GCC 12 miscompiles braced lists of literals inside
// co_await expressions.)
Request role_request() {
    Request request;
    request.push(std::span<const std::string_view>(role_command));
    return request;
}

// One ROLE on `connection`: the replicas it lists, or nothing when it is refused (an ACL
// without ROLE; the configured count then stands alone) or not a primary's answer.
asio::awaitable<std::optional<std::size_t>> listed_replicas(Connection& connection,
                                                            Deadline deadline) {
    auto replies = co_await connection.execute(role_request(), deadline);
    if (replies.front().is_error()) co_return std::nullopt;
    const Role role = parse_role(replies.front());
    if (!role.primary) co_return std::nullopt;
    co_return role.replicas;
}
}  // namespace

StandaloneBackend::StandaloneBackend(asio::any_io_executor executor, ConnectionOptions options)
    : connection_(std::make_shared<Connection>(std::move(executor), std::move(options))) {
    to_ms(connection_->options().confirm_on_replicas.max_age, "confirm_on_replicas.max_age");
}

// The last owner (a Redis, or a Lock that outlived it) is gone: close the sockets, or their
// reader loops would keep the connections, and the executor's work, alive forever.
StandaloneBackend::~StandaloneBackend() {
    close();
}

asio::any_io_executor StandaloneBackend::get_executor() const {
    return connection_->get_executor();
}

asio::awaitable<std::vector<Reply>> StandaloneBackend::execute_for_key(
    std::string_view, const Request& request, Deadline deadline,
    std::shared_ptr<Connection>* used) {
    if (used) *used = connection_;
    // With the opt-in, R must be known before the first lock write is confirmed (or its WAIT
    // would ask for too few); one ROLE, once. Without it nothing is added to the path.
    if (connection_->options().confirm_on_replicas.enabled && !listed_->read)
        return read_replicas_then_execute(request, deadline);
    return connection_->execute(request, deadline);
}

asio::awaitable<std::vector<Reply>> StandaloneBackend::read_replicas_then_execute(
    const Request& request, Deadline deadline) {
    auto connection = connection_;
    auto listed = listed_;
    std::optional<std::size_t> count;
    try {
        count = co_await listed_replicas(*connection, deadline);
    } catch (const std::exception&) {
        // Unreachable: the request below fails the same way, and the next one reads again.
    }
    if (count) listed->count = *count;
    listed->read = true;
    listed->read_at = Clock::now();
    co_return co_await connection->execute(request, deadline);
}

std::size_t StandaloneBackend::replicas_of(std::string_view) {
    const ReplicaConfirmation& confirm = connection_->options().confirm_on_replicas;
    if (!confirm.enabled) return 0;
    refresh_replicas_if_stale();
    return std::max(confirm.replicas, listed_->count);
}

void StandaloneBackend::refresh_replicas_if_stale() {
    const ReplicaConfirmation& confirm = connection_->options().confirm_on_replicas;
    if (!listed_->read || listed_->reading ||
        Clock::now() - listed_->read_at < to_ms(confirm.max_age, "confirm_on_replicas.max_age"))
        return;
    listed_->reading = true;
    asio::co_spawn(
        connection_->get_executor(),
        [connection = connection_, listed = listed_]() -> asio::awaitable<void> {
            try {
                const auto count =
                    co_await listed_replicas(*connection, connection->command_deadline());
                if (count) listed->count = *count;
            } catch (const std::exception&) {
            }
            listed->read_at = Clock::now();
            listed->reading = false;
        },
        asio::detached);
}

Subscriber& StandaloneBackend::subscriber_for(std::string_view) {
    if (!subscriber_) {
        subscriber_ = std::make_unique<Subscriber>(connection_->get_executor(),
                                                   connection_->options(), false);
    }
    return *subscriber_;
}

void StandaloneBackend::close() {
    connection_->close();
    if (subscriber_) subscriber_->close();
}

std::shared_ptr<Connection> connection_of(Redis& redis) {
    return backend_as<StandaloneBackend>(redis).connection();
}

}  // namespace dlock::detail

namespace dlock {

namespace {
detail::Deadline deadline_after(const detail::Connection& connection,
                                std::optional<Seconds> timeout) {
    if (!timeout) return connection.command_deadline();
    return detail::Clock::now() + detail::to_ms(*timeout, "timeout");
}

}  // namespace

Redis::Redis(asio::any_io_executor executor, ConnectionOptions options)
    : Client(std::make_shared<detail::StandaloneBackend>(std::move(executor), std::move(options))) {
}

Redis::Redis(asio::any_io_executor executor, std::string_view url)
    : Redis(std::move(executor), parse_url(url)) {}

Redis::~Redis() {
    close();
}

const ConnectionOptions& Redis::options() const noexcept {
    return detail::backend_as<detail::StandaloneBackend>(*this).connection()->options();
}

void Redis::close() {
    detail::backend_as<detail::StandaloneBackend>(*this).close();
}

asio::awaitable<Reply> Redis::command_views(std::span<const std::string_view> args,
                                            std::optional<Seconds> timeout) {
    Request request;
    request.push(args);
    auto connection = detail::backend_as<detail::StandaloneBackend>(*this).connection();
    const detail::Deadline deadline = deadline_after(*connection, timeout);
    return [](std::shared_ptr<detail::Connection> connection, Request request,
              detail::Deadline deadline) -> asio::awaitable<Reply> {
        auto replies = co_await connection->execute(request, deadline);
        replies.front().value();  // throws ServerError on an error reply
        co_return std::move(replies.front());
    }(std::move(connection), std::move(request), deadline);
}

asio::awaitable<std::vector<Reply>> Redis::pipeline(const Request& request,
                                                    std::optional<Seconds> timeout) {
    auto connection = detail::backend_as<detail::StandaloneBackend>(*this).connection();
    return connection->execute(request, deadline_after(*connection, timeout));
}

}  // namespace dlock
