// dlock_chaos_proxy: a TCP proxy that misbehaves on command, between dlock and redis-server.
//
//   dlock_chaos_proxy --listen PORT --target PORT --control PORT
//
// Prints "ready" once both ports listen. The control port takes one command per line and
// answers "ok":
//   pass          forward bytes as they come (the default)
//   delay MS      hold every chunk MS milliseconds before forwarding it (both directions)
//   blackhole     swallow every byte in both directions and keep connections open: the
//                 peer sees silence, as with a partitioned network (new connections too)
//   refuse        close new connections right after accepting them
//   drop          reset every open connection now (one shot; the mode stays)

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/streambuf.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <istream>
#include <list>
#include <memory>
#include <sstream>
#include <string>

#include "serve.hpp"

namespace dlock::chaos {
namespace {

using asio::ip::tcp;

enum class Mode { pass, blackhole, refuse };

struct State {
    Mode mode = Mode::pass;
    std::chrono::milliseconds delay{0};
};

class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(tcp::socket client, State& state)
        : client_(std::move(client)), server_(client_.get_executor()), state_(state) {}

    asio::awaitable<void> run(tcp::endpoint target) {
        auto self = shared_from_this();
        try {
            co_await server_.async_connect(target, asio::use_awaitable);
            server_.set_option(tcp::no_delay(true));
            client_.set_option(tcp::no_delay(true));
        } catch (const std::exception&) {
            reset();
            co_return;
        }
        asio::co_spawn(client_.get_executor(), pump(client_, server_, self), asio::detached);
        co_await pump(server_, client_, self);
    }

    // Closes both sides with a TCP reset (linger 0), as a crashed middlebox would.
    void reset() {
        asio::error_code ignored;
        for (tcp::socket* s : {&client_, &server_}) {
            s->set_option(asio::socket_base::linger(true, 0), ignored);
            s->close(ignored);
        }
    }

    bool closed() const { return !client_.is_open(); }

  private:
    asio::awaitable<void> pump(tcp::socket& from, tcp::socket& to, std::shared_ptr<Session>) {
        char buffer[16384];
        try {
            for (;;) {
                const std::size_t n =
                    co_await from.async_read_some(asio::buffer(buffer), asio::use_awaitable);
                if (state_.mode == Mode::blackhole) continue;
                if (state_.delay.count() > 0) {
                    asio::steady_timer timer(from.get_executor(), state_.delay);
                    co_await timer.async_wait(asio::use_awaitable);
                }
                co_await asio::async_write(to, asio::buffer(buffer, n), asio::use_awaitable);
            }
        } catch (const std::exception&) {
            reset();
        }
    }

    tcp::socket client_, server_;
    State& state_;
};

class Proxy {
  public:
    Proxy(asio::io_context& io, const Args& args)
        : io_(io),
          listener_(io, {asio::ip::make_address("127.0.0.1"),
                         static_cast<unsigned short>(args.num("listen", 0))}),
          control_(io, {asio::ip::make_address("127.0.0.1"),
                        static_cast<unsigned short>(args.num("control", 0))}),
          target_(asio::ip::make_address("127.0.0.1"),
                  static_cast<unsigned short>(args.num("target", 0))) {}

    void start() {
        asio::co_spawn(io_, accept_loop(), asio::detached);
        asio::co_spawn(io_, control_loop(), asio::detached);
        std::printf("ready\n");
        std::fflush(stdout);
    }

  private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            tcp::socket socket = co_await listener_.async_accept(asio::use_awaitable);
            if (state_.mode == Mode::refuse) {
                asio::error_code ignored;
                socket.set_option(asio::socket_base::linger(true, 0), ignored);
                socket.close(ignored);
                continue;
            }
            sessions_.remove_if([](const std::weak_ptr<Session>& w) {
                auto s = w.lock();
                return !s || s->closed();
            });
            auto session = std::make_shared<Session>(std::move(socket), state_);
            sessions_.push_back(session);
            asio::co_spawn(io_, session->run(target_), asio::detached);
        }
    }

    asio::awaitable<void> control_loop() {
        for (;;) {
            tcp::socket socket = co_await control_.async_accept(asio::use_awaitable);
            asio::co_spawn(io_, control_session(std::move(socket)), asio::detached);
        }
    }

    asio::awaitable<void> control_session(tcp::socket socket) {
        asio::streambuf input;
        try {
            for (;;) {
                co_await asio::async_read_until(socket, input, '\n', asio::use_awaitable);
                std::istream in(&input);
                std::string line, command;
                std::getline(in, line);
                std::istringstream words(line);
                words >> command;
                std::string answer = "ok\n";
                if (command == "pass") {
                    state_ = State{};
                } else if (command == "delay") {
                    long ms = 0;
                    words >> ms;
                    state_.mode = Mode::pass;
                    state_.delay = std::chrono::milliseconds(ms);
                } else if (command == "blackhole") {
                    state_.mode = Mode::blackhole;
                } else if (command == "refuse") {
                    state_.mode = Mode::refuse;
                } else if (command == "drop") {
                    for (auto& w : sessions_) {
                        if (auto s = w.lock()) s->reset();
                    }
                    sessions_.clear();
                } else {
                    answer = "error unknown command\n";
                }
                co_await asio::async_write(socket, asio::buffer(answer), asio::use_awaitable);
            }
        } catch (const std::exception&) {
            // The controller hung up.
        }
    }

    asio::io_context& io_;
    tcp::acceptor listener_, control_;
    tcp::endpoint target_;
    State state_;
    std::list<std::weak_ptr<Session>> sessions_;
};

}  // namespace
}  // namespace dlock::chaos

int main(int argc, char** argv) {
    return dlock::chaos::serve<dlock::chaos::Proxy>("dlock_chaos_proxy", argc, argv);
}
