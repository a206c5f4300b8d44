#include "net/stream.hpp"

#include <openssl/ssl.h>

#include <asio/experimental/as_tuple.hpp>

#include "dlock/errors.hpp"
#include "net/asio.hpp"

namespace dlock::detail {

namespace {

[[noreturn]] void fail_connect(const ConnectionOptions& options, const Watchdog& watchdog,
                               const std::string& step, const std::error_code& ec) {
    if (watchdog.fired()) {
        throw TimeoutError("connect to " + options.endpoint() + ": timed out during " + step);
    }
    throw ConnectionError("connect to " + options.endpoint() + ": " + step +
                          " failed: " + ec.message());
}

}  // namespace

Watchdog::Watchdog(const asio::any_io_executor& executor, Clock::time_point deadline,
                   std::function<void()> on_expire)
    : state_(std::make_shared<State>()), timer_(executor) {
    state_->on_expire = std::move(on_expire);
    timer_.expires_at(deadline);
    timer_.async_wait([state = state_](std::error_code ec) {
        if (ec || !state->armed) return;
        state->fired = true;
        state->on_expire();
    });
}

void Watchdog::disarm() noexcept {
    state_->armed = false;
    timer_.cancel();
}

std::unique_ptr<asio::ssl::context> make_tls_context(const TlsOptions& options) {
    auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    std::error_code ec;
    if (!options.ca_file.empty()) {
        context->load_verify_file(options.ca_file, ec);
        if (ec)
            throw std::invalid_argument("tls.ca_file: cannot load \"" + options.ca_file +
                                        "\": " + ec.message());
    } else {
        context->set_default_verify_paths(ec);
    }
    if (!options.cert_file.empty()) {
        context->use_certificate_chain_file(options.cert_file, ec);
        if (ec)
            throw std::invalid_argument("tls.cert_file: cannot load \"" + options.cert_file +
                                        "\": " + ec.message());
        const std::string& key = options.key_file.empty() ? options.cert_file : options.key_file;
        context->use_private_key_file(key, asio::ssl::context::pem, ec);
        if (ec)
            throw std::invalid_argument("tls.key_file: cannot load \"" + key +
                                        "\": " + ec.message());
    }
    context->set_verify_mode(options.verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
    return context;
}

asio::awaitable<std::shared_ptr<Stream>> Stream::open(const ConnectionOptions& options,
                                                      asio::ssl::context* tls,
                                                      Clock::time_point deadline) {
    auto executor = co_await asio::this_coro::executor;

    if (!options.unix_path.empty()) {
        unix_socket socket(executor);
        Watchdog watchdog(executor, deadline, [&socket] {
            std::error_code ignored;
            socket.close(ignored);
        });
        auto [ec] = co_await socket.async_connect(
            asio::local::stream_protocol::endpoint(options.unix_path), use_tuple);
        watchdog.disarm();
        if (ec) fail_connect(options, watchdog, "connect", ec);
        co_return std::make_shared<Stream>(std::move(socket));
    }

    // Resolve (numeric addresses resolve without a lookup).
    asio::ip::tcp::resolver resolver(executor);
    asio::ip::tcp::resolver::results_type endpoints;
    {
        Watchdog watchdog(executor, deadline, [&resolver] { resolver.cancel(); });
        auto [ec, results] =
            co_await resolver.async_resolve(options.host, std::to_string(options.port), use_tuple);
        watchdog.disarm();
        if (ec) fail_connect(options, watchdog, "name resolution", ec);
        endpoints = std::move(results);
    }

    tcp_socket socket(executor);
    {
        Watchdog watchdog(executor, deadline, [&socket] {
            std::error_code ignored;
            socket.close(ignored);
        });
        auto [ec, endpoint] = co_await asio::async_connect(socket, endpoints, use_tuple);
        watchdog.disarm();
        if (ec) fail_connect(options, watchdog, "connect", ec);
    }
    // Lock commands are tiny: send them now rather than waiting for Nagle.
    socket.set_option(asio::ip::tcp::no_delay(true));

    if (!options.tls.enabled) co_return std::make_shared<Stream>(std::move(socket));

    tls_stream stream(std::move(socket), *tls);
    const std::string& server_name =
        options.tls.server_name.empty() ? options.host : options.tls.server_name;
    // SNI, then the certificate must name the host we meant to reach.
    // (SSL_set_tlsext_host_name spelled out: the macro hides an old-style cast.)
    SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(server_name.c_str()));
    if (options.tls.verify)
        stream.set_verify_callback(asio::ssl::host_name_verification(server_name));
    {
        Watchdog watchdog(executor, deadline, [&stream] {
            std::error_code ignored;
            stream.lowest_layer().close(ignored);
        });
        auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, use_tuple);
        watchdog.disarm();
        if (ec) fail_connect(options, watchdog, "TLS handshake", ec);
    }
    co_return std::make_shared<Stream>(std::move(stream));
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> Stream::read_some(
    asio::mutable_buffer buffer) {
    return std::visit([buffer](auto& s) { return s.async_read_some(buffer, use_tuple); }, socket_);
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> Stream::write(asio::const_buffer buffer) {
    return std::visit([buffer](auto& s) { return asio::async_write(s, buffer, use_tuple); },
                      socket_);
}

std::size_t Stream::write_now(asio::const_buffer buffer, std::error_code& ec) {
    ec.clear();
    return std::visit(
        [buffer, &ec](auto& s) -> std::size_t {
            if constexpr (std::is_same_v<std::decay_t<decltype(s)>, tls_stream>) {
                return 0;
            } else {
                if (!s.non_blocking()) s.non_blocking(true, ec);
                if (ec) return 0;
                const std::size_t n = s.write_some(buffer, ec);
                if (ec == asio::error::would_block || ec == asio::error::try_again) ec.clear();
                return ec ? 0 : n;
            }
        },
        socket_);
}

void Stream::close() noexcept {
    std::error_code ignored;
    std::visit(
        [&ignored](auto& s) {
            if constexpr (std::is_same_v<std::decay_t<decltype(s)>, tls_stream>) {
                s.lowest_layer().close(ignored);
            } else {
                s.close(ignored);
            }
        },
        socket_);
}

}  // namespace dlock::detail
