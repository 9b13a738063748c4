#!/usr/bin/env python3
"""Receive-side AX.25 framing rate: HDLC deframing from raw 9600 bd channel bits (G3RUH
descrambling + NRZI decoding + flag search, destuffing, FCS) and AX.25 parsing, frames/s on one
core.

Input: ``--frames`` random UI frames (APRS-like: 7-char callsigns, 0-2 digipeaters, 40-120 info
bytes; ``default_rng(25)``), each with ``--preamble`` flags, HDLC-framed, NRZI-encoded and
G3RUH-scrambled into one continuous bit stream, fed to :class:`HdlcDeframer` in chunks of
``--chunk`` bits. Stages timed separately, median of ``--reps`` (after an untimed warm-up that
loads numba's cache):

* ``deframe``: bits -> PDUs (the descrambler and flag search are numba kernels);
* ``parse``: ``ax25.parse`` of every PDU (construct, compiled format, addresses decoded);
* ``rx``: both, as a receiver runs them.

Also given: channel bit rate (Mbit/s) of the ``deframe``/``rx`` stages, i.e. how many 9600 bd
channels one core keeps up with. Correctness (every frame recovered with a good FCS and parsed
to the frame sent) is checked outside the timed region.

Usage::

    taskset -c 0 .venv/bin/python benchmarks/bench_framing_ax25.py
    .venv/bin/python benchmarks/bench_framing_ax25.py --frames 2000 --reps 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from orbitlink.framing import ax25
from orbitlink.framing.hdlc import HdlcDeframer, hdlc_frame


def make_frames(n: int, rng) -> list[bytes]:
    letters = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", np.uint8)

    def call():
        k = int(rng.integers(4, 7))
        return bytes(rng.choice(letters, k)).decode(), int(rng.integers(0, 16))

    out = []
    for _ in range(n):
        d, s = call(), call()
        digis = [ax25.Ax25Address(*call()) for _ in range(int(rng.integers(0, 3)))]
        info = rng.integers(0x20, 0x7F, int(rng.integers(40, 121)), dtype=np.uint8).tobytes()
        fr = ax25.Ax25Frame(ax25.Ax25Address(d[0], d[1], True), ax25.Ax25Address(s[0], s[1]),
                            tuple(digis), 0x03, 0xF0, info)
        out.append(ax25.build(fr))
    return out


def deframe(bits, chunk):
    d = HdlcDeframer(nrzi=True, g3ruh=True)
    pdus = []
    for i in range(0, len(bits), chunk):
        pdus += d.process(bits[i:i + chunk])
    return pdus + d.flush()


def rx(bits, chunk):
    d = HdlcDeframer(nrzi=True, g3ruh=True)
    parse = ax25.parse
    out = []
    for i in range(0, len(bits), chunk):
        for p in d.process(bits[i:i + chunk]):
            out.append(parse(p.data))
    return out


def timed(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = fn()
        ts.append(time.perf_counter() - t0)
    return r, statistics.median(ts), min(ts), max(ts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=5000)
    ap.add_argument("--preamble", type=int, default=4, help="flags before each frame")
    ap.add_argument("--chunk", type=int, default=65536, help="bits per process() call")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cpu", default="0", help="pin to this CPU ('none': do not pin)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.cpu != "none" and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {int(args.cpu)})
        except OSError:
            pass

    rng = np.random.default_rng(25)
    frames = make_frames(args.frames, rng)
    bits = hdlc_frame(frames, preamble_flags=args.preamble, nrzi=True, g3ruh=True)
    n = len(frames)

    deframe(bits[:20000], args.chunk)  # warm-up: numba cache
    pdus, t_d, *_ = timed(lambda: deframe(bits, args.chunk), args.reps)
    assert [p.data for p in pdus] == frames and all(p.meta["fcs_ok"] for p in pdus)
    parsed, t_p, *_ = timed(lambda: [ax25.parse(p.data) for p in pdus], args.reps)
    assert [ax25.build(f) for f in parsed] == frames
    _, t_rx, lo, hi = timed(lambda: rx(bits, args.chunk), args.reps)

    res = {
        "frames": n, "bits": int(len(bits)), "mean_frame_bytes": sum(map(len, frames)) / n,
        "deframe_frames_per_s": n / t_d, "deframe_mbit_per_s": len(bits) / t_d / 1e6,
        "parse_frames_per_s": n / t_p,
        "rx_frames_per_s": n / t_rx, "rx_frames_per_s_range": [n / hi, n / lo],
        "rx_mbit_per_s": len(bits) / t_rx / 1e6,
        "rx_9600bd_channels_per_core": len(bits) / t_rx / 9600,
    }
    if args.json:
        print(json.dumps(res, indent=1))
        return
    print(f"{n} UI frames, mean {res['mean_frame_bytes']:.0f} bytes, {len(bits)} channel bits "
          f"(G3RUH + NRZI), chunks of {args.chunk} bits, median of {args.reps}")
    print(f"  deframe (descramble, NRZI, HDLC, FCS): {res['deframe_frames_per_s']:10.0f} frames/s"
          f"  ({res['deframe_mbit_per_s']:.1f} Mbit/s)")
    print(f"  ax25.parse:                            {res['parse_frames_per_s']:10.0f} frames/s")
    print(f"  rx = deframe + parse:                  {res['rx_frames_per_s']:10.0f} frames/s"
          f"  ({res['rx_mbit_per_s']:.1f} Mbit/s, {res['rx_9600bd_channels_per_core']:.0f} "
          f"9600 bd channels per core)")


if __name__ == "__main__":
    main()
