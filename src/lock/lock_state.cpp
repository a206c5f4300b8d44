// Small steps shared by the Lock's operations (see lock_state.hpp).
#include "lock/lock_state.hpp"

#include <asio.hpp>
#include <cmath>

namespace dlock::detail {

asio::awaitable<Reply> run_script(LockState& state, const Script& script,
                                  const std::vector<std::string_view>& keys,
                                  const std::vector<std::string_view>& args, Deadline deadline,
                                  std::shared_ptr<Connection>* used, bool send_source) {
    for (int attempt = send_source ? 1 : 0; attempt < 2; ++attempt) {
        const bool full = attempt == 1;
        Request request;
        push_script(request, script, keys, args, full);
        auto replies = co_await state.client->execute_for_key(state.name, request, deadline, used);
        Reply& reply = replies.front();
        if (!full && reply.is_error() && reply.str.rfind("NOSCRIPT", 0) == 0) continue;
        reply.value();
        co_return std::move(reply);
    }
    throw ProtocolError("unreachable: script retry loop");
}

void wake_lost_waiters(LockState& state, bool lost) {
    for (auto& waiter : std::exchange(state.lost_waiters, {})) {
        waiter->lost = lost;
        waiter->timer.cancel();
    }
}

void stop_renewal(LockState& state) {
    ++state.hold_generation;
    if (state.renew_timer) state.renew_timer->cancel();
    state.renew_timer.reset();
}

void mark_lost(LockState& state) {
    state.lost = true;
    wake_lost_waiters(state, true);
    if (state.options.on_lost) state.options.on_lost();
}

}  // namespace dlock::detail
