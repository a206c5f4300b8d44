#include "client/cluster_topology.hpp"

#include <algorithm>
#include <charconv>

#include "dlock/errors.hpp"

namespace dlock::detail {

std::string NodeAddress::key() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<NodeAddress> parse_address(std::string_view text, std::string_view default_host) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view host = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
        return std::nullopt;
    }
    NodeAddress address{std::string(host.empty() ? default_host : host),
                        static_cast<std::uint16_t>(port)};
    if (address.host.empty()) return std::nullopt;
    return address;
}

Topology::Topology() : shard_of_slot_(slot_count, no_shard) {}

namespace {

[[noreturn]] void malformed(const std::string& what) {
    throw ProtocolError("unexpected CLUSTER SLOTS reply: " + what);
}

// [host, port, id, ...] -> address; nullopt for a node whose endpoint is unknown ("?").
std::optional<NodeAddress> read_node(const Reply& node, std::string_view queried_host) {
    if (!node.is_array() || node.elements.size() < 2)
        malformed("node entry is not [host, port, ...]");
    const Reply& host = node.elements[0];
    const Reply& port = node.elements[1];
    if (!port.is_integer() || port.integer <= 0 || port.integer > 65535) malformed("bad port");
    if (host.is_nil() || (host.is_string() && host.str.empty())) {
        return NodeAddress{std::string(queried_host), static_cast<std::uint16_t>(port.integer)};
    }
    if (!host.is_string()) malformed("host is not a string");
    if (host.str == "?") return std::nullopt;
    return NodeAddress{host.str, static_cast<std::uint16_t>(port.integer)};
}

}  // namespace

Topology Topology::from_cluster_slots(const Reply& reply, std::string_view queried_host) {
    reply.value();  // an error reply throws ServerError
    if (!reply.is_array()) malformed("not an array");
    Topology topology;
    for (const Reply& range : reply.elements) {
        if (!range.is_array() || range.elements.size() < 3)
            malformed("range is not [start, end, primary, ...]");
        const Reply& start = range.elements[0];
        const Reply& end = range.elements[1];
        if (!start.is_integer() || !end.is_integer() || start.integer < 0 ||
            end.integer < start.integer || end.integer >= slot_count) {
            malformed("bad slot range");
        }
        auto primary = read_node(range.elements[2], queried_host);
        if (!primary) continue;  // unreachable primary: leave its slots unassigned
        Shard shard{*primary, {}};
        for (std::size_t i = 3; i < range.elements.size(); ++i) {
            if (auto replica = read_node(range.elements[i], queried_host))
                shard.replicas.push_back(std::move(*replica));
        }
        // A shard serving several ranges appears once per range: merge by primary.
        auto same = std::find_if(topology.shards_.begin(), topology.shards_.end(),
                                 [&](const Shard& s) { return s.primary == shard.primary; });
        std::uint16_t index;
        if (same == topology.shards_.end()) {
            index = static_cast<std::uint16_t>(topology.shards_.size());
            topology.shards_.push_back(std::move(shard));
        } else {
            index = static_cast<std::uint16_t>(same - topology.shards_.begin());
        }
        std::fill(topology.shard_of_slot_.begin() + start.integer,
                  topology.shard_of_slot_.begin() + end.integer + 1, index);
    }
    return topology;
}

const Shard* Topology::shard_of(std::uint16_t slot) const {
    const std::uint16_t index = shard_of_slot_[slot % slot_count];
    return index == no_shard ? nullptr : &shards_[index];
}

void Topology::set_primary(std::uint16_t slot, const NodeAddress& node) {
    slot %= slot_count;
    const std::uint16_t old_index = shard_of_slot_[slot];
    auto same = std::find_if(shards_.begin(), shards_.end(),
                             [&](const Shard& s) { return s.primary == node; });
    if (same != shards_.end()) {
        shard_of_slot_[slot] = static_cast<std::uint16_t>(same - shards_.begin());
    } else {
        Shard promoted{node, {}};
        if (const Shard* old = shard_of(slot)) {
            std::copy_if(old->replicas.begin(), old->replicas.end(),
                         std::back_inserter(promoted.replicas),
                         [&](const NodeAddress& r) { return !(r == node); });
        }
        shard_of_slot_[slot] = static_cast<std::uint16_t>(shards_.size());
        shards_.push_back(std::move(promoted));
    }
    // Drop a shard left without a slot, so shards() lists only nodes that serve something.
    if (old_index == no_shard || std::find(shard_of_slot_.begin(), shard_of_slot_.end(),
                                           old_index) != shard_of_slot_.end()) {
        return;
    }
    shards_.erase(shards_.begin() + old_index);
    for (std::uint16_t& index : shard_of_slot_) {
        if (index != no_shard && index > old_index) --index;
    }
}

std::size_t Topology::covered_slots() const noexcept {
    return static_cast<std::size_t>(
        std::count_if(shard_of_slot_.begin(), shard_of_slot_.end(),
                      [](std::uint16_t index) { return index != no_shard; }));
}

}  // namespace dlock::detail
