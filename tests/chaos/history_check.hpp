// The history checker's model: reads the workers' histories and the driver's fault windows
// (format in history.hpp) and decides what happened. Kept apart from main() so the checker's
// own test can feed it hand-made histories.
//
// Who may overlap whom (per name): an exclusive holder (a Lock, a ReadWriteLock's writer)
// nobody; shared holders (a Semaphore's permits, a ReadWriteLock's readers) only each other, at
// most `permits` at once. Fences (where given) follow real time: a holder whose acquire began
// after another's had returned has the larger fence.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <vector>

namespace dlock::chaos {

struct Verdict {
    long acquisitions = 0;
    long overlaps_explained = 0;
    long overlaps_unexplained = 0;
    long stale_accepted = 0;
    // A fence not larger than one handed out before this acquire began; explained when a
    // lossy fault (a server that lost its counter) came between.
    long fences_out_of_order = 0;
    long fences_out_of_order_explained = 0;
    // The most holders of one name inside at once (to show that sharing was exercised).
    long most_holders = 0;
    long stale_refused = 0;
    long hangs = 0;
    long crashes = 0;
    // Errors of a type errors.hpp does not document for that call (a bare std::system_error
    // escaping, std::logic_error...): a broken contract, so the run fails.
    long undocumented_errors =
        0;  // workers that exited non-zero without being killed by the driver
    std::map<std::string, long> errors;  // "op:Type" -> count
    std::vector<std::string> details;    // one line per violation (and per explained overlap)
    // How each explained overlap was explained: "expired" (the first holder outlived its TTL:
    // a pause or a slow section, which fencing handles) or the lossy fault's kind.
    std::map<std::string, long> explanations;
};

class HistoryChecker {
  public:
    // One worker's history (one process).
    void add_history(std::istream& in);
    // The driver's fault windows.
    void add_faults(std::istream& in);
    Verdict check() const;

  private:
    struct Section {
        std::string name, holder;
        int pid = 0;
        std::int64_t fence = 0, t_acq = 0, t_enter = 0, t_end = 0, ttl = 0;
        bool closed = false;
        bool shared = false;  // mode s
        long permits = 1;     // for shared sections: how many may overlap (0: any number)
    };
    struct Write {
        std::string holder;
        std::int64_t fence = 0, t_send = 0, t_recv = 0;
    };
    struct Fault {
        std::string kind, effect;
        std::int64_t t0 = 0, t1 = 0;
        int pid = 0;
    };
    struct Op {  // a completed operation, for the hang check
        std::string holder, op;
        int pid = 0;
        std::int64_t t0 = 0, t1 = 0, bound = 0;
    };
    struct Pending {  // an operation that began and never ended
        std::string holder, op;
        int pid = 0;
        std::int64_t t0 = 0;
    };

    bool paused(int pid, std::int64_t t0, std::int64_t t1) const;
    const Fault* lossy_at(std::int64_t t) const;
    const Fault* lossy_between(std::int64_t t0, std::int64_t t1) const;
    void check_overlaps(Verdict& v) const;
    void check_fence_order(Verdict& v) const;

    std::vector<Section> sections_;
    std::map<std::string, std::vector<Write>> accepted_;  // per name
    std::vector<Op> ops_;
    std::vector<Pending> pending_;
    std::vector<Fault> faults_;
    std::map<int, bool> hung_;  // pids the driver had to kill
    long crashes_ = 0;
    std::int64_t max_ttl_ = 0;
    long acquisitions_ = 0, stale_refused_ = 0;
    std::map<std::string, long> errors_;
};

}  // namespace dlock::chaos
