// LockSpec's validation, and reporting a lost lock (see lock_state.hpp).
#include "lock/lock_state.hpp"

#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "protocol/keys.hpp"

namespace dlock::detail {

LockSpec::LockSpec(std::shared_ptr<Backend> backend, std::string lock_name,
                   LockOptions lock_options)
    : client(std::move(backend)), name(std::move(lock_name)) {
    if (name.empty()) throw std::invalid_argument("name must not be empty");
    const LockOptions& o = lock_options;
    if (o.timeout) {
        timeout = to_ms(*o.timeout, "timeout");
        if (*timeout < milliseconds(1))
            throw std::invalid_argument("timeout must be at least 1 ms");
    }
    sleep = to_ms(o.sleep, "sleep");
    if (timeout && o.sleep > *o.timeout) {
        throw std::invalid_argument("sleep (" + std::to_string(o.sleep.count()) +
                                    " s) must not be greater than timeout (" +
                                    std::to_string(o.timeout->count()) + " s)");
    }
    if (o.blocking_timeout) to_ms(*o.blocking_timeout, "blocking_timeout");
    command_timeout = to_ms(o.command_timeout, "command_timeout");
    if (command_timeout < milliseconds(1))
        throw std::invalid_argument("command_timeout must be at least 1 ms");
    replication_timeout =
        std::max(milliseconds(1), to_ms(o.replication_timeout, "replication_timeout"));
    if (o.auto_renew) {
        if (!timeout) throw std::invalid_argument("auto_renew needs a timeout");
        renew_interval =
            o.renew_interval ? to_ms(*o.renew_interval, "renew_interval") : *timeout / 3;
        if (renew_interval < milliseconds(1))
            throw std::invalid_argument("renew_interval must be at least 1 ms");
        // The lock would expire before its first renewal.
        if (renew_interval >= *timeout) {
            throw std::invalid_argument(
                "renew_interval (" + std::to_string(renew_interval.count()) +
                " ms) must be less than timeout (" + std::to_string(timeout->count()) + " ms)");
        }
    }
    queue_ttl = std::max(milliseconds(60000), sleep * 3);
    options = std::move(lock_options);
}

namespace {

// This process's host name and pid, as the holder record shows them. The pid is read again
// after a fork (the child is another holder).
struct ProcessIdentity {
    std::string host;
    std::string pid;
};

const ProcessIdentity& process_identity() {
    static thread_local ProcessIdentity identity;
    const std::string pid = std::to_string(::getpid());
    if (identity.pid != pid) {
        char host[256] = {};
        if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
        identity = {host, pid};
    }
    return identity;
}

}  // namespace

std::optional<HolderFields> holder_fields(const LockSpec& spec) {
    if (!spec.options.record_holder) return std::nullopt;
    const ProcessIdentity& identity = process_identity();
    return HolderFields{identity.host, identity.pid, spec.options.holder_label};
}

void abandon(LockState& state) {
    state.abandoned = true;
    if (state.waiting) state.waiting->notify();
    state.hold.abandon();
}

void mark_lost(LockState& state, LostReason reason) {
    state.hold.mark_lost(reason);
    if (state.spec.options.on_lost) state.spec.options.on_lost();
}

}  // namespace dlock::detail
