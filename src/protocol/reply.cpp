#include "dlock/reply.hpp"

#include "dlock/errors.hpp"

namespace dlock {

const Reply& Reply::value() const {
    if (type == Type::error) throw ServerError(str);
    return *this;
}

std::string Reply::to_string() const {
    switch (type) {
        case Type::nil:
            return "(nil)";
        case Type::integer:
            return "(integer) " + std::to_string(integer);
        case Type::string:
            return '"' + str + '"';
        case Type::status:
            return str;
        case Type::error:
            return "(error) " + str;
        case Type::array: {
            std::string out = "[";
            for (std::size_t i = 0; i < elements.size(); ++i) {
                if (i) out += ", ";
                out += elements[i].to_string();
            }
            return out + "]";
        }
    }
    return {};
}

}  // namespace dlock
