#!/usr/bin/env python3
"""Bus throughput: frames per second from :class:`orbitlink.flowgraphs.bus.BusPublisher` to a
subscriber that keeps up, with the loss counted from the sequence numbers.

The publisher (this process, pinned to ``--cpu``, default 0) sends ``--frames`` frames
(default 200 000) of ``--payload`` bytes (default 256) with the meta of a decoded AX.25 frame
(``decode --json``'s fields) through ``publish_frame`` over loopback tcp; the subscriber is a
separate process pinned to ``--sub-cpu`` (default 1) that parses every message with
:func:`~orbitlink.flowgraphs.bus.decode_message` (header, topic, JSON meta: the full check) and
counts sequence gaps. Two modes: ``pub`` (the default PUB socket; a subscriber that keeps up
loses nothing) and ``nodrop`` (XPUB_NODROP: the publisher waits instead of dropping). The rate
is the subscriber's: frames received / (time of the last frame - time of the first).

Target (issue 12): at least 20 000 frames/s with 0 loss.

Usage::

    .venv/bin/python benchmarks/bench_bus.py [--frames N] [--payload B] [--reps R]
        [--mode pub|nodrop] [--cpu 0|none] [--sub-cpu 1|none] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time

from orbitlink.flowgraphs.bus import BusPublisher

_SUB = r"""
import json, sys, time
import zmq
from orbitlink.flowgraphs.bus import decode_message, KIND_EVENT, KIND_FRAME
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
s.setsockopt(zmq.RCVHWM, 100000)
s.setsockopt(zmq.SUBSCRIBE, b"")
s.connect(sys.argv[1])
ready = False
n = gaps = missing = malformed = 0
last = None
t0 = t1 = None
while True:
    if not s.poll(30000):
        break
    parts = s.recv_multipart()
    try:
        m = decode_message(parts)
    except Exception:
        malformed += 1
        continue
    if m.kind == KIND_EVENT:
        if not ready:
            ready = True
            print("ready", flush=True)
        if m.meta.get("event") == "stop":
            break
        continue
    t1 = time.perf_counter()
    if t0 is None:
        t0 = t1
    if last is not None and m.seq != last + 1:
        gaps += 1
        missing += m.seq - last - 1
    last = m.seq
    n += 1
print(json.dumps({"received": n, "gaps": gaps, "missing": missing, "malformed": malformed,
                  "first_seq": None if n == 0 else last - n - missing + 1, "last_seq": last,
                  "seconds": (t1 - t0) if n > 1 else 0.0}), flush=True)
"""

META = {"sample_index": 0, "time_s": 0.0, "time_utc": "2026-12-06T05:00:00.000000Z",
        "framing": "ax25", "crc_ok": True, "snr_db": 12.3, "freq_offset_hz": -312.5,
        "dst": "CQ", "src": "N0CALL-1", "pid": 240, "link": "ax25-1k2"}


def run_once(frames: int, payload: int, mode: str, sub_cpu) -> dict:
    pub = BusPublisher("tcp://127.0.0.1:*", nodrop=(mode == "nodrop"), sndhwm=10000,
                       retry_timeout=30)
    cmd = [sys.executable, "-c", _SUB, pub.endpoint]
    if sub_cpu is not None:
        cmd = ["taskset", "-c", str(sub_cpu), *cmd]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in p.stdout], daemon=True).start()
        end = time.monotonic() + 30
        while True:  # PUB/SUB slow joiner
            if time.monotonic() > end:
                raise RuntimeError("subscriber never joined")
            pub.publish_event("bench", "l", "ping")
            try:
                if lines.get(timeout=0.02).strip() == "ready":
                    break
            except queue.Empty:
                pass
        body = bytes(range(256)) * (payload // 256 + 1)
        body = body[:payload]
        meta = dict(META)
        t0 = time.perf_counter()
        for i in range(frames):
            meta["sample_index"] = i * 9600
            meta["time_s"] = i * 0.2
            pub.publish_frame("bench", "l", meta, body, i * 9600, 1.7e9 + i * 0.2)
        t_pub = time.perf_counter() - t0
        pub.publish_event("bench", "l", "stop")
        p.wait(120)
        out = ""
        while not lines.empty() or not out:
            out += lines.get(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
        pub.close()
    res = json.loads(out.strip().splitlines()[-1])
    res.update(mode=mode, frames=frames, payload=payload, publisher_sent=pub.sent,
               publisher_dropped=pub.dropped, publish_seconds=t_pub,
               publish_rate=frames / t_pub,
               rate=res["received"] / res["seconds"] if res["seconds"] else 0.0,
               loss=frames - res["received"])
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--payload", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mode", action="append", choices=("pub", "nodrop"))
    ap.add_argument("--cpu", default="0")
    ap.add_argument("--sub-cpu", default="1")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.cpu != "none" and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(a.cpu)})
    sub_cpu = None if a.sub_cpu == "none" else int(a.sub_cpu)
    results = []
    for mode in a.mode or ["pub", "nodrop"]:
        for _ in range(a.reps):
            results.append(run_once(a.frames, a.payload, mode, sub_cpu))
    out = sys.stderr if a.json else sys.stdout
    print(f"{'mode':7} {'frames':>8} {'payload':>7} {'recv frames/s':>14} {'pub frames/s':>13} "
          f"{'loss':>5} {'gaps':>5} {'dropped':>7}", file=out)
    for r in results:
        print(f"{r['mode']:7} {r['frames']:8d} {r['payload']:7d} {r['rate']:14,.0f} "
              f"{r['publish_rate']:13,.0f} {r['loss']:5d} {r['gaps']:5d} "
              f"{r['publisher_dropped']:7d}", file=out)
    best = {m: max(r["rate"] for r in results if r["mode"] == m) for m in {r["mode"]
                                                                          for r in results}}
    ok = all(r["loss"] == 0 and r["gaps"] == 0 for r in results) and min(best.values()) >= 20000
    print(f"best: {', '.join(f'{m} {v:,.0f} frames/s' for m, v in sorted(best.items()))}; "
          f"target 20,000 frames/s with 0 loss: {'met' if ok else 'NOT met'}", file=out)
    if a.json:
        print(json.dumps({"results": results, "best": best, "target_met": ok}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
