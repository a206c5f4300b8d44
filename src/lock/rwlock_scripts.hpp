// rwlock_scripts.hpp (private): the ReadWriteLock's server-side scripts, one typed call per
// script (KEYS/ARGV order written once, next to the source in rwlock_scripts.cpp).
//
// A read/write lock NAME is: key NAME, the writer's token with PX (as a Lock's: a Lock and a
// writer of the same name exclude each other) or, while readers hold, readers_marker (expiring
// with the last reader's lease, so a Lock, a semaphore and other clients' locks stay out);
// readers_key(NAME), the readers' leases; and the
// claims of those waiting: writers_waiting_key (while one is there no new reader gets in),
// readers_waiting_key, and readers_turn_key (the readers a writer's release let in ahead of
// every writer). Claims are leases too (token -> end), refreshed by each attempt, so a waiter
// that died stops counting by itself. Readers wait under reader_wait_name(NAME), writers under
// writer_wait_name(NAME): a release wakes the role that may go in now.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "lock/scripts.hpp"

namespace dlock::detail {

// What every rwlock script needs besides the token.
struct RwCall {
    std::string_view name;
    std::string_view token;
    std::string_view notify;  // Backend::notify_command(), '' = wake no one
};

// A writer gets in when key NAME holds no token or other kind's marker, no reader holds, and
// no reader has its turn: replies the
// fence (0 without fencing) or nil; when `claim` is set (a blocking acquire) a failed attempt
// stakes (or refreshes) the writer's claim for that long, keeping new readers out.
ScriptCall rw_write_acquire_call(const RwCall& call, std::chrono::milliseconds ttl, bool fencing,
                                 const QueueTicket* ticket, std::chrono::milliseconds queue_ttl,
                                 std::chrono::milliseconds claim);
// Token-checked delete of key NAME. Then readers waiting get their turn (all of them, woken),
// else the first waiting writer's process is woken; and the first live process in the Lock's
// queue of NAME (a Lock's waiter, or another kind's behind the writer) is woken. Replies 1 or 0.
ScriptCall rw_write_release_call(const RwCall& call);
// A writer that gives up withdraws its claim; with no writer left waiting, waiting readers are
// woken.
ScriptCall rw_write_withdraw_call(const RwCall& call);

// A reader gets in when key NAME holds no token (a writer, a Lock) or semaphore marker and no
// writer waits, or when it has its turn: replies 0
// or nil; with `claim` set a failed attempt records it as waiting. A reader that gets in with
// more readers waiting in its process wakes the next of them (readers share).
ScriptCall rw_read_acquire_call(const RwCall& call, std::chrono::milliseconds ttl,
                                const QueueTicket* ticket, std::chrono::milliseconds queue_ttl,
                                std::chrono::milliseconds claim);
// Gives the read lease back; the last reader out frees key NAME and wakes a waiting writer and
// the first process waiting for a Lock of NAME. Replies 1, or 0 when the lease had ended.
ScriptCall rw_read_release_call(const RwCall& call);
// Changes a reader's lease (TtlChange as extend_call). Replies 1 or 0.
ScriptCall rw_read_extend_call(const RwCall& call, std::chrono::milliseconds ms, TtlChange change);
// A reader that gives up drops its claim and turn; if that lets a writer in, it is woken.
ScriptCall rw_read_withdraw_call(const RwCall& call);

}  // namespace dlock::detail
