// Cluster slots and the companion keys that must share the lock key's slot.
#include "protocol/slots.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <vector>

#include "protocol/token.hpp"

using namespace dlock::detail;

TEST(Slots, KnownValues) {
    // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
    EXPECT_EQ(crc16("123456789"), 0x31C3);
    EXPECT_EQ(key_slot("foo"), 12182);
    EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
    EXPECT_EQ(key_slot("foo{}{bar}"), crc16("foo{}{bar}") % 16384);
    EXPECT_EQ(key_slot("foo{{bar}}zap"), crc16("{bar") % 16384);
}

// The table-driven crc16 against the definition, bit by bit, on names of every length up to 64.
TEST(Slots, Crc16MatchesTheBitwiseDefinition) {
    auto bitwise = [](std::string_view data) {
        std::uint16_t crc = 0;
        for (unsigned char byte : data) {
            crc ^= static_cast<std::uint16_t>(byte << 8);
            for (int bit = 0; bit < 8; ++bit) {
                crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                                     : static_cast<std::uint16_t>(crc << 1);
            }
        }
        return crc;
    };
    std::string name;
    for (int length = 0; length <= 64; ++length) {
        ASSERT_EQ(crc16(name), bitwise(name)) << name;
        name += static_cast<char>(' ' + (length * 37 + 11) % 95);
        name.back() = static_cast<char>(name.back() ^ (length & 0x80));
    }
    for (unsigned byte = 0; byte < 256; ++byte) {
        const std::string one(1, static_cast<char>(byte));
        ASSERT_EQ(crc16(one), bitwise(one)) << byte;
    }
}

TEST(Slots, EverySlotHasATag) {
    for (unsigned slot = 0; slot < slot_count; ++slot) {
        ASSERT_EQ(key_slot(slot_tag(static_cast<std::uint16_t>(slot))), slot);
    }
}

TEST(Slots, CompanionKeysShareTheSlot) {
    for (const std::string& name : std::vector<std::string>{
             "a", "a}b", "{x}y", "{}", "a{b", std::string("n\0l", 3), std::string(1000, '{')}) {
        EXPECT_EQ(key_slot(companion_key("dlock:fence:", name)), key_slot(name)) << name;
    }
}

TEST(Token, HexOf128RandomBits) {
    const std::string a = make_token(), b = make_token();
    EXPECT_EQ(a.size(), 32u);
    EXPECT_NE(a, b);
    EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(Token, ManyAreDistinct) {
    // Tokens come from a per-thread buffer refilled every 256 tokens: cross a refill.
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(make_token()).second);
}

TEST(Token, AForkedChildNeverRepeatsItsParentsTokens) {
    make_token();  // the parent's buffer now holds bytes for later tokens
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        const std::string token = make_token();
        const ssize_t written = write(fds[1], token.data(), token.size());
        _exit(written == static_cast<ssize_t>(token.size()) ? 0 : 1);
    }
    close(fds[1]);
    const std::string parent_token = make_token();
    std::string child_token(32, '\0');
    ASSERT_EQ(read(fds[0], child_token.data(), child_token.size()), 32);
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_NE(child_token, parent_token);
}
