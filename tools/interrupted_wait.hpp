// tools/interrupted_wait.hpp: a blocking acquire that SIGINT, SIGTERM or SIGHUP ends cleanly.
//
// A process killed while it waits stays in the lock's wait queue until the queue expires: it is
// counted ("1 waiting") and offered the lock first by the next release. So `run` and `acquire`
// catch those signals while they wait, cancel the wait (which takes the queue entry out), give
// back a lock taken at that very moment, and then die by the signal, as they would have without
// a handler (a shell sees "killed by SIGINT" and can stop its loop).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/steady_timer.hpp>
#include <string>

#include "servers.hpp"

namespace dlock::cli {

// Ends dlock the way `signal_number` would have if dlock did not catch it.
[[noreturn]] void die_by_signal(int signal_number);

// What a signal that came during the wait asks of it.
struct WaitInterruption {
    explicit WaitInterruption(const asio::any_io_executor& executor) : deadline(executor) {}
    int signal_number = 0;  // 0: none came
    asio::cancellation_signal stop;
    asio::steady_timer deadline;  // the clean-up's bound: dlock dies when it expires
};

// A signal came while waiting: cancels the wait and bounds its clean-up to 2 s (Redis may be
// why we wait). A second signal ends dlock at once.
void interrupt_wait(WaitInterruption& interruption, int signal_number);

// acquire_riding_outages(lock, wait), cancelled by interrupt_wait(): then leaves the queue (or
// releases the lock just taken) and dies by the signal. Otherwise returns what it returned.
asio::awaitable<bool> acquire_unless_interrupted(Servers& servers, CliLock& lock,
                                                 const std::string& name, WaitPolicy wait,
                                                 WaitInterruption& interruption);

}  // namespace dlock::cli
