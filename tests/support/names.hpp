// Names no other test uses: test executables run in parallel on the shared servers.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

namespace dlock::test {

// "<Suite>.<Test>:<random hex><suffix>": unique across parallel runs, readable in MONITOR
// output.
inline std::string unique_name(const std::string& suffix = "") {
    static thread_local std::mt19937_64 random{std::random_device{}()};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "dlock";
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(random()));
    return name + ":" + hex + suffix;
}

}  // namespace dlock::test
