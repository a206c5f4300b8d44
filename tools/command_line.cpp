#include "command_line.hpp"

#include <CLI/CLI.hpp>
#include <memory>
#include <sstream>

#include "client_args.hpp"
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

namespace {

CLI::App* find_subcommand(CLI::App& dlock, const std::string& name) {
    if (name.empty()) return nullptr;
    const auto found = dlock.get_subcommands([&](CLI::App* sub) { return sub->check_name(name); });
    return found.empty() ? nullptr : found.front();
}

bool is_option_word(const std::string& word) {
    return word.size() > 1 && word.front() == '-';
}

// Whether option `name` ("-t", "--ttl") of `command` takes a value (unknown options: no; CLI11
// reports them).
bool takes_value(const CLI::App& command, const std::string& name) {
    const CLI::Option* option = command.get_option_no_throw(name);
    return option != nullptr && option->get_expected_min() > 0;
}

// How many words the option at args[i] spans (1, or 2 when its value is the next word), read
// as getopt would: "--opt=value", "--opt value", "-tVALUE", "-t VALUE", "-nt VALUE".
std::size_t option_span(const CLI::App& command, const std::vector<std::string>& args,
                        std::size_t i) {
    const std::string& word = args[i];
    if (word.rfind("--", 0) == 0) {
        if (word.find('=') != std::string::npos) return 1;
        return takes_value(command, word) && i + 1 < args.size() ? 2 : 1;
    }
    for (std::size_t j = 1; j < word.size(); ++j) {
        if (takes_value(command, std::string("-") + word[j]))
            return j + 1 == word.size() && i + 1 < args.size() ? 2 : 1;
    }
    return 1;
}

// `dlock --url U run ...`: connection options typed before the subcommand move after its
// name, where they are defined. Anything else before it stays for CLI11 to judge.
void hoist_connection_options(std::vector<std::string>& args, CLI::App& dlock) {
    std::vector<std::string> hoisted;
    std::size_t i = 0;
    while (i < args.size() && is_option_word(args[i]) && args[i] != "--") {
        const std::string name = args[i].substr(0, args[i].find('='));
        bool value = false;
        if (!is_connection_option(name, value)) break;
        const bool separate_value = value && args[i].find('=') == std::string::npos;
        if (separate_value && i + 1 == args.size()) throw UsageError(name + " needs a value");
        const std::size_t span = separate_value ? 2 : 1;
        hoisted.insert(hoisted.end(), args.begin() + static_cast<std::ptrdiff_t>(i),
                       args.begin() + static_cast<std::ptrdiff_t>(i + span));
        i += span;
    }
    if (hoisted.empty()) return;
    std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
    if (!rest.empty() && find_subcommand(dlock, rest.front()) != nullptr) {
        rest.insert(rest.begin() + 1, hoisted.begin(), hoisted.end());
    } else {
        rest.insert(rest.begin(), hoisted.begin(), hoisted.end());
    }
    args = std::move(rest);
}

// `dlock run [OPTIONS] NAME [OPTIONS] [--] COMMAND [ARGS...]`, as flock(1): the first word
// after NAME that is not an option starts COMMAND, and so does the word after `--`. COMMAND
// and its arguments are set aside before parsing, so that its options (`-n`, `--help`...) are
// never taken for dlock's.
void split_off_command(std::vector<std::string>& args, const CLI::App& run, CommandLine& line) {
    bool have_name = false;
    for (std::size_t i = 1; i < args.size();) {
        const std::string& word = args[i];
        if (word == "--" && !have_name && i + 1 < args.size()) {
            // `dlock run [OPTIONS] -- NAME [--] COMMAND...`, as getopt reads it: `--` ends the
            // options, NAME comes next (it may start with '-'), COMMAND after it.
            line.saw_separator = true;
            std::size_t start = i + 2;
            if (start < args.size() && args[start] == "--") ++start;
            line.command.assign(args.begin() + static_cast<std::ptrdiff_t>(start), args.end());
            line.typed_command_words = args.size() - (i + 2);
            args.resize(i + 2);
            return;
        }
        if (word == "--") {
            line.saw_separator = true;
            line.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
            line.typed_command_words = args.size() - i;
            args.resize(i);
            return;
        }
        if (is_option_word(word)) {
            i += option_span(run, args, i);
            continue;
        }
        if (!have_name) {
            have_name = true;
            ++i;
            continue;
        }
        line.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
        line.typed_command_words = args.size() - i;
        args.resize(i);
        return;
    }
}

// "--url=" (an empty value): CLI11 would take the next word as its value (`dlock status
// --url= NAME` then says NAME is missing). Refused by name instead.
void refuse_empty_values(const std::vector<std::string>& args, const CLI::App* command) {
    if (command == nullptr) return;
    for (const std::string& word : args) {
        if (word == "--") return;
        if (word.size() < 4 || !word.starts_with("--") || !word.ends_with('=')) continue;
        const std::string name = word.substr(0, word.size() - 1);
        if (takes_value(*command, name)) throw UsageError(name + "= has an empty value");
    }
}

}  // namespace

void parse_command_line(std::vector<std::string> args, CommandLine& line, std::ostream& out,
                        std::ostream& err) {
    CLI::App dlock("dlock: distributed locks on Redis, for the shell and cron", "dlock");
    dlock.set_version_flag("--version", "dlock " DLOCK_VERSION);
    dlock.require_subcommand(1);
    dlock.footer(help::main_footer);
    add_run_command(dlock, line.action, line.command);
    add_acquire_command(dlock, line.action);
    add_release_command(dlock, line.action);
    add_extend_command(dlock, line.action);
    add_status_command(dlock, line.action);
    add_list_command(dlock, line.action);
    add_wait_command(dlock, line.action);
    add_break_command(dlock, line.action);
    dlock.formatter(std::make_shared<SubcommandList>());  // after the subcommands: not inherited

    hoist_connection_options(args, dlock);
    if (!args.empty() && args.front() == "run")
        split_off_command(args, *find_subcommand(dlock, "run"), line);

    line.subcommand = args.empty() ? "" : args.front();
    if (find_subcommand(dlock, line.subcommand) == nullptr) {
        // Only a known subcommand names the messages.
        if (!line.subcommand.empty() && line.subcommand.front() != '-') {
            line.exit_status =
                usage_error(err, "",
                            "unknown subcommand '" + line.subcommand +
                                "' (run, acquire, release, extend, status, list, wait, break)");
            return;
        }
        line.subcommand.clear();
    }
    refuse_empty_values(args, find_subcommand(dlock, line.subcommand));
    try {
        // CLI11 wants the arguments in reverse order when given a vector.
        std::vector<std::string> reversed(args.rbegin(), args.rend());
        dlock.parse(reversed);
    } catch (const CLI::ParseError& error) {
        if (error.get_exit_code() == 0) {  // --help, --version
            line.exit_status = dlock.exit(error, out, err);
        } else {
            line.exit_status = usage_error(err, line.subcommand, error.what());
        }
    }
}

}  // namespace dlock::cli
