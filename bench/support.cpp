// Output and measurement helpers shared by the scenarios (see bench.hpp).
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "bench.hpp"

namespace dlock::bench {

namespace {

std::string quoted(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
                    out += escaped;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

// The value at quantile q of sorted samples (nearest rank).
double quantile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return 0.0;
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace

void JsonLine::key(std::string_view name) {
    if (!body_.empty()) body_ += ",";
    body_ += quoted(name) + ":";
}

JsonLine& JsonLine::add(std::string_view name, std::string_view text) {
    key(name);
    body_ += quoted(text);
    return *this;
}

JsonLine& JsonLine::add(std::string_view name, double number) {
    key(name);
    if (!std::isfinite(number)) {
        body_ += "null";
        return *this;
    }
    char text[64];
    // Three decimals are plenty for microseconds and operations per second.
    std::snprintf(text, sizeof text, "%.3f", number);
    std::string value = text;
    value.erase(value.find_last_not_of('0') + 1);
    if (value.back() == '.') value.pop_back();
    body_ += value;
    return *this;
}

JsonLine& JsonLine::add(std::string_view name, long long number) {
    key(name);
    body_ += std::to_string(number);
    return *this;
}

JsonLine& JsonLine::add(std::string_view name, bool flag) {
    key(name);
    body_ += flag ? "true" : "false";
    return *this;
}

JsonLine& JsonLine::add_raw(std::string_view name, std::string_view json) {
    key(name);
    body_ += json;
    return *this;
}

void print_skipped(std::string_view scenario, std::string_view why) {
    JsonLine line;
    line.add("scenario", scenario).add("impl", "dlock").add("skipped", why);
    std::cout << line.str() << std::endl;
}

void add_percentiles(JsonLine& line, std::vector<double>& samples_us, std::string_view prefix) {
    std::sort(samples_us.begin(), samples_us.end());
    const std::string p(prefix);
    line.add(p + "p50_us", quantile(samples_us, 0.50));
    line.add(p + "p99_us", quantile(samples_us, 0.99));
    line.add(p + "max_us", samples_us.empty() ? 0.0 : samples_us.back());
}

void add_blocking_results(JsonLine& line, std::vector<double>& samples_us, double duration_s,
                          double cpu_us_per_op) {
    line.add("ops_per_s", static_cast<double>(samples_us.size()) / duration_s)
        .add("ops", static_cast<long long>(samples_us.size()));
    add_percentiles(line, samples_us);
    line.add("cpu_us_per_op", cpu_us_per_op);
}

long rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}

double cpu_us() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto us = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
    };
    return us(usage.ru_utime) + us(usage.ru_stime);
}

std::map<std::string, long long> command_calls(const std::string& info) {
    // Lines look like: cmdstat_set:calls=12,usec=40,usec_per_call=3.33,...
    std::map<std::string, long long> calls;
    std::istringstream lines(info);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("cmdstat_", 0) != 0) continue;
        const auto colon = line.find(':');
        const auto value = line.find("calls=");
        if (colon == std::string::npos || value == std::string::npos) continue;
        calls[line.substr(8, colon - 8)] = std::stoll(line.substr(value + 6));
    }
    return calls;
}

CommandDelta command_delta(const std::map<std::string, long long>& before,
                           const std::map<std::string, long long>& after) {
    // Run only inside dlock's scripts in these scenarios: release (GET, DEL, ZPOPMIN, HGET,
    // HDEL, PUBLISH), acquire (GET, TIME, ZADD, PEXPIRE, ZREM, HSET, HGET, HDEL), take-hand-off
    // (GET, PEXPIRE), leave-queue (ZREM, GET, ...).
    static const std::set<std::string, std::less<>> script_only{
        "get",  "del",  "publish", "exists", "time",    "zadd",   "zpopmin",
        "zrem", "hget", "hset",    "hdel",   "persist", "pexpire"};
    CommandDelta delta;
    std::map<std::string, long long, std::less<>> n_by_name;
    for (const auto& [name, calls] : after) {
        if (name == "info" || name.rfind("config", 0) == 0) continue;
        const auto old = before.find(name);
        const long long n = calls - (old == before.end() ? 0 : old->second);
        n_by_name[name] = n;
        delta.all += n;
        if (!script_only.contains(name)) delta.sent += n;
    }
    // SET is both sent plainly (first attempt of a process not yet listening) and run inside
    // scripts: by the acquire script when it succeeds, and by a release that hands the lock to
    // a queued process (its claim marker). Every script here runs GET once per call: the
    // acquire script (ZADD exactly when it fails: a worker process has one waiter, so a
    // success never re-queues), the release (then either DEL, or the marker's SET) and the
    // rare leave-queue. So the SETs run inside scripts are the acquire successes plus the
    // hand-offs: (GET - releases - ZADD) + (releases - DEL) = GET - ZADD - DEL. A direct
    // hand-off swaps the taker's SET for its take-hand-off script's GET: the same count.
    const long long script_sets =
        std::max(0LL, n_by_name["get"] - n_by_name["zadd"] - n_by_name["del"]);
    delta.sent -= std::min(script_sets, n_by_name["set"]);
    return delta;
}

}  // namespace dlock::bench
