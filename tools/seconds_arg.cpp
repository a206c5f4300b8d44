#include "seconds_arg.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "exit_codes.hpp"

namespace dlock::cli {

Seconds parse_seconds(const std::string& text, const std::string& option, bool allow_zero) {
    const std::string expected =
        allow_zero ? "a number of seconds >= 0" : "a number of seconds > 0";
    char* end = nullptr;
    errno = 0;
    const double value = text.empty() ? NAN : std::strtod(text.c_str(), &end);
    // strtod accepts "inf" and "nan": both are refused, as are trailing characters ("5s").
    if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE ||
        !std::isfinite(value) || value < 0 || (value == 0 && !allow_zero) || value > 1e9) {
        throw UsageError(option + " must be " + expected + ", got '" + text + "'");
    }
    return Seconds(value);
}

}  // namespace dlock::cli
