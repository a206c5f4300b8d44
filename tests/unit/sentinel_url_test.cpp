// redis-sentinel:// URLs: accepted forms, and bad input rejected with std::invalid_argument
// naming it, the password never shown.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "dlock/redis_sentinel.hpp"

using dlock::parse_sentinel_url;

namespace {
std::string error_of(const std::string& url) {
    try {
        parse_sentinel_url(url);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST(SentinelUrl, SeveralSentinelsServiceAndDb) {
    auto o = parse_sentinel_url(
        "redis-sentinel://alice:s%40cret@10.0.0.1:26380,10.0.0.2,[::1]:5/3#orders");
    EXPECT_EQ(o.service, "orders");
    ASSERT_EQ(o.sentinels.size(), 3u);
    EXPECT_EQ(o.sentinels[0].host, "10.0.0.1");
    EXPECT_EQ(o.sentinels[0].port, 26380);
    EXPECT_EQ(o.sentinels[1].host, "10.0.0.2");
    EXPECT_EQ(o.sentinels[1].port, 26379);  // Sentinel's default port
    EXPECT_EQ(o.sentinels[2].host, "::1");
    EXPECT_EQ(o.sentinels[2].port, 5);
    // User info and db are the data nodes'; the sentinels get none.
    EXPECT_EQ(o.data.user, "alice");
    EXPECT_EQ(o.data.password, "s@cret");
    EXPECT_EQ(o.data.db, 3);
    EXPECT_TRUE(o.sentinels[0].password.empty());
    EXPECT_FALSE(o.data.tls.enabled);
    EXPECT_FALSE(o.sentinels[0].tls.enabled);
}

TEST(SentinelUrl, TlsSchemeAppliesToSentinelsAndDataNodes) {
    auto o = parse_sentinel_url("rediss-sentinel://:pw@host#svc");
    EXPECT_TRUE(o.data.tls.enabled);
    EXPECT_TRUE(o.sentinels.at(0).tls.enabled);
    EXPECT_EQ(o.data.password, "pw");
    EXPECT_TRUE(o.data.user.empty());
    EXPECT_EQ(o.data.db, 0);
}

TEST(SentinelUrl, BadInputNamesTheProblem) {
    EXPECT_NE(error_of("redis://h#svc").find("unknown scheme"), std::string::npos);
    EXPECT_NE(error_of("h:1#svc").find("missing scheme"), std::string::npos);
    EXPECT_NE(error_of("redis-sentinel://h:1").find("missing #service"), std::string::npos);
    EXPECT_NE(error_of("redis-sentinel://h:1#").find("missing #service"), std::string::npos);
    EXPECT_NE(error_of("redis-sentinel://h:1,,h:2#s").find("empty sentinel address"),
              std::string::npos);
    EXPECT_NE(error_of("redis-sentinel://h:99999#s").find("bad sentinel address \"h:99999\""),
              std::string::npos);
    EXPECT_NE(error_of("redis-sentinel://h/x#s").find("db number"), std::string::npos);
    EXPECT_NE(error_of("redis-sentinel://#s").find("empty sentinel address"), std::string::npos);
}

TEST(SentinelUrl, ErrorsNeverShowThePassword) {
    for (const std::string url :
         {"redis-sentinel://u:hunter2@h:bad#s", "redis-sentinel://:hunter2@h/x#s",
          "rediss-sentinel://:hunter2@h"}) {
        const std::string message = error_of(url);
        EXPECT_FALSE(message.empty()) << url;
        EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    }
    EXPECT_EQ(dlock::redacted_url("redis-sentinel://u:hunter2@a,b#s"),
              "redis-sentinel://u:***@a,b#s");
}
