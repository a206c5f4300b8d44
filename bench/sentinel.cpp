// S9: S1 and S2 on a primary found through Sentinel (a primary with 2 replicas, 3 sentinels).
// Every acquisition there is SET NX PX + WAIT 1 (ceil(2/2) replicas must confirm it), so an
// acquire + release costs 3 round trips instead of 2, and WAIT waits for a replica's
// acknowledgement.
#include <dlock/redis_sentinel.hpp>
#include <iostream>

#include "bench.hpp"
#include "run_io.hpp"
#include "throughput.hpp"

namespace dlock::bench {

void run_sentinel(const Params& params) {
    if (params.sentinel_url.empty()) {
        JsonLine line;
        line.add("scenario", "S9").add("impl", "dlock").add("skipped", "no --sentinel-url");
        std::cout << line.str() << std::endl;
        return;
    }
    asio::io_context io;
    dlock::RedisSentinel redis(io.get_executor(), params.sentinel_url);
    run_to_end(io, redis.discover());
    PairStats stats = measure_pairs(io, redis, params.tasks, "bench:s7:", params);
    JsonLine p;
    p.add("tasks", params.tasks)
        .add("duration_s", params.duration_s)
        .add("op", "acquire+release")
        .add("sentinel", "1 primary x 2 replicas, 3 sentinels")
        .add("wait_replicas", 1);
    print_pairs("S9", p, stats);
}

}  // namespace dlock::bench
