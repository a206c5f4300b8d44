#!/usr/bin/env node
// node-redlock in dlock's benchmark scenarios (S1-S3 on one ioredis client, i.e. Redlock with a
// single server; S6 on three independent servers); prints one JSON line per run, with the same
// fields as dlock-bench.
//
//   node redlock_bench.js S1|S2|S3 --url redis://127.0.0.1:PORT [--duration S] [--tasks N]
//        [--workers N] [--hold-ms X] [--step-aside-ms X]
//   node redlock_bench.js S6 --redlock-url URL1 --redlock-url URL2 --redlock-url URL3 [--tasks N]
//
// S1 one task acquire+release; S2 --tasks concurrent promises on distinct names sharing one
// ioredis connection; S6 --tasks promises, each lock on a quorum of 3 servers; S3 --workers PROCESSES contending on one name. node-redlock retries
// every retryDelay (default 200 ms) +- retryJitter (default 100 ms); S3 sets retryCount -1
// (retry forever) and keeps the other defaults. Timestamps: process.hrtime.bigint(), which is
// CLOCK_MONOTONIC on Linux (one clock for the machine), so worker processes can be compared.
'use strict';

const { fork } = require('child_process');
const Redis = require('ioredis');
const Redlock = require('redlock');

const TTL_MS = 10000;
// Commands that in these scenarios run only inside node-redlock's lock/unlock scripts.
const SCRIPT_ONLY = new Set(['exists', 'set', 'get', 'del']);

function parseArgs(argv) {
  const args = { scenario: argv[0], url: 'redis://127.0.0.1:6379', duration: 3, tasks: 64,
                 workers: 8, holdMs: 0, stepAsideMs: 1, urls: [] };
  const names = { '--url': 'url', '--duration': 'duration', '--tasks': 'tasks', '--workers': 'workers',
                  '--hold-ms': 'holdMs', '--step-aside-ms': 'stepAsideMs', '--redlock-url': 'urls' };
  for (let i = 1; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key) throw new Error('unknown option ' + argv[i]);
    if (key === 'urls') args.urls.push(argv[i + 1]);
    else args[key] = key === 'url' ? argv[i + 1] : Number(argv[i + 1]);
  }
  if (!['S1', 'S2', 'S3', 'S6'].includes(args.scenario)) throw new Error('scenario must be S1, S2, S3 or S6');
  if (args.scenario === 'S6' && args.urls.length < 3) throw new Error('S6 needs --redlock-url three times');
  return args;
}

const nowNs = () => process.hrtime.bigint();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const warmUpS = (duration) => Math.min(0.5, duration / 5);
const round3 = (x) => Math.round(x * 1000) / 1000;

function percentiles(samples, prefix = '') {
  const sorted = Float64Array.from(samples).sort();
  const at = (q) => {
    if (sorted.length === 0) return 0;
    const rank = Math.ceil(q * sorted.length);
    return sorted[Math.min(sorted.length - 1, Math.max(rank, 1) - 1)];
  };
  return { [prefix + 'p50_us']: round3(at(0.5)), [prefix + 'p99_us']: round3(at(0.99)),
           [prefix + 'max_us']: sorted.length ? round3(sorted[sorted.length - 1]) : 0 };
}

async function commandCalls(client) {
  const calls = {};
  for (const line of (await client.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) calls[m[1]] = Number(m[2]);
  }
  return calls;
}

function commandDelta(before, after) {
  let total = 0, sent = 0;
  for (const [name, calls] of Object.entries(after)) {
    if (name === 'info' || name.startsWith('config')) continue;
    const n = calls - (before[name] || 0);
    total += n;
    if (!SCRIPT_ONLY.has(name)) sent += n;
  }
  return { total, sent };
}

// ---- S1 / S2 -----------------------------------------------------------------------------

async function runPairs(args) {
  const tasks = args.scenario === 'S1' ? 1 : args.tasks;
  const prefix = 'bench:' + args.scenario.toLowerCase() + ':';
  // S6: one ioredis connection per independent primary, a quorum of them per lock.
  const clients = args.scenario === 'S6' ? args.urls.map((url) => new Redis(url)) : [new Redis(args.url)];
  const redlock = new Redlock(clients, { retryCount: 0 });
  const measureFrom = nowNs() + BigInt(Math.round(warmUpS(args.duration) * 1e9));
  const end = measureFrom + BigInt(Math.round(args.duration * 1e9));
  const samples = [];
  let allPairs = 0;
  const cpuBefore = process.cpuUsage();
  const loop = async (i) => {
    const resource = prefix + i;
    for (;;) {
      const t0 = nowNs();
      if (t0 >= end) break;
      const lock = await redlock.lock(resource, TTL_MS);
      await lock.unlock();
      allPairs++;
      if (t0 >= measureFrom) samples.push(Number(nowNs() - t0) / 1e3);
    }
  };
  await Promise.all(Array.from({ length: tasks }, (_, i) => loop(i)));
  const cpu = process.cpuUsage(cpuBefore);
  for (const client of clients) client.disconnect();
  return { scenario: args.scenario, impl: 'node-redlock',
           params: { tasks, duration_s: args.duration, op: 'acquire+release', connections: clients.length },
           ops_per_s: round3(samples.length / args.duration), ops: samples.length,
           ...percentiles(samples),
           cpu_us_per_op: allPairs ? round3((cpu.user + cpu.system) / allPairs) : 0 };
}

