// dlock/lock_concept.hpp: what every dlock lock offers, and the scoped form written once.
//
// dlock::Lock (one server, Sentinel or Cluster, with wake-ups, fencing and renewal) and
// dlock::RedlockLock (a quorum of independent primaries) both satisfy AsyncLock, so the scoped
// form below and the blocking facade (dlock::sync::BasicLock) serve both.
#pragma once

#include <asio/awaitable.hpp>
#include <concepts>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "dlock/errors.hpp"
#include "dlock/lock_options.hpp"

namespace dlock {

// How extend() applies the additional time.
enum class ExtendMode {
    add,      // remaining TTL + additional_time (the seed's behaviour)
    replace,  // TTL := additional_time
};

template <class L>
concept AsyncLock = requires(L& lock, const L& view, Seconds time, ExtendMode mode,
                             WaitPolicy wait) {
    { lock.acquire() } -> std::same_as<asio::awaitable<bool>>;
    { lock.acquire(wait) } -> std::same_as<asio::awaitable<bool>>;
    { lock.release() } -> std::same_as<asio::awaitable<void>>;
    { lock.extend(time, mode) } -> std::same_as<asio::awaitable<bool>>;
    { lock.locked() } -> std::same_as<asio::awaitable<bool>>;
    { lock.owned() } -> std::same_as<asio::awaitable<bool>>;
    { view.name() } -> std::convertible_to<const std::string&>;
    { view.token() } -> std::convertible_to<const std::optional<std::string>&>;
};

// Runs `body` (a callable returning asio::awaitable<T>) under `lock`: acquires (as the lock's
// options say) or throws LockAcquisitionError; releases afterwards. If the body throws, its
// exception propagates (the lock is still released). If the lock was lost meanwhile, throws
// LockReleaseError: the body ran, but not all of it under the lock.
template <AsyncLock L, class Body>
auto with_lock(L& lock, Body body) -> std::invoke_result_t<Body&> {
    using Value = typename std::invoke_result_t<Body&>::value_type;
    if (!co_await lock.acquire()) {
        throw LockAcquisitionError("could not acquire lock '" + lock.name() + "'", lock.name());
    }
    std::exception_ptr failure;
    std::conditional_t<std::is_void_v<Value>, bool, std::optional<Value>> result{};
    try {
        if constexpr (std::is_void_v<Value>) {
            co_await body();
        } else {
            result.emplace(co_await body());
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        try {
            co_await lock.release();
        } catch (const std::exception&) {
            // The body's exception is the one the caller must see.
        }
        std::rethrow_exception(failure);
    }
    co_await lock.release();  // LockReleaseError when the lock was lost while the body ran
    if constexpr (!std::is_void_v<Value>) co_return std::move(*result);
}

}  // namespace dlock
