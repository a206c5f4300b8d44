// A fixture for tests on the harness's shared plain server: one io_context, a name no other
// test uses, a client for the code under test, `other_` (its own connection, as another
// process or an admin would have), and more clients on demand.
#pragma once

#include <string>

#include "dlock/redis.hpp"
#include "server_test.hpp"
#include "servers.hpp"

namespace dlock::test {

class PlainServerTest : public ServerTest {
  protected:
    // One more client with its own connection.
    dlock::Redis& new_client() { return new_client_of(url()); }
    static std::string url() { return server("PLAIN_URL"); }

    dlock::Redis client_{io_.get_executor(), url()};
    dlock::Redis other_{io_.get_executor(), url()};
};

}  // namespace dlock::test
