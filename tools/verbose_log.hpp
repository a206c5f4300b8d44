// verbose_log.hpp: what -v/--verbose adds besides "why the lock was not taken": the library's
// own log (dlock/log.hpp: reconnects, redirections followed, lost locks, shortfalls) on stderr.
#pragma once

namespace dlock::cli {

// Sends dlock's log lines at info level and above to stderr as "dlock: LEVEL: message".
void log_library_to_stderr();

}  // namespace dlock::cli
