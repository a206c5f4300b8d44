#include "client/sentinel_replies.hpp"

#include <charconv>
#include <string>

#include "dlock/errors.hpp"

namespace dlock::detail {

namespace {
std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 ||
        value > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(value);
}
}  // namespace

std::optional<NodeAddress> primary_address(const Reply& reply) {
    reply.value();  // throws ServerError on an error reply
    if (reply.is_nil()) return std::nullopt;
    if (!reply.is_array() || reply.elements.size() != 2 || !reply.elements[0].is_string() ||
        !reply.elements[1].is_string())
        throw ProtocolError("SENTINEL GET-MASTER-ADDR-BY-NAME: unexpected reply " +
                            reply.to_string());
    const auto port = parse_port(reply.elements[1].str);
    if (!port || reply.elements[0].str.empty())
        throw ProtocolError("SENTINEL GET-MASTER-ADDR-BY-NAME: bad address " + reply.to_string());
    return NodeAddress{reply.elements[0].str, *port};
}

Role parse_role(const Reply& reply) {
    reply.value();
    if (!reply.is_array() || reply.elements.empty() || !reply.elements[0].is_string())
        throw ProtocolError("ROLE: unexpected reply " + reply.to_string());
    Role role;
    role.primary = reply.elements[0].str == "master";
    if (role.primary && reply.elements.size() >= 3 && reply.elements[2].is_array())
        role.replicas = reply.elements[2].elements.size();
    return role;
}

std::vector<NodeAddress> listed_addresses(const Reply& reply) {
    reply.value();
    std::vector<NodeAddress> out;
    if (!reply.is_array()) throw ProtocolError("SENTINEL: unexpected reply " + reply.to_string());
    for (const Reply& entry : reply.elements) {
        if (!entry.is_array()) continue;
        std::string_view host;
        std::optional<std::uint16_t> port;
        for (std::size_t i = 0; i + 1 < entry.elements.size(); i += 2) {
            const std::string& field = entry.elements[i].str;
            if (field == "ip") host = entry.elements[i + 1].str;
            if (field == "port") port = parse_port(entry.elements[i + 1].str);
        }
        if (!host.empty() && port) out.push_back(NodeAddress{std::string(host), *port});
    }
    return out;
}

std::optional<NodeAddress> switched_primary(std::string_view payload, std::string_view service) {
    std::vector<std::string_view> words;
    std::size_t start = 0;
    while (start <= payload.size()) {
        const auto space = payload.find(' ', start);
        words.push_back(payload.substr(
            start, space == std::string_view::npos ? std::string_view::npos : space - start));
        if (space == std::string_view::npos) break;
        start = space + 1;
    }
    if (words.size() != 5 || words[0] != service) return std::nullopt;
    const auto port = parse_port(words[4]);
    if (!port || words[3].empty()) return std::nullopt;
    return NodeAddress{std::string(words[3]), *port};
}

}  // namespace dlock::detail
