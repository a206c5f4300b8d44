#!/usr/bin/python3
"""redis-py's Lock in dlock's benchmark scenarios; prints one JSON line per run.

    redis_py_bench.py --impl sync|asyncio --url redis://127.0.0.1:PORT S1|S2|S3 [options]

Same scenarios and output fields as dlock-bench (bench/README.md):
  S1  one task: acquire + release in sequence
  S2  --tasks concurrent tasks on distinct names sharing one client (sync: threads and the
      client's connection pool; asyncio: tasks, the pool opens a connection per task in flight)
  S3  --workers PROCESSES contending on one name, hold --hold-ms, step aside --step-aside-ms;
      redis-py polls every `sleep` (default 0.1 s): it has no wake-up on release.

Run with /usr/bin/python3 (Debian's python3-redis). Timestamps are time.monotonic_ns()
(CLOCK_MONOTONIC, one clock for the whole machine), so worker processes can be compared.
"""
import argparse
import asyncio
import json
import math
import multiprocessing
import resource
import sys
import threading
import time

import redis
import redis.asyncio

# Commands that in these scenarios run only inside redis-py's release script.
SCRIPT_ONLY = {"get", "del"}
TIMEOUT_S = 10  # the lock's timeout: a crashed run leaves nothing behind for long


def percentiles(samples, prefix=""):
    samples = sorted(samples)

    def at(q):
        if not samples:
            return 0.0
        rank = math.ceil(q * len(samples))
        return samples[min(len(samples) - 1, max(rank, 1) - 1)]

    return {prefix + "p50_us": round(at(0.50), 3), prefix + "p99_us": round(at(0.99), 3),
            prefix + "max_us": round(samples[-1], 3) if samples else 0.0}


def command_calls(client):
    calls = {}
    for name, stats in client.info("commandstats").items():
        calls[name.removeprefix("cmdstat_")] = stats["calls"]
    return calls


def command_delta(before, after):
    total = sent = 0
    for name, calls in after.items():
        if name == "info" or name.startswith("config"):
            continue
        n = calls - before.get(name, 0)
        total += n
        if name not in SCRIPT_ONLY:
            sent += n
    return total, sent


