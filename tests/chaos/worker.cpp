// dlock_chaos_worker: one process of the chaos workload. T tasks (coroutines on one thread)
// take locks named <prefix>:0..names-1 and, inside each critical section, write twice to a
// fenced resource on a separate server (never faulted), logging everything (history.hpp).
//
//   dlock_chaos_worker --log FILE (--url U | --cluster U1,U2.. | --redlock U1,U2..)
//       [--kind lock|semaphore|rwlock] [--permits 3] [--write-every 4]
//       [--resource-url U] [--prefix P] [--names N] [--tasks T] [--ops N] [--duration-ms D]
//       [--ttl-ms 1000] [--hold-ms 1] [--blocking-timeout-ms 2000] [--command-timeout-ms 500]
//       [--sleep-ms 50] [--broken lock|fence|permits|shared]
//
// --kind semaphore takes permits of a Semaphore of --permits; --kind rwlock a ReadWriteLock,
// exclusively in one acquisition of --write-every (chosen at random), shared otherwise.
// Exclusive holders write the fenced resource; shared ones (whose fences, where they have
// any, are not one sequence a single resource can order) only mark themselves in
// chaos-holder:<name>, for the driver to find a holder's pid.
//
// --broken deliberately breaks safety, to prove the checker sees it: `lock` gives every task a
// lock of its own (no exclusion at all), `fence` writes with a plain SET (no fence check),
// `permits` builds the Semaphore with one permit more than it logs, `shared` has the
// ReadWriteLock's writers take it shared (logged as exclusive).

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <dlock/errors.hpp>
#include <dlock/fencing.hpp>
#include <dlock/lock.hpp>
#include <dlock/read_write_lock.hpp>
#include <dlock/redis.hpp>
#include <dlock/redis_cluster.hpp>
#include <dlock/redlock.hpp>
#include <dlock/semaphore.hpp>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "error_type.hpp"
#include "history.hpp"
#include "serve.hpp"

namespace dlock::chaos {
namespace {

using std::chrono::milliseconds;

std::vector<ConnectionOptions> parse_urls(const std::string& list, milliseconds timeout) {
    std::vector<ConnectionOptions> out;
    std::stringstream in(list);
    for (std::string url; std::getline(in, url, ',');) {
        if (url.empty()) continue;
        ConnectionOptions options = parse_url(url);
        // Connecting is bounded like a command, so a black-holed server costs one deadline.
        options.connect_timeout = timeout;
        options.command_timeout = timeout;
        out.push_back(std::move(options));
    }
    return out;
}

struct Config {
    std::string prefix;
    long names, tasks, ops;
    std::int64_t end_ns;  // stop starting new acquisitions after this (0: no time limit)
    milliseconds ttl, hold, blocking_timeout, command_timeout, sleep;
    std::string kind;
    long permits, write_every;
    std::string broken;
};

class Worker {
  public:
    Worker(asio::io_context& io, const Args& args)
        : io_(io), log_(args.str("log", "/dev/stdout")), pid_(getpid()) {
        config_.prefix = args.str("prefix", "chaos");
        config_.names = args.num("names", 1);
        config_.tasks = args.num("tasks", 4);
        config_.ops = args.num("ops", 100);
        const long duration = args.num("duration-ms", 0);
        config_.end_ns = duration > 0 ? now_ns() + duration * 1'000'000 : 0;
        config_.ttl = milliseconds(args.num("ttl-ms", 1000));
        config_.hold = milliseconds(args.num("hold-ms", 1));
        config_.blocking_timeout = milliseconds(args.num("blocking-timeout-ms", 2000));
        config_.command_timeout = milliseconds(args.num("command-timeout-ms", 500));
        config_.sleep = milliseconds(args.num("sleep-ms", 50));
        config_.kind = args.str("kind", "lock");
        config_.permits = args.num("permits", 3);
        config_.write_every = std::max(1L, args.num("write-every", 4));
        config_.broken = args.str("broken");
        if (config_.kind != "lock" && config_.kind != "semaphore" && config_.kind != "rwlock")
            throw std::invalid_argument("--kind: lock, semaphore or rwlock");
        const auto ex = io.get_executor();
        if (args.flag("url")) {
            lock_client_ = std::make_unique<Redis>(
                ex, parse_urls(args.str("url"), config_.command_timeout).at(0));
        } else if (args.flag("cluster")) {
            lock_client_ = std::make_unique<RedisCluster>(
                ex, parse_urls(args.str("cluster"), config_.command_timeout));
        } else if (args.flag("redlock") && config_.kind == "lock") {
            redlock_ = std::make_unique<Redlock>(
                ex, parse_urls(args.str("redlock"), config_.command_timeout));
        } else {
            throw std::invalid_argument(
                "one of --url, --cluster, --redlock (with --kind lock) is needed");
        }
        if (args.flag("resource-url")) {
            resource_ = std::make_unique<Redis>(
                ex, parse_urls(args.str("resource-url"), config_.command_timeout).at(0));
        }
        // What the checker calls a hang: an operation that took longer than any deadline it
        // was given allows (plus scheduling slack on a loaded 2-core box).
        const auto ns = [](milliseconds m) { return static_cast<long long>(m.count()) * 1000000; };
        const long long slack = 1'000'000'000;
        // How many shared holders of a name may overlap: a semaphore's permits, any number of
        // readers (0); a Lock has no shared holders (1).
        const long permits = config_.kind == "semaphore" ? config_.permits
                             : config_.kind == "rwlock"  ? 0
                                                         : 1;
        log_.line("P %d %lld %lld %lld %ld", pid_, ns(config_.ttl),
                  ns(config_.blocking_timeout) + 2 * ns(config_.command_timeout) + slack,
                  2 * ns(config_.command_timeout) + slack, permits);
    }

