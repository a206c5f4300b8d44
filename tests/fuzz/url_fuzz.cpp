// Fuzzes dlock::parse_url: any text either gives options that make sense or throws
// std::invalid_argument (the only error it documents).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "dlock/options.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view url(reinterpret_cast<const char*>(data), size);
    dlock::ConnectionOptions options;
    try {
        options = dlock::parse_url(url);
    } catch (const std::invalid_argument&) {
        return 0;
    }
    // A socket path or a host (unix URLs keep the default host, ignored); a port; a db in the
    // range parse_url allows.
    DLOCK_FUZZ_CHECK(!options.unix_path.empty() || !options.host.empty());
    DLOCK_FUZZ_CHECK(options.port != 0);
    DLOCK_FUZZ_CHECK(options.db >= 0 && options.db <= (1 << 20));
    DLOCK_FUZZ_CHECK(options.unix_path.empty() || !options.tls.enabled);
    DLOCK_FUZZ_CHECK(!options.endpoint().empty());
    return 0;
}
