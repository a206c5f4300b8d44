// The main() of the networked chaos tools (the proxy and the worker).
#pragma once

#include <signal.h>

#include <asio/io_context.hpp>
#include <cstdio>
#include <exception>

#include "options.hpp"

namespace dlock::chaos {

// Makes a Tool(io, args), start()s it and runs `io` until its work is done; exit status 0.
// SIGPIPE is ignored: a dropped connection must surface as an error, not kill the process.
// Anything thrown is printed as "<name>: <what>", exit status 2.
template <class Tool>
int serve(const char* name, int argc, char** argv) {
    try {
        signal(SIGPIPE, SIG_IGN);
        asio::io_context io;
        Args args(argc, argv);
        Tool tool(io, args);
        tool.start();
        io.run();
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", name, e.what());
        return 2;
    }
}

}  // namespace dlock::chaos
