// exporter_arguments.hpp: metrics_exporter's command line. Every bad value is refused with a
// message that names its option (std::invalid_argument); numbers are decimal only, durations
// finite and bounded, so no value wraps or overflows into something else.
#pragma once

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>
#include <system_error>

namespace exporter {

inline constexpr const char* usage =
    "usage: metrics_exporter --url URL [--listen HOST:PORT] [--workers N] [--seconds S]\n"
    "           [--locks K] [--prefix P] [--linger L]\n"
    "       metrics_exporter --help\n"
    "\n"
    "N coroutines (default 8, 1-10000) take turns on K lock names (default 3, 1-10000, each\n"
    "P followed by job-I, P defaults to metrics_exporter:) for S seconds (default 10) while\n"
    "http://HOST:PORT/metrics (default 127.0.0.1:9464; port 0 picks a free one) serves the\n"
    "lock metrics in the Prometheus text format. It prints \"listening on HOST:PORT\" once it\n"
    "serves, \"done acquired=A released=R not_acquired=F\" when the workload ends, then serves\n"
    "L more seconds (default 0). S and L are decimal numbers of seconds from 0 to 31536000.\n"
    "SIGINT or SIGTERM ends the workload, then the process.\n"
    "\n"
    "exit status: 0 done (also after SIGINT/SIGTERM), 1 Redis failed or HOST:PORT cannot be\n"
    "bound, 2 bad arguments (a bad URL too).\n";

// One year: far beyond any run, far below what a steady_clock time point can hold.
inline constexpr double max_seconds = 365.0 * 24 * 3600;
inline constexpr int max_count = 10000;

struct Arguments {
    bool help = false;
    std::string url;
    std::string host = "127.0.0.1";
    int port = 9464;
    int workers = 8;
    double seconds = 10;
    int locks = 3;
    std::string prefix = "metrics_exporter:";
    double linger = 0;
};

// A decimal integer from `low` to `high`: "010" is ten; "0x10", "+1", " 1", "1.5" are refused.
inline int decimal(const std::string& option, const std::string& value, int low, int high) {
    int result = 0;
    const char* last = value.data() + value.size();
    const auto [end, error] = std::from_chars(value.data(), last, result);
    const bool whole = error == std::errc{} && end == last;
    if (error == std::errc::result_out_of_range || (whole && (result < low || result > high)))
        throw std::invalid_argument(option + " must be from " + std::to_string(low) + " to " +
                                    std::to_string(high) + ", not \"" + value + "\"");
    if (!whole)
        throw std::invalid_argument(option + " takes a decimal integer, not \"" + value + "\"");
    return result;
}

// A finite decimal number of seconds from 0 to max_seconds ("inf", "nan", "1e308" refused).
inline double duration(const std::string& option, const std::string& value) {
    double result = 0;
    const char* last = value.data() + value.size();
    const auto [end, error] =
        std::from_chars(value.data(), last, result, std::chars_format::general);
    const bool whole = error == std::errc{} && end == last;
    if (error == std::errc::result_out_of_range ||
        (whole && std::isfinite(result) && (result < 0 || result > max_seconds)))
        throw std::invalid_argument(option + " must be from 0 to 31536000 seconds, not \"" + value +
                                    "\"");
    if (!whole || !std::isfinite(result))
        throw std::invalid_argument(option + " takes a finite decimal number of seconds, not \"" +
                                    value + "\"");
    return result;
}

inline void listen_address(const std::string& value, Arguments& a) {
    const auto colon = value.rfind(':');
    if (colon == std::string::npos || colon == 0)
        throw std::invalid_argument("--listen is HOST:PORT, not \"" + value + "\"");
    a.host = value.substr(0, colon);
    a.port = decimal("--listen's PORT", value.substr(colon + 1), 0, 65535);
}

inline Arguments parse(int argc, char** argv) {
    Arguments a;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            a.help = true;
            return a;
        }
        if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
        const std::string value = argv[++i];
        if (flag == "--url") {
            a.url = value;
        } else if (flag == "--listen") {
            listen_address(value, a);
        } else if (flag == "--workers") {
            a.workers = decimal(flag, value, 1, max_count);
        } else if (flag == "--seconds") {
            a.seconds = duration(flag, value);
        } else if (flag == "--locks") {
            a.locks = decimal(flag, value, 1, max_count);
        } else if (flag == "--prefix") {
            a.prefix = value;
        } else if (flag == "--linger") {
            a.linger = duration(flag, value);
        } else {
            throw std::invalid_argument("unknown option " + flag);
        }
    }
    if (a.url.empty()) throw std::invalid_argument("--url is required");
    return a;
}

}  // namespace exporter
