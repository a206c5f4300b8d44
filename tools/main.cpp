// dlock: run a command under a distributed lock held in Redis, or manage such a lock from a
// shell script. See `dlock --help` and `dlock run --help`.
#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "child.hpp"
#include "commands.hpp"
#include "dlock/errors.hpp"
#include "exit_codes.hpp"
#include "help_text.hpp"

#ifndef DLOCK_VERSION
#define DLOCK_VERSION "0.1.0"
#endif

namespace {

using namespace dlock::cli;

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

int usage_error(const std::string& subcommand, const std::string& message) {
    std::cerr << "dlock" << (subcommand.empty() ? "" : " " + subcommand) << ": " << message << '\n'
              << "Try 'dlock" << (subcommand.empty() ? "" : " " + subcommand)
              << " --help' for more information.\n";
    return exit_code::usage;
}

// Turns what an action threw into a message and an exit status.
int report_failure(const std::string& subcommand) {
    try {
        throw;
    } catch (const UsageError& error) {
        return usage_error(subcommand, error.what());
    } catch (const std::invalid_argument& error) {
        return usage_error(subcommand, error.what());
    } catch (const dlock::ServerError& error) {
        std::cerr << "dlock: Redis answered with an error: " << error.what() << '\n';
        return exit_code::unavailable;
    } catch (const dlock::TimeoutError& error) {
        std::cerr << "dlock: Redis did not answer in time: " << error.what() << '\n';
        return exit_code::unavailable;
    } catch (const dlock::ConnectionError& error) {
        std::cerr << "dlock: cannot reach Redis: " << error.what() << '\n';
        return exit_code::unavailable;
    } catch (const dlock::ProtocolError& error) {
        std::cerr << "dlock: unexpected reply from Redis: " << error.what() << '\n';
        return exit_code::unavailable;
    } catch (const std::exception& error) {
        std::cerr << "dlock: internal error: " << error.what() << '\n';
        return exit_code::software;
    }
}

}  // namespace

int main(int argc, char** argv) {
    remember_inherited_fds();

    // `dlock run NAME [OPTIONS] -- COMMAND...`: COMMAND and its arguments are set aside before
    // parsing, so that its options (`-n`, `--help`...) are never taken for dlock's.
    std::vector<std::string> args(argv + 1, argv + argc);
    std::vector<std::string> command;
    bool saw_separator = false;
    if (!args.empty() && args.front() == "run") {
        for (std::size_t i = 1; i < args.size(); ++i) {
            if (args[i] == "--") {
                command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
                args.resize(i);
                saw_separator = true;
                break;
            }
        }
    }

    CLI::App dlock("dlock: distributed locks on Redis, for the shell and cron", "dlock");
    dlock.set_version_flag("--version", "dlock " DLOCK_VERSION);
    dlock.require_subcommand(1);
    dlock.footer(help::main_footer);
    Action action;
    add_run_command(dlock, action, command, saw_separator);
    add_acquire_command(dlock, action);
    add_release_command(dlock, action);
    add_extend_command(dlock, action);
    add_status_command(dlock, action);
    dlock.formatter(std::make_shared<SubcommandList>());  // after the subcommands: not inherited

    std::string subcommand = args.empty() ? "" : args.front();
    try {
        dlock.get_subcommand(subcommand);  // only a known subcommand names the messages
    } catch (const CLI::Error&) {
        if (!subcommand.empty() && subcommand.front() != '-') {
            return usage_error("", "unknown subcommand '" + subcommand +
                                       "' (run, acquire, release, extend, status)");
        }
        subcommand.clear();
    }
    try {
        // CLI11 wants the arguments in reverse order when given a vector.
        std::vector<std::string> reversed(args.rbegin(), args.rend());
        dlock.parse(reversed);
    } catch (const CLI::ParseError& error) {
        if (error.get_exit_code() == 0) return dlock.exit(error);  // --help, --version
        if (subcommand == "run" && !saw_separator &&
            dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
            return usage_error(subcommand,
                               std::string("missing '--' before COMMAND (") + error.what() + ")");
        }
        return usage_error(subcommand, error.what());
    } catch (...) {
        return report_failure(subcommand);
    }
    try {
        return action();
    } catch (...) {
        return report_failure(subcommand);
    }
}
