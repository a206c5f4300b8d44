// cluster_routing.hpp (private): the decisions of the cluster router that need no I/O.
//
// What an error reply asks the client to do (follow MOVED/ASK, back off on TRYAGAIN), which
// argument of a command is its key, and how a request is re-sent after ASK. Unit-tested in
// tests/unit/cluster_topology_test.cpp.
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
