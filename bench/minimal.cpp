// dlock-bench-minimal: the equal-work limit of S1. A blocking hiredis client on one connection,
// no pipelining, no library around the socket: per pair it sends an acquire and a release,
// waits for each reply, and does nothing else. dlock's S1 is compared with it in the same run.
//
//   --commands plain  SET k tok NX PX 10000, then EVALSHA of the usual compare-and-delete
//                     (the least any SET NX lock can send)
//   --commands dlock  what dlock's uncontended acquire + release send: the same SET, then the
//                     EVALSHA of dlock's own release script (dlock/wire.hpp builds it), so the
//                     only difference to S1 is the client
//   --commands script dlock's acquire script instead of the SET (what the acquire would cost
//                     if it always ran the script), then dlock's release: what the plain SET
//                     NX PX fast path saves
//
// The token is 32 hex characters like dlock's, from a counter (a minimal client need not pay
// for randomness; dlock does, so this limit is a little generous).
#include <hiredis/hiredis.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <dlock/wire.hpp>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench.hpp"

namespace {

using namespace dlock::bench;

constexpr const char* compare_and_delete =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end "
    "return 0";

struct ContextDeleter {
    void operator()(redisContext* context) const { redisFree(context); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;
struct ReplyDeleter {
    void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// One command; a transport failure or an error reply ends the run.
ReplyPtr call(redisContext* context, const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const std::string& arg : args) {
        argv.push_back(arg.data());
        lengths.push_back(arg.size());
    }
    ReplyPtr reply(static_cast<redisReply*>(
        redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (!reply) throw std::runtime_error(std::string("hiredis: ") + context->errstr);
    if (reply->type == REDIS_REPLY_ERROR)
        throw std::runtime_error("server: " + std::string(reply->str));
    return reply;
}

// The arguments of a RESP array of bulk strings (what dlock::Request holds).
std::vector<std::string> parse_command(const std::string& resp) {
    std::vector<std::string> args;
    std::size_t at = resp.find("\r\n") + 2;  // skip "*N"
    while (at < resp.size()) {
        const std::size_t end = resp.find("\r\n", at);
        const std::size_t length = std::stoul(resp.substr(at + 1, end - at - 1));
        args.push_back(resp.substr(end + 2, length));
        at = end + 2 + length + 2;
    }
    return args;
}

// One command and where the token appears in it.
struct Command {
    std::vector<std::string> args;
    std::vector<std::size_t> token_at;

    void find_token(const std::string& placeholder) {
        for (std::size_t i = 0; i < args.size(); ++i) {
            if (args[i] == placeholder) token_at.push_back(i);
        }
    }
    const std::vector<std::string>& with_token(const char* token) {
        for (std::size_t at : token_at) args[at] = token;
        return args;
    }
};

struct Pair {
    Command acquire;
    Command release;
};

Pair make_pair_commands(redisContext* context, const std::string& mode, const std::string& name) {
    const std::string placeholder(32, 'T');
    Pair pair;
    if (mode == "script") {
        call(context, parse_command(std::string(dlock::wire::load_acquire_script().payload())));
        pair.acquire.args = parse_command(
            std::string(dlock::wire::acquire_script_request(name, placeholder, dlock::Seconds(10.0))
                            .payload()));
    } else {
        pair.acquire.args = {"SET", name, placeholder, "NX", "PX", "10000"};
    }
    if (mode == "plain") {
        const std::string sha = call(context, {"SCRIPT", "LOAD", compare_and_delete})->str;
        pair.release.args = {"EVALSHA", sha, "1", name, placeholder};
    } else {
        call(context, parse_command(std::string(dlock::wire::load_release_script().payload())));
        pair.release.args =
            parse_command(std::string(dlock::wire::release_request(name, placeholder).payload()));
    }
    pair.acquire.find_token(placeholder);
    pair.release.find_token(placeholder);
    return pair;
}

void run(const std::string& url_host, int port, const std::string& mode, double duration_s,
         int round) {
    Context context(redisConnect(url_host.c_str(), port));
    if (!context || context->err) {
        throw std::runtime_error("connect failed: " +
                                 std::string(context ? context->errstr : "out of memory"));
    }
    const std::string name = "bench:minimal";
    Pair pair = make_pair_commands(context.get(), mode, name);
    std::vector<double> samples_us;
    samples_us.reserve(1 << 20);
    const double warm_up_s = std::min(0.5, duration_s / 5);
    const auto measure_from = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(warm_up_s));
    const auto end = measure_from + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(duration_s));
    long long all_pairs = 0;
    double cpu_before = 0;
    bool measuring = false;
    char token[33];
    for (unsigned long long counter = 0;; ++counter) {
        const auto start = Clock::now();
        if (start >= end) break;
        if (!measuring && start >= measure_from) {
            measuring = true;
            cpu_before = cpu_us();
        }
        std::snprintf(token, sizeof token, "%032llx", counter);
        if (call(context.get(), pair.acquire.with_token(token))->type == REDIS_REPLY_NIL) {
            throw std::runtime_error("uncontended acquire failed");
        }
        if (call(context.get(), pair.release.with_token(token))->integer != 1) {
            throw std::runtime_error("release did not delete the key");
        }
        if (measuring) {
            ++all_pairs;
            samples_us.push_back(micros(Clock::now() - start));
        }
    }
    JsonLine params;
    params.add("clients", 1).add("pipeline", 1).add("duration_s", duration_s).add("commands", mode);
    if (round > 0) params.add("round", round);
    JsonLine line;
    line.add("scenario", "L_minimal").add("impl", "limit").add_raw("params", params.str());
    add_blocking_results(
        line, samples_us, duration_s,
        all_pairs > 0 ? (cpu_us() - cpu_before) / static_cast<double>(all_pairs) : 0.0);
    std::cout << line.str() << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"the equal-work limit of S1: a blocking hiredis client, one JSON line"};
    std::string host = "127.0.0.1", mode = "plain";
    int port = 6379;
    double duration_s = 3.0;
    int round = 0;
    app.add_option("--host", host, "server host");
    app.add_option("--port", port, "server port")->check(CLI::Range(1, 65535));
    app.add_option("--commands", mode,
                   "plain: SET NX PX + compare-and-delete; dlock: dlock's own; script: dlock's "
                   "acquire script + release")
        ->check(CLI::IsMember({"plain", "dlock", "script"}));
    app.add_option("--duration", duration_s, "measured seconds")->check(CLI::PositiveNumber);
    app.add_option("--round", round, "round of an interleaved comparison (bench/run)")
        ->check(CLI::NonNegativeNumber);
    CLI11_PARSE(app, argc, argv);
    try {
        run(host, port, mode, duration_s, round);
    } catch (const std::exception& error) {
        JsonLine line;
        line.add("scenario", "L_minimal").add("impl", "limit").add("error", error.what());
        std::cout << line.str() << std::endl;
        std::cerr << "dlock-bench-minimal: " << error.what() << std::endl;
        return 1;
    }
    return 0;
}
