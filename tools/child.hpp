// tools/child.hpp: starting COMMAND for `dlock run` and decoding how it ended.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace dlock::cli {

// Remembers the file descriptors dlock inherited (call first thing in main): only those pass
// on to COMMAND. Descriptors dlock opened itself (Redis sockets, Asio's internals) are marked
// close-on-exec before COMMAND starts, so a long-running COMMAND never keeps them open.
void remember_inherited_fds();

// Starts `argv` (argv[0] searched in PATH) with the current environment, where every name in
// `env` is set to its value and every name in `unset` removed. Returns the child's pid, or -errno
// when it could not be started (ENOENT: not found; EACCES, ENOEXEC...: not runnable).
pid_t spawn_child(const std::vector<std::string>& argv,
                  const std::vector<std::pair<std::string, std::string>>& env,
                  const std::vector<std::string>& unset);

// The shell's convention: the exit code, or 128 + signal number when the child was killed.
int exit_status_of(int wait_status);

// `argv` as one line for messages, shortened when long.
std::string describe_command(const std::vector<std::string>& argv);

}  // namespace dlock::cli
