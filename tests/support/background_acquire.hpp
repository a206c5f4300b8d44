// An acquire() on a coroutine of its own, beside the test's: the test goes on (moves a slot,
// releases the holder) and later awaits `done`. For any kind with acquire() (Lock, Semaphore,
// ReadWriteLock); the lock must outlive the returned state's `done`.
#pragma once

#include <asio.hpp>
#include <memory>

#include "async.hpp"

namespace dlock::test {

struct BackgroundAcquire {
    explicit BackgroundAcquire(asio::any_io_executor executor) : done(std::move(executor)) {}
    bool got = false;              // what acquire() returned
    Clock::time_point finished{};  // when it returned
    Notification done;             // notified when it returned
};

template <class AnyLock>
std::shared_ptr<BackgroundAcquire> acquire_in_background(asio::any_io_executor executor,
                                                         AnyLock& lock) {
    auto state = std::make_shared<BackgroundAcquire>(executor);
    asio::co_spawn(
        executor,
        [&lock, state]() -> asio::awaitable<void> {
            state->got = co_await lock.acquire();
            state->finished = Clock::now();
            state->done.notify();
        },
        asio::detached);
    return state;
}

}  // namespace dlock::test
