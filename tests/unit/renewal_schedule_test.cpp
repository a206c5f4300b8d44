// The renewal grid: renewals of many locks are moved (earlier only) onto shared instants, so a
// client renews them in a few round trips per period instead of one per lock.
#include "lock/renewal_schedule.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace dlock::detail;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(RenewalSchedule, GridStepIsAPowerOfTwoUpToHalfTheInterval) {
    EXPECT_EQ(renewal_grid_step(1000ms), 256ms);
    EXPECT_EQ(renewal_grid_step(1024ms), 512ms);
    EXPECT_EQ(renewal_grid_step(3ms), 1ms);
    EXPECT_EQ(renewal_grid_step(1ms), 0ms);  // too short for a grid: renew when due
}

TEST(RenewalSchedule, NeverLaterThanDueAndLessThanOneStepEarlier) {
    const auto base = Clock::time_point(123'456'789us);
    for (const auto interval : {1ms, 3ms, 100ms, 1000ms, 3333ms}) {
        const auto step = renewal_grid_step(interval);
        for (int i = 0; i < 1000; ++i) {
            const auto due = base + std::chrono::microseconds(i * 7919);
            const auto at = next_renewal<Clock>(due, interval);
            EXPECT_LE(at, due);
            if (step.count() > 0) {
                EXPECT_GT(at, due - step);
            } else {
                EXPECT_EQ(at, due);
            }
        }
    }
}

TEST(RenewalSchedule, HoldsAcquiredAtDifferentMomentsRenewTogether) {
    // 1,000 holds with a 1 s interval acquired over one second renew at 4 or 5 instants.
    std::set<Clock::time_point> instants;
    const auto base = Clock::time_point(987'654'321us);
    for (int i = 0; i < 1000; ++i) {
        instants.insert(next_renewal<Clock>(base + std::chrono::milliseconds(i), 1000ms));
    }
    EXPECT_LE(instants.size(), 5u);
    // A longer interval's grid points are grid points of the shorter one too.
    for (int i = 0; i < 1000; ++i) {
        const auto at = next_renewal<Clock>(base + std::chrono::milliseconds(i * 3), 2000ms);
        EXPECT_EQ(next_renewal<Clock>(at, 1000ms), at);
    }
}
