// Redlock's arithmetic without a server or a clock (src/redlock/validity.hpp): the quorum, the
// validity left after an acquisition (ttl - elapsed - drift), the drift floor, and what an
// extension leaves with ExtendMode::add and ExtendMode::replace.
#include "redlock/validity.hpp"

#include <gtest/gtest.h>

#include <chrono>

using namespace dlock;
using namespace dlock::detail;
using namespace std::chrono_literals;

namespace {

const Clock::time_point t0 = Clock::time_point{} + 1000s;

// A round on 5 nodes (quorum 3) that started at t0 and took `elapsed`.
Round round_of(std::size_t successes, Clock::duration elapsed, std::size_t quorum = 3) {
    return Round{.successes = successes, .quorum = quorum, .start = t0, .now = t0 + elapsed};
}

// Compares in whole nanoseconds: the arithmetic is in double seconds.
::testing::AssertionResult is(std::optional<Seconds> got, std::chrono::nanoseconds expected) {
    if (!got) return ::testing::AssertionFailure() << "not held";
    const auto ns = std::chrono::round<std::chrono::nanoseconds>(*got);
    if (ns == expected) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << ns.count() << " ns, not " << expected.count();
}

}  // namespace

TEST(RedlockValidity, DriftIsTheFactorOfTheTtlPlusTwoMilliseconds) {
    EXPECT_EQ(drift(Seconds(1.0), 0.0), Seconds(0.002));
    EXPECT_NEAR(drift(Seconds(1.0), 0.01).count(), 0.012, 1e-12);
    EXPECT_NEAR(drift(Seconds(10.0), 0.5).count(), 5.002, 1e-12);
}

TEST(RedlockValidity, AQuorumIsNeeded) {
    // 1000 - 10 - (10 + 2) = 978 ms left with a quorum, nothing without.
    EXPECT_FALSE(acquire_validity(1000ms, round_of(2, 10ms), 0.01));
    EXPECT_TRUE(is(acquire_validity(1000ms, round_of(3, 10ms), 0.01), 978ms));
    EXPECT_TRUE(is(acquire_validity(1000ms, round_of(5, 10ms), 0.01), 978ms));
    EXPECT_FALSE(acquire_validity(1000ms, round_of(0, 10ms), 0.01));
    // Quorum 2 of 3 nodes.
    EXPECT_FALSE(acquire_validity(1000ms, round_of(1, 0ms, 2), 0.01));
    EXPECT_TRUE(acquire_validity(1000ms, round_of(2, 0ms, 2), 0.01));
}

TEST(RedlockValidity, ValidityIsTtlMinusElapsedMinusDrift) {
    EXPECT_TRUE(is(acquire_validity(1000ms, round_of(3, 0ms), 0.0), 998ms));
    EXPECT_TRUE(is(acquire_validity(1000ms, round_of(3, 100ms), 0.0), 898ms));
    EXPECT_TRUE(is(acquire_validity(10000ms, round_of(3, 50ms), 0.01), 9848ms));
    // The round counts from its start: `now` is when the last answer came.
    const Round round{.successes = 3, .quorum = 3, .start = t0 + 5s, .now = t0 + 5s + 20ms};
    EXPECT_TRUE(is(acquire_validity(1000ms, round, 0.0), 978ms));
}

TEST(RedlockValidity, ExactlyNothingLeftIsNotHeld) {
    // 100 - 98 - (0 + 2) = 0: not held; a nanosecond sooner, held for that nanosecond.
    EXPECT_FALSE(acquire_validity(100ms, round_of(3, 98ms), 0.0));
    EXPECT_TRUE(is(acquire_validity(100ms, round_of(3, 98ms - 1ns), 0.0), 1ns));
    EXPECT_FALSE(acquire_validity(100ms, round_of(3, 98ms + 1ns), 0.0));
}

TEST(RedlockValidity, TheDriftFloorRulesOutTinyTtls) {
    // Even with no elapsed time and no drift factor, 2 ms go: a 2 ms TTL leaves nothing.
    EXPECT_FALSE(acquire_validity(1ms, round_of(5, 0ms), 0.0));
    EXPECT_FALSE(acquire_validity(2ms, round_of(5, 0ms), 0.0));
    EXPECT_TRUE(is(acquire_validity(3ms, round_of(5, 0ms), 0.0), 1ms));
    // With the factor on top: 3 - (0.3 + 2) = 0.7 ms.
    EXPECT_TRUE(is(acquire_validity(3ms, round_of(5, 0ms), 0.1), 700us));
}

