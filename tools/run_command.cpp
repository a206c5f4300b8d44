// `dlock run NAME [options] -- COMMAND [ARGS...]`: COMMAND runs while dlock holds the lock.
//
// Everything happens on one io_context in one thread: the lock (acquire, auto-renewal,
// release), the signals (SIGCHLD to reap COMMAND, SIGINT/SIGTERM/SIGHUP to forward to it) and
// the grace timer that escalates SIGTERM to SIGKILL when the lock is lost. There is no thread
// and no shared state to protect, so the order of events is the order of handlers.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <memory>

#include "child.hpp"
#include "client_args.hpp"
#include "commands.hpp"
#include "dlock/lock.hpp"
#include "exit_codes.hpp"
#include "help_text.hpp"
#include "integer_arg.hpp"
#include "interrupted_wait.hpp"
#include "lease_locks.hpp"
#include "lock_args.hpp"
#include "seconds_arg.hpp"
#include "servers.hpp"
#include "status_text.hpp"

namespace dlock::cli {

namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

struct RunArgs {
    LockArgs lock;
    bool progress = false;  // --progress: say what we wait for even when stderr is no terminal
    std::string shell;      // -c TEXT
    std::string kill_after = "5";
    std::size_t permits = 0;  // --permits N: one of N permits (a semaphore)
    bool shared = false;      // -s: a shared (read) hold; -x, the default, exclusive
    bool exclusive = false;
    ConnectionArgs connection;
};

// The state of COMMAND, shared by the main coroutine, the signal watcher and the lost-lock
// handler.
struct Child {
    explicit Child(const asio::any_io_executor& executor)
        : signals(executor),
          exited(executor, asio::steady_timer::time_point::max()),
          kill_timer(executor) {}

