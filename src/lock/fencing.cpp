// fenced_write: the fence check runs in a server-side script, so "compare with the last fence,
// then write" is atomic against other writers.
#include "dlock/fencing.hpp"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "client/backend.hpp"
#include "dlock/errors.hpp"
#include "lock/eval.hpp"
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
    const detail::ScriptCall call = detail::fenced_write_call(resource_key, fence, value);
    const Reply reply = co_await detail::eval(detail::backend_of(resource), call, deadline);
    co_return reply.value().integer == 1;
}

}  // namespace dlock
