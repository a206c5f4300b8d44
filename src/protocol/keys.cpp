#include "protocol/keys.hpp"

#include <charconv>
#include <initializer_list>
#include <utility>

#include "protocol/slots.hpp"

namespace dlock::detail {

std::string CompanionName::operator()(std::string_view lock_name) const {
    return companion_key(prefix, lock_name);
}

LockCompanionKeys lock_companion_keys(std::string_view lock_name) {
    const std::string& tag = slot_tag(key_slot(lock_name));
    return {tagged_key(fence_key.prefix, tag, lock_name),
            tagged_key(wait_queue_key.prefix, tag, lock_name),
            tagged_key(handoff_key.prefix, tag, lock_name)};
}

void lock_companion_keys_into(LockCompanionKeys& keys, std::string_view lock_name) {
    const std::string& tag = slot_tag(key_slot(lock_name));
    assign_tagged_key(keys.fence, fence_key.prefix, tag, lock_name);
    assign_tagged_key(keys.queue, wait_queue_key.prefix, tag, lock_name);
    assign_tagged_key(keys.handoff, handoff_key.prefix, tag, lock_name);
}

namespace {

// The next ':'-terminated field of `rest` (consumed), if it is non-empty and every character
// passes `allowed`.
template <class Allowed>
std::optional<std::string_view> take_field(std::string_view& rest, Allowed allowed) {
    const auto end = rest.find(':');
    if (end == std::string_view::npos || end == 0) return std::nullopt;
    const std::string_view field = rest.substr(0, end);
    for (const char c : field)
        if (!allowed(c)) return std::nullopt;
    rest.remove_prefix(end + 1);
    return field;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

template <class Number>
std::optional<Number> to_number(std::string_view digits) {
    if (digits.size() > 18) return std::nullopt;  // no overflow
    Number value = 0;
    for (const char c : digits) value = value * 10 + (c - '0');
    return value;
}

}  // namespace

std::optional<HandoffMessage> parse_handoff_message(std::string_view message) {
    if (!message.starts_with(handoff_message_prefix)) return std::nullopt;
    std::string_view rest = message.substr(handoff_message_prefix.size());
    const auto token = take_field(rest, is_hex);
    const auto seq = take_field(rest, is_digit);
    const auto px = take_field(rest, is_digit);
    const auto fence = take_field(rest, is_digit);
    if (!token || !seq || !px || !fence || rest.empty()) return std::nullopt;
    const auto seq_n = to_number<std::uint64_t>(*seq);
    const auto px_n = to_number<std::int64_t>(*px);
    const auto fence_n = to_number<std::int64_t>(*fence);
    if (!seq_n || !px_n || !fence_n) return std::nullopt;
    return HandoffMessage{*token, *seq_n, *px_n, *fence_n, rest};
}

namespace {

// The NAME of "PREFIX{tag}:NAME" for one of `kinds`, else empty.
std::optional<std::string> strip_companion(std::string_view key,
                                           std::initializer_list<CompanionName> kinds) {
    for (const CompanionName& kind : kinds) {
        if (!key.starts_with(kind.prefix) || !key.substr(kind.prefix.size()).starts_with('{'))
            continue;
        const auto end = key.find("}:", kind.prefix.size());
        if (end == std::string_view::npos) return std::nullopt;
        return std::string(key.substr(end + 2));
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> lock_name_of(std::string_view key) {
    auto name = strip_companion(
        key, {holder_key, fence_key, wait_queue_key, handoff_key, semaphore_holders_key,
              readers_key, writers_waiting_key, readers_waiting_key, readers_turn_key});
    // The wait queue of a semaphore or of a read/write lock's readers or writers is the queue
    // of its wait name ("dlock:queue:{t}:dlock:sem-wait:{t}:NAME"): that NAME is the one.
    if (name && key.starts_with(wait_queue_key.prefix)) {
        if (auto inner =
                strip_companion(*name, {semaphore_wait_name, reader_wait_name, writer_wait_name}))
            name = std::move(inner);
    }
    return name;
}

std::string inbox_channel(std::string_view process_id, std::optional<std::uint16_t> slot) {
    std::string out(inbox_channel_prefix);
    if (slot) out += "{" + slot_tag(*slot) + "}:";
    out += process_id;
    return out;
}

namespace {
constexpr std::string_view semaphore_marker_prefix = "dlock-kind:semaphore:";
}  // namespace

std::string semaphore_marker(std::size_t permits) {
    return std::string(semaphore_marker_prefix) + std::to_string(permits);
}

std::optional<std::size_t> permits_of_marker(std::string_view value) {
    if (!value.starts_with(semaphore_marker_prefix)) return std::nullopt;
    const std::string_view digits = value.substr(semaphore_marker_prefix.size());
    std::size_t permits = 0;
    const auto [end, error] =
        std::from_chars(digits.data(), digits.data() + digits.size(), permits);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size())
        return std::nullopt;
    return permits;
}

KindOfValue kind_of_value(std::string_view value) {
    if (value == readers_marker) return KindOfValue::readers;
    if (permits_of_marker(value)) return KindOfValue::semaphore;
    return KindOfValue::lock;
}

}  // namespace dlock::detail