    asio::signal_set signals;
    asio::steady_timer exited;      // cancelled once COMMAND has been reaped
    asio::steady_timer kill_timer;  // SIGKILL when COMMAND outlives the grace period
    pid_t pid = -1;                 // -1 until COMMAND is started
    WaitInterruption waiting{exited.get_executor()};  // a signal before COMMAND started
    bool reaped = false;
    int wait_status = 0;
    bool lock_lost = false;  // lost while COMMAND ran
};

asio::awaitable<void> watch_signals(std::shared_ptr<Child> child) {
    for (;;) {
        auto [error, signal_number] = co_await child->signals.async_wait(use_tuple);
        if (error) co_return;
        if (signal_number == SIGCHLD) {
            if (child->pid <= 0) continue;
            int status = 0;
            pid_t reaped = 0;
            do {
                reaped = ::waitpid(child->pid, &status, WNOHANG);
            } while (reaped < 0 && errno == EINTR);
            if (reaped == child->pid) {
                child->reaped = true;
                child->wait_status = status;
                child->exited.cancel();
                co_return;
            }
            continue;
        }
        if (child->pid <= 0) {
            interrupt_wait(child->waiting, signal_number);
            continue;
        }
        ::kill(child->pid, signal_number);
    }
}

// While `run` waits for the lock: once a second, what it waits for ("held by host:pid for
// 12 s, 2 ahead of you"), from dlock::inspect on its own lock-free look (the waiting Lock is
// busy acquiring). On a terminal the line is rewritten in place and erased at the end.
struct Progress {
    explicit Progress(const asio::any_io_executor& executor) : tick(executor) {}
    asio::steady_timer tick;
    bool done = false;
    bool printed = false;
};

asio::awaitable<void> report_progress(Servers& servers, std::string name,
                                      std::shared_ptr<Progress> progress, bool terminal) {
    for (;;) {
        progress->tick.expires_after(std::chrono::seconds(1));
        co_await progress->tick.async_wait(use_tuple);
        if (progress->done) co_return;
        LockInspection seen;
        try {
            seen = co_await servers.inspect(name);
        } catch (const Error&) {
            continue;  // the waiting acquire reports outages itself
        }
        if (progress->done) co_return;
        std::string line = "dlock: waiting for lock " + name + ": ";
        if (seen.semaphore || seen.read_write) {
            line += describe(seen, true);  // their own waiters are counted in it
        } else {
            line += seen.held ? "held by " + describe_holder(seen) : "free, taking it";
        }
        if (!servers.is_redlock() && !seen.semaphore && !seen.read_write) {
            // Our own process is one of the queued ones.
            const std::size_t ahead = seen.waiting > 0 ? seen.waiting - 1 : 0;
            line += ", " + std::to_string(ahead) + " ahead of you";
        }
        if (terminal) {
            std::cerr << '\r' << line << "\033[K" << std::flush;
        } else {
            std::cerr << line << '\n';
        }
        progress->printed = true;
    }
}

void end_progress(Progress& progress, bool terminal) {
    progress.done = true;
    progress.tick.cancel();
    if (terminal && progress.printed) std::cerr << "\r\033[K" << std::flush;
}

// Called by the lock's auto-renewal when the key is gone (deleted, expired while Redis was
// unreachable, or taken over): COMMAND no longer runs under the lock and must stop.
void on_lock_lost(const std::shared_ptr<Child>& child, const std::string& name,
                  const std::string& command, Seconds kill_after) {
    if (child->pid <= 0 || child->reaped || child->lock_lost) return;
    child->lock_lost = true;
    std::cerr << "dlock: lock " << name << " lost while " << command << " was running\n";
    ::kill(child->pid, SIGTERM);
    child->kill_timer.expires_after(
        std::chrono::duration_cast<std::chrono::milliseconds>(kill_after));
    child->kill_timer.async_wait([child](std::error_code error) {
        if (!error && !child->reaped) ::kill(child->pid, SIGKILL);
    });
}

int run(const RunArgs& args, const std::vector<std::string>& command) {
    LockOptions options = to_lock_options(args.lock);
    const Seconds kill_after = parse_seconds(args.kill_after, "--kill-after", true);
    options.auto_renew = true;
    options.renew_interval = *options.timeout / 3;
    const std::string name = args.lock.name;
    const std::string command_text = describe_command(command);
    const WaitPolicy wait{.blocking = options.blocking,
                          .blocking_timeout = options.blocking_timeout};

    return run_with_servers(args.connection, [&](Servers& servers) -> asio::awaitable<int> {
        const auto executor = co_await asio::this_coro::executor;
        auto child = std::make_shared<Child>(executor);
        // Registered before COMMAND starts, so its SIGCHLD cannot be missed.
        child->signals.add(SIGCHLD);
        child->signals.add(SIGINT);
        child->signals.add(SIGTERM);
        child->signals.add(SIGHUP);
        asio::co_spawn(executor, watch_signals(child), asio::detached);

        LockOptions lock_options = options;
        lock_options.on_lost = [child, name, command_text, kill_after] {
            on_lock_lost(child, name, command_text, kill_after);
        };
        std::unique_ptr<CliLock> lock;
        if (args.permits > 0 || args.shared || args.exclusive) {
            if (!servers.client()) {
                throw UsageError("--permits, -s and -x need one server or a cluster, not Redlock");
            }
            lock = make_lease_lock(*servers.client(), name, args.permits, !args.exclusive,
                                   lock_options);
        } else {
            lock = servers.make_lock(name, lock_options);
        }
        const bool terminal = ::isatty(STDERR_FILENO) == 1;
        auto progress = std::make_shared<Progress>(executor);
        if (wait.blocking && (terminal || args.progress)) {
            asio::co_spawn(executor, report_progress(servers, name, progress, terminal),
                           asio::detached);
        }
        const bool acquired =
            co_await acquire_unless_interrupted(servers, *lock, name, wait, child->waiting);
        end_progress(*progress, terminal);
        if (!acquired) {
            co_await let_the_queue_entry_go(servers, name);
            co_return report_conflict(args.lock);
        }

        std::vector<std::pair<std::string, std::string>> env{{"DLOCK_NAME", name},
                                                             {"DLOCK_TOKEN", *lock->token()}};
        if (lock->fence()) env.emplace_back("DLOCK_FENCE", std::to_string(*lock->fence()));
        // dlock's own secret is not COMMAND's business.
        const pid_t pid = spawn_child(command, env, {"DLOCK_PASSWORD"});
        if (pid < 0) {
            std::cerr << "dlock: cannot run " << command.front() << ": " << std::strerror(-pid)
                      << '\n';
            try {
                co_await lock->release();
            } catch (const Error&) {
                // The key expires by itself; the message above is the one that matters.
            }
            co_return -pid == ENOENT ? exit_code::not_found : exit_code::cannot_execute;
        }
        child->pid = pid;

        co_await child->exited.async_wait(use_tuple);
        child->kill_timer.cancel();
        const int status = exit_status_of(child->wait_status);
        if (child->lock_lost) co_return exit_code::lost;
        // Redis may be away for a moment just now: retry for a while (at most the lock's life,
        // after which there is nothing left to release), so the next `-n` run is not refused.
        const Seconds bound = std::min(*options.timeout, Seconds(10));
        try {
            co_await release_with_retries(*lock, bound);
        } catch (const LockReleaseError&) {
            // Gone before the renewal noticed: COMMAND may not have run alone all along.
            std::cerr << "dlock: lock " << name << " lost while " << command_text
                      << " was running\n";
            co_return exit_code::lost;
        } catch (const Error& error) {
            std::cerr << "dlock: could not release lock " << name << " (it expires within "
                      << args.lock.ttl << " s): " << error.what() << '\n';
            // COMMAND's own failure matters more; a success is reported as a failed release.
            co_return status == 0 ? exit_code::release_failed : status;
        }
        co_return status;
    });
}

// CLI11 cannot express "options, NAME, then COMMAND..." in its usage line: say it ourselves.
class RunUsage : public CLI::Formatter {
  public:
    std::string make_usage(const CLI::App*, std::string) const override {
        return "Usage: dlock run [OPTIONS] NAME [--] COMMAND [ARGS...]\n"
               "       dlock run [OPTIONS] NAME -c 'SHELL COMMAND'\n";
    }
};

}  // namespace

