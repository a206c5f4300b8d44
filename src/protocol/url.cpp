// URL parsing for ConnectionOptions. Every rejection names what is wrong, because a URL usually
// comes from a config file or an environment variable far from the code that uses it.
#include <charconv>
#include <stdexcept>

#include "dlock/options.hpp"

namespace dlock {

namespace {

[[noreturn]] void bad_url(std::string_view url, const std::string& why) {
    throw std::invalid_argument("url: " + why + " in \"" + redacted_url(url) + "\"");
}

int parse_int(std::string_view text, std::string_view url, const char* what, long min, long max) {
    long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
        value > max) {
        bad_url(url, std::string("bad ") + what + " \"" + std::string(text) + "\"");
    }
    return static_cast<int>(value);
}

// %XX decoding for user and password, which may contain ':' or '@'.
std::string percent_decode(std::string_view text, std::string_view url) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) bad_url(url, "bad %-escape");
        int byte = 0;
        auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, byte, 16);
        if (ec != std::errc() || end != text.data() + i + 3) bad_url(url, "bad %-escape");
        out.push_back(static_cast<char>(byte));
        i += 2;
    }
    return out;
}

}  // namespace

std::string redacted_url(std::string_view url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        // Not a URL we can read: it may still be "user:password@host"; hide what follows ':'.
        const auto at = url.rfind('@');
        const auto colon = url.substr(0, at).find(':');
        if (at == std::string_view::npos || colon == std::string_view::npos)
            return std::string(url);
        return std::string(url.substr(0, colon)) + ":***" + std::string(url.substr(at));
    }
    const std::size_t start = scheme_end + 3;
    const auto slash = url.find('/', start);
    const std::string_view authority =
        url.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    const auto at = authority.rfind('@');
    if (at == std::string_view::npos) return std::string(url);
    const std::string_view userinfo = authority.substr(0, at);
    const auto colon = userinfo.find(':');
    // A user name only: hidden too. Earlier dlock versions read it as a password, so a URL
    // written for them may carry one there.
    if (colon == std::string_view::npos) {
        return std::string(url.substr(0, start)) + "***" + std::string(url.substr(start + at));
    }
    return std::string(url.substr(0, start)) + std::string(userinfo.substr(0, colon)) + ":***" +
           std::string(url.substr(start + at));
}

std::string ConnectionOptions::endpoint() const {
    if (!unix_path.empty()) return "unix:" + unix_path;
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return (tls.enabled ? "tls:" : "") + h + ":" + std::to_string(port);
}

ConnectionOptions parse_url(std::string_view url) {
    ConnectionOptions options;
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos)
        bad_url(url, "missing scheme (redis://, rediss:// or unix://)");
    const std::string_view scheme = url.substr(0, scheme_end);
    std::string_view rest = url.substr(scheme_end + 3);

    if (scheme == "unix") {
        // unix:///path/to/socket[?db=N]; user info is not supported here: use the options.
        const auto query = rest.find('?');
        std::string_view path = rest.substr(0, query);
        if (path.empty()) bad_url(url, "missing socket path");
        options.unix_path = std::string(path);
        if (query != std::string_view::npos) {
            std::string_view q = rest.substr(query + 1);
            if (q.substr(0, 3) != "db=") bad_url(url, "unknown query \"" + std::string(q) + "\"");
            options.db = parse_int(q.substr(3), url, "db number", 0, 1 << 20);
        }
        return options;
    }
    if (scheme == "rediss") {
        options.tls.enabled = true;
    } else if (scheme != "redis") {
        bad_url(url, "unknown scheme \"" + std::string(scheme) + "\"");
    }

    // [[user]:password@]host[:port][/db]
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        std::string_view db = rest.substr(slash + 1);
        if (!db.empty()) options.db = parse_int(db, url, "db number", 0, 1 << 20);
    }
    const auto at = authority.rfind('@');
    if (at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        const auto colon = userinfo.find(':');
        if (colon == std::string_view::npos) {
            // redis://alice@host names a user without a password, as in redis-py (and RFC
            // 3986); the password then comes from elsewhere (redis://:secret@host for one).
            options.user = percent_decode(userinfo, url);
        } else {
            options.user = percent_decode(userinfo.substr(0, colon), url);
            options.password = percent_decode(userinfo.substr(colon + 1), url);
        }
    }
    std::string_view host = authority;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {  // [::1]:6379
        const auto close = authority.find(']');
        if (close == std::string_view::npos) bad_url(url, "unterminated [ in host");
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') bad_url(url, "junk after host");
            port = after.substr(1);
            if (port.empty()) bad_url(url, "bad port \"\"");
        }
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        if (port.empty()) bad_url(url, "bad port \"\"");
    }
    if (host.empty()) bad_url(url, "missing host");
    options.host = std::string(host);
    if (!port.empty())
        options.port = static_cast<std::uint16_t>(parse_int(port, url, "port", 1, 65535));
    return options;
}

}  // namespace dlock
