// dlock/sync_cluster.hpp: the blocking API on a Redis Cluster, for threads.
//
// dlock::sync::RedisCluster owns an I/O thread and a dlock::RedisCluster on it; any number of
// threads may call it at once, and dlock::sync::Lock takes it like a sync::Redis:
//
//   dlock::sync::RedisCluster cluster({"redis://10.0.0.1:7000", "redis://10.0.0.2:7000"});
//   dlock::sync::Lock lock(cluster, "reports", {.timeout = 30s});
//   std::unique_lock guard(lock);
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/redis_cluster.hpp"
#include "dlock/sync.hpp"

namespace dlock::sync {

class RedisCluster : public BasicClient<dlock::RedisCluster> {
  public:
    // Same arguments and validation as dlock::RedisCluster; no I/O happens here.
    explicit RedisCluster(std::vector<ConnectionOptions> seeds, ClusterOptions options = {})
        : BasicClient(std::move(seeds), options) {}
    explicit RedisCluster(std::vector<std::string> seed_urls, ClusterOptions options = {})
        : BasicClient(std::move(seed_urls), options) {}
    explicit RedisCluster(std::initializer_list<std::string_view> seed_urls,
                          ClusterOptions options = {})
        : BasicClient(std::vector<std::string>(seed_urls.begin(), seed_urls.end()), options) {}

    // Reads the slot map now. Throws like dlock::RedisCluster::refresh.
    void refresh() {
        io().run([this] { return async_client().refresh(); });
    }
};

}  // namespace dlock::sync
