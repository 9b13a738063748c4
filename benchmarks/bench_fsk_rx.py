#!/usr/bin/env python3
"""Throughput of the orbitlink FSK/GMSK receive chains, beside GNU Radio 3.10's equivalents.

Chains (ours), each driven with ``block.process(chunk)`` over chunks of ``--chunk`` samples
(default 2^18) of the cf32 input file, then ``flush()``; soft bits (float32) written to a file on
tmpfs:

* ``fsk``: ``FskDemodulator(symbol_rate=1, samp_rate=4, bt=0.35, bandwidth=-1)`` -- quadrature
  demodulator -> :class:`FskClockRecovery` (one-symbol boxcar from prefix sums, DC/amplitude
  tracking, Gardner timing). No channel filter, like the peer's chain.
* ``fsk-filter``: the same with its default channel filter (0.7 x symbol rate, 17 taps).
* ``coherent``: ``GmskCoherentDemodulator(symbol_rate=1, samp_rate=4, bt=0.35)``.

Peer (``--with-peer``): ``shared/peers/gr_fsk_rx.py --chain fsk`` (quadrature_demod_cf ->
4-tap boxcar -> symbol_sync_ff Gardner, 32-arm PFB) and ``--chain gmsk`` (stock
``digital.gmsk_demod``) under the Debian interpreter with GNU Radio, ``taskset -c <cpu>``, on
the same input file; their JSON lines are parsed.

Input: ``signals.gmsk_file(nsamp, 4, bt=0.35, esn0_db=30)`` of ``shared/peers`` (20 M complex64
samples, GMSK BT 0.35 with GNU Radio's pulse construction, carrier offset 5e-4 cycles/sample;
cached in ``$PEERBENCH_DATA``, default /dev/shm/peerbench). Without ``shared/peers`` the same
generator (a copy below, same seed) writes it.

Metric: input samples / wall seconds from the first chunk read to the last soft bit written
(block construction not counted), median over ``--reps`` runs after one warm-up run that loads
numba's cache; the process is pinned to ``--cpu`` (default 0). Correctness (outside the timed
region): BER of the hard decisions of the last run against the transmitted bits with
``signals.bit_ber`` (second half, best alignment), as the peer checks its output.

Usage::

    taskset -c 0 .venv/bin/python benchmarks/bench_fsk_rx.py --with-peer
    .venv/bin/python benchmarks/bench_fsk_rx.py --chains fsk --reps 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_PEERS = os.path.normpath(os.path.join(REPO, "..", "shared", "peers"))
GR_PYTHON = "/usr/bin/python3"
DATA_DIR = os.environ.get("PEERBENCH_DATA", "/dev/shm/peerbench")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def summarize(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


# ------------------------------------------------------------------------------------------------
# input


def _local_gmsk_file(nsamp, sps=4, bt=0.35, esn0_db=30.0, fo=0.0005, seed=77):
    """Copy of shared/peers/signals.py gmsk_file() (same seed, same file name and bytes)."""
    from scipy.signal import upfirdn

    os.makedirs(DATA_DIR, exist_ok=True)
    tag = f"gmsk_n{nsamp}_sps{sps}_bt{bt}_es{esn0_db}_fo{fo}"
    p, pb = os.path.join(DATA_DIR, tag + ".cf32"), os.path.join(DATA_DIR, tag + "_bits.npy")
    if os.path.exists(p) and os.path.exists(pb):
        return p, pb
    rng = np.random.default_rng(seed)
    nbits = nsamp // sps + 8
    bits = rng.integers(0, 2, nbits, dtype=np.int8)
    ntaps = 4 * sps
    s = 1.0 / (np.sqrt(np.log(2.0)) / (2 * np.pi * bt))
    t0 = -0.5 * ntaps
    g = np.array([np.exp(-((s * (t0 + i) / sps) ** 2) / 2.0) for i in range(ntaps)])
    g /= g.sum()
    taps = np.convolve(g, np.ones(sps))
    f = upfirdn(taps, 2.0 * bits - 1.0, up=sps)[:nsamp]
    x = np.exp(1j * np.cumsum(f) * (np.pi / 2) / sps)
    n0 = sps / 10 ** (esn0_db / 10)
    out = np.empty(nsamp, np.complex64)
    for a in range(0, nsamp, 1 << 22):
        e = min(nsamp, a + (1 << 22))
        noise = np.sqrt(n0 / 2) * (rng.standard_normal(e - a) + 1j * rng.standard_normal(e - a))
        rot = np.exp(1j * (2 * np.pi * fo * np.arange(a, e, dtype=np.float64) + 0.7))
        out[a:e] = (0.5 * (x[a:e] + noise) * rot).astype(np.complex64)
    out.tofile(p + ".tmp")
    os.replace(p + ".tmp", p)
    np.save(pb, bits)
    return p, pb


def input_files(args):
    if os.path.isfile(os.path.join(args.peers_dir, "signals.py")):
        sys.path.insert(0, args.peers_dir)
        import signals  # noqa: E402

        return signals.gmsk_file(args.nsamp, 4, esn0_db=30.0), signals.bit_ber
    return _local_gmsk_file(args.nsamp), None


def bit_ber_local(rx, tx):
    """BER of the second half at the best alignment (either polarity), like signals.bit_ber."""
    half = len(rx) // 2
    a = rx[half:half + 200_000].astype(np.int8)
    best = (1.0, 0)
    for off in range(-16, 17):
        b = tx[half + off: half + off + len(a)]
        m = min(len(a), len(b))
        e = float(np.mean(a[:m] != b[:m]))
        best = min(best, (min(e, 1 - e), off))
    return best


# ------------------------------------------------------------------------------------------------
# our chains


def make_chain(name):
    from orbitlink.modem.fsk import FskDemodulator, GmskCoherentDemodulator

    if name == "fsk":
        return FskDemodulator(symbol_rate=1.0, samp_rate=4.0, bt=0.35, bandwidth=-1.0)
    if name == "fsk-filter":
        return FskDemodulator(symbol_rate=1.0, samp_rate=4.0, bt=0.35)
    if name == "coherent":
        return GmskCoherentDemodulator(symbol_rate=1.0, samp_rate=4.0, bt=0.35)
    raise ValueError(name)


def run_once(name, inp, outp, chunk):
    blk = make_chain(name)
    x = np.memmap(inp, np.complex64, mode="r")
    t0 = time.perf_counter()
    with open(outp, "wb") as f:
        for i in range(0, len(x), chunk):
            f.write(blk.process(np.asarray(x[i:i + chunk])).tobytes())
        f.write(blk.flush().tobytes())
    dt = time.perf_counter() - t0
    return len(x) / dt, dt


def bench_ours(name, inp, bitp, bit_ber, args):
    outp = os.path.join(DATA_DIR, f"out_ol_{name}_{os.getpid()}.f32")
    try:
        blk = make_chain(name)  # warm-up: numba cache, first-call overheads
        blk.process(np.fromfile(inp, np.complex64, count=1 << 16))
        rates = []
        for r in range(args.reps):
            rate, dt = run_once(name, inp, outp, args.chunk)
            rates.append(rate)
            log(f"  {name} rep {r + 1}/{args.reps}: {rate / 1e6:.1f} Msps ({dt:.2f} s)")
        rx = (np.fromfile(outp, np.float32) > 0).astype(np.uint8)
        tx = np.load(bitp)
        ber, off = (bit_ber or bit_ber_local)(rx, tx)
    finally:
        if os.path.exists(outp):
            os.remove(outp)
    return {"chain": name, "impl": "orbitlink", "unit": "input samples/s", **summarize(rates),
            "values": rates, "check": {"ber_second_half": ber, "offset": int(off),
                                       "out_bits": int(len(rx))}}


def bench_peer(chain, args):
    cmd = ["taskset", "-c", str(args.cpu), GR_PYTHON, "gr_fsk_rx.py", "--chain", chain,
           "--reps", str(args.peer_reps), "--nsamp", str(args.nsamp)]
    log("  peer:", " ".join(cmd))
    r = subprocess.run(cmd, cwd=args.peers_dir, capture_output=True, text=True)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode or not lines:
        return {"chain": f"gr-{chain}", "error": (r.stderr or r.stdout)[-400:]}
    d = json.loads(lines[-1])
    return {"chain": f"gr-{chain}", "impl": d.get("peer"), "unit": d.get("unit"),
            "median": d["median"], "min": d["min"], "max": d["max"], "n": d["n"],
            "values": d["values"], "check": d.get("check"), "cmd": " ".join(cmd)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chains", default="fsk,fsk-filter,coherent")
    ap.add_argument("--nsamp", type=int, default=20_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=1 << 18)
    ap.add_argument("--cpu", type=int, default=0)
    ap.add_argument("--with-peer", action="store_true")
    ap.add_argument("--peer-chains", default="fsk,gmsk")
    ap.add_argument("--peer-reps", type=int, default=3)
    ap.add_argument("--peers-dir", default=DEFAULT_PEERS)
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args(argv)
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    os.makedirs(DATA_DIR, exist_ok=True)
    (inp, bitp), bit_ber = input_files(args)
    log(f"input {inp}")
    results = [bench_ours(c, inp, bitp, bit_ber, args) for c in args.chains.split(",") if c]
    if args.with_peer:
        if os.path.exists(GR_PYTHON) and os.path.isfile(os.path.join(args.peers_dir,
                                                                      "gr_fsk_rx.py")):
            results += [bench_peer(c, args) for c in args.peer_chains.split(",") if c]
        else:
            log("peer not available (GNU Radio python or shared/peers missing)")
    doc = {"bench": "fsk_rx", "input": os.path.basename(inp), "nsamp": args.nsamp,
           "cpu": args.cpu, "chunk": args.chunk, "results": results}
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        for r in results:
            if "error" in r:
                print(f"{r['chain']:12s} error: {r['error']}")
                continue
            print(f"{r['chain']:12s} {r['median'] / 1e6:7.1f} Msps (min {r['min'] / 1e6:.1f}, "
                  f"max {r['max'] / 1e6:.1f})  check {r.get('check')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
