// What sentinels and ROLE answer, read without a server.
#include "client/sentinel_replies.hpp"

#include <gtest/gtest.h>

#include "dlock/errors.hpp"
#include "replies.hpp"

using namespace dlock::replies;
using dlock::detail::NodeAddress;

TEST(SentinelReplies, PrimaryAddress) {
    EXPECT_EQ(dlock::detail::primary_address(array({bulk("10.0.0.1"), bulk("6380")})),
              (NodeAddress{"10.0.0.1", 6380}));
    EXPECT_EQ(dlock::detail::primary_address(dlock::Reply{}), std::nullopt);  // unknown service
    EXPECT_THROW(dlock::detail::primary_address(array({bulk("h")})), dlock::ProtocolError);
    EXPECT_THROW(dlock::detail::primary_address(array({bulk("h"), bulk("0")})),
                 dlock::ProtocolError);
    EXPECT_THROW(dlock::detail::primary_address(error("ERR no")), dlock::ServerError);
}

TEST(SentinelReplies, RoleOfPrimaryCountsItsReplicas) {
    const auto role = dlock::detail::parse_role(
        array({bulk("master"), integer(42),
               array({array({bulk("127.0.0.1"), bulk("7001"), bulk("42")}),
                      array({bulk("127.0.0.1"), bulk("7002"), bulk("40")})})}));
    EXPECT_TRUE(role.primary);
    EXPECT_EQ(role.replicas, 2u);
    const auto replica = dlock::detail::parse_role(
        array({bulk("slave"), bulk("127.0.0.1"), integer(7000), bulk("connected"), integer(42)}));
    EXPECT_FALSE(replica.primary);
    EXPECT_EQ(replica.replicas, 0u);
    EXPECT_THROW(dlock::detail::parse_role(integer(1)), dlock::ProtocolError);
}

TEST(SentinelReplies, ListedAddressesSkipIncompleteEntries) {
    const auto listed = dlock::detail::listed_addresses(
        array({array({bulk("name"), bulk("x"), bulk("ip"), bulk("10.0.0.2"), bulk("port"),
                      bulk("26379")}),
               array({bulk("ip"), bulk("10.0.0.3")}),  // no port
               array({bulk("port"), bulk("26381"), bulk("ip"), bulk("10.0.0.4")})}));
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0], (NodeAddress{"10.0.0.2", 26379}));
    EXPECT_EQ(listed[1], (NodeAddress{"10.0.0.4", 26381}));
}

TEST(SentinelReplies, SwitchMasterMessage) {
    EXPECT_EQ(dlock::detail::switched_primary("svc 10.0.0.1 6379 10.0.0.2 6380", "svc"),
              (NodeAddress{"10.0.0.2", 6380}));
    EXPECT_EQ(dlock::detail::switched_primary("other 10.0.0.1 6379 10.0.0.2 6380", "svc"),
              std::nullopt);
    EXPECT_EQ(dlock::detail::switched_primary("svc 10.0.0.1 6379 10.0.0.2", "svc"), std::nullopt);
    EXPECT_EQ(dlock::detail::switched_primary("svc 1 2 3 x", "svc"), std::nullopt);
}
