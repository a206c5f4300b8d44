// dlock/errors.hpp: the exceptions dlock throws.
//
// Two families, so a caller can tell "the lock was lost" from "Redis is down":
//   - transport and server failures: ConnectionError, TimeoutError, ProtocolError, ServerError;
//   - lock outcomes: LockError and its children, which carry the lock's name.
// Bad arguments are reported with std::invalid_argument naming the parameter.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace dlock {

// Base of every exception dlock throws on purpose (std::invalid_argument aside).
class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The server could not be reached, or the connection dropped while a command was in flight.
// A command that fails this way may or may not have been executed by the server.
class ConnectionError : public Error {
  public:
    using Error::Error;
};

// A deadline passed before the server answered. The command may still run on the server.
class TimeoutError : public Error {
  public:
    using Error::Error;
};

// The server sent bytes that are not valid RESP (the connection is closed), or a valid reply
// dlock cannot represent, such as a RESP3 type (only that request fails).
class ProtocolError : public Error {
  public:
    using Error::Error;
};

// The server answered with an error reply ("-ERR ...", "-NOSCRIPT ...", "-MOVED ...").
class ServerError : public Error {
  public:
    explicit ServerError(std::string message)
        : Error(message), code_(message.substr(0, message.find(' '))) {}
    // The first word of the server's message: "ERR", "NOSCRIPT", "MOVED", "WRONGTYPE"...
    const std::string& code() const noexcept { return code_; }

  private:
    std::string code_;
};

// Base of lock outcome errors. lock_name() is the name the lock was created with.
class LockError : public Error {
  public:
    LockError(const std::string& what, std::string lock_name)
        : Error(what), lock_name_(std::move(lock_name)) {}
    const std::string& lock_name() const noexcept { return lock_name_; }

  private:
    std::string lock_name_;
};

// The scoped form (Lock::with / sync::LockGuard) could not acquire the lock.
class LockAcquisitionError : public LockError {
  public:
    using LockError::LockError;
};

// release() found the lock not held by this object (never acquired, expired, or taken over),
// or the scoped form found at its end that the lock had been lost while the body ran.
class LockReleaseError : public LockError {
  public:
    using LockError::LockError;
};

// extend()/reacquire() found the lock not held by this object, or the lock has no timeout
// (and ReplicationShortfallError below: it ran, but too few replicas confirmed it).
class LockExtensionError : public LockError {
  public:
    using LockError::LockError;
};

// extend()/reacquire() ran on the primary, but WAIT confirmed it on fewer replicas than
// replication_factor() (Cluster, Sentinel, a Redis with confirm_on_replicas). The lock is
// still held (owned() stays true, auto-renewal goes on) and the primary has the new TTL; a
// failover may promote a replica with the older one. Treat the extension as not granted: the
// expiry confirmed before stands. Retrying extend() is safe.
class ReplicationShortfallError : public LockExtensionError {
  public:
    ReplicationShortfallError(const std::string& what, std::string lock_name, std::size_t needed,
                              long long confirmed)
        : LockExtensionError(what, std::move(lock_name)), needed_(needed), confirmed_(confirmed) {}
    std::size_t needed() const noexcept { return needed_; }
    long long confirmed() const noexcept { return confirmed_; }

  private:
    std::size_t needed_;
    long long confirmed_;
};

// A Semaphore was built with a permit count other than the one its current holders were
// admitted under (stored_permits()): nothing was taken. Never silent over-admission.
class SemaphoreMismatchError : public LockError {
  public:
    SemaphoreMismatchError(const std::string& what, std::string lock_name, long long stored)
        : LockError(what, std::move(lock_name)), stored_(stored) {}
    long long stored_permits() const noexcept { return stored_; }

  private:
    long long stored_;
};

}  // namespace dlock
