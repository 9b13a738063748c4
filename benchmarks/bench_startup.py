#!/usr/bin/env python3
"""Start-up latency of the CLI: launch ``orbitlink decode tiny.sigmf-meta`` to its first frame.

What is measured: the wall time from just before the subprocess is launched
(``python -m orbitlink decode tiny.sigmf-meta``) to the moment its first line arrives on stdout
(the first decoded frame, printed with flush). It covers interpreter start-up, the imports,
loading the link, opening the recording, loading numba's compiled kernels from the on-disk
cache, and demodulating the samples up to the first frame.

The recording is tiny: 2 frames of the ``qpsk`` link (about 0.3 s of signal at 38.4 kHz) made
with ``orbitlink encode`` in a temporary directory. numba's cache is warmed first by one
untimed run, so the figure is the steady-state start-up a user sees, not first-install
compilation. Median of ``--reps`` runs (default 5). Target: < 2 s.

Usage::

    .venv/bin/python benchmarks/bench_startup.py [--reps 5] [--link qpsk] [--json]

Exit status 0 whatever the figure (benchmarks are not tests); 1 if the decode itself fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_S = 2.0


def _orbitlink(*args):
    return [sys.executable, "-m", "orbitlink", *map(str, args)]


def make_recording(d: str, link: str, nframes: int = 2) -> str:
    pay = os.path.join(d, "payloads.txt")
    with open(pay, "w") as fh:
        for i in range(nframes):
            fh.write(bytes((i * 37 + k) & 0xFF for k in range(64)).hex() + "\n")
    meta = os.path.join(d, "tiny.sigmf-meta")
    subprocess.run(_orbitlink("encode", "--link", link, "--in", pay, "--out", meta,
                              "--datetime", "2026-01-01T00:00:00Z"),
                   check=True, capture_output=True)
    return meta


def time_to_first_line(meta: str) -> tuple[float, float, str]:
    """(seconds to the first stdout line, seconds to exit, that line)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(_orbitlink("decode", meta), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    t1 = time.perf_counter()
    p.stdout.read()
    err = p.stderr.read()
    rc = p.wait()
    t2 = time.perf_counter()
    if rc != 0 or not line:
        raise RuntimeError(f"decode failed (exit {rc}): {err.strip()}")
    return t1 - t0, t2 - t0, line.strip()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--link", default="qpsk")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="orbitlink-startup-") as d:
        meta = make_recording(d, args.link)
        try:
            time_to_first_line(meta)  # warm numba's on-disk cache (and the OS file cache)
            runs = [time_to_first_line(meta) for _ in range(args.reps)]
        except RuntimeError as e:
            print(f"bench_startup: {e}", file=sys.stderr)
            return 1
    first = [r[0] for r in runs]
    total = [r[1] for r in runs]
    med = statistics.median(first)
    result = {
        "benchmark": "cli_startup_to_first_frame", "link": args.link, "reps": args.reps,
        "median_s": round(med, 3), "min_s": round(min(first), 3), "max_s": round(max(first), 3),
        "median_exit_s": round(statistics.median(total), 3), "target_s": TARGET_S,
        "meets_target": med < TARGET_S, "python": sys.version.split()[0],
        "cpus": os.cpu_count(), "loadavg_1min": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"orbitlink decode tiny.sigmf-meta ({args.link}, 2 frames): first frame after "
              f"{med:.3f} s (median of {args.reps}; min {min(first):.3f}, max {max(first):.3f}; "
              f"process exit {result['median_exit_s']:.3f} s)")
        print(f"target < {TARGET_S:.1f} s: {'met' if result['meets_target'] else 'NOT met'}"
              f"  (load average {result['loadavg_1min']} on {result['cpus']} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
