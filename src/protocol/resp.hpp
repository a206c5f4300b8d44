// resp.hpp (private): RESP2 framing without I/O (sans-IO), unit-tested on its own.
//
// Encoding is done by hand into a caller-owned buffer: a command is a few short strings, and
// appending to one reused std::string avoids the malloc per command that
// redisFormatCommandArgv costs. Decoding uses hiredis's reader, the reference parser, which
// copes with replies split across reads or many replies in one read.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/errors.hpp"
#include "dlock/reply.hpp"

namespace dlock::detail {

// Appends `*N\r\n$len\r\narg\r\n...` for one command. Binary safe.
void encode_command(std::string& out, std::span<const std::string_view> args);
inline void encode_command(std::string& out, std::initializer_list<std::string_view> args) {
    encode_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

// A well-formed reply that Reply (and hiredis's reader) cannot hold: a RESP3 type, or arrays
// nested deeper than hiredis's limit of 8 (a Lua script can return that). ReplyParser::next()
// skipped it whole: the parser stays usable, only the request it answers fails.
class UnsupportedReply : public ProtocolError {
  public:
    using ProtocolError::ProtocolError;
};

// Incremental reply decoder. feed() bytes as they arrive, then call next() until it returns
// nothing. Throws ProtocolError on bytes that are not RESP; the parser is then unusable.
//
// Each reply is framed here before hiredis sees it, so that hiredis only ever reads a complete
// reply it can represent: an unsupported one is skipped (UnsupportedReply) instead of breaking
// the reader, and no allocation is sized by a length the server claims but has not sent.
class ReplyParser {
  public:
    ReplyParser();
    ~ReplyParser();
    ReplyParser(const ReplyParser&) = delete;
    ReplyParser& operator=(const ReplyParser&) = delete;

    void feed(const char* data, std::size_t size);
    // The next reply, or nothing until more bytes are fed. Throws UnsupportedReply (then
    // call again for the next reply) or ProtocolError (the parser is unusable).
    std::optional<Reply> next();

  private:
    struct ReaderDeleter {
        void operator()(void* reader) const noexcept;
    };
    // Frames the reply starting at head_, resuming at scan_; true once it is complete.
    bool frame();

    std::unique_ptr<void, ReaderDeleter> reader_;
    std::string buffer_;               // bytes fed and not yet handed out
    std::size_t head_ = 0;             // start of the reply being framed
    std::size_t scan_ = 0;             // first byte of buffer_ not framed yet
    std::vector<long long> expected_;  // per open aggregate: elements still to come
    bool supported_ = true;            // no RESP3 type or too deep an array so far
};

}  // namespace dlock::detail
