// RESP framing without a server: encoding, and replies split or coalesced across reads.
#include "protocol/resp.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "dlock/errors.hpp"

using dlock::Reply;
using dlock::detail::ReplyParser;

namespace {
// The first reply of `wire`, given to a fresh parser in one piece (none while incomplete).
std::optional<Reply> parse_first(const std::string& wire) {
    ReplyParser parser;
    parser.feed(wire.data(), wire.size());
    return parser.next();
}
}  // namespace

TEST(Encode, CommandIsBinarySafe) {
    std::string out;
    const std::string nul_name("a\0b\r\n", 5);
    dlock::detail::encode_command(out, {"SET", nul_name, ""});
    EXPECT_EQ(out, std::string("*3\r\n$3\r\nSET\r\n$5\r\na\0b\r\n\r\n$0\r\n\r\n", 30));
}

TEST(Parse, CoalescedRepliesComeOutInOrder) {
    ReplyParser parser;
    const std::string wire =
        "+OK\r\n:42\r\n$-1\r\n$3\r\nabc\r\n-ERR boom\r\n*2\r\n:1\r\n$1\r\nx\r\n";
    parser.feed(wire.data(), wire.size());
    auto ok = parser.next();
    ASSERT_TRUE(ok);
    EXPECT_TRUE(ok->is_ok());
    EXPECT_EQ(parser.next()->integer, 42);
    EXPECT_TRUE(parser.next()->is_nil());
    EXPECT_EQ(parser.next()->str, "abc");
    auto error = parser.next();
    EXPECT_TRUE(error->is_error());
    EXPECT_EQ(error->str, "ERR boom");
    auto array = parser.next();
    ASSERT_TRUE(array->is_array());
    ASSERT_EQ(array->elements.size(), 2u);
    EXPECT_EQ(array->elements[1].str, "x");
    EXPECT_FALSE(parser.next());
}

// A reply that is one status, error, integer or bulk string is read without hiredis: it must
// come out with the type and the bytes hiredis would give it.
TEST(Parse, LoneItemsKeepTheirTypeAndBytes) {
    ReplyParser parser;
    const std::string wire(
        "$5\r\nhe\r\no\r\n$0\r\n\r\n$2\r\nOK\r\n+OK\r\n:-9223372036854775808\r\n:007\r\n"
        "-NOSCRIPT x\r\n$3\r\na\0b\r\n",
        81);
    parser.feed(wire.data(), wire.size());
    auto crlf = parser.next();
    ASSERT_TRUE(crlf);
    EXPECT_EQ(crlf->type, Reply::Type::string);
    EXPECT_EQ(crlf->str, "he\r\no");
    EXPECT_EQ(parser.next()->str, "");
    auto bulk_ok = parser.next();
    EXPECT_EQ(bulk_ok->type, Reply::Type::string);
    EXPECT_EQ(bulk_ok->str, "OK");
    auto status = parser.next();
    EXPECT_EQ(status->type, Reply::Type::status);
    EXPECT_EQ(status->str, "OK");
    auto lowest = parser.next();
    EXPECT_EQ(lowest->type, Reply::Type::integer);
    EXPECT_EQ(lowest->integer, std::numeric_limits<long long>::min());
    EXPECT_EQ(parser.next()->integer, 7);
    auto error = parser.next();
    EXPECT_EQ(error->type, Reply::Type::error);
    EXPECT_EQ(error->str, "NOSCRIPT x");
    EXPECT_EQ(parser.next()->str, std::string("a\0b", 3));
    EXPECT_FALSE(parser.next());
}

TEST(Parse, ReplySplitAtEveryByteBoundary) {
    const std::string wire = "*2\r\n$5\r\nhe\r\no\r\n:-7\r\n";
    for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
        ReplyParser parser;
        parser.feed(wire.data(), cut);
        auto early = parser.next();
        if (cut < wire.size()) {
            EXPECT_FALSE(early) << "cut at " << cut;
        }
        parser.feed(wire.data() + cut, wire.size() - cut);
        auto reply = early ? early : parser.next();
        ASSERT_TRUE(reply) << "cut at " << cut;
        EXPECT_EQ(reply->elements[0].str, std::string("he\r\no"));
        EXPECT_EQ(reply->elements[1].integer, -7);
    }
}

TEST(Parse, GarbageIsAProtocolError) {
    EXPECT_THROW(parse_first("?what\r\n"), dlock::ProtocolError);
}

TEST(ServerError, CodeIsTheFirstWord) {
    dlock::ServerError error("MOVED 3999 127.0.0.1:6381");
    EXPECT_EQ(error.code(), "MOVED");
    Reply reply;
    reply.type = Reply::Type::error;
    reply.str = "NOSCRIPT No matching script";
    try {
        reply.value();
        FAIL() << "value() of an error reply must throw";
    } catch (const dlock::ServerError& e) {
        EXPECT_EQ(e.code(), "NOSCRIPT");
    }
}

