// renewal_schedule.hpp (private, sans-IO): when an auto-renewed lock renews next.
//
// Each hold renews every renew_interval, counted from its own acquisition, so N locks held by
// one client would renew at N different moments: N round trips per period. Instead the next
// renewal is moved EARLIER, to the grid point just before it, where the grid step is a power
// of two of milliseconds no larger than half the interval. All holds with a step of at least
// that size share those grid points, so their timers expire at the same instant, their
// renewals are queued on the connection in the same turn and leave in one write: about
// interval / step (2-4) round trips per period and connection, however many locks. Renewing
// early is always safe (a renewal never shortens the TTL); a hold renews every
// (interval - step, interval], at most twice as often.
#pragma once

#include <chrono>

namespace dlock::detail {

// The grid step for `interval`: the largest power-of-two milliseconds <= interval / 2, or 0
// (no grid) when the interval is shorter than 2 ms.
inline std::chrono::milliseconds renewal_grid_step(std::chrono::milliseconds interval) {
    const auto half = interval.count() / 2;
    if (half < 1) return std::chrono::milliseconds(0);
    long long step = 1;
    while (step * 2 <= half) step *= 2;
    return std::chrono::milliseconds(step);
}

// The moment to renew a hold whose renewal is due at `due` (last renewal + interval): `due`
// rounded down to the grid of renewal_grid_step(interval) on `Clock`'s epoch.
template <class Clock>
typename Clock::time_point next_renewal(typename Clock::time_point due,
                                        std::chrono::milliseconds interval) {
    const auto step =
        std::chrono::duration_cast<typename Clock::duration>(renewal_grid_step(interval));
    if (step.count() <= 0) return due;
    const auto since_epoch = due.time_since_epoch();
    return typename Clock::time_point(since_epoch - since_epoch % step);
}

}  // namespace dlock::detail
