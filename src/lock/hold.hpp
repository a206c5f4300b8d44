// hold.hpp (private): what one Lock object holds right now, and the only code that changes it.
//
// Invariants, kept by the transitions below (nothing else writes these fields):
//   - no token => no fence, and no renewal running (generation() moved on);
//   - each hold's wait_lost() callers are answered exactly once, with that hold's outcome
//     (lost, or released), never with a later hold's;
//   - a renewal loop acts only while generation() is the one it was started with: release(),
//     a new acquisition, adopt() and destruction all move it on before any I/O.
//
// Its size is most of a held lock's memory (bench/README.md, "Memory"): the end of a hold is
// allocated only when someone waits for it (wait_lost(), a failover watch), and the executor
// comes from the caller, not stored.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "lock/lock_events.hpp"
#include "net/notification.hpp"

namespace dlock::detail {

// The end of one hold, as its wait_lost() callers see it.
enum class HoldOutcome : bool { released, lost };
using HoldEnd = Ending<HoldOutcome>;

class Hold {
  public:
    // `events` hears how each hold ends (released or lost: once per hold, like wait_lost()).
    explicit Hold(LockEvents& events) : events_(events) {}

    const std::optional<std::string>& token() const noexcept { return token_; }
    std::optional<std::int64_t> fence() const noexcept { return fence_; }
    bool lost() const noexcept { return lost_; }
    std::uint64_t generation() const noexcept { return generation_; }

    // A new hold: `token` is on the server now (with `fence` when fencing).
    void begin(std::string token, std::optional<std::int64_t> fence) {
        stop_renewal();
        token_ = std::move(token);
        fence_ = fence;
        lost_ = false;
        in_doubt_ = false;
        answered_ = false;
        end_.reset();
        events_.hold_began();
    }
    // The hold is over: released (no `lost`), or found expired / taken over (why).
    void end(std::optional<LostReason> lost) {
        stop_renewal();
        token_.reset();
        fence_.reset();
        in_doubt_ = false;
        if (!answered_) lost ? events_.lost(*lost) : events_.released();  // not after mark_lost
        answer(
            lost.has_value());  // lost() keeps saying what renewal found, until the next acquire()
    }
    // A hold begun but never reported to the caller (a direct hand-off whose extension failed
    // before acquire() returned): gone without a trace, as if never begun.
    void forget() {
        stop_renewal();
        token_.reset();
        fence_.reset();
        in_doubt_ = false;
        answered_ = true;
        end_.reset();
    }
    // An acquire() starts: nothing is held, and the previous hold's "lost" is forgotten.
    void start_over() noexcept { lost_ = false; }
    // Renewal found the key gone, or could not reach the server before it expired. The token
    // is kept (release() then reports the loss; a new acquire() cleans up).
    void mark_lost(LostReason why) {
        lost_ = true;
        if (!answered_) events_.lost(why);
        answer(true);
    }
    // The object goes away: callers of wait_lost() learn the hold's state as it is.
    void abandon() {
        stop_renewal();
        answer(lost_);
    }

    // A release that may have run on the server although it failed here (timeout, dropped
    // connection): a retry that finds the key gone must say so.
    void release_failed() noexcept { in_doubt_ = true; }
    bool release_in_doubt() const noexcept { return in_doubt_; }

    // The renewal loop of the current hold registers its timer, so that ending the hold wakes
    // it at once.
    void set_renew_timer(std::shared_ptr<asio::steady_timer> timer) {
        renew_timer_ = std::move(timer);
    }
    void stop_renewal() {
        ++generation_;
        if (renew_timer_) renew_timer_->cancel();
        renew_timer_.reset();
    }

    // What wait_lost() awaits: the end of the current hold, made on the first call (its waits
    // run on `executor`), or null when nothing is held or the hold already ended.
    std::shared_ptr<HoldEnd> end_signal(const asio::any_io_executor& executor) {
        if (!token_ || answered_) return nullptr;
        if (!end_) end_ = std::make_shared<HoldEnd>(executor);
        return end_;
    }

  private:
    void answer(bool lost) {
        if (answered_) return;
        answered_ = true;
        if (!end_) return;  // nobody waited
        end_->outcome = lost ? HoldOutcome::lost : HoldOutcome::released;
        end_->done.notify();
        end_.reset();
    }

    LockEvents& events_;
    std::optional<std::string> token_;
    std::optional<std::int64_t> fence_;
    bool lost_ = false;
    bool in_doubt_ = false;
    bool answered_ = true;  // the current hold's end was told (or nothing was ever held)
    std::uint64_t generation_ = 0;
    std::shared_ptr<asio::steady_timer> renew_timer_;
    std::shared_ptr<HoldEnd> end_;
};

}  // namespace dlock::detail
