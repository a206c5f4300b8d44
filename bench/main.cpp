// dlock-bench: one scenario per run, one JSON line on stdout. bench/run drives it; see
// bench/README.md for what each scenario measures.
//
//   dlock-bench S1 --url redis://127.0.0.1:PORT --duration 3
//   dlock-bench S3 --url ... --workers 8 --hold-ms 1
#include <CLI/CLI.hpp>
#include <iostream>

#include "bench.hpp"
#include "lock_metrics.hpp"
#include "run_io.hpp"

int main(int argc, char** argv) {
    using namespace dlock::bench;
    CLI::App app{"dlock benchmarks: prints one JSON line per run"};
    Params params;
    std::string scenario;
    const std::vector<std::string> scenarios = {
        "S1", "S2", "S3",       "S4",          "S5",         "S6",        "S7",
        "S8", "S9", "mem_held", "mem_waiters", "renew_held", "pipe_file", "observer_cost"};
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
    app.add_option("--tasks", params.tasks, "S2/S5: concurrent tasks")->check(CLI::PositiveNumber);
    app.add_option("--workers", params.workers, "S3/S4: worker processes")
        ->check(CLI::Range(2, 256));
    app.add_option("--hold-ms", params.hold_ms, "S3/S4: hold time")->check(CLI::NonNegativeNumber);
    app.add_option("--step-aside-ms", params.step_aside_ms, "S3/S4: pause after release")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--sleep", params.sleep_s, "LockOptions::sleep in seconds")
        ->check(CLI::PositiveNumber);
    app.add_option("--locks", params.locks, "mem_held/renew_held: locks held")
        ->check(CLI::PositiveNumber);
    app.add_option("--waiters", params.waiters, "mem_waiters: blocked coroutines")
        ->check(CLI::PositiveNumber);
    app.add_option("--pairs", params.pairs, "pipe_file: SET+release pairs")
        ->check(CLI::PositiveNumber);
    app.add_option("--permits", params.permits, "S7: the semaphore's permits")
        ->check(CLI::PositiveNumber);
    app.add_option("--observer", params.observer,
                   "S1/S3: none, metrics (the exporter's observer) or holder (holder records)")
        ->check(CLI::IsMember({"none", "metrics", "holder"}));
    app.add_option("--round", params.round, "S1: round of the observer-cost comparison")
        ->check(CLI::NonNegativeNumber);
    CLI11_PARSE(app, argc, argv);
    if (params.observer == "metrics")
        lock_observer() = std::make_shared<lock_metrics::LockMetrics>();
    if (params.observer == "holder") params.record_holder = lock_record_holder() = true;

    try {
        if (scenario == "S1")
            run_sequential(params);
        else if (scenario == "S2")
            run_concurrent(params);
        else if (scenario == "S3")
            run_contention(params, true, "S3");
        else if (scenario == "S4")
            run_contention(params, false, "S4");
        else if (scenario == "S7")
            run_contention(params, true, "S7", Contended::semaphore);
        else if (scenario == "S8")
            run_contention(params, true, "S8", Contended::read_mostly);
        else if (scenario == "S5")
            run_cluster(params);
        else if (scenario == "S9")
            run_sentinel(params);
        else if (scenario == "S6")
            run_redlock(params);
        else if (scenario == "mem_held")
            run_memory_held(params);
        else if (scenario == "mem_waiters")
            run_memory_waiters(params);
        else if (scenario == "observer_cost")
            run_observer_cost(params);
        else if (scenario == "renew_held")
            run_renewal(params);
        else
            write_pipe_file(params);
    } catch (const std::exception& error) {
        JsonLine line;
        line.add("scenario", scenario).add("impl", "dlock").add("error", error.what());
        std::cout << line.str() << std::endl;
        std::cerr << "dlock-bench " << scenario << ": " << error.what() << std::endl;
        return 1;
    }
    return 0;
}
