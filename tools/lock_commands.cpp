// `dlock acquire`, `release`, `extend` and `status`: one Redis call each (or one wait for
// acquire), for shell scripts that manage a lock across several commands.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <sstream>

#include "client_args.hpp"
#include "commands.hpp"
#include "dlock/lock.hpp"
#include "exit_codes.hpp"
#include "help_text.hpp"
#include "lock_args.hpp"
#include "seconds_arg.hpp"

namespace dlock::cli {

namespace {

// JSON string literal for `text` (lock names may hold quotes, backslashes, control bytes).
std::string json_string(const std::string& text) {
    std::ostringstream out;
    out << '"';
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out << '\\' << c;
        } else if (byte < 0x20) {
            static constexpr char hex[] = "0123456789abcdef";
            out << "\\u00" << hex[byte >> 4] << hex[byte & 15];
        } else {
            out << c;
        }
    }
    out << '"';
    return out.str();
}

void require_name(const std::string& name) {
    if (name.empty()) throw UsageError("NAME must not be empty");
}

struct AcquireArgs {
    LockArgs lock;
    bool print_fence = false;
    ConnectionArgs connection;
};

int acquire(const AcquireArgs& args) {
    if (args.print_fence && args.lock.no_fence)
        throw UsageError("--fence and --no-fence exclude each other");
    const LockOptions options = to_lock_options(args.lock);
    return run_with_client(args.connection, [&](Client& client) -> asio::awaitable<int> {
        Lock lock(client, args.lock.name, options);
        if (!co_await lock.acquire()) co_return report_conflict(args.lock);
        // The Lock object goes away without releasing: the key lives on until its timeout, or
        // until `dlock release NAME TOKEN`.
        std::cout << *lock.token();
        if (args.print_fence) std::cout << ' ' << *lock.fence();
        std::cout << '\n';
        co_return exit_code::ok;
    });
}

struct ReleaseArgs {
    std::string name;
    std::string token;
    ConnectionArgs connection;
};

int release(const ReleaseArgs& args) {
    require_name(args.name);
    return run_with_client(args.connection, [&](Client& client) -> asio::awaitable<int> {
        // The same release as the library's own, so the first queued waiter (a `dlock run` or a
        // library waiter) wakes up at once.
        Lock lock(client, args.name);
        lock.adopt(args.token);
        try {
            co_await lock.release();
            co_return exit_code::ok;
        } catch (const LockReleaseError&) {
        }
        std::cerr << "dlock: lock '" << args.name
                  << "' is not held with this token (expired, released or "
                  << "taken by someone else); nothing was changed\n";
        co_return exit_code::conflict;
    });
}

struct ExtendArgs {
    std::string name;
    std::string token;
    std::string seconds;
    bool replace = false;
    ConnectionArgs connection;
};

int extend(const ExtendArgs& args) {
    require_name(args.name);
    const Seconds time = parse_seconds(args.seconds, "SEC", false);
    return run_with_client(args.connection, [&](Client& client) -> asio::awaitable<int> {
        // A timeout (any) lets the Lock accept extend(); the server decides whether the key
        // has one (`add` fails on a key without expiry).
        Lock lock(client, args.name, {.timeout = std::max(time, Seconds(0.001))});
        lock.adopt(args.token);
        try {
            co_await lock.extend(time, args.replace ? ExtendMode::replace : ExtendMode::add);
            co_return exit_code::ok;
        } catch (const LockExtensionError&) {
        }
        std::cerr << "dlock: lock '" << args.name << "' is not held with this token"
                  << (args.replace ? "" : " (or has no expiry: use --replace)")
                  << "; nothing was changed\n";
        co_return exit_code::conflict;
    });
}

struct StatusArgs {
    std::string name;
    bool json = false;
    ConnectionArgs connection;
};

int status(const StatusArgs& args) {
    require_name(args.name);
    return run_with_client(args.connection, [&](Client& client) -> asio::awaitable<int> {
        Lock lock(client, args.name);
        const LockTtl ttl = co_await lock.ttl();
        const std::string ttl_ms = ttl.remaining
                                       ? std::to_string(static_cast<long long>(
                                             std::llround(ttl.remaining->count() * 1000.0)))
                                       : (ttl.held ? "-1" : "null");
        if (args.json) {
            std::cout << "{\"name\":" << json_string(args.name)
                      << ",\"held\":" << (ttl.held ? "true" : "false") << ",\"ttl_ms\":" << ttl_ms
                      << "}\n";
        } else if (!ttl.held) {
            std::cout << "free\n";
        } else if (!ttl.remaining) {
            std::cout << "held, no expiry\n";
        } else {
            std::cout << "held, expires in " << ttl_ms << " ms\n";
        }
        co_return exit_code::ok;
    });
}

}  // namespace

void add_acquire_command(CLI::App& dlock, Action& action) {
    auto args = std::make_shared<AcquireArgs>();
    CLI::App* command = dlock.add_subcommand("acquire", help::acquire_description);
    add_lock_args(*command, args->lock);
    command->add_flag("--fence", args->print_fence, "Print \"TOKEN FENCE\" instead of \"TOKEN\"");
    add_connection_options(*command, args->connection);
    command->footer(help::acquire_footer);
    command->callback([args, &action] { action = [args] { return acquire(*args); }; });
}

void add_release_command(CLI::App& dlock, Action& action) {
    auto args = std::make_shared<ReleaseArgs>();
    CLI::App* command = dlock.add_subcommand("release", help::release_description);
    command->add_option("NAME", args->name, "Name of the lock")->required();
    command->add_option("TOKEN", args->token, "Token printed by `dlock acquire`")->required();
    add_connection_options(*command, args->connection);
    command->footer(help::release_footer);
    command->callback([args, &action] { action = [args] { return release(*args); }; });
}

void add_extend_command(CLI::App& dlock, Action& action) {
    auto args = std::make_shared<ExtendArgs>();
    CLI::App* command = dlock.add_subcommand("extend", help::extend_description);
    command->add_option("NAME", args->name, "Name of the lock")->required();
    command->add_option("TOKEN", args->token, "Token printed by `dlock acquire`")->required();
    command->add_option("SEC", args->seconds, "Seconds to add to the remaining life")->required();
    command->add_flag("--replace", args->replace,
                      "Set the remaining life to SEC instead of adding");
    add_connection_options(*command, args->connection);
    command->footer(help::extend_footer);
    command->callback([args, &action] { action = [args] { return extend(*args); }; });
}

void add_status_command(CLI::App& dlock, Action& action) {
    auto args = std::make_shared<StatusArgs>();
    CLI::App* command = dlock.add_subcommand("status", help::status_description);
    command->add_option("NAME", args->name, "Name of the lock")->required();
    command->add_flag("--json", args->json, "Print {\"name\":...,\"held\":...,\"ttl_ms\":...}");
    add_connection_options(*command, args->connection);
    command->footer(help::status_footer);
    command->callback([args, &action] { action = [args] { return status(*args); }; });
}

}  // namespace dlock::cli
