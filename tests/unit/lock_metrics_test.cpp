// The exporter's observer (examples/lock_metrics.hpp) fed events directly, no server.
#include "lock_metrics.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

std::string line(std::string_view name, std::string_view reason, int count) {
    return std::string(name) + "{lock=\"job\",reason=\"" + std::string(reason) + "\"} " +
           std::to_string(count) + "\n";
}

}  // namespace

// Every reason the library reports gets its own series (failover_found_gone once fell off the
// end of a four-element array: the observer threw and the loss went uncounted).
TEST(LockMetrics, EveryLostAndNotAcquiredReasonHasItsSeries) {
    lock_metrics::LockMetrics metrics;
    const dlock::LostReason lost[] = {
        dlock::LostReason::renewal_found_gone, dlock::LostReason::unreachable,
        dlock::LostReason::release_found_gone, dlock::LostReason::acquire_found_gone,
        dlock::LostReason::failover_found_gone};
    const dlock::NotAcquiredReason not_acquired[] = {
        dlock::NotAcquiredReason::held, dlock::NotAcquiredReason::timed_out,
        dlock::NotAcquiredReason::unavailable, dlock::NotAcquiredReason::abandoned};
    for (const auto reason : lost) {
        EXPECT_NO_THROW(metrics.on_lost({.lock_name = "job", .reason = reason}));
    }
    for (const auto reason : not_acquired) {
        EXPECT_NO_THROW(metrics.on_not_acquired({.lock_name = "job", .reason = reason}));
    }
    const std::string text = metrics.render();
    for (const auto reason : lost) {
        EXPECT_NE(text.find(line("dlock_lost_total", dlock::to_string(reason), 1)),
                  std::string::npos)
            << dlock::to_string(reason) << " in\n"
            << text;
    }
    for (const auto reason : not_acquired) {
        EXPECT_NE(text.find(line("dlock_not_acquired_total", dlock::to_string(reason), 1)),
                  std::string::npos)
            << dlock::to_string(reason) << " in\n"
            << text;
    }
    EXPECT_NE(text.find("dlock_hold_seconds_count{lock=\"job\"} 5\n"), std::string::npos) << text;
}
