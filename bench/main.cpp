// dlock-bench: one scenario per run, one JSON line on stdout. bench/run drives it; see
// bench/README.md for what each scenario measures.
//
//   dlock-bench S1 --url redis://127.0.0.1:PORT --duration 3
//   dlock-bench S3 --url ... --workers 8 --hold-ms 1
#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bench.hpp"
#include "lock_metrics.hpp"
#include "run_io.hpp"

int main(int argc, char** argv) {
    using namespace dlock::bench;
    CLI::App app{"dlock benchmarks: prints one JSON line per run"};
    Params params;
    std::string scenario;
    // Each scenario and what runs it: the one list of the names.
    const std::vector<std::pair<std::string, std::function<void()>>> runs = {
        {"S1", [&] { run_sequential(params); }},
        {"S2", [&] { run_concurrent(params); }},
        {"S3", [&] { run_contention(params, true, "S3"); }},
        {"S4", [&] { run_contention(params, false, "S4"); }},
        {"S5", [&] { run_cluster(params); }},
        {"S6", [&] { run_redlock(params); }},
        {"S7", [&] { run_contention(params, true, "S7", Contended::semaphore); }},
        {"S8", [&] { run_contention(params, true, "S8", Contended::read_mostly); }},
        {"S9", [&] { run_sentinel(params); }},
        {"mem_held", [&] { run_memory_held(params); }},
        {"mem_waiters", [&] { run_memory_waiters(params); }},
        {"observer_cost", [&] { run_observer_cost(params); }},
        {"renew_held", [&] { run_renewal(params); }},
        {"pipe_file", [&] { write_pipe_file(params); }}};
    std::vector<std::string> scenarios;
    for (const auto& run : runs) scenarios.push_back(run.first);
    app.add_option(
           "scenario", scenario,
           "S1 sequential, S2 concurrent tasks, S3 contention, "
           "S4 contention polling only, S5 cluster, S6 Redlock, S7 semaphore "
           "(--permits), S8 read-mostly read/write lock, S9 Sentinel, "
           "mem_held, mem_waiters, renew_held (batched renewal), pipe_file (S2 ceiling input), "
           "observer_cost (the exporter's observer per operation, no server)")
        ->required()
        ->check(CLI::IsMember(scenarios));
    app.add_option("--url", params.url, "server URL");
    app.add_option("--cluster-url", params.cluster_url, "S5: URL of one cluster node");
    app.add_option("--sentinel-url", params.sentinel_url, "S9: redis-sentinel:// URL");
    app.add_option("--redlock-url", params.redlock_urls,
                   "S6: URL of one independent primary (give it 3 times or more)")
        ->take_all()
        ->allow_extra_args(false);
    app.add_option("--duration", params.duration_s, "measured seconds")->check(CLI::PositiveNumber);
    app.add_option("--workers", params.workers, "S3/S4: worker processes")
        ->check(CLI::Range(2, 256));
    app.add_option("--hold-ms", params.hold_ms, "S3/S4: hold time")->check(CLI::NonNegativeNumber);
    app.add_option("--step-aside-ms", params.step_aside_ms, "S3/S4: pause after release")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--sleep", params.sleep_s, "LockOptions::sleep in seconds")
        ->check(CLI::PositiveNumber);
    // The counts, each > 0.
    const std::vector<std::tuple<const char*, int*, const char*>> counts = {
        {"--tasks", &params.tasks, "S2/S5: concurrent tasks"},
        {"--locks", &params.locks, "mem_held/renew_held: locks held"},
        {"--waiters", &params.waiters, "mem_waiters: blocked coroutines"},
        {"--pairs", &params.pairs, "pipe_file: SET+release pairs"},
        {"--permits", &params.permits, "S7: the semaphore's permits"}};
    for (const auto& [flag, field, help] : counts)
        app.add_option(flag, *field, help)->check(CLI::PositiveNumber);
    app.add_option("--observer", params.observer,
                   "S1/S3: none, metrics (the exporter's observer) or holder (holder records)")
        ->check(CLI::IsMember({"none", "metrics", "holder"}));
    app.add_option("--round", params.round, "S1, S2: round of an interleaved comparison")
        ->check(CLI::NonNegativeNumber);
    CLI11_PARSE(app, argc, argv);
    if (params.observer == "metrics")
        lock_observer() = std::make_shared<lock_metrics::LockMetrics>();
    if (params.observer == "holder") params.record_holder = lock_record_holder() = true;

    try {
        for (const auto& [name, run] : runs) {
            if (name == scenario) run();
        }
    } catch (const std::exception& error) {
        JsonLine line;
        line.add("scenario", scenario).add("impl", "dlock").add("error", error.what());
        std::cout << line.str() << std::endl;
        std::cerr << "dlock-bench " << scenario << ": " << error.what() << std::endl;
        return 1;
    }
    return 0;
}
