// dlock::Semaphore: the lease machinery (lease.hpp) with the semaphore's scripts.
#include "dlock/semaphore.hpp"

#include <asio.hpp>

#include "lock/lease.hpp"
#include "lock/semaphore_scripts.hpp"
#include "protocol/keys.hpp"

namespace dlock {

namespace {

using std::chrono::milliseconds;

class SemaphoreKind final : public detail::LeaseKind {
  public:
    SemaphoreKind(std::string name, std::size_t permits, milliseconds ttl, bool fencing,
                  milliseconds queue_ttl, std::string notify)
        : name_(std::move(name)),
          holders_key_(detail::semaphore_holders_key(name_)),
          permits_(permits),
          ttl_(ttl),
          fencing_(fencing),
          queue_ttl_(queue_ttl),
          notify_(std::move(notify)) {}

    detail::ScriptCall acquire_call(const std::string& token, const detail::QueueTicket* ticket,
                                    bool /*blocking*/) const override {
        return detail::semaphore_acquire_call(name_, token, ttl_, permits_, fencing_, ticket,
                                              queue_ttl_, notify_);
    }
    detail::ScriptCall release_call(const std::string& token,
                                    std::string_view notify) const override {
        return detail::semaphore_release_call(name_, token, notify);
    }
    detail::ScriptCall extend_call(const std::string& token, milliseconds ms,
                                   detail::TtlChange change) const override {
        return detail::semaphore_extend_call(name_, token, ms, change);
    }
    std::string wait_name() const override { return detail::semaphore_wait_name(name_); }
    const std::string& replica_key() const override { return holders_key_; }
    [[noreturn]] void refused(long long reply) const override {
        throw SemaphoreMismatchError(
            "semaphore '" + name_ + "' is held with " + std::to_string(-reply) + " permits, not " +
                std::to_string(permits_) + " (every client must use the same count)",
            name_, -reply);
    }
    const char* type_name() const override { return "dlock::Semaphore"; }

  private:
    std::string name_;
    std::string holders_key_;
    std::size_t permits_;
    milliseconds ttl_;
    bool fencing_;
    milliseconds queue_ttl_;
    std::string notify_;  // Backend::notify_command()
};

std::shared_ptr<detail::LeaseState> make_state(Client& client, std::string name,
                                               std::size_t permits, LockOptions options) {
    if (permits == 0) throw std::invalid_argument("permits must be at least 1");
    if (!options.timeout) {
        throw std::invalid_argument(
            "timeout is required for a semaphore (each permit is a lease that must end)");
    }
    auto state = std::make_shared<detail::LeaseState>(detail::shared_backend_of(client),
                                                      std::move(name), std::move(options), nullptr);
    state->kind = std::make_unique<SemaphoreKind>(
        state->spec.name, permits, *state->spec.timeout, state->spec.options.fencing,
        state->spec.queue_ttl, std::string(state->spec.publish()));
    return state;
}

}  // namespace

Semaphore::Semaphore(Client& client, std::string name, std::size_t permits, LockOptions options)
    : permits_(permits), state_(make_state(client, std::move(name), permits, std::move(options))) {}

Semaphore::~Semaphore() {
    detail::abandon(*state_);
}

asio::awaitable<bool> Semaphore::acquire() {
    return acquire(
        WaitPolicy{state_->spec.options.blocking, state_->spec.options.blocking_timeout});
}
asio::awaitable<bool> Semaphore::acquire(WaitPolicy wait) {
    return detail::acquire(state_, wait);
}
asio::awaitable<void> Semaphore::release() {
    return detail::release_lease(state_);
}
asio::awaitable<bool> Semaphore::extend(Seconds additional_time, ExtendMode mode) {
    return detail::extend_lease(state_, additional_time, mode);
}

asio::awaitable<std::size_t> Semaphore::holders() {
    auto state = state_;
    detail::LockBusy busy(*state);
    const Reply reply =
        co_await detail::eval(*state->spec.client, detail::semaphore_holders_call(state->spec.name),
                              state->spec.command_deadline());
    const long long count = reply.value().integer;
    co_return count > 0 ? static_cast<std::size_t>(count) : 0;
}

asio::awaitable<bool> Semaphore::locked() {
    co_return co_await holders() > 0;
}

asio::awaitable<bool> Semaphore::owned() {
    auto state = state_;
    detail::LockBusy busy(*state);
    if (!state->hold.token() || state->hold.lost()) co_return false;
    const Reply reply = co_await detail::eval(
        *state->spec.client, detail::semaphore_owned_call(state->spec.name, *state->hold.token()),
        state->spec.command_deadline());
    co_return reply.value().integer == 1;
}

const std::string& Semaphore::name() const noexcept {
    return state_->spec.name;
}
const std::optional<std::string>& Semaphore::token() const noexcept {
    return state_->hold.token();
}
std::optional<std::int64_t> Semaphore::fence() const noexcept {
    return state_->hold.fence();
}
bool Semaphore::lost() const noexcept {
    return state_->hold.lost();
}
asio::awaitable<bool> Semaphore::wait_lost() {
    return detail::wait_lost(state_);
}
std::size_t Semaphore::replication_factor() const {
    return detail::replicas_to_confirm(*state_);
}
std::uint64_t Semaphore::replication_shortfalls() const noexcept {
    return state_->shortfalls;
}
const LockOptions& Semaphore::options() const noexcept {
    return state_->spec.options;
}

}  // namespace dlock
