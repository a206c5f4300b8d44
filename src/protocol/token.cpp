#include "protocol/token.hpp"

#include <sys/random.h>

#include <cerrno>
#include <system_error>

#include "protocol/hex.hpp"

namespace dlock::detail {

std::string make_token() {
    unsigned char bytes[16];
    std::size_t filled = 0;
    while (filled < sizeof bytes) {
        const ssize_t n = getrandom(bytes + filled, sizeof bytes - filled, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        filled += static_cast<std::size_t>(n);
    }
    return to_hex(bytes);
}

}  // namespace dlock::detail
