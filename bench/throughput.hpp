// bench/throughput.hpp: the uncontended measurement S1, S2 and S5 share.
#pragma once

#include <asio/io_context.hpp>
#include <dlock/client.hpp>
#include <dlock/sync.hpp>
#include <string>
#include <vector>

#include "bench.hpp"

namespace dlock::bench {

struct PairStats {
    double ops_per_s = 0;            // acquire+release pairs per second
    std::vector<double> samples_us;  // one per measured pair
    long long all_pairs = 0;         // warm-up included
    double cpu_us_per_op = 0;        // this process's CPU time / every pair, warm-up included
};

// Runs `tasks` coroutines, each acquiring and releasing its own lock (`prefix` + index) on
// `client` for params.duration_s after a short warm-up.
PairStats measure_pairs(asio::io_context& io, dlock::Client& client, int tasks,
                        const std::string& prefix, const Params& params);

// The server's side of a run: CPU time it got, socket reads and commands (INFO all).
struct ServerSample {
    double cpu_s = 0;
    long long reads = 0;
    long long commands = 0;
    Clock::time_point at;
};
ServerSample sample_server(dlock::sync::Redis& redis);

// Prints the scenario's JSON line (impl "dlock").
void print_pairs(std::string_view scenario, const JsonLine& params_json, PairStats& stats);

// S5 and S9: measure_pairs on a deployment whose acquisitions WAIT for one replica
// (`deployment` names it under `deployment_key`), then its line.
void run_replicated_pairs(std::string_view scenario, asio::io_context& io, dlock::Client& client,
                          const std::string& prefix, const Params& params,
                          std::string_view deployment_key, std::string_view deployment);

}  // namespace dlock::bench
