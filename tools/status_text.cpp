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

// "3 s, 29 s": the leases' remaining lives.
std::string leases_text(const std::vector<Seconds>& leases) {
    std::string out;
    for (const Seconds lease : leases) out += (out.empty() ? "" : ", ") + seconds_text(lease);
    return out;
}

// "1 reader", "2 readers".
std::string count_text(std::size_t count, const char* one, const char* many) {
    return std::to_string(count) + " " + (count == 1 ? one : many);
}

// "semaphore of 4 permits: 2 held (leases end in 3 s, 29 s), 1 waiting".
std::string describe_semaphore(const SemaphoreInspection& semaphore) {
    std::string out = "semaphore";
    if (semaphore.permits) out += " of " + count_text(*semaphore.permits, "permit", "permits");
    out += ": " + std::to_string(semaphore.leases.size()) + " held";
    if (!semaphore.leases.empty()) out += " (leases end in " + leases_text(semaphore.leases) + ")";
    if (semaphore.waiting > 0) out += ", " + count_text(semaphore.waiting, "waiting", "waiting");
    return out;
}

// "3 readers (leases end in 2 s, 9 s, 30 s), 1 writer waiting, 2 readers waiting".
std::string describe_readers(const ReadWriteInspection& rw) {
    std::string out =
        rw.readers.empty() ? "no readers" : count_text(rw.readers.size(), "reader", "readers");
    if (!rw.readers.empty()) out += " (leases end in " + leases_text(rw.readers) + ")";
    if (rw.writers_waiting > 0)
        out += ", " + count_text(rw.writers_waiting, "writer waiting", "writers waiting");
    if (rw.readers_waiting > 0)
        out += ", " + count_text(rw.readers_waiting, "reader waiting", "readers waiting");
    return out;
}

// "lock", "semaphore", "readers", or null when nobody holds the name.
std::string held_as_json(HeldAs kind) {
    switch (kind) {
        case HeldAs::lock:
            return "\"lock\"";
        case HeldAs::semaphore:
            return "\"semaphore\"";
        case HeldAs::readers:
            return "\"readers\"";
        case HeldAs::nobody:
            break;
    }
    return "null";
}

// [{"ttl_ms":MS},...]
std::string leases_json(const std::vector<Seconds>& leases) {
    std::string out = "[";
    for (const Seconds lease : leases) {
        if (out.size() > 1) out += ',';
        out += "{\"ttl_ms\":" + std::to_string(to_ms(lease)) + "}";
    }
    return out + "]";
}

// Whether key NAME holds a token: a Lock, a writer, another client's lock.
bool held_as_lock(const LockInspection& seen) {
    return seen.held && seen.held_as == HeldAs::lock;
}

std::string describe_lock(const LockInspection& seen, bool queue_known) {
    std::string out;
    if (!held_as_lock(seen)) {
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
    // A semaphore or read/write lock: its own state first; the plain lock's part only where it
    // says something (a held key, waiters), and for a read/write lock that is its writer.
    std::string out;
    if (seen.semaphore) out = describe_semaphore(*seen.semaphore);
    if (seen.read_write) {
        out += (out.empty() ? "" : "; ") + describe_readers(*seen.read_write);
        out += "; writer " +
               (held_as_lock(seen) ? describe_lock(seen, queue_known) : std::string("free"));
        return out;
    }
    if (!out.empty() && !held_as_lock(seen) && seen.waiting == 0) return out;
    return out + (out.empty() ? "" : "; lock ") + describe_lock(seen, queue_known);
}

std::string to_json(const std::string& name, const LockInspection& seen, bool queue_known) {
    std::ostringstream out;
    out << "{\"name\":" << json_string(name) << ",\"held\":" << (seen.held ? "true" : "false")
        << ",\"held_as\":" << held_as_json(seen.held_as) << ",\"ttl_ms\":"
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
        << ",\"waiting\":" << (queue_known ? std::to_string(seen.waiting) : "null")
        << ",\"semaphore\":";
    if (seen.semaphore) {
        const SemaphoreInspection& semaphore = *seen.semaphore;
        out << "{\"permits\":"
            << (semaphore.permits ? std::to_string(*semaphore.permits) : std::string("null"))
            << ",\"holders\":" << leases_json(semaphore.leases)
            << ",\"waiting\":" << semaphore.waiting << "}";
    } else {
        out << "null";
    }
    out << ",\"read_write\":";
    if (seen.read_write) {
        out << "{\"readers\":" << leases_json(seen.read_write->readers)
            << ",\"readers_waiting\":" << seen.read_write->readers_waiting
            << ",\"writers_waiting\":" << seen.read_write->writers_waiting << "}";
    } else {
        out << "null";
    }
    out << "}";
    return out.str();
}

}  // namespace dlock::cli
