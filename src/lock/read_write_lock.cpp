// dlock::ReadWriteLock: two leases (reader, writer) over the rwlock scripts.
#include "dlock/read_write_lock.hpp"

#include <asio.hpp>

#include "lock/lease.hpp"
#include "lock/rwlock_scripts.hpp"
#include "protocol/keys.hpp"

namespace dlock {

namespace {

using std::chrono::milliseconds;

// Shared by both roles: the name, lease, and how long a waiter's claim lasts between its
// attempts (they come at least every `sleep`; a dead waiter's claim ends by itself).
struct RwSettings {
    std::string name;
    milliseconds ttl;
    milliseconds queue_ttl;
    milliseconds claim;
    std::string notify;  // Backend::notify_command()
};

// One role's lease (the writer's, or a reader's): the role's scripts.
class RoleKind final : public detail::LeaseKind {
  public:
    RoleKind(RwSettings settings, bool writer, bool fencing)
        : s_(std::move(settings)),
          writer_(writer),
          fencing_(fencing),
          wait_name_(writer ? detail::writer_wait_name(s_.name)
                            : detail::reader_wait_name(s_.name)) {}
    detail::ScriptCall acquire_call(const std::string& token, const detail::QueueTicket* ticket,
                                    bool blocking) const override {
        const milliseconds claim = blocking ? s_.claim : milliseconds(0);
        if (writer_) {
            return detail::rw_write_acquire_call({s_.name, token, ""}, s_.ttl, fencing_, ticket,
                                                 s_.queue_ttl, claim);
        }
        return detail::rw_read_acquire_call({s_.name, token, s_.notify}, s_.ttl, ticket,
                                            s_.queue_ttl, claim);
    }
    detail::ScriptCall release_call(const std::string& token,
                                    std::string_view notify) const override {
        return writer_ ? detail::rw_write_release_call({s_.name, token, notify})
                       : detail::rw_read_release_call({s_.name, token, notify});
    }
    detail::ScriptCall extend_call(const std::string& token, milliseconds ms,
                                   detail::TtlChange change) const override {
        // The writer's hold is key NAME, as a Lock's.
        return writer_ ? detail::extend_call(s_.name, token, ms, change)
                       : detail::rw_read_extend_call({s_.name, token, ""}, ms, change);
    }
    std::optional<detail::ScriptCall> withdraw_call(const std::string& token,
                                                    std::string_view notify) const override {
        return writer_ ? detail::rw_write_withdraw_call({s_.name, token, notify})
                       : detail::rw_read_withdraw_call({s_.name, token, notify});
    }
    std::string wait_name() const override { return wait_name_; }
    const std::string& replica_key() const override { return s_.name; }
    [[noreturn]] void refused(long long reply) const override {
        throw ProtocolError("unexpected reply " + std::to_string(reply) + " to a " +
                            (writer_ ? "writer" : "reader") + "'s acquire");
    }
    const char* type_name() const override { return "dlock::ReadWriteLock"; }

