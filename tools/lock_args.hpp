// tools/lock_args.hpp: the options that say how to take a lock, shared by `dlock run` and
// `dlock acquire`, spelled as flock(1) spells them where it has them:
//   -t/--ttl SEC                life of the lock (default 30; renewed by `run`)
//   -w/--wait/--timeout SEC     how long to wait for it (flock's -w/--timeout; default forever)
//   -n/--nonblock/--no-wait     do not wait
//   -E/--conflict-exit-code N   exit status when the lock is not taken (default 1)
//   -v/--verbose                say why the lock was not taken (silent by default, as flock)
//   --label TEXT                free text for the holder record (`dlock status` shows it)
//   --sleep, --no-fence, -q/--quiet (accepted, the default now)
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "dlock/lock_options.hpp"

namespace dlock::cli {

struct LockArgs {
    std::string name;
    std::string ttl = "30";
    std::string wait;  // empty: wait forever
    bool no_wait = false;
    std::string sleep = "0.1";
    int conflict_exit_code = 1;
    bool no_fence = false;
    bool verbose = false;
    bool quiet = false;
    std::string label;
};

// Adds NAME (positional) and the options above to `command`.
void add_lock_args(CLI::App& command, LockArgs& args);

// LockOptions for these arguments (wake_on_release, the holder record with --label, and fencing
// unless --no-fence). Throws
// UsageError for out-of-range values or conflicting options.
LockOptions to_lock_options(const LockArgs& args);

// Prints why the lock could not be taken (only with --verbose) and returns the exit status.
int report_conflict(const LockArgs& args);

}  // namespace dlock::cli
