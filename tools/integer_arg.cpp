#include "integer_arg.hpp"

#include <charconv>

#include "exit_codes.hpp"

namespace dlock::cli {

long long parse_integer(const std::string& text, const std::string& option, long long min,
                        long long max) {
    long long value = 0;
    const char* const end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value, 10);
    if (text.empty() || stop != end || error == std::errc::invalid_argument)
        throw UsageError(option + ": '" + text + "' is not a number (decimal digits only)");
    if (error == std::errc::result_out_of_range || value < min || value > max) {
        throw UsageError(option + " must be between " + std::to_string(min) + " and " +
                         std::to_string(max) + ", got " + text);
    }
    return value;
}

}  // namespace dlock::cli
