// dlock::inspect: one read-only script (scripts.cpp, inspect_call) and the decoding of its reply.
#include "dlock/inspect.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

#include "client/backend.hpp"
#include "dlock/errors.hpp"
#include "lock/eval.hpp"
#include "protocol/keys.hpp"

namespace dlock {

namespace {

using std::chrono::milliseconds;

std::optional<std::int64_t> parse_integer(const std::string& text) {
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

const Reply& element(const Reply& reply, std::size_t index) {
    if (!reply.is_array() || reply.elements.size() <= index)
        throw ProtocolError("unexpected reply to the inspection script: " + reply.to_string());
    return reply.elements[index];
}

// The record's [host, pid, label, since]; nothing when it is absent or malformed (a record
// written by hand or by a future version: "unknown" rather than a failed inspection).
std::optional<HolderRecord> decode_holder(const Reply& record) {
    if (!record.is_array() || record.elements.size() < 4) return std::nullopt;
    const auto pid = parse_integer(record.elements[1].str);
    const auto since_ms = parse_integer(record.elements[3].str);
    if (!pid || !since_ms) return std::nullopt;
    HolderRecord holder;
    holder.host = record.elements[0].str;
    holder.pid = *pid;
    holder.label = record.elements[2].str;
    holder.since = std::chrono::system_clock::time_point(milliseconds(*since_ms));
    return holder;
}

std::size_t count_of(const Reply& reply) {
    return reply.integer > 0 ? static_cast<std::size_t>(reply.integer) : 0;
}

// [remaining ms, ...] of live leases, soonest first.
std::vector<Seconds> decode_leases(const Reply& leases) {
    std::vector<Seconds> out;
    if (!leases.is_array()) return out;
    for (const Reply& left : leases.elements)
        out.push_back(std::chrono::duration_cast<Seconds>(milliseconds(left.integer)));
    return out;
}

// [permit count or nil, leases, queued] or nil.
std::optional<SemaphoreInspection> decode_semaphore(const Reply& reply) {
    if (!reply.is_array() || reply.elements.size() < 3) return std::nullopt;
    SemaphoreInspection out;
    if (reply.elements[0].is_string()) {
        const auto permits = parse_integer(reply.elements[0].str);
        if (permits && *permits > 0) out.permits = static_cast<std::size_t>(*permits);
    }
    out.leases = decode_leases(reply.elements[1]);
    out.waiting = count_of(reply.elements[2]);
    return out;
}

// [reader leases, queued readers, queued writers] or nil.
std::optional<ReadWriteInspection> decode_read_write(const Reply& reply) {
    if (!reply.is_array() || reply.elements.size() < 3) return std::nullopt;
    ReadWriteInspection out;
    out.readers = decode_leases(reply.elements[0]);
    out.readers_waiting = count_of(reply.elements[1]);
    out.writers_waiting = count_of(reply.elements[2]);
    return out;
}

}  // namespace

asio::awaitable<LockInspection> inspect(Client& client, std::string name, Seconds timeout) {
    if (name.empty()) throw std::invalid_argument("name must not be empty");
    if (!std::isfinite(timeout.count()) || timeout.count() <= 0 || timeout.count() > 1e9)
        throw std::invalid_argument("timeout must be a positive finite duration");
    const auto deadline =
        detail::Clock::now() + std::chrono::duration_cast<detail::Clock::duration>(timeout);
    const Reply reply =
        co_await detail::eval(detail::backend_of(client), detail::inspect_call(name), deadline);
    reply.value();

    LockInspection out;
    out.held = element(reply, 0).integer == 1;
    const long long pttl = element(reply, 1).integer;
    if (out.held && pttl >= 0) out.ttl = std::chrono::duration_cast<Seconds>(milliseconds(pttl));
    out.holder = decode_holder(element(reply, 2));
    if (out.holder) {
        const auto now =
            std::chrono::system_clock::time_point(milliseconds(element(reply, 5).integer));
        out.held_for = std::chrono::duration_cast<Seconds>(
            std::max(now - out.holder->since, std::chrono::system_clock::duration::zero()));
    }
    const Reply& fence = element(reply, 3);
    if (fence.is_string()) out.last_fence = parse_integer(fence.str);
    out.waiting = count_of(element(reply, 4));
    out.semaphore = decode_semaphore(element(reply, 6));
    out.read_write = decode_read_write(element(reply, 7));
    if (out.held) {
        const Reply& marker = element(reply, 8);
        const auto kind =
            marker.is_string() ? detail::kind_of_value(marker.str) : detail::KindOfValue::lock;
        out.held_as = kind == detail::KindOfValue::semaphore ? HeldAs::semaphore
                      : kind == detail::KindOfValue::readers ? HeldAs::readers
                                                             : HeldAs::lock;
    }
    co_return out;
}

std::optional<std::string> lock_name_of_key(std::string_view key) {
    return detail::lock_name_of(key);
}

}  // namespace dlock
