// Replies built by hand, as a server would send them, for the unit tests that need no server.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "dlock/reply.hpp"

namespace dlock::replies {

inline Reply integer(long long value) {
    Reply r;
    r.type = Reply::Type::integer;
    r.integer = value;
    return r;
}

// A reply carried as text: a bulk string, a status or an error message.
inline Reply text(Reply::Type type, std::string value) {
    Reply r;
    r.type = type;
    r.str = std::move(value);
    return r;
}

inline Reply bulk(std::string value) {
    return text(Reply::Type::string, std::move(value));
}
inline Reply error(std::string message) {
    return text(Reply::Type::error, std::move(message));
}

inline Reply array(std::vector<Reply> elements) {
    Reply r;
    r.type = Reply::Type::array;
    r.elements = std::move(elements);
    return r;
}

}  // namespace dlock::replies
