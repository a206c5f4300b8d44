#include "dlock/sync_cluster.hpp"

#include <asio.hpp>

#include "net/io_thread.hpp"

namespace dlock::sync {

RedisCluster::RedisCluster(std::vector<ConnectionOptions> seeds, ClusterOptions options) {
    cluster_ = std::make_unique<dlock::RedisCluster>(io_->executor(), std::move(seeds), options);
}

RedisCluster::RedisCluster(std::vector<std::string> seed_urls, ClusterOptions options) {
    cluster_ =
        std::make_unique<dlock::RedisCluster>(io_->executor(), std::move(seed_urls), options);
}

RedisCluster::RedisCluster(std::initializer_list<std::string_view> seed_urls,
                           ClusterOptions options)
    : RedisCluster(std::vector<std::string>(seed_urls.begin(), seed_urls.end()), options) {}

RedisCluster::~RedisCluster() {
    // The async client is torn down on its own thread, so no handler runs concurrently.
    io_->run([this]() -> asio::awaitable<void> {
        cluster_.reset();
        co_return;
    });
}

Reply RedisCluster::command(std::vector<std::string> args,
                            std::optional<std::chrono::milliseconds> timeout) {
    return io_->run([this, args = std::move(args), timeout]() mutable {
        return cluster_->command(std::move(args), timeout);
    });
}

void RedisCluster::refresh() {
    io_->run([this] { return cluster_->refresh(); });
}

void RedisCluster::close() {
    io_->run([this]() -> asio::awaitable<void> {
        cluster_->close();
        co_return;
    });
}

}  // namespace dlock::sync
