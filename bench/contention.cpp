// S3/S4: workers contending on one lock name.
//
// Workers are PROCESSES (fork), each with its own io_context and dlock::Redis: that is how
// contending clients meet in production (different hosts or services), and it is the
// realistic case for wake-ups, because waiters inside one process share one subscription and
// are woken one at a time by the library itself, while separate processes each receive the
// release notification. Each worker loops: acquire, hold `hold_ms`, release, step aside
// `step_aside_ms`, until the end time. Timestamps are steady_clock (CLOCK_MONOTONIC, one clock
// for the machine) written to shared memory, so the parent can order all acquisitions and
// measure hand-offs across processes.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <dlock/lock.hpp>
#include <dlock/read_write_lock.hpp>
#include <dlock/redis.hpp>
#include <dlock/semaphore.hpp>
#include <dlock/sync.hpp>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "run_io.hpp"

namespace dlock::bench {

namespace {

struct Event {
    std::int64_t asked_ns;      // acquire() called
    std::int64_t acquired_ns;   // acquire() returned true
    std::int64_t releasing_ns;  // the hold's pause ended: release() called
    std::int64_t released_ns;   // release() returned
};

// Lives in a MAP_SHARED mapping: written by the workers, read by the parent after they exit.
struct Board {
    std::atomic<int> ready;
    std::atomic<std::int64_t> start_ns;  // 0 until the parent says go
    std::int64_t end_ns;
    std::size_t capacity;              // events per worker
    std::atomic<std::int64_t> cpu_us;  // CPU time of the workers from the start line to the end
    // followed by `workers` counters and workers * capacity events
};

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

Clock::duration from_ms(double ms) {
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::milli>(ms));
}

class SharedBoard {
  public:
    SharedBoard(int workers, std::size_t capacity) : workers_(workers) {
        bytes_ = sizeof(Board) + sizeof(std::size_t) * static_cast<std::size_t>(workers) +
                 sizeof(Event) * capacity * static_cast<std::size_t>(workers);
        void* memory = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (memory == MAP_FAILED) throw std::runtime_error("mmap failed");
        base_ = static_cast<char*>(memory);
        board_ = new (base_) Board{};
        board_->capacity = capacity;
        counts_ = reinterpret_cast<std::size_t*>(base_ + sizeof(Board));
        events_ = reinterpret_cast<Event*>(counts_ + workers);
    }
    ~SharedBoard() { munmap(base_, bytes_); }
    SharedBoard(const SharedBoard&) = delete;
    SharedBoard& operator=(const SharedBoard&) = delete;

    Board& board() { return *board_; }
    void record(int worker, const Event& event) {
        std::size_t& n = counts_[worker];
        if (n < board_->capacity)
            events_[static_cast<std::size_t>(worker) * board_->capacity + n++] = event;
    }
    std::size_t count(int worker) const { return counts_[worker]; }
    const Event& event(int worker, std::size_t i) const {
        return events_[static_cast<std::size_t>(worker) * board_->capacity + i];
    }
    int workers() const { return workers_; }

  private:
    int workers_;
    std::size_t bytes_ = 0;
    char* base_ = nullptr;
    Board* board_ = nullptr;
    std::size_t* counts_ = nullptr;
    Event* events_ = nullptr;
};

// The name the workers of one run contend on: new for every run of this process (set before the
// workers fork), so no run finds an earlier one's keys or queued waiters, and nothing here needs
// to know the names of the keys dlock derives from it.
std::string contended_name;

// One hold of what the scenario contends on: the Lock (S3/S4), a permit of a semaphore of
// `permits` (S7), or a read/write lock where every 20th hold of a worker writes (S8).
class Holder {
  public:
    Holder(dlock::Redis& redis, Contended what, int permits, const LockOptions& options) {
        if (what == Contended::lock) lock_.emplace(redis, contended_name, options);
        if (what == Contended::semaphore)
            semaphore_.emplace(redis, contended_name, static_cast<std::size_t>(permits), options);
        if (what == Contended::read_mostly) rw_.emplace(redis, contended_name, options);
    }
    asio::awaitable<bool> acquire() {
        if (lock_) return lock_->acquire();
        if (semaphore_) return semaphore_->acquire();
        return ++count_ % 20 == 0 ? rw_->acquire() : rw_->acquire_shared();
    }
    asio::awaitable<void> release() {
        if (lock_) return lock_->release();
        if (semaphore_) return semaphore_->release();
        return rw_->release();
    }

