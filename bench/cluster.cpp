// S5: S1 and S2 on a Redis Cluster of 3 primaries with 1 replica each. Every acquisition
// there is SET NX PX + WAIT 1 (the key's replica must confirm it), so an acquire + release
// costs 3 round trips instead of 2, and WAIT waits for the replica's acknowledgement.
#include <iostream>

#include "bench.hpp"

#if __has_include(<dlock/redis_cluster.hpp>)
#include <dlock/redis_cluster.hpp>

#include "run_io.hpp"
#include "throughput.hpp"
#endif

namespace dlock::bench {

void run_cluster(const Params& params) {
#if __has_include(<dlock/redis_cluster.hpp>)
    if (params.cluster_url.empty()) {
        JsonLine line;
        line.add("scenario", "S5")
            .add("impl", "dlock")
            .add("skipped", "no cluster (--cluster-url)");
        std::cout << line.str() << std::endl;
        return;
    }
    asio::io_context io;
    std::vector<std::string> seeds{params.cluster_url};
    dlock::RedisCluster cluster(io.get_executor(), seeds);
    run_to_end(io, cluster.refresh());
    PairStats stats = measure_pairs(io, cluster, params.tasks, "bench:s5:", params);
    JsonLine p;
    p.add("tasks", params.tasks)
        .add("duration_s", params.duration_s)
        .add("op", "acquire+release")
        .add("cluster", "3 primaries x 1 replica")
        .add("wait_replicas", 1);
    print_pairs("S5", p, stats);
#else
    (void)params;
    JsonLine line;
    line.add("scenario", "S5")
        .add("impl", "dlock")
        .add("skipped", "dlock::RedisCluster is not in this build");
    std::cout << line.str() << std::endl;
#endif
}

}  // namespace dlock::bench
