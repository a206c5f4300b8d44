// tools/exit_codes.hpp: what `dlock` exits with, and the exception that carries a usage error.
//
// The numbers follow sysexits.h, as flock(1) and most lock tools do, so that a cron job or a
// shell script can tell "somebody else holds the lock" from "Redis is down".
#pragma once

#include <stdexcept>
#include <string>

namespace dlock::cli {

namespace exit_code {
constexpr int ok = 0;
constexpr int conflict = 1;          // lock held by someone else (run/acquire), wrong token
constexpr int usage = 64;            // EX_USAGE: bad arguments
constexpr int unavailable = 69;      // EX_UNAVAILABLE: Redis unreachable or answering errors
constexpr int software = 70;         // EX_SOFTWARE: a bug in dlock
constexpr int release_failed = 74;   // EX_IOERR: COMMAND succeeded, the final release did not
constexpr int lost = 75;             // EX_TEMPFAIL: the lock was lost while COMMAND ran
constexpr int cannot_execute = 126;  // COMMAND found but not runnable (as in sh)
constexpr int not_found = 127;       // COMMAND not found (as in sh)
}  // namespace exit_code

// Bad command-line input found after parsing (values out of range, conflicting options).
// main() prints it with a hint to --help and exits with exit_code::usage.
class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

}  // namespace dlock::cli