  private:
    long count_ = 0;
    std::optional<dlock::Lock> lock_;
    std::optional<dlock::Semaphore> semaphore_;
    std::optional<dlock::ReadWriteLock> rw_;
};

asio::awaitable<void> worker_loop(dlock::Redis& redis, SharedBoard& shared, int worker,
                                  const Params& params, bool wake_on_release, Contended what) {
    Board& board = shared.board();
    co_await redis.command("PING");  // connected before the start line
    board.ready.fetch_add(1);
    while (board.start_ns.load() == 0 || now_ns() < board.start_ns.load()) {
        co_await pause(std::chrono::microseconds(200));
    }
    const double cpu_at_start = cpu_us();
    Holder lock(redis, what, params.permits, lock_options(10, params.sleep_s, wake_on_release));
    const auto hold = from_ms(params.hold_ms);
    const auto step_aside = from_ms(params.step_aside_ms);
    while (now_ns() < board.end_ns) {
        Event event{};
        event.asked_ns = now_ns();
        if (!co_await lock.acquire()) throw std::runtime_error("blocking acquire returned false");
        event.acquired_ns = now_ns();
        if (hold.count() > 0) co_await pause(hold);
        event.releasing_ns = now_ns();
        co_await lock.release();
        event.released_ns = now_ns();
        shared.record(worker, event);
        if (step_aside.count() > 0) co_await pause(step_aside);
    }
    board.cpu_us.fetch_add(static_cast<std::int64_t>(cpu_us() - cpu_at_start));
}

[[noreturn]] void run_worker(SharedBoard& shared, int worker, const Params& params, bool wake,
                             Contended what) {
    int status = 0;
    try {
        asio::io_context io;
        dlock::Redis redis(io.get_executor(), params.url);
        run_to_end(io, worker_loop(redis, shared, worker, params, wake, what));
    } catch (const std::exception& error) {
        std::cerr << "dlock-bench worker " << worker << ": " << error.what() << std::endl;
        status = 1;
    }
    std::_Exit(status);  // no atexit handlers or stdio flushes inherited from the parent
}

std::map<std::string, long long> snapshot(const Params& params) {
    dlock::sync::Redis redis(params.url);
    return command_calls(redis.command({"INFO", "commandstats"}).str);
}

}  // namespace

