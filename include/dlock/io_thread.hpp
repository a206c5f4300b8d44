// dlock/io_thread.hpp: an io_context on a background thread, for the sync facade (sync.hpp).
//
// Every async client of the sync facade lives on this one thread, so its objects are only ever
// touched from there; callers on any thread block on a future. A call made from the I/O thread
// itself would wait for itself forever: it is refused with std::logic_error instead.
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>

namespace dlock::sync {

class IoThread {
  public:
    // The thread shares the context: a thread let go by the destructor (below) runs it to the
    // end on its own.
    IoThread()
        : context_(std::make_shared<asio::io_context>(1)),
          work_(asio::make_work_guard(*context_)),
          thread_([context = context_] { context->run(); }) {}
    // Lets pending operations finish (sockets are closed by their owners first), then joins.
    // Destroyed on the I/O thread itself (the last owner went away in a handler), it cannot
    // join itself: the thread is detached instead and ends once the work in hand is done.
    ~IoThread() {
        work_.reset();
        if (!thread_.joinable()) return;
        if (in_this_thread()) {
            thread_.detach();
        } else {
            thread_.join();
        }
    }
    IoThread(const IoThread&) = delete;
    IoThread& operator=(const IoThread&) = delete;

    asio::io_context& context() noexcept { return *context_; }
    asio::any_io_executor executor() { return context_->get_executor(); }
    bool in_this_thread() const noexcept { return std::this_thread::get_id() == thread_.get_id(); }

    // Runs `make()` (a callable returning asio::awaitable<T>) on the I/O thread and waits.
    // The result travels through a promise set by a plain completion handler, which runs on
    // the I/O thread: asio::use_future would complete through asio's system executor, whose
    // first use starts a pool of threads that lives as long as the process (a program that
    // forks afterwards would fork a multi-threaded process).
    template <class F>
    auto run(F make) -> typename std::invoke_result_t<F&>::value_type {
        using T = typename std::invoke_result_t<F&>::value_type;
        if (in_this_thread()) {
            throw std::logic_error(
                "dlock::sync call made from dlock's own I/O thread (it would deadlock)");
        }
        // Shared with the handler: it may still be inside set_value when get() returns here.
        auto promise = std::make_shared<std::promise<T>>();
        std::future<T> result = promise->get_future();
        // One handler for both signatures: (exception_ptr) for awaitable<void>, else
        // (exception_ptr, T).
        asio::co_spawn(*context_, std::move(make),
                       [promise](std::exception_ptr error, auto... value) {
                           if (error) {
                               promise->set_exception(error);
                           } else {
                               promise->set_value(std::move(value)...);
                           }
                       });
        return result.get();
    }

  private:
    std::shared_ptr<asio::io_context> context_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::thread thread_;
};

}  // namespace dlock::sync
