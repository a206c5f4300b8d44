// The cluster's slot map without a server: CLUSTER SLOTS, addresses, MOVED patches, and the
// replication factor a Lock derives from a shard's replica count. The routing decisions are in
// cluster_routing_test.cpp.
#include "client/cluster_topology.hpp"

#include <gtest/gtest.h>

#include "dlock/errors.hpp"
#include "lock/replication.hpp"
#include "replies.hpp"

using namespace dlock;
using namespace dlock::detail;
using namespace dlock::replies;

namespace {

// [host, port, id, metadata] as Redis 7.0 sends it.
Reply node(const std::string& host, long long port) {
    return array({bulk(host), integer(port), bulk("id" + std::to_string(port)), array({})});
}

Reply range(long long start, long long end, std::vector<Reply> nodes) {
    std::vector<Reply> elements{integer(start), integer(end)};
    for (auto& n : nodes) elements.push_back(std::move(n));
    return array(std::move(elements));
}

// Three shards, `replicas` replicas each, slots split like `redis-cli --cluster create`.
Reply three_shards(int replicas) {
    std::vector<Reply> ranges;
    const long long bounds[][2] = {{0, 5460}, {5461, 10922}, {10923, 16383}};
    for (int shard = 0; shard < 3; ++shard) {
        std::vector<Reply> nodes{node("10.0.0.1", 7000 + shard)};
        for (int r = 0; r < replicas; ++r) nodes.push_back(node("10.0.0.2", 7100 + 10 * shard + r));
        ranges.push_back(range(bounds[shard][0], bounds[shard][1], std::move(nodes)));
    }
    return array(std::move(ranges));
}

}  // namespace

TEST(ClusterTopology, ReadsClusterSlots) {
    for (int replicas : {0, 1, 2, 3}) {
        const Topology topology = Topology::from_cluster_slots(three_shards(replicas), "seed");
        ASSERT_EQ(topology.shards().size(), 3u);
        EXPECT_EQ(topology.covered_slots(), 16384u);
        for (std::uint16_t slot : {0, 5460, 5461, 10922, 10923, 16383}) {
            const Shard* shard = topology.shard_of(slot);
            ASSERT_NE(shard, nullptr);
            EXPECT_EQ(shard->replicas.size(), static_cast<std::size_t>(replicas));
        }
        EXPECT_EQ(topology.shard_of(5460)->primary, (NodeAddress{"10.0.0.1", 7000}));
        EXPECT_EQ(topology.shard_of(5461)->primary, (NodeAddress{"10.0.0.1", 7001}));
        EXPECT_EQ(topology.shard_of(16383)->primary.key(), "10.0.0.1:7002");
    }
}

TEST(ClusterTopology, MergesRangesOfOneShardAndLeavesGapsUnassigned) {
    // Slot 100 is not served (e.g. mid-failover); shard A serves two ranges.
    const Reply reply =
        array({range(0, 99, {node("a", 1)}), range(101, 200, {node("b", 2), node("c", 3)}),
               range(201, 16383, {node("a", 1)})});
    const Topology topology = Topology::from_cluster_slots(reply, "seed");
    EXPECT_EQ(topology.shards().size(), 2u);
    EXPECT_EQ(topology.covered_slots(), 16383u);
    EXPECT_EQ(topology.shard_of(100), nullptr);
    EXPECT_EQ(topology.shard_of(0), topology.shard_of(16383));
    EXPECT_EQ(topology.shard_of(150)->replicas.size(), 1u);
}

TEST(ClusterTopology, EmptyHostMeansTheQueriedHostAndUnknownEndpointsAreSkipped) {
    const Reply reply =
        array({range(0, 16383, {node("", 7000), node("?", 7001), node("10.0.0.3", 7002)})});
    const Topology topology = Topology::from_cluster_slots(reply, "seed.example");
    ASSERT_NE(topology.shard_of(0), nullptr);
    EXPECT_EQ(topology.shard_of(0)->primary, (NodeAddress{"seed.example", 7000}));
    ASSERT_EQ(topology.shard_of(0)->replicas.size(), 1u);
    EXPECT_EQ(topology.shard_of(0)->replicas[0].port, 7002);
}

