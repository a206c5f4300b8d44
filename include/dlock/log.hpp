// dlock/log.hpp: one optional, process-wide log sink for what a user needs to debug:
// reconnects, Cluster redirections and topology changes followed, lost locks, replication
// shortfalls, observers that threw. Silent by default (no sink: nothing is formatted).
//
//   dlock::set_log_sink([](dlock::LogLevel level, std::string_view message) {
//       std::clog << "dlock " << dlock::to_string(level) << ": " << message << '\n';
//   }, dlock::LogLevel::info);
//
// Messages name servers by endpoint (host:port) and locks by name; they never contain a
// password, a URL's userinfo or a lock token. The sink runs on whichever I/O thread noticed
// the event, one call at a time (calls are serialised), so it must be quick and must not
// block; an exception it throws is dropped. Setting it is thread-safe.
#pragma once

#include <functional>
#include <string_view>

namespace dlock {

enum class LogLevel { debug, info, warning, error };

using LogSink = std::function<void(LogLevel level, std::string_view message)>;

// Installs `sink` for messages at `min_level` and above; an empty sink turns logging off.
void set_log_sink(LogSink sink, LogLevel min_level = LogLevel::info);

std::string_view to_string(LogLevel level) noexcept;

}  // namespace dlock
