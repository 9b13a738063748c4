#!/usr/bin/env python3
"""End to end: wall time of ``orbitlink decode`` on a 10-minute 48 kHz recording.

The peer figure (../shared/peers/grsat_e2e.py, RESULTS.md): the ``gr_satellites`` command line
decodes a 601 s, 48 ksps complex IQ recording of 9600 Bd G3RUH AX.25 FSK in 4.9 s on this
machine (123x real time; start-up ~0.4 s included). Target: 5x that real-time factor.

The recording is the peer's own file when it exists (``$PEERBENCH_DATA`` or /dev/shm/peerbench,
``grsat_9k6_ax25_es20.0_x20.cf32``: 2-FSK 9600 Bd, deviation 2400 Hz, Gaussian BT 0.5 pulse,
Es/N0 20 dB, carrier offset 300 Hz, a 30 s burst repeated 20 times, 3120 frames), else one made
the same way with orbitlink's own transmitter. ``--medium audio`` times the same signal as a
receiver's FM audio (16-bit mono WAV), which is how most amateur recordings are kept.

What is timed: the whole command, process start to exit, pinned to one core when run under
``taskset -c 0``: ``orbitlink decode REC --link ax25-fsk9600`` (IQ: ``--format cf32_le --rate
48000``). Median of ``--reps``; the frames it prints are counted. Also reported: the start-up
time (same command on a 1 s recording) and the decode time the command reports itself.

Usage::

    taskset -c 0 .venv/bin/python benchmarks/bench_decode_recording.py [--medium iq|audio]
        [--reps 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

PEER_RTF = 123.0  # gr-satellites 4.4.0, RESULTS.md (601 s in 4.87 s)
TARGET_RTF = 5 * PEER_RTF
FS, BAUD = 48000, 9600
DATA = os.environ.get("PEERBENCH_DATA", "/dev/shm/peerbench")
PEER_FILE = os.path.join(DATA, "grsat_9k6_ax25_es20.0_x20.cf32")


def make_recording(path: str, repeat: int = 20, seconds: float = 30.0, seed: int = 9600):
    """2-FSK 9600 Bd, 2400 Hz deviation, BT 0.5, Es/N0 20 dB, +300 Hz: like the peer's."""
    from orbitlink.flowgraphs.links import load_link, transmit
    from orbitlink.framing import ax25
    from orbitlink.modem.channel import simulate

    link = load_link("ax25-fsk9600", {"deviation": "2400", "bt": "0.5", "gap_symbols": "0",
                                      "preamble_symbols": "64"})
    rng = np.random.default_rng(seed)
    frames, n = [], 0
    while n < seconds * BAUD:
        f = ax25.build(ax25.ui_frame("CQ", "N0CALL-1", bytes([len(frames) & 0xFF])
                                     + rng.integers(0, 256, 199, dtype=np.uint8).tobytes()))
        frames.append(f)
        n += 8 * (len(f) + 12)
    burst = transmit(link, frames, seed=seed)
    x = simulate(burst.iq, samp_rate=FS, sps=FS / BAUD, bits_per_symbol=1, esn0_db=20.0,
                 cfo_hz=300.0, seed=seed).astype(np.complex64)
    with open(path + ".tmp", "wb") as fh:
        for _ in range(repeat):
            x.tofile(fh)
    os.replace(path + ".tmp", path)
    return len(frames) * repeat


def to_audio_wav(iq_path: str, wav_path: str):
    from orbitlink.drivers.wav import WavWriter
    from orbitlink.flowgraphs.links import load_link, to_audio

    link = load_link("ax25-fsk9600", {"deviation": "2400"})
    x = np.fromfile(iq_path, np.complex64)
    with WavWriter(wav_path, FS, channels=1, sample_format="int16") as w:
        step = 1 << 22
        prev = np.zeros(0, np.complex64)
        for i in range(0, len(x), step):
            seg = np.concatenate([prev, x[i:i + step]])
            a = to_audio(link, seg)
            w.write(a[len(prev):])
            prev = x[max(0, i + step - 256):i + step]


def run_decode(args_list):
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "orbitlink", "decode", *args_list],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"decode failed: {p.stderr.strip()}")
    frames = sum(1 for line in p.stdout.splitlines() if "CRC ok" in line)
    m = re.search(r"in ([0-9.]+) s, link", p.stderr)
    return wall, frames, float(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--medium", choices=("iq", "audio"), default="iq")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    os.makedirs(DATA, exist_ok=True)
    rec = PEER_FILE
    nframes = None
    if os.path.exists(rec):
        src = "peer file (grsat_e2e.py)"
        nf = rec.replace(".cf32", "_nframes.txt")
        nframes = int(open(nf).read()) if os.path.exists(nf) else None
    else:
        rec = os.path.join(DATA, "orbitlink_9k6_ax25_x20.cf32")
        src = "made by orbitlink's transmitter"
        if not os.path.exists(rec):
            print("making the recording ...", file=sys.stderr)
            nframes = make_recording(rec)
    short = rec.replace(".cf32", "_1s_ol.cf32")
    np.fromfile(rec, np.complex64, count=FS).tofile(short)
    if a.medium == "audio":
        wav = rec.replace(".cf32", ".wav")
        if not os.path.exists(wav):
            print("making the audio WAV ...", file=sys.stderr)
            to_audio_wav(rec, wav)
        wav1 = short.replace(".cf32", ".wav")
        to_audio_wav(short, wav1)
        full, one = [wav], [wav1]
    else:
        iq = ["--format", "cf32_le", "--rate", str(FS)]
        full, one = [rec, *iq], [short, *iq]
    link = ["--link", "ax25-fsk9600"]
    run_decode(one + link)  # warm numba's cache and the page cache
    startup = statistics.median(run_decode(one + link)[0] for _ in range(3))
    walls, inner, frames = [], [], 0
    for _ in range(a.reps):
        w, frames, d = run_decode(full + link)
        walls.append(w)
        inner.append(d)
    nsamp = os.path.getsize(rec) // 8
    dur = nsamp / FS
    wall = statistics.median(walls)
    res = {"bench": f"orbitlink_decode_9k6_fsk_ax25_{a.medium}", "recording": src,
           "recording_s": round(dur, 2), "wall_s_median": round(wall, 3),
           "wall_s": [round(w, 3) for w in walls], "decode_s_median": statistics.median(inner),
           "startup_s": round(startup, 3), "realtime_factor": round(dur / wall, 1),
           "realtime_factor_without_startup": round(dur / statistics.median(inner), 1),
           "frames": frames, "frames_expected": nframes,
           "peer_realtime_factor": PEER_RTF, "target_realtime_factor": TARGET_RTF,
           "cpus": sorted(os.sched_getaffinity(0))}
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:34s} {v}")


if __name__ == "__main__":
    main()
