// Cluster slots and the companion keys that must share the lock key's slot.
#include "protocol/slots.hpp"

#include <gtest/gtest.h>

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
