// metrics_exporter: lock metrics in the Prometheus text format while workers contend.
//
//   metrics_exporter --url redis://127.0.0.1:6379 --listen 127.0.0.1:9464 --workers 8 --seconds 30
//       [--locks 3] [--prefix metrics_exporter:] [--linger SECONDS]
//
// N coroutines on one dlock::Redis take turns on a few lock names for S seconds (hold 0-2 ms,
// then work 0-2 ms outside; one attempt in five is non-blocking, so "held" failures show up
// too) while http://LISTEN/metrics serves what the observer (lock_metrics.hpp) counted. The
// options, their ranges and the exit statuses are in exporter_arguments.hpp (--help).
#include <httplib.h>

#include <asio.hpp>
#include <csignal>
#include <cstdint>
#include <dlock/lock.hpp>
#include <dlock/log.hpp>
#include <dlock/redis.hpp>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "exporter_arguments.hpp"
#include "lock_metrics.hpp"

using namespace std::chrono_literals;

namespace {

// What the workload itself saw, to compare with the metrics.
struct Tally {
    std::uint64_t acquired = 0, released = 0, not_acquired = 0;
};

// parse() bounds every duration, so this cannot overflow.
std::chrono::steady_clock::duration seconds(double count) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(count));
}

asio::awaitable<void> pause(std::chrono::microseconds duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<void> worker(dlock::Redis& redis, const exporter::Arguments& args, int id,
                             std::chrono::steady_clock::time_point end, const bool& stopping,
                             Tally& tally) {
    std::minstd_rand random(static_cast<unsigned>(id) + 1);
    std::uniform_int_distribution<int> micros(0, 2000);
    std::vector<std::unique_ptr<dlock::Lock>> locks;
    for (int i = 0; i < args.locks; ++i) {
        locks.push_back(std::make_unique<dlock::Lock>(
            redis, args.prefix + "job-" + std::to_string(i),
            dlock::LockOptions{.timeout = 10s, .blocking_timeout = 1s}));
    }
    for (std::uint64_t round = 0; !stopping && std::chrono::steady_clock::now() < end; ++round) {
        dlock::Lock& lock = *locks[(round + static_cast<std::uint64_t>(id)) % locks.size()];
        const bool blocking = round % 5 != 4;
        if (!co_await lock.acquire({.blocking = blocking, .blocking_timeout = 1s})) {
            ++tally.not_acquired;
            co_await pause(std::chrono::microseconds(micros(random)));
            continue;
        }
        ++tally.acquired;
        co_await pause(std::chrono::microseconds(micros(random)));  // the critical section
        co_await lock.release();
        ++tally.released;
        co_await pause(std::chrono::microseconds(micros(random)));  // work outside the lock
    }
}

// /metrics on its own thread. stop() only acts once httplib runs its accept loop, so a workload
// that ended before that (--seconds 0, a server that refuses) left the process waiting in
// join() for ever. start() therefore returns only once the server runs: httplib makes its
// task queue (new_task_queue, its documented customisation point) right after it marks itself
// running, so that call is the event; from then on a stop() cannot be lost.
class MetricsServer {
  public:
    explicit MetricsServer(std::shared_ptr<lock_metrics::LockMetrics> metrics) {
        http_.Get("/metrics", [metrics](const httplib::Request&, httplib::Response& response) {
            response.set_content(metrics->render(), "text/plain; version=0.0.4");
        });
        http_.new_task_queue = [this, make_queue = http_.new_task_queue] {
            announce_running();
            return make_queue();
        };
    }
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;
    ~MetricsServer() {
        if (!serving_.joinable()) return;
        http_.stop();
        serving_.join();
    }

    // The bound port (the chosen one for port 0), or -1.
    int bind(const std::string& host, int port) {
        if (port == 0) return http_.bind_to_any_port(host);
        return http_.bind_to_port(host, port) ? port : -1;
    }

    void start() {
        serving_ = std::thread([this] {
            http_.listen_after_bind();
            announce_running();  // in case it returned without running: start() must not wait
        });
        running_.get_future().wait();
    }

  private:
    void announce_running() {
        std::call_once(announced_, [this] { running_.set_value(); });
    }

    httplib::Server http_;
    std::promise<void> running_;
    std::once_flag announced_;
    std::thread serving_;
};

}  // namespace

int main(int argc, char** argv) {
    exporter::Arguments args;
    try {
        args = exporter::parse(argc, argv);
    } catch (const std::invalid_argument& e) {
        std::cerr << "metrics_exporter: " << e.what() << " (--help for the usage)\n";
        return 2;
    }
    if (args.help) {
        std::cout << exporter::usage;
        return 0;
    }
    dlock::set_log_sink([](dlock::LogLevel level, std::string_view message) {
        std::cerr << "dlock " << dlock::to_string(level) << ": " << message << '\n';
    });

    asio::io_context io;
    // The URL is checked here, before anything listens: a bad one is a bad argument.
    std::unique_ptr<dlock::Redis> redis;
    try {
        redis = std::make_unique<dlock::Redis>(io.get_executor(), args.url);
    } catch (const std::invalid_argument& e) {
        std::cerr << "metrics_exporter: " << e.what() << '\n';
        return 2;
    }
    auto metrics = std::make_shared<lock_metrics::LockMetrics>();
    redis->set_observer(metrics);  // every lock the workers build reports to it

    MetricsServer http(metrics);
    const int port = http.bind(args.host, args.port);
    if (port < 0) {
        std::cerr << "metrics_exporter: cannot listen on " << args.host << ':' << args.port << '\n';
        return 1;
    }
    http.start();
    std::cout << "listening on " << args.host << ':' << port << std::endl;

    try {
        asio::signal_set signals(io, SIGINT, SIGTERM);
        // A signal ends the workload first (each Lock released by its worker), then the process.
        bool stopping = false;
        int running = args.workers;
        signals.async_wait([&](const std::error_code& ec, int) {
            if (ec) return;
            stopping = true;
            if (running == 0) io.stop();
        });
        const auto end = std::chrono::steady_clock::now() + seconds(args.seconds);
        std::exception_ptr failure;
        asio::steady_timer linger(io);
        Tally tally;
        for (int id = 0; id < args.workers; ++id) {
            asio::co_spawn(io, worker(*redis, args, id, end, stopping, tally),
                           [&](std::exception_ptr error) {
                               if (error && !failure) {
                                   failure = error;
                                   stopping = true;  // the other workers end too
                               }
                               if (--running > 0) return;
                               std::cout << "done acquired=" << tally.acquired
                                         << " released=" << tally.released
                                         << " not_acquired=" << tally.not_acquired << std::endl;
                               if (stopping) return io.stop();
                               linger.expires_after(seconds(args.linger));
                               linger.async_wait([&](const std::error_code&) { io.stop(); });
                           });
        }
        io.run();
        if (failure) std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        std::cerr << "metrics_exporter: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
