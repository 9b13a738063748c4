#!/usr/bin/env python3
"""The live QPSK receive chain fed by a SoapySDR device, paced at the sample rate: does it keep
up, with nothing dropped and every frame decoded? (issue 12: at least 20 Msps on this 2-core
machine; a B210 streams 20 to 56 Msps.)

The signal is the ``qpsk`` link's own transmission (sync word + 64-byte payload + CRC-16 frames,
32 idle symbols between them) at 4 samples/symbol, with AWGN at ``--esn0`` dB, amplitude 0.5
and a 0.7 rad carrier phase, written once as raw cf32 on tmpfs. At 4 samples/symbol the samples
do not depend on the sample rate, so one file serves every rate: at ``R`` Msps the link runs at
``R/4`` Mbaud.

For each rate of ``--rates``, the test SoapySDR module ``orbitfake`` plays the file in a loop
(``rate=realtime,loop=1``: paced by the wall clock at the sample rate) and the graph

    radio_source (driver soapy) -> psk_demod -> sync_deframer -> frame_meta -> count sink

runs live (:func:`orbitlink.flowgraphs.live.run_live`: the source in its own thread, a queue
bounded to ``--queue-s`` seconds of signal, policy ``drop``) for ``--seconds`` seconds of
signal (``duration_s`` of the source), on both cores (no pinning). Before it, the same chain
decodes a short piece of the file once, in file mode, so that numba's cached kernels are
loaded (``--no-warmup``: not).

Reported per rate: samples delivered / wall seconds (Msps); samples dropped from the queue and
the queue's largest fill (the live runner's counters); the radio's overflows, dropped samples
and timeouts and the samples the source filled (the source's counters); how far the reads fell
behind the wall clock (a real radio overflows when this exceeds its buffer); frames decoded
with a good CRC, frames matching the transmitted payload at their position, and frames
expected (the frames of the file wholly inside the samples delivered, over the loops); CPU of
the process, of the reader thread and of the processing thread (% of one core).

A rate passes when nothing is dropped or lost anywhere, the reads never fell behind by more
than ``--max-lag-ms`` and every expected frame is decoded; exit status 1 if a rate of at most
``--target`` Msps fails.

Usage::

    .venv/bin/python benchmarks/bench_live_rx.py                         # 20 25 30 40 Msps, 30 s each
    .venv/bin/python benchmarks/bench_live_rx.py --rates 20 --seconds 10 --json
    .venv/bin/python benchmarks/bench_live_rx.py --rates 20 --monitor    # with the view's taps
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SPS = 4


def make_signal(path: Path, nsamp: int, esn0_db: float, seed: int = 1) -> dict:
    """The qpsk link's transmission (at 4 samples/symbol) of as many frames as fill ``nsamp``
    samples, plus AWGN, written as raw cf32 to ``path``; its frame table beside it
    (``path.frames.npz``). Reused when both exist with the same parameters."""
    from orbitlink.flowgraphs.links import load_link, random_payloads, transmit
    from orbitlink.modem.block import concat

    meta = path.with_suffix(".frames.npz")
    key = np.array([nsamp, esn0_db, seed, SPS], np.float64)
    if path.exists() and meta.exists():
        z = np.load(meta)
        if np.array_equal(z["key"], key) and path.stat().st_size == 8 * int(z["nsamp"]):
            return {"starts": z["starts"], "frame_len": float(z["frame_len"]),
                    "payloads": [bytes(p) for p in z["payloads"]], "nsamp": int(z["nsamp"]),
                    "ref": z["ref"]}
    link = load_link("qpsk", {"symbol_rate": "1", "samp_rate": str(SPS)})
    frame_samples = (8 * (4 + link.payload_len + 2) / 2 + link.gap_symbols) * SPS
    nframes = int((nsamp - (link.preamble_symbols + link.postamble_symbols) * SPS)
                  / frame_samples)
    rng = np.random.default_rng(seed)
    pays = random_payloads(link, rng, nframes)
    b = transmit(link, pays, seed=seed)
    x = b.iq.astype(np.complex64)
    es = float(np.mean(np.abs(x[: 1 << 20]) ** 2)) * SPS  # symbol energy (unit-energy pulse)
    sigma = np.float32(0.5 * np.sqrt(es / 10 ** (esn0_db / 10) / 2))
    x *= np.complex64(0.5 * np.exp(0.7j))
    for i in range(0, len(x), 1 << 22):  # in place, a piece at a time
        k = min(len(x) - i, 1 << 22)
        x[i:i + k].real += sigma * rng.standard_normal(k, np.float32)
        x[i:i + k].imag += sigma * rng.standard_normal(k, np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    x.tofile(path)
    starts = np.asarray(b.frame_starts, np.float64)
    sig = {"starts": starts, "frame_len": float(b.frame_len), "payloads": pays,
           "nsamp": len(x)}
    # the reference: the frames the same receiver decodes from the file in file mode
    chain = link.rx_chain(SPS) + [link.frame_meta(SPS)]
    good = []
    for i in range(0, len(x), 1 << 16):
        y = x[i:i + (1 << 16)]
        for blk in chain:
            y = blk.process(y)
        good += [(p.meta["sample_index"], p.data) for p in y if p.meta["crc_ok"]]
    y = np.zeros(0, np.complex64)  # the end: flush, in order
    for blk in chain:
        y = concat(blk.out_type, [blk.process(y), blk.flush()])
    good += [(p.meta["sample_index"], p.data) for p in y if p.meta["crc_ok"]]
    sig["ref"] = np.zeros(len(starts), bool)
    sig["ref"][[i for _, i in match_frames(sig, good)[2]]] = True
    np.savez(meta, key=key, starts=starts, frame_len=b.frame_len, nsamp=len(x),
             payloads=np.array([np.frombuffer(p, np.uint8) for p in pays]), ref=sig["ref"])
    return sig


class CountSink:
    """Counts the frames; keeps each good one's ``sample_index`` and payload, checked against
    the transmission after the run (:func:`match_frames`), off the processing thread."""

    def __new__(cls):
        from orbitlink.flowgraphs.sinks import CollectSink

        class _Count(CollectSink):
            name = "count"

            def open(self, info):
                super().open(info)
                self.frames = 0
                self.good = []

            def write(self, items):
                self.frames += len(items)
                self.good.extend((p.meta["sample_index"], p.data) for p in items
                                 if p.meta.get("crc_ok"))

        return _Count()


def match_frames(sig: dict, good: list, sps: float = SPS) -> tuple[int, int, set]:
    """(matched, duplicated, keys): the good frames whose payload is the one sent at their
    position in the file (``sample_index`` modulo the file's length, within two symbols of
    the frame's start), counted once per loop of the file; ``keys`` the (loop, frame) pairs."""
    starts, n = sig["starts"], sig["nsamp"]
    seen = set()
    dup = 0
    for s, data in good:
        loop, pos = divmod(s, n)
        i = int(np.searchsorted(starts, pos))
        i = min((j for j in (i - 1, i) if 0 <= j < len(starts)),
                key=lambda j: abs(starts[j] - pos))
        if abs(starts[i] + sps / 2 - pos) < 2 * sps and bytes(data) == sig["payloads"][i]:
            if (loop, i) in seen:
                dup += 1
            else:
                seen.add((loop, i))
    return len(seen), dup, seen


def expected_frames(sig: dict, delivered: int) -> tuple[int, int]:
    """(sent, expected): the frames of the looped file wholly inside the first ``delivered``
    samples, and those of them the receiver decodes from the file in file mode."""
    n = sig["nsamp"]
    loops, rest = divmod(int(delivered), n)
    inside = sig["starts"] + sig["frame_len"] <= rest
    ref = sig["ref"]
    return (loops * len(ref) + int(np.count_nonzero(inside)),
            loops * int(np.count_nonzero(ref)) + int(np.count_nonzero(inside & ref)))


def _thread_cpu(tid: int) -> float | None:
    """CPU seconds (user + system) of a thread of this process, None once it is gone."""
    try:
        with open(f"/proc/self/task/{tid}/stat") as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def warm_up(path: Path, rate: float) -> None:
    """Decode a short piece of the file once in file mode (loads numba's cached kernels)."""
    from orbitlink.flowgraphs.links import load_link

    link = load_link("qpsk", {"symbol_rate": repr(rate / SPS), "samp_rate": repr(rate)})
    x = np.fromfile(path, np.complex64, count=1 << 20)
    chain = link.rx_chain(rate) + [link.frame_meta(rate)]
    for i in range(0, len(x), 1 << 14):
        y = x[i:i + (1 << 14)]
        for b in chain:
            y = b.process(y)


def run_rate(path: Path, sig: dict, rate: float, a, serial: str) -> dict:
    from orbitlink.drivers.radio import open_radio
    from orbitlink.drivers.radio_source import RadioSource
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.links import load_link
    from orbitlink.flowgraphs.live import run_live

    link = load_link("qpsk", {"symbol_rate": repr(rate / SPS), "samp_rate": repr(rate)})
    device = f"driver=orbitfake,serial={serial},file={path},rate=realtime,loop=1"
    if a.mtu:
        device += f",mtu={a.mtu}"
    radio = open_radio("soapy", device)
    # how far the reads fall behind the wall clock (a real radio would overflow)
    lag = {"t0": None, "n0": 0, "got": 0, "max": 0.0}
    read = radio.read

    def timed_read(out, timeout_s=0.1):
        r = read(out, timeout_s)
        now = time.perf_counter()
        if r.n:
            if lag["t0"] is None:
                lag["t0"], lag["n0"] = now, r.n
            else:
                behind = (now - lag["t0"]) * rate - (lag["got"] + r.n - lag["n0"])
                if behind > lag["max"]:
                    lag["max"] = behind
            lag["got"] += r.n
        return r

    radio.read = timed_read
    src = RadioSource(radio=radio, samp_rate=rate, read_size=a.read_size,
                      duration_s=a.seconds)
    sink = CountSink()
    g = link_graph(link, "rx", rate, "iq", source=src, sinks=[sink])
    mon = _attach_monitors(g, link, rate) if a.monitor else None
    cpu = {"reader_tid": None, "reader_s": 0.0, "next": 0.0}

    def on_chunk(n):
        t = time.perf_counter()
        if t < cpu["next"]:
            return
        cpu["next"] = t + 0.2
        if cpu["reader_tid"] is None:
            th = next((x for x in threading.enumerate() if x.name == "source"), None)
            cpu["reader_tid"] = th.native_id if th is not None else -1
        c = _thread_cpu(cpu["reader_tid"]) if cpu["reader_tid"] > 0 else None
        if c is not None:
            cpu["reader_s"] = c

    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    tt0 = time.thread_time()
    t0 = time.perf_counter()
    res = run_live(g, chunk=a.chunk, queue_s=a.queue_s, on_chunk=on_chunk)
    wall = time.perf_counter() - t0
    proc_s = time.thread_time() - tt0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    lv = res.counters["live"]
    sc = res.counters.get("source", {})
    delivered = lv["samples_in"]
    sent, exp = expected_frames(sig, delivered)
    matched, dup, _ = match_frames(sig, sink.good)
    row = {
        "rate_msps": rate / 1e6, "baud_mbd": rate / SPS / 1e6, "seconds": a.seconds,
        "wall_s": round(wall, 3), "samples_in": delivered,
        "samples_processed": lv["samples_processed"],
        "msps_delivered": round(lv["samples_processed"] / wall / 1e6, 3),
        "queue_dropped_samples": lv["dropped_samples"],
        "queue_dropped_chunks": lv["dropped_chunks"],
        "queue_max_samples": lv["queue_max_samples"],
        "queue_capacity_samples": lv["queue_capacity_samples"],
        "queue_max_ms": round(1e3 * lv["queue_max_samples"] / rate, 2),
        "radio_overflows": sc.get("radio_overflows", 0),
        "radio_dropped_samples": sc.get("radio_dropped_samples", 0),
        "radio_timeouts": sc.get("radio_timeouts", 0),
        "radio_reads": sc.get("radio_reads", 0),
        "filled_samples": sc.get("filled_samples", 0),
        "reader_max_lag_ms": round(1e3 * lag["max"] / rate, 2),
        "frames_sent": sent, "frames_expected": exp, "frames_out": sink.frames, "frames_crc_ok": len(sink.good),
        "frames_matched": matched, "frames_duplicated": dup,
        "cpu_process_pct": round(100 * cpu_s / wall, 1),
        "cpu_reader_pct": round(100 * cpu["reader_s"] / wall, 1),
        "cpu_processing_pct": round(100 * proc_s / wall, 1),
    }
    checks = {
        "queue drops": row["queue_dropped_samples"] == 0,
        "radio overflows": row["radio_overflows"] == 0,
        "radio drops": row["radio_dropped_samples"] == 0 and row["filled_samples"] == 0,
        f"lag over {a.max_lag_ms:g} ms": row["reader_max_lag_ms"] <= a.max_lag_ms,
        "samples missing": row["samples_in"] == int(round(a.seconds * rate)),
        "frames missing": row["frames_matched"] == exp,
        "frames duplicated": row["frames_duplicated"] == 0,
    }
    if mon is not None:
        row["monitor"] = mon.finish()
        checks["monitor rows"] = row["monitor"]["spectrum_received"] >= 9 * wall
    row["failed"] = [k for k, good in checks.items() if not good]
    row["ok"] = not row["failed"]
    return row


class _Monitors:
    """``--monitor``: the station's spectrum and symbols monitors on the graph, publishing on a
    loopback bus that a SUB socket in a thread reads (what ``orbitlink rx`` adds for the
    view)."""

    def __init__(self, g, link, rate):
        import socket

        import zmq

        from orbitlink.flowgraphs.bus import BusPublisher
        from orbitlink.flowgraphs.graph import demod_node
        from orbitlink.flowgraphs.monitor import SpectrumMonitor, SymbolsMonitor

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        ep = f"tcp://127.0.0.1:{s.getsockname()[1]}"
        s.close()
        self.pub = BusPublisher(ep)
        self.spec = SpectrumMonitor(publisher=self.pub, station="bench", link="qpsk")
        dn = demod_node(g, link, rate, "iq", 0)
        self.sym = SymbolsMonitor(publisher=self.pub, demod=g.nodes[dn].obj, station="bench",
                                  link="qpsk")
        g.connect(g.source.name, g.add("monitor_spectrum", self.spec, "sink"))
        g.connect(dn, g.add("monitor_symbols", self.sym, "sink"))
        g.validate()
        self.got = {"spectrum": 0, "symbols": 0}
        self._stop = threading.Event()
        self._ctx = zmq.Context()
        sub = self._ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(ep)

        def read():
            while not self._stop.is_set():
                if sub.poll(100):
                    topic = sub.recv_multipart()[0].decode()
                    k = topic.rsplit("/", 1)[-1]
                    self.got[k] = self.got.get(k, 0) + 1
            sub.close(0)

        self._t = threading.Thread(target=read, daemon=True)
        self._t.start()

    def finish(self) -> dict:
        time.sleep(0.3)
        self._stop.set()
        self._t.join(2)
        self.pub.close()
        self._ctx.term()
        return {"spectrum_published": self.spec.counters["published"],
                "symbols_published": self.sym.counters["published"],
                "spectrum_received": self.got["spectrum"],
                "symbols_received": self.got["symbols"]}


def _attach_monitors(g, link, rate):
    return _Monitors(g, link, rate)


def _commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", type=float, nargs="+", default=[20, 25, 30, 40],
                    help="sample rates, Msps (default 20 25 30 40)")
    ap.add_argument("--seconds", type=float, default=30.0,
                    help="seconds of signal per rate (default 30)")
    ap.add_argument("--file-samples", type=int, default=60_000_000,
                    help="samples in the signal file (default 60 M: 3 s at 20 Msps)")
    ap.add_argument("--esn0", type=float, default=20.0, help="Es/N0, dB (default 20)")
    ap.add_argument("--read-size", type=int, default=16384,
                    help="radio_source read_size (default 16384, the block's default)")
    ap.add_argument("--monitor", action="store_true",
                    help="also run the spectrum and symbols monitors orbitlink rx adds for the "
                         "view (10 rows/s, 1024 bins, 2 symbol sets/s) onto a loopback bus")
    ap.add_argument("--mtu", type=int, default=0,
                    help="orbitfake mtu: most samples per readStream (0: the device's "
                         "default, 4096)")
    ap.add_argument("--chunk", type=int, default=1 << 16,
                    help="live runner chunk (default 65536, as `orbitlink run --chunk`)")
    ap.add_argument("--queue-s", type=float, default=2.0,
                    help="live queue, seconds of signal (default 2, run_live's default)")
    ap.add_argument("--max-lag-ms", type=float, default=50.0,
                    help="most the reads may fall behind the wall clock (default 50 ms)")
    ap.add_argument("--target", type=float, default=20.0,
                    help="exit 1 if a rate up to this many Msps fails (default 20)")
    ap.add_argument("--data-dir", default=os.environ.get("ORBITLINK_BENCH_DATA",
                                                         "/dev/shm/orbitlink-bench"))
    ap.add_argument("--switch-interval", type=float, default=0.0,
                    help="sys.setswitchinterval for the run, s (0: leave Python's 0.005)")
    ap.add_argument("--no-warmup", action="store_true",
                    help="do not load the kernels before the live run")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    a = ap.parse_args(argv)
    log = sys.stderr if a.json else sys.stdout

    from orbitlink.tests import soapy_fake

    why = soapy_fake.binding_problem() or soapy_fake.build_problem()
    if why:
        print(f"bench_live_rx: {why}", file=sys.stderr)
        return 2
    soapy_fake.load()
    if a.switch_interval:
        sys.setswitchinterval(a.switch_interval)
    path = Path(a.data_dir) / f"live_qpsk_sps{SPS}_{a.file_samples}_{a.esn0:g}dB.cf32"
    t = time.perf_counter()
    sig = make_signal(path, a.file_samples, a.esn0)
    print(f"signal: {path} ({sig['nsamp']} samples, {len(sig['starts'])} frames, "
          f"{int(np.count_nonzero(sig['ref']))} of them decoded in file mode; "
          f"{time.perf_counter() - t:.1f} s)", file=log)
    rows = []
    for k, r in enumerate(a.rates):
        rate = r * 1e6
        if not a.no_warmup:
            warm_up(path, rate)
        row = run_rate(path, sig, rate, a, f"bench-live-{os.getpid()}-{k}")
        rows.append(row)
        print(f"{row['rate_msps']:5g} Msps: {row['msps_delivered']:.2f} Msps delivered, "
              f"queue drops {row['queue_dropped_samples']}, max fill {row['queue_max_ms']} ms, "
              f"overflows {row['radio_overflows']}, radio drops "
              f"{row['radio_dropped_samples']}, lag {row['reader_max_lag_ms']} ms, frames "
              f"{row['frames_matched']}/{row['frames_expected']} (crc ok {row['frames_crc_ok']}"
              f", out {row['frames_out']}), CPU {row['cpu_process_pct']}% (reader "
              f"{row['cpu_reader_pct']}%, processing {row['cpu_processing_pct']}%) "
              f"{'OK' if row['ok'] else 'FAIL: ' + ', '.join(row['failed'])}", file=log,
              flush=True)
        if "monitor" in row:
            m = row["monitor"]
            print(f"         monitors: {m['spectrum_published']} spectrum rows and "
                  f"{m['symbols_published']} symbol sets published, {m['spectrum_received']} "
                  f"and {m['symbols_received']} received", file=log, flush=True)
    doc = {"benchmark": "live_rx", "link": "qpsk", "sps": SPS, "esn0_db": a.esn0,
           "device": "orbitfake rate=realtime loop=1" + (f" mtu={a.mtu}" if a.mtu else ""),
           "file": str(path), "file_samples": sig["nsamp"], "frames_per_loop": len(sig["starts"]),
           "frames_per_loop_file_mode": int(np.count_nonzero(sig["ref"])),
           "read_size": a.read_size, "chunk": a.chunk,
           "switch_interval_s": sys.getswitchinterval(), "queue_s": a.queue_s,
           "cpus": os.cpu_count(), "affinity": sorted(os.sched_getaffinity(0)),
           "python": platform.python_version(), "numpy": np.__version__,
           "machine": platform.machine(), "commit": _commit(),
           "date": time.strftime("%Y-%m-%d"), "target_msps": a.target, "rows": rows}
    if a.json:
        print(json.dumps(doc, indent=1))
    bad = [x for x in rows if x["rate_msps"] <= a.target and not x["ok"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
