// Fuzzes the reply path: any bytes, split anywhere, nested any way, go through ReplyParser.
//
// Beyond "no crash, no leak, no hang", three oracles:
//   - the split does not matter: whole, byte by byte and in pseudo-random pieces give the same
//     replies and the same error (the connection's reader sees reads of any size);
//   - a reply re-encoded as RESP parses back to itself (nothing is lost in the conversion);
//   - only ProtocolError escapes (anything else would kill the connection's reader), and an
//     UnsupportedReply leaves the parser usable.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dlock/errors.hpp"
#include "fuzz_support.hpp"

namespace {

using dlock::Reply;
using namespace dlock::fuzz;

void encode(const Reply& reply, std::string& out) {
    switch (reply.type) {
        case Reply::Type::nil:
            out += "$-1\r\n";
            break;
        case Reply::Type::integer:
            out += ':' + std::to_string(reply.integer) + "\r\n";
            break;
        case Reply::Type::string:
            out += '$' + std::to_string(reply.str.size()) + "\r\n" + reply.str + "\r\n";
            break;
        case Reply::Type::status:
            out += '+' + reply.str + "\r\n";
            break;
        case Reply::Type::error:
            out += '-' + reply.str + "\r\n";
            break;
        case Reply::Type::array:
            out += '*' + std::to_string(reply.elements.size()) + "\r\n";
            for (const Reply& element : reply.elements) encode(element, out);
            break;
    }
}

bool same(const Parsed& a, const Parsed& b) {
    if (a.failed != b.failed || a.skipped != b.skipped || a.replies.size() != b.replies.size())
        return false;
    for (std::size_t i = 0; i < a.replies.size(); ++i) {
        if (!same_reply(a.replies[i], b.replies[i])) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view wire(reinterpret_cast<const char*>(data), size);

    const Parsed whole = parse_whole(wire);
    DLOCK_FUZZ_CHECK(same(whole, parse_in_pieces(wire, [] { return std::size_t{1}; })));
    // Piece sizes from the input itself, so libFuzzer can steer them too.
    std::uint64_t state = 0x9E3779B97F4A7C15ull ^ size;
    for (char c : wire) state = (state ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
    DLOCK_FUZZ_CHECK(same(whole, parse_in_pieces(wire, [&] {
                              state = state * 6364136223846793005ull + 1442695040888963407ull;
                              return static_cast<std::size_t>(state >> 59) + 1;  // 1..32
                          })));

    for (const Reply& reply : whole.replies) {
        (void)reply.to_string();
        std::string again;
        encode(reply, again);
        const Parsed reparsed = parse_whole(again);
        DLOCK_FUZZ_CHECK(!reparsed.failed && reparsed.replies.size() == 1);
        DLOCK_FUZZ_CHECK(same_reply(reparsed.replies.front(), reply));
    }
    return 0;
}
