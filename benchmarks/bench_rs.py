#!/usr/bin/env python3
"""Throughput of the orbitlink Reed-Solomon (255,223) codec, beside libfec in the same sitting.

Operations (the peers' ``rs_libfec.py`` names): ``encode``; ``decode0`` (valid codewords);
``decode16`` (16 random byte errors in every codeword, the correction limit). Basis ``dual``
(CCSDS on-air form; libfec ``encode_rs_ccsds``/``decode_rs_ccsds``) or ``conventional``
(``encode_rs_8``/``decode_rs_8``). Interleaving depth 1, no virtual fill.

Ours, two ways:

- ``batch``: one call over a (20000, 255) uint8 array, ``ReedSolomon.decode_many`` /
  ``encode_many`` (one numba kernel call; the input copy and the result arrays are timed);
- ``per call``: a Python loop calling ``ReedSolomon.decode(bytes)`` / ``encode(bytes)`` once
  per codeword (what a frame-at-a-time caller sees); the decode loop keeps each result's
  ``data`` and corrected count in preallocated lists, as the peer keeps libfec's return
  values in an array.

Peer (``--with-peer``): ``shared/peers/rs_libfec.py`` under the Debian interpreter
(``/usr/bin/python3``), ``--impl ctypes`` (one ctypes call per codeword from Python) and,
with ``--peer-impl ctypes,c``, ``--impl c`` (the same loop in C, the library's limit). It runs
right after ours for each operation, pinned to the same CPU.

Input: exactly the peer's: ``rng = default_rng(223)``, 20000 x 223 random data bytes, encoded;
for ``decode16`` then, per codeword, ``rng.choice(255, 16, replace=False)`` positions XORed with
``rng.integers(1, 256, 16)``. Metric: codewords per wall second, median over ``--reps``
repetitions (min-max given), after one untimed warm-up call that loads numba's cache.
Correctness is checked outside the timed region (decoded data == original, 16 corrections
per codeword, codewords equal to libfec's when libfec can be loaded through ctypes).

Usage::

    taskset -c 0 .venv/bin/python benchmarks/bench_rs.py --with-peer
    .venv/bin/python benchmarks/bench_rs.py --ops decode16 --reps 3 --json
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_PEERS = os.path.normpath(os.path.join(REPO, "..", "shared", "peers"))
OPS = ("decode0", "decode16", "encode")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def summarize(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values), "values": values}


def make_input(rs, n, op):
    """The peer's input (shared/peers/rs_libfec.py), made with our encoder."""
    rng = np.random.default_rng(223)
    data = rng.integers(0, 256, (n, 223), dtype=np.uint8)
    blocks = rs.encode_many(data)
    pristine = blocks.copy()
    if op == "decode16":
        for i in range(n):
            pos = rng.choice(255, 16, replace=False)
            blocks[i, pos] ^= rng.integers(1, 256, 16, dtype=np.uint8)
    return data, pristine, blocks


def libfec_check(basis, data, pristine, count=500):
    """Our codewords == libfec's for the first ``count`` codewords (None if no libfec)."""
    name = ctypes.util.find_library("fec")
    try:
        lib = ctypes.CDLL(name or "libfec.so.0")
    except OSError:
        return None
    enc = lib.encode_rs_ccsds if basis == "dual" else lib.encode_rs_8
    enc.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    enc.restype = None
    par = np.zeros(32, np.uint8)
    for i in range(min(count, len(data))):
        d = np.ascontiguousarray(data[i])
        enc(d.ctypes.data, par.ctypes.data, 0)
        if not np.array_equal(par, pristine[i, 223:]):
            return False
    return True


def bench_ours(op, basis, n, reps):
    from orbitlink.modem.fec.rs import ReedSolomon

    rs = ReedSolomon(e=16, basis=basis)
    data, pristine, blocks = make_input(rs, n, op)
    # warm-up: load the kernels from numba's cache
    rs.decode_many(blocks[:2])
    rs.encode_many(data[:2])
    rs.decode(blocks[0].tobytes())
    rs.encode(data[0].tobytes())
    rows = {}
    if op == "encode":
        items = [bytes(d) for d in data]

        def batch():
            return rs.encode_many(data)

        def single():
            return [rs.encode(d) for d in items]
    else:
        items = [bytes(b) for b in blocks]

        def batch():
            return rs.decode_many(blocks)

        def single():
            # keep what a frame-at-a-time caller keeps (data, count); holding 20000 RsResult
            # objects alive would only time the garbage collector's full passes
            datas = [b""] * n
            counts = [0] * n
            for i, b in enumerate(items):
                r = rs.decode(b)
                datas[i] = r.data
                counts[i] = r.total_corrected if r.ok else -1
            return datas, counts

    for name, fn in (("batch", batch), ("per call", single)):
        vals, cpu = [], []
        out = None
        for _ in range(reps):
            out = None
            c0 = time.process_time()
            t0 = time.perf_counter()
            out = fn()
            dt = time.perf_counter() - t0
            cpu.append(time.process_time() - c0)
            vals.append(n / dt)
        check = verify(op, out, data, pristine, name)
        rows[name] = {**summarize(vals), "cpu_s": cpu, "check": check}
        log(f"  ours {op} {name}: median {rows[name]['median'] / 1e3:.1f} k cw/s  check {check}")
    if op == "encode":
        rows["batch"]["check"]["equals_libfec"] = libfec_check(basis, data, pristine)
    return rows


