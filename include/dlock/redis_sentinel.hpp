// dlock/redis_sentinel.hpp: an asynchronous client of a primary found through Redis Sentinel.
//
//   asio::io_context io;
//   dlock::RedisSentinel redis(io.get_executor(),
//                              "redis-sentinel://10.0.0.1:26379,10.0.0.2:26379#orders");
//   dlock::Lock lock(redis, "reports", {.timeout = 10s});   // acquire = SET NX + WAIT
//
// Discovery follows the Sentinel client protocol: the sentinels are asked in turn for
// SENTINEL GET-MASTER-ADDR-BY-NAME; the answer is checked with ROLE on the named server (it
// must say "master"); the sentinel that answered moves to the front of the list, and the list
// is refreshed with SENTINEL SENTINELS. The client subscribes to +switch-master on a sentinel
// and moves to the new primary as soon as one is announced. A refused connection to the
// primary, a READONLY reply (the server was demoted) or a ROLE that is not "master" make it
// discover again and re-send the command, all within the command's deadline; a command whose
// connection dropped while it was in flight is NOT re-sent (it may have run): ConnectionError
// reaches the caller, as with dlock::Redis.
//
// Replication: a Lock on a RedisSentinel counts an acquisition only once WAIT ceil(R/2)
// confirmed it, R being the replicas the sentinels list for the service (including those that
// are down: a replica that is down is a replica that did not confirm). R is re-read every
// replicas_max_age. See docs/semantics.md, "Sentinel".
//
// Calls must be made from the client's executor; for threads use dlock::sync::RedisSentinel
// (dlock/sync_sentinel.hpp).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "dlock/client.hpp"
#include "dlock/options.hpp"
#include "dlock/reply.hpp"

namespace dlock {

struct SentinelOptions {
    // The name the sentinels monitor the primary under (`sentinel monitor NAME ...`).
    std::string service;
    // The sentinels: address plus their own credentials, TLS settings and timeouts (a sentinel
    // usually has no password, or another one than the data nodes). At least one. Sentinels
    // learned later from SENTINEL SENTINELS get the first one's settings.
    std::vector<ConnectionOptions> sentinels;
    // Credentials, TLS settings, database, client name and timeouts for the data nodes (the
    // primary); host, port and unix_path are ignored: the sentinels say where the primary is.
    ConnectionOptions data;
    // How often the replica count behind Lock::replication_factor() is re-read from the
    // sentinels (in the background, on the next look-up after it went stale).
    Seconds replicas_max_age{1.0};
};

// Parses redis-sentinel://[[user]:password@]host[:port][,host[:port]...][/db]#service
// (default port 26379) and rediss-sentinel://... (TLS to sentinels and data nodes alike).
// User and password are the data nodes' (the sentinels get none: set SentinelOptions for
// them). Throws std::invalid_argument naming the problem, with the password masked.
SentinelOptions parse_sentinel_url(std::string_view url);

class RedisSentinel : public Client {
  public:
    // Throws std::invalid_argument when there is no sentinel or no service name, a sentinel is
    // a unix:// address, or a duration is invalid. No I/O happens here.
    RedisSentinel(asio::any_io_executor executor, SentinelOptions options);
    // Parses `url` with parse_sentinel_url().
    RedisSentinel(asio::any_io_executor executor, std::string_view url);
    ~RedisSentinel() override;

    // command() (dlock/client.hpp) runs one command on the primary; the default timeout is the
    // data nodes' command_timeout. While no primary can be found (no sentinel answers or knows
    // the service, the one named refuses or is not a master) discovery is retried with a short
    // back-off until the deadline; then the last failure is thrown.

    // Asks the sentinels for the primary now (see the top of this file). Throws the last
    // error when none named a primary that confirmed its role (within the sentinels'
    // command_timeout each).
    asio::awaitable<void> discover();

    // Drops every connection; the next command reconnects (to the primary last known).
    void close();

    // "host:port" of the primary last discovered (empty before the first discovery).
    std::optional<std::string> primary() const;
    // The sentinels in the order they will be asked ("host:port").
    std::vector<std::string> sentinels() const;
    // Counters for monitoring and tests: discoveries that succeeded, and how many of them
    // found another primary than the one before (a failover followed).
    std::uint64_t discoveries() const noexcept;
    std::uint64_t primary_changes() const noexcept;

    const SentinelOptions& options() const noexcept;

  private:
    asio::awaitable<Reply> command_views(std::span<const std::string_view> args,
                                         std::optional<Seconds> timeout) override;
};

}  // namespace dlock