    void start() {
        running_ = config_.tasks;  // the last task to end stops io_
        for (long t = 0; t < config_.tasks; ++t) {
            asio::co_spawn(io_, run_task(t), asio::detached);
        }
    }

  private:
    bool more() {
        if (config_.end_ns != 0 && now_ns() >= config_.end_ns) return false;
        return started_++ < config_.ops;
    }

    asio::awaitable<void> pause(milliseconds duration) {
        asio::steady_timer timer(io_, duration);
        co_await timer.async_wait(asio::use_awaitable);
    }

    LockOptions lock_options() const {
        LockOptions o;
        o.timeout = config_.ttl;
        o.sleep = std::min(config_.sleep, config_.ttl);
        o.blocking = true;
        o.blocking_timeout = config_.blocking_timeout;
        o.fencing = true;
        o.command_timeout = config_.command_timeout;
        return o;
    }

    RedlockOptions redlock_options() const {
        RedlockOptions o;
        o.timeout = config_.ttl;
        o.blocking_timeout = config_.blocking_timeout;
        o.retry_delay = config_.sleep;
        return o;
    }

    asio::awaitable<void> run_task(long task) {
        const std::string holder = std::to_string(pid_) + "/" + std::to_string(task);
        std::mt19937 random(static_cast<unsigned>(pid_ * 1000 + task));
        while (more()) {
            const std::string name =
                config_.prefix + ":" + std::to_string(random() % config_.names);
            // --broken lock: a lock name of its own, so nothing excludes anybody.
            const std::string lock_name = config_.broken == "lock" ? name + ":" + holder : name;
            if (redlock_) {
                RedlockLock lock(*redlock_, lock_name, redlock_options());
                co_await section(lock, name, holder, false);
            } else if (config_.kind == "semaphore") {
                // --broken permits: one more than the history says.
                const auto permits =
                    static_cast<std::size_t>(config_.permits + (config_.broken == "permits"));
                Semaphore semaphore(*lock_client_, lock_name, permits, lock_options());
                co_await section(semaphore, name, holder, true);
            } else if (config_.kind == "rwlock") {
                ReadWriteLock rw(*lock_client_, lock_name, lock_options());
                const bool writer = random() % static_cast<unsigned>(config_.write_every) == 0;
                co_await section(rw, name, holder, !writer);
            } else {
                Lock lock(*lock_client_, lock_name, lock_options());
                co_await section(lock, name, holder, false);
            }
        }
        if (--running_ == 0) io_.stop();
    }

