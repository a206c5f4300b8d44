#include "protocol/slots.hpp"

#include <array>
#include <vector>

namespace dlock::detail {

namespace {

// CRC16-CCITT (XMODEM, polynomial 0x1021), as Redis Cluster's key slots use it, one byte per
// table lookup: every key routed and every companion key built hashes a name, so the bit-by-bit
// loop (8 steps a byte) was a visible share of an uncontended acquire + release.
constexpr std::array<std::uint16_t, 256> crc16_table = [] {
    std::array<std::uint16_t, 256> table{};
    for (unsigned byte = 0; byte < 256; ++byte) {
        std::uint16_t crc = static_cast<std::uint16_t>(byte << 8);
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                                 : static_cast<std::uint16_t>(crc << 1);
        }
        table[byte] = crc;
    }
    return table;
}();

}  // namespace

std::uint16_t crc16(std::string_view data) noexcept {
    std::uint16_t crc = 0;
    for (unsigned char byte : data) {
        crc = static_cast<std::uint16_t>((crc << 8) ^ crc16_table[((crc >> 8) ^ byte) & 0xff]);
    }
    return crc;
}

std::uint16_t key_slot(std::string_view key) noexcept {
    const auto open = key.find('{');
    if (open != std::string_view::npos) {
        const auto close = key.find('}', open + 1);
        if (close != std::string_view::npos && close != open + 1) {
            key = key.substr(open + 1, close - open - 1);
        }
    }
    return crc16(key) % slot_count;
}

const std::string& slot_tag(std::uint16_t slot) {
    // Built once: count up in base 36 until every slot has a tag (about 100k CRCs, ~1 ms).
    static const std::vector<std::string> tags = [] {
        std::vector<std::string> table(slot_count);
        std::size_t missing = slot_count;
        static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
        for (unsigned n = 0; missing > 0; ++n) {
            std::string text;
            unsigned v = n;
            do {
                text.push_back(digits[v % 36]);
                v /= 36;
            } while (v != 0);
            std::string& entry = table[crc16(text) % slot_count];
            if (entry.empty()) {
                entry = std::move(text);
                --missing;
            }
        }
        return table;
    }();
    return tags[slot % slot_count];
}

std::string companion_key(std::string_view prefix, std::string_view name) {
    return tagged_key(prefix, slot_tag(key_slot(name)), name);
}

std::string tagged_key(std::string_view prefix, std::string_view tag, std::string_view name) {
    std::string key;
    key.reserve(prefix.size() + tag.size() + name.size() + 3);  // one allocation
    assign_tagged_key(key, prefix, tag, name);
    return key;
}

void assign_tagged_key(std::string& key, std::string_view prefix, std::string_view tag,
                       std::string_view name) {
    key.clear();
    key += prefix;
    key += '{';
    key += tag;
    key += "}:";
    key += name;
}

}  // namespace dlock::detail
