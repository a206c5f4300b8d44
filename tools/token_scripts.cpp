#include "token_scripts.hpp"

#include <chrono>
#include <cmath>
#include <vector>

#include "dlock/errors.hpp"
#include "lock/scripts.hpp"
#include "protocol/keys.hpp"
#include "protocol/slots.hpp"

namespace dlock::cli {

namespace {

using detail::Clock;

// What a Lock allows each of its server calls (LockOptions::command_timeout's default).
constexpr auto command_timeout = std::chrono::seconds(5);

// EVALSHA, then EVAL once on NOSCRIPT (a server that has not seen the script yet), as the
// library does. Error replies throw ServerError.
asio::awaitable<Reply> run_script(Client& client, const std::string& key,
                                  const detail::Script& script,
                                  const std::vector<std::string_view>& keys,
                                  const std::vector<std::string_view>& args) {
    const auto deadline = Clock::now() + command_timeout;
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool full = attempt == 1;
        detail::Request request;
        detail::push_script(request, script, keys, args, full);
        auto replies = co_await client.execute_for_key(key, request, deadline);
        Reply& reply = replies.front();
        if (!full && reply.is_error() && reply.str.rfind("NOSCRIPT", 0) == 0) continue;
        reply.value();
        co_return std::move(reply);
    }
    throw ProtocolError("server kept answering NOSCRIPT");
}

}  // namespace

asio::awaitable<bool> release_with_token(Client& client, const std::string& name,
                                         const std::string& token) {
    // The same script and keys as Lock::release(), so the first queued waiter (a `dlock run`
    // or a library waiter) wakes up at once.
    const std::string queue = detail::wait_queue_key(name);
    const std::string_view publish = detail::publish_command(client.is_cluster());
    const std::vector<std::string_view> keys{name}, args{token, publish, name, queue};
    const Reply reply = co_await run_script(client, name, detail::release_script(), keys, args);
    co_return reply.integer == 1;
}

asio::awaitable<bool> extend_with_token(Client& client, const std::string& name,
                                        const std::string& token, Seconds time, bool replace) {
    const auto ms = static_cast<long long>(std::ceil(time.count() * 1000.0));
    const std::string ms_text = std::to_string(ms);
    const std::string_view mode = replace ? "replace" : "add";
    const std::vector<std::string_view> keys{name}, args{token, ms_text, mode};
    const Reply reply = co_await run_script(client, name, detail::extend_script(), keys, args);
    co_return reply.integer == 1;
}

asio::awaitable<long long> lock_ttl_ms(Client& client, const std::string& name) {
    detail::Request request;
    const std::string_view command[] = {"PTTL", name};
    request.push(std::span<const std::string_view>(command));
    auto replies = co_await client.execute_for_key(name, request, Clock::now() + command_timeout);
    co_return replies.front().value().integer;
}

}  // namespace dlock::cli
