#include "servers.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <charconv>
#include <chrono>
#include <exception>
#include <iostream>
#include <map>
#include <set>
#include <vector>

#include "dlock/errors.hpp"
#include "dlock/redis.hpp"
#include "dlock/redis_cluster.hpp"
#include "dlock/redis_sentinel.hpp"
#include "dlock/redlock.hpp"
#include "exit_codes.hpp"

namespace dlock::cli {

namespace {

// The port of a cluster node's "host:port" (from the servers, so a bad one is a protocol error),
// read as decimal: std::stoi would take "6379x" as 6379 and throw a bare "stoi" on "x".
std::uint16_t port_of(const std::string& endpoint, std::size_t colon) {
    unsigned port = 0;
    const char* const end = endpoint.data() + endpoint.size();
    const char* const first = colon == std::string::npos ? end : endpoint.data() + colon + 1;
    const auto [stop, error] = std::from_chars(first, end, port, 10);
    if (first == end || stop != end || error != std::errc() || port == 0 || port > 65535)
        throw ProtocolError("the cluster named node '" + endpoint + "', which has no valid port");
    return static_cast<std::uint16_t>(port);
}

using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
using Command = std::function<asio::awaitable<Reply>(std::vector<std::string>)>;

asio::awaitable<void> sleep_for(Seconds time) {
    asio::steady_timer timer(co_await asio::this_coro::executor,
                             std::chrono::duration_cast<Clock::duration>(time));
    co_await timer.async_wait(use_tuple);
}

// ---- one server or a cluster: dlock::Lock ---------------------------------------------------

class SingleLock : public CliLock {
  public:
    SingleLock(Client& client, Command command, const std::string& name, const LockOptions& options)
        : lock_(client, name, options), command_(std::move(command)) {}

    asio::awaitable<bool> acquire(WaitPolicy wait) override { return lock_.acquire(wait); }
    asio::awaitable<void> release() override { return lock_.release(); }
    asio::awaitable<bool> extend(Seconds time, ExtendMode mode) override {
        return lock_.extend(time, mode);
    }
    void adopt(std::string token) override { lock_.adopt(std::move(token)); }
    std::optional<std::string> token() const override { return lock_.token(); }
    std::optional<std::int64_t> fence() const override { return lock_.fence(); }
    asio::awaitable<LockTtl> ttl() override { return lock_.ttl(); }
    asio::awaitable<std::optional<std::size_t>> waiting() override {
        co_return co_await lock_.waiting();
    }
    asio::awaitable<std::optional<std::string>> holder_token() override {
        std::vector<std::string> get{"GET", lock_.name()};
        const Reply reply = co_await command_(std::move(get));
        if (!reply.is_string()) co_return std::nullopt;
        co_return reply.str;
    }

