"""The scale curves of `bench/run --scale`: cost per operation as one dimension grows.

report.py calls markdown() and plots() when --mode is scale. Four curves, one PNG each:
  tasks      S2 with 1 to 4,096 concurrent tasks: client CPU per pair and pairs/s
  held       mem_held with 1k to 1M held locks: client heap per held lock (target <= 1 KB)
  waiters    mem_waiters with 1 to 10k waiters on one lock: acquisition attempts per hand-off
             (target: exactly 1) and heap per waiter
  processes  S3 with 2 to 32 processes on one name, hold 1 ms: hand-off p50/p99
"""
import os
import subprocess
import sys

CURVES = [
    # (file suffix, scenario, x param, x label, [(field, label)], y label, log y)
    ("tasks", "S2", "tasks", "concurrent tasks",
     [("cpu_us_per_op", "client CPU per pair (us)"), ("p50_us", "pair p50 (us)")], "us", True),
    ("held", "mem_held", "locks", "held locks",
     [("heap_bytes_per_item", "heap per held lock (bytes)"),
      ("bytes_per_item", "RSS per held lock (bytes)")], "bytes", False),
    ("waiters", "mem_waiters", "waiters", "waiters on one lock",
     [("attempts_per_handoff", "acquisition attempts per hand-off")], "attempts", False),
    ("processes", "S3", "workers", "processes on one name (hold 1 ms)",
     [("handoff_p50_us", "hand-off p50 (us)"), ("handoff_p99_us", "hand-off p99 (us)")], "us",
     True),
]

# Table columns beside a curve's own fields (default: ops/s).
EXTRA_COLUMNS = {
    "mem_held": [("acquire_all_s", "acquire all (s)"), ("release_all_s", "release all (s)")],
}


def points(lines, scenario, x_param):
    found = []
    for line in lines:
        if line.get("scenario") != scenario or line.get("impl") != "dlock":
            continue
        x = line.get("params", {}).get(x_param)
        if x is not None:
            found.append((x, line))
    return sorted(found, key=lambda p: p[0])


def fmt(value):
    if value is None:
        return "—"
    if isinstance(value, float):
        return "{:,.2f}".format(value) if value < 100 else "{:,.0f}".format(value)
    return "{:,}".format(value)


def markdown(info, lines):
    out = ["# dlock scale curves ({})".format(info.get("date", "")), ""]
    out.append("Machine: {} x {}, {}; Redis {}; {}; load {} -> {}; dlock {}.".format(
        info["nproc"], info["cpu_model"], info["os"], info["redis_version"], info["placement"],
        info["loadavg_start"], info["loadavg_end"], info["dlock_git_sha"]))
    out.append("")
    for suffix, scenario, x_param, x_label, fields, _, _ in CURVES:
        rows = points(lines, scenario, x_param)
        out.append("## {} ({} `{}`), `{}.png`".format(x_label, scenario, x_param, suffix))
        out.append("")
        header = [x_label] + [label for _, label in fields]
        extra = EXTRA_COLUMNS.get(scenario, [("ops_per_s", "ops/s")])
        header += [label for _, label in extra]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for x, line in rows:
            cells = [fmt(x)] + [fmt(line.get(f)) for f, _ in fields + extra]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    errors = [l for l in lines if "error" in l or "skipped" in l]
    if errors:
        out.append("Not measured:")
        for l in errors:
            out.append("- {}: {}".format(l.get("scenario"), l.get("error") or l.get("skipped")))
        out.append("")
    return "\n".join(out)


def plots(prefix, lines):
    for suffix, scenario, x_param, x_label, fields, y_label, log_y in CURVES:
        rows = points(lines, scenario, x_param)
        if not rows:
            continue
        data = "{}-{}.dat".format(prefix, suffix)
        with open(data, "w") as f:
            for x, line in rows:
                values = [line.get(field) for field, _ in fields]
                f.write("{} {}\n".format(x, " ".join("-" if v is None else str(v) for v in values)))
        plot = ", ".join("'{}' using 1:{} with linespoints title '{}'".format(data, i + 2, label)
                         for i, (_, label) in enumerate(fields))
        script = "\n".join([
            "set terminal pngcairo size 900,500 font 'DejaVu Sans,10' noenhanced",
            "set output '{}-{}.png'".format(prefix, suffix),
            "set title 'dlock: {} against {}'".format(y_label, x_label),
            "set logscale x 2" if x_param != "locks" else "set logscale x 10",
            "set logscale y" if log_y else "set yrange [0:*]",
            "set grid", "set datafile missing '-'", "set key top left",
            "set xlabel '{}'".format(x_label), "set ylabel '{}'".format(y_label),
            "plot " + plot, ""])
        try:
            result = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
            if result.returncode != 0:
                print("scale report: gnuplot failed: " + result.stderr, file=sys.stderr)
        except OSError:
            print("scale report: gnuplot not found; no PNG", file=sys.stderr)
        os.remove(data)
