#!/usr/bin/env python3
"""Receive throughput of the SoapySDR driver's read loop, through the real library and the
test-only device module ``orbitfake`` (unpaced: ``rate=max``, a tone copied from a table), on
one core.

Two loops over the same device, same read size:

- ``driver``: ``SoapyRadio.read(buf)`` — what the live runner's reader thread runs: buffer
  check, ``readStream``, a non-blocking ``readStreamStatus`` poll (LimeSDR drops), timestamp
  continuity (GapTracker) and the counters;
- ``binding``: ``dev.readStream(stream, [buf], n)`` of the bare SWIG binding, the loop
  LIVE-STATION.md B.3 measured (114.6 Msps with 4096-sample reads), for reference.

Metric: complex64 samples delivered / wall seconds, median of ``--reps`` runs of ``--seconds``
each, after a warm-up run. The target of issue 11 is at least 20 Msps for the driver loop with
4096-sample reads.

Usage::

    taskset -c 0 .venv/bin/python benchmarks/bench_soapy_rx.py            # table
    .venv/bin/python benchmarks/bench_soapy_rx.py --reads 4096 --json    # pins itself to CPU 0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np


def run_driver(radio, n: int, seconds: float) -> float:
    buf = np.empty(n, np.complex64)
    read = radio.read
    got = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        for _ in range(64):
            got += read(buf, 0.1).n
        t = time.perf_counter()
        if t >= end:
            return got / (t - t0)


def run_binding(dev, stream, n: int, seconds: float) -> float:
    buf = np.empty(n, np.complex64)
    bufs = [buf]
    read = dev.readStream
    got = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        for _ in range(64):
            got += read(stream, bufs, n).ret
        t = time.perf_counter()
        if t >= end:
            return got / (t - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reads", type=int, action="append",
                    help="samples per read (repeatable; default 1024 4096 16384 65536)")
    ap.add_argument("--seconds", type=float, default=1.0, help="per run (default 1)")
    ap.add_argument("--reps", type=int, default=5, help="runs per loop (median; default 5)")
    ap.add_argument("--cpu", default="0", help="pin to this CPU ('none': do not)")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    a = ap.parse_args(argv)
    if a.cpu != "none" and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(a.cpu)})

    from orbitlink.drivers.radio import RadioConfig
    from orbitlink.drivers.soapy import SoapyRadio, binding
    from orbitlink.tests import soapy_fake

    why = soapy_fake.binding_problem() or soapy_fake.build_problem()
    if why:
        print(f"bench_soapy_rx: {why}", file=sys.stderr)
        return 2
    soapy_fake.load()
    sizes = a.reads or [1024, 4096, 16384, 65536]
    rows = []
    for n in sizes:
        mtu = max(n, 4096)
        # the driver's loop
        radio = SoapyRadio(driver="orbitfake", serial=f"bench-driver-{n}", rate="max",
                           mtu=str(mtu))
        radio.open()
        radio.configure(RadioConfig(samp_rate=61.44e6))
        radio.start()
        run_driver(radio, n, 0.2)
        drv = [run_driver(radio, n, a.seconds) for _ in range(a.reps)]
        c = radio.counters
        lost = c.overflows + c.dropped_samples + c.timeouts + c.stream_errors
        radio.close()
        # the bare binding
        S = binding()
        dev = S.Device({"driver": "orbitfake", "serial": f"bench-binding-{n}", "rate": "max",
                        "mtu": str(mtu)})
        dev.setSampleRate(S.SOAPY_SDR_RX, 0, 61.44e6)
        st = dev.setupStream(S.SOAPY_SDR_RX, S.SOAPY_SDR_CF32, [0])
        dev.activateStream(st)
        run_binding(dev, st, n, 0.2)
        raw = [run_binding(dev, st, n, a.seconds) for _ in range(a.reps)]
        dev.deactivateStream(st)
        dev.closeStream(st)
        dev.close()
        rows.append({"read": n, "driver_msps": statistics.median(drv) / 1e6,
                     "binding_msps": statistics.median(raw) / 1e6,
                     "driver_runs_msps": [x / 1e6 for x in drv],
                     "binding_runs_msps": [x / 1e6 for x in raw], "driver_losses": lost})
    doc = {"benchmark": "soapy_rx", "device": "orbitfake rate=max (tone)", "format": "CF32",
           "cpu": a.cpu, "seconds": a.seconds, "reps": a.reps, "python": platform.python_version(),
           "numpy": np.__version__, "machine": platform.machine(), "rows": rows,
           "target_msps": 20.0}
    for r in rows:  # time per read call, in microseconds
        r["driver_us_per_read"] = r["read"] / r["driver_msps"]
        r["binding_us_per_read"] = r["read"] / r["binding_msps"]
    table = ["read   driver Msps   binding Msps   driver us/read   binding us/read",
             *(f"{r['read']:>5}   {r['driver_msps']:>11.1f}   {r['binding_msps']:>12.1f}   "
               f"{r['driver_us_per_read']:>14.2f}   {r['binding_us_per_read']:>15.2f}"
               for r in rows)]
    print("\n".join(table), file=sys.stderr if a.json else sys.stdout)
    if a.json:
        print(json.dumps(doc, indent=1))
    bad = [r for r in rows if r["read"] == 4096 and r["driver_msps"] < 20.0]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
