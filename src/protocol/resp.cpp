#include "protocol/resp.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <charconv>

#include "dlock/errors.hpp"

namespace dlock::detail {

namespace {

void append_length_line(std::string& out, char prefix, std::size_t n) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    out.push_back(prefix);
    out.append(digits, end);
    out.append("\r\n", 2);
}

// Converts hiredis's reply tree (made by its default object functions) into ours.
Reply convert(const redisReply* r) {
    Reply out;
    switch (r->type) {
        case REDIS_REPLY_STRING:
            out.type = Reply::Type::string;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_STATUS:
            out.type = Reply::Type::status;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_ERROR:
            out.type = Reply::Type::error;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_INTEGER:
            out.type = Reply::Type::integer;
            out.integer = r->integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = Reply::Type::array;
            out.elements.reserve(r->elements);
            for (std::size_t i = 0; i < r->elements; ++i)
                out.elements.push_back(convert(r->element[i]));
            break;
        default:  // REDIS_REPLY_NIL
            out.type = Reply::Type::nil;
            break;
    }
    return out;
}

}  // namespace

void encode_command(std::string& out, std::span<const std::string_view> args) {
    append_length_line(out, '*', args.size());
    for (std::string_view arg : args) {
        append_length_line(out, '$', arg.size());
        out.append(arg.data(), arg.size());
        out.append("\r\n", 2);
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
    auto* reader = static_cast<redisReader*>(reader_.get());
    if (redisReaderFeed(reader, data, size) != REDIS_OK) {
        throw ProtocolError(std::string("RESP reader: ") + reader->errstr);
    }
}

std::optional<Reply> ReplyParser::next() {
    auto* reader = static_cast<redisReader*>(reader_.get());
    void* raw = nullptr;
    if (redisReaderGetReply(reader, &raw) != REDIS_OK) {
        throw ProtocolError(std::string("invalid reply from server: ") + reader->errstr);
    }
    if (raw == nullptr) return std::nullopt;
    auto* reply = static_cast<redisReply*>(raw);
    Reply out = convert(reply);
    freeReplyObject(reply);
    return out;
}

}  // namespace dlock::detail
