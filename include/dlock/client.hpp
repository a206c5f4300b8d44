// dlock/client.hpp: where locks live, as one handle a Lock can take.
//
// A Client is a Redis deployment seen from a lock: dlock::Redis (one server),
// dlock::RedisSentinel (a primary found through sentinels) or dlock::RedisCluster (a slot router).
// Users construct one of those and hand it to a Lock, a fenced_write() or an inspection; the Client
// itself offers its executor and command(), which any code holding a Client& can use. How a key is
// routed, and how many replicas must confirm a write, is the private backend's business
// (src/client/backend.hpp).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "dlock/observer.hpp"
#include "dlock/options.hpp"
#include "dlock/reply.hpp"

namespace dlock {

namespace detail {
class Backend;
struct BackendAccess;
}  // namespace detail

class Client {
  public:
    virtual ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // The executor every call on this client (and on its locks) must be made from.
    asio::any_io_executor get_executor() const;

    // Runs one command where this client sends it: co_await client.command("SET", key, value).
    // dlock::Redis sends it to its server, RedisSentinel to the current primary, RedisCluster
    // to the primary serving the command's key (each header says how it retries and follows
    // redirections). Arguments are anything a std::string_view can be made from. Throws
    // ServerError on an error reply, ConnectionError, TimeoutError (after `timeout`; default:
    // the client's command_timeout) or ProtocolError; std::invalid_argument for no arguments.
    // (Variadic rather than an initializer_list: GCC 12 miscompiles braced lists of literals
    // inside co_await expressions. Constrained, so command(args_vector, 200ms) picks the
    // overload below.)
    template <class... Args>
    requires(sizeof...(Args) > 0 && (std::is_convertible_v<const Args&, std::string_view> &&
                                     ...)) asio::awaitable<Reply> command(const Args&... args) {
        const std::string_view views[] = {std::string_view(args)...};
        return command_views(std::span<const std::string_view>(views), {});
    }
    asio::awaitable<Reply> command(std::vector<std::string> args,
                                   std::optional<Seconds> timeout = {});

    // Events of every Lock built on this client afterwards (a LockOptions::observer takes
    // precedence), and of wake-ups this process passes on (dlock/observer.hpp). Null: none.
    // Set it from the client's executor, before the locks that should report are built.
    void set_observer(std::shared_ptr<Observer> observer);
    const std::shared_ptr<Observer>& observer() const noexcept;

  private:
    // Only dlock's own clients have a backend to give.
    friend class Redis;
    friend class RedisCluster;
    friend class RedisSentinel;
    friend struct detail::BackendAccess;
    explicit Client(std::shared_ptr<detail::Backend> backend);
    // Each client's routing of one command. Not a coroutine: it reads `args` before returning,
    // so temporaries may be passed; `args` is not empty.
    virtual asio::awaitable<Reply> command_views(std::span<const std::string_view> args,
                                                 std::optional<Seconds> timeout) = 0;
    std::shared_ptr<detail::Backend> backend_;
};

}  // namespace dlock
