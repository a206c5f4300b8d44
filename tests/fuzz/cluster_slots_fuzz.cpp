// Fuzzes the CLUSTER SLOTS path: bytes become replies through the RESP parser, as they do on
// a connection, and each reply goes to Topology::from_cluster_slots. Later replies patch the
// topology like MOVED redirections do (an integer is a slot, a string "host:port" a node).
//
// Checks: only ProtocolError/ServerError escape, and the slot table never points outside the
// shard list, whatever the reply and the redirections.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "client/cluster_topology.hpp"
#include "dlock/errors.hpp"
#include "fuzz_support.hpp"

namespace {

using dlock::Reply;
using dlock::detail::Topology;

void check(const Topology& topology) {
    std::size_t covered = 0;
    for (std::uint32_t slot = 0; slot < dlock::detail::slot_count; ++slot) {
        const auto* shard = topology.shard_of(static_cast<std::uint16_t>(slot));
        if (shard == nullptr) continue;
        ++covered;
        DLOCK_FUZZ_CHECK(shard >= topology.shards().data() &&
                         shard < topology.shards().data() + topology.shards().size());
        DLOCK_FUZZ_CHECK(shard->primary.port != 0 && !shard->primary.host.empty());
    }
    DLOCK_FUZZ_CHECK(covered == topology.covered_slots());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view wire(reinterpret_cast<const char*>(data), size);
    const dlock::fuzz::Parsed parsed = dlock::fuzz::parse_whole(wire);
    if (parsed.replies.empty()) return 0;

    std::optional<Topology> topology;
    try {
        topology = Topology::from_cluster_slots(parsed.replies.front(), "seed.example");
    } catch (const dlock::ProtocolError&) {
    } catch (const dlock::ServerError&) {
    }
    if (!topology) topology.emplace();
    check(*topology);

    std::uint16_t slot = 0;
    int redirections = 0;
    for (std::size_t i = 1; i < parsed.replies.size() && redirections < 16; ++i) {
        const Reply& reply = parsed.replies[i];
        if (reply.is_integer()) {
            slot = static_cast<std::uint16_t>(reply.integer);
        } else if (reply.is_string()) {
            if (auto node = dlock::detail::parse_address(reply.str, "seed.example")) {
                DLOCK_FUZZ_CHECK(node->port != 0 && !node->host.empty());
                (void)node->key();
                topology->set_primary(slot, *node);
                check(*topology);
                ++redirections;
            }
        }
    }
    return 0;
}
