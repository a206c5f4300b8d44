#include "dlock/wire.hpp"

#include "lock/scripts.hpp"
#include "protocol/durations.hpp"

namespace dlock::wire {

Request load_release_script() {
    return Request({"SCRIPT", "LOAD", detail::release_script().source});
}

Request release_request(std::string_view name, std::string_view token) {
    Request request;
    detail::release_call(name, token, "publish").push_to(request, false);
    return request;
}

Request load_acquire_script() {
    return Request({"SCRIPT", "LOAD", detail::acquire_script().source});
}

Request acquire_script_request(std::string_view name, std::string_view token, Seconds ttl) {
    const std::chrono::milliseconds ms = detail::to_timeout_ms(ttl, "ttl");
    Request request;
    detail::acquire_call(name, token, ms, false, nullptr, ms).push_to(request, false);
    return request;
}

}  // namespace dlock::wire
