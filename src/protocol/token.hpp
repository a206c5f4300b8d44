// token.hpp (private): lock tokens.
#pragma once

#include <string>

namespace dlock::detail {

// 128 bits from the kernel's CSPRNG (getrandom, buffered per thread and never shared with a
// forked child), as 32 lowercase hex digits. Unpredictable, unlike uuid1 (time + MAC), so no
// other client can forge a holder's token.
std::string make_token();

}  // namespace dlock::detail
