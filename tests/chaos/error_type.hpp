// The name of a dlock exception type, for the "errors by type" column of the chaos report.
#pragma once

#include <dlock/errors.hpp>
#include <exception>
#include <stdexcept>
#include <string>

namespace dlock::chaos {

// Most derived first: LockReleaseError is also a LockError and an Error.
inline std::string error_type_of(const std::exception& e) {
    if (dynamic_cast<const LockAcquisitionError*>(&e)) return "LockAcquisitionError";
    if (dynamic_cast<const LockReleaseError*>(&e)) return "LockReleaseError";
    if (dynamic_cast<const LockExtensionError*>(&e)) return "LockExtensionError";
    if (dynamic_cast<const SemaphoreMismatchError*>(&e)) return "SemaphoreMismatchError";
    if (dynamic_cast<const LockError*>(&e)) return "LockError";
    if (dynamic_cast<const TimeoutError*>(&e)) return "TimeoutError";
    if (dynamic_cast<const ConnectionError*>(&e)) return "ConnectionError";
    if (dynamic_cast<const ProtocolError*>(&e)) return "ProtocolError";
    if (const auto* server = dynamic_cast<const ServerError*>(&e)) {
        return "ServerError:" + server->code();
    }
    if (dynamic_cast<const std::logic_error*>(&e)) return "logic_error";
    // Not a dlock error type: keep the message (one word, short) to see what it was.
    std::string what = std::string(e.what()).substr(0, 60);
    for (char& c : what) {
        if (c == ' ' || c == '|' || c == '=') c = '_';
    }
    return "exception:" + what;
}

inline std::string error_type(std::exception_ptr error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return error_type_of(e);
    } catch (...) {
        return "unknown";
    }
}

}  // namespace dlock::chaos
