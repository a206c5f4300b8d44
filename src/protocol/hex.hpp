// hex.hpp (private): bytes as lowercase hex digits, the spelling of tokens and script SHA1s.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace dlock::detail {

inline std::string to_hex(std::span<const unsigned char> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const unsigned char byte : bytes) {
        out.push_back(digits[byte >> 4]);
        out.push_back(digits[byte & 15]);
    }
    return out;
}

inline std::string to_hex(std::string_view bytes) {
    return to_hex(std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
}

}  // namespace dlock::detail
