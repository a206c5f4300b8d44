// tools/client_args.hpp: the connection options every `dlock` subcommand shares, and the client
// they build.
//
//   --url URL          redis://, rediss:// or unix:// URL; default $DLOCK_URL, else
//                      redis://127.0.0.1:6379. Repeatable: 3 or more = Redlock over them.
//                      A single redis-sentinel:// (rediss-sentinel://) URL = a primary
//                      found through Sentinel
//   --cluster          the URL(s) are seeds of a Redis Cluster
//   --cacert/--cert/--key/--insecure   TLS settings for rediss:// URLs
//   --password-file    password on the first line of a file
//
// Password: from the URL when it has one, else from --password-file, else $DLOCK_PASSWORD
// (for Sentinel: the data nodes'; the sentinels get none).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dlock/options.hpp"
#include "dlock/redis_sentinel.hpp"

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

// The Sentinel group when the only URL is a redis-sentinel:// one (settings applied as above),
// else nothing.
std::optional<SentinelOptions> resolve_sentinel(const ConnectionArgs& args);

// Whether `name` ("--url") is one of the options above, and whether it takes a value: those
// may come before the subcommand (`dlock --url U run ...`).
bool is_connection_option(const std::string& name, bool& takes_value);

}  // namespace dlock::cli
