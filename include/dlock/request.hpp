// dlock/request.hpp: commands to send back to back, as one value.
//
// A Request holds its commands already encoded (RESP), so it can be built once and sent many
// times. Redis::pipeline() sends one and returns one reply per command, in order.
//
//   dlock::Request request;
//   request.push({"SET", "a", "1"}).push({"INCR", "n"});
//   std::vector<dlock::Reply> replies = co_await redis.pipeline(request);
#pragma once

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace dlock {

class Request {
  public:
    Request() = default;
    Request(std::initializer_list<std::string_view> args) { push(args); }

    // Appends one command (its name, then its arguments).
    Request& push(std::initializer_list<std::string_view> args);
    Request& push(std::span<const std::string_view> args);
    Request& push(std::span<const std::string> args);

    // A command whose reply the server sends as a push (an unsubscribe confirmation, which
    // Redis also sends unasked when a slot moves): it is not matched with this request.
    Request& push_unanswered(std::initializer_list<std::string_view> args);

    // Replies this request waits for (its commands, less the unanswered ones).
    std::size_t size() const noexcept { return commands_ - unanswered_; }
    // The encoded commands, as they go on the wire.
    const std::string& payload() const noexcept { return payload_; }

  private:
    std::string payload_;
    std::size_t commands_ = 0;
    std::size_t unanswered_ = 0;
};

}  // namespace dlock
