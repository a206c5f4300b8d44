// dlock::Redis: one server behind one multiplexed connection, plus a subscriber for
// release notifications (see dlock/redis.hpp).
#include "dlock/redis.hpp"

#include "client/standalone.hpp"
#include "net/subscriber.hpp"
#include "protocol/durations.hpp"

namespace dlock::detail {

StandaloneBackend::StandaloneBackend(asio::any_io_executor executor, ConnectionOptions options)
    : connection_(std::make_shared<Connection>(std::move(executor), std::move(options))) {}

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
    return connection_->execute(request, deadline);
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
    return static_cast<StandaloneBackend&>(backend_of(redis)).connection();
}

}  // namespace dlock::detail

namespace dlock {

namespace {
detail::Deadline deadline_after(const detail::Connection& connection,
                                std::optional<Seconds> timeout) {
    if (!timeout) return connection.command_deadline();
    return detail::Clock::now() + detail::to_ms(*timeout, "timeout");
}

detail::StandaloneBackend& standalone(Client& client) {
    return static_cast<detail::StandaloneBackend&>(detail::backend_of(client));
}
const detail::StandaloneBackend& standalone(const Client& client) {
    return static_cast<const detail::StandaloneBackend&>(detail::BackendAccess::of(client));
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
    return standalone(*this).connection()->options();
}

void Redis::close() {
    standalone(*this).close();
}

asio::awaitable<Reply> Redis::run(Request request, std::optional<Seconds> timeout) {
    auto connection = standalone(*this).connection();
    auto replies = co_await connection->execute(request, deadline_after(*connection, timeout));
    replies.front().value();  // throws ServerError on an error reply
    co_return std::move(replies.front());
}

asio::awaitable<Reply> Redis::command(std::vector<std::string> args,
                                      std::optional<Seconds> timeout) {
    Request request;
    request.push(std::span<const std::string>(args));
    return run(std::move(request), timeout);
}

asio::awaitable<std::vector<Reply>> Redis::pipeline(const Request& request,
                                                    std::optional<Seconds> timeout) {
    auto connection = standalone(*this).connection();
    return connection->execute(request, deadline_after(*connection, timeout));
}

}  // namespace dlock
