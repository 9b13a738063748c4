#!/usr/bin/env python3
"""Per-stage profile of the orbitlink PSK receive chain (the chain of ``bench_psk_rx.py``).

Runs the chain over the benchmark input (20 M samples, chunks of 2^18, pinned to one CPU) with a
timer around every stage, and with the numba kernels of ``orbitlink.modem._kernels.psk``
wrapped by a timer (the block wrappers look the kernels up as module attributes at call time,
so the wrapper sees every call). For each stage it prints the wall time and the rate in input
samples/s (20 M / stage seconds: the rate the chain would reach if that stage were all there
was), split into the numba kernel and the Python/numpy glue of the block wrapper (the
difference). It then times the glue operations of the wrappers one by one at the sizes they run
at (history concatenation and astype copies of SymbolSync, structured-array packing, the
demapper's field extraction and complex128 copy, output allocation).

Times are CPU time of the thread (``--clock cpu``, the default: other processes on the same
core do not inflate them) or wall time (``--clock wall``). The timer adds ~1 us per call (about 80 chunks x 6 calls): negligible. The sum of the stages
is compared with an untimed run of the same loop.

Usage::

    taskset -c 0 .venv/bin/python benchmarks/profile_psk_rx.py [--order 2|4] [--reps 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import bench_psk_rx as B  # noqa: E402


CLOCK = time.thread_time  # CPU time of this thread: robust against other load on the core


def wrap_kernels(K, acc):
    names = ["agc", "fll", "symsync", "demap_running"]
    orig = {n: getattr(K, n) for n in names}

    def make(n, f):
        def timed(*a):
            t0 = CLOCK()
            r = f(*a)
            acc[n] += CLOCK() - t0
            return r
        return timed

    for n in names:
        setattr(K, n, make(n, orig[n]))
    return orig


def staged_run(inp, outp, order, chunk, acc):
    """The loop of PskDemodulator._process + SoftDemapper, with a timer around every stage."""
    pc = CLOCK
    dem, dmap = B.make_chain(order)
    t_all = pc()
    with open(inp, "rb", buffering=0) as f, open(outp, "wb") as g:
        while True:
            t0 = pc()
            buf = np.empty(chunk, np.complex64)
            nb = f.readinto(buf)
            t1 = pc()
            acc["read"] += t1 - t0
            if not nb:
                break
            x = buf[: nb // 8]
            y = dem.agc.process(x)
            t2 = pc()
            acc["agc_block"] += t2 - t1
            y = dem.fll.process(y)
            w = dem.fll.last_freq
            t3 = pc()
            acc["fll_block"] += t3 - t2
            s = dem.sync._process(y, w) if len(y) else np.zeros(0, B_SYM())
            t4 = pc()
            acc["symsync_block"] += t4 - t3
            llr = dmap.process(s)
            t5 = pc()
            acc["demap_block"] += t5 - t4
            g.write(llr)
            acc["write"] += pc() - t5
        g.write(dmap.process(dem.flush()))
    acc["total"] += pc() - t_all


def B_SYM():
    from orbitlink.modem.block import SYM_DTYPE
    return SYM_DTYPE


def glue_micro(order, chunk, reps=20):
    """Time the wrapper operations one by one at the sizes they run at (seconds per chunk)."""
    from orbitlink.modem.block import SYM_DTYPE
    rng = np.random.default_rng(0)
    n = chunk
    nsym = n // 4
    x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
    hist = np.zeros(98, np.float32)
    w = np.zeros(n, np.float32)
    z = x[:nsym].copy()
    t = np.arange(nsym, dtype=np.float64)
    f = np.zeros(nsym, np.float32)
    rec = np.zeros(nsym, SYM_DTYPE)
    rec["z"] = z

    def pack():
        out = np.empty(nsym, SYM_DTYPE)
        out["z"], out["t"], out["f"] = z, t, f
        return out

    ops = {
        "symsync: concat(hist, x.real.astype(f32)) + same for imag": lambda: (
            np.concatenate([hist, x.real.astype(np.float32)]),
            np.concatenate([hist, x.imag.astype(np.float32)])),
        "symsync: concat(hist, w)": lambda: np.concatenate([hist, w]),
        "symsync: 3 x np.empty outputs (nmax)": lambda: (
            np.empty(nsym + 400, np.complex64), np.empty(nsym + 400, np.float64),
            np.empty(nsym + 400, np.float32)),
        "symsync: structured packing (z, t, f)": pack,
        "demap: rec['z'].astype(complex128)": lambda: rec["z"].astype(np.complex128),
        "agc/fll: np.empty outputs": lambda: (np.empty(n, np.complex64), np.empty(n, np.complex64),
                                             np.empty(n, np.float32)),
    }
    res = {}
    for k, fn in ops.items():
        fn()
        best = 1e9
        for _ in range(reps):
            t0 = CLOCK()
            fn()
            best = min(best, CLOCK() - t0)
        res[k] = best
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--order", type=int, action="append", choices=[2, 4])
    ap.add_argument("--reps", type=int, default=3, help="staged runs (the fastest is reported)")
    ap.add_argument("--nsamp", type=int, default=20_000_000)
    ap.add_argument("--chunk", type=int, default=1 << 18)
    ap.add_argument("--peers-dir", default=B.DEFAULT_PEERS)
    ap.add_argument("--cpu", default="0")
    ap.add_argument("--clock", default="cpu", choices=["cpu", "wall"])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.thread_time if args.clock == "cpu" else time.perf_counter
    if args.cpu != "none":
        os.sched_setaffinity(0, {int(args.cpu)})
    from orbitlink.modem._kernels import psk as K
    report = {}
    for order in args.order or [2, 4]:
        a = argparse.Namespace(**vars(args))
        a.order = order
        inp, _, _, _ = B.input_files(a)
        nsamp = os.path.getsize(inp) // 8
        outp = os.path.join(os.path.dirname(inp), f"out_orbitlink_prof{order}_{os.getpid()}.f32")
        try:
            B.run_chain(inp, outp, order, args.chunk, limit=4 * args.chunk)  # warm-up
            plain = 1e9
            for _ in range(args.reps):
                dt, _ = B.run_chain(inp, outp, order, args.chunk)
                plain = min(plain, B.run_chain.cpu_s if args.clock == "cpu" else dt)
            best = None
            orig = None
            for _ in range(args.reps):
                acc = defaultdict(float)
                orig = wrap_kernels(K, acc)
                try:
                    staged_run(inp, outp, order, args.chunk, acc)
                finally:
                    for k, v in orig.items():
                        setattr(K, k, v)
                if best is None or acc["total"] < best["total"]:
                    best = dict(acc)
        finally:
            if os.path.exists(outp):
                os.remove(outp)
        rows = []
        for stage, kern in [("read", None), ("agc_block", "agc"), ("fll_block", "fll"),
                            ("symsync_block", "symsync"), ("demap_block", "demap_running"),
                            ("write", None)]:
            tot = best[stage]
            k = best.get(kern, 0.0) if kern else 0.0
            rows.append({"stage": stage.replace("_block", ""), "s": tot,
                         "msps": nsamp / tot / 1e6, "kernel_s": k,
                         "kernel_msps": nsamp / k / 1e6 if k else None,
                         "glue_s": tot - k if kern else None, "share": tot / best["total"]})
        micro = glue_micro(order, args.chunk)
        nchunks = -(-nsamp // args.chunk)
        report[B.MODS[order]] = {"total_s": best["total"], "total_msps": nsamp / best["total"] / 1e6,
                                 "untimed_run_s": plain, "untimed_msps": nsamp / plain / 1e6,
                                 "stages": rows,
                                 "glue_micro_s_per_run": {k: v * nchunks for k, v in micro.items()}}
        if not args.json:
            r = report[B.MODS[order]]
            print(f"\n{B.MODS[order]}: total {r['total_s']:.3f} s = {r['total_msps']:.2f} Msps "
                  f"(untimed loop {plain:.3f} s = {r['untimed_msps']:.2f} Msps), {nsamp} samples, "
                  f"chunk {args.chunk}, {args.clock} time")
            print(f"{'stage':10s} {'s':>7s} {'Msps':>8s} {'share':>6s} {'kernel s':>9s} "
                  f"{'kern Msps':>9s} {'glue s':>7s}")
            for x in rows:
                print(f"{x['stage']:10s} {x['s']:7.3f} {x['msps']:8.1f} {100 * x['share']:5.1f}% "
                      + (f"{x['kernel_s']:9.3f} {x['kernel_msps']:9.1f} {x['glue_s']:7.3f}"
                         if x["kernel_msps"] else ""))
            print(f"glue operations, isolated, seconds per run of {nsamp} samples:")
            for k, v in r["glue_micro_s_per_run"].items():
                print(f"  {v:7.4f}  {k}")
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
