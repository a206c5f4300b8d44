// sentinel_replies.hpp (private): reading what sentinels and ROLE answer, without I/O.
//
// Sans-IO: unit-tested on hand-made replies (tests/unit/sentinel_replies_test.cpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "client/cluster_topology.hpp"
#include "dlock/reply.hpp"

namespace dlock::detail {

// SENTINEL GET-MASTER-ADDR-BY-NAME: [host, port], or nil when the sentinel does not know the
// service (nullopt). Throws ServerError on an error reply, ProtocolError on another shape.
std::optional<NodeAddress> primary_address(const Reply& reply);

// ROLE: whether the server says it is a primary ("master"), and then the replicas it lists.
struct Role {
    bool primary = false;
    std::size_t replicas = 0;
};
Role parse_role(const Reply& reply);

// SENTINEL SENTINELS / SENTINEL REPLICAS: one flat field-value array per entry; the address
// of each ("ip", "port"). Entries without both are skipped.
std::vector<NodeAddress> listed_addresses(const Reply& reply);

// A +switch-master message's payload ("service old-ip old-port new-ip new-port"): the new
// primary when it is about `service`.
std::optional<NodeAddress> switched_primary(std::string_view payload, std::string_view service);

}  // namespace dlock::detail
