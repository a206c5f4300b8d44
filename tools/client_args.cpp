#include "client_args.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>

#include "dlock/redis_sentinel.hpp"
#include "exit_codes.hpp"

namespace dlock::cli {

namespace {

constexpr const char* default_url = "redis://127.0.0.1:6379";

std::string env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

void require_readable(const std::string& path, const std::string& option) {
    if (!path.empty() && ::access(path.c_str(), R_OK) != 0) {
        throw UsageError(option + ": cannot read '" + path + "': " + std::strerror(errno));
    }
}

std::string read_first_line(const std::string& path) {
    require_readable(path, "--password-file");
    std::ifstream file(path);
    std::string line;
    std::getline(file, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();  // a file written on Windows
    if (line.empty()) throw UsageError("--password-file: '" + path + "' has an empty first line");
    return line;
}

}  // namespace

void add_connection_options(CLI::App& command, ConnectionArgs& args) {
    const std::string group = "Connection";
    command
        .add_option("--url", args.urls,
                    "Redis URL: redis://[user[:password]@]host[:port][/db], rediss://... (TLS) or "
                    "unix:///path; user and password percent-decoded. Repeat it for Redlock over "
                    "3 or more independent primaries. Default: $DLOCK_URL, else "
                    "redis://127.0.0.1:6379")
        ->type_name("URL")
        ->allow_extra_args(false)  // one value per --url: the next word is NAME
        ->group(group);
    command
        .add_flag("--cluster", args.cluster,
                  "The URL(s) are seed nodes of a Redis Cluster (else several --url = Redlock)")
        ->group(group);
    command
        .add_option("--cacert", args.cacert, "CA bundle (PEM) to verify the server's certificate")
        ->type_name("FILE")
        ->group(group);
    command.add_option("--cert", args.cert, "Client certificate (PEM), with --key")
        ->type_name("FILE")
        ->group(group);
    command.add_option("--key", args.key, "Client private key (PEM), with --cert")
        ->type_name("FILE")
        ->group(group);
    command
        .add_flag("--insecure", args.insecure,
                  "Do not verify the server's certificate (tests only)")
        ->group(group);
    command
        .add_option("--password-file", args.password_file,
                    "Read the password from the first line of FILE (else the URL's, else "
                    "$DLOCK_PASSWORD)")
        ->type_name("FILE")
        ->group(group);
}

namespace {

// What every URL of one command line shares: checked once.
struct SharedSettings {
    bool tls_options = false;
    std::string file_password;
};

SharedSettings check_shared(const ConnectionArgs& args) {
    SharedSettings out;
    out.tls_options =
        !args.cacert.empty() || !args.cert.empty() || !args.key.empty() || args.insecure;
    if (args.cert.empty() != args.key.empty()) throw UsageError("--cert and --key go together");
    require_readable(args.cacert, "--cacert");
    require_readable(args.cert, "--cert");
    require_readable(args.key, "--key");
    if (!args.password_file.empty()) out.file_password = read_first_line(args.password_file);
    return out;
}

// The command line's password and TLS settings on one server's options; `url` is for messages.
// `takes_password`: false for sentinels, which get no password from the command line.
ConnectionOptions with_settings(ConnectionOptions options, const ConnectionArgs& args,
                                const SharedSettings& shared, std::string_view url,
                                bool takes_password = true) {
    if (shared.tls_options && !options.tls.enabled) {
        throw UsageError("--cacert, --cert, --key and --insecure need a rediss:// URL, got '" +
                         redacted_url(url) + "'");
    }
    if (takes_password) {
        if (!options.password.empty() && !shared.file_password.empty()) {
            throw UsageError("password given twice: in the URL and with --password-file");
        }
        if (options.password.empty()) {
            options.password =
                !shared.file_password.empty() ? shared.file_password : env_or("DLOCK_PASSWORD", "");
        }
    }
    options.tls.ca_file = args.cacert;
    options.tls.cert_file = args.cert;
    options.tls.key_file = args.key;
    options.tls.verify = !args.insecure;
    options.client_name = "dlock-cli";
    return options;
}

std::vector<std::string> urls_of(const ConnectionArgs& args) {
    std::vector<std::string> urls = args.urls;
    if (urls.empty()) urls.push_back(env_or("DLOCK_URL", default_url));
    return urls;
}

bool is_sentinel_url(std::string_view url) {
    return url.rfind("redis-sentinel://", 0) == 0 || url.rfind("rediss-sentinel://", 0) == 0;
}

}  // namespace

std::vector<ConnectionOptions> resolve_servers(const ConnectionArgs& args) {
    const std::vector<std::string> urls = urls_of(args);
    if (urls.size() == 2 && !args.cluster) {
        throw UsageError(
            "two --url: Redlock needs 3 or more independent primaries (or add "
            "--cluster for seeds of one Redis Cluster)");
    }
    const SharedSettings shared = check_shared(args);
    std::vector<ConnectionOptions> servers;
    for (const std::string& url : urls) {
        if (is_sentinel_url(url))
            throw UsageError("a redis-sentinel:// URL must be the only --url, without --cluster");
        // parse_url throws std::invalid_argument naming the problem.
        servers.push_back(with_settings(parse_url(url), args, shared, url));
    }
    // Redlock over one server given twice never reaches its quorum: a free lock would be
    // waited for forever. Another db of the same server is no independent primary either.
    for (std::size_t i = 0; !args.cluster && servers.size() >= 3 && i < servers.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            const ConnectionOptions& a = servers[i];
            const ConnectionOptions& b = servers[j];
            if (a.host == b.host && a.port == b.port && a.unix_path == b.unix_path) {
                throw UsageError("--url names " + a.endpoint() +
                                 " twice: Redlock needs independent primaries");
            }
        }
    }
    return servers;
}

std::optional<SentinelOptions> resolve_sentinel(const ConnectionArgs& args) {
    const std::vector<std::string> urls = urls_of(args);
    if (urls.size() != 1 || args.cluster || !is_sentinel_url(urls.front())) return std::nullopt;
    const std::string& url = urls.front();
    const SharedSettings shared = check_shared(args);
    SentinelOptions out = parse_sentinel_url(url);
    out.data = with_settings(std::move(out.data), args, shared, url);
    for (ConnectionOptions& sentinel : out.sentinels)
        sentinel = with_settings(std::move(sentinel), args, shared, url, false);
    return out;
}

bool is_connection_option(const std::string& name, bool& takes_value) {
    for (const char* option : {"--url", "--cacert", "--cert", "--key", "--password-file"}) {
        if (name == option) return takes_value = true;
    }
    takes_value = false;
    return name == "--cluster" || name == "--insecure";
}

}  // namespace dlock::cli
