// semaphore_scripts.hpp (private): the Semaphore's server-side scripts, one typed call per
// script (the KEYS/ARGV order is written once, next to the source in semaphore_scripts.cpp).
//
// A semaphore NAME is semaphore_holders_key(NAME), a sorted set of permit tokens scored by the
// end of their lease (server clock, ms), plus key NAME holding semaphore_marker(count): the
// count its holders were admitted under, and the sign to every other kind (and other clients'
// SET NX locks) that the name is held; both expire with the last lease. Waiters queue under
// semaphore_wait_name(NAME) (see lock/wait_room.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "lock/scripts.hpp"

namespace dlock::detail {

// Takes a permit for `token` when fewer than `permits` unexpired leases are held: replies the
// fence (0 without fencing); nil when all permits are held or key NAME holds another kind's
// holder, or a Lock's waiter is queued for the name (the ticket's inbox is queued); -N when the
// semaphore has holders admitted under another count N (nothing written). `notify` is
// Backend::notify_command(): which kind of channel the queued Lock waiters listen on.
ScriptCall semaphore_acquire_call(std::string_view name, std::string_view token,
                                  std::chrono::milliseconds ttl, std::size_t permits, bool fencing,
                                  const QueueTicket* ticket, std::chrono::milliseconds queue_ttl,
                                  std::string_view notify);

// Gives back `token`'s permit and wakes the first queued process (`notify` '' = no one; one
// wake-up per freed permit); the last permit out also hands the name to the first process
// queued for a Lock of NAME (its claim marker, for the claim window). Replies 1, or 0 when its
// lease had already ended.
ScriptCall semaphore_release_call(std::string_view name, std::string_view token,
                                  std::string_view notify);

// Changes the lease of `token`'s permit (TtlChange as extend_call). Replies 1, or 0 when not
// held.
ScriptCall semaphore_extend_call(std::string_view name, std::string_view token,
                                 std::chrono::milliseconds ms, TtlChange change);

// Read-only: the permits held now (unexpired leases). Replies the count.
ScriptCall semaphore_holders_call(std::string_view name);
// Read-only: 1 when `token`'s lease is alive, else 0.
ScriptCall semaphore_owned_call(std::string_view name, std::string_view token);

}  // namespace dlock::detail
