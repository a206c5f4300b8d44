#include "protocol/resp.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <charconv>
#include <cstring>
#include <limits>
#include <utility>

#include "dlock/errors.hpp"

namespace dlock::detail {

namespace {

// The reply type of hiredis's string-like types (bulk string, status, error), or nil.
std::optional<Reply::Type> text_type(int type) {
    switch (type) {
        case REDIS_REPLY_STRING:
            return Reply::Type::string;
        case REDIS_REPLY_STATUS:
            return Reply::Type::status;
        case REDIS_REPLY_ERROR:
            return Reply::Type::error;
        default:
            return std::nullopt;
    }
}

// Converts hiredis's reply tree (made by its default object functions) into ours.
Reply convert(const redisReply* r) {
    Reply out;
    if (const std::optional<Reply::Type> type = text_type(r->type)) {
        out.type = *type;
        out.str.assign(r->str, r->len);
    } else if (r->type == REDIS_REPLY_INTEGER) {
        out.type = Reply::Type::integer;
        out.integer = r->integer;
    } else if (r->type == REDIS_REPLY_ARRAY) {
        out.type = Reply::Type::array;
        out.elements.reserve(r->elements);
        for (std::size_t i = 0; i < r->elements; ++i)
            out.elements.push_back(convert(r->element[i]));
    } else {  // REDIS_REPLY_NIL
        out.type = Reply::Type::nil;
    }
    return out;
}

// hiredis 0.14 refuses an array inside 8 others ("depth > 7"), whatever its length.
constexpr std::size_t max_array_depth = 8;

[[noreturn]] void malformed(const std::string& why) {
    throw ProtocolError("invalid reply from server: " + why);
}

// A length ("$N", "*N", ...): -1, or digits without sign or leading zero. That is what hiredis
// accepts (string2ll, then its range check), so the framing here and hiredis's agree.
std::optional<long long> parse_length(std::string_view text) {
    if (text == "-1") return -1;
    if (text.empty() || (text.size() > 1 && text.front() == '0')) return std::nullopt;
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
    return value;
}

// A reply that is one RESP2 item of its own (a status, an error, an integer, a bulk string or
// nil), read here: through hiredis each cost a copy into its buffer, an allocated reply object
// and its conversion, about half of the client's work per reply. Nothing for an array, or an
// integer line that is not plain decimal digits (hiredis reads those its own way).
std::optional<Reply> read_simple(std::string_view framed) {
    const std::size_t line_end = framed.find("\r\n");
    const std::string_view line = framed.substr(1, line_end - 1);
    Reply out;
    switch (framed.front()) {
        case '+':
            out.type = Reply::Type::status;
            out.str.assign(line);
            return out;
        case '-':
            out.type = Reply::Type::error;
            out.str.assign(line);
            return out;
        case ':': {
            const char* const end = line.data() + line.size();
            const auto [at, ec] = std::from_chars(line.data(), end, out.integer);
            if (ec != std::errc() || at != end) return std::nullopt;
            out.type = Reply::Type::integer;
            return out;
        }
        case '$':
            if (line == "-1") {
                out.type = Reply::Type::nil;
                return out;
            }
            out.type = Reply::Type::string;
            // frame() checked the length and that the bytes and their CRLF are all there.
            out.str.assign(framed.substr(line_end + 2, framed.size() - line_end - 4));
            return out;
        default:
            return std::nullopt;
    }
}

// Decimal digits of n.
std::size_t digits_of(std::size_t n) {
    std::size_t digits = 1;
    for (; n >= 10; n /= 10) ++digits;
    return digits;
}

// Writes "<prefix>n\r\n" at `at` (digits_of(n) + 3 bytes); returns the end.
char* put_length_line(char* at, char prefix, std::size_t n) {
    *at++ = prefix;
    at = std::to_chars(at, at + digits_of(n), n).ptr;
    *at++ = '\r';
    *at++ = '\n';
    return at;
}
}  // namespace

void encode_command(std::string& out, std::span<const std::string_view> args) {
    // Sized once, then written in place: appending piece by piece re-allocated the buffer two
    // or three times per command and checked its capacity at every piece (encoding was a
    // tenth of the client's instructions in an uncontended acquire + release).
    std::size_t size = digits_of(args.size()) + 3;
    for (std::string_view arg : args) size += digits_of(arg.size()) + 3 + arg.size() + 2;
    const std::size_t old_size = out.size();
    out.resize(old_size + size);
    char* at = put_length_line(out.data() + old_size, '*', args.size());
    for (std::string_view arg : args) {
        at = put_length_line(at, '$', arg.size());
        if (!arg.empty()) std::memcpy(at, arg.data(), arg.size());
        at += arg.size();
        *at++ = '\r';
        *at++ = '\n';
    }
}

void ReplyParser::ReaderDeleter::operator()(void* reader) const noexcept {
    redisReaderFree(static_cast<redisReader*>(reader));
}

ReplyParser::ReplyParser() : reader_(redisReaderCreate()) {
    if (!reader_) throw std::bad_alloc();
    // Keep hiredis from shrinking its buffer after every reply (it would re-allocate per read).
    static_cast<redisReader*>(reader_.get())->maxbuf = 0;
}

ReplyParser::~ReplyParser() = default;

void ReplyParser::feed(const char* data, std::size_t size) {
    // Drop what was handed out once it is half the buffer: the move then costs no more than
    // the appends that led to it.
    if (head_ > 0 && head_ >= buffer_.size() / 2) {
        buffer_.erase(0, head_);
        scan_ -= head_;
        head_ = 0;
    }
    buffer_.append(data, size);
}

bool ReplyParser::frame() {
    while (scan_ < buffer_.size()) {
        // Every item opens with a line: the type byte, then text up to CRLF.
        const char type = buffer_[scan_];
        if (std::string_view("+-:$*_,#(!=~>%|").find(type) == std::string_view::npos) {
            malformed(std::string("Protocol error, got \"") + type + "\" as reply type byte");
        }
        const std::size_t line_end = buffer_.find("\r\n", scan_ + 1);
        if (line_end == std::string::npos) return false;
        const std::string_view line(buffer_.data() + scan_ + 1, line_end - scan_ - 1);
        std::size_t item_end = line_end + 2;
        long long children = 0;
        switch (type) {
            case '_':  // RESP3 null, double, boolean, big number
            case ',':
            case '#':
            case '(':
                supported_ = false;
                break;
            case '$':
            case '!':  // RESP3 blob error, verbatim string
            case '=': {
                const auto length = parse_length(line);
                if (!length) malformed("bad bulk string length");
                if (type != '$') supported_ = false;
                if (*length >= 0) {
                    // Its bytes and their CRLF (which hiredis skips unread, and so do we).
                    const auto needed = static_cast<unsigned long long>(*length) + 2;
                    if (needed > buffer_.size() - item_end) return false;
                    item_end += static_cast<std::size_t>(needed);
                }
                break;
            }
            case '*':
            case '~':  // RESP3 set, push, map, attribute
            case '>':
            case '%':
            case '|': {
                const auto length = parse_length(line);
                if (!length) malformed("bad multi-bulk length");
                if (type != '*' || expected_.size() >= max_array_depth) supported_ = false;
                children = *length;
                if (type == '%' || type == '|') {
                    if (children > std::numeric_limits<long long>::max() / 2 - 1)
                        malformed("bad multi-bulk length");
                    // A map holds pairs; an attribute, its pairs and then the value it annotates.
                    if (children >= 0) children = children * 2 + (type == '|' ? 1 : 0);
                }
                break;
            }
            default:  // RESP2 lines; hiredis checks an integer's digits
                break;
        }
        scan_ = item_end;
        if (children > 0) {
            expected_.push_back(children);
            continue;
        }
        // A complete item completes each aggregate it is the last element of.
        while (true) {
            if (expected_.empty()) return true;
            if (--expected_.back() > 0) break;
            expected_.pop_back();
        }
    }
    return false;
}

std::optional<Reply> ReplyParser::next() {
    if (!frame()) return std::nullopt;
    const std::size_t begin = std::exchange(head_, scan_);
    if (!std::exchange(supported_, true)) {
        throw UnsupportedReply(
            "reply not supported (a RESP3 type, or arrays nested deeper than 8): skipped");
    }
    const std::string_view framed(buffer_.data() + begin, scan_ - begin);
    if (std::optional<Reply> simple = read_simple(framed)) return simple;
    auto* reader = static_cast<redisReader*>(reader_.get());
    void* raw = nullptr;
    if (redisReaderFeed(reader, buffer_.data() + begin, scan_ - begin) != REDIS_OK ||
        redisReaderGetReply(reader, &raw) != REDIS_OK) {
        malformed(reader->errstr);
    }
    // hiredis read exactly the reply framed here, or the two disagree on where replies end.
    if (raw == nullptr || reader->pos != reader->len) {
        if (raw != nullptr) freeReplyObject(raw);
        malformed("framing disagrees with hiredis");
    }
    auto* reply = static_cast<redisReply*>(raw);
    Reply out = convert(reply);
    freeReplyObject(reply);
    return out;
}

}  // namespace dlock::detail
