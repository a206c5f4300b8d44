// durations.hpp (private): validating the duration options of Lock and RedlockLock.
#pragma once

#include <chrono>

#include "dlock/lock_options.hpp"

namespace dlock::detail {

// A duration option as whole milliseconds, rounded up so a positive value never becomes 0.
// Throws std::invalid_argument naming `field` for negative, NaN, infinite or huge values.
std::chrono::milliseconds to_ms(Seconds value, const char* field);

// The same for a timeout, which must also be at least 1 ms (a zero deadline would fail every
// call it bounds).
std::chrono::milliseconds to_timeout_ms(Seconds value, const char* field);

}  // namespace dlock::detail
