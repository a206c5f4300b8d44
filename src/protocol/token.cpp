#include "protocol/token.hpp"

#include <pthread.h>
#include <sys/random.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "protocol/hex.hpp"

namespace dlock::detail {

namespace {

void fill_random(unsigned char* bytes, std::size_t size) {
    std::size_t filled = 0;
    while (filled < size) {
        const ssize_t n = getrandom(bytes + filled, size - filled, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        filled += static_cast<std::size_t>(n);
    }
}

// Bumped in every child of fork(): a child must never hand out the bytes its parent buffered
// (two processes would make the same tokens).
std::atomic<unsigned> fork_generation{0};

unsigned current_fork_generation() {
    static const int registered =
        pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); });
    (void)registered;
    return fork_generation.load(std::memory_order_relaxed);
}

// Random bytes taken from the kernel 4 KiB at a time: one getrandom per 256 tokens instead of
// one per token (a system call per acquisition was a visible share of an uncontended pair).
// Bytes are wiped as they are handed out.
struct RandomBuffer {
    unsigned char bytes[4096];
    std::size_t used = sizeof bytes;
    unsigned generation = 0;

    void take(unsigned char* out, std::size_t size) {
        const unsigned now = current_fork_generation();
        if (used + size > sizeof bytes || generation != now) {
            fill_random(bytes, sizeof bytes);
            used = 0;
            generation = now;
        }
        std::memcpy(out, bytes + used, size);
        std::memset(bytes + used, 0, size);
        used += size;
    }
};

}  // namespace

std::string make_token() {
    thread_local RandomBuffer random;
    unsigned char bytes[16];
    random.take(bytes, sizeof bytes);
    return to_hex(bytes);
}

}  // namespace dlock::detail
