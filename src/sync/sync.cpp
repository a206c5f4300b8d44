// The sync facade's only non-template part: the I/O thread's owner (see dlock/sync.hpp).
#include "dlock/sync.hpp"

namespace dlock::sync {

ClientBase::ClientBase() : io_(std::make_shared<IoThread>()) {}
ClientBase::~ClientBase() = default;

}  // namespace dlock::sync
