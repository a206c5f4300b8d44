#include "verbose_log.hpp"

#include <dlock/log.hpp>
#include <iostream>

namespace dlock::cli {

void log_library_to_stderr() {
    set_log_sink(
        [](LogLevel level, std::string_view message) {
            std::cerr << "dlock: " << to_string(level) << ": " << message << '\n';
        },
        LogLevel::info);
}

}  // namespace dlock::cli
