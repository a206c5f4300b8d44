#include "dlock/sync.hpp"

#include <asio.hpp>

#include "net/io_thread.hpp"

namespace dlock::sync {

Client::Client() : io_(std::make_shared<detail::IoThread>()) {}
Client::~Client() = default;

Redis::Redis(ConnectionOptions options) {
    redis_ = std::make_unique<dlock::Redis>(io_->executor(), std::move(options));
}

Redis::Redis(std::string_view url) : Redis(parse_url(url)) {}

Redis::~Redis() {
    // The async client is torn down on its own thread, so no handler runs concurrently.
    io_->run([this]() -> asio::awaitable<void> {
        redis_.reset();
        co_return;
    });
}

Reply Redis::command(std::vector<std::string> args,
                     std::optional<std::chrono::milliseconds> timeout) {
    return io_->run([this, args = std::move(args), timeout]() mutable {
        return redis_->command(std::move(args), timeout);
    });
}

void Redis::close() {
    io_->run([this]() -> asio::awaitable<void> {
        redis_->close();
        co_return;
    });
}

// ---- Lock -------------------------------------------------------------------------------

Lock::Lock(Client& client, std::string name, LockOptions options)
    : client_(client),
      lock_(std::make_unique<dlock::Lock>(client.async_client(), std::move(name),
                                          std::move(options))) {}

Lock::~Lock() {
    if (client_.io().in_this_thread()) {
        // On dlock's I/O thread (a callback such as on_lost): a blocking call would wait for
        // itself. Release in the background instead (best effort); the async Lock goes along.
        std::shared_ptr<dlock::Lock> lock(std::move(lock_));
        if (lock->token()) {
            asio::co_spawn(
                client_.io().executor(),
                [lock]() -> asio::awaitable<void> {
                    try {
                        co_await lock->release();
                    } catch (...) {
                        // The key expires by its timeout.
                    }
                },
                asio::detached);
        }
        return;
    }
    try {
        if (token()) unlock();
        client_.io().run([this]() -> asio::awaitable<void> {
            lock_.reset();
            co_return;
        });
    } catch (...) {
        // Never throw from a destructor; the key expires by its timeout.
    }
}

bool Lock::acquire() {
    return client_.io().run([this] { return lock_->acquire(); });
}

void Lock::release() {
    client_.io().run([this] { return lock_->release(); });
}

bool Lock::extend(Seconds additional_time, ExtendMode mode) {
    return client_.io().run(
        [this, additional_time, mode] { return lock_->extend(additional_time, mode); });
}

bool Lock::reacquire() {
    return client_.io().run([this] { return lock_->reacquire(); });
}

bool Lock::locked() {
    return client_.io().run([this] { return lock_->locked(); });
}

bool Lock::owned() {
    return client_.io().run([this] { return lock_->owned(); });
}

void Lock::lock() {
    client_.io().run([this] { return lock_->acquire(true, std::nullopt); });
}

bool Lock::try_lock() {
    return client_.io().run([this] { return lock_->acquire(false, std::nullopt); });
}

bool Lock::try_acquire_for(Seconds duration) {
    if (duration < Seconds::zero()) duration = Seconds::zero();
    return client_.io().run([this, duration] { return lock_->acquire(true, duration); });
}

void Lock::unlock() noexcept {
    try {
        release();
        last_unlock_error_ = nullptr;
    } catch (...) {
        last_unlock_error_ = std::current_exception();
    }
}

std::size_t Lock::replication_factor() const {
    return client_.io().run(
        [this]() -> asio::awaitable<std::size_t> { co_return lock_->replication_factor(); });
}

std::optional<std::string> Lock::token() const {
    return client_.io().run(
        [this]() -> asio::awaitable<std::optional<std::string>> { co_return lock_->token(); });
}

std::optional<std::int64_t> Lock::fence() const {
    return client_.io().run(
        [this]() -> asio::awaitable<std::optional<std::int64_t>> { co_return lock_->fence(); });
}

bool Lock::lost() const {
    return client_.io().run([this]() -> asio::awaitable<bool> { co_return lock_->lost(); });
}

// ---- LockGuard --------------------------------------------------------------------------

LockGuard::LockGuard(Lock& lock) : lock_(lock) {
    if (!lock_.acquire()) {
        throw LockAcquisitionError("could not acquire lock '" + lock_.name() + "'", lock_.name());
    }
}

LockGuard::~LockGuard() {
    if (held_) lock_.unlock();
}

void LockGuard::release() {
    held_ = false;
    lock_.release();
}

}  // namespace dlock::sync
