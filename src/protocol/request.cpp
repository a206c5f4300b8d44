// Request: commands encoded once, at push() (see dlock/request.hpp).
#include "dlock/request.hpp"

#include <stdexcept>
#include <vector>

#include "protocol/resp.hpp"

namespace dlock {

Request& Request::push(std::initializer_list<std::string_view> args) {
    return push(std::span<const std::string_view>(args.begin(), args.size()));
}

Request& Request::push_unanswered(std::initializer_list<std::string_view> args) {
    push(args);
    ++unanswered_;
    return *this;
}

Request& Request::push(std::span<const std::string_view> args) {
    // Redis never answers an empty command: the connection would wait for a reply that never
    // comes and hand the next one to the wrong caller.
    if (args.empty()) throw std::invalid_argument("args must not be empty");
    detail::encode_command(payload_, args);
    ++commands_;
    return *this;
}

Request& Request::push(std::span<const std::string> args) {
    std::vector<std::string_view> views(args.begin(), args.end());
    return push(std::span<const std::string_view>(views));
}

}  // namespace dlock
