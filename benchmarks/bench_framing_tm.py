"""TM frame parsing and Space Packet extraction rate, one core.

1115-octet TM Transfer Frames (CCSDS 132.0-B-3, FECF on) carrying Space Packets of random sizes
(``--min``..``--max`` octets, so several per frame and some spanning frames) go through

- ``TmFrameDemux`` (FECF check, header, first header pointer, packet extraction across frames):
  the receive path, frames/s and Mbit/s of frames;
- ``ccsds_tm.parse`` (the full construct declaration, FECF checked): frames/s;
- the 6-octet primary header alone: construct ``BitStruct`` parse, the same compiled with
  ``.compile()``, and ``struct``: headers/s.

Usage: ``python benchmarks/bench_framing_tm.py [--frames 5000] [--min 20] [--max 600]``
"""

from __future__ import annotations

import argparse
import struct
import time

import numpy as np

from orbitlink.framing import ccsds_tm as tm
from orbitlink.framing import space_packet as sp
from orbitlink.modem.block import Pdu


def _best(fn, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=5000)
    ap.add_argument("--min", type=int, default=20, help="smallest packet data field, octets")
    ap.add_argument("--max", type=int, default=600, help="largest packet data field, octets")
    ap.add_argument("--frame-len", type=int, default=1115)
    a = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    dlen = tm.data_field_length(a.frame_len)
    pkts, total = [], 0
    while total < a.frames * dlen:
        n = int(rng.integers(a.min, a.max + 1))
        pkts.append(sp.build(int(rng.integers(0, 0x7FF)), rng.bytes(n), sequence_count=len(pkts)))
        total += len(pkts[-1])
    frames = sp.packets_to_frames(pkts, a.frame_len, scid=42, vcid=1)
    pdus = [Pdu(f, {"sample_index": i}) for i, f in enumerate(frames)]
    nf = len(frames)

    demux = tm.TmFrameDemux(frame_len=a.frame_len, fecf=True)
    out = demux.run(pdus)
    assert [p.data for p in out] == pkts, "benchmark input did not round-trip"

    def run_demux():
        demux.reset()
        demux.run(pdus)

    t_demux = _best(run_demux)
    sub = frames[: min(nf, 1000)]
    t_parse = _best(lambda: [tm.parse(f, a.frame_len) for f in sub], 3) * nf / len(sub)

    hdrs = [f[:6] for f in frames]
    compiled = tm.TmPrimaryHeader.compile()
    s6 = struct.Struct(">HBBH")
    t_c = _best(lambda: [tm.TmPrimaryHeader.parse(h) for h in hdrs[:1000]], 3) * nf / 1000
    t_cc = _best(lambda: [compiled.parse(h) for h in hdrs], 3)
    t_s = _best(lambda: [s6.unpack_from(h) for h in hdrs], 3)

    mbit = nf * a.frame_len * 8 / 1e6
    print(f"{nf} TM frames of {a.frame_len} octets, {len(pkts)} Space Packets of "
          f"{a.min + 6}..{a.max + 6} octets ({len(pkts) / nf:.1f} per frame), one core")
    print(f"TmFrameDemux (FECF + extraction): {nf / t_demux:10.0f} frames/s  "
          f"{mbit / t_demux:8.1f} Mbit/s  {len(pkts) / t_demux:10.0f} packets/s")
    print(f"ccsds_tm.parse (construct, FECF): {nf / t_parse:10.0f} frames/s  "
          f"{mbit / t_parse:8.1f} Mbit/s")
    print(f"primary header: construct {nf / t_c:10.0f}/s   compiled {nf / t_cc:10.0f}/s   "
          f"struct {nf / t_s:10.0f}/s")


if __name__ == "__main__":
    main()
