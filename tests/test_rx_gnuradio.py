"""``orbitlink rx --gr-pdu`` with GNU Radio 3.10 (marker ``interop``): a real recording
replayed as the radio; a GNU Radio flowgraph (``zeromq.sub_msg_source`` -> a message block,
run with the system's ``/usr/bin/python3``: tools/gr_pdu_listener.py) and the reference subscriber (pyzmq and struct
only) receive the same frames that rx prints on stdout. ``--nodrop --wait-subscribers`` holds
rx until both are connected, so nothing is lost to the slow joiner."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orbitlink.tests.helpers import GR_PY, have_gnuradio
from tests.test_rx import REC, SUBSCRIBER, _ep, _rx

pytestmark = pytest.mark.interop

GR_LISTENER = Path(__file__).resolve().parents[1] / "tools" / "gr_pdu_listener.py"


@pytest.fixture(autouse=True, scope="module")
def _gnuradio():
    if not have_gnuradio():
        pytest.skip("GNU Radio (gnuradio.zeromq) not importable with /usr/bin/python3")


def test_rx_frames_reach_gnuradio_and_the_reference_subscriber():
    path = REC / "by701.wav"  # BY70-1, BPSK 9600 CCSDS concatenated, SSB audio
    gr_ep, bus = _ep(), _ep()
    gr = subprocess.Popen([GR_PY, str(GR_LISTENER), gr_ep], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    threading.Thread(target=lambda: [lines.append(x) for x in gr.stdout], daemon=True).start()
    ref = subprocess.Popen([sys.executable, str(SUBSCRIBER), bus, "--stop-on-event", "stop",
                            "--timeout", "60"], stdout=subprocess.PIPE, text=True)
    p = _rx("--link", "ccsds-concat-diff", "--hw", "loopback", "--device", f"file={path},rate=max",
            "--bus", bus, "--gr-pdu", gr_ep, "--nodrop", "--wait-subscribers", "30",
            "--station", "by70", "--tx-endpoint", "none", "--control-endpoint", "none")
    try:
        out, err = p.communicate(timeout=90)
        ref_out, _ = ref.communicate(timeout=30)
        end = time.monotonic() + 10
        want = [json.loads(x) for x in out.splitlines()]
        while len([x for x in lines if x.startswith("pdu")]) < len(want) and \
                time.monotonic() < end:
            time.sleep(0.1)
    finally:
        for q in (p, ref):
            if q.poll() is None:
                q.kill()
        gr.stdin.close()
        try:
            gr.wait(10)
        except subprocess.TimeoutExpired:
            gr.kill()
        gr_err = gr.stderr.read()
    assert p.returncode == 0, err
    assert len(want) >= 20  # gr-satellites decodes 24 frames from this recording
    got = [x.split() for x in lines if x.startswith("pdu")]
    assert got, gr_err[-3000:]
    assert [(int(g[1]), g[2]) for g in got] == [(w["sample_index"], w["hex"]) for w in want]
    assert ref_out.count("/frames frame seq=") == len(want)
    assert ref_out.splitlines()[-1].endswith("missing=0 malformed=0")
    print(err)
    print(ref_out)
