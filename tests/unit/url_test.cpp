// URL parsing: accepted forms, and bad input rejected with std::invalid_argument naming it.
#include <gtest/gtest.h>

#include "dlock/options.hpp"

using dlock::parse_url;

TEST(Url, PlainHostPortDb) {
    auto o = parse_url("redis://example.com:6380/3");
    EXPECT_EQ(o.host, "example.com");
    EXPECT_EQ(o.port, 6380);
    EXPECT_EQ(o.db, 3);
    EXPECT_FALSE(o.tls.enabled);
    EXPECT_TRUE(o.password.empty());
}

TEST(Url, DefaultsAndUserInfo) {
    auto o = parse_url("rediss://alice:p%40ss%3Aw@10.0.0.1");
    EXPECT_TRUE(o.tls.enabled);
    EXPECT_TRUE(o.tls.verify);
    EXPECT_EQ(o.port, 6379);
    auto q = parse_url("redis://[::1]:7000");
    EXPECT_EQ(q.host, "::1");
    EXPECT_EQ(q.port, 7000);
    auto u = parse_url("unix:///run/redis.sock?db=2");
    EXPECT_EQ(u.unix_path, "/run/redis.sock");
    EXPECT_EQ(u.db, 2);
}

void expect_rejected(const std::string& url, const std::string& mention) {
    try {
        parse_url(url);
        ADD_FAILURE() << url << " was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find(mention), std::string::npos)
            << url << ": message \"" << e.what() << "\" does not mention \"" << mention << "\"";
    }
}

TEST(Url, BadInputNamesTheProblem) {
    expect_rejected("http://localhost", "scheme");
    expect_rejected("localhost:6379", "scheme");
    expect_rejected("redis://localhost:notaport", "port");
    expect_rejected("redis://localhost:0", "port");
    expect_rejected("redis://localhost:70000", "port");
    expect_rejected("redis://localhost:", "port");
    expect_rejected("redis://:6379", "host");
    expect_rejected("redis://", "host");
    expect_rejected("redis://localhost/x1", "db");
    expect_rejected("redis://localhost/-1", "db");
    expect_rejected("unix://", "path");
    expect_rejected("redis://u:%zz@h", "escape");
}

// Percent-escapes decoded; a user without a password is a user, as in redis-py.
TEST(Url, UserInfoIsUserAndPassword) {
    struct Case {
        const char* url;
        const char* user;
        const char* password;
    };
    for (const Case& c : {Case{"rediss://alice:p%40ss%3Aw@10.0.0.1", "alice", "p@ss:w"},
                          Case{"redis://:secret@localhost", "", "secret"},
                          Case{"redis://alice@localhost:7000", "alice", ""},
                          Case{"redis://alice:@localhost", "alice", ""},
                          Case{"redis://al%40ce:p%3Aw%25d%2F@localhost", "al@ce", "p:w%d/"}}) {
        const auto options = parse_url(c.url);
        EXPECT_EQ(options.user, c.user) << c.url;
        EXPECT_EQ(options.password, c.password) << c.url;
    }
}

TEST(Url, ErrorsNeverShowThePassword) {
    for (const char* url : {"redis://alice:hunter2@localhost:notaport", "redis://:hunter2@:6379",
                            "http://alice:hunter2@localhost", "redis://u:hunter2@h/x1"}) {
        try {
            parse_url(url);
            ADD_FAILURE() << url << " was accepted";
        } catch (const std::invalid_argument& e) {
            const std::string message = e.what();
            EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
            EXPECT_NE(message.find(":***@"), std::string::npos) << message;
        }
    }
    EXPECT_EQ(dlock::redacted_url("rediss://alice:s%40cret@h:1/2"), "rediss://alice:***@h:1/2");
    EXPECT_EQ(dlock::redacted_url("redis://alice@h"),
              "redis://***@h");  // may be an old-style password
    EXPECT_EQ(dlock::redacted_url("redis://h:6379"), "redis://h:6379");
    EXPECT_EQ(dlock::redacted_url("alice:pw@h"), "alice:***@h");
}
