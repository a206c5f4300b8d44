#include "lock/eval.hpp"

#include "dlock/errors.hpp"

namespace dlock::detail {

asio::awaitable<Reply> eval(Backend& backend, const ScriptCall& call, Deadline deadline,
                            EvalMode mode, std::shared_ptr<Connection>* used) {
    for (bool full = mode == EvalMode::source_only;; full = true) {
        Request request;
        call.push_to(request, full);
        auto replies = co_await backend.execute_for_key(call.keys.front(), request, deadline, used);
        Reply& reply = replies.front();
        if (!full && mode == EvalMode::cached_first && is_noscript(reply)) continue;
        co_return std::move(reply);
    }
}

bool is_noscript(const Reply& reply) {
    return reply.is_error() && reply.str.starts_with("NOSCRIPT");
}

}  // namespace dlock::detail
