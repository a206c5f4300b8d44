// A fixture for tests on the harness's shared plain server: one io_context, a name no other
// test uses, a client for the code under test, `other_` (its own connection, as another
// process or an admin would have), and more clients on demand.
#pragma once

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "async.hpp"
#include "dlock/redis.hpp"
#include "names.hpp"
#include "servers.hpp"

namespace dlock::test {

class PlainServerTest : public ::testing::Test {
  protected:
    // Runs the coroutine `body` on io_ to completion; rethrows what it throws.
    template <class F>
    void run(F body) {
        dlock::test::run(io_, std::move(body));
    }
    // One more client with its own connection.
    dlock::Redis& new_client() {
        more_clients_.push_back(std::make_unique<dlock::Redis>(io_.get_executor(), url()));
        return *more_clients_.back();
    }
    static std::string url() { return server("PLAIN_URL"); }

    asio::io_context io_;
    dlock::Redis client_{io_.get_executor(), url()};
    dlock::Redis other_{io_.get_executor(), url()};
    const std::string name_ = unique_name();

  private:
    std::vector<std::unique_ptr<dlock::Redis>> more_clients_;
};

}  // namespace dlock::test
