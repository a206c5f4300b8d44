// tools/integer_arg.hpp: whole numbers given on the command line (--permits, -E), decimal only.
//
// CLI11's own conversion reads "010" as octal (8) and "0x10" as hex (16), so `-E 010` would exit
// 8: every integer option goes through parse_integer instead.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace dlock::cli {

// Parses `text` as a decimal integer ("10", "010" = 10, "-1"; not "0x10", "1e3", "2.5", "+3",
// " 3"). Throws UsageError naming `option`: "... is not a number" or "... must be between MIN
// and MAX".
long long parse_integer(const std::string& text, const std::string& option, long long min,
                        long long max);

// Adds option `names` to `command`: its value goes through parse_integer (named by `shown`,
// e.g. "--permits") into `target`.
template <class Integer>
CLI::Option* add_integer_option(CLI::App& command, const std::string& names, Integer& target,
                                const std::string& description, const std::string& shown,
                                long long min, long long max) {
    return command
        .add_option_function<std::string>(
            names,
            [&target, shown, min, max](const std::string& text) {
                target = static_cast<Integer>(parse_integer(text, shown, min, max));
            },
            description)
        ->type_name("N");
}

}  // namespace dlock::cli
