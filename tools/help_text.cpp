#include "help_text.hpp"

namespace dlock::cli::help {

const char* const main_footer = R"(
Synopsis:
  run [OPTIONS] NAME COMMAND [ARGS...]   run COMMAND while holding lock NAME
  run [OPTIONS] NAME -c 'SHELL TEXT'     the same, COMMAND being sh -c TEXT
  acquire NAME                           take lock NAME, print its token, keep it
  release NAME TOKEN                     release a lock taken with `acquire`
  release NAME --force                   release a stuck lock, whoever holds it
  extend NAME TOKEN SEC [--replace]      give a lock taken with `acquire` more time
  status NAME [--json]                   who holds NAME, since when, TTL, fence, waiters
  list [PATTERN] [--json]                the locks dlock knows of, with their status
  wait NAME [-w SEC]                     wait until NAME is free, without taking it
  break NAME --yes                       delete a stuck lock, whoever holds it

Options go before or after NAME, as --opt VALUE or --opt=VALUE; connection options
(--url, --cluster, --cacert, --cert, --key, --insecure, --password-file) may also
come before the subcommand: `dlock --url redis://h:6379 run NAME COMMAND`. Every
option takes exactly one value. --url given 3 or more times runs the subcommand as
Redlock over those independent primaries (a quorum must agree); with --cluster, the
URLs are seeds of one Redis Cluster. One redis-sentinel://H[:P][,H[:P]...][/DB]#SERVICE
URL (rediss-sentinel:// for TLS) finds the primary through Sentinel; its password is
the data nodes'. `dlock SUBCOMMAND --help` describes each one.

Exit status: 0 success; 1 lock held by someone else, wrong token, or nothing to
release (or -E N); 64 usage error; 69 Redis unreachable or answering errors; 70
internal error (a bug in dlock); `run` only: 74 COMMAND succeeded but the final
release failed; 75 lock lost while COMMAND ran; 126 COMMAND not runnable; 127
COMMAND not found; 128+N COMMAND (or dlock, still waiting) killed by signal N;
otherwise COMMAND's own status.

Environment: DLOCK_URL (default URL), DLOCK_PASSWORD (password when the URL has
none and there is no --password-file; never passed on to COMMAND). URLs are read
as redis-py reads them: redis://alice@host is user alice (password from
--password-file or DLOCK_PASSWORD), redis://:secret@host a password,
redis://alice:secret@host both; write '@' as %40, ':' as %3A, '%' as %25 in a
user or password. Messages never show a password (redis://alice:***@host).)";

const char* const run_description = R"(Run COMMAND while holding lock NAME.

Like flock(1), across hosts. dlock takes the lock (waiting for it unless -n or -w
says otherwise), starts COMMAND, keeps the lock alive while COMMAND runs (it
extends the lock every ttl/3 seconds), and releases it when COMMAND exits.
dlock itself exits with COMMAND's exit status. COMMAND starts at the first word
after NAME that is not an option (or after `--`); -c TEXT runs `sh -c TEXT`.
`dlock run [OPTIONS] -- NAME COMMAND` ends the options before NAME (for a NAME
that starts with '-').)";

const char* const run_footer = R"(
Waiting: -w/--wait/--timeout SEC is how long to wait for the lock (as flock -w);
-n/--nonblock does not wait. Either way dlock exits 1 (or -E N) without a word
when the lock is not taken, as flock does; -v/--verbose says why. The lock's
life is -t/--ttl SEC (default 30), renewed while COMMAND runs. If the connection
to Redis drops while dlock waits, it reconnects with back-off until the wait is
over (forever without -w).

COMMAND's environment (DLOCK_PASSWORD is removed from it):
  DLOCK_NAME    the lock's name
  DLOCK_TOKEN   the holder's token (dlock release/extend NAME TOKEN accept it)
  DLOCK_FENCE   fencing token: a number that grows with every acquisition of
                NAME; hand it to the resource you protect so that it can refuse
                writes from an older holder (absent with --no-fence or Redlock)

Signals: SIGINT, SIGTERM and SIGHUP sent to dlock are passed on to COMMAND; the
lock is released once COMMAND has exited. Only COMMAND's own process gets them: a
shell script that starts background jobs must pass them on (or `exec` its last
command). COMMAND runs in dlock's process group, so a Ctrl-C typed in a terminal
reaches it directly, and once more through dlock. While dlock is still waiting for
the lock, these signals end dlock by that signal (128+N) once it has left the wait
queue, within 2 s (a second signal: at once). If dlock itself is killed (SIGKILL),
the lock stays until its TTL (-t) runs out, and COMMAND keeps running.

Lost lock: if the lock disappears while COMMAND runs (deleted, taken over, or
Redis unreachable for longer than the TTL), dlock prints "dlock: lock NAME
lost while COMMAND was running", sends SIGTERM to COMMAND, SIGKILL after
--kill-after seconds, and exits with 75. The shorter the TTL, the sooner a
lost lock is noticed (at most ttl/3 later) and the sooner a crashed dlock's
lock is free again. The final release is retried for up to min(TTL, 10 s) when
Redis cannot be reached.

Exit status:
  COMMAND's own    COMMAND ran (128+N if it was killed by signal N)
  1 (or -E N)      the lock was held by someone else (-n), or still held after -w SEC
  64               usage error, or --permits N other than the count the semaphore's
                   holders use
  69               Redis could not be reached or answered with an error
  70               internal error (a bug in dlock)
  74               COMMAND exited 0 but the lock could not be released (it expires
                   by its TTL); a failing COMMAND's own status wins over this one
  75               the lock was lost while COMMAND was running
  126, 127         COMMAND could not be run / was not found
  128+N            dlock was still waiting for the lock when signal N ended it

Examples:
  # crontab: at most one backup at a time across all hosts; skip a run if the
  # previous one is still going (-n), and let a crashed host's lock expire
  # after 2 minutes (the lock is renewed while backup.sh runs, however long)
  */5 * * * * dlock run -n -t 120 --url redis://redis.internal:6379 nightly-backup /usr/local/bin/backup.sh

