// observer_cost: what the exporter's observer adds to one uncontended acquire + release,
// measured without a server, so that it does not drown in the round trips' noise.
//
// Per operation it does what the library does when an observer is set (lock/lock_events.hpp):
// four clock reads (acquire() starts, the lock is taken, the hold begins, the release) and two
// virtual calls (on_acquired, on_released) into examples/lock_metrics.hpp, on one lock name.
// S1's p50 in the same run turns the figure into a share of an operation.
#include <dlock/observer.hpp>
#include <iostream>
#include <memory>

#include "bench.hpp"
#include "lock_metrics.hpp"

namespace dlock::bench {

void run_observer_cost(const Params& params) {
    const std::shared_ptr<dlock::Observer> observer = std::make_shared<lock_metrics::LockMetrics>();
    const std::string name = "bench:s1:0";
    const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(params.duration_s));
    long long ops = 0;
    const auto start = Clock::now();
    for (auto now = start; now < end; ops += 1024) {
        for (int i = 0; i < 1024; ++i) {
            const auto called = Clock::now();
            const auto taken = Clock::now();
            observer->on_acquired(dlock::Acquired{name, taken - called, 1, false});
            const auto held_from = Clock::now();
            now = Clock::now();
            observer->on_released(dlock::Released{name, now - held_from});
        }
    }
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    JsonLine p;
    p.add("observer", "metrics").add("duration_s", params.duration_s);
    JsonLine line;
    line.add("scenario", "observer_cost")
        .add("impl", "dlock")
        .add_raw("params", p.str())
        .add("ops", ops)
        .add("ns_per_op", ns / static_cast<double>(ops));
    std::cout << line.str() << std::endl;
}

}  // namespace dlock::bench