// ---- Limits: what the parser refuses or skips, and what it never allocates --------------

using dlock::detail::UnsupportedReply;

namespace {
std::string nested(int depth, const std::string& inner) {
    std::string out;
    for (int i = 0; i < depth; ++i) out += "*1\r\n";
    return out + inner;
}
}  // namespace

// Found by tests/fuzz/resp_fuzz.cpp (corpus/resp/oom-claimed-array-length): hiredis allocates
// an array's element table from the claimed length before any element arrives, so these 12
// bytes cost 4.4 GB (and a length of 10^12 failed the connection as "out of memory").
TEST(Limits, FuzzerInputClaimingAHugeArrayIsRefusedWithoutAllocating) {
    const std::string wire(
        "*555555555\r\n1\r\n$\r1\n-*1\r\n*1\r\n*1\r\n*0\r\n*2\r\n*1\r\n*1\r\n:11\r\n:1\xdd\n", 57);
    EXPECT_THROW(parse_first(wire), dlock::ProtocolError);  // "1" is no reply type
}

TEST(Limits, ClaimedLengthsAllocateNothingUntilTheBytesArrive) {
    // Incomplete, not "out of memory".
    EXPECT_FALSE(parse_first("*1000000000000\r\n$1000000000000\r\n"));
}

TEST(Limits, EightNestedArraysAreRepresented) {
    auto reply = parse_first(nested(8, ":1\r\n"));
    ASSERT_TRUE(reply);
    const Reply* inner = &*reply;
    for (int i = 0; i < 8; ++i) {
        ASSERT_TRUE(inner->is_array());
        inner = &inner->elements.at(0);
    }
    EXPECT_EQ(inner->integer, 1);
}

// Valid RESP that Reply cannot hold is skipped whole, and the parser goes on with the next
// reply, split anywhere: only the request it answers fails, never the connection.
TEST(Limits, UnsupportedRepliesAreSkippedAndTheNextReplyParses) {
    const std::vector<std::string> unsupported = {
        nested(9, ":1\r\n"),                     // deeper than hiredis's 8
        nested(8, "*0\r\n"),                     // an empty array is still an array
        nested(8, "*-1\r\n"),                    // and so is a nil one
        nested(20, "$3\r\nabc\r\n"),             //
        "%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n:2\r\n",  // RESP3 map
        "~2\r\n+a\r\n+b\r\n",                    // set
        ">3\r\n+message\r\n+ch\r\n+hi\r\n",      // push
        "|1\r\n+ttl\r\n:3\r\n$2\r\nhi\r\n",      // attribute, then the value it annotates
        "_\r\n",
        ",1.5\r\n",
        "#t\r\n",
        "(12345678901234567890\r\n",
        "!9\r\nERR no\r\nx\r\n",  // blob error (with a CRLF inside)
        "=8\r\ntxt:abcd\r\n",     // verbatim string
        "*2\r\n:1\r\n_\r\n",      // RESP3 inside a RESP2 array
    };
    for (const std::string& odd : unsupported) {
        const std::string wire = "+before\r\n" + odd + "+after\r\n";
        for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
            ReplyParser parser;
            std::vector<std::string> seen;
            auto drain = [&] {
                while (true) {
                    try {
                        auto reply = parser.next();
                        if (!reply) return;
                        seen.push_back(reply->str);
                    } catch (const UnsupportedReply&) {
                        seen.emplace_back("<skipped>");
                    }
                }
            };
            parser.feed(wire.data(), cut);
            drain();
            parser.feed(wire.data() + cut, wire.size() - cut);
            drain();
            EXPECT_EQ(seen, (std::vector<std::string>{"before", "<skipped>", "after"}))
                << odd << " cut at " << cut;
        }
    }
}

TEST(Limits, UnsupportedReplyIsAProtocolErrorForItsCaller) {
    EXPECT_THROW(parse_first("_\r\n"), dlock::ProtocolError);
}

TEST(Limits, MalformedLengthsStayFatal) {
    for (const std::string wire : {"$-2\r\n", "$01\r\nx\r\n", "$+1\r\nx\r\n", "*x\r\n", "*-0\r\n",
                                   "%-2\r\n", "$99999999999999999999\r\n", "?\r\n"}) {
        try {
            parse_first(wire);
            ADD_FAILURE() << wire << " was accepted";
        } catch (const UnsupportedReply&) {
            ADD_FAILURE() << wire << " was skipped as merely unsupported";
        } catch (const dlock::ProtocolError&) {
        }
    }
}
