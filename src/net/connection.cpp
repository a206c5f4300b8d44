#include "net/connection.hpp"

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>

#include "dlock/errors.hpp"
#include "net/stream.hpp"
#include "protocol/durations.hpp"
#include "protocol/log.hpp"
#include "protocol/resp.hpp"

namespace dlock::detail {

namespace {
constexpr std::size_t read_chunk = std::size_t{16} * 1024;
// Replies handed out before the reader lets their callers run (and the writer send what they
// queued) ahead of the rest of a read. Without it a read of N replies wakes N callers whose N
// commands all leave in one write only after the last reply: client and server take turns
// instead of working at the same time (64 tasks reached half the pipelined rate).
constexpr std::size_t replies_per_turn = 16;

bool is_push_message(const Reply& reply) {
    if (!reply.is_array() || reply.elements.empty() || !reply.elements[0].is_string()) return false;
    const std::string& kind = reply.elements[0].str;
    // "sunsubscribe" too: Redis sends it unasked when a shard channel's slot moves away, so it
    // can never be matched with a request (our own SUNSUBSCRIBE is sent unanswered).
    return kind == "message" || kind == "smessage" || kind == "pmessage" || kind == "sunsubscribe";
}
}  // namespace

namespace {

// Connect failures are worth a line each: they are the first sign of an outage or a failover.
void log_connect_failure(const std::string& endpoint, const std::exception_ptr& error) noexcept {
    if (!log_enabled(LogLevel::warning)) return;
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        log(LogLevel::warning, "connect to " + endpoint + " failed: " + e.what());
    } catch (...) {
    }
}

}  // namespace

// ---- Connection -------------------------------------------------------------------------

// One request in flight. Shared between the caller (who may give up at its deadline) and the
// reader (who fills it in order, then notifies).
struct Connection::Pending {
    Pending(const asio::any_io_executor& executor, std::size_t expected)
        : expected(expected), done(executor) {}
    std::size_t expected;
    std::vector<Reply> replies;
    std::exception_ptr error;
    Notification done;
};

