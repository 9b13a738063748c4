"""GNU Radio 3.10 interop of drivers/zmq_iq.py (marker ``interop``): real GNU Radio flowgraphs,
run with the system's ``/usr/bin/python3`` in subprocesses, on loopback tcp.

- GNU Radio's ``zeromq.pub_sink`` (raw and with tag headers) feeds :class:`ZmqIqSource`:
  the samples and tags are GNU Radio's, exactly;
- GNU Radio's ``pub_sink`` with the tags of LIVE-STATION.md A.1 sends the golden bytes;
- :class:`ZmqIqSink` (raw, with a key, with tag headers) feeds GNU Radio's
  ``zeromq.sub_source -> head -> vector_sink``: GNU Radio gets our samples and tags exactly;
- frames: a QPSK recording played by GNU Radio through ``pub_sink`` into orbitlink's
  receiver (``radio_source`` over the ZeroMQ source) decodes to the frames of the file.

PUB/SUB's slow joiner: GNU Radio's sink binds when it is built, the script says where, waits
for "go" (sent once our subscriber has connected), then runs; in the other direction our sink
waits for GNU Radio's subscription. Skipped when ``/usr/bin/python3`` cannot import
``gnuradio.zeromq``.
"""

import json
import os
import queue
import subprocess
import threading
import time

import numpy as np
import pytest

from orbitlink.drivers.zmq_iq import Tag, ZmqIqSink, ZmqIqSource, stream_tags

from orbitlink.tests.helpers import GR_PY, have_gnuradio  # noqa: E402


def _have_gnuradio() -> bool:
    return have_gnuradio()


pytestmark = pytest.mark.interop


@pytest.fixture(autouse=True, scope="module")
def _gnuradio():
    """Checked when a test runs, not when the default run collects (and deselects) them."""
    if not _have_gnuradio():
        pytest.skip("GNU Radio (gnuradio.zeromq) not importable with /usr/bin/python3")

TIMEOUT = 60  # seconds for any GNU Radio subprocess

_GR_COMMON = """
import json, sys, time
import numpy as np
import pmt
from gnuradio import blocks, gr, zeromq

def tag(offset, key, value, srcid):
    t = gr.tag_t()
    t.offset, t.key, t.value = offset, pmt.intern(key), value
    t.srcid = pmt.intern(srcid) if srcid else pmt.PMT_F
    return t
"""

#: vector_source_c (samples from a file, optional tags) -> [throttle] -> pub_sink (binds)
GR_PUB = _GR_COMMON + """
args = json.loads(sys.argv[1])
x = np.fromfile(args["samples"], np.complex64)
tags = []
for off, key, kind, value, srcid in args["tags"]:
    v = {"double": lambda v: pmt.from_double(v),
         "time": lambda v: pmt.make_tuple(pmt.from_uint64(v[0]), pmt.from_double(v[1]))}[kind]
    tags.append(tag(off, key, v(value), srcid))
tb = gr.top_block()
src = blocks.vector_source_c(x.tolist(), False, 1, tags)
snk = zeromq.pub_sink(gr.sizeof_gr_complex, 1, "tcp://127.0.0.1:*", 100, args["pass_tags"], -1,
                      args["key"], False)
if args["throttle"]:
    thr = blocks.throttle(gr.sizeof_gr_complex, args["throttle"])
    tb.connect(src, thr, snk)
else:
    tb.connect(src, snk)
print("bound", snk.last_endpoint(), flush=True)
sys.stdin.readline()
tb.run()
time.sleep(0.5)
print("done", flush=True)
"""

#: file_source (a recording's cf32 data) -> pub_sink (binds), blocking at the HWM
GR_PUB_FILE = _GR_COMMON + """
tb = gr.top_block()
src = blocks.file_source(gr.sizeof_gr_complex, sys.argv[1], False)
snk = zeromq.pub_sink(gr.sizeof_gr_complex, 1, "tcp://127.0.0.1:*", 100, False, -1, "", False)
tb.connect(src, snk)
print("bound", snk.last_endpoint(), flush=True)
sys.stdin.readline()
tb.run()
time.sleep(0.5)
print("done", flush=True)
"""

#: sub_source (connects) -> head(n) -> vector_sink; samples to a file, tags as JSON (the
#: flowgraph does not end by itself when head is done: stopped once n items are in)
GR_SUB = _GR_COMMON + """
args = json.loads(sys.argv[1])
tb = gr.top_block()
src = zeromq.sub_source(gr.sizeof_gr_complex, 1, args["address"], 100, args["pass_tags"], -1,
                        args["key"])
head = blocks.head(gr.sizeof_gr_complex, args["n"])
snk = blocks.vector_sink_c()
tb.connect(src, head, snk)
tb.start()
print("started", flush=True)
deadline = time.monotonic() + 60
while len(snk.data()) < args["n"] and time.monotonic() < deadline:
    time.sleep(0.05)  # head is done, but sub_source keeps the flowgraph running
tb.stop()
tb.wait()
np.array(snk.data(), np.complex64).tofile(args["out"])
tags = [[t.offset, pmt.symbol_to_string(t.key), repr(pmt.to_python(t.value)),
         repr(pmt.to_python(t.srcid))] for t in snk.tags()]
print("tags", json.dumps(tags), flush=True)
"""


