#!/usr/bin/env python3
"""Viterbi decoding throughput (CCSDS K=7, r=1/2) of orbitlink, beside libfec and gr-fec.

Workloads (the peers' ``viterbi27_*`` rows, same input files):

``frames``  5000 terminated frames of 2048 information bits + 6 tail bits, Eb/N0 5 dB.
            Ours: ``ConvCode.decode_terminated`` on the (5000, 4108) LLR array in one call
            (``batch``), and once per frame (``per-frame``, 5000 Python calls, as libfec's row
            makes 3 ctypes calls per frame).
``stream``  one 10 M-bit stream (last 6 bits zero), Eb/N0 5 dB. Ours: the streaming
            ``ViterbiDecoder`` (traceback 96, 256 bits per traceback) fed ``--chunk`` LLRs per
            ``process()`` call, then ``flush()`` (``streaming``); and ``decode_terminated`` of the
            whole stream in one call (``one block``: exact ML with all decisions kept, what
            libfec's stream row does with one update/chainback).

Metric: decoded information bits per wall second (median of ``--reps``, min-max shown), one
core: the script pins itself to ``--cpu`` (default 0) and runs the peers under ``taskset -c``.
Ours runs in this process after one warm-up call that loads numba's on-disk cache; block
construction is not timed (the peers do not time flowgraph or decoder construction either).

Input convention (``shared/peers/signals.py``): libfec's code order, G2 (133) symbol first
then G1 (171), no inversion (our variant ``'NASA-DSN uninverted'``, GNU Radio polys
``[109, 79]``); BPSK +-1 (bit 1 -> +1) plus AWGN; libfec and gr-fec ``dec_u8`` read the 8-bit
offset-binary form ``clip(round(128 + 48 * soft))``, gr-fec ``ext_f32``/``stream*`` and ours
read the float ``soft`` values (our decoder takes float LLRs of any scale; positive = 1).
Files are cached in ``$PEERBENCH_DATA`` (default /dev/shm/peerbench) under the peers' names,
so both sides decode the same bytes. Without ``shared/peers`` this script generates the same
files itself (a copy of the generator below: same seeds and operations; checked byte-identical
with the venv's numpy and Debian's).

Peers (``--with-peers``): ``vit_libfec.py --mode frames|stream`` (libfec 1.0, Karn's portable C:
the only decoder in Debian's amd64 build) and ``vit_grfec.py --mode dec_u8|ext_f32|stream2048``
(gr-fec ``cc_decoder``, VOLK's SSE ``spiral`` kernel; ``stream2048`` is CC_STREAMING with
2048-bit frames) under ``--gr-python``. Their JSON lines are parsed; BERs are reported.

Usage::

    .venv/bin/python benchmarks/bench_viterbi.py --with-peers        # ours + libfec + gr-fec
    .venv/bin/python benchmarks/bench_viterbi.py --reps 3 --json     # ours only, JSON on stdout

Exit status 1 when our BER check fails (frames: BER <= 2e-6, stream: BER <= 1e-6; libfec and
gr-fec measure 6.8e-7 and 0 on these inputs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_PEERS = os.path.normpath(os.path.join(REPO, "..", "shared", "peers"))
GR_PYTHON = "/usr/bin/python3"
DATA_DIR = os.environ.get("PEERBENCH_DATA", "/dev/shm/peerbench")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def summarize(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values), "values": values}


# ------------------------------------------------------------------------------------------------
# Input: a copy of shared/peers/signals.py (viterbi_frames, viterbi_stream) for when it is absent


def _data_path(name):
    os.makedirs(DATA_DIR, exist_ok=True)
    return os.path.join(DATA_DIR, name)


def _conv_encode(bits):
    import numpy as np
    ga = np.array([(0x6D >> j) & 1 for j in range(7)], dtype=np.int32)
    gb = np.array([(0x4F >> j) & 1 for j in range(7)], dtype=np.int32)
    b = bits.astype(np.int32)
    out = np.empty(2 * len(b), dtype=np.int8)
    out[0::2] = np.convolve(b, ga)[: len(b)] & 1
    out[1::2] = np.convolve(b, gb)[: len(b)] & 1
    return out


def _soft_channel(sym_bits, ebn0_db, rate, rng):
    import numpy as np
    esn0 = 10 ** (ebn0_db / 10) * rate
    sigma = np.sqrt(1 / (2 * esn0))
    return (2.0 * sym_bits - 1.0 + sigma * rng.standard_normal(len(sym_bits))).astype(np.float32)


def _to_u8(soft, scale=48.0):
    import numpy as np
    return np.clip(np.rint(128.0 + scale * soft), 0, 255).astype(np.uint8)


def _cached(tag, make):
    import numpy as np
    p = _data_path(tag + ".npz")
    if os.path.exists(p):
        z = np.load(p)
        return {k: z[k] for k in z.files}
    log(f"generating {tag} ...")
    d = make()
    np.savez(p, **d)
    return d


def viterbi_frames(nframes=5000, framebits=2048, ebn0_db=5.0, seed=5):
    import numpy as np

    def make():
        rng = np.random.default_rng(seed)
        bits = rng.integers(0, 2, (nframes, framebits), dtype=np.int8)
        full = np.concatenate([bits, np.zeros((nframes, 6), np.int8)], axis=1)
        syms = _conv_encode(full.ravel()).reshape(nframes, 2 * (framebits + 6))
        soft = _soft_channel(syms.ravel(), ebn0_db, 0.5, rng).reshape(syms.shape)
        return {"bits": bits, "soft": soft, "u8": _to_u8(soft)}
    return _cached(f"vit_frames_{nframes}x{framebits}_eb{ebn0_db}", make)


def viterbi_stream(nbits=10_000_000, ebn0_db=5.0, seed=6):
    import numpy as np

    def make():
        rng = np.random.default_rng(seed)
        bits = rng.integers(0, 2, nbits, dtype=np.int8)
        bits[-6:] = 0
        syms = _conv_encode(bits)
        soft = _soft_channel(syms, ebn0_db, 0.5, rng)
        return {"bits": bits, "soft": soft, "u8": _to_u8(soft)}
    return _cached(f"vit_stream_{nbits}_eb{ebn0_db}", make)


def signals_module(peers_dir):
    """The peers' signals.py if present (so both sides share its cache), else this copy."""
    if os.path.isfile(os.path.join(peers_dir, "signals.py")):
        if peers_dir not in sys.path:
            sys.path.insert(0, peers_dir)
        import signals  # noqa: E402
        return signals, "shared/peers/signals.py"
    return sys.modules[__name__], "benchmarks/bench_viterbi.py (copy of the peers' generator)"


