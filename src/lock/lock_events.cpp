// The Lock's event emitter (lock_events.hpp) and the observer enums' names.
#include "lock/lock_events.hpp"

#include <array>
#include <string>
#include <string_view>

#include "protocol/enum_names.hpp"
#include "protocol/log.hpp"

namespace dlock {

namespace {
// In the enums' order (observer.hpp).
constexpr std::array<std::string_view, 4> not_acquired_names{"held", "timed_out", "unavailable",
                                                             "abandoned"};
static_assert(detail::names_every(NotAcquiredReason::abandoned, not_acquired_names));
constexpr std::array<std::string_view, 5> lost_names{"renewal_found_gone", "unreachable",
                                                     "release_found_gone", "acquire_found_gone",
                                                     "failover_found_gone"};
static_assert(detail::names_every(LostReason::failover_found_gone, lost_names));
}  // namespace

std::string_view to_string(NotAcquiredReason reason) noexcept {
    return detail::enum_name(reason, not_acquired_names);
}

std::string_view to_string(LostReason reason) noexcept {
    return detail::enum_name(reason, lost_names);
}

namespace detail {

void note_observer_failure(std::string_view lock_name) noexcept {
    if (!log_enabled(LogLevel::warning)) return;
    try {
        log(LogLevel::warning,
            "observer threw on an event of lock '" + std::string(lock_name) + "' (ignored)");
    } catch (...) {
    }
}

void LockEvents::lost(LostReason reason) const noexcept {
    if (log_enabled(LogLevel::warning)) {
        try {
            log(LogLevel::warning,
                "lock '" + std::string(name_) + "' lost (" + std::string(to_string(reason)) + ")");
        } catch (...) {
        }
    }
    if (observer_) notify_observer(*observer_, &Observer::on_lost, Lost{name_, reason, held_for()});
}

void LockEvents::shortfall(std::size_t needed, long long confirmed,
                           ReplicatedWrite write) noexcept {
    if (write == ReplicatedWrite::acquisition) short_attempt_ = true;
    if (log_enabled(LogLevel::warning)) {
        try {
            const char* what = write == ReplicatedWrite::acquisition ? "acquisition rolled back"
                               : write == ReplicatedWrite::extension
                                   ? "extension not confirmed (still held)"
                                   : "release not confirmed (released on the primary)";
            const std::string count =
                confirmed < 0 ? "WAIT failed (" + std::to_string(needed) + " replicas needed)"
                              : std::to_string(confirmed) + " of " + std::to_string(needed) +
                                    " replicas confirmed it";
            log(LogLevel::warning, "lock '" + std::string(name_) + "': " + what + ", " + count);
        } catch (...) {
        }
    }
    if (observer_)
        notify_observer(*observer_, &Observer::on_shortfall,
                        Shortfall{name_, needed, confirmed, write});
}

void AcquireReport::acquired(bool woken) noexcept {
    done_ = true;
    if (!events_.observer_) return;
    notify_observer(*events_.observer_, &Observer::on_acquired,
                    Acquired{events_.name_, Clock::now() - started_, attempts_, woken});
}

bool AcquireReport::not_acquired(NotAcquiredReason reason) noexcept {
    done_ = true;
    if (events_.short_attempt_) reason = NotAcquiredReason::unavailable;
    if (events_.observer_) {
        notify_observer(*events_.observer_, &Observer::on_not_acquired,
                        NotAcquired{events_.name_, reason, Clock::now() - started_, attempts_});
    }
    return false;
}

}  // namespace detail
}  // namespace dlock