// ---- S3 -----------------------------------------------------------------------------------

async function contentionWorker(args) {
  const client = new Redis(args.url);
  await client.ping();
  const redlock = new Redlock([client], { retryCount: -1 });
  process.send({ ready: true });
  const startNs = await new Promise((resolve) => process.once('message', (m) => resolve(BigInt(m.start))));
  while (nowNs() < startNs) await sleep(0);
  const end = startNs + BigInt(Math.round((warmUpS(args.duration) + args.duration) * 1e9));
  const events = [];
  const cpuAtStart = process.cpuUsage();
  while (nowNs() < end) {
    const asked = nowNs();
    const lock = await redlock.lock('bench:contended', TTL_MS);
    const acquired = nowNs();
    if (args.holdMs > 0) await sleep(args.holdMs);
    await lock.unlock();
    events.push([asked.toString(), acquired.toString(), nowNs().toString()]);
    if (args.stepAsideMs > 0) await sleep(args.stepAsideMs);
  }
  client.disconnect();
  const cpu = process.cpuUsage(cpuAtStart);  // this worker, from the start line
  process.send({ events, cpu_us: cpu.user + cpu.system });
}

async function runContention(args) {
  const admin = new Redis(args.url);
  await admin.del('bench:contended');
  const children = [];
  const ready = [], done = [];
  for (let w = 0; w < args.workers; w++) {
    const child = fork(__filename, process.argv.slice(2), { env: { ...process.env, DLOCK_BENCH_WORKER: '1' } });
    children.push(child);
    ready.push(new Promise((resolve) => child.once('message', resolve)));
    done.push(new Promise((resolve, reject) => {
      child.on('message', (m) => { if (m.events) resolve(m); });
      child.on('exit', (code) => { if (code !== 0) reject(new Error('worker exited with ' + code)); });
    }));
  }
  await Promise.all(ready);
  const before = await commandCalls(admin);
  const start = nowNs() + 20000000n;
  for (const child of children) child.send({ start: start.toString() });
  const reports = await Promise.all(done);
  const perWorker = reports.map((r) => r.events);
  const workersCpuUs = reports.reduce((sum, r) => sum + r.cpu_us, 0);
  const after = await commandCalls(admin);
  admin.disconnect();

  const measureFrom = start + BigInt(Math.round(warmUpS(args.duration) * 1e9));
  const end = measureFrom + BigInt(Math.round(args.duration * 1e9));
  const events = [];
  perWorker.forEach((evs, w) => evs.forEach((e) => events.push({ e: e.map(BigInt), w })));
  events.sort((a, b) => (a.e[1] < b.e[1] ? -1 : a.e[1] > b.e[1] ? 1 : 0));
  const waits = [], handoffs = [], counts = new Array(args.workers).fill(0);
  events.forEach(({ e: [asked, acquired], w }, i) => {
    if (acquired < measureFrom || acquired > end) return;
    counts[w]++;
    waits.push(Number(acquired - asked) / 1e3);
    // A hand-off: the next holder was already waiting when the previous release returned.
    if (i > 0 && asked < events[i - 1].e[2]) handoffs.push(Number(acquired - events[i - 1].e[2]) / 1e3);
  });
  const { total, sent } = commandDelta(before, after);
  const measured = counts.reduce((a, b) => a + b, 0);
  return { scenario: 'S3', impl: 'node-redlock',
           params: { workers: args.workers, model: 'processes', hold_ms: args.holdMs,
                     step_aside_ms: args.stepAsideMs, wake_on_release: false,
                     retry_delay_ms: 200, retry_jitter_ms: 100, duration_s: args.duration },
           ops_per_s: round3(measured / args.duration), acquisitions: measured, ...percentiles(waits),
           acq_per_worker_min: Math.min(...counts), acq_per_worker_max: Math.max(...counts),
           handoffs: handoffs.length, ...percentiles(handoffs, 'handoff_'),
           cpu_us_per_op: events.length ? round3(workersCpuUs / events.length) : 0,
           server_cmds_per_acq: events.length ? round3(total / events.length) : 0,
           client_cmds_per_acq: events.length ? round3(sent / events.length) : 0 };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (process.env.DLOCK_BENCH_WORKER) return contentionWorker(args);
  const line = args.scenario === 'S3' ? await runContention(args) : await runPairs(args);
  line.version = { redlock: require('redlock/package.json').version,
                   ioredis: require('ioredis/package.json').version };
  console.log(JSON.stringify(line));
}

main().catch((error) => {
  const scenario = process.argv[2];
  if (!process.env.DLOCK_BENCH_WORKER) {
    console.log(JSON.stringify({ scenario, impl: 'node-redlock', error: String(error) }));
  }
  console.error('redlock_bench: ' + (error && error.stack ? error.stack : error));
  process.exit(1);
});
