// tools/seconds_arg.hpp: seconds given on the command line ("30", "1.5", "0.25").
#pragma once

#include <string>

#include "dlock/lock_options.hpp"

namespace dlock::cli {

// Parses a number of seconds. Throws UsageError naming `option` when the text is not a finite
// number, is negative, or is zero while `allow_zero` is false.
Seconds parse_seconds(const std::string& text, const std::string& option, bool allow_zero);

}  // namespace dlock::cli
