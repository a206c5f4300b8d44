// renew_held: one client holding N auto-renewed locks (timeout 3 s up to 10,000 locks, so a
// renewal period of 1 s), acquired in 100 groups over one period. After the holds settle, the
// server's commands, socket reads and CPU and this process's CPU are sampled over whole periods:
// with renewals batched, reads (round trips) per period stay a handful whatever N, while commands
// grow with N (one renewal script per lock).
#include <dlock/lock.hpp>
#include <dlock/redis.hpp>
#include <iostream>
#include <map>
#include <memory>

#include "run_io.hpp"
#include "throughput.hpp"

namespace dlock::bench {

void run_renewal(const Params& params) {
    // 3 s up to 10,000 locks, longer beyond: one client renewing 100,000 locks a second (each
    // renewal sends the script's source) does not keep up on a loaded 2-vCPU machine.
    const double timeout_s = 3.0 * std::max(1, params.locks / 10000);
    const double period_s = timeout_s / 3;  // the default renew_interval
    constexpr int periods = 3;
    dlock::sync::Redis observer(params.url);
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), params.url);
    std::vector<std::unique_ptr<dlock::Lock>> locks;
    ServerSample before, after;
    double cpu_before = 0, cpu_after = 0;
    // Renewals sent as EVALSHA and as EVAL (with the script's source), over the same periods.
    std::map<std::string, long long> calls_before, calls_after;
    const auto calls = [&observer] {
        return command_calls(observer.command({"INFO", "commandstats"}).str);
    };
    run_to_end(io, [&]() -> asio::awaitable<void> {
        dlock::LockOptions options = lock_options(timeout_s);
        options.auto_renew = true;
        for (int i = 0; i < params.locks; ++i) {
            locks.push_back(
                std::make_unique<dlock::Lock>(redis, "bench:renew:" + std::to_string(i), options));
        }
        // Acquired in 100 groups spread over one period, as holds taken at different moments
        // are: unbatched, each group would renew at its own moment.
        constexpr int groups = 100;
        for (int g = 0; g < groups; ++g) {
            Join acquired(co_await asio::this_coro::executor);
            for (std::size_t i = g; i < locks.size(); i += groups) {
                acquired.spawn([](dlock::Lock& l) -> asio::awaitable<void> {
                    if (!co_await l.acquire({.blocking = false}))
                        throw std::runtime_error("lock was taken");
                }(*locks[i]));
            }
            co_await acquired.wait();
            co_await pause(std::chrono::duration_cast<Clock::duration>(
                std::chrono::duration<double>(period_s / groups)));
        }
        // One whole period first: every hold has renewed once since its acquisition.
        co_await pause(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(period_s * 1.5)));
        // Sampled from another thread's connection (sync::Redis): blocking here is fine, the
        // renewals' timers fire late at worst, and the same in both samples.
        calls_before = calls();
        before = sample_server(observer);
        cpu_before = cpu_us();
        co_await pause(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(period_s * periods)));
        after = sample_server(observer);
        cpu_after = cpu_us();
        calls_after = calls();
        for (auto& lock : locks) {
            if (lock->lost()) throw std::runtime_error("a renewed lock was lost");
        }
        Join released(co_await asio::this_coro::executor);
        for (auto& lock : locks) released.spawn(lock->release());
        co_await released.wait();
    }());
    JsonLine p;
    p.add("locks", params.locks)
        .add("connections", 1)
        .add("timeout_s", timeout_s)
        .add("renew_period_s", period_s)
        .add("periods", periods);
    JsonLine line;
    line.add("scenario", "renew_held").add("impl", "dlock").add_raw("params", p.str());
    const double n = periods;
    // The observer's first INFO all is one command, one read and its bytes in the window.
    constexpr long long info_all_bytes = sizeof("*2\r\n$4\r\nINFO\r\n$3\r\nall\r\n") - 1;
    line.add("server_cmds_per_period",
             static_cast<double>(after.commands - before.commands - 1) / n);
    line.add("server_reads_per_period", static_cast<double>(after.reads - before.reads - 1) / n);
    line.add("server_input_bytes_per_period",
             static_cast<double>(after.input_bytes - before.input_bytes - info_all_bytes) / n);
    line.add("evalsha_per_period",
             static_cast<double>(calls_after["evalsha"] - calls_before["evalsha"]) / n);
    line.add("eval_per_period",
             static_cast<double>(calls_after["eval"] - calls_before["eval"]) / n);
    line.add("server_cpu_us_per_period", (after.cpu_s - before.cpu_s) * 1e6 / n);
    line.add("client_cpu_us_per_period", (cpu_after - cpu_before) / n);
    line.add("client_cpu_us_per_lock_per_period",
             (cpu_after - cpu_before) / n / static_cast<double>(params.locks));
    std::cout << line.str() << std::endl;
}

}  // namespace dlock::bench
