// bench/throughput.hpp: the uncontended measurement S1, S2 and S5 share.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <dlock/client.hpp>
#include <dlock/sync.hpp>
#include <functional>
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

// The measured part of a run: pairs that start in [measure_from, end) are timed; the ones
// before measure_from are the warm-up.
struct PairWindow {
    Clock::time_point measure_from;
    Clock::time_point end;
};

// One task of a pairs run: acquire + release in a loop until window.end, pushing each measured
// pair's time to samples_us and counting every pair in all_pairs.
using PairTask = std::function<asio::awaitable<void>(
    int index, PairWindow window, std::vector<double>& samples_us, long long& all_pairs)>;

// Runs `tasks` coroutines made by `task` for params.duration_s after a short warm-up, and
// gathers their samples and this process's CPU time.
PairStats measure_pair_tasks(asio::io_context& io, int tasks, const Params& params,
                             const PairTask& task);

// Runs `tasks` coroutines, each acquiring and releasing its own lock (`prefix` + index) on
// `client` for params.duration_s after a short warm-up.
PairStats measure_pairs(asio::io_context& io, dlock::Client& client, int tasks,
                        const std::string& prefix, const Params& params);

// The server's side of a run: CPU time it got, socket reads, commands and bytes received
// (INFO all).
struct ServerSample {
    double cpu_s = 0;
    long long reads = 0;
    long long commands = 0;
    long long input_bytes = 0;
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