void add_run_command(CLI::App& dlock, Action& action, std::vector<std::string>& command) {
    auto args = std::make_shared<RunArgs>();
    CLI::App* run_command = dlock.add_subcommand("run", help::run_description);
    add_lock_args(*run_command, args->lock);
    run_command
        ->add_option("-c,--command", args->shell,
                     "Run TEXT with `sh -c` (as flock -c), instead of COMMAND [ARGS...]")
        ->type_name("TEXT");
    run_command->add_flag("--progress", args->progress,
                          "While waiting, say once a second who holds the lock (default: only "
                          "when stderr is a terminal)");
    run_command
        ->add_option("--kill-after", args->kill_after,
                     "When the lock is lost, SIGKILL COMMAND this long after SIGTERM (default 5)")
        ->type_name("SEC");
    add_integer_option(*run_command, "--permits", args->permits,
                       "Take one of N permits of semaphore NAME: at most N commands at once",
                       "--permits", 1, 1000000);
    run_command->add_flag("-s,--shared", args->shared,
                          "A shared (read) hold, as flock -s: many at once, none with an "
                          "exclusive one");
    run_command->add_flag("-x,--exclusive", args->exclusive,
                          "The writer of read/write lock NAME, as flock -x: waits for -s "
                          "holders to leave (so does a plain lock without -s/-x)");
    add_connection_options(*run_command, args->connection);
    run_command->formatter(std::make_shared<RunUsage>());
    run_command->footer(help::run_footer);
    run_command->callback([args, &action, &command] {
        if (args->shared && args->exclusive) throw UsageError("-s and -x exclude each other");
        if ((args->shared || args->exclusive) && args->permits > 0)
            throw UsageError("-s/-x and --permits exclude each other");
        // Permits and read/write holds are leases with no holder record: a label would be
        // dropped without a word.
        if ((args->shared || args->exclusive || args->permits > 0) && !args->lock.label.empty())
            throw UsageError(
                "--label needs a plain lock: -s, -x and --permits keep no holder "
                "record (dlock status shows their leases)");
        if (!args->shell.empty()) {
            if (!command.empty())
                throw UsageError("-c TEXT and COMMAND exclude each other (-c runs TEXT with sh)");
            command = {"sh", "-c", args->shell};
        }
        if (command.empty())
            throw UsageError("missing COMMAND (dlock run NAME COMMAND [ARGS...], or -c TEXT)");
        action = [args, &command] { return run(*args, command); };
    });
}

}  // namespace dlock::cli
