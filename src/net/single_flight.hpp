// single_flight.hpp (private): one background run of a task, joined by everyone who needs it.
//
// A cluster client's slot-map read and a sentinel client's discovery are such runs: many
// requests find they need one at once, and one run must serve them all. A caller starts the
// run unless one is under way, then waits for the outcome of THAT run (never a later one's),
// until its own deadline.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "dlock/errors.hpp"
#include "net/notification.hpp"

namespace dlock::detail {

class SingleFlight {
  public:
    // One run: notified when it ends; `error` is null when it succeeded.
    struct Run {
        explicit Run(const asio::any_io_executor& executor) : done(executor) {}
        Notification done;
        std::exception_ptr error;
    };

    // Spawns (owner->*task)(run) unless a run is under way; the task must end with
    // finish(run, ...). `owner` is kept alive by the run.
    template <class Owner>
    void start(const asio::any_io_executor& executor, std::shared_ptr<Owner> owner,
               asio::awaitable<void> (Owner::*task)(std::shared_ptr<Run>)) {
        if (current_) return;
        current_ = std::make_shared<Run>(executor);
        asio::co_spawn(
            executor,
            [owner = std::move(owner), task, run = current_] { return ((*owner).*task)(run); },
            asio::detached);
    }

    // Ends `run` (`error` null: it succeeded) and wakes its waiters; the next start() begins a
    // new run.
    void finish(const std::shared_ptr<Run>& run, std::exception_ptr error) {
        run->error = std::move(error);
        if (current_ == run) current_.reset();
        run->done.notify();
    }

    // Waits for the run under way until `deadline`, then rethrows its error. Throws
    // ConnectionError(`closed`) when no run is under way (the owner did not start one: it is
    // closed) and TimeoutError(`timed_out`) at the deadline.
    asio::awaitable<void> join(Deadline deadline, const std::string& closed,
                               const std::string& timed_out) {
        if (!current_) throw ConnectionError(closed);
        const std::shared_ptr<Run> run = current_;
        if (!co_await run->done.wait(deadline)) throw TimeoutError(timed_out);
        if (run->error) std::rethrow_exception(run->error);
    }

  private:
    std::shared_ptr<Run> current_;
};

}  // namespace dlock::detail
