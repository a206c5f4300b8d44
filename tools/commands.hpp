// tools/commands.hpp: the subcommands of `dlock`. Each add_*_command() registers its options
// on the top-level app; once CLI11 has parsed the command line, the chosen subcommand's
// callback stores in `action` what main() then runs (so no I/O happens inside the parser).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace dlock::cli {

// Returns the process exit status. Throws UsageError, std::invalid_argument or
// dlock::Error; main() turns them into messages and exit statuses.
using Action = std::function<int()>;

// `dlock run [OPTIONS] NAME [--] COMMAND [ARGS...]` or `dlock run NAME -c 'SHELL TEXT'`.
// `command` is what parse_command_line() split off after NAME (so COMMAND's own options never
// reach CLI11); -c fills it with `sh -c TEXT`.
void add_run_command(CLI::App& dlock, Action& action, std::vector<std::string>& command);

void add_acquire_command(CLI::App& dlock, Action& action);
void add_release_command(CLI::App& dlock, Action& action);
void add_extend_command(CLI::App& dlock, Action& action);
void add_status_command(CLI::App& dlock, Action& action);
void add_list_command(CLI::App& dlock, Action& action);
void add_wait_command(CLI::App& dlock, Action& action);
void add_break_command(CLI::App& dlock, Action& action);

}  // namespace dlock::cli
