// The sync facade's only non-template part: the I/O thread's owner (see dlock/sync.hpp).
#include "dlock/sync.hpp"

#include "dlock/inspect.hpp"

namespace dlock::sync {

ClientBase::ClientBase() : io_(std::make_shared<IoThread>()) {}
ClientBase::~ClientBase() = default;

LockInspection inspect(Client& client, std::string name, Seconds timeout) {
    return client.io().run([&client, name = std::move(name), timeout]() mutable {
        return dlock::inspect(client.async_client(), std::move(name), timeout);
    });
}

std::optional<std::size_t> break_leases(Client& client, std::string name, Seconds timeout) {
    return client.io().run([&client, name = std::move(name), timeout]() mutable {
        return dlock::break_leases(client.async_client(), std::move(name), timeout);
    });
}

}  // namespace dlock::sync
