// A tiny in-process TCP server on 127.0.0.1 (kernel-chosen port) for the faults a real Redis
// will not produce on demand: garbage bytes, a reply cut short, a stall, a silent handshake.
//
// Each accepted connection runs the current Behaviour on its own thread, with a FakeConnection
// to read commands and write raw bytes. Behaviours are plain blocking code; the destructor
// shuts every socket down (which wakes blocked reads) and joins every thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace dlock::test {

// The server side of one accepted connection.
class FakeConnection {
  public:
    explicit FakeConnection(int fd) : fd_(fd) {}

    // The next complete command (a RESP array of bulk strings, as every client sends), or
    // nothing once the client has closed the connection (or on bytes that are not a command).
    std::optional<std::vector<std::string>> read_command() {
        while (true) {
            if (auto command = parse_one()) return command;
            if (malformed_) return std::nullopt;
            char chunk[4096];
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n <= 0) return std::nullopt;
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    // Waits until the client closes its end (recv returns 0 or fails); discards what it sends.
    void wait_for_client_close() {
        char chunk[4096];
        while (::recv(fd_, chunk, sizeof chunk, 0) > 0) {
        }
    }

    void write(const std::string& bytes) {
        std::size_t sent = 0;
        while (sent < bytes.size()) {
            const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return;  // the client went away: nothing left to do for this behaviour
            sent += static_cast<std::size_t>(n);
        }
    }

  private:
    // Reads "<prefix><number>\r\n" at pos; advances pos. Nothing when incomplete or malformed.
    std::optional<long> parse_length(std::size_t& pos, char prefix) {
        const auto end = buffer_.find("\r\n", pos);
        if (end == std::string::npos) return std::nullopt;
        if (buffer_[pos] != prefix) {
            malformed_ = true;
            return std::nullopt;
        }
        const long value = std::stol(buffer_.substr(pos + 1, end - pos - 1));
        pos = end + 2;
        return value;
    }

    std::optional<std::vector<std::string>> parse_one() {
        std::size_t pos = 0;
        if (buffer_.empty()) return std::nullopt;
        const auto count = parse_length(pos, '*');
        if (!count) return std::nullopt;
        std::vector<std::string> command;
        for (long i = 0; i < *count; ++i) {
            const auto size = parse_length(pos, '$');
            if (!size) return std::nullopt;
            const auto length = static_cast<std::size_t>(*size);
            if (buffer_.size() < pos + length + 2) return std::nullopt;
            command.push_back(buffer_.substr(pos, length));
            pos += length + 2;
        }
        buffer_.erase(0, pos);
        return command;
    }

    int fd_;
    std::string buffer_;
    bool malformed_ = false;
};

class FakeServer {
  public:
    using Behaviour = std::function<void(FakeConnection&)>;

    explicit FakeServer(Behaviour behaviour) : behaviour_(std::move(behaviour)) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = 0;  // the kernel picks a free port
        socklen_t size = sizeof address;
        if (::bind(listen_fd_, as_sockaddr(&address), size) != 0 || ::listen(listen_fd_, 16) != 0 ||
            ::getsockname(listen_fd_, as_sockaddr(&address), &size) != 0) {
            const int error = errno;
            ::close(listen_fd_);
            throw std::system_error(error, std::generic_category(), "bind/listen on 127.0.0.1");
        }
        port_ = ntohs(address.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }

    ~FakeServer() {
        stopping_ = true;
        ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
        acceptor_.join();
        ::close(listen_fd_);
        std::vector<std::thread> threads;
        {
            std::lock_guard lock(mutex_);
            for (int fd : connection_fds_) ::shutdown(fd, SHUT_RDWR);  // wakes blocked recv()
            threads = std::move(threads_);
        }
        for (auto& thread : threads) thread.join();
        for (int fd : connection_fds_) ::close(fd);
    }

    FakeServer(const FakeServer&) = delete;
    FakeServer& operator=(const FakeServer&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

    // Connections accepted after this call run `behaviour`.
    void set_behaviour(Behaviour behaviour) {
        std::lock_guard lock(mutex_);
        behaviour_ = std::move(behaviour);
    }

    int accepted() const {
        std::lock_guard lock(mutex_);
        return accepted_;
    }

    // Behaviours call this to report an event (e.g. "the client closed the connection").
    void note(const std::string& event) {
        {
            std::lock_guard lock(mutex_);
            events_.push_back(event);
        }
        changed_.notify_all();
    }

    // Waits up to `timeout` for `event` to have been noted; true if it was.
    bool wait_for(const std::string& event, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] {
            for (const auto& e : events_) {
                if (e == event) return true;
            }
            return false;
        });
    }

  private:
    static sockaddr* as_sockaddr(sockaddr_in* address) {
        return reinterpret_cast<sockaddr*>(address);
    }

    void accept_loop() {
        while (!stopping_) {
            const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                return;  // shut down
            }
            std::lock_guard lock(mutex_);
            ++accepted_;
            connection_fds_.push_back(fd);
            threads_.emplace_back([fd, behaviour = behaviour_] {
                FakeConnection connection(fd);
                behaviour(connection);
                // Closing is the behaviour's business: it may return to drop the connection.
                ::shutdown(fd, SHUT_RDWR);
            });
        }
    }

    Behaviour behaviour_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::thread acceptor_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    int accepted_ = 0;
    std::vector<int> connection_fds_;  // closed by the destructor, after the threads end
    std::vector<std::thread> threads_;
    std::vector<std::string> events_;
};

// Behaviours shared by several tests.

// Answers every command like a healthy server would for PING (and +OK for the rest).
inline void answer_correctly(FakeConnection& connection) {
    while (auto command = connection.read_command()) {
        const bool ping = !command->empty() && (*command)[0] == "PING";
        connection.write(ping ? "+PONG\r\n" : "+OK\r\n");
    }
}

// Reads commands and never answers, until the client goes away.
inline void stall(FakeConnection& connection) {
    connection.wait_for_client_close();
}

}  // namespace dlock::test
