// What the fixtures PlainServerTest (plain_server_test.hpp) and OwnServerTest
// (own_server_test.hpp) share: one io_context and run() on it, a name no other test uses, and
// more clients on demand, each with its own connection (as another process would have).
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

namespace dlock::test {

class ServerTest : public ::testing::Test {
  protected:
    // Runs the coroutine `body` on io_ to completion; rethrows what it throws.
    template <class F>
    void run(F body) {
        dlock::test::run(io_, std::move(body));
    }
    // One more client of the server at `url`, with its own connection, alive as long as the
    // fixture.
    dlock::Redis& new_client_of(const std::string& url) {
        more_clients_.push_back(std::make_unique<dlock::Redis>(io_.get_executor(), url));
        return *more_clients_.back();
    }

    asio::io_context io_;
    const std::string name_ = unique_name();

  private:
    std::vector<std::unique_ptr<dlock::Redis>> more_clients_;
};

}  // namespace dlock::test