# ------------------------------------------------------------------------------------------------
# ours


def time_reps(fn, reps):
    vals, out = [], None
    for i in range(reps):
        t0 = time.perf_counter()
        out, n = fn()
        dt = time.perf_counter() - t0
        vals.append(n / dt)
        log(f"  rep {i + 1}/{reps}: {n / dt / 1e6:.2f} Mbit/s")
    return vals, out


def bench_ours(args, sig):
    import numpy as np
    from orbitlink.modem.fec.conv import ConvCode, ViterbiDecoder, encode

    variant = "NASA-DSN uninverted"  # libfec's order: G2 then G1, no inversion
    code = ConvCode(variant)
    rows = []
    if "frames" in args.workload:
        d = sig.viterbi_frames(args.nframes, args.framebits)
        soft = np.ascontiguousarray(d["soft"], np.float32)
        bits = d["bits"]
        # the input is our code in that variant (the generator's own encoder, outside the timing)
        full = np.concatenate([bits[:3], np.zeros((3, 6), np.int8)], axis=1)
        assert np.array_equal(encode(bits[:3].astype(np.uint8), variant=variant),
                              _conv_encode(full.ravel()).reshape(3, -1))
        code.decode_terminated(soft[:2])  # warm-up (numba cache)
        ninfo = bits.size

        log("ours frames batch:")
        vals, out = time_reps(lambda: (code.decode_terminated(soft), ninfo), args.reps)
        rows.append(row("frames", "orbitlink decode_terminated, batch (1 call)", vals,
                        float(np.mean(out != bits)), ninfo))

        log("ours frames per-frame:")

        def per_frame():
            return [code.decode_terminated(soft[i]) for i in range(soft.shape[0])], ninfo
        vals, out = time_reps(per_frame, args.reps)
        rows.append(row("frames", "orbitlink decode_terminated, per frame (5000 calls)", vals,
                        float(np.mean(np.array(out) != bits)), ninfo))
    if "stream" in args.workload:
        d = sig.viterbi_stream(args.nbits)
        soft = np.ascontiguousarray(d["soft"], np.float32)
        bits = d["bits"]
        dec = ViterbiDecoder(variant=variant, traceback=args.traceback, block_bits=args.block_bits)
        dec.run(soft[:4096])  # warm-up
        chunk = args.chunk

        def streaming():
            dec.reset()
            parts = [dec.process(soft[i:i + chunk]) for i in range(0, len(soft), chunk)]
            parts.append(dec.flush())
            out = np.concatenate(parts)
            return out, len(out)
        log(f"ours stream, ViterbiDecoder, chunks of {chunk} LLRs:")
        vals, out = time_reps(streaming, args.reps)
        assert len(out) == len(bits)
        rows.append(row("stream", f"orbitlink ViterbiDecoder streaming (traceback {args.traceback},"
                        f" {args.block_bits} bits/traceback, {chunk}-LLR chunks)", vals,
                        float(np.mean(out != bits)), len(bits)))
        log("ours stream, one terminated block:")
        vals, out = time_reps(lambda: (code.decode_terminated(soft), len(bits) - 6), args.reps)
        rows.append(row("stream", "orbitlink decode_terminated, one block (exact ML)", vals,
                        float(np.mean(out != bits[:-6])), len(bits) - 6))
    return rows


