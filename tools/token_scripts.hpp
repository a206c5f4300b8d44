// tools/token_scripts.hpp: release and extend a lock by its token, for `dlock release` and
// `dlock extend`, which act on a lock another dlock process took (dlock::Lock only knows the
// tokens it made). They run the library's own scripts, so the checks are the same.
#pragma once

#include <asio/awaitable.hpp>
#include <string>

#include "dlock/client.hpp"
#include "dlock/lock_options.hpp"

namespace dlock::cli {

// Deletes lock `name` if it holds `token`, and wakes its waiters. False when it does not.
asio::awaitable<bool> release_with_token(Client& client, const std::string& name,
                                         const std::string& token);

// Adds `time` to the lock's remaining TTL (or sets the TTL to it when `replace`) if it holds
// `token`. False when it does not, or when it has no expiry and `replace` is false.
asio::awaitable<bool> extend_with_token(Client& client, const std::string& name,
                                        const std::string& token, Seconds time, bool replace);

// Remaining life of lock `name` in milliseconds: -2 when free, -1 when held without expiry.
asio::awaitable<long long> lock_ttl_ms(Client& client, const std::string& name);

}  // namespace dlock::cli
