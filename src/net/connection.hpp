// connection.hpp (private): one multiplexed connection to one Redis server.
//
// Many coroutines share one socket: each request's commands are appended to an output buffer
// that is written once per turn of the executor (all commands queued in that turn in one
// write), and a single reader hands replies back in order (Redis answers a connection's
// commands in the order it received them). No connection pool is needed.
//
// Threading: a Connection lives on one executor. All calls must be made from that executor
// (a single-threaded io_context, or a strand); the sync facade takes care of that.
//
// Failures: a request whose deadline passes fails with TimeoutError and its late reply is
// dropped when it arrives (it is never handed to the next caller). One timer per connection
// watches every request's deadline. A dropped connection or
// protocol garbage fails every request in flight (ConnectionError / ProtocolError) and the
// next request reconnects, re-running AUTH, SELECT and CLIENT SETNAME. A well-formed reply
// the client cannot represent (a RESP3 type, arrays nested deeper than 8) fails only the
// request it answers, with ProtocolError; the connection carries on.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/options.hpp"
#include "dlock/reply.hpp"
#include "dlock/request.hpp"
#include "net/asio.hpp"
#include "net/notification.hpp"

namespace asio::ssl {
class context;
}

namespace dlock::detail {

class ReplyParser;
class Stream;

class Connection : public std::enable_shared_from_this<Connection> {
  public:
    Connection(asio::any_io_executor executor, ConnectionOptions options);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Sends the request (connecting first if needed) and returns one reply per command. Error
    // replies are returned, not thrown. Throws ConnectionError, ProtocolError, TimeoutError
    // (deadline passed), or asio::system_error(operation_aborted) when the caller is cancelled.
    asio::awaitable<std::vector<Reply>> execute(const Request& request, Deadline deadline);

    // Closes the socket: requests in flight, and callers waiting for a connect in progress,
    // fail with ConnectionError. The next execute() reconnects.
    void close();

    // Subscriber connections: replies that are pub/sub messages ("message", "smessage") are
    // passed here instead of being matched with a request. Set before the first execute().
    void set_push_handler(std::function<void(Reply&&)> handler) {
        push_handler_ = std::move(handler);
    }
    // Called after every successful (re)connect, e.g. to re-subscribe. Runs on the executor.
    void set_on_connect(std::function<void()> handler) { on_connect_ = std::move(handler); }
    // Called when an established connection is lost or closed (nothing reconnects by itself:
    // a subscriber uses this to reconnect and re-subscribe). Runs on the executor.
    void set_on_disconnect(std::function<void()> handler) { on_disconnect_ = std::move(handler); }

    bool connected() const noexcept { return state_ == State::connected; }
    // Increases every time the connection is established or lost.
    std::uint64_t generation() const noexcept { return generation_; }
    const ConnectionOptions& options() const noexcept { return options_; }
    // options().command_timeout, validated: the deadline of a command that was given none.
    Clock::duration command_timeout() const noexcept { return command_timeout_; }
    Deadline command_deadline() const { return Clock::now() + command_timeout_; }
    const asio::any_io_executor& get_executor() const noexcept { return executor_; }

  private:
    struct Pending;
    // One connect attempt, shared by everyone waiting for it.
    struct ConnectAttempt {
        explicit ConnectAttempt(const asio::any_io_executor& executor) : done(executor) {}
        Notification done;
        std::exception_ptr error;  // set when the attempt failed
        bool closed = false;       // close() ended it: what it opens is dropped
    };
    enum class State { disconnected, connecting, connected };

    asio::awaitable<void> ensure_connected(Deadline deadline);
    asio::awaitable<void> connect_task(std::shared_ptr<ConnectAttempt> attempt);
    asio::awaitable<void> reader(std::shared_ptr<Stream> stream, std::uint64_t generation);
    // Queues the request's commands. Once its `done` is notified, replies_of() returns its
    // replies or throws its failure (TimeoutError, the connection's error).
    std::shared_ptr<Pending> send(const Request& request, Deadline deadline);
    std::vector<Reply> replies_of(Pending& pending) const;
    // Writes out_ once the commands queued in this turn of the executor are in it (one post per
    // batch, not one wake-up per command); flush() writes what the socket takes at once.
    void schedule_flush();
    void flush();
    void write_out();  // writes out_ now (what the socket does not take goes to write_rest())
    asio::awaitable<void> write_rest(std::shared_ptr<Stream> stream, std::uint64_t generation,
                                     std::string batch, std::size_t sent);
    // The deadline timer runs no earlier than `deadline`: one timer for the connection, armed
    // for the earliest pending deadline and only moved earlier, so a request costs no timer
    // of its own (no timerfd_settime per command).
    void watch_deadline(Deadline deadline);
    // The timer fired: fails every pending request past its deadline, re-arms for the next.
    void expire_due();
    void deliver(Reply&& reply);
    // A reply the parser skipped (UnsupportedReply): fails the request it answers, alone.
    void deliver_failure(std::exception_ptr error);
    // The front request has all its replies (or its error): hands it back to its caller.
    void finish_front();
    void fail(std::uint64_t generation, std::exception_ptr error);

    asio::any_io_executor executor_;
    ConnectionOptions options_;
    Clock::duration connect_timeout_;
    Clock::duration command_timeout_;
    std::unique_ptr<asio::ssl::context> tls_;
    State state_ = State::disconnected;
    std::uint64_t generation_ = 0;
    std::shared_ptr<Stream> stream_;
    std::unique_ptr<ReplyParser> parser_;
    std::deque<std::shared_ptr<Pending>> pending_;  // front = the next reply's owner
    std::string out_;                               // encoded, not yet written
    std::string batch_;                             // being written (its buffer is reused)
    bool flush_scheduled_ = false;
    bool writing_ = false;  // the rest of a batch the socket did not take at once is in flight
    asio::steady_timer deadline_timer_;
    Deadline timer_expiry_ = Deadline::max();  // what deadline_timer_ waits for; max: idle
    std::shared_ptr<ConnectAttempt> attempt_;  // the attempt in progress, or the last one
    std::function<void(Reply&&)> push_handler_;
    std::function<void()> on_connect_;
    std::function<void()> on_disconnect_;
};

}  // namespace dlock::detail
