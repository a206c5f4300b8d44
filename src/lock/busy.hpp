// busy.hpp (private): one operation at a time per lock object.
//
// The concurrency contract of dlock::Lock and dlock::RedlockLock: one coroutine uses a lock
// object at a time; a second operation started while one is in progress is a programming
// error, reported at once rather than left to corrupt the hold.
#pragma once

#include <stdexcept>
#include <string>

namespace dlock::detail {

class BusyGuard {
  public:
    // `kind` names the class in the message ("dlock::Lock").
    BusyGuard(bool& busy, const char* kind, const std::string& name) : busy_(busy) {
        if (busy_) {
            throw std::logic_error(std::string(kind) + " '" + name +
                                   "': another operation on this object is in progress");
        }
        busy_ = true;
    }
    ~BusyGuard() { busy_ = false; }
    BusyGuard(const BusyGuard&) = delete;
    BusyGuard& operator=(const BusyGuard&) = delete;

  private:
    bool& busy_;
};

}  // namespace dlock::detail