def row(workload, impl, vals, ber, nbits, extra=None):
    r = {"workload": workload, "impl": impl, "unit": "info bits/s", **summarize(vals),
         "ber": ber, "bits": nbits}
    if extra:
        r.update(extra)
    return r


# ------------------------------------------------------------------------------------------------
# peers


PEER_RUNS = [
    ("frames", "vit_libfec.py", ["--mode", "frames"], "libfec 1.0 (Debian libfec0), ctypes, per frame"),
    ("frames", "vit_grfec.py", ["--mode", "dec_u8"], "gr-fec cc_decoder CC_TERMINATED, u8 in"),
    ("frames", "vit_grfec.py", ["--mode", "ext_f32"], "gr-fec extended_decoder CC_TERMINATED, f32 in"),
    ("stream", "vit_libfec.py", ["--mode", "stream"], "libfec 1.0, one block (update + chainback)"),
    ("stream", "vit_grfec.py", ["--mode", "stream2048"], "gr-fec cc_decoder CC_STREAMING frame 2048, f32 in"),
]


def bench_peers(args):
    rows = []
    for workload, script, extra, label in PEER_RUNS:
        if workload not in args.workload:
            continue
        cmd = [args.gr_python, script, *extra, "--reps", str(args.peer_reps or args.reps)]
        if workload == "frames":
            cmd += ["--nframes", str(args.nframes), "--framebits", str(args.framebits)]
        else:
            cmd += ["--nbits", str(args.nbits)]
        if args.cpu != "none":
            cmd = ["taskset", "-c", str(args.cpu), *cmd]
        log("peer:", " ".join(cmd))
        p = subprocess.run(cmd, cwd=args.peers_dir, capture_output=True, text=True,
                           env={**os.environ, "PEERBENCH_DATA": DATA_DIR})
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        if p.returncode != 0 or not lines:
            log(f"  failed ({p.returncode}): {p.stderr.strip()[-500:]}")
            continue
        j = json.loads(lines[-1])
        chk = j.get("check") or {}
        ber = chk.get("ber", chk.get("ber_second_half"))
        rows.append(row(workload, label, j["values"], ber,
                        chk.get("bits", chk.get("expected_bits")),
                        {"peer_cmd": j.get("cmd"), "peer_ratio_vs_ref": j.get("ratio_vs_ref")}))
        log(f"  median {j['median'] / 1e6:.2f} Mbit/s, check {chk}")
    return rows