Connection::Connection(asio::any_io_executor executor, ConnectionOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      connect_timeout_(to_timeout_ms(options_.connect_timeout, "connect_timeout")),
      command_timeout_(to_timeout_ms(options_.command_timeout, "command_timeout")),
      writer_wake_(executor_) {
    if (options_.tls.enabled && options_.unix_path.empty()) tls_ = make_tls_context(options_.tls);
}

Connection::~Connection() {
    if (stream_) stream_->close();
}

void Connection::close() {
    const auto closed = std::make_exception_ptr(
        ConnectionError("connection to " + options_.endpoint() + " closed"));
    if (state_ == State::connecting) {
        // A connect in flight would otherwise complete after close() and leave a connection
        // (and its reader) alive that nobody closes. Its waiters get the error now; the attempt
        // drops whatever it opens (connect_task checks `closed`).
        attempt_->closed = true;
        attempt_->error = closed;
        attempt_->done.notify();
        state_ = State::disconnected;
    }
    fail(generation_, closed);
}

asio::awaitable<std::vector<Reply>> Connection::execute(const Request& request, Deadline deadline) {
    auto self = shared_from_this();  // keep the connection alive while we wait
    if (request.payload().empty()) co_return std::vector<Reply>{};
    co_await ensure_connected(deadline);
    co_return co_await send(request, deadline);
}

asio::awaitable<std::vector<Reply>> Connection::send(const Request& request, Deadline deadline) {
    auto pending = std::make_shared<Pending>(executor_, request.size());
    pending_.push_back(pending);
    out_.append(request.payload());
    writer_wake_.cancel();  // wakes the writer if it is idle; harmless otherwise

    // A cancelled caller gets operation_aborted from wait(). Either way the reader still fills
    // `pending` (kept alive by the queue) and drops the reply.
    if (!co_await pending->done.wait(deadline)) {
        throw TimeoutError("command to " + options_.endpoint() + " timed out");
    }
    if (pending->error) std::rethrow_exception(pending->error);
    co_return std::move(pending->replies);
}

asio::awaitable<void> Connection::ensure_connected(Deadline deadline) {
    auto self = shared_from_this();
    while (state_ != State::connected) {
        if (state_ == State::disconnected) {
            state_ = State::connecting;
            attempt_ = std::make_shared<ConnectAttempt>(executor_);
            // Detached: a caller that gives up does not abort the attempt others wait on.
            asio::co_spawn(
                executor_, [self, attempt = attempt_] { return self->connect_task(attempt); },
                asio::detached);
        }
        // The outcome of the attempt this caller waited for, not of whatever the connection
        // does by the time it resumes (another caller may have started a new attempt).
        const std::shared_ptr<ConnectAttempt> attempt = attempt_;
        if (!co_await attempt->done.wait(deadline)) {
            throw TimeoutError("connect to " + options_.endpoint() + " timed out");
        }
        if (attempt->error) std::rethrow_exception(attempt->error);
        // Connected, though maybe lost again since: look again (bounded by the deadline).
    }
}

asio::awaitable<void> Connection::connect_task(std::shared_ptr<ConnectAttempt> attempt) {
    const Deadline deadline = Clock::now() + connect_timeout_;
    try {
        auto stream = co_await Stream::open(options_, tls_.get(), deadline);
        if (attempt->closed) {
            stream->close();
            co_return;
        }
        stream_ = stream;
        parser_ = std::make_unique<ReplyParser>();
        const std::uint64_t generation = ++generation_;
        out_.clear();
        // The loops own a reference: they end when the stream closes, never on a dead object.
        auto self = shared_from_this();
        asio::co_spawn(
            executor_, [self, stream, generation] { return self->reader(stream, generation); },
            asio::detached);
        asio::co_spawn(
            executor_, [self, stream, generation] { return self->writer(stream, generation); },
            asio::detached);

        Request hello;
        if (!options_.password.empty()) {
            if (options_.user.empty()) {
                hello.push({"AUTH", options_.password});
            } else {
                hello.push({"AUTH", options_.user, options_.password});
            }
        }
        if (options_.db != 0) hello.push({"SELECT", std::to_string(options_.db)});
        if (!options_.client_name.empty()) hello.push({"CLIENT", "SETNAME", options_.client_name});
        if (hello.size() > 0) {
            for (const Reply& reply : co_await send(hello, deadline)) {
                if (reply.is_error()) {
                    fail(generation, std::make_exception_ptr(ConnectionError("handshake failed")));
                    throw ServerError(reply.str);
                }
            }
        }
        if (attempt->closed) co_return;  // close() ran during the handshake and failed it
        state_ = State::connected;
        if (log_enabled(LogLevel::info) && generation > 1)
            log(LogLevel::info, "reconnected to " + options_.endpoint());
        if (on_connect_) on_connect_();
    } catch (...) {
        if (attempt->closed) co_return;  // close() answered the waiters and reset the state
        // Waiters rethrow this; the connection stays usable for a later attempt.
        attempt->error = std::current_exception();
        log_connect_failure(options_.endpoint(), attempt->error);
        // Fails the handshake's own request (if any) now, rather than relying on the old
        // reader's aborted read to clean up before the next attempt.
        fail(generation_, attempt->error);
        if (stream_) stream_->close();
        state_ = State::disconnected;
    }
    attempt->done.notify();
}

asio::awaitable<void> Connection::writer(std::shared_ptr<Stream> stream, std::uint64_t generation) {
    std::string buffer;
    while (generation == generation_) {
        if (out_.empty()) {
            // Sleeps until send() cancels the timer. Not a Notification: the condition is out_
            // itself, which this one writer re-checks after every wake (the write path is being
            // reworked for coalescing, issue 15; a Notification with reset() fits it then).
            writer_wake_.expires_at(Clock::time_point::max());
            co_await writer_wake_.async_wait(use_tuple);
            continue;
        }
        buffer.clear();
        std::swap(buffer, out_);  // new commands queue in out_ while this batch is written
        // Usually the kernel takes the whole batch at once; only the rest waits for the socket.
        std::error_code ec;
        const std::size_t sent = stream->write_now(asio::buffer(buffer), ec);
        if (!ec && sent < buffer.size()) {
            std::tie(ec, std::ignore) = co_await stream->write(asio::buffer(buffer) + sent);
        }
        if (ec) {
            fail(generation, std::make_exception_ptr(ConnectionError(
                                 "write to " + options_.endpoint() + " failed: " + ec.message())));
            co_return;
        }
    }
}

asio::awaitable<void> Connection::reader(std::shared_ptr<Stream> stream, std::uint64_t generation) {
    std::vector<char> buffer(read_chunk);
    while (generation == generation_) {
        auto [ec, n] = co_await stream->read_some(asio::buffer(buffer));
        if (generation != generation_) co_return;
        if (ec) {
            std::string why = ec == asio::error::eof ? "closed by the server" : ec.message();
            std::string message = "connection to " + options_.endpoint() + " lost: " + why;
            if (log_enabled(LogLevel::warning)) log(LogLevel::warning, message);
            fail(generation, std::make_exception_ptr(ConnectionError(message)));
            co_return;
        }
        try {
            parser_->feed(buffer.data(), n);
            std::size_t this_turn = 0;
            while (true) {
                std::optional<Reply> reply;
                std::exception_ptr unsupported;
                try {
                    reply = parser_->next();
                } catch (const UnsupportedReply&) {
                    // Well-formed, skipped by the parser: it fails its own request only.
                    unsupported = std::current_exception();
                }
                if (!reply && !unsupported) break;
                if (this_turn++ == replies_per_turn) {
                    this_turn = 1;
                    co_await asio::post(executor_, asio::use_awaitable);
                    if (generation != generation_) co_return;  // failed meanwhile: parser reset
                }
                if (unsupported) {
                    deliver_failure(unsupported);
                } else {
                    deliver(std::move(*reply));
                }
            }
        } catch (const ProtocolError&) {
            fail(generation, std::current_exception());
            co_return;
        }
    }
}

void Connection::deliver(Reply&& reply) {
    if (push_handler_ && is_push_message(reply)) {
        push_handler_(std::move(reply));
        return;
    }
    if (pending_.empty())
        throw ProtocolError("reply from " + options_.endpoint() + " with no command in flight");
    Pending& front = *pending_.front();
    front.replies.push_back(std::move(reply));
    if (front.replies.size() == front.expected) finish_front();
}

void Connection::deliver_failure(std::exception_ptr error) {
    // No request to charge it to: a push (a subscriber's connection), or a desynchronised
    // stream, which deliver() would refuse as well.
    if (pending_.empty()) {
        if (push_handler_) return;
        throw ProtocolError("reply from " + options_.endpoint() + " with no command in flight");
    }
    Pending& front = *pending_.front();
    if (!front.error) front.error = std::move(error);
    front.replies.emplace_back();  // counted, so the request still ends at its last reply
    if (front.replies.size() == front.expected) finish_front();
}

void Connection::finish_front() {
    const std::shared_ptr<Pending> finished = std::move(pending_.front());
    pending_.pop_front();
    finished->done.notify();
}

void Connection::fail(std::uint64_t generation, std::exception_ptr error) {
    if (generation != generation_) return;  // that connection is already gone
    ++generation_;
    if (stream_) stream_->close();
    const bool was_connected = state_ == State::connected;
    if (was_connected) state_ = State::disconnected;
    out_.clear();
    auto failed = std::move(pending_);
    pending_.clear();
    for (auto& pending : failed) {
        pending->error = error;
        pending->done.notify();
    }
    writer_wake_.cancel();
    if (was_connected && on_disconnect_) on_disconnect_();
}

}  // namespace dlock::detail
