// enum_names.hpp (private): an enumerator's text from a table in the enum's order.
//
// The names are a contract (metric labels, log lines, `dlock status --json`), so each enum's
// table sits in one place and tests/unit/enum_names_test.cpp pins every name. A table instead of
// a switch per enum: the static_assert at each table checks it has one name per enumerator.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace dlock::detail {

template <class Enum, std::size_t N>
constexpr std::string_view enum_name(Enum value,
                                     const std::array<std::string_view, N>& names) noexcept {
    const auto index = static_cast<std::size_t>(value);
    return index < N ? names[index] : std::string_view("unknown");
}

// Whether `names` has one entry per enumerator up to `last` (the enum's last one).
template <class Enum, std::size_t N>
constexpr bool names_every(Enum last, const std::array<std::string_view, N>& /*names*/) noexcept {
    return static_cast<std::size_t>(last) + 1 == N;
}

}  // namespace dlock::detail
