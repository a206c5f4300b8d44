#include "lease_locks.hpp"

#include <stdexcept>

#include "dlock/read_write_lock.hpp"
#include "dlock/semaphore.hpp"

namespace dlock::cli {

namespace {

// What `run` needs (acquire, release, extend, token, fence); the rest belongs to single locks.
template <class L>
class LeaseCliLock : public CliLock {
  public:
    template <class... Args>
    explicit LeaseCliLock(bool shared, Args&&... args)
        : lock_(std::forward<Args>(args)...), shared_(shared) {}

    asio::awaitable<bool> acquire(WaitPolicy wait) override {
        if constexpr (requires { lock_.acquire_shared(wait); }) {
            if (shared_) return lock_.acquire_shared(wait);
        }
        return lock_.acquire(wait);
    }
    asio::awaitable<void> release() override { return lock_.release(); }
    asio::awaitable<bool> extend(Seconds time, ExtendMode mode) override {
        return lock_.extend(time, mode);
    }
    void adopt(std::string) override {
        throw std::logic_error("a semaphore permit or read hold cannot be adopted");
    }
    std::optional<std::string> token() const override { return lock_.token(); }
    std::optional<std::int64_t> fence() const override { return lock_.fence(); }
    asio::awaitable<LockTtl> ttl() override { co_return LockTtl{}; }
    asio::awaitable<std::optional<std::size_t>> waiting() override { co_return std::nullopt; }
    asio::awaitable<std::optional<std::string>> holder_token() override { co_return std::nullopt; }

  private:
    L lock_;
    bool shared_;
};

}  // namespace

std::unique_ptr<CliLock> make_lease_lock(Client& client, const std::string& name,
                                         std::size_t permits, bool shared,
                                         const LockOptions& options) {
    if (permits > 0) {
        return std::make_unique<LeaseCliLock<Semaphore>>(false, client, name, permits, options);
    }
    return std::make_unique<LeaseCliLock<ReadWriteLock>>(shared, client, name, options);
}

}  // namespace dlock::cli
