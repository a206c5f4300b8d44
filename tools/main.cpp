// dlock: run a command under a distributed lock held in Redis, or manage such a lock from a
// shell script. See `dlock --help` and `dlock run --help`.
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "child.hpp"
#include "command_line.hpp"
#include "dlock/errors.hpp"
#include "exit_codes.hpp"

namespace {

using namespace dlock::cli;

// What went wrong on the way to Redis (the server unreachable, slow or garbled), or null.
const char* transport_failure(const std::exception& error) {
    if (dynamic_cast<const dlock::TimeoutError*>(&error)) return "Redis did not answer in time";
    if (dynamic_cast<const dlock::ConnectionError*>(&error)) return "cannot reach Redis";
    if (dynamic_cast<const dlock::ProtocolError*>(&error)) return "unexpected reply from Redis";
    return nullptr;
}

// Turns what an action threw into a message and an exit status.
int report_failure(const std::string& subcommand) {
    try {
        throw;
    } catch (const UsageError& error) {
        return usage_error(std::cerr, subcommand, error.what());
    } catch (const std::invalid_argument& error) {
        return usage_error(std::cerr, subcommand, error.what());
    } catch (const dlock::ServerError& error) {
        std::cerr << "dlock: Redis answered with an error: " << error.what() << '\n';
        if (error.code() == "MOVED" || error.code() == "ASK") {
            std::cerr << "dlock: this server is a node of a Redis Cluster: add --cluster (the URL "
                         "is then a seed; the other nodes are found from it)\n";
        }
        return exit_code::unavailable;
    } catch (const std::exception& error) {
        if (const char* failure = transport_failure(error)) {
            std::cerr << "dlock: " << failure << ": " << error.what() << '\n';
            return exit_code::unavailable;
        }
        std::cerr << "dlock: internal error: " << error.what() << '\n';
        return exit_code::software;
    }
}

}  // namespace

int main(int argc, char** argv) {
    remember_inherited_fds();

    CommandLine line;
    try {
        parse_command_line(std::vector<std::string>(argv + 1, argv + argc), line, std::cout,
                           std::cerr);
    } catch (...) {
        return report_failure(line.subcommand);
    }
    if (line.exit_status) return *line.exit_status;
    try {
        return line.action();
    } catch (...) {
        return report_failure(line.subcommand);
    }
}
