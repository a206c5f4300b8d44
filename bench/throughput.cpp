// S1 (one task, acquire + release in sequence) and S2 (many tasks on distinct names sharing
// one multiplexed dlock::Redis): how many uncontended acquire+release pairs per second.
#include "throughput.hpp"

#include <dlock/lock.hpp>
#include <dlock/redis.hpp>
#include <dlock/sync.hpp>
#include <iostream>
#include <memory>
#include <sstream>

#include "run_io.hpp"

namespace dlock::bench {

namespace {

asio::awaitable<void> pair_loop(dlock::Client& client, std::string name, bool record_holder,
                                PairWindow window, std::vector<double>& samples_us,
                                long long& all_pairs) {
    dlock::LockOptions options = lock_options(10);
    options.record_holder = record_holder;
    dlock::Lock lock(client, std::move(name), options);
    for (;;) {
        const auto start = Clock::now();
        if (start >= window.end) break;
        if (!co_await lock.acquire()) throw std::runtime_error("uncontended acquire failed");
        co_await lock.release();
        ++all_pairs;
        if (start >= window.measure_from) samples_us.push_back(micros(Clock::now() - start));
    }
}

}  // namespace

PairStats measure_pair_tasks(asio::io_context& io, int tasks, const Params& params,
                             const PairTask& task) {
    std::vector<std::vector<double>> per_task(static_cast<std::size_t>(tasks));
    long long all_pairs = 0;
    const double cpu_before = cpu_us();
    run_to_end(io, [&]() -> asio::awaitable<void> {
        // Warm-up: connect, let EVALSHA fall back to EVAL once, grow buffers.
        const auto warm_up = std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(std::min(0.5, params.duration_s / 5)));
        PairWindow window;
        window.measure_from = Clock::now() + warm_up;
        window.end = window.measure_from + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(params.duration_s));
        Join join(co_await asio::this_coro::executor);
        for (int i = 0; i < tasks; ++i)
            join.spawn(task(i, window, per_task[static_cast<std::size_t>(i)], all_pairs));
        co_await join.wait();
    }());
    PairStats stats;
    stats.all_pairs = all_pairs;
    stats.cpu_us_per_op =
        all_pairs > 0 ? (cpu_us() - cpu_before) / static_cast<double>(all_pairs) : 0.0;
    for (auto& samples : per_task) {
        stats.samples_us.insert(stats.samples_us.end(), samples.begin(), samples.end());
    }
    stats.ops_per_s = static_cast<double>(stats.samples_us.size()) / params.duration_s;
    return stats;
}

PairStats measure_pairs(asio::io_context& io, dlock::Client& client, int tasks,
                        const std::string& prefix, const Params& params) {
    return measure_pair_tasks(
        io, tasks, params,
        [&](int index, PairWindow window, std::vector<double>& samples_us, long long& all_pairs) {
            return pair_loop(client, prefix + std::to_string(index), params.record_holder, window,
                             samples_us, all_pairs);
        });
}

ServerSample sample_server(dlock::sync::Redis& redis) {
    ServerSample sample;
    sample.at = Clock::now();
    std::istringstream info(redis.command({"INFO", "all"}).str);
    std::string line;
    while (std::getline(info, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        const std::string key = line.substr(0, colon), value = line.substr(colon + 1);
        if (key == "used_cpu_sys" || key == "used_cpu_user") sample.cpu_s += std::stod(value);
        if (key == "total_reads_processed") sample.reads = std::stoll(value);
        if (key == "total_commands_processed") sample.commands = std::stoll(value);
        if (key == "total_net_input_bytes") sample.input_bytes = std::stoll(value);
    }
    return sample;
}

namespace {

// Adds server_cpu_us_per_op, server_busy (share of the wall time the server was running) and
// cmds_per_server_read (how well commands were batched).
void add_server_fields(JsonLine& line, const ServerSample& before, const ServerSample& after,
                       long long ops) {
    const double cpu_us = (after.cpu_s - before.cpu_s) * 1e6;
    const double wall_us = micros(after.at - before.at);
    line.add("server_cpu_us_per_op", ops > 0 ? cpu_us / static_cast<double>(ops) : 0.0);
    line.add("server_busy", wall_us > 0 ? cpu_us / wall_us : 0.0);
    const long long reads = after.reads - before.reads;
    line.add("cmds_per_server_read", reads > 0
                                         ? static_cast<double>(after.commands - before.commands) /
                                               static_cast<double>(reads)
                                         : 0.0);
}

// The fields of every dlock line about acquire+release pairs.
JsonLine pairs_line(std::string_view scenario, const JsonLine& params_json, PairStats& stats,
                    bool record_holder) {
    JsonLine line;
    line.add("scenario", scenario)
        .add("impl", record_holder ? "dlock+holder" : "dlock")
        .add_raw("params", params_json.str());
    line.add("ops_per_s", stats.ops_per_s)
        .add("ops", static_cast<long long>(stats.samples_us.size()));
    add_percentiles(line, stats.samples_us);
    line.add("cpu_us_per_op", stats.cpu_us_per_op);
    return line;
}

// S1/S2 on one server, with the server's side sampled around the run.
void run_standalone(std::string_view scenario, int tasks, const std::string& prefix,
                    const Params& params, JsonLine& p) {
    dlock::sync::Redis observer(params.url);
    const ServerSample before = sample_server(observer);
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), params.url);
    PairStats stats = measure_pairs(io, redis, tasks, prefix, params);
    const ServerSample after = sample_server(observer);
    JsonLine line = pairs_line(scenario, p, stats, params.record_holder);
    add_server_fields(line, before, after, stats.all_pairs);
    std::cout << line.str() << std::endl;
}

}  // namespace

void print_pairs(std::string_view scenario, const JsonLine& params_json, PairStats& stats) {
    std::cout << pairs_line(scenario, params_json, stats, false).str() << std::endl;
}

void run_replicated_pairs(std::string_view scenario, asio::io_context& io, dlock::Client& client,
                          const std::string& prefix, const Params& params,
                          std::string_view deployment_key, std::string_view deployment) {
    PairStats stats = measure_pairs(io, client, params.tasks, prefix, params);
    JsonLine p;
    p.add("tasks", params.tasks)
        .add("duration_s", params.duration_s)
        .add("op", "acquire+release")
        .add(deployment_key, deployment)
        .add("wait_replicas", 1);
    print_pairs(scenario, p, stats);
}

void run_sequential(const Params& params) {
    JsonLine p;
    p.add("tasks", 1)
        .add("duration_s", params.duration_s)
        .add("op", "acquire+release")
        .add("observer", params.observer);
    if (params.round > 0) p.add("round", params.round);
    run_standalone("S1", 1, "bench:s1:", params, p);
}

void run_concurrent(const Params& params) {
    JsonLine p;
    p.add("tasks", params.tasks)
        .add("duration_s", params.duration_s)
        .add("op", "acquire+release")
        .add("connections", 1);
    if (params.round > 0) p.add("round", params.round);
    run_standalone("S2", params.tasks, "bench:s2:", params, p);
}

}  // namespace dlock::bench
