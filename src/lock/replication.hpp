// replication.hpp (private): how many replicas must confirm an acquisition.
#pragma once

#include <cstddef>

namespace dlock::detail {

// ceil(R / 2) of the shard's R replicas (docs/semantics.md §3.1: coredis's
// int(nodes / replicas - 1) is right only for R = 1, and 0 for R >= 2, which silently skips the
// check).
constexpr std::size_t replication_factor(std::size_t replicas) noexcept {
    return (replicas + 1) / 2;
}

}  // namespace dlock::detail
