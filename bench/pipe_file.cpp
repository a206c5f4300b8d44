// The input of the S2 ceiling: `redis-cli --pipe` sends it over one connection as fast as the
// server answers. It holds SCRIPT LOAD of dlock's release script, then `pairs` times exactly
// what an uncontended dlock acquire + release sends: SET name token NX PX 10000, and EVALSHA of
// the release script (lock key + wait queue).
#include <dlock/detail/connection.hpp>
#include <iostream>

#include "bench.hpp"
#include "lock/scripts.hpp"
#include "protocol/keys.hpp"
#include "protocol/slots.hpp"

namespace dlock::bench {

void write_pipe_file(const Params& params) {
    const auto& script = detail::release_script();
    detail::Request request;
    request.push({"SCRIPT", "LOAD", script.source});
    std::cout << request.payload();
    char token[33];
    for (int i = 0; i < params.pairs; ++i) {
        const std::string name = "bench:pipe:" + std::to_string(i);
        const std::string queue = detail::wait_queue_key(name);
        std::snprintf(token, sizeof token, "%032x", static_cast<unsigned>(i) * 2654435761U);
        detail::Request pair;
        pair.push({"SET", name, token, "NX", "PX", "10000"});
        pair.push({"EVALSHA", script.sha1, "1", name, token, "publish", name, queue});
        std::cout << pair.payload();
    }
    std::cout.flush();
}

}  // namespace dlock::bench
