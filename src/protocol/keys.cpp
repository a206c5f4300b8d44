#include "protocol/keys.hpp"

#include "protocol/slots.hpp"

namespace dlock::detail {

std::string fence_key(std::string_view lock_name) {
    return companion_key("dlock:fence:", lock_name);
}

std::string wait_queue_key(std::string_view lock_name) {
    return companion_key("dlock:queue:", lock_name);
}

std::string holder_key(std::string_view lock_name) {
    return companion_key("dlock:holder:", lock_name);
}

std::optional<std::string> lock_name_of(std::string_view key) {
    for (const std::string_view prefix : {"dlock:holder:{", "dlock:fence:{", "dlock:queue:{"}) {
        if (!key.starts_with(prefix)) continue;
        const auto end = key.find("}:", prefix.size());
        if (end == std::string_view::npos) return std::nullopt;
        return std::string(key.substr(end + 2));
    }
    return std::nullopt;
}

std::string inbox_channel(std::string_view process_id, std::optional<std::uint16_t> slot) {
    std::string out = "dlock:inbox:";
    if (slot) out += "{" + slot_tag(*slot) + "}:";
    out += process_id;
    return out;
}

std::string last_fence_key(std::string_view resource_key) {
    return companion_key("dlock:last-fence:", resource_key);
}

}  // namespace dlock::detail
