// redis-sentinel:// URLs (the form Lettuce uses), built on parse_url() for each part so that
// user info, hosts, ports and db numbers are read by one parser.
#include <stdexcept>
#include <string>

#include "dlock/options.hpp"
#include "dlock/redis_sentinel.hpp"

namespace dlock {

namespace {

constexpr std::uint16_t default_sentinel_port = 26379;

[[noreturn]] void bad_sentinel_url(std::string_view url, const std::string& why) {
    throw std::invalid_argument("url: " + why + " in \"" + redacted_url(url) + "\"");
}

// Whether `address` ("host", "host:port", "[v6]" or "[v6]:port") names a port.
bool has_port(std::string_view address) {
    if (!address.empty() && address.front() == '[')
        return address.find("]:") != std::string_view::npos;
    return address.find(':') != std::string_view::npos;
}

}  // namespace

SentinelOptions parse_sentinel_url(std::string_view url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos)
        bad_sentinel_url(url, "missing scheme (redis-sentinel:// or rediss-sentinel://)");
    const std::string_view scheme = url.substr(0, scheme_end);
    std::string node_scheme;
    if (scheme == "redis-sentinel") {
        node_scheme = "redis://";
    } else if (scheme == "rediss-sentinel") {
        node_scheme = "rediss://";
    } else {
        bad_sentinel_url(url, "unknown scheme \"" + std::string(scheme) + "\"");
    }
    std::string_view rest = url.substr(scheme_end + 3);

    SentinelOptions out;
    const auto hash = rest.rfind('#');
    if (hash == std::string_view::npos || hash + 1 == rest.size())
        bad_sentinel_url(url, "missing #service (the name the sentinels monitor)");
    out.service = std::string(rest.substr(hash + 1));
    rest = rest.substr(0, hash);

    // [[user]:password@]host[:port][,host[:port]...][/db]
    const auto at = rest.rfind('@');
    const std::string_view userinfo =
        at == std::string_view::npos ? std::string_view() : rest.substr(0, at + 1);
    if (at != std::string_view::npos) rest = rest.substr(at + 1);
    const auto slash = rest.find('/');
    const std::string_view db =
        slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    const std::string_view hosts = rest.substr(0, slash);

    // The data nodes' settings: user info and db on a placeholder host (it is ignored).
    try {
        out.data = parse_url(node_scheme + std::string(userinfo) + "primary" + std::string(db));
    } catch (const std::invalid_argument&) {
        bad_sentinel_url(url, "bad user info or db number");
    }
    std::size_t start = 0;
    for (;;) {
        const auto comma = hosts.find(',', start);
        const std::string_view address = hosts.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (address.empty()) bad_sentinel_url(url, "empty sentinel address");
        ConnectionOptions sentinel;
        try {
            sentinel = parse_url(node_scheme + std::string(address));
        } catch (const std::invalid_argument&) {
            bad_sentinel_url(url, "bad sentinel address \"" + std::string(address) + "\"");
        }
        if (!has_port(address)) sentinel.port = default_sentinel_port;
        out.sentinels.push_back(std::move(sentinel));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return out;
}

}  // namespace dlock