  private:
    Lock lock_;
    Command command_;
};

// Built outside the coroutine: GCC 12 cannot keep a braced list's array in a coroutine frame.
std::vector<std::string> scan_command(const std::string& cursor) {
    return {"SCAN", cursor, "MATCH", "dlock:*", "COUNT", "1000"};
}

// The names of dlock's locks on one server whose names match `pattern` (SCAN, so the server is
// never blocked for long), added to `names`.
asio::awaitable<void> scan_lock_names(const Command& command, const std::string& pattern,
                                      std::set<std::string>& names) {
    std::string cursor = "0";
    do {
        const Reply reply = co_await command(scan_command(cursor));
        if (!reply.is_array() || reply.elements.size() != 2 || !reply.elements[1].is_array())
            throw ProtocolError("unexpected reply to SCAN: " + reply.to_string());
        cursor = reply.elements[0].str;
        for (const Reply& key : reply.elements[1].elements) {
            const std::optional<std::string> name = lock_name_of_key(key.str);
            if (name && ::fnmatch(pattern.c_str(), name->c_str(), 0) == 0) names.insert(*name);
        }
    } while (cursor != "0");
}

std::vector<std::string> info_cluster_command() {
    return {"INFO", "cluster"};
}

// `dlock list` on one node of a Redis Cluster without --cluster would scan that node only and
// quietly miss the locks on the others: refused, saying what to add. (A server that does not
// let us ask is scanned as it is.)
asio::awaitable<void> refuse_a_lone_cluster_node(const Command& command) {
    Reply info;
    try {
        info = co_await command(info_cluster_command());
    } catch (const ServerError&) {
        co_return;
    }
    if (info.is_string() && info.str.find("cluster_enabled:1") != std::string::npos) {
        throw UsageError(
            "this server is a node of a Redis Cluster: add --cluster to list the "
            "locks on all its nodes");
    }
}

asio::awaitable<std::vector<std::string>> scan_servers(
    asio::any_io_executor executor, const std::vector<ConnectionOptions>& servers,
    const std::string& pattern) {
    std::set<std::string> names;
    for (const ConnectionOptions& options : servers) {
        Redis server(executor, options);
        co_await scan_lock_names(
            [&server](std::vector<std::string> command) {
                return server.command(std::move(command));
            },
            pattern, names);
    }
    co_return std::vector<std::string>(names.begin(), names.end());
}

class SingleServers : public Servers {
  public:
    SingleServers(std::unique_ptr<Client> client, Command command,
                  std::vector<ConnectionOptions> scan, RedisCluster* cluster)
        : client_(std::move(client)),
          command_(std::move(command)),
          scan_(std::move(scan)),
          cluster_(cluster) {}
    std::unique_ptr<CliLock> make_lock(const std::string& name,
                                       const LockOptions& options) override {
        return std::make_unique<SingleLock>(*client_, command_, name, options);
    }
    bool is_redlock() const override { return false; }
    asio::awaitable<LockInspection> inspect(const std::string& name) override {
        return dlock::inspect(*client_, name);
    }
    asio::awaitable<std::vector<std::string>> list(const std::string& pattern) override {
        std::vector<ConnectionOptions> servers = scan_;
        if (cluster_) {
            // Every primary, with the seed's credentials and TLS settings.
            co_await cluster_->refresh();
            servers.clear();
            for (const std::string& endpoint : cluster_->primaries()) {
                ConnectionOptions node = cluster_->seed_options();
                const auto colon = endpoint.rfind(':');
                node.host = endpoint.substr(0, colon);
                node.port = port_of(endpoint, colon);
                servers.push_back(std::move(node));
            }
        }
        if (servers.empty()) {
            // A primary found through Sentinel: scanned through the client itself.
            std::set<std::string> names;
            co_await scan_lock_names(command_, pattern, names);
            co_return std::vector<std::string>(names.begin(), names.end());
        }
        if (!cluster_) co_await refuse_a_lone_cluster_node(command_);
        co_return co_await scan_servers(client_->get_executor(), servers, pattern);
    }
    Client* client() override { return client_.get(); }

  private:
    std::unique_ptr<Client> client_;
    Command command_;
    std::vector<ConnectionOptions> scan_;  // the one server (empty for a cluster or Sentinel)
    RedisCluster* cluster_;                // owned by client_, or null
};

// ---- several independent primaries: dlock::RedlockLock -------------------------------------

// RedlockLock has no auto-renewal: `dlock run` needs one, so it is here. Every renew_interval
// the lock's TTL is set back to its full life on the nodes; a failed renewal is retried at the
// next tick while the last measured validity lasts, and the lock counts as lost once it is over.
struct Renewal {
    explicit Renewal(const asio::any_io_executor& executor)
        : tick(executor), finished(executor, Clock::time_point::max()) {}
    asio::steady_timer tick;
    asio::steady_timer finished;  // cancelled when the loop has ended
    bool stop = false;
    bool running = false;
};

class RedlockCliLock : public CliLock {
  public:
    RedlockCliLock(Redlock& group, const std::string& name, const LockOptions& options)
        : group_(group), lock_(group, name, to_redlock_options(options)), options_(options) {}
    ~RedlockCliLock() override {
        if (renewal_) {
            renewal_->stop = true;
            renewal_->tick.cancel();
        }
    }

    asio::awaitable<bool> acquire(WaitPolicy wait) override {
        const bool acquired = co_await lock_.acquire(wait);
        if (acquired && options_.auto_renew) {
            renewal_ = std::make_shared<Renewal>(group_.get_executor());
            renewal_->running = true;
            asio::co_spawn(group_.get_executor(), renew(renewal_), asio::detached);
        }
        co_return acquired;
    }
    asio::awaitable<void> release() override {
        co_await stop_renewal();
        co_await lock_.release();
    }
    asio::awaitable<bool> extend(Seconds time, ExtendMode mode) override {
        return lock_.extend(time, mode);
    }
    void adopt(std::string token) override { lock_.adopt(std::move(token)); }
    std::optional<std::string> token() const override { return lock_.token(); }
    std::optional<std::int64_t> fence() const override { return std::nullopt; }

