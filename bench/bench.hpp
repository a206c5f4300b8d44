// bench/bench.hpp: what the dlock-bench scenarios share: their parameters, one-line JSON output,
// latency percentiles, the client's RSS and the server's command counters.
//
// Every scenario prints exactly one JSON line on stdout; bench/run collects them. Times come
// from std::chrono::steady_clock, which is CLOCK_MONOTONIC on Linux: one clock for the whole
// machine, so timestamps taken in different worker processes can be compared.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dlock::bench {

using Clock = std::chrono::steady_clock;

// Command-line parameters; each scenario reads the ones it needs.
struct Params {
    std::string url = "redis://127.0.0.1:6379";
    std::string cluster_url;                // S5: one node of a cluster (empty: S5 is skipped)
    std::string sentinel_url;               // S9: redis-sentinel:// URL (empty: S9 is skipped)
    std::vector<std::string> redlock_urls;  // S6: 3+ independent primaries (fewer: skipped)
    double duration_s = 3.0;                // measured time per scenario (after warm-up)
    int tasks = 64;              // S2/S5: concurrent coroutines, each on its own lock name
    int workers = 8;             // S3/S4: contending worker processes
    double hold_ms = 0.0;        // S3/S4: time the lock is held
    double step_aside_ms = 1.0;  // S3/S4: pause after a release before trying again
    double sleep_s = 0.1;        // LockOptions::sleep (S4: the polling interval)
    int locks = 10000;           // mem-held: locks held at once
    int waiters = 1000;          // mem-waiters: coroutines blocked on one lock
    int pairs = 200000;          // pipe-file: SET NX PX + release pairs
    int permits = 4;             // S7: the semaphore's permits
    // S1/S3: what every lock reports to: "none", "metrics" (the exporter's observer,
    // examples/lock_metrics.hpp) or "holder" (no observer, holder records on:
    // LockOptions::record_holder). lock_options() applies it.
    std::string observer = "none";
    bool record_holder = false;  // set by --observer holder (impl "dlock+holder")
    int round = 0;  // S1, S2: which round of an interleaved comparison this run belongs to
};

// What S3/S4 (lock), S7 (semaphore) and S8 (read-mostly read/write lock) contend on.
enum class Contended { lock, semaphore, read_mostly };

// Builds one JSON object, fields in insertion order.
class JsonLine {
  public:
    JsonLine& add(std::string_view key, std::string_view text);
    JsonLine& add(std::string_view key, const char* text) {
        return add(key, std::string_view(text));
    }
    JsonLine& add(std::string_view key, double number);
    JsonLine& add(std::string_view key, long long number);
    JsonLine& add(std::string_view key, int number) {
        return add(key, static_cast<long long>(number));
    }
    JsonLine& add(std::string_view key, bool flag);
    // `json` must already be valid JSON (a nested object built by another JsonLine).
    JsonLine& add_raw(std::string_view key, std::string_view json);
    std::string str() const { return "{" + body_ + "}"; }

  private:
    void key(std::string_view name);
    std::string body_;
};

// Adds p50_us, p99_us and max_us of `samples_us` (sorted in place). Empty: zeros.
void add_percentiles(JsonLine& line, std::vector<double>& samples_us, std::string_view prefix = "");

// A blocking client's result: ops_per_s and ops (one sample per operation measured over
// `duration_s`), the samples' percentiles, and its CPU per operation.
void add_blocking_results(JsonLine& line, std::vector<double>& samples_us, double duration_s,
                          double cpu_us_per_op);

// VmRSS of this process in KiB, from /proc/self/status.
long rss_kib();

// User + system CPU time of this process (all threads) in microseconds. Divided by the
// operations done, it gives the client's CPU cost per operation: unlike ops/s, it hardly
// moves when other work competes for the CPU.
double cpu_us();

// INFO commandstats -> calls per command name ("set", "evalsha", ...).
std::map<std::string, long long> command_calls(const std::string& info_commandstats);

// Commands the server ran between two snapshots, leaving out the bench's own INFO/CONFIG:
// `all` counts commands run inside Lua scripts too (Redis counts them in commandstats);
// `sent` leaves out the commands that in these scenarios run only inside dlock's scripts, and
// the SETs its acquire script ran, so it is the number of commands clients sent (round trips
// or pipelined).
struct CommandDelta {
    long long all = 0;
    long long sent = 0;
};
CommandDelta command_delta(const std::map<std::string, long long>& before,
                           const std::map<std::string, long long>& after);

// Microseconds between two time points, as a double.
inline double micros(Clock::duration d) {
    return std::chrono::duration<double, std::micro>(d).count();
}

// The line of a scenario that could not run here (impl "dlock", "skipped": why).
void print_skipped(std::string_view scenario, std::string_view why);

// The scenarios. Each prints its JSON line; a failure throws (main prints it as JSON).
void run_sequential(const Params& params);  // S1
void run_concurrent(const Params& params);  // S2
void run_cluster(const Params& params);     // S5
void run_sentinel(const Params& params);    // S9
void run_redlock(const Params& params);     // S6
void run_contention(const Params& params, bool wake_on_release, std::string_view scenario,
                    Contended what = Contended::lock);  // S3/S4, S7, S8
void run_memory_held(const Params& params);
void run_memory_waiters(const Params& params);
void run_observer_cost(const Params& params);  // observer_cost: the observer, no server
void run_renewal(const Params& params);        // renew_held: batched auto-renewal
void write_pipe_file(const Params& params);    // the S2 ceiling's input for redis-cli --pipe

}  // namespace dlock::bench
