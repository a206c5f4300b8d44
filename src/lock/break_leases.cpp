// dlock::break_leases: ends every permit of a semaphore, or every reader of a read/write lock,
// that holds a name (`dlock break`, `release --force`), in one script that reads key NAME's
// marker (protocol/keys.hpp) to know which kind to break.
#include <cmath>
#include <stdexcept>

#include "client/backend.hpp"
#include "dlock/inspect.hpp"
#include "lock/eval.hpp"
#include "lock/hand_on_lua.hpp"
#include "lock/lease_lua.hpp"
#include "protocol/keys.hpp"

namespace dlock {

namespace {

// The holders lose their leases (their renewals and releases then find them gone: the lock-lost
// signal), and the waiters that may now go in are woken: as many permits as the semaphore had,
// one writer and one reader, and one process waiting for a Lock of the name.
const detail::Script& break_leases_script() {
    static const std::string source =
        std::string(detail::hand_on_lua) + detail::lease_lua_prelude + R"lua(
local now = now_ms()
local value = redis.pcall('get', KEYS[1])
local permits = marker_permits(value)
local ended
if permits then
  ended = prune(KEYS[2], now)
  redis.call('del', KEYS[1], KEYS[2])
  wake(ARGV[4], ARGV[1], ARGV[3], permits)
elseif value == readers_marker then
  ended = prune(KEYS[3], now)
  redis.call('del', KEYS[1], KEYS[3])
  wake(ARGV[6], ARGV[1], ARGV[5], 1)
  wake(ARGV[8], ARGV[1], ARGV[7], 1)
else
  return -1
end
wake(ARGV[2], ARGV[1], KEYS[1], 1)
return ended
)lua";
    static const detail::Script script(source);
    return script;
}

detail::ScriptCall break_leases_call(std::string_view name, std::string_view notify) {
    using namespace detail;
    // KEYS[1] key NAME, KEYS[2] semaphore holders, KEYS[3] readers; ARGV[1] notify command,
    // ARGV[2] a Lock's wait queue, ARGV[3..4] the semaphore's wait name and queue, ARGV[5..6]
    // the writers', ARGV[7..8] the readers'.
    const std::string sem = semaphore_wait_name(name), writers = writer_wait_name(name),
                      readers = reader_wait_name(name);
    return {&break_leases_script(),
            {std::string(name), semaphore_holders_key(name), readers_key(name)},
            {std::string(notify), wait_queue_key(name), sem, wait_queue_key(sem), writers,
             wait_queue_key(writers), readers, wait_queue_key(readers)}};
}

}  // namespace

asio::awaitable<std::optional<std::size_t>> break_leases(Client& client, std::string name,
                                                         Seconds timeout) {
    if (name.empty()) throw std::invalid_argument("name must not be empty");
    if (!std::isfinite(timeout.count()) || timeout.count() <= 0 || timeout.count() > 1e9)
        throw std::invalid_argument("timeout must be a positive finite duration");
    const auto deadline =
        detail::Clock::now() + std::chrono::duration_cast<detail::Clock::duration>(timeout);
    detail::Backend& backend = detail::backend_of(client);
    const Reply reply =
        co_await detail::eval(backend, break_leases_call(name, backend.notify_command()), deadline);
    const long long ended = reply.value().integer;
    if (ended < 0) co_return std::nullopt;
    co_return static_cast<std::size_t>(ended);
}

}  // namespace dlock
