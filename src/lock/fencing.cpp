// fenced_write: the fence check runs in a server-side script, so "compare with the last fence,
// then write" is atomic against other writers.
#include "dlock/fencing.hpp"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "dlock/errors.hpp"
#include "lock/scripts.hpp"
#include "protocol/keys.hpp"

namespace dlock {

std::string last_fence_key(std::string_view resource_key) {
    return detail::last_fence_key(resource_key);
}

asio::awaitable<bool> fenced_write(Client& resource, std::string_view resource_key,
                                   std::int64_t fence, std::string_view value, Seconds timeout) {
    if (resource_key.empty()) throw std::invalid_argument("resource_key must not be empty");
    if (fence < 0) throw std::invalid_argument("fence must not be negative");
    if (!std::isfinite(timeout.count()) || timeout.count() <= 0 || timeout.count() > 1e9) {
        throw std::invalid_argument("timeout must be a positive finite duration");
    }
    const auto deadline =
        detail::Clock::now() + std::chrono::duration_cast<detail::Clock::duration>(timeout);
    const std::string fence_key = detail::last_fence_key(resource_key);
    const std::string fence_text = std::to_string(fence);
    const std::vector<std::string_view> keys{resource_key, fence_key}, args{fence_text, value};
    // EVALSHA first; EVAL once when the server does not know the script yet.
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool full = attempt == 1;
        detail::Request request;
        detail::push_script(request, detail::fenced_write_script(), keys, args, full);
        auto replies = co_await resource.execute_for_key(resource_key, request, deadline);
        const Reply& reply = replies.front();
        if (!full && reply.is_error() && reply.str.rfind("NOSCRIPT", 0) == 0) continue;
        co_return reply.value().integer == 1;
    }
    throw ProtocolError("unreachable: script retry loop");
}

}  // namespace dlock
