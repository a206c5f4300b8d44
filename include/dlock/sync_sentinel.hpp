// dlock/sync_sentinel.hpp: the blocking API on a primary found through Redis Sentinel.
//
// dlock::sync::RedisSentinel owns an I/O thread and a dlock::RedisSentinel on it; any number
// of threads may call it at once, and dlock::sync::Lock takes it like a sync::Redis:
//
//   dlock::sync::RedisSentinel redis("redis-sentinel://10.0.0.1:26379,10.0.0.2:26379#orders");
//   dlock::sync::Lock lock(redis, "reports", {.timeout = 30s});
//   std::unique_lock guard(lock);
#pragma once

#include <string_view>

#include "dlock/redis_sentinel.hpp"
#include "dlock/sync.hpp"

namespace dlock::sync {

class RedisSentinel : public BasicClient<dlock::RedisSentinel> {
  public:
    // Same arguments and validation as dlock::RedisSentinel; no I/O happens here.
    explicit RedisSentinel(SentinelOptions options) : BasicClient(std::move(options)) {}
    explicit RedisSentinel(std::string_view url) : BasicClient(url) {}

    // Asks the sentinels for the primary now. Throws like dlock::RedisSentinel::discover.
    void discover() {
        io().run([this] { return async_client().discover(); });
    }
};

}  // namespace dlock::sync
