#include "client/cluster_routing.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <string>

#include "dlock/errors.hpp"
#include "protocol/resp.hpp"

namespace dlock::detail {

namespace {

bool starts_with_word(std::string_view text, std::string_view word) {
    return text.size() >= word.size() && text.substr(0, word.size()) == word &&
           (text.size() == word.size() || text[word.size()] == ' ');
}

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::optional<Redirect> parse_redirect(std::string_view error, std::string_view current_host) {
    Redirect::Kind kind;
    if (starts_with_word(error, "MOVED")) {
        kind = Redirect::Kind::moved;
        error.remove_prefix(6);
    } else if (starts_with_word(error, "ASK")) {
        kind = Redirect::Kind::ask;
        error.remove_prefix(4);
    } else {
        return std::nullopt;
    }
    const auto space = error.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    unsigned slot = 0;
    const auto [end, ec] = std::from_chars(error.data(), error.data() + space, slot);
    if (ec != std::errc() || end != error.data() + space || slot >= slot_count) return std::nullopt;
    auto node = parse_address(error.substr(space + 1), current_host);
    if (!node) return std::nullopt;
    return Redirect{kind, static_cast<std::uint16_t>(slot), std::move(*node)};
}

std::optional<Redirect> find_redirect(const std::vector<Reply>& replies,
                                      std::string_view current_host) {
    for (const Reply& reply : replies) {
        if (!reply.is_error()) continue;
        if (auto redirect = parse_redirect(reply.str, current_host)) return redirect;
    }
    return std::nullopt;
}

bool should_retry_later(const std::vector<Reply>& replies) {
    return std::any_of(replies.begin(), replies.end(), [](const Reply& reply) {
        return reply.is_error() && (starts_with_word(reply.str, "TRYAGAIN") ||
                                    starts_with_word(reply.str, "CLUSTERDOWN") ||
                                    starts_with_word(reply.str, "LOADING"));
    });
}

std::chrono::milliseconds retry_backoff(unsigned attempt) {
    constexpr std::chrono::milliseconds first{10}, cap{200};
    if (attempt >= 5) return cap;
    return std::min(cap, first * (1 << attempt));
}

Step next_step(Failure failure, const std::vector<Reply>& replies, std::string_view host,
               const Progress& progress) {
    using Action = Step::Action;
    auto step = [](Action action, std::optional<Redirect> redirect = std::nullopt,
                   Clock::time_point wake_at = {}) {
        Step out;
        out.action = action;
        out.redirect = std::move(redirect);
        out.wake_at = wake_at;
        return out;
    };
    const auto wake_at = progress.now + retry_backoff(progress.retries);
    switch (failure) {
        case Failure::none:
            break;
        case Failure::connect_failed:
        case Failure::connect_timed_out:
            // Never sent (the connecting PING failed or timed out): safe to send elsewhere, e.g.
            // to the primary a failover promoted away from a host that drops packets.
            if (wake_at >= progress.deadline || progress.closed) return step(Action::rethrow);
            return step(Action::refresh_then_retry, std::nullopt, wake_at);
        case Failure::dropped:
        case Failure::timed_out:
            return step(Action::rethrow);
    }
    if (auto redirect = find_redirect(replies, host)) {
        if (progress.redirects >= progress.max_redirects) return step(Action::done);
        const Action action =
            redirect->kind == Redirect::Kind::moved ? Action::follow_moved : Action::follow_ask;
        return step(action, std::move(redirect));
    }
    if (should_retry_later(replies) && wake_at < progress.deadline && !progress.closed) {
        return step(Action::retry_after_backoff, std::nullopt, wake_at);
    }
    return step(Action::done);
}

std::optional<std::size_t> routing_key_index(std::span<const std::string_view> args) {
    if (args.size() < 2) return std::nullopt;
    const std::string name = upper(args[0]);
    if (name == "EVAL" || name == "EVALSHA" || name == "EVAL_RO" || name == "EVALSHA_RO" ||
        name == "FCALL" || name == "FCALL_RO") {
        unsigned keys = 0;
        if (args.size() < 4) return std::nullopt;
        const auto [end, ec] =
            std::from_chars(args[2].data(), args[2].data() + args[2].size(), keys);
        if (ec != std::errc() || keys == 0) return std::nullopt;
        return 3;
    }
    // Commands whose second word is not a key (server, connection and cluster-wide commands).
    static constexpr std::array<std::string_view, 24> keyless = {
        "ACL",    "AUTH",   "BGSAVE",   "CLIENT",  "CLUSTER",  "COMMAND", "CONFIG", "DBSIZE",
        "DEBUG",  "ECHO",   "FLUSHALL", "FLUSHDB", "FUNCTION", "HELLO",   "INFO",   "LATENCY",
        "LOLWUT", "MEMORY", "PING",     "PUBLISH", "SCRIPT",   "SLOWLOG", "SWAPDB", "WAIT"};
    if (std::find(keyless.begin(), keyless.end(), name) != keyless.end()) return std::nullopt;
    return 1;
}

Request with_asking(const Request& request) {
    // The payload is a sequence of RESP arrays of bulk strings, which the reply parser reads.
    ReplyParser parser;
    parser.feed(request.payload().data(), request.payload().size());
    Request out;
    static constexpr std::string_view asking[] = {"ASKING"};
    while (auto command = parser.next()) {
        std::vector<std::string_view> args;
        args.reserve(command->elements.size());
        for (const Reply& arg : command->elements) args.push_back(arg.str);
        out.push(std::span<const std::string_view>(asking));
        out.push(std::span<const std::string_view>(args));
    }
    return out;
}

std::vector<Reply> without_asking(std::vector<Reply> replies) {
    std::vector<Reply> out;
    out.reserve(replies.size() / 2);
    for (std::size_t i = 1; i < replies.size(); i += 2) out.push_back(std::move(replies[i]));
    return out;
}

}  // namespace dlock::detail
