// The checker must catch what it exists to catch: hand-made histories with an overlap, a stale
// write and a hang, next to the same events made innocent (expired TTL, lossy fault, pause);
// for N-holder kinds, one holder too many for a semaphore, a writer with anybody, and a fence
// out of order, next to the histories they may have.
#include "history_check.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

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

// Hand-made N-holder histories: one process per holder, times in ms, one TTL of 100 ms.
std::string process(int pid, long permits) {
    return "P " + std::to_string(pid) + " " + std::to_string(100 * ms) + " " +
           std::to_string(3000 * ms) + " " + std::to_string(1000 * ms) + " " +
           std::to_string(permits) + "\n";
}
// One acquisition of name n: acquire began at `acq`, section from `enter` to `exit`.
std::string section(int pid, long fence, long acq, long enter, long exit, char mode) {
    const std::string holder = std::to_string(pid) + "/0";
    const auto t = [](long at) { return std::to_string(at * ms); };
    return "A " + holder + " n " + t(acq) + " " + t(enter) + " ok\nS n " + holder + " " +
           std::to_string(fence) + " " + t(acq) + " " + t(enter) + " " + mode + "\nX n " + holder +
           " " + std::to_string(fence) + " " + t(exit) + "\n";
}
// Hand-made holds {fence, acquire began, entered, left, mode} of name n, the i-th (from 1) in
// process i; every process with the same permits.
struct Hold {
    long fence, acq, enter, exit;
    char mode;
};
Verdict holds(long permits, const std::vector<Hold>& list, const std::string& faults = "") {
    HistoryChecker checker;
    int pid = 0;
    for (const Hold& h : list) {
        ++pid;
        std::istringstream in(process(pid, permits) +
                              section(pid, h.fence, h.acq, h.enter, h.exit, h.mode));
        checker.add_history(in);
    }
    std::istringstream f(faults);
    checker.add_faults(f);
    return checker.check();
}
// A semaphore of 2 permits: holders 1 and 2 from 0/10 to 50/60, and a third entering at `at`.
Verdict semaphore_with_third(long acq, long at, long exit, const std::string& faults = "") {
    return holds(2, {{1, 0, 0, 50, 's'}, {2, 10, 10, 60, 's'}, {3, acq, at, exit, 's'}}, faults);
}

TEST(HistoryCheck, SemaphoreHoldersUpToThePermitsOverlap) {
    auto v = semaphore_with_third(55, 55, 70);  // enters as holder 1 has left
    EXPECT_EQ(v.acquisitions, 3);
    EXPECT_EQ(v.overlaps_unexplained, 0);
    EXPECT_EQ(v.overlaps_explained, 0);
    EXPECT_EQ(v.most_holders, 2);
}

TEST(HistoryCheck, OneSemaphoreHolderTooManyIsUnexplained) {
    auto v = semaphore_with_third(20, 20, 30);
    EXPECT_EQ(v.overlaps_unexplained, 1);
    EXPECT_EQ(v.most_holders, 3);
}

TEST(HistoryCheck, OneSemaphoreHolderTooManyIsExplainedOnlyWhenAnInsidersLeaseCouldHaveEnded) {
    // Holders 1 (acquire began at 0) and 2 (at 50) stay in until 300; the third enters at
    // 120: holder 1 outlived its 100 ms TTL, so at most 2 leases were live.
    const auto long_holders = [](long third_enter) {
        return holds(
            2,
            {{1, 0, 0, 300, 's'}, {2, 50, 50, 300, 's'}, {3, third_enter, third_enter, 310, 's'}});
    };
    auto v = long_holders(120);
    EXPECT_EQ(v.overlaps_unexplained, 0);
    EXPECT_EQ(v.explanations["expired"], 1);
    // At 80 holder 1's lease may still be live: three live holders.
    EXPECT_EQ(long_holders(80).overlaps_unexplained, 1);
}

TEST(HistoryCheck, OneSemaphoreHolderTooManyDuringALossyFaultIsExplained) {
    auto v = semaphore_with_third(
        20, 20, 30,
        "F restart " + std::to_string(15 * ms) + " " + std::to_string(18 * ms) + " lossy\n");
    EXPECT_EQ(v.overlaps_unexplained, 0);
    EXPECT_EQ(v.explanations["restart"], 1);
}

TEST(HistoryCheck, ReadersOverlapReadersOnly) {
    // permits 0: any number of readers.
    auto readers = holds(0, {{0, 0, 0, 50, 's'}, {0, 5, 5, 50, 's'}, {0, 10, 10, 50, 's'}});
    EXPECT_EQ(readers.overlaps_unexplained, 0);
    EXPECT_EQ(readers.most_holders, 3);
    // A writer entering among readers, a reader entering while a writer is in, two writers.
    auto writer_in_readers =
        holds(0, {{0, 0, 0, 50, 's'}, {0, 5, 5, 50, 's'}, {7, 10, 10, 20, 'x'}});
    EXPECT_EQ(writer_in_readers.overlaps_unexplained, 2);  // one per reader inside
    auto reader_in_writer = holds(0, {{7, 0, 0, 50, 'x'}, {0, 5, 5, 10, 's'}});
    EXPECT_EQ(reader_in_writer.overlaps_unexplained, 1);
    auto two_writers = holds(0, {{7, 0, 0, 50, 'x'}, {8, 5, 5, 10, 'x'}});
    EXPECT_EQ(two_writers.overlaps_unexplained, 1);
    // Writers one after another, readers between them: nothing to report.
    auto turns = holds(0, {{7, 0, 0, 10, 'x'}, {0, 5, 11, 20, 's'}, {8, 6, 21, 30, 'x'}});
    EXPECT_EQ(turns.overlaps_unexplained, 0);
    EXPECT_EQ(turns.fences_out_of_order, 0);
}

TEST(HistoryCheck, AFenceNotLargerThanOneHandedOutBeforeTheAcquireBeganIsCaught) {
    // Fence 5 returned at 1; an acquisition that began at 20 got fence 4 (or 5 again).
    auto smaller = holds(1, {{5, 0, 1, 10, 'x'}, {4, 20, 21, 30, 'x'}});
    EXPECT_EQ(smaller.fences_out_of_order, 1);
    EXPECT_EQ(smaller.overlaps_unexplained, 0);
    auto equal = holds(2, {{5, 0, 1, 10, 's'}, {5, 20, 21, 30, 's'}});
    EXPECT_EQ(equal.fences_out_of_order, 1);
    // Acquisitions that were in flight together may get their fences in either order.
    auto concurrent = holds(2, {{5, 0, 10, 20, 's'}, {4, 5, 12, 30, 's'}});
    EXPECT_EQ(concurrent.fences_out_of_order, 0);
    // A server that lost its counter between them explains it.
    auto lossy =
        holds(1, {{5, 0, 1, 10, 'x'}, {1, 20, 21, 30, 'x'}},
              "F restart " + std::to_string(12 * ms) + " " + std::to_string(15 * ms) + " lossy\n");
    EXPECT_EQ(lossy.fences_out_of_order, 0);
    EXPECT_EQ(lossy.fences_out_of_order_explained, 1);
    // Readers carry no fence (0): never compared.
    auto readers = holds(0, {{5, 0, 1, 10, 'x'}, {0, 20, 21, 30, 's'}});
    EXPECT_EQ(readers.fences_out_of_order, 0);
}

}  // namespace
}  // namespace dlock::chaos
