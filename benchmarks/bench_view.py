#!/usr/bin/env python3
"""The live view's refresh and latency, measured in a real browser (issue 15), and what the
view's taps cost the receiver.

1. ``orbitlink rx --view PORT`` replays BY70-1 (BPSK 9600, CCSDS concatenated, 12.7 s of receiver
   audio) at real time in a loop for ``--seconds`` s; Debian's chromium (playwright, as in
   ``tests/test_view_browser.py``) shows the page. Measured in the page: spectrum rows a second
   as the websocket delivers them (steady state, after the first 2 s), and the time from each
   frame's bus header (the wall clock when rx published it) to its arrival in the page; from
   rx's stats: the latency from the frame's last sample leaving the radio to the bus. Their
   sum is the sample-to-screen latency. CPU of the view process over the run.
2. The cost of the taps: rx decoding the same recording unpaced (``rate=max``, looped to
   ``--seconds`` s of signal) with ``--monitor 10`` and with ``--monitor 0``, wall time and CPU,
   pinned to one core (``taskset -c 0``) when taskset exists.

    .venv/bin/python benchmarks/bench_view.py [--seconds 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
REC = REPO / "tests" / "data" / "recordings" / "by701.wav"


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tck


def browser_run(seconds: float) -> dict:
    from orbitlink.tests import browser as B
    from orbitlink.tests.helpers import BusSub, RxProcess, free_port, loopback_endpoint

    port, bus = free_port(), loopback_endpoint()
    sub = BusSub(bus)
    p = RxProcess(["--link", "ccsds-concat-diff", "--hw", "loopback", "--device",
                   f"file={REC},loop=1", "--duration", str(seconds), "--station", "by70",
                   "--bus", bus, "--view", str(port), "--control-endpoint", "none",
                   "--tx-endpoint", "none"])
    try:
        with B.Browser() as br:
            B.wait_port(port)
            view_pid = int(subprocess.run(["pgrep", "-f", f"flowgraphs.view.*--port {port}"],
                                          capture_output=True, text=True).stdout.split()[0])
            cpu0, t0 = _proc_cpu(view_pid), time.monotonic()
            page = br.page()
            page.goto(f"http://127.0.0.1:{port}/")
            t_load = time.time()
            page.wait_for_function("window.orbitlinkView && window.orbitlinkView.rows >= 40",
                                   timeout=10_000)
            t40 = time.time() - t_load
            msgs = sub.read_until_stop(seconds + 60, proc=p)
            cpu1, t1 = _proc_cpu(view_pid), time.monotonic()
            seen = page.evaluate(B.READ_PAGE)
        out, err = p.communicate(timeout=30)
    finally:
        sub.close()
        p.stop()
    rt = [t for t in seen["row_times"] if t >= (t_load + 2) * 1e3]
    rate = (len(rt) - 1) / ((rt[-1] - rt[0]) / 1e3)
    gaps = [b - a for a, b in zip(rt, rt[1:])]
    frames = {m[2]: m for m in msgs if m[1] == 1}
    lat = sorted(seen["arrivals"][str(q)] - m[4] * 1e3 for q, m in frames.items()
                 if str(q) in seen["arrivals"])
    stats = [m[5] for m in msgs if m[1] == 2]
    bus_lat = [s["latency"]["mean_ms"] for s in stats
               if s.get("latency", {}).get("mean_ms") is not None]
    run_max = max((s["latency"]["run_max_ms"] for s in stats), default=None)
    return {
        "seconds": seconds, "rows_40_after_load_s": round(t40, 3),
        "rows_per_s_in_browser": round(rate, 2),
        "row_interval_ms": {"median": round(statistics.median(gaps), 1),
                            "p95": round(sorted(gaps)[int(0.95 * (len(gaps) - 1))], 1),
                            "max": round(max(gaps), 1)},
        "frames_on_bus": len(frames), "frames_timed_in_page": len(lat),
        "bus_to_page_ms": {"median": round(statistics.median(lat), 2),
                           "p95": round(lat[int(0.95 * (len(lat) - 1))], 2),
                           "max": round(lat[-1], 2)},
        "sample_to_bus_ms": {"mean_of_interval_means": round(statistics.mean(bus_lat), 2),
                             "run_max": run_max},
        "view_cpu_pct": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
        "rx_exit": p.returncode,
    }


def tap_cost(seconds: float) -> dict:
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    out = {}
    for mon in ("10", "0"):
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            r = subprocess.run(pin + [sys.executable, "-m", "orbitlink.flowgraphs.cli", "rx",
                                      "--link", "ccsds-concat-diff", "--hw", "loopback",
                                      "--device", f"file={REC},rate=max,loop=1", "--duration",
                                      str(seconds), "--monitor", mon, "--control-endpoint",
                                      "none", "--tx-endpoint", "none", "--bus",
                                      "tcp://127.0.0.1:*"],
                               capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if r.returncode != 0:
                raise SystemExit(r.stderr)
            runs.append(wall)
        out[f"monitor_{mon}"] = {"wall_s": [round(x, 3) for x in runs],
                                 "best_s": round(min(runs), 3)}
    out["overhead_pct"] = round(100 * (out["monitor_10"]["best_s"] / out["monitor_0"]["best_s"]
                                       - 1), 1)
    out["pinned"] = bool(pin)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0,
                    help="seconds of signal for each run (default 30)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args(argv)
    res = {"browser": browser_run(a.seconds), "taps": tap_cost(a.seconds)}
    if a.json:
        print(json.dumps(res, indent=1))
        return 0
    b, t = res["browser"], res["taps"]
    print(f"view in chromium, rx replaying BY70-1 at real time for {b['seconds']:g} s:")
    print(f"  40 rows {b['rows_40_after_load_s']} s after the page loaded; "
          f"{b['rows_per_s_in_browser']} rows/s in the browser (interval median "
          f"{b['row_interval_ms']['median']} ms, p95 {b['row_interval_ms']['p95']} ms)")
    print(f"  frames: {b['frames_timed_in_page']} of {b['frames_on_bus']}; bus -> page "
          f"median {b['bus_to_page_ms']['median']} ms, p95 {b['bus_to_page_ms']['p95']} ms, "
          f"max {b['bus_to_page_ms']['max']} ms; sample -> bus mean "
          f"{b['sample_to_bus_ms']['mean_of_interval_means']} ms (run max "
          f"{b['sample_to_bus_ms']['run_max']} ms)")
    print(f"  view process CPU {b['view_cpu_pct']} % of a core")
    print(f"taps (spectrum + symbols) on rx unpaced, {a.seconds:g} s of signal, "
          f"{'one core' if t['pinned'] else 'unpinned'}: with {t['monitor_10']['best_s']} s, "
          f"without {t['monitor_0']['best_s']} s (best of 3): {t['overhead_pct']} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
