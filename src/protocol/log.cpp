// The process-wide log sink (dlock/log.hpp, protocol/log.hpp).
#include "protocol/log.hpp"

#include <array>
#include <mutex>
#include <string_view>
#include <utility>

#include "protocol/enum_names.hpp"

namespace dlock {

namespace {

// Guards the sink; held while it runs, so the sink is called one message at a time and is
// never replaced (destroyed) while it runs.
std::mutex& sink_mutex() {
    static std::mutex mutex;
    return mutex;
}
LogSink& current_sink() {
    static LogSink sink;
    return sink;
}

}  // namespace

namespace detail {

std::atomic<int> log_threshold{-1};

void log(LogLevel level, std::string_view message) noexcept {
    try {
        const std::lock_guard guard(sink_mutex());
        if (!log_enabled(level) || !current_sink()) return;
        current_sink()(level, message);
    } catch (...) {
        // A failing sink must not fail the operation that logged.
    }
}

}  // namespace detail

void set_log_sink(LogSink sink, LogLevel min_level) {
    const std::lock_guard guard(sink_mutex());
    const bool on = static_cast<bool>(sink);
    current_sink() = std::move(sink);
    detail::log_threshold.store(on ? static_cast<int>(min_level) : -1, std::memory_order_relaxed);
}

std::string_view to_string(LogLevel level) noexcept {
    static constexpr std::array<std::string_view, 4> names{"debug", "info", "warning", "error"};
    static_assert(detail::names_every(LogLevel::error, names));
    return detail::enum_name(level, names);
}

}  // namespace dlock
