#include "history_check.hpp"

#include <algorithm>
#include <sstream>

namespace dlock::chaos {

namespace {
// Redis expires keys on its own millisecond clock; allow that much rounding.
constexpr std::int64_t expiry_tolerance_ns = 2'000'000;

std::string ms(std::int64_t ns) {
    std::ostringstream out;
    out << ns / 1'000'000 << "." << (ns / 100'000) % 10 << "ms";
    return out.str();
}
}  // namespace

void HistoryChecker::add_history(std::istream& in) {
    int pid = 0;
    std::int64_t ttl = 0, acquire_bound = 0, op_bound = 0;
    std::map<std::string, std::size_t> open;  // holder -> index of its open section
    std::map<std::string, Pending> began;     // holder -> operation in progress
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string tag;
        f >> tag;
        if (tag == "P") {
            f >> pid >> ttl >> acquire_bound >> op_bound;
            max_ttl_ = std::max(max_ttl_, ttl);
        } else if (tag == "B") {
            Pending p;
            f >> p.holder >> p.op >> p.t0;
            p.pid = pid;
            began[p.holder] = p;
        } else if (tag == "A" || tag == "R") {
            Op op;
            std::string name, result;
            f >> op.holder >> name >> op.t0 >> op.t1 >> result;
            op.op = tag == "A" ? "acquire" : "release";
            op.pid = pid;
            op.bound = tag == "A" ? acquire_bound : op_bound;
            ops_.push_back(op);
            began.erase(op.holder);
            if (tag == "A" && result == "ok") ++acquisitions_;
            if (result != "ok" && result != "no") ++errors_[op.op + ":" + result];
        } else if (tag == "S") {
            Section s;
            f >> s.name >> s.holder >> s.fence >> s.t_acq >> s.t_enter;
            s.pid = pid;
            s.ttl = ttl;
            s.t_end = s.t_enter;
            open[s.holder] = sections_.size();
            sections_.push_back(s);
        } else if (tag == "W") {
            std::string name, result;
            Write w;
            f >> name >> w.holder >> w.fence >> w.t_send >> w.t_recv >> result;
            ops_.push_back({w.holder, "write", pid, w.t_send, w.t_recv, op_bound});
            began.erase(w.holder);
            if (auto it = open.find(w.holder); it != open.end()) {
                sections_[it->second].t_end = std::max(sections_[it->second].t_end, w.t_recv);
            }
            if (result == "ok") {
                accepted_[name].push_back(w);
            } else if (result == "stale") {
                ++stale_refused_;
            } else {
                ++errors_["write:" + result];
            }
        } else if (tag == "X") {
            std::string name, holder;
            std::int64_t fence = 0, t = 0;
            f >> name >> holder >> fence >> t;
            if (auto it = open.find(holder); it != open.end()) {
                sections_[it->second].t_end = t;
                sections_[it->second].closed = true;
                open.erase(it);
            }
        }
    }
    for (auto& [holder, p] : began) pending_.push_back(p);
}

void HistoryChecker::add_faults(std::istream& in) {
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string tag;
        f >> tag;
        if (tag == "F") {
            Fault fault;
            f >> fault.kind >> fault.t0 >> fault.t1 >> fault.effect >> fault.pid;
            faults_.push_back(fault);
        } else if (tag == "H") {
            int pid = 0;
            f >> pid;
            hung_[pid] = true;
        } else if (tag == "C") {
            ++crashes_;
        }
    }
}

bool HistoryChecker::paused(int pid, std::int64_t t0, std::int64_t t1) const {
    for (const auto& f : faults_) {
        if (f.effect == "pause" && f.pid == pid && f.t0 <= t1 && t0 <= f.t1) return true;
    }
    return false;
}

// A fault that loses keys explains an overlap that starts while it lasts or within one TTL
// after it (a holder from before the fault may still be in its section that long).
const HistoryChecker::Fault* HistoryChecker::lossy_at(std::int64_t t) const {
    for (const auto& f : faults_) {
        if (f.effect == "lossy" && f.t0 <= t && t <= f.t1 + max_ttl_) return &f;
    }
    return nullptr;
}

