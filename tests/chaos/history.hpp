// The history format the chaos workers write and dlock_chaos_check reads.
//
// One file per worker process; one event per line, space-separated, times in nanoseconds of
// CLOCK_MONOTONIC (the same clock in every process on the host, so histories of different
// processes can be merged). Lines:
//
//   P <pid> <ttl_ns> <acquire_bound_ns> <op_bound_ns> [permits]   once, first: the worker's
//                                         parameters; permits: how many shared holders of one
//                                         name may overlap (a Semaphore's N; 0 = any number,
//                                         a ReadWriteLock's readers); absent = 1
//   B <holder> <op> <t>                   an operation begins (op: acquire release write)
//   A <holder> <name> <t0> <t1> <result>  acquire ended: ok, no (gave up), or an error type
//   S <name> <holder> <fence> <t_acq> <t_enter> [mode]   critical section entered (t_acq:
//                                         acquire began; fence 0: none); mode x (exclusive:
//                                         overlaps nobody; the default) or s (shared: overlaps
//                                         only shared holders, at most `permits` of them)
//   W <name> <holder> <fence> <t_send> <t_recv> <result>   write: ok, stale, or an error type
//   X <name> <holder> <fence> <t_exit>    critical section left (before release is sent)
//   R <holder> <name> <t0> <t1> <result>  release ended: ok or an error type
//
// The driver writes fault windows to a separate file, one per line:
//
//   F <kind> <t0> <t1> <effect> [pid]     effect: lossy (the documented limits: a server that
//                                         lost keys, a failover), pause (pid was stopped),
//                                         kill (pid was SIGKILLed at t0), benign
//   H <pid>                               the driver had to kill pid: it did not finish in time
//
// Every line is written with one write(2) on an O_APPEND descriptor, so a SIGKILLed worker
// leaves only whole lines behind.
#pragma once

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace dlock::chaos {

inline std::int64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

class HistoryFile {
  public:
    explicit HistoryFile(const std::string& path)
        : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {
        if (fd_ < 0) throw std::runtime_error("cannot open history file " + path);
    }
    ~HistoryFile() { ::close(fd_); }
    HistoryFile(const HistoryFile&) = delete;
    HistoryFile& operator=(const HistoryFile&) = delete;

    // One line, one write(2): printf-style, newline added.
    template <class... Args>
    void line(const char* format, Args... args) {
        char buffer[512];
        int n = std::snprintf(buffer, sizeof buffer - 1, format, args...);
        if (n < 0) return;
        if (n > static_cast<int>(sizeof buffer) - 2) n = sizeof buffer - 2;
        buffer[n] = '\n';
        [[maybe_unused]] auto written = ::write(fd_, buffer, static_cast<std::size_t>(n) + 1);
    }

  private:
    int fd_;
};

}  // namespace dlock::chaos
