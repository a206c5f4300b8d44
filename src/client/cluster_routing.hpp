// cluster_routing.hpp (private): the decisions of the cluster router that need no I/O.
//
// What an error reply asks the client to do (follow MOVED/ASK, back off on TRYAGAIN), what to do
// after one attempt of a request (next_step: the whole redirect/retry policy of
// ClusterState::execute, which only does the I/O), which argument of a command is its key, and
// how a request is re-sent after ASK. Unit-tested in tests/unit/cluster_routing_test.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "client/cluster_topology.hpp"
#include "dlock/reply.hpp"
#include "net/asio.hpp"
#include "net/connection.hpp"

namespace dlock::detail {

struct Redirect {
    enum class Kind { moved, ask };
    Kind kind;
    std::uint16_t slot;
    NodeAddress node;
};

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" -> Redirect (an empty host means
// `current_host`). nullopt for any other error, or a malformed one.
std::optional<Redirect> parse_redirect(std::string_view error, std::string_view current_host);

// The first redirection among `replies` (any command of a request may carry one).
std::optional<Redirect> find_redirect(const std::vector<Reply>& replies,
                                      std::string_view current_host);

// True when a reply among `replies` says "try again shortly": TRYAGAIN (keys of a multi-key
// command split by a migration), CLUSTERDOWN (during a failover), LOADING (a restarted node).
bool should_retry_later(const std::vector<Reply>& replies);

// Wait before retry number `attempt` (0-based): 10 ms doubling, capped at 200 ms.
std::chrono::milliseconds retry_backoff(unsigned attempt);

// ---- After one attempt: what next? (Boost.Redis exec_fsm style) -------------------------------

// How an attempt of a request failed, as far as the loop can tell. Only a failure that proves
// the request was never sent may lead to sending it again.
enum class Failure {
    none,               // the node answered: the replies say what happened
    connect_failed,     // ConnectionError on the PING that opens the connection: never sent
    connect_timed_out,  // TimeoutError on that PING (connect_timeout or the deadline): never sent
    dropped,            // ConnectionError once the request was written: it may have run
    timed_out,          // TimeoutError waiting for the replies: it may have run
};

// What the loop has done so far for this request, and its limits.
struct Progress {
    std::size_t redirects = 0;       // MOVED/ASK followed so far
    std::size_t max_redirects = 16;  // ClusterOptions::max_redirects
    unsigned retries = 0;            // back-offs taken so far (failures and TRYAGAIN alike)
    Clock::time_point now{};
    Deadline deadline{};
    bool closed = false;  // the RedisCluster is gone
};

struct Step {
    // What should we do next?
    enum class Action {
        // Return the replies as they are: no redirection or transient error among them, or
        // one past max_redirects, or a transient error with no time left for a back-off.
        done,
        // Patch the slot map (redirect->slot is served by redirect->node), start a slot map
        // read in the background, send the request again to redirect->node.
        follow_moved,
        // Send the request again to redirect->node, each command preceded by ASKING. The
        // slot map stays as it is (the slot is being migrated).
        follow_ask,
        // TRYAGAIN/CLUSTERDOWN/LOADING: start a slot map read in the background, sleep until
        // wake_at, send again where the slot map says.
        retry_after_backoff,
        // The request was never sent: sleep until wake_at, wait for a slot map read (until the
        // deadline; its failure is ignored, the next attempt finds out again), send again where
        // the slot map says.
        refresh_then_retry,
        // The failure is the answer (it may have run, or no time is left, or the client is
        // closed): start a slot map read in the background (the node may be failing over) and
        // rethrow the failure.
        rethrow,
    };
    Action action = Action::done;
    std::optional<Redirect> redirect;  // follow_moved, follow_ask
    Clock::time_point wake_at{};       // retry_after_backoff, refresh_then_retry
};

// The redirect/retry decision after one attempt sent to a node on `host`: `failure`, or else
// `replies` (its redirections name `host` when they leave the host empty). The back-off is
// retry_backoff(progress.retries) from progress.now, and is only taken when it ends before the
// deadline. The caller counts: redirects after follow_*, retries after retry_*/refresh_*.
Step next_step(Failure failure, const std::vector<Reply>& replies, std::string_view host,
               const Progress& progress);

// The index of the argument a cluster routes `args` by: the first key. That is args[1] for
// most commands; for EVAL, EVALSHA, FCALL and their _RO forms it is args[3] when numkeys > 0.
// nullopt for a command without a key: a single word, or one of the server/connection
// commands (PING, INFO, CLUSTER, CONFIG, CLIENT, SCRIPT, FUNCTION, PUBLISH...).
std::optional<std::size_t> routing_key_index(std::span<const std::string_view> args);

// The request to send to an ASK target: every command preceded by ASKING (the ASKING flag
// lasts for one command only).
Request with_asking(const Request& request);
// The replies of with_asking(request) without the ASKING replies.
std::vector<Reply> without_asking(std::vector<Reply> replies);

}  // namespace dlock::detail