Verdict HistoryChecker::check() const {
    Verdict v;
    v.acquisitions = acquisitions_;
    v.stale_refused = stale_refused_;
    v.errors = errors_;
    v.crashes = crashes_;
    for (const auto& [key, count] : errors_) {
        const std::string type = key.substr(key.find(':') + 1);
        if (type.rfind("exception", 0) == 0 || type == "unknown" || type == "logic_error") {
            v.undocumented_errors += count;
            v.details.push_back("UNDOCUMENTED error " + key + " x" + std::to_string(count));
        }
    }

    // Overlaps: per name, sweep the sections in order of entry.
    std::map<std::string, std::vector<const Section*>> by_name;
    for (const auto& s : sections_) by_name[s.name].push_back(&s);
    for (auto& [name, list] : by_name) {
        std::sort(list.begin(), list.end(),
                  [](const Section* a, const Section* b) { return a->t_enter < b->t_enter; });
        std::vector<const Section*> active;
        for (const Section* s : list) {
            std::erase_if(active, [&](const Section* a) { return a->t_end <= s->t_enter; });
            for (const Section* a : active) {
                if (a->holder == s->holder) continue;
                std::string why;
                // The earlier holder's key could have expired by itself: it was set after
                // a->t_acq with PX ttl. That is the documented limit (a pause, a slow section),
                // which fencing turns into refused writes.
                if (s->t_enter + expiry_tolerance_ns >= a->t_acq + a->ttl) {
                    why = "expired";
                } else if (const Fault* f = lossy_at(s->t_enter)) {
                    why = f->kind;
                }
                std::ostringstream d;
                d << (why.empty() ? "UNEXPLAINED" : "explained (" + why + ")") << " overlap on "
                  << name << ": " << a->holder << " fence " << a->fence << " in section "
                  << ms(a->t_end - a->t_enter) << " since acquire began "
                  << ms(s->t_enter - a->t_acq) << " before " << s->holder << " fence " << s->fence
                  << " entered (ttl " << ms(a->ttl) << ")";
                v.details.push_back(d.str());
                if (why.empty()) {
                    ++v.overlaps_unexplained;
                } else {
                    ++v.overlaps_explained;
                    ++v.explanations[why];
                }
            }
            active.push_back(s);
        }
    }

    // Stale writes accepted: a write accepted although a write with a larger fence had been
    // accepted (answered) before this one was sent.
    for (const auto& [name, writes] : accepted_) {
        std::vector<const Write*> by_recv;
        for (const auto& w : writes) by_recv.push_back(&w);
        std::sort(by_recv.begin(), by_recv.end(),
                  [](const Write* a, const Write* b) { return a->t_recv < b->t_recv; });
        std::vector<std::int64_t> prefix_max;
        std::vector<std::int64_t> recv_times;
        std::int64_t best = -1;
        for (const Write* w : by_recv) {
            best = std::max(best, w->fence);
            prefix_max.push_back(best);
            recv_times.push_back(w->t_recv);
        }
        for (const auto& w : writes) {
            auto it = std::lower_bound(recv_times.begin(), recv_times.end(), w.t_send);
            if (it == recv_times.begin()) continue;
            const std::int64_t max_before =
                prefix_max[static_cast<std::size_t>(std::distance(recv_times.begin(), it) - 1)];
            if (max_before > w.fence) {
                ++v.stale_accepted;
                v.details.push_back("STALE write accepted on " + name + ": " + w.holder +
                                    " fence " + std::to_string(w.fence) + " after fence " +
                                    std::to_string(max_before));
            }
        }
    }

    // Hangs: an operation longer than its deadlines allow (unless its process was stopped),
    // or one that never ended in a process the driver had to kill.
    for (const auto& op : ops_) {
        if (op.t1 - op.t0 > op.bound && !paused(op.pid, op.t0, op.t1)) {
            ++v.hangs;
            v.details.push_back("HANG: " + op.holder + " " + op.op + " took " + ms(op.t1 - op.t0) +
                                " (bound " + ms(op.bound) + ")");
        }
    }
    for (const auto& p : pending_) {
        if (hung_.count(p.pid)) {
            ++v.hangs;
            v.details.push_back("HANG: " + p.holder + " " + p.op + " never returned");
        }
    }
    return v;
}

}  // namespace dlock::chaos
