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
    long permits = 1;
    std::map<std::string, std::size_t> open;  // holder -> index of its open section
    std::map<std::string, Pending> began;     // holder -> operation in progress
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string tag;
        f >> tag;
        if (tag == "P") {
            f >> pid >> ttl >> acquire_bound >> op_bound;
            if (!(f >> permits)) permits = 1;
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
            std::string mode;
            f >> s.name >> s.holder >> s.fence >> s.t_acq >> s.t_enter >> mode;
            s.shared = mode == "s";
            s.permits = permits;
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

// A lossy fault that began inside [t0, t1]: what can make a fence handed out at t1 smaller
// than one handed out at t0 (the counter was lost with the keys).
const HistoryChecker::Fault* HistoryChecker::lossy_between(std::int64_t t0, std::int64_t t1) const {
    for (const auto& f : faults_) {
        if (f.effect == "lossy" && t0 <= f.t1 && f.t0 <= t1) return &f;
    }
    return nullptr;
}

// Per name, sweeps the sections in order of entry. Each entrant is checked against those still
// inside: an exclusive one (entrant or insider) conflicts pairwise; shared ones conflict only
// when the entrant makes them more than `permits`, counted once per entrant. A conflict is
// explained when the insiders it needs had outlived their TTL (their leases could have ended:
// a pause or a slow section, which fencing handles) or by a lossy fault.
void HistoryChecker::check_overlaps(Verdict& v) const {
    std::map<std::string, std::vector<const Section*>> by_name;
    for (const auto& s : sections_) by_name[s.name].push_back(&s);
    for (auto& entry : by_name) {
        // Not a structured binding: clang 14 refuses one captured by the lambdas below.
        const std::string& name = entry.first;
        auto& list = entry.second;
        std::sort(list.begin(), list.end(),
                  [](const Section* a, const Section* b) { return a->t_enter < b->t_enter; });
        std::vector<const Section*> active;
        for (const Section* s : list) {
            std::erase_if(active, [&](const Section* a) { return a->t_end <= s->t_enter; });
            // The insider's lease was set after a->t_acq with PX ttl, so it may have ended.
            const auto expired = [&](const Section* a) {
                return s->t_enter + expiry_tolerance_ns >= a->t_acq + a->ttl;
            };
            const auto record = [&](const std::string& why, const std::string& what) {
                v.details.push_back((why.empty() ? "UNEXPLAINED" : "explained (" + why + ")") +
                                    std::string(" overlap on ") + name + ": " + what);
                if (why.empty()) {
                    ++v.overlaps_unexplained;
                } else {
                    ++v.overlaps_explained;
                    ++v.explanations[why];
                }
            };
            const auto fault_kind = [&]() -> std::string {
                const Fault* f = lossy_at(s->t_enter);
                return f ? f->kind : "";
            };
            std::vector<const Section*> shared_others;
            long inside = 1;
            for (const Section* a : active) {
                if (a->holder == s->holder) continue;
                ++inside;
                if (a->shared && s->shared) {
                    shared_others.push_back(a);
                    continue;
                }
                std::ostringstream d;
                d << a->holder << (a->shared ? " (shared)" : "") << " fence " << a->fence
                  << " in section " << ms(a->t_end - a->t_enter) << " since acquire began "
                  << ms(s->t_enter - a->t_acq) << " before " << s->holder
                  << (s->shared ? " (shared)" : "") << " fence " << s->fence << " entered (ttl "
                  << ms(a->ttl) << ")";
                record(expired(a) ? "expired" : fault_kind(), d.str());
            }
            v.most_holders = std::max(v.most_holders, inside);
            const long limit = s->permits;
            const long holders = static_cast<long>(shared_others.size()) + 1;
            if (limit > 0 && holders > limit) {
                const long live = 1 + std::count_if(shared_others.begin(), shared_others.end(),
                                                    [&](const Section* a) { return !expired(a); });
                std::ostringstream d;
                d << holders << " shared holders, permits " << limit << ", when " << s->holder
                  << " fence " << s->fence << " entered; inside:";
                for (const Section* a : shared_others) {
                    d << " " << a->holder << " (fence " << a->fence << ", acquire began "
                      << ms(s->t_enter - a->t_acq) << " before, ttl " << ms(a->ttl) << ")";
                }
                record(live <= limit ? "expired" : fault_kind(), d.str());
            }
            active.push_back(s);
        }
    }
}

// Per name, over the fenced sections: the largest fence among the acquisitions that had
// returned before this one began must be smaller than this one's.
void HistoryChecker::check_fence_order(Verdict& v) const {
    std::map<std::string, std::vector<const Section*>> by_name;
    for (const auto& s : sections_) {
        if (s.fence > 0) by_name[s.name].push_back(&s);
    }
    for (auto& [name, list] : by_name) {
        std::vector<const Section*> by_enter = list, by_acq = list;
        std::sort(by_enter.begin(), by_enter.end(),
                  [](const Section* a, const Section* b) { return a->t_enter < b->t_enter; });
        std::sort(by_acq.begin(), by_acq.end(),
                  [](const Section* a, const Section* b) { return a->t_acq < b->t_acq; });
        const Section* best = nullptr;  // largest fence among those entered so far
        std::size_t entered = 0;
        for (const Section* b : by_acq) {
            while (entered < by_enter.size() && by_enter[entered]->t_enter < b->t_acq) {
                const Section* a = by_enter[entered++];
                if (!best || a->fence > best->fence) best = a;
            }
            if (!best || best->fence < b->fence) continue;
            if (lossy_between(best->t_acq, b->t_enter)) {
                ++v.fences_out_of_order_explained;
                continue;
            }
            ++v.fences_out_of_order;
            v.details.push_back("FENCE out of order on " + name + ": " + b->holder + " fence " +
                                std::to_string(b->fence) + " after " + best->holder +
                                " had fence " + std::to_string(best->fence) + " " +
                                ms(b->t_acq - best->t_enter) + " before");
        }
    }
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

    check_overlaps(v);
    check_fence_order(v);

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
