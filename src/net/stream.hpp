// stream.hpp (private): one byte stream to a Redis server: TCP, TLS over TCP, or a Unix socket.
//
// The variant keeps the connection code free of templates: Connection reads and writes through
// these two calls whatever the transport is. Both may be outstanding at the same time (one read
// and one write), on the connection's executor.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <system_error>
#include <tuple>
#include <variant>

#include "dlock/options.hpp"

namespace dlock::detail {

using Clock = std::chrono::steady_clock;

class Stream {
  public:
    using tcp_socket = asio::ip::tcp::socket;
    using tls_stream = asio::ssl::stream<asio::ip::tcp::socket>;
    using unix_socket = asio::local::stream_protocol::socket;

    // Connects (and completes the TLS handshake) before `deadline`. Throws ConnectionError or
    // TimeoutError. `tls` must outlive the stream when options.tls.enabled.
    static asio::awaitable<std::shared_ptr<Stream>> open(const ConnectionOptions& options,
                                                         asio::ssl::context* tls,
                                                         Clock::time_point deadline);

    asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(
        asio::mutable_buffer buffer);
    asio::awaitable<std::tuple<std::error_code, std::size_t>> write(asio::const_buffer buffer);
    // Writes what the socket takes now without waiting; returns how much (0 when it would
    // block, or always over TLS, whose writes go through write()). Saves the completion
    // handler of an async write that the kernel would have finished at once anyway.
    std::size_t write_now(asio::const_buffer buffer, std::error_code& ec);
    // Closes the socket; outstanding operations complete with an error.
    void close() noexcept;

    explicit Stream(tcp_socket socket) : socket_(std::move(socket)) {}
    explicit Stream(tls_stream stream) : socket_(std::move(stream)) {}
    explicit Stream(unix_socket socket) : socket_(std::move(socket)) {}

  private:
    std::variant<tcp_socket, tls_stream, unix_socket> socket_;
};

// Makes the client-side TLS context from options: CA, optional client certificate, verification.
std::unique_ptr<asio::ssl::context> make_tls_context(const TlsOptions& options);

// Runs `on_expire` if `deadline` passes before disarm() (or destruction). Used to bound a
// connect or handshake: the expiry action closes the socket, which completes the operation.
class Watchdog {
  public:
    Watchdog(const asio::any_io_executor& executor, Clock::time_point deadline,
             std::function<void()> on_expire);
    ~Watchdog() { disarm(); }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;
    void disarm() noexcept;
    bool fired() const noexcept { return state_->fired; }

  private:
    struct State {
        bool armed = true;
        bool fired = false;
        std::function<void()> on_expire;
    };
    std::shared_ptr<State> state_;  // shared with the timer's handler, which may run later
    asio::steady_timer timer_;
};

}  // namespace dlock::detail