    // One acquisition, and if it succeeded the critical section and the release. `shared`: a
    // Semaphore's permit or a ReadWriteLock's reader.
    template <class AnyLock>
    asio::awaitable<void> section(AnyLock& lock, const std::string& name, const std::string& holder,
                                  bool shared) {
        const char* h = holder.c_str();
        const char* n = name.c_str();
        log_.line("B %s acquire %lld", h, now_ns());
        const std::int64_t t_acq = now_ns();
        bool held = false;
        std::string result = "no";
        try {
            if constexpr (std::is_same_v<AnyLock, ReadWriteLock>) {
                // --broken shared: the writer goes in as a reader.
                held = shared || config_.broken == "shared" ? co_await lock.acquire_shared()
                                                            : co_await lock.acquire();
            } else {
                held = co_await lock.acquire();
            }
            if (held) result = "ok";
        } catch (...) {
            result = error_type(std::current_exception());
        }
        log_.line("A %s %s %lld %lld %s", h, n, t_acq, now_ns(), result.c_str());
        if (!held) {
            // After an error, do not spin: the server may be down for a while.
            if (result != "no") co_await pause(milliseconds(20));
            co_return;
        }
        std::int64_t fence = 0;
        if constexpr (!std::is_same_v<AnyLock, RedlockLock>) fence = lock.fence().value_or(0);
        log_.line("S %s %s %lld %lld %lld %s", n, h, fence, t_acq, now_ns(), shared ? "s" : "x");
        if (config_.kind != "lock") co_await mark(name, holder);
        if (!shared) co_await write(name, holder, fence);
        if (config_.hold.count() > 0) co_await pause(config_.hold);
        if (!shared) co_await write(name, holder, fence);
        log_.line("X %s %s %lld %lld", n, h, fence, now_ns());
        // A release that failed on the network keeps the token: retry a few times.
        for (int attempt = 0; attempt < 3; ++attempt) {
            log_.line("B %s release %lld", h, now_ns());
            const std::int64_t t0 = now_ns();
            std::string outcome = "ok";
            bool retry = false;
            try {
                co_await lock.release();
            } catch (const ConnectionError&) {
                outcome = "ConnectionError";
                retry = true;
            } catch (const TimeoutError&) {
                outcome = "TimeoutError";
                retry = true;
            } catch (...) {
                outcome = error_type(std::current_exception());
            }
            log_.line("R %s %s %lld %lld %s", h, n, t0, now_ns(), outcome.c_str());
            if (!retry) break;
        }
    }

    // Who is inside, for the driver (unfenced, not in the history: the checker judges sections).
    asio::awaitable<void> mark(const std::string& name, const std::string& holder) {
        if (!resource_) co_return;
        try {
            co_await resource_->command("SET", "chaos-holder:" + name,
                                        std::to_string(pid_) + " " + holder);
        } catch (const Error&) {
            // The resource server is never faulted; a failed mark only hides this holder.
        }
    }

    asio::awaitable<void> write(const std::string& name, const std::string& holder,
                                std::int64_t fence) {
        if (!resource_ || redlock_) co_return;
        const std::string key = "chaos-resource:" + name;
        // The value names the writer, so the driver can find the holder's pid to stop it.
        const std::string value = std::to_string(pid_) + " " + holder + " " + std::to_string(fence);
        log_.line("B %s write %lld", holder.c_str(), now_ns());
        const std::int64_t t0 = now_ns();
        std::string result;
        try {
            if (config_.broken == "fence") {
                co_await resource_->command("SET", key, value);
                result = "ok";
            } else {
                const bool written =
                    co_await fenced_write(*resource_, key, fence, value, config_.command_timeout);
                result = written ? "ok" : "stale";
            }
        } catch (...) {
            result = error_type(std::current_exception());
        }
        log_.line("W %s %s %lld %lld %lld %s", name.c_str(), holder.c_str(), fence, t0, now_ns(),
                  result.c_str());
    }

    asio::io_context& io_;
    HistoryFile log_;
    int pid_;
    Config config_{};
    std::unique_ptr<Client> lock_client_;
    std::unique_ptr<Redlock> redlock_;
    std::unique_ptr<Redis> resource_;
    long started_ = 0;
    long running_ = 0;
};

}  // namespace
}  // namespace dlock::chaos

int main(int argc, char** argv) {
    return dlock::chaos::serve<dlock::chaos::Worker>("dlock_chaos_worker", argc, argv);
}
