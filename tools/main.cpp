// dlock: run a command under a distributed lock held in Redis, or manage such a lock from a
// shell script. See `dlock --help` and `dlock run --help`.
#include <algorithm>
#include <cstring>
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
        if (error.code() == "NOAUTH" || error.code() == "WRONGPASS") {
            std::cerr << "dlock: the server wants a user and password: give them in the URL "
                         "(redis://user:password@host), --password-file FILE or DLOCK_PASSWORD\n";
        }
        if (error.code() == "MOVED" || error.code() == "ASK") {
            std::cerr << "dlock: this server is a node of a Redis Cluster: add --cluster (the URL "
                         "is then a seed; the other nodes are found from it)\n";
        }
        return exit_code::unavailable;
    } catch (const dlock::SemaphoreMismatchError& error) {
        // --permits disagrees with the count the holders use: the command line's fault (64),
        // not dlock's (70).
        std::cerr << "dlock: " << error.what() << '\n';
        return exit_code::usage;
    } catch (const std::exception& error) {
        if (const char* failure = transport_failure(error)) {
            std::cerr << "dlock: " << failure << ": " << error.what() << '\n';
            return exit_code::unavailable;
        }
        std::cerr << "dlock: internal error: " << error.what() << '\n';
        return exit_code::software;
    }
}

// Overwrites, in place, the password of every redis URL among dlock's own arguments, so that
// `ps` and /proc/PID/cmdline no longer show it to other local users while a long `run` lasts
// (as mysql(1) does; the parsed copies keep it). "redis://u:secret@h" becomes
// "redis://u:******@h". Arguments of COMMAND are left alone.
void hide_url_passwords(int argc, char** argv, std::size_t command_words) {
    const auto typed = static_cast<std::size_t>(argc);
    const std::size_t own = typed - std::min(command_words, typed);
    for (std::size_t i = 1; i < own; ++i) {
        char* scheme_end = std::strstr(argv[i], "://");
        if (scheme_end == nullptr || std::strstr(argv[i], "redis") == nullptr) continue;
        char* user_info = scheme_end + 3;
        const std::size_t length = std::strcspn(user_info, "@/");
        if (user_info[length] != '@') continue;
        char* colon = static_cast<char*>(std::memchr(user_info, ':', length));
        if (colon != nullptr) std::memset(colon + 1, '*', user_info + length - colon - 1);
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
    hide_url_passwords(argc, argv, line.typed_command_words);
    if (line.exit_status) return *line.exit_status;
    try {
        return line.action();
    } catch (...) {
        return report_failure(line.subcommand);
    }
}
