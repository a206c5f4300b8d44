#include "lock/eval.hpp"

#include "dlock/errors.hpp"
#include "net/connection.hpp"

namespace dlock::detail {

namespace {

// EVALSHA (or EVAL) of `call` (a ScriptCall or ReleaseCall) through `send`, then EVAL once on
// NOSCRIPT as `mode` says.
template <class Send, class Call>
asio::awaitable<Reply> eval_through(Send send, const Call& call, EvalMode mode) {
    for (bool full = mode == EvalMode::source_only;; full = true) {
        Request request;
        call.push_to(request, full);
        auto replies = co_await send(request);
        Reply& reply = replies.front();
        if (!full && mode == EvalMode::cached_first && is_noscript(reply)) continue;
        co_return std::move(reply);
    }
}

template <class Call>
asio::awaitable<Reply> eval_for_key(Backend& backend, const Call& call, Deadline deadline,
                                    EvalMode mode, std::shared_ptr<Connection>* used) {
    return eval_through(
        [&backend, &call, deadline, used](const Request& request) {
            return backend.execute_for_key(call.route_key(), request, deadline, used);
        },
        call, mode);
}

}  // namespace

asio::awaitable<Reply> eval(Backend& backend, const ScriptCall& call, Deadline deadline,
                            EvalMode mode, std::shared_ptr<Connection>* used) {
    return eval_for_key(backend, call, deadline, mode, used);
}

asio::awaitable<Reply> eval(Backend& backend, const ReleaseCall& call, Deadline deadline,
                            EvalMode mode, std::shared_ptr<Connection>* used) {
    return eval_for_key(backend, call, deadline, mode, used);
}

asio::awaitable<Reply> eval(Connection& connection, const ScriptCall& call, Deadline deadline,
                            EvalMode mode) {
    return eval_through(
        [&connection, deadline](const Request& request) {
            return connection.execute(request, deadline);
        },
        call, mode);
}

bool is_noscript(const Reply& reply) {
    return reply.is_error() && reply.str.starts_with("NOSCRIPT");
}

}  // namespace dlock::detail