  # wait at most 10 s for the lock; exit 0 if someone else has it
  dlock run -w 10 -E 0 deploy make deploy

  # a shell snippet that uses the fencing token
  dlock run counter -c 'echo "$DLOCK_FENCE" >> fences.log')";

const char* const acquire_description = R"(Take lock NAME and print its token.

The lock stays held after dlock exits, until its TTL (-t/--ttl, default 30 s) runs
out or `dlock release NAME TOKEN` releases it. `dlock extend` gives it more time.)";

const char* const acquire_footer = R"(
Output: TOKEN on one line (32 hex digits); with --fence, "TOKEN FENCE" where FENCE
is the fencing token (a number that grows with every acquisition of NAME).

Exit status: 0 acquired; 1 (or -E N, silently unless -v) held by someone else
(-n) or still held after -w SEC; 64 usage error; 69 Redis unreachable or
answering errors.

Example:
  token=$(dlock acquire -t 60 -w 5 maintenance) || exit 1
  ...; dlock extend maintenance "$token" 60; ...
  dlock release maintenance "$token")";

const char* const release_description = R"(Release lock NAME if it is held with TOKEN.

The check and the delete are one atomic step on the server: a lock that expired
and was taken by someone else is left alone. Waiters are woken at once. With
--force (and no TOKEN), releases the lock whoever holds it, as `dlock break --yes`:
for a stuck lock whose holder is gone.)";

const char* const release_footer = R"(
Exit status: 0 released; 1 not held with TOKEN, or not held at all with --force
(nothing changed); 64 usage error;
69 Redis unreachable or answering errors.)";

const char* const extend_description = R"(Give lock NAME more time if it is held with TOKEN.

Adds SEC seconds to the remaining life of the lock; with --replace, the remaining
life becomes SEC seconds.)";

