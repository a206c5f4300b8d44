// The names dlock writes are a wire contract (src/protocol/keys.hpp): other processes and other
// dlock versions must find the same fence counter, wait queue, inbox and last fence.
#include "protocol/keys.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lock/lease_lua.hpp"
#include "lock/scripts.hpp"
#include "protocol/slots.hpp"

namespace {

using namespace dlock::detail;

TEST(Keys, DerivedNamesAreFixed) {
    // Literal strings on purpose: a change here breaks compatibility with running dlock
    // processes of the previous version. ("reports" is in slot 5152; "8jc" is its tag.)
    ASSERT_EQ(key_slot("reports"), 5152u);
    EXPECT_EQ(fence_key("reports"), "dlock:fence:{8jc}:reports");
    EXPECT_EQ(wait_queue_key("reports"), "dlock:queue:{8jc}:reports");
    EXPECT_EQ(last_fence_key("reports"), "dlock:last-fence:{8jc}:reports");
    EXPECT_EQ(holder_key("reports"), "dlock:holder:{8jc}:reports");
    EXPECT_EQ(handoff_key("reports"), "dlock:handoff:{8jc}:reports");
    EXPECT_EQ(handoff_message_prefix, "dlock:handed:");
    EXPECT_EQ(claim_marker_prefix, "dlock:claim:");
    EXPECT_EQ(inbox_channel("abc", std::nullopt), "dlock:inbox:abc");
    EXPECT_EQ(inbox_channel("abc", std::uint16_t{5152}), "dlock:inbox:{8jc}:abc");
    EXPECT_EQ(semaphore_holders_key("reports"), "dlock:sem:{8jc}:reports");
    EXPECT_EQ(semaphore_wait_name("reports"), "dlock:sem-wait:{8jc}:reports");
    EXPECT_EQ(readers_key("reports"), "dlock:readers:{8jc}:reports");
    EXPECT_EQ(writers_waiting_key("reports"), "dlock:writers-waiting:{8jc}:reports");
    EXPECT_EQ(readers_waiting_key("reports"), "dlock:readers-waiting:{8jc}:reports");
    EXPECT_EQ(readers_turn_key("reports"), "dlock:readers-turn:{8jc}:reports");
    EXPECT_EQ(reader_wait_name("reports"), "dlock:rw-read:{8jc}:reports");
    EXPECT_EQ(writer_wait_name("reports"), "dlock:rw-write:{8jc}:reports");
}

// The Lua of lock/lease_lua.hpp (still_waits) finds a kind's own wait queue from the Lock's
// queue: the same prefix (a wait name has its name's slot, so the same tag), then the wait name.
TEST(Keys, AKindsWaitQueueSharesTheLockQueuesPrefix) {
    for (const std::string name : {"reports", "{user:1}:jobs", "a}b{c"}) {
        const std::string lock_queue = wait_queue_key(name);
        const std::string prefix = lock_queue.substr(0, lock_queue.size() - name.size());
        for (const std::string& wait_name :
             {semaphore_wait_name(name), reader_wait_name(name), writer_wait_name(name)}) {
            EXPECT_EQ(wait_queue_key(wait_name), prefix + wait_name) << name;
        }
    }
}

// Key NAME's markers say which kind holds a name; no token (hex) can equal one.
TEST(Keys, KindMarkersAreFixedAndTellTheKind) {
    EXPECT_EQ(semaphore_marker(4), "dlock-kind:semaphore:4");
    EXPECT_EQ(readers_marker, "dlock-kind:readers");
    EXPECT_EQ(permits_of_marker("dlock-kind:semaphore:12"), 12u);
    EXPECT_EQ(kind_of_value(semaphore_marker(2)), KindOfValue::semaphore);
    EXPECT_EQ(kind_of_value(readers_marker), KindOfValue::readers);
    for (const std::string other : {"0123456789abcdef", "dlock:claim:dlock:inbox:x", "",
                                    "dlock-kind:semaphore:", "dlock-kind:semaphore:2x",
                                    "dlock-kind:semaphore:-1", "dlock-kind:readers2"}) {
        EXPECT_EQ(kind_of_value(other), KindOfValue::lock) << other;
        EXPECT_EQ(permits_of_marker(other), std::nullopt) << other;
    }
}

TEST(Keys, TheLockNameIsFoundFromItsHolderFenceAndQueueKeysOnly) {
    for (const std::string name : {"reports", "a}:b", "{user1}:job", "", "dlock:fence:{x}:y"}) {
        EXPECT_EQ(lock_name_of(holder_key(name)), name);
        EXPECT_EQ(lock_name_of(fence_key(name)), name);
        EXPECT_EQ(lock_name_of(wait_queue_key(name)), name);
    }
    EXPECT_EQ(lock_name_of("reports"), std::nullopt);
    EXPECT_EQ(lock_name_of(last_fence_key("reports")), std::nullopt);
    EXPECT_EQ(lock_name_of(inbox_channel("abc", std::nullopt)), std::nullopt);
    EXPECT_EQ(lock_name_of("dlock:fence:{broken"), std::nullopt);
}

// `dlock list` lists semaphores and read/write locks by their keys too.
TEST(Keys, TheNameOfASemaphoreOrReadWriteLockIsFoundFromEachOfItsKeys) {
    for (const std::string name : {"jobs", "a}:b", "{user1}:job"}) {
        for (const std::string& key :
             {semaphore_holders_key(name), readers_key(name), writers_waiting_key(name),
              readers_waiting_key(name), readers_turn_key(name),
              wait_queue_key(semaphore_wait_name(name)), wait_queue_key(reader_wait_name(name)),
              wait_queue_key(writer_wait_name(name))}) {
            EXPECT_EQ(lock_name_of(key), name) << key;
        }
    }
    // A wait name is no key of its own: only its queue names the semaphore.
    EXPECT_EQ(lock_name_of(semaphore_wait_name("jobs")), std::nullopt);
}

TEST(Keys, EveryDerivedKeyLivesInTheLockNamesSlot) {
    for (const std::string name : {"a", "reports", "{user1}:job", "x{}y", "", "\xff\x00z"}) {
        EXPECT_EQ(key_slot(fence_key(name)), key_slot(name)) << name;
        EXPECT_EQ(key_slot(wait_queue_key(name)), key_slot(name)) << name;
        EXPECT_EQ(key_slot(last_fence_key(name)), key_slot(name)) << name;
        EXPECT_EQ(key_slot(holder_key(name)), key_slot(name)) << name;
        EXPECT_EQ(key_slot(inbox_channel("id", key_slot(name))), key_slot(name)) << name;
        for (const std::string& derived :
             {semaphore_holders_key(name), readers_key(name), writers_waiting_key(name),
              readers_waiting_key(name), readers_turn_key(name)}) {
            EXPECT_EQ(key_slot(derived), key_slot(name)) << name << " " << derived;
        }
        // A waiter's inbox is chosen by the slot of the name it waits under.
        for (const std::string& wait_name :
             {semaphore_wait_name(name), reader_wait_name(name), writer_wait_name(name)}) {
            EXPECT_EQ(key_slot(wait_name), key_slot(name)) << name;
            EXPECT_EQ(key_slot(wait_queue_key(wait_name)), key_slot(name)) << name;
        }
    }
}

// The scripts' Lua spells the values it writes to key NAME and the hand-off message itself:
// those spellings must be keys.hpp's, or a waiter would not recognise its claim or hand-off.
TEST(Keys, TheScriptsSpellTheMarkersAndMessagesAsKeysHppDoes) {
    const auto quoted = [](std::string_view text) { return "'" + std::string(text) + "'"; };
    const std::string_view release = release_script().source;
    EXPECT_NE(release.find(quoted(handoff_message_prefix)), std::string_view::npos);
    EXPECT_NE(release.find(quoted(claim_marker_prefix)), std::string_view::npos);
    EXPECT_NE(acquire_script().source.find(quoted(claim_marker_prefix)), std::string_view::npos);
    const std::string_view lease = lease_lua_prelude;
    EXPECT_NE(lease.find(quoted(readers_marker)), std::string_view::npos);
    const std::string semaphore_prefix =
        semaphore_marker(0).substr(0, semaphore_marker(0).size() - 1);
    EXPECT_NE(lease.find(quoted(semaphore_prefix)), std::string_view::npos);
}

TEST(Keys, TheCompanionKeysBuiltTogetherAreTheOnesBuiltOneByOne) {
    // The release builds the three from one slot computation: a slip there would send its
    // hand-off or fence to a key no other process reads.
    for (const std::string& name :
         std::vector<std::string>{"jobs", "", "a{b}c", std::string("bin\0ary:x", 9)}) {
        const LockCompanionKeys keys = lock_companion_keys(name);
        EXPECT_EQ(keys.fence, fence_key(name));
        EXPECT_EQ(keys.queue, wait_queue_key(name));
        EXPECT_EQ(keys.handoff, handoff_key(name));
    }
}

}  // namespace
