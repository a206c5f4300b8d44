// notification.hpp (private): the one "wait until something happened, or a deadline" primitive.
//
// Notify once, wake every waiter; a notify() that happens before a wait() is not lost; each
// waiter has its own deadline. An outcome that several coroutines await (a connect attempt, a
// slot-map read, a request's replies, the end of a hold, a fan-out to N nodes) is a
// Notification plus the outcome's own fields, shared by pointer, so a waiter reads the outcome
// of the event it waited for and never the state of a later one. A wake-up that is consumed and
// can come again (a subscriber's waiter) is the same Notification, re-armed by reset().
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/system_error.hpp>

#include "net/asio.hpp"

namespace dlock::detail {

class Notification {
  public:
    explicit Notification(asio::any_io_executor executor) : executor_(std::move(executor)) {}
    Notification(const Notification&) = delete;
    Notification& operator=(const Notification&) = delete;

    // Wakes every waiter, now and later (until reset()). Idempotent.
    void notify() {
        notified_ = true;
        for (Waiting* waiting = first_; waiting != nullptr; waiting = waiting->next) {
            waiting->timer.cancel();
        }
    }
    bool notified() const noexcept { return notified_; }
    // Re-arms it: the next wait() sleeps until the next notify(). Only for the one coroutine
    // that waits on it, right after its wait() returned (a second waiter could miss the wake).
    void reset() noexcept { notified_ = false; }

    // Returns true once notified (at once if it already was), false when `deadline` passes
    // first. Throws asio::system_error(operation_aborted) when the waiting coroutine is cancelled
    // (e.g. the losing side of `a || b`): that is neither. The Notification must outlive the
    // wait (share it by pointer).
    asio::awaitable<bool> wait(Deadline deadline) {
        if (notified_) co_return true;
        // Linked into the list in this coroutine's frame: a wait allocates nothing but its frame
        // (a connection waits once per request).
        Waiting waiting(executor_, deadline, *this);
        auto [ec] = co_await waiting.timer.async_wait(use_tuple);
        if (notified_) co_return true;
        if (ec == asio::error::operation_aborted) throw asio::system_error(ec);
        co_return false;
    }

  private:
    // One wait in progress; unlinks itself however the wait ends.
    struct Waiting {
        Waiting(const asio::any_io_executor& executor, Deadline deadline, Notification& owner)
            : timer(executor, deadline), owner(owner), next(owner.first_) {
            if (next != nullptr) next->prev = this;
            owner.first_ = this;
        }
        ~Waiting() {
            (prev != nullptr ? prev->next : owner.first_) = next;
            if (next != nullptr) next->prev = prev;
        }
        Waiting(const Waiting&) = delete;
        Waiting& operator=(const Waiting&) = delete;

        asio::steady_timer timer;
        Notification& owner;
        Waiting* next;
        Waiting* prev = nullptr;
    };

    asio::any_io_executor executor_;
    Waiting* first_ = nullptr;
    bool notified_ = false;
};

// An outcome that is one fact (the end of a hold: released or lost; the next failover:
// followed, or the client closed instead): set `outcome`, then notify `done`.
template <class Outcome>
struct Ending {
    explicit Ending(const asio::any_io_executor& executor) : done(executor) {}
    Notification done;
    Outcome outcome{};
};

}  // namespace dlock::detail
