// eval.hpp (private): the one way dlock runs a script.
//
// EVALSHA first; on NOSCRIPT (a fresh, restarted or flushed server, a promoted replica) the
// same call once more as EVAL, which also caches the script. So a script crosses the wire once
// per server, not once per call, and no SCRIPT LOAD round trip is spent up front. A caller
// that may not retry by itself gets the NOSCRIPT reply back instead (cached_only).
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
    // they were sent. A NOSCRIPT retry is a second, later write: it could land behind a newer
    // queue entry (leaving the wait queue), or after its deadline, when nobody is left to send
    // it (roll-back after a timed-out SET). A renewal's could land after a release() returned:
    // renewals use cached_only, and their loop sends the source next if still needed.
    source_only,
    // EVALSHA only; NOSCRIPT comes back as the reply (is_noscript()), not retried here: for a
    // call that is repeated anyway and whose repetition is a new decision taken on the strand
    // (a renewal sends its next attempt as EVAL only if the hold is still the same one).
    cached_only,
};

// The reply to an EVALSHA of a script the server does not have (cached_only).
bool is_noscript(const Reply& reply);

// Runs `call` on the server that owns call.keys[0]. Returns the reply; an error reply is
// returned, not thrown (reply.value() throws it as ServerError). Throws ConnectionError,
// TimeoutError, ProtocolError like Backend::execute_for_key. `used` as there.
asio::awaitable<Reply> eval(Backend& backend, const ScriptCall& call, Deadline deadline,
                            EvalMode mode = EvalMode::cached_first,
                            std::shared_ptr<Connection>* used = nullptr);

// The same for a Lock's release (scripts.hpp says why it has its own call type).
asio::awaitable<Reply> eval(Backend& backend, const ReleaseCall& call, Deadline deadline,
                            EvalMode mode = EvalMode::cached_first,
                            std::shared_ptr<Connection>* used = nullptr);

// The same on one connection, whatever it serves: for a write that belongs to that server (a
// wake-up passed back to the server that sent it; a MOVED reply just drops it).
asio::awaitable<Reply> eval(Connection& connection, const ScriptCall& call, Deadline deadline,
                            EvalMode mode);

}  // namespace dlock::detail
