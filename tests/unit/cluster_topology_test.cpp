// The cluster router's decisions that need no server: slot map, redirections, routing keys,
// ASKING, and the replication factor a Lock derives from a shard's replica count.
#include "client/cluster_topology.hpp"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <stdexcept>

#include "client/cluster_routing.hpp"
#include "dlock/errors.hpp"
#include "dlock/lock.hpp"
#include "lock/replication.hpp"

using namespace dlock;
using namespace dlock::detail;

namespace {

Reply integer(long long value) {
    Reply r;
    r.type = Reply::Type::integer;
    r.integer = value;
    return r;
}

Reply bulk(std::string value) {
    Reply r;
    r.type = Reply::Type::string;
    r.str = std::move(value);
    return r;
}

Reply array(std::vector<Reply> elements) {
    Reply r;
    r.type = Reply::Type::array;
    r.elements = std::move(elements);
    return r;
}

Reply error(std::string message) {
    Reply r;
    r.type = Reply::Type::error;
    r.str = std::move(message);
    return r;
}

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

TEST(ClusterRouting, ParsesAddresses) {
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

TEST(ClusterRouting, ParsesRedirections) {
    auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381", "here");
    ASSERT_TRUE(moved);
    EXPECT_EQ(moved->kind, Redirect::Kind::moved);
    EXPECT_EQ(moved->slot, 3999);
    EXPECT_EQ(moved->node, (NodeAddress{"127.0.0.1", 6381}));
    auto ask = parse_redirect("ASK 16383 :6382", "here");
    ASSERT_TRUE(ask);
    EXPECT_EQ(ask->kind, Redirect::Kind::ask);
    EXPECT_EQ(ask->node, (NodeAddress{"here", 6382}));
    EXPECT_FALSE(parse_redirect("MOVED 16384 h:1", "x"));
    EXPECT_FALSE(parse_redirect("MOVED x h:1", "x"));
    EXPECT_FALSE(parse_redirect("MOVEDX 1 h:1", "x"));
    EXPECT_FALSE(parse_redirect("ASKING 1 h:1", "x"));
    EXPECT_FALSE(parse_redirect("ERR wrong", "x"));

    // Any reply of a request may carry the redirection.
    const std::vector<Reply> replies{bulk("v"), error("MOVED 7 10.0.0.9:7000")};
    auto found = find_redirect(replies, "here");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->node.host, "10.0.0.9");
    EXPECT_FALSE(find_redirect({bulk("MOVED 7 h:1"), error("ERR x")}, "here"));
}

TEST(ClusterRouting, RetriesOnlyTransientErrors) {
    EXPECT_TRUE(
        should_retry_later({error("TRYAGAIN Multiple keys request during rehashing of slot")}));
    EXPECT_TRUE(should_retry_later({bulk("ok"), error("CLUSTERDOWN The cluster is down")}));
    EXPECT_TRUE(should_retry_later({error("LOADING Redis is loading the dataset in memory")}));
    EXPECT_FALSE(
        should_retry_later({error("CROSSSLOT Keys in request don't hash to the same slot")}));
    EXPECT_FALSE(should_retry_later({error("ERR unknown command")}));
    EXPECT_EQ(retry_backoff(0).count(), 10);
    EXPECT_EQ(retry_backoff(1).count(), 20);
    EXPECT_EQ(retry_backoff(4).count(), 160);
    EXPECT_EQ(retry_backoff(5).count(), 200);
    EXPECT_EQ(retry_backoff(1000).count(), 200);
}

TEST(ClusterRouting, FindsTheKeyArgument) {
    using Args = std::vector<std::string_view>;
    auto index = [](Args args) { return routing_key_index(args); };
    EXPECT_EQ(index({"GET", "k"}), 1u);
    EXPECT_EQ(index({"set", "k", "v"}), 1u);
    EXPECT_EQ(index({"SPUBLISH", "chan", "m"}), 1u);
    EXPECT_EQ(index({"EVALSHA", "abc", "2", "k1", "k2", "a"}), 3u);
    EXPECT_EQ(index({"eval", "return 1", "0"}), std::nullopt);
    EXPECT_EQ(index({"FCALL", "f", "0", "arg"}), std::nullopt);
    EXPECT_EQ(index({"EVAL", "s", "x", "k"}), std::nullopt);
    EXPECT_EQ(index({"PING"}), std::nullopt);
    EXPECT_EQ(index({"INFO", "commandstats"}), std::nullopt);
    EXPECT_EQ(index({"cluster", "info"}), std::nullopt);
    EXPECT_EQ(index({"PUBLISH", "chan", "m"}), std::nullopt);
}

TEST(ClusterRouting, AskingPrecedesEveryCommand) {
    Request request;
    request.push({"SET", std::string_view("k\0\r\n", 4), "v"});
    request.push({"GET", "k"});
    const Request asked = with_asking(request);
    ASSERT_EQ(asked.size(), 4u);
    Request expected;
    expected.push({"ASKING"});
    expected.push({"SET", std::string_view("k\0\r\n", 4), "v"});
    expected.push({"ASKING"});
    expected.push({"GET", "k"});
    EXPECT_EQ(asked.payload(), expected.payload());

    const auto replies = without_asking({bulk("OK"), bulk("a"), bulk("OK"), bulk("b")});
    ASSERT_EQ(replies.size(), 2u);
    EXPECT_EQ(replies[0].str, "a");
    EXPECT_EQ(replies[1].str, "b");
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
