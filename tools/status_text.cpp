#include "status_text.hpp"

#include <cmath>
#include <sstream>

namespace dlock::cli {

namespace {

long long to_ms(Seconds time) {
    return static_cast<long long>(std::llround(time.count() * 1000.0));
}

// "12 s" (whole seconds from 10 s on), "3.2 s" below.
std::string seconds_text(Seconds time) {
    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(time < Seconds(10) ? 1 : 0);
    out << time.count() << " s";
    return out.str();
}

}  // namespace

std::string json_string(const std::string& text) {
    std::ostringstream out;
    out << '"';
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out << '\\' << c;
        } else if (byte < 0x20) {
            static constexpr char hex[] = "0123456789abcdef";
            out << "\\u00" << hex[byte >> 4] << hex[byte & 15];
        } else {
            out << c;
        }
    }
    out << '"';
    return out.str();
}

std::string describe_holder(const LockInspection& seen) {
    if (!seen.holder) return "an unknown holder";
    std::string out = seen.holder->host + ":" + std::to_string(seen.holder->pid);
    if (!seen.holder->label.empty()) out += " (\"" + seen.holder->label + "\")";
    if (seen.held_for) out += " for " + seconds_text(*seen.held_for);
    return out;
}

std::string describe(const LockInspection& seen, bool queue_known) {
    std::string out;
    if (!seen.held) {
        out = "free";
        if (seen.last_fence) out += " (last fence " + std::to_string(*seen.last_fence) + ")";
        return out;
    }
    out = seen.holder ? "held by " + describe_holder(seen) : "held (holder unknown)";
    out += seen.ttl ? ", expires in " + seconds_text(*seen.ttl) : ", no expiry";
    if (seen.last_fence) out += ", fence " + std::to_string(*seen.last_fence);
    if (queue_known && seen.waiting > 0) out += ", " + std::to_string(seen.waiting) + " waiting";
    return out;
}

std::string to_json(const std::string& name, const LockInspection& seen, bool queue_known) {
    std::ostringstream out;
    out << "{\"name\":" << json_string(name) << ",\"held\":" << (seen.held ? "true" : "false")
        << ",\"ttl_ms\":"
        << (seen.ttl    ? std::to_string(to_ms(*seen.ttl))
            : seen.held ? "-1"
                        : "null")
        << ",\"holder\":";
    if (seen.holder) {
        const auto since = std::chrono::duration_cast<std::chrono::milliseconds>(
            seen.holder->since.time_since_epoch());
        out << "{\"host\":" << json_string(seen.holder->host) << ",\"pid\":" << seen.holder->pid
            << ",\"label\":" << json_string(seen.holder->label) << ",\"since_ms\":" << since.count()
            << "}";
    } else {
        out << "null";
    }
    out << ",\"held_for_ms\":" << (seen.held_for ? std::to_string(to_ms(*seen.held_for)) : "null")
        << ",\"fence\":" << (seen.last_fence ? std::to_string(*seen.last_fence) : "null")
        << ",\"waiting\":" << (queue_known ? std::to_string(seen.waiting) : "null") << "}";
    return out.str();
}

}  // namespace dlock::cli
