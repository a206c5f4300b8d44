// dlock/redis.hpp: an asynchronous client of one Redis server (standalone or a replica set's
// primary), on Asio with C++20 coroutines.
//
//   asio::io_context io;
//   dlock::Redis redis(io.get_executor(), "redis://127.0.0.1:6379");
//   asio::co_spawn(io, [&]() -> asio::awaitable<void> {
//       dlock::Reply pong = co_await redis.command({"PING"});
//   }, asio::detached);
//
// All commands share one pipelined connection (see detail/connection.hpp), which reconnects by
// itself after a drop. Calls must be made from the client's executor (single-threaded
// io_context or strand); for threads, use dlock::sync::Redis.
#pragma once

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "dlock/client.hpp"
#include "dlock/options.hpp"

namespace dlock {

class Redis : public Client {
  public:
    Redis(asio::any_io_executor executor, ConnectionOptions options);
    // Parses `url` with parse_url(); throws std::invalid_argument on a bad URL.
    Redis(asio::any_io_executor executor, std::string_view url);
    ~Redis() override;
    Redis(const Redis&) = delete;
    Redis& operator=(const Redis&) = delete;

    // Runs one command: co_await redis.command("SET", key, value). Arguments are anything a
    // std::string_view can be made from. Throws ServerError on an error reply, ConnectionError,
    // TimeoutError (after options().command_timeout) or ProtocolError.
    // (Variadic rather than an initializer_list: GCC 12 miscompiles braced lists of literals
    // inside co_await expressions.)
    // (Constrained, so command(args_vector, 200ms) picks the overload below.)
    template <class... Args>
    requires(std::is_convertible_v<const Args&, std::string_view>&&...)
        asio::awaitable<Reply> command(const Args&... args) {
        const std::string_view views[] = {std::string_view(args)...};
        detail::Request request;
        request.push(std::span<const std::string_view>(views));
        return run(std::move(request), {});
    }
    asio::awaitable<Reply> command(std::vector<std::string> args,
                                   std::optional<std::chrono::milliseconds> timeout = {});

    // Runs several commands back to back in one write; error replies are returned, not thrown.
    asio::awaitable<std::vector<Reply>> pipeline(
        const detail::Request& request, std::optional<std::chrono::milliseconds> timeout = {});

    // Drops the connection (requests in flight fail with ConnectionError); the next command
    // reconnects.
    void close();

    const ConnectionOptions& options() const noexcept;
    std::shared_ptr<detail::Connection> connection() const noexcept { return connection_; }

    // Client
    asio::any_io_executor get_executor() const override;
    asio::awaitable<std::vector<Reply>> execute_for_key(
        std::string_view key, const detail::Request& request, detail::Deadline deadline,
        std::shared_ptr<detail::Connection>* used = nullptr) override;
    std::size_t replicas_of(std::string_view) const override { return 0; }
    detail::Subscriber& subscriber_for(std::string_view key) override;
    bool is_cluster() const noexcept override { return false; }

  private:
    asio::awaitable<Reply> run(detail::Request request,
                               std::optional<std::chrono::milliseconds> timeout);
    detail::Deadline deadline_after(std::optional<std::chrono::milliseconds> timeout) const;

    std::shared_ptr<detail::Connection> connection_;
    std::unique_ptr<detail::Subscriber> subscriber_;
};

}  // namespace dlock
