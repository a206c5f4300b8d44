// dlock/reply.hpp: one RESP2 reply, as the server sent it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dlock {

struct Reply {
    enum class Type { nil, integer, string, status, error, array };

    Type type = Type::nil;
    long long integer = 0;        // Type::integer
    std::string str;              // Type::string, Type::status, Type::error (the message)
    std::vector<Reply> elements;  // Type::array

    bool is_nil() const noexcept { return type == Type::nil; }
    bool is_error() const noexcept { return type == Type::error; }
    bool is_integer() const noexcept { return type == Type::integer; }
    bool is_array() const noexcept { return type == Type::array; }
    // A "+OK" status reply.
    bool is_ok() const noexcept { return type == Type::status && str == "OK"; }
    // A bulk or status string (not an error).
    bool is_string() const noexcept { return type == Type::string || type == Type::status; }

    // Throws ServerError when this is an error reply; returns *this otherwise.
    const Reply& value() const;

    // A readable rendering for messages and the CLI, e.g. `(integer) 3`, `"abc"`, `(nil)`.
    std::string to_string() const;
};

}  // namespace dlock
