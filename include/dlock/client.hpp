// dlock/client.hpp: where locks live, as one handle a Lock can take.
//
// A Client is a Redis deployment seen from a lock: dlock::Redis (one server) or
// dlock::RedisCluster (a slot router). Users construct one of those and hand it to a Lock,
// a fenced_write() or an inspection; the Client itself offers only its executor. How a key
// is routed, and how many replicas must confirm a write, is the private backend's business
// (src/client/backend.hpp).
#pragma once

#include <asio/any_io_executor.hpp>
#include <memory>

#include "dlock/observer.hpp"

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

    // Events of every Lock built on this client afterwards (a LockOptions::observer takes
    // precedence), and of wake-ups this process passes on (dlock/observer.hpp). Null: none.
    // Set it from the client's executor, before the locks that should report are built.
    void set_observer(std::shared_ptr<Observer> observer);
    const std::shared_ptr<Observer>& observer() const noexcept;

  private:
    // Only dlock's own clients have a backend to give.
    friend class Redis;
    friend class RedisCluster;
    friend struct detail::BackendAccess;
    explicit Client(std::shared_ptr<detail::Backend> backend);
    std::shared_ptr<detail::Backend> backend_;
};

}  // namespace dlock
