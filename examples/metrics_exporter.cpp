// metrics_exporter: lock metrics in the Prometheus text format while workers contend.
//
//   metrics_exporter --url redis://127.0.0.1:6379 --listen 127.0.0.1:9464 --workers 8 --seconds 30
//       [--locks 3] [--prefix metrics_exporter:] [--linger SECONDS]
//
// N coroutines on one dlock::Redis take turns on a few lock names for S seconds (hold 0-2 ms,
// then work 0-2 ms outside; one attempt in five is non-blocking, so "held" failures show up
// too) while http://LISTEN/metrics serves what the observer (lock_metrics.hpp) counted. Port 0
// picks a free port. It prints "listening on HOST:PORT" when it serves, and at the end of the
// workload one line "done acquired=A released=R not_acquired=F" with its own counts; with
// --linger it keeps serving that long afterwards (SIGINT/SIGTERM stop it). Exit 0, or 1 with a
// message when the server fails, 2 on bad arguments.
#include <httplib.h>

#include <asio.hpp>
#include <csignal>
#include <cstdint>
#include <dlock/lock.hpp>
#include <dlock/log.hpp>
#include <dlock/redis.hpp>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "lock_metrics.hpp"

using namespace std::chrono_literals;

namespace {

struct Arguments {
    std::string url;
    std::string host = "127.0.0.1";
    int port = 9464;
    int workers = 8;
    double seconds = 10;
    int locks = 3;
    std::string prefix = "metrics_exporter:";
    double linger = 0;
};

Arguments parse(int argc, char** argv) {
    Arguments a;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
        const std::string value = argv[++i];
        if (flag == "--url") {
            a.url = value;
        } else if (flag == "--listen") {
            const auto colon = value.rfind(':');
            if (colon == std::string::npos) throw std::invalid_argument("--listen is HOST:PORT");
            a.host = value.substr(0, colon);
            a.port = std::stoi(value.substr(colon + 1));
        } else if (flag == "--workers") {
            a.workers = std::stoi(value);
        } else if (flag == "--seconds") {
            a.seconds = std::stod(value);
        } else if (flag == "--locks") {
            a.locks = std::stoi(value);
        } else if (flag == "--prefix") {
            a.prefix = value;
        } else if (flag == "--linger") {
            a.linger = std::stod(value);
        } else {
            throw std::invalid_argument("unknown option " + flag);
        }
    }
    if (a.url.empty()) throw std::invalid_argument("--url is required");
    if (a.workers < 1 || a.locks < 1 || a.seconds < 0 || a.linger < 0 || a.port < 0)
        throw std::invalid_argument("--workers and --locks must be >= 1, durations >= 0");
    return a;
}

// What the workload itself saw, to compare with the metrics.
struct Tally {
    std::uint64_t acquired = 0, released = 0, not_acquired = 0;
};

asio::awaitable<void> pause(std::chrono::microseconds duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<void> worker(dlock::Redis& redis, const Arguments& args, int id,
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

}  // namespace

int main(int argc, char** argv) {
    Arguments args;
    try {
        args = parse(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "metrics_exporter: " << e.what() << '\n';
        return 2;
    }
    dlock::set_log_sink([](dlock::LogLevel level, std::string_view message) {
        std::cerr << "dlock " << dlock::to_string(level) << ": " << message << '\n';
    });

    auto metrics = std::make_shared<lock_metrics::LockMetrics>();
    httplib::Server http;
    http.Get("/metrics", [&](const httplib::Request&, httplib::Response& response) {
        response.set_content(metrics->render(), "text/plain; version=0.0.4");
    });
    const int port = args.port == 0 ? http.bind_to_any_port(args.host)
                                    : (http.bind_to_port(args.host, args.port) ? args.port : -1);
    if (port < 0) {
        std::cerr << "metrics_exporter: cannot listen on " << args.host << ':' << args.port << '\n';
        return 1;
    }
    std::thread serving([&] { http.listen_after_bind(); });
    std::cout << "listening on " << args.host << ':' << port << std::endl;

    int status = 0;
    Tally tally;
    try {
        asio::io_context io;
        dlock::Redis redis(io.get_executor(), args.url);
        redis.set_observer(metrics);  // every lock the workers build reports to it
        asio::signal_set signals(io, SIGINT, SIGTERM);
        // A signal ends the workload first (each Lock released by its worker), then the process.
        bool stopping = false;
        int running = args.workers;
        signals.async_wait([&](const std::error_code& ec, int) {
            if (ec) return;
            stopping = true;
            if (running == 0) io.stop();
        });
        const auto end = std::chrono::steady_clock::now() +
                         std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                             std::chrono::duration<double>(args.seconds));
        std::exception_ptr failure;
        asio::steady_timer linger(io);
        for (int id = 0; id < args.workers; ++id) {
            asio::co_spawn(io, worker(redis, args, id, end, stopping, tally),
                           [&](std::exception_ptr error) {
                               if (error && !failure) {
                                   failure = error;
                                   stopping = true;  // the other workers end too
                               }
                               if (--running > 0) return;
                               std::cout << "done acquired=" << tally.acquired
                                         << " released=" << tally.released
                                         << " not_acquired=" << tally.not_acquired << std::endl;
                               linger.expires_after(
                                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       std::chrono::duration<double>(args.linger)));
                               if (stopping) io.stop();
                               linger.async_wait([&](const std::error_code&) { io.stop(); });
                           });
        }
        io.run();
        if (failure) std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        std::cerr << "metrics_exporter: " << e.what() << '\n';
        status = 1;
    }
    http.stop();
    serving.join();
    return status;
}
