// RESP framing without a server: encoding, and replies split or coalesced across reads.
#include "protocol/resp.hpp"

#include <gtest/gtest.h>

#include "dlock/errors.hpp"

using dlock::Reply;
using dlock::detail::ReplyParser;

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
    ReplyParser parser;
    const std::string wire = "?what\r\n";
    parser.feed(wire.data(), wire.size());
    EXPECT_THROW(parser.next(), dlock::ProtocolError);
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
