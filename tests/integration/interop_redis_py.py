"""A redis-py Lock driven line by line over stdin/stdout, for interop_test.cpp.

    interop_redis_py.py URL NAME_HEX TIMEOUT

NAME_HEX is the lock name, hex-encoded (names may hold any bytes); TIMEOUT is the lock's
timeout in seconds, or '-' for none. Each request line gets exactly one reply line:

    acquire BLOCKING BLOCKING_TIMEOUT   -> true | false        (BLOCKING 0/1, timeout or '-')
    release                             -> ok | error CLASS
    extend SECONDS                      -> true | error CLASS
    locked | owned                      -> true | false
    token                               -> the token as text, or none
    quit                                -> (exits)

Errors are reported by class name (LockError, LockNotOwnedError), so the C++ side can tell
"never acquired" from "not owned any more".
"""
import sys

import redis
from redis.exceptions import LockError


def main():
    url, name_hex, timeout = sys.argv[1], sys.argv[2], sys.argv[3]
    client = redis.Redis.from_url(url)
    lock = client.lock(
        bytes.fromhex(name_hex),
        timeout=None if timeout == "-" else float(timeout),
        sleep=0.05,
        thread_local=False,
    )

    def reply(text):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    reply("ready")
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        command = words[0]
        try:
            if command == "acquire":
                blocking = words[1] == "1"
                blocking_timeout = None if words[2] == "-" else float(words[2])
                reply(str(lock.acquire(blocking=blocking, blocking_timeout=blocking_timeout)).lower())
            elif command == "release":
                lock.release()
                reply("ok")
            elif command == "extend":
                reply(str(lock.extend(float(words[1]))).lower())
            elif command == "locked":
                reply(str(lock.locked()).lower())
            elif command == "owned":
                reply(str(lock.owned()).lower())
            elif command == "token":
                token = lock.local.token
                reply("none" if token is None else token.decode())
            elif command == "quit":
                return
            else:
                reply("error UnknownCommand")
        except LockError as error:
            reply("error " + type(error).__name__)


if __name__ == "__main__":
    main()
