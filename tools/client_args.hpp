// tools/client_args.hpp: the connection options every `dlock` subcommand shares, and the client
// they build.
//
//   --url URL          (repeatable) redis://, rediss:// or unix:// URL; default $DLOCK_URL,
//                      else redis://127.0.0.1:6379
//   --cluster          the URL(s) are seeds of a Redis Cluster
//   --cacert/--cert/--key/--insecure   TLS settings for rediss:// URLs
//   --password-file    password on the first line of a file
//
// Password: from the URL when it has one, else from --password-file, else $DLOCK_PASSWORD.
#pragma once

#include <CLI/CLI.hpp>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dlock/client.hpp"
#include "dlock/options.hpp"

namespace dlock::cli {

struct ConnectionArgs {
    std::vector<std::string> urls;
    bool cluster = false;
    std::string cacert;
    std::string cert;
    std::string key;
    bool insecure = false;
    std::string password_file;
};

// Adds the options above to `command`, in a "Connection" group of its --help.
void add_connection_options(CLI::App& command, ConnectionArgs& args);

// The servers to talk to, with password and TLS settings applied. Throws UsageError for
// conflicting or unreadable settings (std::invalid_argument for a malformed URL).
std::vector<ConnectionOptions> resolve_servers(const ConnectionArgs& args);

// Connects lazily to what `args` describe (nothing is sent until the first command). Throws
// UsageError like resolve_servers().
std::unique_ptr<Client> make_client(asio::any_io_executor executor, const ConnectionArgs& args);

// Runs `body` with a client built from `args` on a fresh io_context, and returns what it
// returns. Exceptions thrown by `body` (or by make_client) propagate.
int run_with_client(const ConnectionArgs& args,
                    const std::function<asio::awaitable<int>(Client&)>& body);

}  // namespace dlock::cli
