// dlock/redis_cluster.hpp: an asynchronous client of a Redis Cluster, for locks.
//
//   asio::io_context io;
//   dlock::RedisCluster cluster(io.get_executor(), {"redis://10.0.0.1:7000",
//   "redis://10.0.0.2:7000"}); dlock::Lock lock(cluster, "reports", {.timeout = 10s});   // acquire
//   = SET NX + WAIT
//
// RedisCluster routes each key's commands to the primary that serves the key's slot. It learns
// the slot map with CLUSTER SLOTS on first use (or refresh()), keeps one multiplexed connection
// per node (opened on demand, with a PING so that a failed connect is known to have sent
// nothing), and follows the cluster's redirections by itself:
//   - MOVED: the slot has a new owner; the command is re-sent there, the slot map is patched at
//     once and fully re-read in the background;
//   - ASK: the slot is being migrated; the command is re-sent to the target preceded by ASKING;
//   - TRYAGAIN, CLUSTERDOWN, LOADING: re-sent after a short back-off (10 ms doubling to 200 ms);
//   - a node that refuses connections (killed, failed over): the slot map is re-read from
//     another node and the command re-sent to the slot's owner.
// All of this stays within the command's deadline, and at most max_redirects redirections.
// A command whose connection dropped while it was in flight is NOT re-sent (it may have run):
// ConnectionError reaches the caller, as with dlock::Redis. A command that times out is not
// re-sent either, but the slot map is re-read in the background (the node may be failing).
//
// The first seed's options other than host and port (TLS, user/password, client name,
// timeouts) apply to every node; the other seeds only add addresses to read the slot map from.
// Only database 0 exists on a cluster.
//
// Calls must be made from the client's executor (single-threaded io_context or strand); for
// threads, use dlock::sync::RedisCluster (dlock/sync_cluster.hpp).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/client.hpp"
#include "dlock/options.hpp"
#include "dlock/reply.hpp"
#include "dlock/request.hpp"

namespace dlock {

struct ClusterOptions {
    // Redirections (MOVED/ASK) one command may follow before its last reply is returned as is
    // (command() then throws ServerError "MOVED ...").
    std::size_t max_redirects = 16;
    // The replica counts behind Lock::replication_factor() come from the cached slot map. When
    // it is older than this, the next look-up starts a background re-read, so a replica that
    // failed (and is no longer listed) or was added is taken into account. None: re-read only
    // on redirections, connection failures, timeouts and refresh().
    std::optional<Seconds> topology_max_age = Seconds(10);
};

class RedisCluster : public Client {
  public:
    // Throws std::invalid_argument when there is no seed, a seed is a unix:// address, or a
    // seed selects a database other than 0. No I/O happens here: the slot map is read on first
    // use.
    RedisCluster(asio::any_io_executor executor, std::vector<ConnectionOptions> seeds,
                 ClusterOptions options = {});
    // Parses each URL with parse_url() (std::invalid_argument on a bad one).
    RedisCluster(asio::any_io_executor executor, std::vector<std::string> seed_urls,
                 ClusterOptions options = {});
    // The same for a braced list of URLs ({"redis://a:7000", "redis://b:7000"}), which would
    // otherwise be ambiguous between the two overloads above.
    RedisCluster(asio::any_io_executor executor, std::initializer_list<std::string_view> seed_urls,
                 ClusterOptions options = {});
    ~RedisCluster() override;

    // Reads the slot map now (CLUSTER SLOTS from the first node that answers: known nodes
    // first, then the seeds). Concurrent calls share one read. Throws the last node's error
    // (ConnectionError, TimeoutError, ServerError...) when no node answered (each node is
    // given the first seed's command_timeout).
    asio::awaitable<void> refresh();

    // command() (dlock/client.hpp) runs one command on the node that serves its key:
    // co_await cluster.command("GET", key). The key is the 2nd argument (for
    // EVAL/EVALSHA/FCALL: the first key after numkeys); a command without key (PING, INFO,
    // CLUSTER, CONFIG, CLIENT, SCRIPT, PUBLISH...; see routing_key_index in
    // src/client/cluster_routing.hpp) goes to the primary of slot 0. Multi-key commands must
    // keep their keys in one slot ({hash tags}); Redis answers CROSSSLOT otherwise. The default
    // timeout is the first seed's command_timeout.

    // Drops every connection (requests in flight fail with ConnectionError); the next command
    // reconnects. The slot map is kept.
    void close();

    // From the cached slot map (empty before the first read): "host:port" of the primary that
    // serves `key`, and of every primary.
    std::optional<std::string> primary_of(std::string_view key) const;
    std::vector<std::string> primaries() const;
    // Counters, for monitoring and tests: full slot-map reads that succeeded, and MOVED/ASK
    // redirections followed.
    std::uint64_t topology_refreshes() const noexcept;
    std::uint64_t redirections() const noexcept;

    const ConnectionOptions& seed_options() const noexcept;

  private:
    asio::awaitable<Reply> command_views(std::span<const std::string_view> args,
                                         std::optional<Seconds> timeout) override;
    asio::awaitable<Reply> run(Request request, std::optional<std::uint16_t> slot,
                               std::optional<Seconds> timeout);
};

}  // namespace dlock
