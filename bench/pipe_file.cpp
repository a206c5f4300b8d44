// The input of the S2 ceiling: `redis-cli --pipe` sends it over one connection as fast as the
// server answers. It holds SCRIPT LOAD of dlock's release script, then `pairs` times exactly
// what an uncontended dlock acquire + release sends: SET name token NX PX 10000, and the
// release's EVALSHA (dlock/wire.hpp builds it with Lock's own code).
#include <dlock/request.hpp>
#include <dlock/wire.hpp>
#include <iostream>

#include "bench.hpp"

namespace dlock::bench {

void write_pipe_file(const Params& params) {
    std::cout << wire::load_release_script().payload();
    char token[33];
    for (int i = 0; i < params.pairs; ++i) {
        const std::string name = "bench:pipe:" + std::to_string(i);
        std::snprintf(token, sizeof token, "%032x", static_cast<unsigned>(i) * 2654435761U);
        Request set({"SET", name, token, "NX", "PX", "10000"});
        std::cout << set.payload() << wire::release_request(name, token).payload();
    }
    std::cout.flush();
}

}  // namespace dlock::bench
