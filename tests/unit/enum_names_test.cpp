// The names of the observer's and the log's enums: metric labels, log lines and the CLI's JSON
// use them, so a name that changes (or a table out of the enum's order) is a break.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "dlock/log.hpp"
#include "dlock/observer.hpp"

namespace {

// The names of the enumerators 0 .. count-1 and of the one after the last, space-separated.
template <class Enum>
std::string names_through(int count) {
    std::string out;
    for (int value = 0; value <= count; ++value) {
        if (value > 0) out += ' ';
        out += dlock::to_string(static_cast<Enum>(value));
    }
    return out;
}

TEST(EnumNames, EachEnumeratorHasItsOwnNameInTheEnumsOrder) {
    EXPECT_EQ(names_through<dlock::NotAcquiredReason>(4),
              "held timed_out unavailable abandoned unknown");
    EXPECT_EQ(names_through<dlock::LostReason>(5),
              "renewal_found_gone unreachable release_found_gone acquire_found_gone "
              "failover_found_gone unknown");
    EXPECT_EQ(names_through<dlock::LogLevel>(4), "debug info warning error unknown");
}

}  // namespace
