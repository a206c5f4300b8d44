// tests/fuzz/fuzz_support.hpp: what several fuzz targets share.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/errors.hpp"
#include "dlock/reply.hpp"
#include "protocol/resp.hpp"

namespace dlock::fuzz {

// A failed check: abort, so libFuzzer saves the input as a crash.
#define DLOCK_FUZZ_CHECK(condition)                                                            \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                      \
        }                                                                                      \
    } while (false)

inline bool same_reply(const Reply& a, const Reply& b) {
    if (a.type != b.type || a.integer != b.integer || a.str != b.str ||
        a.elements.size() != b.elements.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.elements.size(); ++i) {
        if (!same_reply(a.elements[i], b.elements[i])) return false;
    }
    return true;
}

// What a parser made of a byte stream: the replies until the first protocol error, and whether
// there was one. Replies are collected after every feed, as the connection's reader does.
struct Parsed {
    std::vector<Reply> replies;
    std::vector<std::size_t> skipped;  // UnsupportedReply before replies[i] (in order)
    bool failed = false;
};

// Parses `wire` fed in pieces of the sizes `next_size()` returns (at least 1 byte each).
template <class NextSize>
Parsed parse_in_pieces(std::string_view wire, NextSize next_size) {
    Parsed parsed;
    detail::ReplyParser parser;
    try {
        std::size_t at = 0;
        while (at < wire.size()) {
            std::size_t n = next_size();
            if (n == 0) n = 1;
            if (n > wire.size() - at) n = wire.size() - at;
            parser.feed(wire.data() + at, n);
            at += n;
            while (true) {
                try {
                    auto reply = parser.next();
                    if (!reply) break;
                    parsed.replies.push_back(std::move(*reply));
                } catch (const detail::UnsupportedReply&) {
                    parsed.skipped.push_back(parsed.replies.size());  // the parser goes on
                }
            }
        }
    } catch (const ProtocolError&) {
        parsed.failed = true;
    }
    return parsed;
}

inline Parsed parse_whole(std::string_view wire) {
    return parse_in_pieces(wire, [&] { return wire.size(); });
}

}  // namespace dlock::fuzz
