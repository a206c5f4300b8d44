// notification.hpp (private): the one "wait until something happened, or a deadline" primitive.
//
// Notify once, wake every waiter; a notify() that happens before a wait() is not lost; each
// waiter has its own deadline. An outcome that several coroutines await (a connect attempt, a
// slot-map read, the end of a hold, a fan-out to N nodes) is a Notification plus the outcome's
// own fields, shared by pointer, so a waiter reads the outcome of the event it waited for and
// never the state of a later one.
#pragma once

#include <algorithm>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/system_error.hpp>
#include <vector>

#include "net/asio.hpp"

namespace dlock::detail {

class Notification {
  public:
    explicit Notification(asio::any_io_executor executor) : executor_(std::move(executor)) {}
    Notification(const Notification&) = delete;
    Notification& operator=(const Notification&) = delete;

    // Wakes every waiter, now and later. Idempotent.
    void notify() {
        notified_ = true;
        for (asio::steady_timer* waiter : waiters_) waiter->cancel();
    }
    bool notified() const noexcept { return notified_; }

    // Returns true once notified (at once if it already was), false when `deadline` passes
    // first. Throws asio::system_error(operation_aborted) when the waiting coroutine is cancelled
    // (e.g. the losing side of `a || b`): that is neither. The Notification must outlive the
    // wait (share it by pointer).
    asio::awaitable<bool> wait(Deadline deadline) {
        if (notified_) co_return true;
        asio::steady_timer timer(executor_, deadline);
        waiters_.push_back(&timer);
        auto [ec] = co_await timer.async_wait(use_tuple);
        std::erase(waiters_, &timer);
        if (notified_) co_return true;
        if (ec == asio::error::operation_aborted) throw asio::system_error(ec);
        co_return false;
    }

  private:
    asio::any_io_executor executor_;
    std::vector<asio::steady_timer*> waiters_;
    bool notified_ = false;
};

}  // namespace dlock::detail
