// cluster_topology.hpp (private): who serves which slot of a Redis Cluster, without I/O.
//
// Built from a CLUSTER SLOTS reply; patched by MOVED redirections between two full reads.
// Sans-IO: unit-tested on hand-made replies (tests/unit/cluster_topology_test.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/reply.hpp"
#include "protocol/slots.hpp"

namespace dlock::detail {

struct NodeAddress {
    std::string host;
    std::uint16_t port = 0;

    // "host:port" ("[::1]:7000" for an IPv6 host): the key of a node's connection.
    std::string key() const;
    bool operator==(const NodeAddress&) const = default;
};

// Parses "host:port" (the port after the last colon, so an IPv6 host needs no brackets, as in
// MOVED replies; brackets are accepted too). An empty host is replaced by `default_host`
// (Redis sends ":port" when it does not know its own address). nullopt when malformed.
std::optional<NodeAddress> parse_address(std::string_view text, std::string_view default_host);

struct Shard {
    NodeAddress primary;
    // Replicas CLUSTER SLOTS listed: linked and not marked failed when it was read.
    std::vector<NodeAddress> replicas;
};

class Topology {
  public:
    Topology();

    // Reads a CLUSTER SLOTS reply ([[start, end, [host, port, id, ...], replica...], ...]).
    // `queried_host` stands in for an empty host (Redis's "same host you asked" convention);
    // nodes announced as "?" (unknown endpoint) are skipped. Throws ProtocolError when the
    // reply has another shape, or ServerError when it is an error reply.
    static Topology from_cluster_slots(const Reply& reply, std::string_view queried_host);

    // The shard serving `slot`, or nullptr when no node serves it (as far as we know).
    const Shard* shard_of(std::uint16_t slot) const;
    // A MOVED reply said `node` now serves `slot`. If `node` is a known primary the slot joins
    // its shard; otherwise (a promoted replica) a new shard is made whose replicas are the old
    // shard's other replicas, so the replica count stays plausible until the next full read.
    void set_primary(std::uint16_t slot, const NodeAddress& node);

    const std::vector<Shard>& shards() const noexcept { return shards_; }
    std::size_t covered_slots() const noexcept;
    bool empty() const noexcept { return covered_slots() == 0; }

  private:
    static constexpr std::uint16_t no_shard = 0xFFFF;
    std::vector<Shard> shards_;
    std::vector<std::uint16_t> shard_of_slot_;  // slot -> index in shards_, or no_shard
};

}  // namespace dlock::detail
