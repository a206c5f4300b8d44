// lock_events.hpp (private): the one emitter of a Lock's observer events and log lines.
//
// Each event has one call site: Acquired/NotAcquired at the end of Lock::acquire (through
// AcquireReport), Released/Lost in the Hold's transitions (hold.hpp: each hold ends once),
// Extended in extend() and the renewal loop, Shortfall where WAIT confirmed too few replicas,
// WakeupPassedOn where a wait room leaves with an unused wake-up (and wakeups.cpp for
// wake-ups that arrive after every waiter left). With no observer, each costs a pointer test;
// with one, a clock read at most and a virtual call, no allocation. An observer's exception is
// caught and counted here (dlock/observer.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "dlock/observer.hpp"
#include "net/asio.hpp"

namespace dlock::detail {

struct ObserverAccess {
    static void count_exception(Observer& observer) noexcept {
        observer.caught_.fetch_add(1, std::memory_order_relaxed);
    }
};

// Logs that an observer threw on an event of `lock_name`.
void note_observer_failure(std::string_view lock_name) noexcept;

// Calls `observer.*method(event)`; an exception is caught, counted and logged.
template <class Event>
void notify_observer(Observer& observer, void (Observer::*method)(const Event&),
                     const Event& event) noexcept {
    try {
        (observer.*method)(event);
    } catch (...) {
        ObserverAccess::count_exception(observer);
        note_observer_failure(event.lock_name);
    }
}

class LockEvents {
  public:
    // `name` must outlive this object (the LockSpec's name).
    LockEvents(std::shared_ptr<Observer> observer, std::string_view name)
        : observer_(std::move(observer)), name_(name) {}

    // A hold began (acquired or adopted): the start of its hold time.
    void hold_began() noexcept {
        if (observer_) held_since_ = Clock::now();
    }
    void released() const noexcept {
        if (observer_)
            notify_observer(*observer_, &Observer::on_released, Released{name_, held_for()});
    }
    void lost(LostReason reason) const noexcept;  // also logged (warning)
    void extended(bool renewal) const noexcept {
        if (observer_)
            notify_observer(*observer_, &Observer::on_extended, Extended{name_, renewal});
    }
    // Also logged (warning). Only an acquisition's makes the attempt count as short.
    void shortfall(std::size_t needed, long long confirmed,
                   ReplicatedWrite write = ReplicatedWrite::acquisition) noexcept;
    void wakeup_passed_on() const noexcept {
        if (observer_)
            notify_observer(*observer_, &Observer::on_wakeup_passed_on, WakeupPassedOn{name_});
    }

  private:
    friend class AcquireReport;
    Seconds held_for() const noexcept { return Clock::now() - held_since_; }

    std::shared_ptr<Observer> observer_;
    std::string_view name_;
    Clock::time_point held_since_{};
    bool short_attempt_ = false;  // the current acquire()'s last attempt was rolled back by WAIT
};

// One acquire() call, as the observer sees it: exactly one Acquired or NotAcquired. Built
// when the call starts; if the call ends by an exception (or its coroutine is destroyed)
// before saying how it ended, it reports NotAcquired{unavailable}.
class AcquireReport {
  public:
    explicit AcquireReport(LockEvents& events) noexcept : events_(events) {
        if (events_.observer_) started_ = Clock::now();
    }
    ~AcquireReport() {
        if (!done_) not_acquired(NotAcquiredReason::unavailable);
    }
    AcquireReport(const AcquireReport&) = delete;
    AcquireReport& operator=(const AcquireReport&) = delete;

    // A server attempt starts.
    void attempt() noexcept {
        ++attempts_;
        events_.short_attempt_ = false;
    }
    // The call will not report (it refused to start: a usage error).
    void withdraw() noexcept { done_ = true; }
    void acquired(bool woken) noexcept;
    // Returns false, for `co_return report.not_acquired(...)`. A last attempt that too few
    // replicas confirmed makes it `unavailable`, whatever the caller says.
    bool not_acquired(NotAcquiredReason reason) noexcept;

  private:
    LockEvents& events_;
    Clock::time_point started_{};
    std::uint32_t attempts_ = 0;
    bool done_ = false;
};

}  // namespace dlock::detail
