// dlock/client.hpp: what a Lock needs from "a Redis": a place to run a key's commands.
//
// Redis (one server) and RedisCluster (slot router) implement it; they differ only in routing
// and in how many replicas hold a key. Users do not call these members directly: they construct
// a Redis or RedisCluster and hand it to a Lock.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "dlock/detail/connection.hpp"
#include "dlock/reply.hpp"

namespace dlock {

namespace detail {
class Subscriber;
}

class Client {
  public:
    virtual ~Client() = default;

    // The executor every call on this client (and its locks) must be made from.
    virtual asio::any_io_executor get_executor() const = 0;

    // Runs `request` on the server that owns `key` (following redirections on a cluster) and
    // returns one reply per command. When `used` is given it receives the connection that ran
    // the request, so a WAIT can follow on the same connection.
    virtual asio::awaitable<std::vector<Reply>> execute_for_key(
        std::string_view key, const detail::Request& request, detail::Deadline deadline,
        std::shared_ptr<detail::Connection>* used = nullptr) = 0;

    // Number of replicas of the shard that owns `key`, from the last known topology (0 on a
    // standalone server).
    virtual std::size_t replicas_of(std::string_view key) const = 0;

    // The subscriber that receives release notifications for `key` (one shared connection per
    // server), created on first use.
    virtual detail::Subscriber& subscriber_for(std::string_view key) = 0;

    // True on a Redis Cluster: notifications use sharded pub/sub (SPUBLISH/SSUBSCRIBE).
    virtual bool is_cluster() const noexcept = 0;
};

}  // namespace dlock