  private:
    RwSettings s_;
    bool writer_;
    bool fencing_;
    std::string wait_name_;
};

std::shared_ptr<detail::LeaseState> make_state(Client& client, const std::string& name,
                                               LockOptions options, bool writer) {
    if (!options.timeout) {
        throw std::invalid_argument(
            "timeout is required for a read/write lock (each hold is a lease that must end)");
    }
    if (!writer) options.fencing = false;  // fences protect writes
    auto state = std::make_shared<detail::LeaseState>(detail::shared_backend_of(client), name,
                                                      std::move(options), nullptr);
    const detail::LockSpec& spec = state->spec;
    RwSettings settings{spec.name, *spec.timeout, spec.queue_ttl,
                        spec.sleep * 2 + milliseconds(1000), std::string(spec.publish())};
    state->kind = std::make_unique<RoleKind>(std::move(settings), writer, spec.options.fencing);
    return state;
}

}  // namespace

ReadWriteLock::ReadWriteLock(Client& client, std::string name, LockOptions options)
    : reader_(make_state(client, name, options, false)),
      writer_(make_state(client, name, std::move(options), true)) {}

ReadWriteLock::~ReadWriteLock() {
    detail::abandon(*reader_);
    detail::abandon(*writer_);
}

detail::LeaseState& ReadWriteLock::current() const noexcept {
    return reader_->hold.token() ? *reader_ : *writer_;
}

asio::awaitable<bool> ReadWriteLock::acquire_as(Mode mode, WaitPolicy wait) {
    const auto& other = mode == Mode::shared ? writer_ : reader_;
    if (other->hold.token() && !other->hold.lost()) {
        throw LockError("dlock::ReadWriteLock '" + name() + "' is already held by this object",
                        name());
    }
    co_return co_await detail::acquire(mode == Mode::shared ? reader_ : writer_, wait);
}

asio::awaitable<bool> ReadWriteLock::acquire() {
    return acquire(WaitPolicy{options().blocking, options().blocking_timeout});
}
asio::awaitable<bool> ReadWriteLock::acquire(WaitPolicy wait) {
    return acquire_as(Mode::exclusive, wait);
}
asio::awaitable<bool> ReadWriteLock::acquire_shared() {
    return acquire_shared(WaitPolicy{options().blocking, options().blocking_timeout});
}
asio::awaitable<bool> ReadWriteLock::acquire_shared(WaitPolicy wait) {
    return acquire_as(Mode::shared, wait);
}

asio::awaitable<void> ReadWriteLock::release() {
    return detail::release_lease(reader_->hold.token() ? reader_ : writer_);
}

asio::awaitable<bool> ReadWriteLock::extend(Seconds additional_time, ExtendMode mode) {
    return detail::extend_lease(reader_->hold.token() ? reader_ : writer_, additional_time, mode);
}

asio::awaitable<bool> ReadWriteLock::locked() {
    // Key NAME holds the writer's token, or the readers' marker while readers hold.
    auto state = writer_;
    const Request request({"GET", state->spec.name});
    auto replies = co_await state->spec.client->execute_for_key(state->spec.name, request,
                                                                state->spec.command_deadline());
    const Reply& value = replies.front().value();
    co_return value.is_string() && value.str != detail::readers_marker;
}

asio::awaitable<bool> ReadWriteLock::owned() {
    auto state = reader_->hold.token() ? reader_ : writer_;
    if (!state->hold.token() || state->hold.lost()) co_return false;
    // A zero extension answers "alive?" for either role without changing the lease.
    const Reply reply = co_await detail::eval(
        *state->spec.client,
        state->kind->extend_call(*state->hold.token(), milliseconds(0), detail::TtlChange::add),
        state->spec.command_deadline());
    co_return reply.value().integer == 1;
}

const std::string& ReadWriteLock::name() const noexcept {
    return writer_->spec.name;
}
std::optional<ReadWriteLock::Mode> ReadWriteLock::mode() const noexcept {
    if (reader_->hold.token()) return Mode::shared;
    if (writer_->hold.token()) return Mode::exclusive;
    return std::nullopt;
}
const std::optional<std::string>& ReadWriteLock::token() const noexcept {
    return current().hold.token();
}
std::optional<std::int64_t> ReadWriteLock::fence() const noexcept {
    return writer_->hold.fence();
}
bool ReadWriteLock::lost() const noexcept {
    return current().hold.lost();
}
asio::awaitable<bool> ReadWriteLock::wait_lost() {
    return detail::wait_lost(reader_->hold.token() ? reader_ : writer_);
}
std::size_t ReadWriteLock::replication_factor() const {
    return detail::replicas_to_confirm(*writer_);
}
const LockOptions& ReadWriteLock::options() const noexcept {
    return writer_->spec.options;
}

}  // namespace dlock
