#include "interrupted_wait.hpp"

#include <signal.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>

#include "dlock/errors.hpp"

namespace dlock::cli {

void die_by_signal(int signal_number) {
    std::signal(signal_number, SIG_DFL);
    ::raise(signal_number);
    std::_Exit(128 + signal_number);
}

void interrupt_wait(WaitInterruption& interruption, int signal_number) {
    if (interruption.signal_number != 0) die_by_signal(signal_number);
    interruption.signal_number = signal_number;
    interruption.stop.emit(asio::cancellation_type::terminal);
    interruption.deadline.expires_after(std::chrono::seconds(2));
    interruption.deadline.async_wait([signal_number](std::error_code error) {
        if (!error) die_by_signal(signal_number);
    });
}

asio::awaitable<bool> acquire_unless_interrupted(Servers& servers, CliLock& lock,
                                                 const std::string& name, WaitPolicy wait,
                                                 WaitInterruption& interruption) {
    bool acquired = false;
    try {
        acquired = co_await asio::co_spawn(
            co_await asio::this_coro::executor, acquire_riding_outages(lock, wait),
            asio::bind_cancellation_slot(interruption.stop.slot(), asio::use_awaitable));
    } catch (...) {
        if (interruption.signal_number == 0) throw;  // else: the cancelled wait
    }
    if (interruption.signal_number == 0) co_return acquired;
    if (acquired) {
        try {
            co_await lock.release();
        } catch (const Error&) {
            // It expires by its TTL.
        }
    } else {
        co_await let_the_queue_entry_go(servers, name);
    }
    die_by_signal(interruption.signal_number);
}

}  // namespace dlock::cli