def verify(op, out, data, pristine, name):
    if op == "encode":
        arr = out if name == "batch" else np.frombuffer(b"".join(out), np.uint8).reshape(
            len(out), -1)
        return {"output_equals_reference": bool(np.array_equal(arr, pristine))}
    if name == "batch":
        ok = bool(out.ok.all() and np.array_equal(out.data, data))
        corr = sorted(set(out.corrected.ravel().tolist()))
    else:
        datas, counts = out
        ok = min(counts) >= 0 and b"".join(datas) == data.tobytes()
        corr = sorted(set(counts))
    return {"output_equals_reference": ok, "corrected_per_cw": corr}


def bench_peer(op, basis, n, reps, impl, peers_dir, gr_python, cpu):
    script = os.path.join(peers_dir, "rs_libfec.py")
    cmd = [gr_python, script, "--basis", "dual" if basis == "dual" else "conv", "--op", op,
           "--impl", impl, "--reps", str(reps), "--n", str(n)]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        log(r.stderr[-2000:])
        raise SystemExit(f"peer failed: {' '.join(cmd)}")
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1]
    res = json.loads(line)
    log(f"  libfec {op} {impl}: median {res['median'] / 1e3:.1f} k cw/s  check {res.get('check')}")
    return {"median": res["median"], "min": res["min"], "max": res["max"], "n": res["n"],
            "values": res["values"], "check": res.get("check"),
            "cmd": " ".join(os.path.basename(c) if c == gr_python else c for c in cmd)}


def fmt(row):
    return f"{row['median'] / 1e3:.1f} ({row['min'] / 1e3:.1f}-{row['max'] / 1e3:.1f})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", default=",".join(OPS), help="comma-separated: " + ", ".join(OPS))
    ap.add_argument("--basis", default="dual", choices=["dual", "conventional"])
    ap.add_argument("--n", type=int, default=20000, help="codewords per repetition")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cpu", default="0", help="CPU to pin to, or 'none'")
    ap.add_argument("--with-peer", action="store_true", help="also run libfec (rs_libfec.py)")
    ap.add_argument("--peer-impl", default="ctypes,c", help="ctypes and/or c")
    ap.add_argument("--peers-dir", default=DEFAULT_PEERS)
    ap.add_argument("--gr-python", default="/usr/bin/python3")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args(argv)

    cpu = None if args.cpu == "none" else int(args.cpu)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    ops = [o for o in args.ops.split(",") if o]
    for o in ops:
        if o not in OPS:
            ap.error(f"unknown op {o!r}")
    impls = [i for i in args.peer_impl.split(",") if i]
    if args.with_peer and not os.path.exists(os.path.join(args.peers_dir, "rs_libfec.py")):
        ap.error(f"no rs_libfec.py in {args.peers_dir} (use --peers-dir)")

    import numba

    result = {"bench": "rs255_223", "basis": args.basis, "n_codewords": args.n,
              "reps": args.reps, "cpu": cpu, "unit": "codewords/s",
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "python": platform.python_version(), "numpy": np.__version__,
              "numba": numba.__version__, "machine": platform.processor() or platform.machine(),
              "ops": {}}
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        result["orbitlink_rev"] = rev
    except OSError:
        pass
    for op in ops:
        log(f"{op}:")
        entry = {"ours": bench_ours(op, args.basis, args.n, args.reps)}
        if args.with_peer:
            entry["libfec"] = {impl: bench_peer(op, args.basis, args.n, args.reps, impl,
                                                args.peers_dir, args.gr_python, cpu)
                               for impl in impls}
        result["ops"][op] = entry

    # table
    lines = ["| RS(255,223) " + args.basis + " | ours batch k cw/s | ours per call k cw/s |"
             + ("".join(f" libfec {i} k cw/s |" for i in impls) if args.with_peer else "")
             + (" batch / libfec ctypes | per call / libfec ctypes |"
                if args.with_peer and "ctypes" in impls else ""),
             "|---|---|---|" + ("---|" * len(impls) if args.with_peer else "")
             + ("---|---|" if args.with_peer and "ctypes" in impls else "")]
    for op, entry in result["ops"].items():
        o = entry["ours"]
        row = f"| {op} | {fmt(o['batch'])} | {fmt(o['per call'])} |"
        if args.with_peer:
            for impl in impls:
                row += f" {fmt(entry['libfec'][impl])} |"
            if "ctypes" in impls:
                ref = entry["libfec"]["ctypes"]["median"]
                row += (f" **{o['batch']['median'] / ref:.2f}x** |"
                        f" **{o['per call']['median'] / ref:.2f}x** |")
        lines.append(row)
    table = "\n".join(lines)
    if args.json:
        log(table)
        print(json.dumps(result))
    else:
        print(table)
    bad = [op for op, e in result["ops"].items()
           for r in e["ours"].values() if not r["check"]["output_equals_reference"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
