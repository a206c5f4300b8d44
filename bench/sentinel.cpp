// S9: S1 and S2 on a primary found through Sentinel (a primary with 2 replicas, 3 sentinels).
// Every acquisition there is SET NX PX + WAIT 1 (ceil(2/2) replicas must confirm it), so an
// acquire + release costs 3 round trips instead of 2, and WAIT waits for a replica's
// acknowledgement.
#include <dlock/redis_sentinel.hpp>

#include "bench.hpp"
#include "run_io.hpp"
#include "throughput.hpp"

namespace dlock::bench {

void run_sentinel(const Params& params) {
    if (params.sentinel_url.empty()) {
        print_skipped("S9", "no --sentinel-url");
        return;
    }
    asio::io_context io;
    dlock::RedisSentinel redis(io.get_executor(), params.sentinel_url);
    run_to_end(io, redis.discover());
    run_replicated_pairs("S9", io, redis, "bench:s7:", params, "sentinel",
                         "1 primary x 2 replicas, 3 sentinels");
}

}  // namespace dlock::bench
