// dlock/detail/resp.hpp: RESP2 framing without I/O (sans-IO), unit-tested on its own.
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

#include "dlock/reply.hpp"

namespace dlock::detail {

// Appends `*N\r\n$len\r\narg\r\n...` for one command. Binary safe.
void encode_command(std::string& out, std::span<const std::string_view> args);
inline void encode_command(std::string& out, std::initializer_list<std::string_view> args) {
    encode_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

// Incremental reply decoder. feed() bytes as they arrive, then call next() until it returns
// nothing. Throws ProtocolError on bytes that are not RESP; the parser is then unusable.
class ReplyParser {
  public:
    ReplyParser();
    ~ReplyParser();
    ReplyParser(const ReplyParser&) = delete;
    ReplyParser& operator=(const ReplyParser&) = delete;

    void feed(const char* data, std::size_t size);
    std::optional<Reply> next();

  private:
    struct ReaderDeleter {
        void operator()(void* reader) const noexcept;
    };
    std::unique_ptr<void, ReaderDeleter> reader_;
};

}  // namespace dlock::detail
