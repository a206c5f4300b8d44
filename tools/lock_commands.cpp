// `dlock acquire`, `release`, `extend`, `status`, `list`, `wait` and `break`: one Redis call
// each (or one wait), for shell scripts that manage a lock across several commands.
#include <signal.h>

#include <algorithm>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "client_args.hpp"
#include "commands.hpp"
#include "dlock/errors.hpp"
#include "dlock/lock.hpp"
#include "exit_codes.hpp"
#include "help_text.hpp"
#include "integer_arg.hpp"
#include "interrupted_wait.hpp"
#include "lock_args.hpp"
#include "seconds_arg.hpp"
#include "servers.hpp"
#include "status_text.hpp"

namespace dlock::cli {

namespace {

// Options for a lock object that manages a lock taken elsewhere (release, extend, break): the
// holder record is deleted or kept in step with it, as the acquisition wrote it. The timeout
// only lets the object accept extend(); the server decides what the key has.
LockOptions managing_options(Seconds timeout = Seconds(30)) {
    LockOptions options;
    options.timeout = timeout;
    options.record_holder = true;
    return options;
}

void require_name(const std::string& name) {
    if (name.empty()) throw UsageError("NAME must not be empty");
}

struct AcquireArgs {
    LockArgs lock;
    bool print_fence = false;
    bool json = false;
    ConnectionArgs connection;
};

int acquire(const AcquireArgs& args) {
    if (args.print_fence && args.lock.no_fence)
        throw UsageError("--fence and --no-fence exclude each other");
    const LockOptions options = to_lock_options(args.lock);
    return run_with_servers(args.connection, [&](Servers& servers) -> asio::awaitable<int> {
        if (args.print_fence && servers.is_redlock())
            throw UsageError("--fence: Redlock (several --url) hands out no fencing token");
        auto lock = servers.make_lock(args.lock.name, options);
        const auto executor = co_await asio::this_coro::executor;
        WaitInterruption interruption(executor);
        asio::signal_set signals(executor, SIGINT, SIGTERM, SIGHUP);
        signals.async_wait([&interruption](std::error_code error, int signal_number) {
            if (!error) interrupt_wait(interruption, signal_number);
        });
        const bool acquired = co_await acquire_unless_interrupted(
            servers, *lock, args.lock.name,
            {.blocking = options.blocking, .blocking_timeout = options.blocking_timeout},
            interruption);
        signals.cancel();
        if (!acquired) {
            co_await let_the_queue_entry_go(servers, args.lock.name);
            co_return report_conflict(args.lock);
        }
        // The lock object goes away without releasing: the key lives on until its TTL, or
        // until `dlock release NAME TOKEN`.
        if (args.json) {
            std::cout << "{\"name\":" << json_string(args.lock.name)
                      << ",\"token\":" << json_string(*lock->token())
                      << ",\"fence\":" << (lock->fence() ? std::to_string(*lock->fence()) : "null")
                      << "}\n";
            co_return exit_code::ok;
        }
        std::cout << *lock->token();
        if (args.print_fence) std::cout << ' ' << *lock->fence();
        std::cout << '\n';
        co_return exit_code::ok;
    });
}

struct ReleaseArgs {
    std::string name;
    std::string token;
    bool force = false;
    ConnectionArgs connection;
};

int break_lock(const std::string& name, const ConnectionArgs& connection);

int release(const ReleaseArgs& args) {
    require_name(args.name);
    if (args.force) {
        if (!args.token.empty()) throw UsageError("--force takes no TOKEN: it releases any holder");
        return break_lock(args.name, args.connection);
    }
    if (args.token.empty())
        throw UsageError(
            "TOKEN is required: the token `dlock acquire` printed (or --force, to "
            "release the lock whoever holds it)");
    return run_with_servers(args.connection, [&](Servers& servers) -> asio::awaitable<int> {
        // The same release as the library's own, so the first queued waiter (a `dlock run` or a
        // library waiter) wakes up at once.
        auto lock = servers.make_lock(args.name, managing_options());
        lock->adopt(args.token);
        try {
            co_await lock->release();
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
    return run_with_servers(args.connection, [&](Servers& servers) -> asio::awaitable<int> {
        // A timeout (any) lets the lock accept extend(); the server decides whether the key
        // has one (`add` fails on a key without expiry).
        auto lock = servers.make_lock(args.name, managing_options(std::max(time, Seconds(0.1))));
        lock->adopt(args.token);
        try {
            co_await lock->extend(time, args.replace ? ExtendMode::replace : ExtendMode::add);
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
    return run_with_servers(args.connection, [&](Servers& servers) -> asio::awaitable<int> {
        const LockInspection seen = co_await servers.inspect(args.name);
        const bool queue_known = !servers.is_redlock();
        std::cout << (args.json ? to_json(args.name, seen, queue_known)
                                : describe(seen, queue_known))
                  << '\n';
        co_return exit_code::ok;
    });
}

struct ListArgs {
    std::string pattern = "*";
    bool json = false;
    ConnectionArgs connection;
};

// One line per lock that has a holder record, fence counter or wait queue (`dlock status` for
// each); --json: one JSON array of status objects.
int list(const ListArgs& args) {
    return run_with_servers(args.connection, [&](Servers& servers) -> asio::awaitable<int> {
        const std::vector<std::string> names = co_await servers.list(args.pattern);
        const bool queue_known = !servers.is_redlock();
        if (args.json) std::cout << '[';
        bool first = true;
        for (const std::string& name : names) {
            const LockInspection seen = co_await servers.inspect(name);
            if (args.json) {
                std::cout << (first ? "" : ",") << to_json(name, seen, queue_known);
            } else {
                std::cout << name << '\t' << describe(seen, queue_known) << '\n';
            }
            first = false;
        }
        if (args.json) std::cout << "]\n";
        co_return exit_code::ok;
    });
}

struct WaitArgs {
    std::string name;
    std::string wait;  // empty: forever
    std::string sleep = "0.1";
    int conflict_exit_code = 1;
    bool verbose = false;
    ConnectionArgs connection;
};

// Polls (every --sleep) until nobody holds NAME; rides out outages like a waiting `run`.
int wait_until_free(const WaitArgs& args) {
    require_name(args.name);
    const Seconds sleep = parse_seconds(args.sleep, "--sleep", false);
    const std::optional<Seconds> limit =
        args.wait.empty() ? std::nullopt : std::optional(parse_seconds(args.wait, "--wait", true));
    return run_with_servers(args.connection, [&](Servers& servers) -> asio::awaitable<int> {
        using Clock = std::chrono::steady_clock;
        const auto start = Clock::now();
        auto lock = servers.make_lock(args.name, managing_options());
        asio::steady_timer timer(co_await asio::this_coro::executor);
        bool said = false;
        for (;;) {
            const bool over = limit && Clock::now() - start >= *limit;
            try {
                if (!(co_await lock->ttl()).held) co_return exit_code::ok;
            } catch (const ConnectionError& error) {
                if (over) throw;
                if (!said)
                    std::cerr << "dlock: lost touch with Redis (" << error.what()
                              << "); retrying\n";
                said = true;
            } catch (const TimeoutError&) {
                if (over) throw;
            }
            if (over) break;
            timer.expires_after(std::chrono::duration_cast<Clock::duration>(sleep));
            co_await timer.async_wait(asio::use_awaitable);
        }
        if (args.verbose)
            std::cerr << "dlock: lock '" << args.name << "' still held after waiting " << args.wait
                      << " s\n";
        co_return args.conflict_exit_code;
    });
}

struct BreakArgs {
    std::string name;
    bool yes = false;
    ConnectionArgs connection;
};

// "2 permits of semaphore 'jobs'", "1 reader of read/write lock 'jobs'".
std::string broken_leases_text(const std::string& name, bool semaphore, std::size_t ended) {
    const char* what =
        semaphore ? (ended == 1 ? " permit" : " permits") : (ended == 1 ? " reader" : " readers");
    return std::to_string(ended) + what + " of " +
           (semaphore ? "semaphore '" : "read/write lock '") + name + "'";
}

// Takes NAME from whatever kind holds it. A token (a Lock, a writer, another client's lock):
// the holder's own token-checked release, so the first queued waiter wakes at once (a plain
// DEL would leave it to its fallback poll) and the holder record goes with it; the token is
// not shown, it is the holder's credential. Permits or readers (key NAME's marker): all their
// leases end (dlock::break_leases).
int break_lock(const std::string& name, const ConnectionArgs& connection) {
    return run_with_servers(connection, [&](Servers& servers) -> asio::awaitable<int> {
        for (int attempt = 0; attempt < 5; ++attempt) {
            const LockInspection seen = co_await servers.inspect(name);
            const bool semaphore = seen.held_as == HeldAs::semaphore;
            if ((semaphore || seen.held_as == HeldAs::readers) && servers.client()) {
                const auto ended = co_await break_leases(*servers.client(), name);
                if (!ended) continue;  // freed or taken by another kind meanwhile: look again
                std::cerr << "dlock: lock '" << name << "' broken (ended "
                          << broken_leases_text(name, semaphore, *ended) << ")\n";
                co_return exit_code::ok;
            }
            auto lock = servers.make_lock(name, managing_options());
            const std::optional<std::string> token = co_await lock->holder_token();
            // Permits or readers came in since the inspection (their marker is no token: a
            // Lock's release of it would leave their leases without the marker).
            if (token && token->starts_with("dlock-kind:")) continue;
            if (!token) {
                std::cerr << "dlock: lock '" << name << "' is not held; nothing was changed\n";
                co_return exit_code::conflict;
            }
            lock->adopt(*token);
            try {
                co_await lock->release();
                std::cerr << "dlock: lock '" << name << "' broken (it was held by "
                          << describe_holder(seen) << ")\n";
                co_return exit_code::ok;
            } catch (const LockReleaseError&) {
                // Released or taken over between GET and the release: look again.
            }
        }
        std::cerr << "dlock: lock '" << name << "' keeps changing hands; not broken\n";
        co_return exit_code::conflict;
    });
}

int break_lock(const BreakArgs& args) {
    require_name(args.name);
    if (!args.yes) {
        throw UsageError("breaking lock '" + args.name +
                         "' takes it from its holder, which may still be running: add --yes");
    }
    return break_lock(args.name, args.connection);
}

// One subcommand of `dlock`: its parsed arguments land in `args`, and choosing it makes
// `run(*args)` the action. Every one takes the connection options (help lists them in their
// own group, after the command's own), and NAME first when its Args have a `name`; the caller
// adds the options that differ.
template <class Args>
struct Subcommand {
    CLI::App* app;
    std::shared_ptr<Args> args;
};

template <class Args>
Subcommand<Args> new_subcommand(CLI::App& dlock, Action& action, const char* name,
                                const char* description, const char* footer,
                                int (*run)(const Args&)) {
    auto args = std::make_shared<Args>();
    CLI::App* command = dlock.add_subcommand(name, description);
    command->footer(footer);
    command->callback([args, &action, run] { action = [args, run] { return run(*args); }; });
    if constexpr (requires { args->name; })
        command->add_option("NAME", args->name, "Name of the lock")->required();
    add_connection_options(*command, args->connection);
    return {command, args};
}

}  // namespace

void add_acquire_command(CLI::App& dlock, Action& action) {
    auto [command, args] = new_subcommand<AcquireArgs>(
        dlock, action, "acquire", help::acquire_description, help::acquire_footer, acquire);
    add_lock_args(*command, args->lock);
    command->add_flag("--fence", args->print_fence, "Print \"TOKEN FENCE\" instead of \"TOKEN\"");
    command->add_flag("--json", args->json, "Print {\"name\":...,\"token\":...,\"fence\":...}");
}

void add_release_command(CLI::App& dlock, Action& action) {
    auto [command, args] = new_subcommand<ReleaseArgs>(
        dlock, action, "release", help::release_description, help::release_footer, release);
    command->add_option("TOKEN", args->token, "Token printed by `dlock acquire`");
    command->add_flag("-f,--force", args->force,
                      "Release the lock whoever holds it (no TOKEN), as `dlock break --yes`");
}

void add_extend_command(CLI::App& dlock, Action& action) {
    auto [command, args] = new_subcommand<ExtendArgs>(
        dlock, action, "extend", help::extend_description, help::extend_footer, extend);
    command->add_option("TOKEN", args->token, "Token printed by `dlock acquire`")->required();
    command->add_option("SEC", args->seconds, "Seconds to add to the remaining life")->required();
    command->add_flag("--replace", args->replace,
                      "Set the remaining life to SEC instead of adding");
}

void add_status_command(CLI::App& dlock, Action& action) {
    auto [command, args] = new_subcommand<StatusArgs>(
        dlock, action, "status", help::status_description, help::status_footer, status);
    command->add_flag(
        "--json", args->json,
        "Print one JSON object: name, held, held_as, ttl_ms, holder, held_for_ms, fence, "
        "waiting");
}

void add_list_command(CLI::App& dlock, Action& action) {
    auto [command, args] = new_subcommand<ListArgs>(dlock, action, "list", help::list_description,
                                                    help::list_footer, list);
    command->add_option("PATTERN", args->pattern, "Glob on lock names (default: *)");
    command->add_flag("--json", args->json, "Print a JSON array of `status --json` objects");
}

void add_wait_command(CLI::App& dlock, Action& action) {
    auto [command, args] = new_subcommand<WaitArgs>(dlock, action, "wait", help::wait_description,
                                                    help::wait_footer, wait_until_free);
    command
        ->add_option("-w,--wait,--timeout", args->wait,
                     "Give up after waiting SEC seconds (default: wait forever)")
        ->type_name("SEC");
    command->add_option("--sleep", args->sleep, "Poll interval (default 0.1)")->type_name("SEC");
    add_integer_option(*command, "-E,--conflict-exit-code", args->conflict_exit_code,
                       "Exit status when still held after -w SEC (default 1)",
                       "--conflict-exit-code", 0, 255);
    command->add_flag("-v,--verbose", args->verbose, "Say so when giving up");
}

void add_break_command(CLI::App& dlock, Action& action) {
    auto [command, args] = new_subcommand<BreakArgs>(
        dlock, action, "break", help::break_description, help::break_footer, break_lock);
    command->add_flag("-y,--yes", args->yes, "Yes, take the lock from its holder");
}

}  // namespace dlock::cli
