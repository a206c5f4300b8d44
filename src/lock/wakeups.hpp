// wakeups.hpp (private): the lock's side of release notifications.
//
// The subscriber (net/subscriber.hpp) only delivers messages; what a wake-up means for a lock,
// and handing an unused one on to the next waiting process, is the lock's business and lives
// here, so no client includes lock scripts.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "client/backend.hpp"
#include "net/subscriber.hpp"

namespace dlock::detail {

// The subscriber for waiters on `lock_name`, with the lock's hand-on installed: a wake-up that
// reaches this process after its waiters left goes back to the server (pass_on_wakeup).
Subscriber& wakeup_subscriber(Backend& backend, std::string_view lock_name);

// A wake-up reached this process after its waiters on `lock_name` left: takes `inbox` out of
// the lock's queue and wakes the next process if the lock is free, on `connection` (the
// server that owns the lock's key). Best effort, in the background: the poll covers a failure.
void pass_on_wakeup(const std::shared_ptr<Connection>& connection, const std::string& lock_name,
                    const std::string& inbox, std::string_view notify_command);

}  // namespace dlock::detail
