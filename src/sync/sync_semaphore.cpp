// The blocking facades of Semaphore and ReadWriteLock (dlock/sync_semaphore.hpp). Their async
// objects are made, used and destroyed on the I/O thread only, so the lists of held objects
// need no mutex.
#include "dlock/sync_semaphore.hpp"

#include <asio.hpp>
#include <stdexcept>

namespace dlock::sync {

namespace {

// Gives back and destroys `holds` on the I/O thread (from a destructor: never throws).
template <class Hold>
void release_all(IoThread& io, std::vector<std::unique_ptr<Hold>> holds) {
    auto give_back = [holds = std::make_shared<std::vector<std::unique_ptr<Hold>>>(
                          std::move(holds))]() -> asio::awaitable<void> {
        for (auto& hold : *holds) {
            try {
                if (hold && hold->token()) co_await hold->release();
            } catch (...) {
                // Its lease ends by itself.
            }
            hold.reset();
        }
    };
    try {
        if (io.in_this_thread()) {
            asio::co_spawn(io.context(), give_back, asio::detached);
        } else {
            io.run(give_back);
        }
    } catch (...) {
    }
}

// One more hold for a facade that keeps many (permits, read holds): a new async object, made by
// `make` on the I/O thread, tries `acquire` on it and joins `held` when it got in.
template <class Hold, class Make, class Acquire>
bool hold_one_more(IoThread& io, std::vector<std::unique_ptr<Hold>>& held, Make make,
                   Acquire acquire) {
    return io.run([&held, make, acquire]() -> asio::awaitable<bool> {
        std::unique_ptr<Hold> hold = make();
        if (!co_await acquire(*hold)) co_return false;
        held.push_back(std::move(hold));
        co_return true;
    });
}

}  // namespace

// ---- Semaphore -------------------------------------------------------------------------------

Semaphore::Semaphore(Client& client, std::string name, std::size_t permits, LockOptions options)
    : io_(client.io_handle()),
      client_(&client.async_client()),
      name_(std::move(name)),
      permits_(permits),
      options_(std::move(options)),
      probe_(std::make_unique<dlock::Semaphore>(*client_, name_, permits_, options_)) {}

Semaphore::~Semaphore() {
    std::vector<std::unique_ptr<dlock::Semaphore>> holds = std::move(held_);
    holds.push_back(std::move(probe_));
    release_all(*io_, std::move(holds));
}

bool Semaphore::take(WaitPolicy wait) {
    return hold_one_more(
        *io_, held_,
        [this] { return std::make_unique<dlock::Semaphore>(*client_, name_, permits_, options_); },
        [wait](dlock::Semaphore& permit) { return permit.acquire(wait); });
}

void Semaphore::release(std::ptrdiff_t update) {
    if (update < 0) throw std::invalid_argument("update must not be negative");
    io_->run([this, update]() -> asio::awaitable<void> {
        if (static_cast<std::size_t>(update) > held_.size()) {
            throw std::invalid_argument("update (" + std::to_string(update) +
                                        ") is more than the permits this object holds (" +
                                        std::to_string(held_.size()) + ")");
        }
        std::exception_ptr first_failure;
        for (std::ptrdiff_t i = 0; i < update; ++i) {
            std::unique_ptr<dlock::Semaphore> permit = std::move(held_.back());
            held_.pop_back();
            try {
                co_await permit->release();
            } catch (const LockReleaseError&) {
                if (!first_failure) first_failure = std::current_exception();
            } catch (...) {
                held_.push_back(std::move(permit));  // not given back: kept for a retry
                throw;
            }
        }
        if (first_failure) std::rethrow_exception(first_failure);
    });
}

std::size_t Semaphore::held() const {
    return io_->run([this]() -> asio::awaitable<std::size_t> { co_return held_.size(); });
}

// ---- ReadWriteLock ---------------------------------------------------------------------------

ReadWriteLock::ReadWriteLock(Client& client, std::string name, LockOptions options)
    : io_(client.io_handle()),
      client_(&client.async_client()),
      name_(std::move(name)),
      options_(std::move(options)),
      writer_(std::make_unique<dlock::ReadWriteLock>(*client_, name_, options_)) {}

ReadWriteLock::~ReadWriteLock() {
    std::vector<std::unique_ptr<dlock::ReadWriteLock>> holds = std::move(readers_);
    holds.push_back(std::move(writer_));
    release_all(*io_, std::move(holds));
}

bool ReadWriteLock::write(WaitPolicy wait) {
    return io_->run([this, wait]() -> asio::awaitable<bool> { return writer_->acquire(wait); });
}
void ReadWriteLock::unlock() noexcept {
    try {
        io_->run([this]() -> asio::awaitable<void> { return writer_->release(); });
        last_unlock_error_ = nullptr;
    } catch (...) {
        last_unlock_error_ = std::current_exception();
    }
}

bool ReadWriteLock::read(WaitPolicy wait) {
    return hold_one_more(
        *io_, readers_,
        [this] { return std::make_unique<dlock::ReadWriteLock>(*client_, name_, options_); },
        [wait](dlock::ReadWriteLock& reader) { return reader.acquire_shared(wait); });
}
void ReadWriteLock::unlock_shared() noexcept {
    try {
        io_->run([this]() -> asio::awaitable<void> {
            if (readers_.empty()) {
                throw LockReleaseError("cannot release dlock::ReadWriteLock '" + name_ +
                                           "': no read hold taken through this object",
                                       name_);
            }
            std::unique_ptr<dlock::ReadWriteLock> reader = std::move(readers_.back());
            readers_.pop_back();
            co_await reader->release();
        });
        last_unlock_error_ = nullptr;
    } catch (...) {
        last_unlock_error_ = std::current_exception();
    }
}

std::optional<std::int64_t> ReadWriteLock::fence() const {
    return io_->run(
        [this]() -> asio::awaitable<std::optional<std::int64_t>> { co_return writer_->fence(); });
}

}  // namespace dlock::sync
