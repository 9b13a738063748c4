#!/usr/bin/env python3
"""Peak memory of ``orbitlink encode`` and ``orbitlink loopback`` as the number of frames grows.

Issue 10 asks that both stream: memory flat in the number of frames (before: 40,000 frames of
``encode`` took 1.27 GB, a loopback over a whole pass 1.3 GB). Each command runs in a fresh
process; its peak resident set (``ru_maxrss`` of the child, from ``os.wait4``) and wall time
are reported. ``--exe`` runs another installation's ``orbitlink`` (e.g. a checkout of the
commit before, to quote before/after from the same sitting).

Usage::

    .venv/bin/python benchmarks/bench_memory.py [--frames 1000 40000] [--pass] [--exe PATH]
        [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TLE = HERE.parent / "tests" / "data" / "tle" / "iss_flock_2018.tle"


def run(cmd: list[str]) -> dict:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    dt = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({rc}): {err.strip()}")
    return {"peak_rss_mb": round(ru.ru_maxrss / 1024, 1), "seconds": round(dt, 2)}


def payload_file(path: Path, n: int, size: int = 64) -> None:
    rnd = __import__("random").Random(1)
    with open(path, "w") as fh:
        for _ in range(n):
            fh.write(bytes(rnd.getrandbits(8) for _ in range(size)).hex() + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, nargs="+", default=[1000, 10000, 40000])
    ap.add_argument("--link", default="qpsk")
    ap.add_argument("--exe", default=str(Path(sys.executable).with_name("orbitlink")),
                    help="the orbitlink command to measure")
    ap.add_argument("--pass", dest="whole_pass", action="store_true",
                    help="also a loopback over a whole pass (tests' ISS elements, 2.2 GHz)")
    ap.add_argument("--loopback", action="store_true", help="also loopbacks of --frames")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="orbitlink-mem-") as d:
        d = Path(d)
        for n in a.frames:
            pay = d / f"p{n}.txt"
            payload_file(pay, n)
            r = run([a.exe, "encode", "--link", a.link, "--in", str(pay), "--out",
                     str(d / "x.sigmf-meta")])
            rows.append({"command": "encode", "frames": n, **r})
            (d / "x.sigmf-data").unlink()
            if a.loopback:
                r = run([a.exe, "loopback", "--link", a.link, "--frames", str(n), "--json"])
                rows.append({"command": "loopback", "frames": n, **r})
        if a.whole_pass:
            # the acceptance pass of tests/test_pass.py: QPSK, CCSDS concatenated code, 2.2 GHz
            r = run([a.exe, "loopback", "--link", "ccsds-concat", "--set", "modulation=qpsk",
                     "--tle", str(TLE), "--station", "52.0,4.37,10", "--freq", "2.2e9",
                     "--start", "2018-05-16T01:00:00Z", "--min-el", "10", "--ebn0", "8",
                     "--json"])
            rows.append({"command": "loopback, whole pass (QPSK 2.2 GHz)", "frames": None,
                         **r})
    if a.json:
        for r in rows:
            print(json.dumps({**r, "exe": a.exe}))
    else:
        print(f"{a.exe}")
        for r in rows:
            fr = "" if r["frames"] is None else f"{r['frames']:>7d} frames"
            print(f"  {r['command']:<38} {fr:>14}  peak {r['peak_rss_mb']:8.1f} MB  "
                  f"{r['seconds']:7.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
