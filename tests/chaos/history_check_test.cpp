// The checker must catch what it exists to catch: hand-made histories with an overlap, a stale
// write and a hang, next to the same events made innocent (expired TTL, lossy fault, pause).
#include "history_check.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace dlock::chaos {
namespace {

constexpr long ms = 1'000'000;

Verdict run(const std::string& history1, const std::string& history2,
            const std::string& faults = "") {
    HistoryChecker checker;
    std::istringstream a(history1), b(history2), f(faults);
    checker.add_history(a);
    checker.add_history(b);
    checker.add_faults(f);
    return checker.check();
}

// Process 1 holds n from 0 to `exit1` ms (acquire began at 0); process 2 enters at `enter2`.
std::string holder1(long exit1) {
    return "P 1 " + std::to_string(100 * ms) + " " + std::to_string(3000 * ms) + " " +
           std::to_string(1000 * ms) + "\nA 1/0 n 0 1 ok\nS n 1/0 1 0 1\nX n 1/0 1 " +
           std::to_string(exit1 * ms) + "\nR 1/0 n 1 2 ok\n";
}
std::string holder2(long enter2) {
    const std::string t = std::to_string(enter2 * ms);
    return "P 2 " + std::to_string(100 * ms) + " " + std::to_string(3000 * ms) + " " +
           std::to_string(1000 * ms) + "\nA 2/0 n " + t + " " + t + " ok\nS n 2/0 2 " + t + " " +
           t + "\nX n 2/0 2 " + t + "\n";
}

TEST(HistoryCheck, NoOverlapWhenSectionsFollowEachOther) {
    auto v = run(holder1(10), holder2(20));
    EXPECT_EQ(v.acquisitions, 2);
    EXPECT_EQ(v.overlaps_unexplained, 0);
    EXPECT_EQ(v.overlaps_explained, 0);
}

TEST(HistoryCheck, OverlapWithinTtlIsUnexplained) {
    auto v = run(holder1(50), holder2(20));
    EXPECT_EQ(v.overlaps_unexplained, 1);
}

TEST(HistoryCheck, OverlapAfterTheTtlIsExplainedByExpiry) {
    auto v = run(holder1(500), holder2(200));
    EXPECT_EQ(v.overlaps_unexplained, 0);
    EXPECT_EQ(v.overlaps_explained, 1);
    EXPECT_EQ(v.explanations["expired"], 1);
}

TEST(HistoryCheck, OverlapDuringALossyFaultIsExplained) {
    auto v =
        run(holder1(50), holder2(20),
            "F restart " + std::to_string(10 * ms) + " " + std::to_string(15 * ms) + " lossy\n");
    EXPECT_EQ(v.overlaps_unexplained, 0);
    EXPECT_EQ(v.explanations["restart"], 1);
}

TEST(HistoryCheck, StaleWriteAcceptedIsCaughtAndRefusedOneIsNot) {
    const std::string p = "P 1 100000000 3000000000 1000000000\n";
    // fence 5 answered at 10, then fence 4 sent at 20 and accepted: stale.
    auto v = run(p + "W n 1/0 5 5 10 ok\nW n 1/1 4 20 25 ok\nW n 1/1 3 30 35 stale\n", "");
    EXPECT_EQ(v.stale_accepted, 1);
    EXPECT_EQ(v.stale_refused, 1);
    // Concurrent writes (fence 4 sent before fence 5 was answered) are not stale.
    auto w = run(p + "W n 1/0 5 5 10 ok\nW n 1/1 4 8 25 ok\n", "");
    EXPECT_EQ(w.stale_accepted, 0);
}

TEST(HistoryCheck, SlowOperationIsAHangUnlessItsProcessWasPaused) {
    const std::string p = "P 7 100000000 3000000000 1000000000\n";
    const std::string slow = p + "A 7/0 n 0 " + std::to_string(5000 * ms) + " no\n";
    EXPECT_EQ(run(slow, "").hangs, 1);
    EXPECT_EQ(run(slow, "", "F stop 100 200 pause 7\n").hangs, 0);
    // An operation that never ended counts only in a process the driver had to kill.
    EXPECT_EQ(run(p + "B 7/0 acquire 5\n", "").hangs, 0);
    EXPECT_EQ(run(p + "B 7/0 acquire 5\n", "", "H 7\n").hangs, 1);
}

TEST(HistoryCheck, ErrorsAreCountedByOperationAndType) {
    const std::string p = "P 1 100000000 3000000000 1000000000\n";
    auto v = run(p + "A 1/0 n 0 1 TimeoutError\nR 1/0 n 1 2 LockReleaseError\n", "");
    EXPECT_EQ(v.errors["acquire:TimeoutError"], 1);
    EXPECT_EQ(v.errors["release:LockReleaseError"], 1);
    EXPECT_EQ(v.undocumented_errors, 0);
    auto w = run(p + "A 1/0 n 0 1 exception:Operation_aborted.\n", "");
    EXPECT_EQ(w.undocumented_errors, 1);
}

}  // namespace
}  // namespace dlock::chaos
