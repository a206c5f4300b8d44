// The name of a dlock exception type, for the "errors by type" column of the chaos report.
#pragma once

#include <dlock/errors.hpp>
#include <exception>
#include <stdexcept>
#include <string>

namespace dlock::chaos {

inline std::string error_type(std::exception_ptr error) {
    // Most derived first: LockReleaseError is also a LockError and an Error.
    try {
        std::rethrow_exception(error);
    } catch (const LockAcquisitionError&) {
        return "LockAcquisitionError";
    } catch (const LockReleaseError&) {
        return "LockReleaseError";
    } catch (const LockExtensionError&) {
        return "LockExtensionError";
    } catch (const SemaphoreMismatchError&) {
        return "SemaphoreMismatchError";
    } catch (const LockError&) {
        return "LockError";
    } catch (const TimeoutError&) {
        return "TimeoutError";
    } catch (const ConnectionError&) {
        return "ConnectionError";
    } catch (const ProtocolError&) {
        return "ProtocolError";
    } catch (const ServerError& e) {
        return "ServerError:" + e.code();
    } catch (const std::logic_error&) {
        return "logic_error";
    } catch (const std::exception& e) {
        // Not a dlock error type: keep the message (one word, short) to see what it was.
        std::string what = std::string(e.what()).substr(0, 60);
        for (char& c : what) {
            if (c == ' ' || c == '|' || c == '=') c = '_';
        }
        return "exception:" + what;
    } catch (...) {
        return "unknown";
    }
}

}  // namespace dlock::chaos
