#!/usr/bin/python3
"""ctest example.metrics_exporter: runs examples/metrics_exporter against a harness server,
scrapes /metrics with a real HTTP client (urllib) while its workers contend, and checks the
figures against what the workload itself counted (its "done" line).

ctest example.metrics_exporter_arguments (mode "arguments"): bad options exit 2 with a message
naming the option, --help exits 0 with the usage, and a workload that ends before the HTTP
server runs (a bad --url, --seconds 0, a server that refuses) still ends the process.

usage: metrics_exporter_test.py EXPORTER REDIS_URL [scrape|arguments]
"""
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

SAMPLE = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? (\S+)$')


def parse(text):
    """{(name, frozenset(labels)): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = SAMPLE.match(line)
        assert m, 'not a sample line: %r' % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ''))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def total(samples, name, **want):
    return sum(v for (n, labels), v in samples.items()
               if n == name and all((k, w) in labels for k, w in want.items()))


def scrape(address):
    with urllib.request.urlopen('http://%s/metrics' % address, timeout=10) as response:
        assert response.status == 200
        assert response.headers['Content-Type'].startswith('text/plain'), response.headers
        return parse(response.read().decode())


def check(condition, message):
    if not condition:
        print('FAIL:', message)
        sys.exit(1)


def run(exporter, *args):
    """(status, stdout, stderr) of one run; a run that hangs fails the test."""
    try:
        done = subprocess.run([exporter, *args], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        check(False, 'metrics_exporter %s did not exit' % ' '.join(args))
    return done.returncode, done.stdout, done.stderr


def arguments(exporter, url):
    good = {'--url': url, '--listen': '127.0.0.1:0', '--workers': '1', '--seconds': '0.2'}

    def with_option(option, value):
        options = dict(good, **{option: value})
        return [word for pair in options.items() for word in pair]

    bad = [('--seconds', v) for v in ('inf', '-inf', 'nan', '1e308', '-1', 'abc', '1x', '',
                                      '0x10', ' 1')]
    bad += [('--linger', v) for v in ('nan', 'inf', '1e308', '-0.5', 'abc')]
    bad += [('--listen', v) for v in ('127.0.0.1:99999', '127.0.0.1:65536', '127.0.0.1:',
                                      '127.0.0.1:0x10', '127.0.0.1:+80', '127.0.0.1:-1',
                                      '127.0.0.1:8o', '127.0.0.1', ':80')]
    bad += [('--workers', v) for v in ('abc', '0', '-1', '1.5', '0x10', '', '5x', '99999999999')]
    bad += [('--locks', v) for v in ('abc', '0', '2.5', '')]
    for option, value in bad:
        status, out, err = run(exporter, *with_option(option, value))
        check(status == 2, '%s %r: status %d, want 2 (%r)' % (option, value, status, err))
        check(option in err and 'stoi' not in err and 'stod' not in err,
              '%s %r: the message names the option: %r' % (option, value, err))
        check('listening' not in out, '%s %r: no server started: %r' % (option, value, out))

    status, out, err = run(exporter, '--url', url, '--workers')
    check(status == 2 and '--workers needs a value' in err, 'a missing value: %r' % err)
    status, out, err = run(exporter, '--bogus', '1')
    check(status == 2 and '--bogus' in err, 'an unknown option: %r' % err)
    for help in ('--help', '-h'):
        status, out, err = run(exporter, help)
        check(status == 0 and 'usage: metrics_exporter --url URL' in out and 'exit status' in out,
              '%s prints the usage and exits 0: %d %r %r' % (help, status, out, err))

    # The workload ends before the HTTP server could run (D1: these used to hang).
    status, out, err = run(exporter, *with_option('--url', 'notaurl'))
    check(status == 2 and 'url' in err and 'listening' not in out,
          'a bad --url: status %d, %r, %r' % (status, out, err))
    for seconds in ('0', '0.0'):
        status, out, err = run(exporter, *with_option('--seconds', seconds))
        check(status == 0 and out.startswith('listening on ') and
              'done acquired=0 released=0 not_acquired=0' in out,
              '--seconds %s: status %d, %r, %r' % (seconds, status, out, err))
    status, out, err = run(exporter, *with_option('--url', 'redis://127.0.0.1:1'))
    check(status == 1 and 'metrics_exporter: ' in err,
          'a server that refuses: status %d, %r, %r' % (status, out, err))
    # The hang was a race with the HTTP thread: try it a few more times, output unread (as when
    # it ran into /dev/null, where it hung most often).
    for attempt in range(10):
        for target, seconds, want in ((url, '0', 0), ('redis://127.0.0.1:1', '0.2', 1)):
            command = [exporter, *with_option('--url', target), '--seconds', seconds]
            try:
                status = subprocess.run(command, timeout=30, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL).returncode
            except subprocess.TimeoutExpired:
                check(False, 'run %d of %s did not exit' % (attempt, ' '.join(command)))
            check(status == want, 'run %d of %s: status %d' % (attempt, ' '.join(command), status))
    print('ok')


def main():
    exporter, url = sys.argv[1], sys.argv[2]
    if sys.argv[3:] == ['arguments']:
        return arguments(exporter, url)
    prefix = 'metrics-test-%d:' % os.getpid()
    process = subprocess.Popen(
        [exporter, '--url', url, '--listen', '127.0.0.1:0', '--workers', '8', '--seconds', '3',
         '--locks', '3', '--prefix', prefix, '--linger', '60'],
        stdout=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l.strip()) for l in process.stdout],
                     daemon=True).start()
    try:
        listening = lines.get(timeout=30)
        check(listening.startswith('listening on '), listening)
        address = listening[len('listening on '):]

        # While the workers contend: the counters move.
        time.sleep(1.0)
        during = scrape(address)
        time.sleep(0.5)
        later = scrape(address)
        check(lines.empty(), 'the workload ended before the scrapes: %r' % list(lines.queue))
        first, second = total(during, 'dlock_acquired_total'), total(later, 'dlock_acquired_total')
        check(0 < first < second, 'acquisitions grow while contended: %s then %s' % (first, second))

        done = lines.get(timeout=60)
        m = re.match(r'done acquired=(\d+) released=(\d+) not_acquired=(\d+)$', done)
        check(m, done)
        acquired, released, failed = (int(g) for g in m.groups())
        final = scrape(address)
        print('workload: acquired=%d released=%d not_acquired=%d' % (acquired, released, failed))

        check(total(final, 'dlock_acquired_total') == acquired, 'acquired_total == workload')
        check(total(final, 'dlock_released_total') == released, 'released_total == workload')
        check(total(final, 'dlock_not_acquired_total') == failed, 'not_acquired == workload')
        check(total(final, 'dlock_not_acquired_total', reason='held') > 0,
              'the non-blocking tries found the locks held')
        check(total(final, 'dlock_lost_total') == 0, 'no lock lost')
        check(total(final, 'dlock_wait_seconds_count') == acquired, 'one wait per acquisition')
        check(total(final, 'dlock_hold_seconds_count') == released, 'one hold per release')
        check(total(final, 'dlock_acquired_woken_total') > 0, 'contended waiters were woken')
        check(total(final, 'dlock_acquire_attempts_total') >= acquired + failed,
              'at least one attempt per call')
        check(total(final, 'dlock_observer_exceptions_total') == 0, 'the observer never threw')
        names = {dict(labels).get('lock') for (n, labels) in final if n == 'dlock_acquired_total'}
        check(names == {prefix + 'job-%d' % i for i in range(3)}, 'one series per lock: %s' % names)
        for name in names:
            buckets = sorted(((float(dict(labels)['le'].replace('+Inf', 'inf')), v)
                              for (n, labels), v in final.items()
                              if n == 'dlock_wait_seconds_bucket' and ('lock', name) in labels))
            counts = [v for _, v in buckets]
            check(counts == sorted(counts), 'cumulative buckets for %s' % name)
            check(counts[-1] == total(final, 'dlock_wait_seconds_count', lock=name),
                  '+Inf bucket == count for %s' % name)
        hold_sum = total(final, 'dlock_hold_seconds_sum')
        check(0 < hold_sum < released * 0.1, 'holds of 0-2 ms: sum %.3f s' % hold_sum)

        process.send_signal(signal.SIGTERM)
        check(process.wait(timeout=30) == 0, 'exit status 0 after SIGTERM')
        print('ok')
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


if __name__ == '__main__':
    main()
