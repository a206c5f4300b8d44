// tools/command_line.hpp: the `dlock` command line turned into the action to run, without
// running it (main() runs it; tests/fuzz/cli_fuzz.cpp only parses).
#pragma once

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "commands.hpp"

namespace dlock::cli {

// What parse_command_line() made of the arguments. The subcommands' callbacks keep a reference
// to `command`, hence neither copyable nor movable.
struct CommandLine {
    CommandLine() = default;
    CommandLine(const CommandLine&) = delete;
    CommandLine& operator=(const CommandLine&) = delete;

    std::string subcommand;            // names the messages; empty when not a known subcommand
    std::vector<std::string> command;  // `dlock run`'s COMMAND (after NAME, or after `--`)
    bool saw_separator = false;        // COMMAND came after `--`
    // How many of the last typed words were COMMAND (with its `--`), not dlock's own.
    std::size_t typed_command_words = 0;
    Action action;                   // what to run, when exit_status is empty
    std::optional<int> exit_status;  // parsing itself ended: --help, --version or a usage error
};

// Parses `args` (argv without argv[0]) into `line`: help and version go to `out`, usage errors
// (with a hint to --help) to `err`, and set line.exit_status. No other I/O, nothing runs.
// Throws what the subcommands' callbacks throw (UsageError); line.subcommand is set by then.
void parse_command_line(std::vector<std::string> args, CommandLine& line, std::ostream& out,
                        std::ostream& err);

// Prints a usage error for `subcommand` ("" for none) and returns exit_code::usage.
int usage_error(std::ostream& err, const std::string& subcommand, const std::string& message);

}  // namespace dlock::cli
