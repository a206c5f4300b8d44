#include "net/connection.hpp"

#include <algorithm>
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
// instead of working at the same time (64 tasks reached half the pipelined rate). 8 rather than
// 16: at 64 tasks the server then reads ~44 commands at a time instead of ~57 and idles less
// (busy 0.86-0.92 instead of 0.79-0.88), and S2 was faster in 4 of 5 alternating pairs of runs
// (bench/README.md, round 4); 1,024 tasks do not move.
constexpr std::size_t replies_per_turn = 8;

bool is_push_message(const Reply& reply) {
    if (!reply.is_array() || reply.elements.empty() || !reply.elements[0].is_string()) return false;
    const std::string& kind = reply.elements[0].str;
    // "sunsubscribe" too: Redis sends it unasked when a shard channel's slot moves away, so it
    // can never be matched with a request (our own SUNSUBSCRIBE is sent unanswered).
    return kind == "message" || kind == "smessage" || kind == "pmessage" || kind == "sunsubscribe";
}

// What every waiter gets when a write fails, whether it failed at once or after waiting.
std::exception_ptr write_failure(const ConnectionOptions& options, const std::error_code& ec) {
    return std::make_exception_ptr(
        ConnectionError("write to " + options.endpoint() + " failed: " + ec.message()));
}

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

// One request in flight. Shared between the caller, the reader (who fills it in order, then
// notifies) and the deadline timer (which notifies it with timed_out at its deadline; the
// reader still fills it and drops the late replies with it).
struct Connection::Pending {
    Pending(const asio::any_io_executor& executor, std::size_t expected, Deadline deadline)
        : expected(expected), deadline(deadline), done(executor) {
        replies.reserve(expected);
    }
    std::size_t expected;
    Deadline deadline;
    std::vector<Reply> replies;
    std::exception_ptr error;
    bool timed_out = false;
    Notification done;
};

Connection::Connection(asio::any_io_executor executor, ConnectionOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      connect_timeout_(to_timeout_ms(options_.connect_timeout, "connect_timeout")),
      command_timeout_(to_timeout_ms(options_.command_timeout, "command_timeout")),
      deadline_timer_(executor_) {
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
    // (Checked here: a coroutine call allocates its frame, once per command.)
    if (state_ != State::connected) co_await ensure_connected(deadline);
    const std::shared_ptr<Pending> pending = send(request, deadline);
    // No deadline here: the connection's timer notifies the request at its deadline. A
    // cancelled caller gets operation_aborted from wait(). Either way the reader still fills
    // `pending` (kept alive by the queue) and drops the reply.
    co_await pending->done.wait(Deadline::max());
    co_return replies_of(*pending);
}

std::shared_ptr<Connection::Pending> Connection::send(const Request& request, Deadline deadline) {
    // Alone on the connection (one caller, commands in sequence): written at once, which saves
    // a turn of the executor (and an epoll_wait) per round trip. With others in flight, the
    // callers their replies wake queue theirs first and one write takes them all.
    const bool alone = pending_.empty() && out_.empty() && !writing_;
    auto pending = std::make_shared<Pending>(executor_, request.size(), deadline);
    pending_.push_back(pending);
    out_.append(request.payload());
    watch_deadline(deadline);
    if (alone) {
        write_out();
    } else {
        schedule_flush();
    }
    return pending;
}

std::vector<Reply> Connection::replies_of(Pending& pending) const {
    if (pending.timed_out) throw TimeoutError("command to " + options_.endpoint() + " timed out");
    if (pending.error) std::rethrow_exception(pending.error);
    return std::move(pending.replies);
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
        // The reader owns a reference: it ends when the stream closes, never on a dead object.
        auto self = shared_from_this();
        asio::co_spawn(
            executor_, [self, stream, generation] { return self->reader(stream, generation); },
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
            const std::shared_ptr<Pending> handshake = send(hello, deadline);
            co_await handshake->done.wait(Deadline::max());
            for (const Reply& reply : replies_of(*handshake)) {
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

void Connection::schedule_flush() {
    if (flush_scheduled_ || writing_) return;  // an ending write_rest() flushes what queued
    flush_scheduled_ = true;
    // Posted, not written now: the other callers woken by the same read queue their commands
    // first, and one write carries them all (more commands per server read).
    asio::post(executor_, [self = shared_from_this()] { self->flush(); });
}

void Connection::flush() {
    flush_scheduled_ = false;
    write_out();
}

void Connection::write_out() {
    // Nothing queued, or failed meanwhile (fail() empties out_); a connect under way has its
    // stream set before its handshake is queued.
    if (out_.empty() || writing_ || !stream_) return;
    batch_.clear();
    std::swap(batch_, out_);  // new commands queue in out_ while this batch is written
    // Usually the kernel takes the whole batch at once; only the rest waits for the socket.
    std::error_code ec;
    const std::size_t sent = stream_->write_now(asio::buffer(batch_), ec);
    if (ec) {
        // Failed from the executor, not inside a caller's send(): fail() runs the disconnect
        // handler, which may send again.
        asio::post(executor_,
                   [self = shared_from_this(), generation = generation_,
                    error = write_failure(options_, ec)] { self->fail(generation, error); });
        return;
    }
    if (sent == batch_.size()) return;
    writing_ = true;
    asio::co_spawn(
        executor_,
        [self = shared_from_this(), stream = stream_, generation = generation_,
         batch = std::move(batch_), sent]() mutable {
            return self->write_rest(std::move(stream), generation, std::move(batch), sent);
        },
        asio::detached);
}

asio::awaitable<void> Connection::write_rest(std::shared_ptr<Stream> stream,
                                             std::uint64_t generation, std::string batch,
                                             std::size_t sent) {
    auto [ec, n] = co_await stream->write(asio::buffer(batch) + sent);
    if (generation != generation_) co_return;  // that connection is gone (fail() reset writing_)
    writing_ = false;
    if (ec) {
        fail(generation, write_failure(options_, ec));
        co_return;
    }
    if (!out_.empty()) schedule_flush();
}

void Connection::watch_deadline(Deadline deadline) {
    if (deadline >= timer_expiry_) return;  // it fires before this one anyway
    timer_expiry_ = deadline;
    deadline_timer_.expires_at(deadline);  // aborts the wait for the later expiry, if any
    deadline_timer_.async_wait([weak = weak_from_this()](std::error_code ec) {
        if (ec) return;  // moved earlier, or the connection failed or went away
        if (auto self = weak.lock()) self->expire_due();
    });
}

void Connection::expire_due() {
    timer_expiry_ = Deadline::max();
    const Deadline now = Clock::now();
    Deadline next = Deadline::max();
    for (const std::shared_ptr<Pending>& pending : pending_) {
        if (pending->timed_out) continue;
        if (pending->deadline <= now) {
            pending->timed_out = true;
            pending->done.notify();
        } else {
            next = std::min(next, pending->deadline);
        }
    }
    if (next != Deadline::max()) watch_deadline(next);
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
    writing_ = false;  // a write_rest() of that connection touches nothing when it ends
    timer_expiry_ = Deadline::max();
    deadline_timer_.cancel();
    auto failed = std::move(pending_);
    pending_.clear();
    for (auto& pending : failed) {
        pending->error = error;
        pending->done.notify();
    }
    if (was_connected && on_disconnect_) on_disconnect_();
}

}  // namespace dlock::detail
