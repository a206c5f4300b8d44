// A consumer of the blocking API only: <dlock/sync.hpp> must compile on its own, with no Asio
// header included first (clang 14 once failed here: "no template named 'awaitable'").
#include <dlock/sync.hpp>

int sync_only_lock_name_size() {
    // Not run (it would start an I/O thread): compiling and linking is the test.
    dlock::sync::Redis redis("redis://127.0.0.1:1");
    dlock::sync::Lock lock(redis, "consumer-sync", {.timeout = dlock::Seconds(1.5)});
    return static_cast<int>(lock.name().size());
}
