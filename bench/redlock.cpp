// S6: Redlock over three independent primaries (--redlock-url given three times). Each task
// acquires and releases its own name; a Redlock acquire sends SET NX PX to every node at once
// and counts a quorum, so a pair costs two fan-outs of 3 round trips that run in parallel.
#include <dlock/redlock.hpp>
#include <iostream>

#include "bench.hpp"
#include "run_io.hpp"
#include "throughput.hpp"

namespace dlock::bench {

namespace {

asio::awaitable<void> redlock_pair_loop(dlock::Redlock& group, std::string name, PairWindow window,
                                        std::vector<double>& samples_us, long long& all_pairs) {
    dlock::RedlockLock lock(group, std::move(name), {.timeout = Seconds(10), .blocking = false});
    for (;;) {
        const auto start = Clock::now();
        if (start >= window.end) break;
        if (!co_await lock.acquire())
            throw std::runtime_error("uncontended Redlock acquire failed");
        co_await lock.release();
        ++all_pairs;
        if (start >= window.measure_from) samples_us.push_back(micros(Clock::now() - start));
    }
}

}  // namespace

void run_redlock(const Params& params) {
    if (params.redlock_urls.size() < 3) {
        JsonLine line;
        line.add("scenario", "S6")
            .add("impl", "dlock")
            .add("skipped", "fewer than 3 --redlock-url");
        std::cout << line.str() << std::endl;
        return;
    }
    asio::io_context io;
    dlock::Redlock group(io.get_executor(), params.redlock_urls);
    PairStats stats = measure_pair_tasks(
        io, params.tasks, params,
        [&](int index, PairWindow window, std::vector<double>& samples_us, long long& all_pairs) {
            return redlock_pair_loop(group, "bench:s6:" + std::to_string(index), window, samples_us,
                                     all_pairs);
        });
    JsonLine p;
    p.add("tasks", params.tasks)
        .add("duration_s", params.duration_s)
        .add("op", "acquire+release")
        .add("nodes", static_cast<long long>(params.redlock_urls.size()));
    print_pairs("S6", p, stats);
}

}  // namespace dlock::bench
