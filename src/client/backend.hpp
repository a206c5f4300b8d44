// backend.hpp (private): what a lock needs from a Redis deployment.
//
// One server, a Redis Cluster (and Sentinel) differ only here: where a key's commands run, how
// many replicas hold the key, where release notifications arrive and how they are sent. Lock,
// fenced_write and Redlock talk to this interface; dlock::Client is its public, opaque handle.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "dlock/client.hpp"
#include "dlock/observer.hpp"
#include "dlock/reply.hpp"
#include "dlock/request.hpp"
#include "net/asio.hpp"
#include "net/notification.hpp"

namespace dlock::detail {

class Connection;
class Subscriber;

// The next change of primary (a failover followed), for locks to re-check their keys at once.
// `client_closed`: the client went away instead; a waiter must then touch nothing of it.
enum class FailoverOutcome : bool { followed, client_closed };
using FailoverSignal = Ending<FailoverOutcome>;

class Backend {
  public:
    virtual ~Backend() = default;

    virtual asio::any_io_executor get_executor() const = 0;

    // Runs `request` on the server that owns `key` (following redirections on a cluster) and
    // returns one reply per command. When `used` is given it receives the connection that ran
    // the request, so a WAIT can follow on the same connection.
    virtual asio::awaitable<std::vector<Reply>> execute_for_key(
        std::string_view key, const Request& request, Deadline deadline,
        std::shared_ptr<Connection>* used = nullptr) = 0;

    // Number of replicas of the shard that owns `key`, from the last known topology (0 on a
    // standalone server).
    virtual std::size_t replicas_of(std::string_view key) = 0;

    // The subscriber that receives release notifications for `key` (one shared connection per
    // server), created on first use, and the connection of the server that owns `key` (where
    // a wake-up nobody here can use is passed on).
    virtual Subscriber& subscriber_for(std::string_view key) = 0;
    virtual std::shared_ptr<Connection> connection_for(std::string_view key) = 0;

    // How a script notifies the inbox subscribed by subscriber_for(): "publish" on one
    // server, "spublish" (sharded pub/sub, from the key's shard) on a cluster.
    virtual std::string_view notify_command() const noexcept = 0;

    // Notified at the next failover this client follows (a fresh signal after each); null
    // when the backend does not follow failovers by itself (one server, a cluster).
    virtual std::shared_ptr<FailoverSignal> next_failover() { return nullptr; }

    // Client::set_observer(): the default observer of this client's locks and wake-ups.
    std::shared_ptr<Observer> observer;
};

// The backend behind a public Client handle.
struct BackendAccess {
    static Backend& of(Client& client) noexcept { return *client.backend_; }
    static const Backend& of(const Client& client) noexcept { return *client.backend_; }
    static std::shared_ptr<Backend> shared_of(Client& client) noexcept { return client.backend_; }
};

inline Backend& backend_of(Client& client) noexcept {
    return BackendAccess::of(client);
}
// The backend of a handle whose type fixes it (a Redis has a StandaloneBackend, ...).
template <class Concrete>
Concrete& backend_as(Client& client) noexcept {
    return static_cast<Concrete&>(BackendAccess::of(client));
}
template <class Concrete>
const Concrete& backend_as(const Client& client) noexcept {
    return static_cast<const Concrete&>(BackendAccess::of(client));
}
// For an object that may outlive the client handle (a Lock keeps its backend alive).
inline std::shared_ptr<Backend> shared_backend_of(Client& client) noexcept {
    return BackendAccess::shared_of(client);
}

}  // namespace dlock::detail