const char* const extend_footer = R"(
Exit status: 0 extended; 1 not held with TOKEN (or held without expiry, when
adding); 64 usage error; 69 Redis unreachable or answering errors.)";

const char* const status_description =
    R"text(Tell who holds lock NAME, since when, and how many wait for it.

Prints one line: "held by HOST:PID ("LABEL") for 12 s, expires in 3.2 s, fence 7,
2 waiting", "held (holder unknown), ..." for a lock taken without a holder record
(by redis-py, coredis, or a library Lock without record_holder), or "free" /
"free (last fence 7)". With --json prints one object:
{"name":"NAME","held":true,"held_as":KIND,"ttl_ms":MS,"holder":{"host":"H","pid":P,"label":"L",
"since_ms":EPOCH_MS}|null,"held_for_ms":MS|null,"fence":N|null,"waiting":N}
held is true while anything holds NAME, and held_as says what: "lock" (a lock, an
-x writer or another client's lock), "semaphore" (permits), "readers" (-s), or null
when free. ttl_ms is null when the lock is free and -1 when it is held without
expiry (for permits or readers: until the last lease ends); since_ms
is the server's clock; fence is the last fencing token handed out (it stays after a
release); waiting counts processes (not threads) queued for the lock, null on
Redlock (its waiters do not queue, and it keeps no holder record or fence).

A name used as a semaphore (run --permits N) prints "semaphore of N permits: 2 held
(leases end in 3 s, 29 s), 1 waiting", and in JSON "semaphore":{"permits":N,
"holders":[{"ttl_ms":MS},...],"waiting":N}; as a read/write lock (run -s/-x),
"2 readers (leases end in ...), 1 writer waiting; writer free" (or "writer held
..."), and "read_write":{"readers":[{"ttl_ms":MS},...],"readers_waiting":N,
"writers_waiting":N}. Both are null for a plain lock. Permits and readers keep no
holder record: they are shown by their leases.)text";

const char* const status_footer = R"(
Exit status: 0 when the question was answered (held or free: read the output);
64 usage error; 69 Redis unreachable or answering errors.)";

const char* const wait_description = R"(Wait until lock NAME is free, without taking it.

Polls every --sleep seconds (default 0.1). NAME is held while anything holds it:
a lock, an -x writer, -s readers or --permits holders (even with permits left).
Another process may take the lock the moment it is free: to do something under
the lock, use `dlock run`.)";

const char* const wait_footer = R"(
Exit status: 0 free; 1 (or -E N) still held after -w SEC; 64 usage error;
69 Redis unreachable or answering errors (retried until -w SEC is over).)";

const char* const list_description = R"(List the locks dlock knows of, with their status.

Finds locks by the keys dlock keeps next to them (holder records, fence counters,
wait queues) with SCAN on the server (on every primary of a cluster, on every
Redlock node), keeps the names that match the glob PATTERN (default *), and prints
one line per lock: NAME, a tab, and what `dlock status NAME` prints. A lock taken
without any of those keys (redis-py, or a library Lock without fencing and holder
record that nobody waits for) is not listed. --json prints a JSON array of the
objects `dlock status --json` prints.)";

const char* const list_footer = R"(
Exit status: 0 listed (possibly nothing); 64 usage error; 69 Redis unreachable or
answering errors.)";

const char* const break_description = R"(Delete lock NAME, whoever holds it.

For a lock whose holder is gone and whose TTL is long (or has none). The holder,
if it still runs under `dlock run`, finds its lock lost and stops its COMMAND
(exit 75). The first queued waiter is woken at once. Held as a semaphore
(--permits) or by -s readers: every permit or reader's lease ends, and their
holders find them lost the same way. Says what it broke. Needs --yes.)";

const char* const break_footer = R"(
Exit status: 0 broken; 1 not held (nothing changed); 64 usage error (no --yes);
69 Redis unreachable or answering errors.)";

}  // namespace dlock::cli::help
