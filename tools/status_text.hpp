// tools/status_text.hpp: how `dlock` shows what dlock::inspect found, for people (status, list,
// a waiting run's progress line) and for programs (--json).
#pragma once

#include <optional>
#include <string>

#include "dlock/inspect.hpp"

namespace dlock::cli {

// A JSON string literal for `text` (lock names may hold quotes, backslashes, control bytes).
std::string json_string(const std::string& text);

// "held by HOST:PID ("LABEL") for 12 s, expires in 3.2 s, fence 7, 2 waiting", "held (holder
// unknown), no expiry", "free (last fence 7)" or "free". `queue_known`: false on Redlock,
// whose waiters do not queue. A semaphore: "semaphore of 4 permits: 2 held (leases end in 3 s,
// 29 s), 1 waiting"; a read/write lock: "2 readers (leases end in 3 s, 29 s), 1 writer
// waiting; writer free" (or "writer held ...", as a lock).
std::string describe(const LockInspection& seen, bool queue_known);

// "HOST:PID for 12 s" (or "an unknown holder"), for a waiting run's progress line.
std::string describe_holder(const LockInspection& seen);

// {"name":...,"held":...,"ttl_ms":...,"holder":{"host":...,"pid":...,"label":...,
// "since_ms":...}|null,"held_for_ms":...|null,"fence":...|null,"waiting":...|null}
// ttl_ms: null when free, -1 when held without expiry; since_ms: server clock, ms since the
// epoch; fence: the last fence handed out (it persists after release). Then
// "semaphore":{"permits":N|null,"holders":[{"ttl_ms":MS},...],"waiting":N}|null and
// "read_write":{"readers":[{"ttl_ms":MS},...],"readers_waiting":N,"writers_waiting":N}|null.
std::string to_json(const std::string& name, const LockInspection& seen, bool queue_known);

}  // namespace dlock::cli
