// Fuzzes the `dlock` command line: the input is argv (arguments separated by NUL bytes).
// parse_command_line() must end in an action, an exit status (help, version, usage error) or
// a UsageError; anything else would reach main() as an "internal error". The same arguments
// then go through the validation the actions run before any I/O (durations, lock options,
// URLs), which must fail only with UsageError or std::invalid_argument.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "client_args.hpp"
#include "command_line.hpp"
#include "exit_codes.hpp"
#include "fuzz_support.hpp"
#include "lock_args.hpp"
#include "seconds_arg.hpp"

namespace {

using namespace dlock::cli;

std::vector<std::string> split_args(const std::uint8_t* data, std::size_t size) {
    std::vector<std::string> args(1);
    for (std::size_t i = 0; i < size && args.size() <= 64; ++i) {
        if (data[i] == 0) {
            args.emplace_back();
        } else {
            args.back().push_back(static_cast<char>(data[i]));
        }
    }
    if (args.size() == 1 && args.front().empty()) args.clear();
    return args;
}

std::string arg(const std::vector<std::string>& args, std::size_t i) {
    return i < args.size() ? args[i] : std::string();
}

void validate(const std::vector<std::string>& args) {
    try {
        (void)parse_seconds(arg(args, 0), "--ttl", args.size() % 2 == 0);
    } catch (const UsageError&) {
    }
    try {
        LockArgs lock;
        lock.name = arg(args, 0);
        lock.ttl = arg(args, 1);
        lock.wait = arg(args, 2);
        lock.sleep = arg(args, 3);
        lock.no_wait = args.size() % 3 == 0;
        (void)to_lock_options(lock);
    } catch (const UsageError&) {
    }
    try {
        ConnectionArgs connection;  // no file options: resolve_servers() must not touch disk
        connection.urls.assign(
            args.begin(),
            args.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(args.size(), 3)));
        connection.cluster = args.size() % 2 == 1;
        (void)resolve_servers(connection);
    } catch (const UsageError&) {
    } catch (const std::invalid_argument&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::vector<std::string> args = split_args(data, size);
    {
        CommandLine line;
        std::ostringstream out;
        std::ostringstream err;
        try {
            parse_command_line(args, line, out, err);
            DLOCK_FUZZ_CHECK(line.exit_status.has_value() != static_cast<bool>(line.action));
            if (line.exit_status) {
                DLOCK_FUZZ_CHECK(*line.exit_status == exit_code::ok ||
                                 *line.exit_status == exit_code::usage);
                DLOCK_FUZZ_CHECK(*line.exit_status == exit_code::ok || !err.str().empty());
            }
        } catch (const UsageError&) {
        }
    }
    validate(args);
    return 0;
}
