#include "dlock/client.hpp"

#include <stdexcept>

#include "client/backend.hpp"

namespace dlock {

Client::Client(std::shared_ptr<detail::Backend> backend) : backend_(std::move(backend)) {}
Client::~Client() = default;

asio::any_io_executor Client::get_executor() const {
    return backend_->get_executor();
}

asio::awaitable<Reply> Client::command(std::vector<std::string> args,
                                       std::optional<Seconds> timeout) {
    if (args.empty()) throw std::invalid_argument("args must not be empty");
    const std::vector<std::string_view> views(args.begin(), args.end());
    return command_views(views, timeout);
}

void Client::set_observer(std::shared_ptr<Observer> observer) {
    backend_->observer = std::move(observer);
}
const std::shared_ptr<Observer>& Client::observer() const noexcept {
    return backend_->observer;
}

}  // namespace dlock
