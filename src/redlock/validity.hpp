// validity.hpp (private): Redlock's arithmetic, sans-IO. When a round of commands on the nodes
// holds the lock, and how much validity it leaves. The clock is passed in (the caller reads it
// before and after the round), so the rules are unit-tested without a server or a sleep, in
// tests/unit/validity_test.cpp. redlock.cpp does the fan-out and asks these functions.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

#include "dlock/lock_concept.hpp"
#include "dlock/options.hpp"

namespace dlock::detail {

// The steady clock, as in net/asio.hpp (the same alias; this header needs no Asio).
using Clock = std::chrono::steady_clock;

// The fixed part of the drift allowance (docs/semantics.md §5): timer granularity and the like.
inline constexpr Seconds drift_floor{0.002};

// What clock drift may take off a key living `ttl` on the nodes: ttl * drift_factor + 2 ms.
Seconds drift(Seconds ttl, double drift_factor);

// One round of a command on every node, as the caller measured it.
struct Round {
    std::size_t successes = 0;  // nodes that took the command (SET said OK, the script said 1)
    std::size_t quorum = 0;     // N/2 + 1
    Clock::time_point start{};  // read before the first command went out
    Clock::time_point now{};    // read after the last answer (or node_timeout)
};

// After SET NX PX ttl on every node: the validity left, counted from round.start, when a quorum
// of nodes set the key and ttl - (now - start) - drift(ttl) > 0 (exactly 0 is not held);
// nullopt when the lock is not held.
std::optional<Seconds> acquire_validity(std::chrono::milliseconds ttl, const Round& round,
                                        double drift_factor);

// After the extend script on every node, `additional` with `mode`: the new validity, counted from
// round.start, or nullopt when fewer than a quorum took it or no time is left (exactly 0 included).
//   add:     the nodes' TTLs grew by `additional` from what they had, and what this client knew of
//            that is the validity left at round.start (`held` counted from `held_since`), which
//            already had its drift floor taken off: held - (start - held_since) + additional -
//            elapsed - additional * drift_factor.
//   replace: the TTL became `additional`, as for an acquisition:
//            additional - elapsed - drift(additional).
std::optional<Seconds> extend_validity(ExtendMode mode, std::chrono::milliseconds additional,
                                       Seconds held, Clock::time_point held_since,
                                       const Round& round, double drift_factor);

}  // namespace dlock::detail
