#!/usr/bin/env python3
"""Radio I/O throughput: how many cf32 samples per second the driver layer moves on one core.

Two paths, both read through the :class:`orbitlink.drivers.radio.Radio` interface
(``read(out)`` into a 65 536-sample complex64 buffer, as a live runner would):

- **replay**: :class:`orbitlink.drivers.replay.ReplayRadio` with ``rate=max,loop=1`` over a
  cf32_le SigMF recording of ``--file-samples`` samples on tmpfs (``/dev/shm``, else the
  temporary folder), read until ``--replay-samples`` samples came;
- **zmq**: :class:`orbitlink.drivers.zmq_iq.ZmqIqSource` over loopback tcp from a separate
  sender process (:class:`orbitlink.drivers.zmq_iq.ZmqIqSink`, ``policy="block"``: XPUB_NODROP,
  nothing lost) sending 64 KiB messages (8192 items, raw cf32, as GNU Radio's pub_sink does),
  until ``--zmq-samples`` samples came. The receive time runs from the first sample to the
  last; the samples are checked (count, gaps, malformed = 0, first and last values).
  Beside it, the same stream into a bare pyzmq SUB ``recv`` loop (no thread, no queue, no
  copy into a buffer): what pyzmq itself does on this machine.
  ``--with-peer``: GNU Radio's own ``null_source -> head -> pub_sink`` (``/usr/bin/python3``)
  as the sender into our source.

``--cpu 0`` (the default) pins this process *and* the sender to CPU 0, so the sender, the
receiver thread, libzmq's I/O threads and the reader share one core; ``--sender-cpu N`` puts the
sender elsewhere. Target (issue 11): at least 50 MS/s each (LIVE-STATION.md measured 109 MS/s
of cf32 in 64 KiB messages over tcp with Python on both ends).

Usage::

    .venv/bin/python benchmarks/bench_radio_io.py [--reps 3] [--json] [--with-peer]
        [--cpu 0|none] [--sender-cpu N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

TARGET_MSPS = 50.0
BUF = 1 << 16

SENDER = r"""
import os, sys, numpy as np
from orbitlink.drivers.zmq_iq import ZmqIqSink
n = int(sys.argv[1])
block = (np.arange(1 << 20) % 1000).astype(np.float32).view(np.complex64)  # 2^19 samples
with ZmqIqSink("tcp://127.0.0.1:*", policy="block", hwm=1000) as snk:
    print(snk.address, flush=True)
    if not snk.wait_for_subscriber(30):
        sys.exit("no subscriber")
    sent = 0
    while sent < n:
        k = min(len(block), n - sent)
        sent += snk.write(block[:k])
    print("sent", sent, snk.counters.to_dict(), flush=True)
