#include "protocol/durations.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace dlock::detail {

using std::chrono::milliseconds;

milliseconds to_ms(Seconds value, const char* field) {
    const double seconds = value.count();
    if (std::isnan(seconds) || std::isinf(seconds)) {
        throw std::invalid_argument(std::string(field) + " must be a finite duration");
    }
    if (seconds < 0) throw std::invalid_argument(std::string(field) + " must not be negative");
    if (seconds > 1e9) throw std::invalid_argument(std::string(field) + " is too large");
    return milliseconds(static_cast<long long>(std::ceil(seconds * 1000.0 - 1e-9)));
}

milliseconds to_timeout_ms(Seconds value, const char* field) {
    const milliseconds ms = to_ms(value, field);
    if (ms < milliseconds(1))
        throw std::invalid_argument(std::string(field) + " must be at least 1 ms");
    return ms;
}

}  // namespace dlock::detail
