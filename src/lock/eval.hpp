// eval.hpp (private): the one way dlock runs a script.
//
// EVALSHA first; on NOSCRIPT (a fresh, restarted or flushed server, a promoted replica) the
// same call once more as EVAL, which also caches the script. So a script crosses the wire once
// per server, not once per call, and no SCRIPT LOAD round trip is spent up front.
#pragma once

#include <asio/awaitable.hpp>
#include <memory>

#include "client/backend.hpp"
#include "dlock/reply.hpp"
#include "lock/scripts.hpp"
#include "net/asio.hpp"

namespace dlock::detail {

enum class EvalMode {
    // EVALSHA, then EVAL on NOSCRIPT: for calls whose caller waits for the answer.
    cached_first,
    // EVAL straight away, one round trip: for calls whose effect must not arrive later than
    // they were sent. A NOSCRIPT retry is a second, later write: it could land after a
    // release() returned (renewal), behind a newer queue entry (leaving the wait queue), or
    // after its deadline, when nobody is left to send it (roll-back after a timed-out SET).
    source_only,
};

// Runs `call` on the server that owns call.keys[0]. Returns the reply; an error reply is
// returned, not thrown (reply.value() throws it as ServerError). Throws ConnectionError,
// TimeoutError, ProtocolError like Backend::execute_for_key. `used` as there.
asio::awaitable<Reply> eval(Backend& backend, const ScriptCall& call, Deadline deadline,
                            EvalMode mode = EvalMode::cached_first,
                            std::shared_ptr<Connection>* used = nullptr);

}  // namespace dlock::detail
