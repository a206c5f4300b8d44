// A fixture for tests on a plain redis-server of their own (own_servers.hpp), for those that
// pause it, count its commands or clients, or kill its connections: nobody else runs anything
// on it. As PlainServerTest otherwise: one io_context, a name no other test uses, `redis_` for
// the code under test, and `admin_`, a blocking client with a connection of its own.
#pragma once

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <string>
#include <utility>

#include "async.hpp"
#include "dlock/redis.hpp"
#include "dlock/sync.hpp"
#include "names.hpp"
#include "own_servers.hpp"

namespace dlock::test {

class OwnServerTest : public ::testing::Test {
  protected:
    // Runs the coroutine `body` on io_ to completion; rethrows what it throws.
    template <class F>
    void run(F body) {
        dlock::test::run(io_, std::move(body));
    }

    OwnServers server_{"plain"};
    dlock::sync::Redis admin_{server_.url()};
    asio::io_context io_;
    dlock::Redis redis_{io_.get_executor(), server_.url()};
    const std::string name_ = unique_name();
};

}  // namespace dlock::test
