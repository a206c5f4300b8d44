// S5: S1 and S2 on a Redis Cluster of 3 primaries with 1 replica each. Every acquisition
// there is SET NX PX + WAIT 1 (the key's replica must confirm it), so an acquire + release
// costs 3 round trips instead of 2, and WAIT waits for the replica's acknowledgement.
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
        print_skipped("S5", "no cluster (--cluster-url)");
        return;
    }
    asio::io_context io;
    std::vector<std::string> seeds{params.cluster_url};
    dlock::RedisCluster cluster(io.get_executor(), seeds);
    run_to_end(io, cluster.refresh());
    run_replicated_pairs("S5", io, cluster, "bench:s5:", params, "cluster",
                         "3 primaries x 1 replica");
#else
    (void)params;
    print_skipped("S5", "dlock::RedisCluster is not in this build");
#endif
}

}  // namespace dlock::bench
