// Builds against the installed headers and library; runs without a server.
#include <asio.hpp>
#include <dlock/lock.hpp>
#include <dlock/redis.hpp>
#include <dlock/sync.hpp>
#include <iostream>

int main() {
    asio::io_context io;
    dlock::Redis redis(io.get_executor(), "redis://127.0.0.1:1");
    dlock::Lock lock(redis, "consumer", {.timeout = dlock::Seconds(1.5)});
    std::cout << "lock " << lock.name() << " replication_factor " << lock.replication_factor()
              << "\n";
    return lock.name() == "consumer" ? 0 : 1;
}
