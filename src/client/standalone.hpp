// standalone.hpp (private): the backend of dlock::Redis, one server.
#pragma once

#include <memory>

#include "client/backend.hpp"
#include "dlock/options.hpp"
#include "dlock/redis.hpp"
#include "net/connection.hpp"

namespace dlock::detail {

class StandaloneBackend final : public Backend {
  public:
    StandaloneBackend(asio::any_io_executor executor, ConnectionOptions options);
    ~StandaloneBackend() override;

    asio::any_io_executor get_executor() const override;
    asio::awaitable<std::vector<Reply>> execute_for_key(
        std::string_view key, const Request& request, Deadline deadline,
        std::shared_ptr<Connection>* used = nullptr) override;
    // 0 unless ConnectionOptions::confirm_on_replicas is enabled; then the larger of its
    // `replicas` and those ROLE last listed (re-read when older than its max_age).
    std::size_t replicas_of(std::string_view) override;
    Subscriber& subscriber_for(std::string_view key) override;
    std::shared_ptr<Connection> connection_for(std::string_view) override { return connection_; }
    std::string_view notify_command() const noexcept override { return "publish"; }

    const std::shared_ptr<Connection>& connection() const noexcept { return connection_; }
    void close();

  private:
    // The replicas ROLE listed, shared with the background re-read (which may outlive us).
    struct ListedReplicas {
        std::size_t count = 0;
        bool read = false;  // ROLE answered at least once
        Clock::time_point read_at{};
        bool reading = false;
    };
    asio::awaitable<std::vector<Reply>> read_replicas_then_execute(const Request& request,
                                                                   Deadline deadline);
    void refresh_replicas_if_stale();

    std::shared_ptr<Connection> connection_;
    std::shared_ptr<ListedReplicas> listed_ = std::make_shared<ListedReplicas>();
    std::unique_ptr<Subscriber> subscriber_;
};

// For tests: the connection behind a dlock::Redis (to watch reconnects).
std::shared_ptr<Connection> connection_of(Redis& redis);

}  // namespace dlock::detail