class Gr:
    """A GNU Radio script in a subprocess, its stdout lines in a queue."""

    def __init__(self, script, *args):
        self.p = subprocess.Popen([GR_PY, "-c", script, *args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, word, timeout=TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.p.kill()
                raise AssertionError(f"GNU Radio script: no {word!r}; stderr: "
                                     f"{self.p.stderr.read()[-2000:]}")
            if line.startswith(word):
                return line[len(word):].strip()

    def go(self):
        self.p.stdin.write("go\n")
        self.p.stdin.flush()

    def finish(self):
        try:
            self.p.wait(TIMEOUT)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()
        assert self.p.returncode == 0, self.p.stderr.read()[-2000:]


def signal(n, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)


def gr_publishes(tmp_path, x, tags=(), pass_tags=False, key="", throttle=0):
    path = tmp_path / "x.cf32"
    x.tofile(path)
    gr = Gr(GR_PUB, json.dumps({"samples": str(path), "tags": list(tags),
                                "pass_tags": pass_tags, "key": key, "throttle": throttle}))
    return gr, gr.expect("bound")


def read_n(src, n, wait=30.0):
    buf = np.empty(8192, np.complex64)
    results, parts, got = [], [], 0
    deadline = time.monotonic() + wait
    while got < n and time.monotonic() < deadline:
        r = src.read(buf, 0.1)
        if r.n or r.gap:
            results.append(r)
            parts.append(buf[:r.n].copy())
            got += r.n
    return results, (np.concatenate(parts) if parts else np.zeros(0, np.complex64))


@pytest.mark.parametrize("key", ["", "iq"])
def test_gnuradio_pub_sink_into_our_source(tmp_path, key):
    x = signal(200_003)
    gr, addr = gr_publishes(tmp_path, x, key=key)
    src = ZmqIqSource(addr, key=key)
    src.start()
    try:
        time.sleep(0.5)  # our subscription reaches GNU Radio's PUB
        gr.go()
        results, got = read_n(src, len(x))
        gr.expect("done")
        gr.finish()
        assert np.array_equal(got, x)
        assert src.counters.malformed == 0 and src.counters.gaps == 0
        assert src.messages > 10  # GNU Radio's own message sizes
    finally:
        src.close()


def test_gnuradio_tagged_stream_into_our_source(tmp_path):
    x = signal(100_000, seed=2)
    tags = [(0, "rx_time", "time", (1700000000, 0.25), ""),
            (0, "rx_rate", "double", 250e3, ""),
            (70_001, "rx_freq", "double", 437.5e6, "src")]
    gr, addr = gr_publishes(tmp_path, x, tags, pass_tags=True)
    src = ZmqIqSource(addr, pass_tags=True)
    src.start()
    try:
        time.sleep(0.5)
        gr.go()
        results, got = read_n(src, len(x))
        gr.expect("done")
        gr.finish()
        assert np.array_equal(got, x)
        assert src.first_offset == 0 and src.counters.gaps == 0
        assert src.counters.malformed == 0
        t = src.pop_tags()
        assert [(a.offset, a.key, a.value, a.srcid) for a in t] == [
            (0, "rx_time", (1700000000, 0.25), False), (0, "rx_rate", 250e3, False),
            (70_001, "rx_freq", 437.5e6, "src")]
        for r in results:  # rx_time + rx_rate: 4 us per sample
            assert r.time_ns == 1_700_000_000_250_000_000 + 4000 * r.sample_index
    finally:
        src.close()


def test_gnuradio_sends_the_golden_bytes(tmp_path):
    """LIVE-STATION.md A.1's capture, re-made here with GNU Radio itself."""
    import zmq

    from orbitlink.tests.test_zmq_iq import GR_SAMPLES, GR_TAGGED_MESSAGE

    gr, addr = gr_publishes(tmp_path, GR_SAMPLES, [
        (0, "rx_time", "time", (1700000000, 0.25), ""),
        (2, "rx_freq", "double", 437.5e6, "src")], pass_tags=True, throttle=1000)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.subscribe(b"")
    sub.connect(addr)
    try:
        time.sleep(0.5)
        gr.go()
        assert sub.poll(TIMEOUT * 1000)
        assert sub.recv_multipart() == [GR_TAGGED_MESSAGE]
        gr.expect("done")
        gr.finish()
    finally:
        ctx.destroy(0)


def gr_subscribes(tmp_path, address, n, pass_tags=False, key=""):
    out = tmp_path / "got.cf32"
    gr = Gr(GR_SUB, json.dumps({"address": address, "n": n, "pass_tags": pass_tags,
                                "key": key, "out": str(out)}))
    gr.expect("started")
    return gr, out


@pytest.mark.parametrize("key", ["", "iq"])
def test_our_sink_into_gnuradio_sub_source(tmp_path, key):
    x = signal(150_001, seed=3)
    with ZmqIqSink("tcp://127.0.0.1:*", key=key, policy="block") as snk:
        gr, out = gr_subscribes(tmp_path, snk.address, len(x), key=key)
        assert snk.wait_for_subscriber(TIMEOUT)
        assert snk.write(x, timeout_s=TIMEOUT) == len(x)
        tags = gr.expect("tags")
        gr.finish()
    assert np.array_equal(np.fromfile(out, np.complex64), x)
    assert json.loads(tags) == []


def test_our_tag_headers_into_gnuradio(tmp_path):
    x = signal(50_000, seed=4)
    with ZmqIqSink("tcp://127.0.0.1:*", pass_tags=True, policy="block") as snk:
        gr, out = gr_subscribes(tmp_path, snk.address, len(x), pass_tags=True)
        assert snk.wait_for_subscriber(TIMEOUT)
        tags = stream_tags(0, time_ns=1_700_000_000_250_000_000, rate=48e3, freq=145.8e6,
                           srcid="orbitlink") + [Tag(33_333, "burst", (1, "a", 2.5), False)]
        assert snk.write(x, tags=tags, timeout_s=TIMEOUT) == len(x)
        got_tags = json.loads(gr.expect("tags"))
        gr.finish()
    assert np.array_equal(np.fromfile(out, np.complex64), x)
    assert got_tags == [
        [0, "rx_time", repr((1700000000, 0.25)), repr("orbitlink")],
        [0, "rx_rate", repr(48e3), repr("orbitlink")],
        [0, "rx_freq", repr(145.8e6), repr("orbitlink")],
        [33_333, "burst", repr((1, "a", 2.5)), repr(False)]]


def test_frames_through_gnuradio_equal_the_file(tmp_path):
    """A QPSK recording played by GNU Radio through pub_sink into orbitlink's receiver
    (radio_source over ZmqIqSource) gives the frames of decoding the file."""
    from orbitlink.drivers.radio_source import RadioSource
    from orbitlink.drivers.sigmf import open_recording
    from orbitlink.flowgraphs.encode import encode
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.links import load_link
    from orbitlink.flowgraphs.runner import decode_recording, run_graph
    from orbitlink.flowgraphs.sinks import CollectSink

    link = load_link("qpsk")
    rng = np.random.default_rng(7)
    payloads = [rng.integers(0, 256, 64, dtype=np.uint8).tobytes() for _ in range(20)]
    (tmp_path / "p.txt").write_text("".join(p.hex() + "\n" for p in payloads))
    encode(link, str(tmp_path / "p.txt"), str(tmp_path / "q"))
    rec = open_recording(str(tmp_path / "q.sigmf-meta"))
    want = [(p.data, p.meta["sample_index"]) for p in decode_recording(rec, link)]
    assert [d for d, _ in want] == payloads

    gr = Gr(GR_PUB_FILE, rec.data_path)
    addr = gr.expect("bound")
    radio = ZmqIqSource(addr, samp_rate=rec.samp_rate)
    source = RadioSource(radio=radio, samp_rate=rec.samp_rate,
                         duration_s=(rec.num_samples + 0.5) / rec.samp_rate, timeout_s=0.1)
    sink = CollectSink()
    g = link_graph(link, "rx", rec.samp_rate, "iq", source=source, sinks=[sink])
    watchdog = threading.Timer(TIMEOUT, lambda: setattr(source, "stop_requested", True))
    watchdog.start()
    try:
        opened = threading.Event()

        def go_when_open(info):
            opened.set()

        # the radio subscribes when the graph opens it; GNU Radio starts half a second later
        threading.Timer(0.0, lambda: (opened.wait(TIMEOUT), time.sleep(0.5), gr.go())).start()
        res = run_graph(g, 1 << 14, on_open=go_when_open)
    finally:
        watchdog.cancel()
    gr.expect("done")
    gr.finish()
    assert res.items == rec.num_samples
    assert radio.counters.gaps == 0 and radio.counters.malformed == 0
    got = [(p.data, p.meta["sample_index"]) for p in sink.items]
    assert got == want
