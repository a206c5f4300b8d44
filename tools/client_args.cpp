#include "client_args.hpp"

#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>

#include "dlock/redis.hpp"
#include "dlock/redis_cluster.hpp"
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
                    "Redis URL: redis://[[user]:password@]host[:port][/db], rediss://... (TLS) or "
                    "unix:///path. Default: $DLOCK_URL, else redis://127.0.0.1:6379")
        ->type_name("URL")
        ->group(group);
    command.add_flag("--cluster", args.cluster, "The URL is a seed node of a Redis Cluster")
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

std::vector<ConnectionOptions> resolve_servers(const ConnectionArgs& args) {
    std::vector<std::string> urls = args.urls;
    if (urls.empty()) urls.push_back(env_or("DLOCK_URL", default_url));
    if (urls.size() > 1 && !args.cluster) {
        throw UsageError("Redlock (several --url) is not supported yet");
    }
    const bool tls_options =
        !args.cacert.empty() || !args.cert.empty() || !args.key.empty() || args.insecure;
    if (args.cert.empty() != args.key.empty()) throw UsageError("--cert and --key go together");
    require_readable(args.cacert, "--cacert");
    require_readable(args.cert, "--cert");
    require_readable(args.key, "--key");
    const std::string file_password =
        args.password_file.empty() ? "" : read_first_line(args.password_file);

    std::vector<ConnectionOptions> servers;
    for (const std::string& url : urls) {
        ConnectionOptions options = parse_url(url);  // std::invalid_argument names the problem
        if (tls_options && !options.tls.enabled) {
            throw UsageError("--cacert, --cert, --key and --insecure need a rediss:// URL, got '" +
                             url + "'");
        }
        if (!options.password.empty() && !file_password.empty()) {
            throw UsageError("password given twice: in the URL and with --password-file");
        }
        if (options.password.empty()) {
            options.password =
                !file_password.empty() ? file_password : env_or("DLOCK_PASSWORD", "");
        }
        options.tls.ca_file = args.cacert;
        options.tls.cert_file = args.cert;
        options.tls.key_file = args.key;
        options.tls.verify = !args.insecure;
        options.client_name = "dlock-cli";
        servers.push_back(std::move(options));
    }
    return servers;
}

std::unique_ptr<Client> make_client(asio::any_io_executor executor, const ConnectionArgs& args) {
    std::vector<ConnectionOptions> servers = resolve_servers(args);
    if (args.cluster)
        return std::make_unique<RedisCluster>(std::move(executor), std::move(servers));
    return std::make_unique<Redis>(std::move(executor), std::move(servers.front()));
}

int run_with_client(const ConnectionArgs& args,
                    const std::function<asio::awaitable<int>(Client&)>& body) {
    asio::io_context io;
    std::unique_ptr<Client> client = make_client(io.get_executor(), args);
    int code = exit_code::software;
    std::exception_ptr failure;
    // The client's connections keep reader coroutines pending: stop the loop as soon as the
    // body is done instead of waiting for them.
    asio::co_spawn(io, body(*client), [&](std::exception_ptr error, int result) {
        failure = error;
        code = result;
        io.stop();
    });
    io.run();
    client.reset();
    if (failure) std::rethrow_exception(failure);
    return code;
}

}  // namespace dlock::cli
