// Small steps shared by the Lock's operations (see lock_state.hpp).
#include "lock/lock_state.hpp"

#include <asio.hpp>
#include <cmath>

namespace dlock::detail {

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
