// A fixture for tests on a plain redis-server of their own (own_servers.hpp), for those that
// pause it, count its commands or clients, or kill its connections: nobody else runs anything
// on it. As PlainServerTest otherwise: one io_context, a name no other test uses, `redis_` for
// the code under test, `admin_`, a blocking client with a connection of its own, and more
// clients on demand.
#pragma once

#include "dlock/redis.hpp"
#include "dlock/sync.hpp"
#include "own_servers.hpp"
#include "server_test.hpp"

namespace dlock::test {

class OwnServerTest : public ServerTest {
  protected:
    // One more client with its own connection.
    dlock::Redis& new_client() { return new_client_of(server_.url()); }

    OwnServers server_{"plain"};
    dlock::sync::Redis admin_{server_.url()};
    dlock::Redis redis_{io_.get_executor(), server_.url()};
};

}  // namespace dlock::test
