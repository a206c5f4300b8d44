// slots.hpp (private): Redis Cluster key slots (CRC16-CCITT/XMODEM mod 16384, {hash tags}).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dlock::detail {

constexpr std::uint16_t slot_count = 16384;

std::uint16_t crc16(std::string_view data) noexcept;

// The slot Redis Cluster maps `key` to: only the part inside the first non-empty {...} counts.
std::uint16_t key_slot(std::string_view key) noexcept;

// A short string whose slot is `slot`. Wrapped in braces as a hash tag, it puts a derived key
// (fence counter, notification channel) in the same slot as the lock's key, whatever bytes the
// lock's name holds.
const std::string& slot_tag(std::uint16_t slot);

// "prefix{tag}:name" where tag = slot_tag(key_slot(name)): same slot as `name`.
std::string companion_key(std::string_view prefix, std::string_view name);

// "prefix{tag}:name" for a tag already computed (slot_tag(key_slot(name))), in one allocation:
// for callers that build several companion keys of one name.
std::string tagged_key(std::string_view prefix, std::string_view tag, std::string_view name);
// The same into `key`, which keeps its capacity (a scratch reused call after call).
void assign_tagged_key(std::string& key, std::string_view prefix, std::string_view tag,
                       std::string_view name);

}  // namespace dlock::detail