void run_contention(const Params& params, bool wake_on_release, std::string_view scenario,
                    Contended what) {
    const int workers = params.workers;
    const double warm_up_s = std::min(0.5, params.duration_s / 5);
    const double run_s = warm_up_s + params.duration_s;
    // At most one acquisition per ~50 us per worker: room for any rate this machine reaches.
    const auto capacity = static_cast<std::size_t>(run_s * 20000) + 1000;
    SharedBoard shared(workers, capacity);
    static int runs = 0;
    contended_name = "bench:contended:" + std::to_string(getpid()) + ":" + std::to_string(++runs);

    std::vector<pid_t> children;
    for (int w = 0; w < workers; ++w) {
        std::cout.flush();
        const pid_t pid = fork();
        if (pid < 0) throw std::runtime_error("fork failed");
        if (pid == 0) run_worker(shared, w, params, wake_on_release, what);
        children.push_back(pid);
    }
    Board& board = shared.board();
    const auto ready_by = Clock::now() + std::chrono::seconds(10);
    while (board.ready.load() < workers && Clock::now() < ready_by) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const auto before = snapshot(params);
    const std::int64_t start = now_ns() + 20'000'000;  // 20 ms: every worker sees it in time
    board.end_ns = start + static_cast<std::int64_t>(run_s * 1e9);
    board.start_ns.store(start);
    bool failed = board.ready.load() < workers;
    for (pid_t pid : children) {
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = true;
    }
    if (failed) throw std::runtime_error("a contention worker failed (see stderr)");
    const auto workers_cpu_us = static_cast<double>(board.cpu_us.load());
    const auto after = snapshot(params);

    struct Acquisition {
        Event event;
        int worker;
    };
    std::vector<Acquisition> all;
    for (int w = 0; w < workers; ++w) {
        for (std::size_t i = 0; i < shared.count(w); ++i) all.push_back({shared.event(w, i), w});
    }
    std::sort(all.begin(), all.end(), [](const Acquisition& a, const Acquisition& b) {
        return a.event.acquired_ns < b.event.acquired_ns;
    });

    std::vector<std::int64_t> releases;
    for (const Acquisition& a : all) releases.push_back(a.event.released_ns);
    std::sort(releases.begin(), releases.end());
    const std::int64_t measure_from = start + static_cast<std::int64_t>(warm_up_s * 1e9);
    std::vector<double> wait_us, handoff_us;
    // Where a Lock's cycle goes: the hold as the worker's timer made it (acquired -> release()
    // called; hold_ms and the timer's lateness), and release() called -> the next holder's
    // acquire() returned (the hand-off on the critical path: the release's way to the server,
    // the message's way to the next holder, that process getting the CPU).
    std::vector<double> held_us, release_to_next_us;
    std::vector<long long> per_worker(static_cast<std::size_t>(workers), 0);
    long long measured = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        const Event& e = all[i].event;
        if (e.acquired_ns < measure_from || e.acquired_ns > board.end_ns) continue;
        ++measured;
        ++per_worker[static_cast<std::size_t>(all[i].worker)];
        wait_us.push_back(static_cast<double>(e.acquired_ns - e.asked_ns) / 1e3);
        // A hand-off: the next holder was already waiting when the previous release returned
        // (with several holders, the last release that returned before this acquisition).
        if (what != Contended::lock) {
            const auto before_it =
                std::upper_bound(releases.begin(), releases.end(), e.acquired_ns);
            if (before_it != releases.begin() && *std::prev(before_it) > e.asked_ns) {
                handoff_us.push_back(static_cast<double>(e.acquired_ns - *std::prev(before_it)) /
                                     1e3);
            }
        } else if (i > 0 && e.asked_ns < all[i - 1].event.released_ns) {
            held_us.push_back(
                static_cast<double>(all[i - 1].event.releasing_ns - all[i - 1].event.acquired_ns) /
                1e3);
            release_to_next_us.push_back(
                static_cast<double>(e.acquired_ns - all[i - 1].event.releasing_ns) / 1e3);
            handoff_us.push_back(static_cast<double>(e.acquired_ns - all[i - 1].event.released_ns) /
                                 1e3);
        }
    }
    CommandDelta commands = command_delta(before, after);
    if (what != Contended::lock) {
        // command_delta tells the Lock's script contents from what clients send; a Semaphore
        // or ReadWriteLock client sends scripts only (and its connections' set-up), so count
        // those instead.
        static const std::set<std::string, std::less<>> sent_by_clients{
            "evalsha", "eval", "subscribe", "unsubscribe", "client|setname", "ping", "hello"};
        commands.sent = 0;
        for (const auto& [command, calls] : after) {
            if (!sent_by_clients.contains(command)) continue;
            const auto old = before.find(command);
            commands.sent += calls - (old == before.end() ? 0 : old->second);
        }
    }
    const auto total = static_cast<double>(all.size());

    JsonLine p;
    p.add("workers", workers)
        .add("model", "processes")
        .add("contended", what == Contended::lock        ? "lock"
                          : what == Contended::semaphore ? "semaphore"
                                                         : "rwlock, 1 write in 20")
        .add("permits", what == Contended::semaphore ? params.permits : 1)
        .add("hold_ms", params.hold_ms)
        .add("step_aside_ms", params.step_aside_ms)
        .add("wake_on_release", wake_on_release)
        .add("sleep_s", params.sleep_s)
        .add("duration_s", params.duration_s)
        .add("observer", params.observer);
    JsonLine line;
    line.add("scenario", scenario).add("impl", "dlock").add_raw("params", p.str());
    line.add("ops_per_s", static_cast<double>(measured) / params.duration_s)
        .add("acquisitions", measured);
    add_percentiles(line, wait_us);  // time from acquire() called to acquired
    line.add("acq_per_worker_min", *std::min_element(per_worker.begin(), per_worker.end()));
    line.add("acq_per_worker_max", *std::max_element(per_worker.begin(), per_worker.end()));
    line.add("handoffs", static_cast<long long>(handoff_us.size()));
    add_percentiles(line, handoff_us, "handoff_");  // previous release returned -> acquired
    if (!held_us.empty()) {
        add_percentiles(line, held_us, "held_");
        add_percentiles(line, release_to_next_us, "release_to_next_");
    }
    line.add("cpu_us_per_op", total > 0 ? workers_cpu_us / total : 0.0);
    line.add("server_cmds_per_acq", total > 0 ? static_cast<double>(commands.all) / total : 0.0);
    line.add("client_cmds_per_acq", total > 0 ? static_cast<double>(commands.sent) / total : 0.0);
    // Which commands, per acquisition: shows where the cost of a hand-off goes.
    JsonLine breakdown;
    for (const auto& [command, calls] : after) {
        if (command == "info" || command.rfind("config", 0) == 0) continue;
        const auto old = before.find(command);
        const long long n = calls - (old == before.end() ? 0 : old->second);
        if (n > 0 && total > 0) breakdown.add(command, static_cast<double>(n) / total);
    }
    line.add_raw("cmds_per_acq", breakdown.str());
    std::cout << line.str() << std::endl;
}

}  // namespace dlock::bench