# ------------------------------------------------------------------------------------------------


def versions():
    import numba
    import numpy
    out = {"python": platform.python_version(), "numpy": numpy.__version__,
           "numba": numba.__version__}
    try:
        sha = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--",
                                "modem/fec/conv.py", "modem/_kernels/viterbi.py"],
                               capture_output=True, text=True).stdout.strip()
        out["git"] = sha + (" +uncommitted" if dirty else "")
    except OSError:
        pass
    return out


def format_table(rows):
    ref = {}
    for r in rows:
        if r["impl"].startswith("libfec"):
            ref.setdefault((r["workload"], "libfec"), r["median"])
        if r["impl"].startswith("gr-fec cc_decoder"):
            ref.setdefault((r["workload"], "gr"), r["median"])
    out = ["| workload | implementation | Mbit/s median (min-max) | / libfec | / gr-fec | BER |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r["workload"], r["impl"],
                 f"{r['median'] / 1e6:.1f} ({r['min'] / 1e6:.1f}-{r['max'] / 1e6:.1f})"]
        for key in ("libfec", "gr"):
            v = ref.get((r["workload"], key))
            cells.append(f"{r['median'] / v:.2f}x" if v else "-")
        cells.append("n/a" if r["ber"] is None else f"{r['ber']:.2g}")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", action="append", choices=["frames", "stream"],
                    help="repeatable; default both")
    ap.add_argument("--reps", type=int, default=5, help="timed repetitions (default 5)")
    ap.add_argument("--peer-reps", type=int, default=None, help="peer repetitions (default --reps)")
    ap.add_argument("--nframes", type=int, default=5000)
    ap.add_argument("--framebits", type=int, default=2048)
    ap.add_argument("--nbits", type=int, default=10_000_000)
    ap.add_argument("--chunk", type=int, default=1 << 20, help="LLRs per process() call")
    ap.add_argument("--traceback", type=int, default=96)
    ap.add_argument("--block-bits", type=int, default=256)
    ap.add_argument("--with-peers", action="store_true", help="also run libfec and gr-fec")
    ap.add_argument("--peers-dir", default=DEFAULT_PEERS)
    ap.add_argument("--gr-python", default=GR_PYTHON, help="interpreter with GNU Radio")
    ap.add_argument("--cpu", default="0", help="pin to this CPU ('none' = leave affinity)")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args(argv)
    args.workload = args.workload or ["frames", "stream"]
    if args.cpu != "none":
        os.sched_setaffinity(0, {int(args.cpu)})
    sig, source = signals_module(args.peers_dir)
    rows = bench_ours(args, sig)
    if args.with_peers:
        if os.path.isfile(os.path.join(args.peers_dir, "vit_libfec.py")):
            rows += bench_peers(args)
        else:
            log(f"no peers in {args.peers_dir}; ours only")
    order = {"frames": 0, "stream": 1}
    rows.sort(key=lambda r: (order[r["workload"]], not r["impl"].startswith("orbitlink")))
    table = format_table(rows)
    ok = all(r["ber"] <= (2e-6 if r["workload"] == "frames" else 1e-6)
             for r in rows if r["impl"].startswith("orbitlink"))
    doc = {"bench": "viterbi27", "rows": rows, "input": source, "data_dir": DATA_DIR,
           "cpu": args.cpu, "versions": versions(), "ber_ok": ok,
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if args.json:
        print(json.dumps(doc))
        log(table)
    else:
        print(table)
        print(f"\ninput: {source}; {doc['versions']}; {doc['date']}; BER check "
              f"{'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
