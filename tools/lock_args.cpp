#include "lock_args.hpp"

#include <iostream>

#include "exit_codes.hpp"
#include "integer_arg.hpp"
#include "seconds_arg.hpp"
#include "verbose_log.hpp"

namespace dlock::cli {

void add_lock_args(CLI::App& command, LockArgs& args) {
    command.add_option("NAME", args.name, "Name of the lock (the Redis key)")->required();
    command
        .add_option("-t,--ttl", args.ttl,
                    "Life of the lock in seconds (default 30); `run` renews it while COMMAND runs")
        ->type_name("SEC");
    command
        .add_option("-w,--wait,--timeout", args.wait,
                    "Give up after waiting SEC seconds, as flock -w (default: wait forever)")
        ->type_name("SEC");
    command.add_flag("-n,--nonblock,--no-wait", args.no_wait,
                     "Do not wait: fail at once if the lock is held");
    command
        .add_option("--sleep", args.sleep,
                    "Fallback poll interval while waiting (default 0.1); a release wakes "
                    "waiters at once")
        ->type_name("SEC");
    add_integer_option(command, "-E,--conflict-exit-code", args.conflict_exit_code,
                       "Exit status when the lock is not taken (default 1)", "--conflict-exit-code",
                       0, 255);
    command.add_flag("--no-fence", args.no_fence, "Do not hand out a fencing token");
    command.add_flag("-v,--verbose", args.verbose,
                     "Say so on stderr when the lock is not taken (silent by default), and "
                     "log reconnects and a lost lock there");
    command
        .add_option("--label", args.label,
                    "Free text kept with the holder record (host, pid, since), shown by "
                    "`dlock status`")
        ->type_name("TEXT");
    command.add_flag("-q,--quiet", args.quiet, "Silent when the lock is not taken (the default)");
}

LockOptions to_lock_options(const LockArgs& args) {
    if (args.name.empty()) throw UsageError("NAME must not be empty");
    if (args.no_wait && !args.wait.empty())
        throw UsageError("--nonblock and --wait exclude each other");
    if (args.verbose && !args.quiet) log_library_to_stderr();
    LockOptions options;
    options.timeout = parse_seconds(args.ttl, "--ttl", false);
    options.sleep = parse_seconds(args.sleep, "--sleep", false);
    if (options.sleep > *options.timeout) {
        throw UsageError("--sleep (" + args.sleep + ") must not be greater than --ttl (" +
                         args.ttl + ")");
    }
    options.blocking = !args.no_wait;
    if (!args.wait.empty()) options.blocking_timeout = parse_seconds(args.wait, "--wait", true);
    options.wake_on_release = true;
    options.fencing = !args.no_fence;
    options.record_holder = true;
    options.holder_label = args.label;
    return options;
}

int report_conflict(const LockArgs& args) {
    if (args.verbose && !args.quiet) {
        if (args.wait.empty()) {
            std::cerr << "dlock: lock '" << args.name << "' is held by someone else\n";
        } else {
            std::cerr << "dlock: lock '" << args.name << "' still held after waiting " << args.wait
                      << " s\n";
        }
    }
    return args.conflict_exit_code;
}

}  // namespace dlock::cli
