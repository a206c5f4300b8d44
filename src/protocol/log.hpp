// log.hpp (private): how dlock's code writes to the user's log sink (dlock/log.hpp).
//
//   if (log_enabled(LogLevel::info)) log(LogLevel::info, "reconnected to " + endpoint);
//
// log_enabled() is one relaxed atomic load, so a message is only built when someone listens.
#pragma once

#include <atomic>
#include <string_view>

#include "dlock/log.hpp"

namespace dlock::detail {

// The lowest level a sink wants, or none (-1) when no sink is set.
extern std::atomic<int> log_threshold;

inline bool log_enabled(LogLevel level) noexcept {
    const int threshold = log_threshold.load(std::memory_order_relaxed);
    return threshold >= 0 && static_cast<int>(level) >= threshold;
}

// Hands `message` to the sink (if it still wants `level`); never throws.
void log(LogLevel level, std::string_view message) noexcept;

}  // namespace dlock::detail