"""

GR_SENDER = r"""
import sys, time
from gnuradio import blocks, gr, zeromq
n = int(sys.argv[1])
tb = gr.top_block()
src = blocks.null_source(gr.sizeof_gr_complex)
head = blocks.head(gr.sizeof_gr_complex, n)
snk = zeromq.pub_sink(gr.sizeof_gr_complex, 1, "tcp://127.0.0.1:*", 100, False, -1, "", False)
tb.connect(src, head, snk)
print(snk.last_endpoint(), flush=True)
sys.stdin.readline()
tb.run()
time.sleep(1.0)
print("sent", n, flush=True)
"""


def _pin(cpu):
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(cpu)})


def _preexec(cpu):
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {int(cpu)})


def bench_replay(n_file: int, n_read: int) -> dict:
    from orbitlink.drivers.replay import ReplayRadio
    from orbitlink.drivers.sigmf import SigmfWriter

    folder = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    base = os.path.join(folder, f"orbitlink_bench_replay_{os.getpid()}")
    try:
        with SigmfWriter(base, 1e6) as w:
            step = 1 << 20
            for i in range(0, n_file, step):
                k = min(step, n_file - i)
                w.write(np.arange(i, i + k, dtype=np.float32).astype(np.complex64))
        buf = np.empty(BUF, np.complex64)
        with ReplayRadio(file=base + ".sigmf-meta", rate="max", loop=True) as r:
            r.start()
            got = 0
            t = time.perf_counter()
            while got < n_read:
                res = r.read(buf)
                got += res.n
            dt = time.perf_counter() - t
            assert r.counters.dropped_samples == 0 and res.sample_index + res.n == got
        return {"samples": got, "seconds": dt, "msps": got / dt / 1e6}
    finally:
        for ext in (".sigmf-meta", ".sigmf-data"):
            if os.path.exists(base + ext):
                os.remove(base + ext)


def _start_sender(n: int, cpu, peer: bool):
    if peer:
        cmd = ["/usr/bin/python3", "-c", GR_SENDER, str(n)]
    else:
        cmd = [sys.executable, "-c", SENDER, str(n)]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         preexec_fn=_preexec(cpu))
    addr = p.stdout.readline().strip()
    if not addr.startswith("tcp://"):
        p.kill()
        raise SystemExit(f"sender did not start: {addr!r}")
    return p, addr


def bench_zmq(n: int, cpu, peer: bool = False) -> dict:
    from orbitlink.drivers.zmq_iq import ZmqIqSource

    p, addr = _start_sender(n, cpu, peer)
    src = ZmqIqSource(addr, queue_samples=1 << 22, policy="block")
    src.start()
    buf = np.empty(BUF, np.complex64)
    try:
        if peer:
            time.sleep(0.5)  # our subscription reaches GNU Radio's PUB
            p.stdin.write("go\n")
            p.stdin.flush()
        got = 0
        first = last = None
        stall = time.monotonic() + 20  # give up after 20 s without a sample
        t = None
        while got < n and time.monotonic() < stall:
            r = src.read(buf, 0.5)
            if r.n:
                stall = time.monotonic() + 10
                if t is None:
                    t = time.perf_counter()
                    first = complex(buf[0])
                got += r.n
                last = complex(buf[r.n - 1])
        dt = time.perf_counter() - t
        c = src.counters
        ok = got == n and c.gaps == 0 and c.malformed == 0
        if not peer:
            k = (n - 1) % (1 << 19)  # the sender repeats a block of 2^19 samples
            ok = ok and first == 1j and last == complex(2 * k % 1000, (2 * k + 1) % 1000)
        return {"samples": got, "seconds": dt, "msps": got / dt / 1e6, "ok": ok,
                "messages": src.messages, "queue_dropped_messages": src.queue_dropped_messages}
    finally:
        src.close()
        try:
            p.wait(30)
        finally:
            if p.poll() is None:
                p.kill()


def bench_pyzmq_bare(n: int, cpu) -> dict:
    import zmq

    p, addr = _start_sender(n, cpu, False)
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.RCVTIMEO, 20_000)
    s.subscribe(b"")
    s.connect(addr)
    try:
        got = 0
        t = None
        while got < n:
            m = s.recv(copy=False)
            if t is None:
                t = time.perf_counter()
            got += len(m) // 8
        dt = time.perf_counter() - t
        return {"samples": got, "seconds": dt, "msps": got / dt / 1e6}
    finally:
        ctx.destroy(0)
        p.wait(30)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--file-samples", type=int, default=1 << 24)
    ap.add_argument("--replay-samples", type=int, default=200_000_000)
    ap.add_argument("--zmq-samples", type=int, default=200_000_000)
    ap.add_argument("--cpu", default="0", help="CPU to pin to, or 'none'")
    ap.add_argument("--sender-cpu", default=None, help="CPU of the sender (default: --cpu)")
    ap.add_argument("--with-peer", action="store_true",
                    help="also GNU Radio's pub_sink as the sender")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    cpu = None if a.cpu == "none" else int(a.cpu)
    scpu = cpu if a.sender_cpu is None else (None if a.sender_cpu == "none"
                                             else int(a.sender_cpu))
    _pin(cpu)
    runs = {"replay": [], "zmq": [], "pyzmq_bare": []}
    if a.with_peer:
        runs["zmq_from_gnuradio"] = []
    for _ in range(a.reps):
        runs["replay"].append(bench_replay(a.file_samples, a.replay_samples))
        runs["zmq"].append(bench_zmq(a.zmq_samples, scpu))
        runs["pyzmq_bare"].append(bench_pyzmq_bare(a.zmq_samples, scpu))
        if a.with_peer:
            runs["zmq_from_gnuradio"].append(bench_zmq(a.zmq_samples, scpu, peer=True))
    summary = {k: statistics.median(r["msps"] for r in v) for k, v in runs.items()}
    ok = all(r.get("ok", True) for v in runs.values() for r in v)
    doc = {"cpu": cpu, "sender_cpu": scpu, "target_msps": TARGET_MSPS, "median_msps": summary,
           "checks_ok": ok, "runs": runs}
    out = sys.stderr if a.json else sys.stdout
    print(f"receiver pinned to CPU {cpu}, sender to CPU {scpu}; median of {a.reps} runs",
          file=out)
    names = {"replay": "replay rate=max (ReplayRadio.read)",
             "zmq": "ZmqIqSource <- ZmqIqSink over tcp",
             "pyzmq_bare": "bare pyzmq SUB recv <- ZmqIqSink (reference)",
             "zmq_from_gnuradio": "ZmqIqSource <- GNU Radio pub_sink"}
    for k, v in summary.items():
        flag = "" if k == "pyzmq_bare" else ("  ok" if v >= TARGET_MSPS else "  BELOW TARGET")
        print(f"  {names[k]:48s} {v:8.1f} MS/s{flag}", file=out)
    print(f"  sample checks: {'ok' if ok else 'FAILED'}", file=out)
    if a.json:
        print(json.dumps(doc))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