TEST(RedlockValidity, ElapsedBeyondTheTtlIsNotHeld) {
    EXPECT_FALSE(acquire_validity(1000ms, round_of(5, 1000ms), 0.0));
    EXPECT_FALSE(acquire_validity(1000ms, round_of(5, 5s), 0.01));
}

TEST(RedlockValidity, ExtendAddBuildsOnTheValidityLeft) {
    // Held 500 ms from t0; the extension starts 200 ms later (300 ms left) and takes 10 ms:
    // 300 + 1000 - 10 - 1000 * 0.01 = 1280 ms. No drift floor: the acquisition took it off.
    const Round round{.successes = 3, .quorum = 3, .start = t0 + 200ms, .now = t0 + 210ms};
    EXPECT_TRUE(
        is(extend_validity(ExtendMode::add, 1000ms, Seconds(0.5), t0, round, 0.01), 1280ms));
    EXPECT_TRUE(is(extend_validity(ExtendMode::add, 1000ms, Seconds(0.5), t0, round, 0.0), 1290ms));
}

TEST(RedlockValidity, ExtendReplaceStartsAfreshLikeAnAcquisition) {
    // The held validity does not matter: 1000 - 10 - (10 + 2) = 978 ms.
    const Round round{.successes = 3, .quorum = 3, .start = t0 + 200ms, .now = t0 + 210ms};
    EXPECT_TRUE(
        is(extend_validity(ExtendMode::replace, 1000ms, Seconds(0.5), t0, round, 0.01), 978ms));
    EXPECT_TRUE(
        is(extend_validity(ExtendMode::replace, 1000ms, Seconds(0), t0 - 1h, round, 0.01), 978ms));
    // The drift floor applies: replace with 2 ms leaves nothing, with 3 ms and no time, 1 ms.
    const Round instant{.successes = 3, .quorum = 3, .start = t0, .now = t0};
    EXPECT_FALSE(extend_validity(ExtendMode::replace, 2ms, Seconds(10), t0, instant, 0.0));
    EXPECT_TRUE(is(extend_validity(ExtendMode::replace, 3ms, Seconds(10), t0, instant, 0.0), 1ms));
}

TEST(RedlockValidity, ExtendNeedsAQuorum) {
    const Round short_of{.successes = 2, .quorum = 3, .start = t0, .now = t0 + 1ms};
    EXPECT_FALSE(extend_validity(ExtendMode::add, 1000ms, Seconds(1), t0, short_of, 0.01));
    EXPECT_FALSE(extend_validity(ExtendMode::replace, 1000ms, Seconds(1), t0, short_of, 0.01));
}

TEST(RedlockValidity, ExtendAddAfterTheValidityRanOut) {
    // Held 100 ms, extended 300 ms later by 150 ms: -200 + 150 < 0, not held.
    const Round late{.successes = 3, .quorum = 3, .start = t0 + 300ms, .now = t0 + 300ms};
    EXPECT_FALSE(extend_validity(ExtendMode::add, 150ms, Seconds(0.1), t0, late, 0.0));
    // Exactly nothing left: -200 + 200 = 0, not held; with a longer extension it is.
    EXPECT_FALSE(extend_validity(ExtendMode::add, 200ms, Seconds(0.1), t0, late, 0.0));
    EXPECT_TRUE(is(extend_validity(ExtendMode::add, 250ms, Seconds(0.1), t0, late, 0.0), 50ms));
}

TEST(RedlockValidity, ExtendElapsedBeyondTheExtensionIsNotHeld) {
    const Round slow{.successes = 5, .quorum = 3, .start = t0, .now = t0 + 2s};
    EXPECT_FALSE(extend_validity(ExtendMode::replace, 1000ms, Seconds(0), t0, slow, 0.0));
    // With add, the validity still left can carry it: 1500 + 1000 - 2000 = 500 ms.
    EXPECT_TRUE(is(extend_validity(ExtendMode::add, 1000ms, Seconds(1.5), t0, slow, 0.0), 500ms));
}
