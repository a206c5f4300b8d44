// dlock/redis.hpp: an asynchronous client of one Redis server (standalone or a replica set's
// primary), on Asio with C++20 coroutines.
//
//   asio::io_context io;
//   dlock::Redis redis(io.get_executor(), "redis://127.0.0.1:6379");
//   asio::co_spawn(io, [&]() -> asio::awaitable<void> {
//       dlock::Reply pong = co_await redis.command({"PING"});
//   }, asio::detached);
//
// All commands share one pipelined connection, which reconnects by itself after a drop. Calls must
// be made from the client's executor (single-threaded io_context or strand); for threads, use
// dlock::sync::Redis.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "dlock/client.hpp"
#include "dlock/options.hpp"
#include "dlock/reply.hpp"
#include "dlock/request.hpp"

namespace dlock {

class Redis : public Client {
  public:
    Redis(asio::any_io_executor executor, ConnectionOptions options);
    // Parses `url` with parse_url(); throws std::invalid_argument on a bad URL.
    Redis(asio::any_io_executor executor, std::string_view url);
    ~Redis() override;

    // command() (dlock/client.hpp) runs one command on the server.

    // Runs several commands back to back in one write; error replies are returned, not thrown.
    asio::awaitable<std::vector<Reply>> pipeline(const Request& request,
                                                 std::optional<Seconds> timeout = {});

    // Drops the connection (requests in flight fail with ConnectionError); the next command
    // reconnects.
    void close();

    const ConnectionOptions& options() const noexcept;

  private:
    asio::awaitable<Reply> command_views(std::span<const std::string_view> args,
                                         std::optional<Seconds> timeout) override;
};

}  // namespace dlock