    // Held when a quorum of nodes have the key; the TTL is the shortest among them.
    asio::awaitable<LockTtl> ttl() override {
        const auto results = co_await on_all("PTTL");
        std::size_t have = 0;
        std::optional<long long> shortest;
        bool no_expiry = false;
        for (const auto& result : results) {
            if (!result.reply || !result.reply->is_integer() || result.reply->integer == -2)
                continue;
            ++have;
            if (result.reply->integer == -1) {
                no_expiry = true;
            } else {
                shortest =
                    std::min(shortest.value_or(result.reply->integer), result.reply->integer);
            }
        }
        LockTtl out;
        out.held = have >= group_.quorum();
        if (out.held && shortest && !no_expiry)
            out.remaining =
                std::chrono::duration_cast<Seconds>(std::chrono::milliseconds(*shortest));
        co_return out;
    }
    asio::awaitable<std::optional<std::size_t>> waiting() override { co_return std::nullopt; }
    // The token a quorum of nodes agree on.
    asio::awaitable<std::optional<std::string>> holder_token() override {
        const auto results = co_await on_all("GET");
        std::map<std::string, std::size_t> votes;
        for (const auto& result : results) {
            if (result.reply && result.reply->is_string()) ++votes[result.reply->str];
        }
        for (const auto& [token, count] : votes) {
            if (count >= group_.quorum()) co_return token;
        }
        co_return std::nullopt;
    }

  private:
    static RedlockOptions to_redlock_options(const LockOptions& options) {
        RedlockOptions out;
        out.timeout = options.timeout;
        out.blocking = options.blocking;
        out.blocking_timeout = options.blocking_timeout;
        out.retry_delay = std::max(options.sleep, Seconds(0.01));
        return out;
    }

    // `VERB name` on every node. Not a coroutine (GCC 12 mishandles by-value coroutine
    // parameters captured by a lambda): the call is built before anything is suspended.
    asio::awaitable<std::vector<Redlock::NodeResult>> on_all(const char* verb) {
        const Seconds bound = std::max(lock_.options().node_timeout, Seconds(1));
        return group_.on_all_nodes(
            [verb = std::string(verb), name = lock_.name(), bound](Redis& node) {
                return node.command(std::vector<std::string>{verb, name}, bound);
            });
    }

    asio::awaitable<void> renew(std::shared_ptr<Renewal> renewal) {
        const Seconds interval = options_.renew_interval.value_or(*options_.timeout / 3);
        for (;;) {
            renewal->tick.expires_after(std::chrono::duration_cast<Clock::duration>(interval));
            co_await renewal->tick.async_wait(use_tuple);
            if (renewal->stop) break;  // `this` may be gone: touch nothing but `renewal`
            bool renewed = false;
            try {
                renewed = co_await lock_.extend(*options_.timeout, ExtendMode::replace);
            } catch (const Error&) {
            }
            if (renewal->stop) break;
            if (!renewed &&
                Clock::now() >= lock_.validity_start() +
                                    std::chrono::duration_cast<Clock::duration>(lock_.validity())) {
                lost_ = true;
                renewal->running = false;
                renewal->finished.cancel();
                if (options_.on_lost) options_.on_lost();
                co_return;
            }
        }
        renewal->running = false;
        renewal->finished.cancel();
    }

    asio::awaitable<void> stop_renewal() {
        if (!renewal_) co_return;
        auto renewal = std::move(renewal_);
        renewal->stop = true;
        renewal->tick.cancel();
        if (renewal->running) co_await renewal->finished.async_wait(use_tuple);
    }

    Redlock& group_;
    RedlockLock lock_;
    LockOptions options_;
    std::shared_ptr<Renewal> renewal_;
    bool lost_ = false;
};

class RedlockServers : public Servers {
  public:
    RedlockServers(asio::any_io_executor executor, std::vector<ConnectionOptions> nodes)
        : nodes_(nodes), group_(std::move(executor), std::move(nodes)) {}
    std::unique_ptr<CliLock> make_lock(const std::string& name,
                                       const LockOptions& options) override {
        return std::make_unique<RedlockCliLock>(group_, name, options);
    }
    bool is_redlock() const override { return true; }
    asio::awaitable<LockInspection> inspect(const std::string& name) override {
        // A lock object of its own, so an acquisition in progress is not disturbed.
        RedlockCliLock lock(group_, name, {.timeout = Seconds(30)});
        const LockTtl ttl = co_await lock.ttl();
        LockInspection out;
        out.held = ttl.held;
        if (out.held) out.held_as = HeldAs::lock;  // only Locks run on Redlock
        out.ttl = ttl.remaining;
        co_return out;
    }
    asio::awaitable<std::vector<std::string>> list(const std::string& pattern) override {
        return scan_servers(group_.get_executor(), nodes_, pattern);
    }