def cpu_us():
    """User + system CPU time of this process in microseconds (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1e6


def warm_up_s(duration):
    return min(0.5, duration / 5)


# ---- S1 / S2 ---------------------------------------------------------------------------

def pairs_sync(args, tasks, prefix):
    client = redis.Redis.from_url(args.url, max_connections=max(tasks, 1) + 4)
    start = time.monotonic()
    measure_from = start + warm_up_s(args.duration)
    end = measure_from + args.duration
    per_task = [[] for _ in range(tasks)]
    all_pairs = [0] * tasks
    failures = []

    def loop(i):
        lock = client.lock(prefix + str(i), timeout=TIMEOUT_S)
        samples = per_task[i]
        try:
            while True:
                t0 = time.monotonic()
                if t0 >= end:
                    break
                if not lock.acquire():
                    raise RuntimeError("uncontended acquire failed")
                lock.release()
                all_pairs[i] += 1
                if t0 >= measure_from:
                    samples.append((time.monotonic() - t0) * 1e6)
        except Exception as error:  # reported after join
            failures.append(error)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(tasks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return [s for samples in per_task for s in samples], sum(all_pairs)


async def pairs_asyncio(args, tasks, prefix):
    client = redis.asyncio.Redis.from_url(args.url)
    start = time.monotonic()
    measure_from = start + warm_up_s(args.duration)
    end = measure_from + args.duration
    samples = []
    all_pairs = 0

    async def loop(i):
        nonlocal all_pairs
        lock = client.lock(prefix + str(i), timeout=TIMEOUT_S)
        while True:
            t0 = time.monotonic()
            if t0 >= end:
                break
            if not await lock.acquire():
                raise RuntimeError("uncontended acquire failed")
            await lock.release()
            all_pairs += 1
            if t0 >= measure_from:
                samples.append((time.monotonic() - t0) * 1e6)

    await asyncio.gather(*(loop(i) for i in range(tasks)))
    await client.close()
    return samples, all_pairs


def run_pairs(args, scenario):
    tasks = 1 if scenario == "S1" else args.tasks
    prefix = "bench:%s:" % scenario.lower()
    cpu_before = cpu_us()
    if args.impl == "sync":
        samples, all_pairs = pairs_sync(args, tasks, prefix)
    else:
        samples, all_pairs = asyncio.run(pairs_asyncio(args, tasks, prefix))
    cpu_per_op = (cpu_us() - cpu_before) / all_pairs if all_pairs else 0
    params = {"tasks": tasks, "duration_s": args.duration, "op": "acquire+release",
              "model": "threads" if args.impl == "sync" else "asyncio tasks"}
    line = {"scenario": scenario, "impl": impl_name(args), "params": params,
            "ops_per_s": round(len(samples) / args.duration, 3), "ops": len(samples)}
    line.update(percentiles(samples))
    line["cpu_us_per_op"] = round(cpu_per_op, 3)
    return line


# ---- S3 ----------------------------------------------------------------------------------

def contention_worker(args, start_ns, ready, results):
    """One worker process: its own client, acquire/hold/release/step aside until the end."""
    try:
        if args.impl == "sync":
            events = contention_sync(args, start_ns, ready)
        else:
            events = asyncio.run(contention_asyncio(args, start_ns, ready))
        results.put(events)
    except Exception as error:
        results.put(error)


def wait_start(start_ns):
    while start_ns.value == 0 or time.monotonic_ns() < start_ns.value:
        time.sleep(0.0002)


def contended_lock(client, args, start_ns):
    """The lock every process contends for, and when (monotonic ns) this one stops."""
    end = start_ns.value + int((warm_up_s(args.duration) + args.duration) * 1e9)
    return client.lock("bench:contended", timeout=TIMEOUT_S, sleep=args.sleep), end


def contention_sync(args, start_ns, ready):
    client = redis.Redis.from_url(args.url)
    client.ping()
    with ready.get_lock():
        ready.value += 1
    wait_start(start_ns)
    lock, end = contended_lock(client, args, start_ns)
    events = []
    cpu_at_start = cpu_us()
    while time.monotonic_ns() < end:
        asked = time.monotonic_ns()
        if not lock.acquire():
            raise RuntimeError("blocking acquire returned false")
        acquired = time.monotonic_ns()
        if args.hold_ms > 0:
            time.sleep(args.hold_ms / 1e3)
        lock.release()
        events.append((asked, acquired, time.monotonic_ns()))
        if args.step_aside_ms > 0:
            time.sleep(args.step_aside_ms / 1e3)
    return events, cpu_us() - cpu_at_start


async def contention_asyncio(args, start_ns, ready):
    client = redis.asyncio.Redis.from_url(args.url)
    await client.ping()
    with ready.get_lock():
        ready.value += 1
    while start_ns.value == 0 or time.monotonic_ns() < start_ns.value:
        await asyncio.sleep(0.0002)
    lock, end = contended_lock(client, args, start_ns)
    events = []
    cpu_at_start = cpu_us()
    while time.monotonic_ns() < end:
        asked = time.monotonic_ns()
        if not await lock.acquire():
            raise RuntimeError("blocking acquire returned false")
        acquired = time.monotonic_ns()
        if args.hold_ms > 0:
            await asyncio.sleep(args.hold_ms / 1e3)
        await lock.release()
        events.append((asked, acquired, time.monotonic_ns()))
        if args.step_aside_ms > 0:
            await asyncio.sleep(args.step_aside_ms / 1e3)
    cpu = cpu_us() - cpu_at_start
    await client.close()
    return events, cpu


def run_contention(args):
    admin = redis.Redis.from_url(args.url)
    admin.delete("bench:contended")
    ctx = multiprocessing.get_context("fork")
    start_ns, ready, results = ctx.Value("q", 0), ctx.Value("i", 0), ctx.Queue()
    procs = [ctx.Process(target=contention_worker, args=(args, start_ns, ready, results))
             for _ in range(args.workers)]
    for p in procs:
        p.start()
    ready_by = time.monotonic() + 10
    while ready.value < args.workers and time.monotonic() < ready_by:
        time.sleep(0.001)
    before = command_calls(admin)
    start = time.monotonic_ns() + 20_000_000
    start_ns.value = start
    reports = [results.get() for _ in procs]  # before join: the queue must drain
    for p in procs:
        p.join()
    after = command_calls(admin)
    for item in reports:
        if isinstance(item, Exception):
            raise item
    per_worker_events = [events for events, _ in reports]
    workers_cpu_us = sum(cpu for _, cpu in reports)

    measure_from = start + int(warm_up_s(args.duration) * 1e9)
    end = measure_from + int(args.duration * 1e9)
    events = sorted(((e, w) for w, evs in enumerate(per_worker_events) for e in evs),
                    key=lambda x: x[0][1])
    waits, handoffs, per_worker = [], [], [0] * args.workers
    for i, ((asked, acquired, _released), worker) in enumerate(events):
        if acquired < measure_from or acquired > end:
            continue
        per_worker[worker] += 1
        waits.append((acquired - asked) / 1e3)
        # A hand-off: the next holder was already waiting when the previous release returned.
        if i > 0 and asked < events[i - 1][0][2]:
            handoffs.append((acquired - events[i - 1][0][2]) / 1e3)
    total, sent = command_delta(before, after)
    acquisitions = len(events)
    params = {"workers": args.workers, "model": "processes", "hold_ms": args.hold_ms,
              "step_aside_ms": args.step_aside_ms, "wake_on_release": False,
              "sleep_s": args.sleep, "duration_s": args.duration}
    line = {"scenario": "S3", "impl": impl_name(args), "params": params,
            "ops_per_s": round(sum(per_worker) / args.duration, 3),
            "acquisitions": sum(per_worker)}
    line.update(percentiles(waits))
    line.update({"acq_per_worker_min": min(per_worker), "acq_per_worker_max": max(per_worker),
                 "handoffs": len(handoffs)})
    line.update(percentiles(handoffs, "handoff_"))
    line["cpu_us_per_op"] = round(workers_cpu_us / acquisitions, 3) if acquisitions else 0
    line.update({"server_cmds_per_acq": round(total / acquisitions, 3) if acquisitions else 0,
                 "client_cmds_per_acq": round(sent / acquisitions, 3) if acquisitions else 0})
    return line


def impl_name(args):
    return "redis-py" if args.impl == "sync" else "redis-py-asyncio"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["S1", "S2", "S3"])
    parser.add_argument("--impl", choices=["sync", "asyncio"], default="sync")
    parser.add_argument("--url", default="redis://127.0.0.1:6379")
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--hold-ms", type=float, default=0.0)
    parser.add_argument("--step-aside-ms", type=float, default=1.0)
    parser.add_argument("--sleep", type=float, default=0.1, help="redis-py Lock sleep (its default 0.1)")
    args = parser.parse_args()
    try:
        line = run_contention(args) if args.scenario == "S3" else run_pairs(args, args.scenario)
    except Exception as error:
        print(json.dumps({"scenario": args.scenario, "impl": impl_name(args), "error": repr(error)}))
        print("redis_py_bench: %r" % (error,), file=sys.stderr)
        return 1
    line["version"] = redis.__version__
    print(json.dumps(line, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
