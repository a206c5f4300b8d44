// dlock/options.hpp: how to reach one Redis server.
//
// ConnectionOptions is a plain struct with documented defaults; parse_url() builds one from
//   redis://[user[:password]@]host[:port][/db]     plain TCP (default port 6379)
//   rediss://...                                   TLS, server certificate verified
//   unix://path[?db=N]                             Unix domain socket
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dlock {

// Every duration in dlock's public API (see lock_options.hpp): seconds as a double, so `10s`,
// `1500ms` and the seed's float seconds (`dlock::Seconds(1.5)`) all fit.
using Seconds = std::chrono::duration<double>;

struct TlsOptions {
    bool enabled = false;
    std::string ca_file;      // PEM bundle to verify the server with; empty = system store
    std::string cert_file;    // client certificate (PEM), for servers that require one
    std::string key_file;     // client private key (PEM)
    std::string server_name;  // SNI + name checked in the certificate; empty = host
    bool verify = true;       // false skips verification: only for tests, never in production
};

// Opt-in for a dlock::Redis pointed at a primary that has replicas (no Sentinel): lock writes
// count only once WAIT ceil(R/2) confirmed them, as on Sentinel and Cluster
// (docs/semantics.md §4.2). Ignored by RedisCluster and RedisSentinel, which always confirm.
struct ReplicaConfirmation {
    // Off by default: a plain Redis confirms nothing and replication_factor() is 0.
    bool enabled = false;
    // R is at least this (the replicas the primary is meant to have). ROLE lists only the
    // connected replicas, so without it a replica that is down lowers R, and WAIT asks for
    // fewer confirmations, exactly when a replica is lost. 0: R is what ROLE lists.
    std::size_t replicas = 0;
    // How old the replica count read from ROLE may get before it is re-read (in the
    // background; the first read happens before the client's first command).
    Seconds max_age{1.0};
};

struct ConnectionOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string unix_path;              // when set, host/port/tls are ignored
    std::string user;                   // ACL user; empty = "default"
    std::string password;               // empty = no AUTH
    int db = 0;                         // SELECT db when non-zero
    std::string client_name = "dlock";  // CLIENT SETNAME; empty = skip
    TlsOptions tls;
    // Bound on TCP connect + TLS handshake + AUTH/SELECT. Validated (like every duration) when
    // a client is built: negative, NaN or infinite values throw std::invalid_argument.
    Seconds connect_timeout{2.0};
    // Default deadline of a command that was given none. Every command has one.
    Seconds command_timeout{5.0};
    // dlock::Redis only: confirm lock writes on the primary's replicas (off by default).
    ReplicaConfirmation confirm_on_replicas{};

    // "host:port", "unix:/path" or "tls:host:port": for messages.
    std::string endpoint() const;
};

// Parses a redis://, rediss:// or unix:// URL. Throws std::invalid_argument naming the problem
// (wrong scheme, missing host, bad port, bad db number); the message shows the URL with its
// password masked (redacted_url). As in redis-py: redis://alice@host is user alice with no
// password, redis://:secret@host a password for the default user, redis://alice:secret@host
// both; user and password are percent-decoded (%40 for '@', %3A for ':', %25 for '%').
ConnectionOptions parse_url(std::string_view url);

// `url` with the password replaced by "***" (redis://alice:***@host), for messages and logs.
std::string redacted_url(std::string_view url);

}  // namespace dlock
