#include "command_line.hpp"

#include <CLI/CLI.hpp>
#include <memory>
#include <sstream>

#include "exit_codes.hpp"
#include "help_text.hpp"

#ifndef DLOCK_VERSION
#define DLOCK_VERSION "0.1.0"
#endif

namespace dlock::cli {

namespace {

// The top-level --help lists each subcommand by the first line of its description only (the
// rest is for `dlock SUBCOMMAND --help`).
class SubcommandList : public CLI::Formatter {
  public:
    std::string make_subcommand(const CLI::App* subcommand) const override {
        const std::string& description = subcommand->get_description();
        std::ostringstream out;
        CLI::detail::format_help(out, subcommand->get_display_name(),
                                 description.substr(0, description.find('\n')), get_column_width());
        return out.str();
    }
};

}  // namespace

int usage_error(std::ostream& err, const std::string& subcommand, const std::string& message) {
    err << "dlock" << (subcommand.empty() ? "" : " " + subcommand) << ": " << message << '\n'
        << "Try 'dlock" << (subcommand.empty() ? "" : " " + subcommand)
        << " --help' for more information.\n";
    return exit_code::usage;
}

void parse_command_line(std::vector<std::string> args, CommandLine& line, std::ostream& out,
                        std::ostream& err) {
    // `dlock run NAME [OPTIONS] -- COMMAND...`: COMMAND and its arguments are set aside before
    // parsing, so that its options (`-n`, `--help`...) are never taken for dlock's.
    if (!args.empty() && args.front() == "run") {
        for (std::size_t i = 1; i < args.size(); ++i) {
            if (args[i] == "--") {
                line.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
                args.resize(i);
                line.saw_separator = true;
                break;
            }
        }
    }

    CLI::App dlock("dlock: distributed locks on Redis, for the shell and cron", "dlock");
    dlock.set_version_flag("--version", "dlock " DLOCK_VERSION);
    dlock.require_subcommand(1);
    dlock.footer(help::main_footer);
    add_run_command(dlock, line.action, line.command, line.saw_separator);
    add_acquire_command(dlock, line.action);
    add_release_command(dlock, line.action);
    add_extend_command(dlock, line.action);
    add_status_command(dlock, line.action);
    dlock.formatter(std::make_shared<SubcommandList>());  // after the subcommands: not inherited

    line.subcommand = args.empty() ? "" : args.front();
    try {
        dlock.get_subcommand(line.subcommand);  // only a known subcommand names the messages
    } catch (const CLI::Error&) {
        if (!line.subcommand.empty() && line.subcommand.front() != '-') {
            line.exit_status = usage_error(err, "",
                                           "unknown subcommand '" + line.subcommand +
                                               "' (run, acquire, release, extend, status)");
            return;
        }
        line.subcommand.clear();
    }
    try {
        // CLI11 wants the arguments in reverse order when given a vector.
        std::vector<std::string> reversed(args.rbegin(), args.rend());
        dlock.parse(reversed);
    } catch (const CLI::ParseError& error) {
        if (error.get_exit_code() == 0) {  // --help, --version
            line.exit_status = dlock.exit(error, out, err);
        } else if (line.subcommand == "run" && !line.saw_separator &&
                   dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
            line.exit_status =
                usage_error(err, line.subcommand,
                            std::string("missing '--' before COMMAND (") + error.what() + ")");
        } else {
            line.exit_status = usage_error(err, line.subcommand, error.what());
        }
    }
}

}  // namespace dlock::cli
