#include "dlock/redis.hpp"

#include "lock/scripts.hpp"
#include "net/subscriber.hpp"

namespace dlock {

Redis::Redis(asio::any_io_executor executor, ConnectionOptions options)
    : connection_(std::make_shared<detail::Connection>(std::move(executor), std::move(options))) {}

Redis::Redis(asio::any_io_executor executor, std::string_view url)
    : Redis(std::move(executor), parse_url(url)) {}

Redis::~Redis() {
    close();
}

const ConnectionOptions& Redis::options() const noexcept {
    return connection_->options();
}

asio::any_io_executor Redis::get_executor() const {
    return connection_->get_executor();
}

void Redis::close() {
    connection_->close();
    if (subscriber_) subscriber_->close();
}

detail::Deadline Redis::deadline_after(std::optional<std::chrono::milliseconds> timeout) const {
    return detail::Clock::now() + timeout.value_or(options().command_timeout);
}

asio::awaitable<Reply> Redis::run(detail::Request request,
                                  std::optional<std::chrono::milliseconds> timeout) {
    auto replies = co_await connection_->execute(request, deadline_after(timeout));
    replies.front().value();  // throws ServerError on an error reply
    co_return std::move(replies.front());
}

asio::awaitable<Reply> Redis::command(std::vector<std::string> args,
                                      std::optional<std::chrono::milliseconds> timeout) {
    detail::Request request;
    request.push(std::span<const std::string>(args));
    return run(std::move(request), timeout);
}

asio::awaitable<std::vector<Reply>> Redis::pipeline(
    const detail::Request& request, std::optional<std::chrono::milliseconds> timeout) {
    return connection_->execute(request, deadline_after(timeout));
}

asio::awaitable<std::vector<Reply>> Redis::execute_for_key(
    std::string_view, const detail::Request& request, detail::Deadline deadline,
    std::shared_ptr<detail::Connection>* used) {
    if (used) *used = connection_;
    return connection_->execute(request, deadline);
}

detail::Subscriber& Redis::subscriber_for(std::string_view) {
    if (!subscriber_) {
        subscriber_ =
            std::make_unique<detail::Subscriber>(connection_->get_executor(), options(), false);
        subscriber_->set_unclaimed_handler(
            [connection = connection_](const std::string& lock_name, const std::string& inbox) {
                detail::pass_on_wakeup(connection, lock_name, inbox, false);
            });
    }
    return *subscriber_;
}

}  // namespace dlock
