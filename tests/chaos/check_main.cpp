// dlock_chaos_check: judges one scenario's run.
//
//   dlock_chaos_check --scenario NAME --dir DIR [--require KEY>=N,...] [--expect-unsafe]
//   dlock_chaos_check --now
//
// Reads DIR/worker-*.log (histories) and DIR/faults.log, prints one table row
//   ROW|scenario|acquisitions|most inside|overlaps explained|overlaps unexplained|
//       stale accepted|stale refused|fences out of order|hangs|errors
// and the violations on stderr. Exit status 1 on any unexplained overlap, accepted stale
// write, unexplained fence out of order, hang, crashed worker, error of an undocumented type,
// or an unmet --require (KEY: acquisitions, most_holders, stale_refused, overlaps_explained,
// or an error key such as release:LockReleaseError). --expect-unsafe (for deliberately broken runs)
// inverts it: the run passes only if a violation was caught.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "history.hpp"
#include "history_check.hpp"
#include "options.hpp"

namespace {

long value_of(const dlock::chaos::Verdict& v, const std::string& key) {
    if (key == "acquisitions") return v.acquisitions;
    if (key == "most_holders") return v.most_holders;
    if (key == "stale_refused") return v.stale_refused;
    if (key == "overlaps_explained") return v.overlaps_explained;
    auto it = v.errors.find(key);
    return it == v.errors.end() ? 0 : it->second;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        dlock::chaos::Args args(argc, argv);
        // --now: CLOCK_MONOTONIC in ns, for the driver's fault windows (bash has no such clock).
        if (args.flag("now")) {
            std::printf("%lld\n", static_cast<long long>(dlock::chaos::now_ns()));
            return 0;
        }
        const std::string scenario = args.str("scenario", "?");
        const std::filesystem::path dir = args.str("dir");
        dlock::chaos::HistoryChecker checker;
        for (const auto& entry : std::filesystem::directory_iterator(dir)) {
            const std::string file = entry.path().filename().string();
            if (file.rfind("worker-", 0) == 0) {
                std::ifstream in(entry.path());
                checker.add_history(in);
            }
        }
        if (std::ifstream faults(dir / "faults.log"); faults) checker.add_faults(faults);
        const auto v = checker.check();

        std::ostringstream errors;
        for (const auto& [key, count] : v.errors) errors << key << "=" << count << " ";
        if (v.crashes) errors << "worker:crash=" << v.crashes << " ";
        std::string error_text = errors.str();
        if (error_text.empty()) error_text = "-";
        std::string explained = std::to_string(v.overlaps_explained);
        if (!v.explanations.empty()) {
            explained += " (";
            bool first = true;
            for (const auto& [why, n] : v.explanations) {
                explained += (first ? "" : " ") + why + "=" + std::to_string(n);
                first = false;
            }
            explained += ")";
        }
        std::string fences = std::to_string(v.fences_out_of_order);
        if (v.fences_out_of_order_explained > 0) {
            fences += " (" + std::to_string(v.fences_out_of_order_explained) + " after lossy)";
        }
        std::printf("ROW|%s|%ld|%ld|%s|%ld|%ld|%ld|%s|%ld|%s\n", scenario.c_str(), v.acquisitions,
                    v.most_holders, explained.c_str(), v.overlaps_unexplained, v.stale_accepted,
                    v.stale_refused, fences.c_str(), v.hangs, error_text.c_str());

        const std::size_t shown = 8;
        for (std::size_t i = 0; i < v.details.size() && i < shown; ++i) {
            std::fprintf(stderr, "  %s: %s\n", scenario.c_str(), v.details[i].c_str());
        }
        if (v.details.size() > shown) {
            std::fprintf(stderr, "  %s: ... %zu more\n", scenario.c_str(),
                         v.details.size() - shown);
        }

        bool ok = true;
        std::stringstream requirements(args.str("require"));
        for (std::string r; std::getline(requirements, r, ',');) {
            const auto at = r.find(">=");
            if (at == std::string::npos) continue;
            const std::string key = r.substr(0, at);
            const long want = std::stol(r.substr(at + 2));
            if (value_of(v, key) < want) {
                std::fprintf(stderr, "  %s: FAILED requirement %s (got %ld)\n", scenario.c_str(),
                             r.c_str(), value_of(v, key));
                ok = false;
            }
        }
        const bool unsafe =
            v.overlaps_unexplained > 0 || v.stale_accepted > 0 || v.fences_out_of_order > 0;
        if (args.flag("expect-unsafe")) {
            if (!unsafe)
                std::fprintf(stderr, "  %s: FAILED: the broken run was not caught\n",
                             scenario.c_str());
            return ok && unsafe ? 0 : 1;
        }
        if (unsafe || v.hangs > 0 || v.crashes > 0 || v.undocumented_errors > 0) ok = false;
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dlock_chaos_check: %s\n", e.what());
        return 2;
    }
}