TEST(ClusterTopology, RejectsMalformedReplies) {
    EXPECT_THROW(Topology::from_cluster_slots(bulk("nope"), "h"), ProtocolError);
    EXPECT_THROW(Topology::from_cluster_slots(array({array({integer(0), integer(5)})}), "h"),
                 ProtocolError);
    EXPECT_THROW(Topology::from_cluster_slots(array({range(5, 4, {node("a", 1)})}), "h"),
                 ProtocolError);
    EXPECT_THROW(Topology::from_cluster_slots(array({range(0, 16384, {node("a", 1)})}), "h"),
                 ProtocolError);
    EXPECT_THROW(Topology::from_cluster_slots(array({range(0, 1, {node("a", 0)})}), "h"),
                 ProtocolError);
    EXPECT_THROW(
        Topology::from_cluster_slots(error("ERR This instance has cluster support disabled"), "h"),
        ServerError);
    EXPECT_TRUE(Topology::from_cluster_slots(array({}), "h").empty());
}

TEST(ClusterTopology, MovedToAnotherPrimaryJoinsItsShard) {
    Topology topology = Topology::from_cluster_slots(three_shards(1), "seed");
    topology.set_primary(100, NodeAddress{"10.0.0.1", 7002});
    EXPECT_EQ(topology.shard_of(100)->primary.port, 7002);
    EXPECT_EQ(topology.shard_of(101)->primary.port, 7000);
    EXPECT_EQ(topology.shards().size(), 3u);
}

TEST(ClusterTopology, MovedToAPromotedReplicaKeepsTheOtherReplicas) {
    Topology topology = Topology::from_cluster_slots(three_shards(2), "seed");
    const NodeAddress promoted{"10.0.0.2", 7100};
    topology.set_primary(0, promoted);
    EXPECT_EQ(topology.shard_of(0)->primary, promoted);
    ASSERT_EQ(topology.shard_of(0)->replicas.size(), 1u);
    EXPECT_EQ(topology.shard_of(0)->replicas[0].port, 7101);
    EXPECT_EQ(topology.shards().size(), 4u);
    // Every slot of the old shard moves: the old shard disappears.
    for (unsigned slot = 1; slot <= 5460; ++slot)
        topology.set_primary(static_cast<std::uint16_t>(slot), promoted);
    EXPECT_EQ(topology.shards().size(), 3u);
    EXPECT_EQ(topology.shard_of(5460)->primary, promoted);
    EXPECT_EQ(topology.shard_of(16383)->primary.port, 7002);
}

TEST(ClusterTopology, ParsesAddresses) {
    EXPECT_EQ(parse_address("127.0.0.1:7000", "x"), (NodeAddress{"127.0.0.1", 7000}));
    EXPECT_EQ(parse_address("::1:7000", "x"), (NodeAddress{"::1", 7000}));
    EXPECT_EQ(parse_address("[::1]:7000", "x"), (NodeAddress{"::1", 7000}));
    EXPECT_EQ(parse_address(":7000", "seed"), (NodeAddress{"seed", 7000}));
    EXPECT_EQ((NodeAddress{"::1", 7000}).key(), "[::1]:7000");
    EXPECT_FALSE(parse_address("host", "x"));
    EXPECT_FALSE(parse_address("host:0", "x"));
    EXPECT_FALSE(parse_address("host:65536", "x"));
    EXPECT_FALSE(parse_address("host:7x", "x"));
    EXPECT_FALSE(parse_address(":7000", ""));
}

TEST(ClusterReplication, FactorIsHalfTheReplicasRoundedUp) {
    // docs/semantics.md §3.1: ceil(R/2), right for any number of replicas (coredis's formula
    // gives 0 for R >= 2).
    const std::size_t expected[] = {0, 1, 1, 2, 2, 3};
    for (std::size_t replicas = 0; replicas < 6; ++replicas) {
        EXPECT_EQ(dlock::detail::replication_factor(replicas), expected[replicas])
            << "R = " << replicas;
    }
}
