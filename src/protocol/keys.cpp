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
