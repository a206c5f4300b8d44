#include "dlock/wire.hpp"

#include "lock/scripts.hpp"

namespace dlock::wire {

Request load_release_script() {
    return Request({"SCRIPT", "LOAD", detail::release_script().source});
}

Request release_request(std::string_view name, std::string_view token) {
    Request request;
    detail::release_call(name, token, "publish").push_to(request, false);
    return request;
}

}  // namespace dlock::wire
