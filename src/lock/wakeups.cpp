#include "lock/wakeups.hpp"

#include <asio.hpp>

#include "lock/eval.hpp"
#include "lock/lock_events.hpp"
#include "lock/scripts.hpp"

namespace dlock::detail {

Subscriber& wakeup_subscriber(Backend& backend, std::string_view lock_name) {
    Subscriber& subscriber = backend.subscriber_for(lock_name);
    if (!subscriber.has_unclaimed_handler()) {
        // The server that owns the lock's slot runs the hand-on (a MOVED just drops it).
        subscriber.set_unclaimed_handler(
            // The backend owns the subscriber, so it outlives this handler; its observer is read
            // when a wake-up passes (Client::set_observer may come after the first wait).
            [connection = backend.connection_for(lock_name), notify = backend.notify_command(),
             backend = &backend](const std::string& name, const std::string& inbox) {
                pass_on_wakeup(connection, name, inbox, notify);
                if (backend->observer) {
                    notify_observer(*backend->observer, &Observer::on_wakeup_passed_on,
                                    WakeupPassedOn{name});
                }
            });
    }
    return subscriber;
}

void pass_on_wakeup(const std::shared_ptr<Connection>& connection, const std::string& lock_name,
                    const std::string& inbox, std::string_view notify_command) {
    // EVAL with the source: nobody would be there to answer a NOSCRIPT with a retry.
    asio::co_spawn(
        connection->get_executor(),
        [connection, call = leave_queue_call(lock_name, inbox, notify_command,
                                             true)]() -> asio::awaitable<void> {
            try {
                co_await eval(*connection, call, connection->command_deadline(),
                              EvalMode::source_only);
            } catch (const std::exception&) {
            }
        },
        asio::detached);
}

}  // namespace dlock::detail
