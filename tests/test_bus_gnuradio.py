"""GNU Radio 3.10 interop of the PDU bridge (marker ``interop``): a flowgraph run with the
system's ``/usr/bin/python3`` (``zeromq.sub_msg_source -> a message-port block``) receives the
frames of :class:`~orbitlink.flowgraphs.bus.GrPduBridge` and prints ``pmt.serialize_str`` of
each PDU: the bytes are ours exactly, and GNU Radio sees a PDU (a dict and a u8vector).

PUB/SUB's slow joiner: the bridge re-sends the whole set every 0.2 s until GNU Radio has printed
each frame (bounded at 60 s); duplicates are fine, every line must be one of our messages.
"""

import os
import queue
import subprocess
import threading
import time

import pytest

from orbitlink.flowgraphs.bus import GrPduBridge, pdu_bytes

from orbitlink.tests.helpers import GR_PY, have_gnuradio  # noqa: E402
TIMEOUT = 60

pytestmark = pytest.mark.interop


def _have_gnuradio() -> bool:
    return have_gnuradio()


@pytest.fixture(autouse=True, scope="module")
def _gnuradio():
    if not _have_gnuradio():
        pytest.skip("GNU Radio (gnuradio.zeromq) not importable with /usr/bin/python3")


_GR_SCRIPT = r"""
import sys
import pmt
from gnuradio import gr, zeromq


class Collect(gr.basic_block):
    def __init__(self):
        gr.basic_block.__init__(self, "collect", None, None)
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self.handle)

    def handle(self, msg):
        b = pmt.serialize_str(msg)
        if isinstance(b, str):
            b = b.encode("latin-1")
        ok = pmt.is_pair(msg) and pmt.is_dict(pmt.car(msg)) and pmt.is_u8vector(pmt.cdr(msg))
        n = len(pmt.u8vector_elements(pmt.cdr(msg))) if ok else -1
        print(b.hex(), int(ok), n, flush=True)


tb = gr.top_block()
src = zeromq.sub_msg_source(sys.argv[1], 100, False)
c = Collect()
tb.msg_connect((src, "out"), (c, "in"))
tb.start()
print("started", flush=True)
sys.stdin.read()
tb.stop()
tb.wait()
"""


def test_gnuradio_receives_bridge_pdus():
    frames = [({"sample_index": 1000 * i, "time_s": 0.25 * i, "snr_db": 11.5 + i,
                "crc_ok": True, "framing": "ax25", "hex": "ignored"}, bytes(range(i, i + 20)))
              for i in range(5)] + [({}, b"\x7e" * 3)]
    expected = {pdu_bytes(m, p).hex(): len(p) for m, p in frames}
    with GrPduBridge("tcp://127.0.0.1:*") as br:
        p = subprocess.Popen([GR_PY, "-c", _GR_SCRIPT, br.endpoint], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in p.stdout], daemon=True).start()
        seen: dict = {}
        try:
            end = time.monotonic() + TIMEOUT
            while len(seen) < len(expected) and time.monotonic() < end:
                for m, pl in frames:
                    br.publish_frame(m, pl)
                t = time.monotonic() + 0.2
                while time.monotonic() < t:
                    try:
                        line = lines.get(timeout=0.05)
                    except queue.Empty:
                        continue
                    f = line.split()
                    if f[0] == "started":
                        continue
                    assert f[0] in expected, f"GNU Radio got bytes we did not send: {line}"
                    assert f[1] == "1" and int(f[2]) == expected[f[0]]
                    seen[f[0]] = True
        finally:
            p.stdin.close()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        err = p.stderr.read()
    assert set(seen) == set(expected), err[-2000:]
    assert "Invalid PMT" not in err