  private:
    std::vector<ConnectionOptions> nodes_;
    Redlock group_;
};

std::unique_ptr<Servers> make_servers(asio::any_io_executor executor, const ConnectionArgs& args) {
    if (auto sentinel = resolve_sentinel(args)) {
        auto redis = std::make_unique<RedisSentinel>(executor, std::move(*sentinel));
        RedisSentinel* raw = redis.get();
        return std::make_unique<SingleServers>(
            std::move(redis),
            [raw](std::vector<std::string> command) { return raw->command(std::move(command)); },
            std::vector<ConnectionOptions>{}, nullptr);
    }
    std::vector<ConnectionOptions> servers = resolve_servers(args);
    if (args.cluster) {
        auto cluster = std::make_unique<RedisCluster>(executor, std::move(servers));
        RedisCluster* raw = cluster.get();
        return std::make_unique<SingleServers>(
            std::move(cluster),
            [raw](std::vector<std::string> command) { return raw->command(std::move(command)); },
            std::vector<ConnectionOptions>{}, raw);
    }
    if (servers.size() > 1) return std::make_unique<RedlockServers>(executor, std::move(servers));
    auto redis = std::make_unique<Redis>(executor, servers.front());
    Redis* raw = redis.get();
    return std::make_unique<SingleServers>(
        std::move(redis),
        [raw](std::vector<std::string> command) { return raw->command(std::move(command)); },
        std::move(servers), nullptr);
}

bool is_outage(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const ConnectionError&) {
        return true;
    } catch (const TimeoutError&) {
        return true;
    } catch (...) {
        return false;
    }
}

}  // namespace

int run_with_servers(const ConnectionArgs& args,
                     const std::function<asio::awaitable<int>(Servers&)>& body) {
    asio::io_context io;
    std::unique_ptr<Servers> servers = make_servers(io.get_executor(), args);
    int code = 70;
    std::exception_ptr failure;
    // The clients' connections keep reader coroutines pending: stop the loop as soon as the
    // body is done instead of waiting for them.
    asio::co_spawn(io, body(*servers), [&](std::exception_ptr error, int result) {
        failure = error;
        code = result;
        io.stop();
    });
    io.run();
    servers.reset();
    if (failure) std::rethrow_exception(failure);
    return code;
}

asio::awaitable<void> let_the_queue_entry_go(Servers& servers, const std::string& name) {
    if (servers.is_redlock()) co_return;  // Redlock keeps no wait queue
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    try {
        (void)co_await servers.inspect(name);
    } catch (const std::exception&) {
        // The entry expires with the queue: only the count shown meanwhile is off.
    }
}

asio::awaitable<bool> acquire_riding_outages(CliLock& lock, WaitPolicy wait) {
    const auto deadline =
        wait.blocking_timeout
            ? std::optional(Clock::now() +
                            std::chrono::duration_cast<Clock::duration>(*wait.blocking_timeout))
            : std::nullopt;
    Seconds backoff(0.1);
    bool said = false;
    for (;;) {
        WaitPolicy attempt = wait;
        if (deadline) {
            attempt.blocking_timeout =
                std::max(Seconds(0), std::chrono::duration_cast<Seconds>(*deadline - Clock::now()));
        }
        std::exception_ptr failure;
        try {
            co_return co_await lock.acquire(attempt);
        } catch (...) {
            failure = std::current_exception();
        }
        if (!wait.blocking || !is_outage(failure)) std::rethrow_exception(failure);
        if (deadline && Clock::now() + backoff >= *deadline) std::rethrow_exception(failure);
        if (!said) {
            said = true;
            try {
                std::rethrow_exception(failure);
            } catch (const std::exception& error) {
                std::cerr << "dlock: lost touch with Redis while waiting (" << error.what()
                          << "); retrying" << (deadline ? " until the wait ends" : "") << '\n';
            }
        }
        co_await sleep_for(backoff);
        backoff = std::min(backoff * 2, Seconds(2));
    }
}

asio::awaitable<void> release_with_retries(CliLock& lock, Seconds bound) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(bound);
    Seconds backoff(0.1);
    bool had_outage = false;
    for (;;) {
        std::exception_ptr failure;
        try {
            co_await lock.release();
            co_return;
        } catch (const LockReleaseError&) {
            // After an outage the earlier attempt may have run on the server: the key is not
            // ours any more either way, and there is nothing left to release.
            if (had_outage) co_return;
            throw;
        } catch (...) {
            failure = std::current_exception();
        }
        had_outage = true;
        if (!is_outage(failure) || Clock::now() + backoff >= deadline)
            std::rethrow_exception(failure);
        co_await sleep_for(backoff);
        backoff = std::min(backoff * 2, Seconds(1));
    }
}

}  // namespace dlock::cli
