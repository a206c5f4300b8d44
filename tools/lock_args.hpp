// tools/lock_args.hpp: the options that say how to take a lock, shared by `dlock run` and
// `dlock acquire`: -t/--timeout, -w/--wait, -n/--no-wait, --sleep, -E/--conflict-exit-code,
// --no-fence, -q/--quiet.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "dlock/lock_options.hpp"

namespace dlock::cli {

struct LockArgs {
    std::string name;
    std::string timeout = "30";
    std::string wait;  // empty: wait forever
    bool no_wait = false;
    std::string sleep = "0.1";
    int conflict_exit_code = 1;
    bool no_fence = false;
    bool quiet = false;
};

// Adds NAME (positional) and the options above to `command`.
void add_lock_args(CLI::App& command, LockArgs& args);

// LockOptions for these arguments (wake_on_release and fencing on unless --no-fence). Throws
// UsageError for out-of-range values or conflicting options.
LockOptions to_lock_options(const LockArgs& args);

// Prints why the lock could not be taken (unless --quiet) and returns the exit status to use.
int report_conflict(const LockArgs& args);

}  // namespace dlock::cli
