"""The live view's data path without a browser (issue 15): spectrum rows and symbol sets on the
bus (levels, rate limits, best effort under XPUB_NODROP), the FSK eye, the view's state
(frames, counters, missed messages, Doppler measured against predicted), its websocket (the
protocol, browsers that vanish mid-stream, slow browsers), ``orbitlink view`` and ``rx --view``
from the command line, and the Doppler panel's points from a real pass-mode rx run."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

from orbitlink.drivers.interfaces import StreamInfo
from orbitlink.flowgraphs import bus as B
from orbitlink.flowgraphs.monitor import SpectrumMonitor, SymbolsMonitor, quantise_db, \
    spectrum_db
from orbitlink.flowgraphs.view import ViewServer, ViewState
from orbitlink.tests.helpers import BusSub, RxProcess, free_port, loopback_endpoint, \
    simulated_pass, start_view, wait_port

REPO = Path(__file__).resolve().parents[1]
REC = REPO / "tests" / "data" / "recordings"
TLE = str(REPO / "tests" / "data" / "tle" / "iss_flock_2018.tle")
_U32 = struct.Struct("<I")


# --------------------------------------------------------------------------------------------
# spectrum rows


def test_spectrum_db_puts_a_full_scale_tone_at_0_db_in_its_bin():
    fs, n = 48000.0, 1024
    t = np.arange(8 * n)
    z = np.exp(2j * np.pi * (100 / n) * t).astype(np.complex64)  # +100 bins from the centre
    db = spectrum_db(z, n, one_sided=False)
    assert len(db) == n and int(np.argmax(db)) == n // 2 + 100
    assert abs(db.max()) < 0.05
    assert np.median(db) < -60  # leakage of a Hann window far from the tone
    x = np.cos(2 * np.pi * (200 / (2 * n)) * t).astype(np.float32)  # real: one-sided
    db = spectrum_db(x, n, one_sided=True)
    assert len(db) == n and int(np.argmax(db)) == 200 and abs(db.max()) < 0.05
    del fs


def test_quantised_levels_give_back_the_db_within_half_a_step():
    rng = np.random.default_rng(1)
    db = rng.uniform(-110, -20, 1024)
    db0, step, lv = quantise_db(db)
    back = db0 + np.frombuffer(lv, np.uint8) * step
    assert len(lv) == 1024 and np.max(np.abs(back - db)) <= step / 2 + 1e-9


class _Pub:
    """Records what a monitor publishes."""

    def __init__(self):
        self.spectrum, self.symbols = [], []

    def publish_spectrum(self, station, link, meta, levels, sample_index=0, time=None):
        self.spectrum.append((meta, levels, sample_index))
        return True

    def publish_symbols(self, station, link, meta, values, sample_index=0, time=None):
        self.symbols.append((meta, values))
        return True


class _Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_spectrum_monitor_makes_ten_rows_a_second_of_signal_and_no_more_in_wall_time(
        monkeypatch):
    import orbitlink.flowgraphs.monitor as mon

    clock = _Clock()
    monkeypatch.setattr(mon._time, "monotonic", clock)
    fs, f0 = 48000.0, 6000.0
    m = SpectrumMonitor(publisher=_Pub(), nbins=1024, rows_per_s=10.0)
    m.open(StreamInfo(samp_rate=fs, out_type="c64", center_freq=437e6))
    chunk = 2400  # 50 ms
    t = np.arange(int(3 * fs))
    x = (0.5 * np.exp(2j * np.pi * f0 / fs * t)).astype(np.complex64)
    for i in range(0, len(x), chunk):  # at real time
        m.write(x[i:i + chunk])
        clock.t += chunk / fs
    rows = m.publisher.spectrum
    assert 29 <= len(rows) <= 30
    meta, lv, si = rows[-1]
    assert meta["nbins"] == 1024 == len(lv) and not meta["one_sided"]
    assert meta["center_freq"] == 437e6 and meta["samp_rate"] == fs
    k = int(np.argmax(np.frombuffer(lv, np.uint8)))
    assert abs((k - 512) * fs / 1024 - f0) <= fs / 1024  # the tone's frequency
    peak = meta["db0"] + lv[k] * meta["db_step"]
    assert abs(peak - 20 * np.log10(0.5)) < 0.6
    # ten times faster than real time: the wall clock, not the signal, sets the pace
    m2 = SpectrumMonitor(publisher=_Pub(), nbins=1024, rows_per_s=10.0)
    m2.open(StreamInfo(samp_rate=fs, out_type="c64"))
    for i in range(0, len(x), chunk):
        m2.write(x[i:i + chunk])
        clock.t += chunk / fs / 10
    assert 2 <= len(m2.publisher.spectrum) <= 4


def test_spectrum_monitor_on_audio_is_one_sided():
    m = SpectrumMonitor(publisher=_Pub(), nbins=1024, rows_per_s=10.0)
    m.open(StreamInfo(samp_rate=48000.0, out_type="f32"))
    x = np.cos(2 * np.pi * 1200 / 48000 * np.arange(9600)).astype(np.float32)
    m.write(x)
    meta, lv, _ = m.publisher.spectrum[0]
    assert meta["one_sided"]
    k = int(np.argmax(np.frombuffer(lv, np.uint8)))
    assert abs(k * 24000 / 1024 - 1200) <= 24000 / 1024


# --------------------------------------------------------------------------------------------
# symbols


def test_symbols_monitor_publishes_the_last_psk_symbols_as_f32_pairs(monkeypatch):
    import orbitlink.flowgraphs.monitor as mon
    from orbitlink.modem.block import SYM_DTYPE

    clock = _Clock()
    monkeypatch.setattr(mon._time, "monotonic", clock)
    m = SymbolsMonitor(publisher=_Pub(), points=300, sets_per_s=2.0)
    m.open(StreamInfo(samp_rate=9600.0, out_type="sym"))
    rng = np.random.default_rng(3)
    sent = []
    for _ in range(10):
        s = np.zeros(100, SYM_DTYPE)
        s["z"] = (rng.choice([1, -1], 100) + 1j * rng.choice([1, -1], 100)) / np.sqrt(2)
        sent.append(s["z"])
        m.write(s)
        clock.t += 0.3
    sets = m.publisher.symbols
    assert 4 <= len(sets) <= 5  # 3 s at two a second at most
    meta, payload = sets[-1]
    z = np.frombuffer(payload, "<f4").view(np.complex64)
    assert meta["form"] == "constellation" and meta["count"] == len(z) == 300
    # the last 300 symbols up to the write that published it, in order
    assert any(np.array_equal(z, np.concatenate(sent[:k]).astype(np.complex64)[-300:])
               for k in range(3, 11))


def test_fsk_demodulator_eye_traces_open_at_the_decision_instant():
    from orbitlink.modem.fsk import FskDemodulator, FskModulator

    rng = np.random.default_rng(5)
    bits = rng.integers(0, 2, 4000).astype(np.uint8)
    x = FskModulator(symbol_rate=1200.0, samp_rate=9600.0, deviation=600.0).run(bits)
    x = x + 0.05 * (rng.standard_normal(len(x)) + 1j * rng.standard_normal(len(x)))
    d = FskDemodulator(symbol_rate=1200.0, samp_rate=9600.0)
    m = SymbolsMonitor(publisher=_Pub(), demod=d, sets_per_s=50.0)
    m.open(StreamInfo(samp_rate=9600.0, out_type="f32"))
    soft = []
    for i in range(0, len(x), 2048):
        soft.append(d.process(x[i:i + 2048].astype(np.complex64)))
        m.write(soft[-1])
        m._wall -= 1.0  # as if time went by
    # the trace's middle point is the value the decision was made on: same sign as the soft
    # bit of that symbol, for every symbol kept
    soft = np.concatenate(soft)
    q = d.quality
    have = q._ring_idx >= 0
    assert have.sum() >= 1000
    assert np.array_equal(np.sign(q._ring[have, 8]), np.sign(soft[q._ring_idx[have]]))
    meta, payload = m.publisher.symbols[-1]
    assert meta["form"] == "eye" and meta["points"] == 17 and meta["traces"] == 128
    tr = np.frombuffer(payload, "<f4").reshape(meta["traces"], meta["points"])
    mid = tr[:, 8]
    up, lo = mid[mid > 0], mid[mid < 0]
    assert len(up) > 20 and len(lo) > 20
    # open eye: the rails are far apart against their spread
    assert (up.mean() - lo.mean()) > 6 * max(up.std(), lo.std())
    # the decision instant is where it is widest (the traces span the neighbours' instants,
    # at 0 and 2T, too); half a symbol away, transitions close it
    opening = [np.abs(tr[:, k]).min() for k in range(17)]
    assert 7 <= 4 + int(np.argmax(opening[4:13])) <= 9
    assert opening[8] > 3 * max(opening[4], opening[12])


# --------------------------------------------------------------------------------------------
# the bus: best effort under XPUB_NODROP


def test_monitor_kinds_are_never_waited_for_under_nodrop_and_are_counted():
    ep = loopback_endpoint()
    pub = B.BusPublisher(ep, nodrop=True, sndhwm=2, retry_timeout=2.0, sndbuf=4096)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 2)
    sub.setsockopt(zmq.RCVBUF, 4096)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(ep)
    try:
        assert pub.wait_subscribers(1, 5.0)
        row = bytes(1 << 19)
        worst = 0.0
        for _ in range(60):  # the subscriber reads nothing: the queues fill
            t = time.monotonic()
            pub.publish_spectrum("gs", "l", {"nbins": len(row)}, row)
            worst = max(worst, time.monotonic() - t)
        assert pub.monitor_dropped > 0 and pub.dropped == 0
        assert worst < 0.5  # never the 2 s a frame would wait
        assert pub.counters["monitor_dropped"] == pub.monitor_dropped
    finally:
        sub.close(0)
        ctx.term()
        pub.retry_timeout = 0.1
        pub.close()


def test_monitor_kinds_round_trip_through_the_envelope():
    parts = B.encode_message("gs", "qpsk", B.KIND_SPECTRUM, 3, {"nbins": 4}, b"\x00\x01\x02\x03")
    m = B.decode_message(parts)
    assert m.topic == "gs/qpsk/spectrum" and m.kind == 6 and m.seq == 3
    parts = B.encode_message("gs", "qpsk", B.KIND_SYMBOLS, 0, {"form": "eye"}, b"")
    assert B.decode_message(parts).topic == "gs/qpsk/symbols"


# --------------------------------------------------------------------------------------------
# the view's state


def _msg(kind, seq, meta, payload=b"", station="gs", link="ax25-afsk1200"):
    return B.decode_message(B.encode_message(station, link, kind, seq, meta, payload))


def test_view_state_frames_counters_rows_and_missed_messages():
    st = ViewState("tcp://127.0.0.1:1")
    ax = {"tnc2": "N0CALL>CQ:hello"}
    out = st.feed(_msg(1, 0, {"sample_index": 10, "time_s": 0.5, "crc_ok": True,
                              "check": "fcs", "snr_db": 12.5, "ax25": ax}, b"\x01\x02"))
    f = out[0]
    assert f["type"] == "frame" and f["ok"] and f["text"] == "N0CALL>CQ:hello"
    assert f["length"] == 2 and f["hex"] == "0102" and f["check"] == "fcs"
    st.feed(_msg(1, 3, {"sample_index": 20, "time_s": 1.0, "crc_ok": False}, b"\x03"))
    assert st.counters["missed"] == 2  # seq 1 and 2 never came
    row = st.feed(_msg(6, 0, {"nbins": 4, "db0": -90.0, "db_step": 0.5, "samp_rate": 48e3,
                              "center_freq": 0.0, "one_sided": True}, bytes([0, 10, 200, 5])))
    b = row[0]
    assert b[0] == 1
    h = _U32.unpack(b[1:5])[0]
    head = json.loads(b[5:5 + h])
    assert head["nbins"] == 4 and head["one_sided"] and b[5 + h:] == bytes([0, 10, 200, 5])
    assert st.feed(_msg(6, 1, {"nbins": 5}, bytes(4))) == []  # nbins does not match
    assert st.counters["malformed"] == 1
    st.feed(_msg(2, 0, {"samples_in": 48000, "overflows": 0}))
    snap = st.snapshot()
    assert [m["type"] for m in snap if isinstance(m, dict)][:3] == ["hello", "frame", "frame"]
    assert snap[-1] == b and st.stats["stats"]["samples_in"] == 48000


def test_view_doppler_measured_is_the_residual_plus_the_predicted_doppler_removed():
    st = ViewState()
    # a frame before any stats waits: is there a prediction to add?
    assert [m["type"] for m in st.feed(_msg(1, 0, {"sample_index": 0, "time_s": 1.5,
                                                   "crc_ok": True, "freq_offset_hz": 12.0},
                                           b"x"))] == ["frame"]
    pts = []
    for i, (t, hz) in enumerate([(0.0, 1000.0), (1.0, 900.0), (2.0, 800.0)]):
        pts += st.feed(_msg(2, i, {"pass": {"signal_s": t, "doppler_hz": hz,
                                            "elevation_deg": 10 + t}}))
    dop = [p for p in pts if p["type"] == "doppler"]
    assert [p["predicted_hz"] for p in dop if p["predicted_hz"] is not None] == \
        [1000.0, 900.0, 800.0]
    meas = [p for p in dop if p["measured_hz"] is not None]
    assert len(meas) == 1 and meas[0]["t"] == 1.5 and meas[0]["measured_hz"] == 862.0
    # beyond the last prediction: it waits for the next one, or the end (then the last
    # segment is extended)
    out = st.feed(_msg(1, 1, {"sample_index": 0, "time_s": 3.0, "crc_ok": True,
                              "freq_offset_hz": -5.0}, b"y"))
    assert len(out) == 1
    out = st.feed(_msg(3, 0, {"event": "stop"}))
    assert out[1]["measured_hz"] == 695.0
    # without a pass, measured is the carrier offset itself
    st2 = ViewState()
    st2.feed(_msg(2, 0, {"samples_in": 1}))
    out = st2.feed(_msg(1, 0, {"sample_index": 0, "time_s": 1.0, "crc_ok": True,
                               "freq_offset_hz": -608.0}, b"z"))
    assert out[1]["measured_hz"] == -608.0 and out[1]["predicted_hz"] is None


# --------------------------------------------------------------------------------------------
# the server and its websocket


class _Served:
    """A ViewServer on a free port in a thread of its own, with a bus publisher feeding it."""

    def __init__(self):
        self.bus = loopback_endpoint()
        self.pub = B.BusPublisher(self.bus)
        self.srv = ViewServer(self.bus, "127.0.0.1", 0)
        self.ready = threading.Event()
        self.error = None
        self.loop = None

        def run():
            async def main():
                self.loop = asyncio.get_running_loop()
                await self.srv.serve(lambda url: self.ready.set())

            try:
                asyncio.run(main())
            except BaseException as e:  # noqa: BLE001 - the test reads it
                self.error = e
                self.ready.set()

        self.t = threading.Thread(target=run, daemon=True)
        self.t.start()
        assert self.ready.wait(10) and self.error is None, self.error
        self.url = self.srv.url

    def until_subscribed(self, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pub.publish_event("gs", "l", "ping")
            if self.srv.state.counters["events"]:
                return
            time.sleep(0.05)
        raise AssertionError("the view never received the bus")

    def close(self):
        self.loop.call_soon_threadsafe(self.srv.stop)
        self.t.join(10)
        self.pub.close()
        assert self.error is None, self.error


@pytest.fixture
def served():
    s = _Served()
    yield s
    s.close()


async def _read_ws(url, until, timeout=10.0):
    import aiohttp

    got = []
    async with aiohttp.ClientSession() as ses:
        async with ses.ws_connect(url.replace("http", "ws") + "ws") as ws:
            end = time.monotonic() + timeout
            while time.monotonic() < end and not until(got):
                try:
                    m = await ws.receive(timeout=max(0.01, end - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                if m.type == aiohttp.WSMsgType.TEXT:
                    got.append(json.loads(m.data))
                elif m.type == aiohttp.WSMsgType.BINARY:
                    got.append(m.data)
                else:
                    break
    return got


def test_websocket_sends_hello_state_then_the_live_messages(served, caplog):
    served.until_subscribed()
    served.pub.publish_frame("gs", "l", {"sample_index": 5, "time_s": 0.1, "crc_ok": True,
                                         "check": "crc16"}, b"\xaa\xbb", 5)
    got = []

    def feed():
        time.sleep(0.5)
        for i in range(3):
            served.pub.publish_spectrum("gs", "l", {"nbins": 8, "db0": -80.0, "db_step": 0.5,
                                                    "samp_rate": 1e3, "center_freq": 1e6},
                                        bytes(range(8)))
            served.pub.publish_stats("gs", "l", {"samples_in": 1000 * (i + 1)})
            time.sleep(0.05)

    t = threading.Thread(target=feed)
    t.start()
    got = asyncio.run(_read_ws(served.url, lambda g: sum(isinstance(x, bytes) for x in g) >= 3
                               and any(isinstance(x, dict) and x["type"] == "view"
                                       for x in g)))
    t.join()
    assert got[0]["type"] == "hello" and got[0]["bus"] == served.bus
    frames = [x for x in got if isinstance(x, dict) and x["type"] == "frame"]
    assert frames[0]["hex"] == "aabb" and frames[0]["check"] == "crc16"  # from the state
    rows = [x for x in got if isinstance(x, bytes)]
    assert len(rows) == 3 and all(r[0] == 1 and r[-8:] == bytes(range(8)) for r in rows)
    stats = [x for x in got if isinstance(x, dict) and x["type"] == "stats"]
    assert stats[-1]["stats"]["samples_in"] == 3000
    view = [x for x in got if isinstance(x, dict) and x["type"] == "view"][-1]
    assert view["clients"] == 1 and view["missed"] == 0 and view["connected"]
    assert not [r for r in caplog.records if r.levelno >= 40]


def test_browsers_that_vanish_mid_stream_or_lag_never_raise_in_the_server(served, caplog):
    """Raw sockets that upgrade to a websocket and then reset the connection while the server
    sends 64 kB rows at 200 a second; one that never reads (its queue overflows: counted); then
    a well-behaved client still gets everything and the server logged no error."""
    import base64

    served.until_subscribed()
    stop = threading.Event()

    def flood():
        while not stop.is_set():
            served.pub.publish_spectrum("gs", "l", {"nbins": 65536, "db0": -80.0,
                                                    "db_step": 0.5}, bytes(65536))
            time.sleep(0.005)

    t = threading.Thread(target=flood)
    t.start()
    host, port = served.url.split("//")[1].rstrip("/").split(":")
    socks = []
    try:
        for i in range(6):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect((host, int(port)))
            key = base64.b64encode(os.urandom(16)).decode()
            s.sendall((f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n").encode())
            assert b"101" in s.recv(256)
            if i % 2:  # reset (RST) while rows are being sent
                time.sleep(0.1)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            else:  # never reads
                socks.append(s)
        time.sleep(2.5)  # the non-readers' queues overflow
        view = served.srv.state.status(len(served.srv.clients), 0)
        assert view["clients"] == 3
        assert sum(c.dropped for c in served.srv.clients) > 0
        got = asyncio.run(_read_ws(served.url, lambda g: sum(isinstance(x, bytes)
                                                             for x in g) >= 200))
        assert sum(isinstance(x, bytes) for x in got) >= 200
    finally:
        stop.set()
        t.join()
        for s in socks:
            s.close()
    time.sleep(0.3)
    assert served.srv.counters["connections"] == 7
    assert not [r for r in caplog.records if r.levelno >= 40], \
        [r.getMessage() for r in caplog.records]


def test_state_json_and_the_page_are_served(served):
    import urllib.request

    page = urllib.request.urlopen(served.url, timeout=5).read().decode()
    assert "/static/view.js" in page
    js = urllib.request.urlopen(served.url + "static/view.js", timeout=5).read().decode()
    assert "WebSocket" in js
    st = json.load(urllib.request.urlopen(served.url + "state.json", timeout=5))
    assert st["messages"][0]["type"] == "hello" and st["view"]["clients"] == 0


# --------------------------------------------------------------------------------------------
# the command line


def _cli(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "orbitlink.flowgraphs.cli", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_view_refuses_a_busy_port_and_a_bad_bus_in_one_sentence():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        r = _cli("view", "--port", str(port), "--bus", loopback_endpoint())
        assert r.returncode == 2 and "cannot listen on 127.0.0.1" in r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
        r = _cli("rx", "--link", "ax25-afsk1200", "--hw", "loopback", "--device",
                 f"file={REC / 'swiatowid-ax25.wav'}", "--bus", loopback_endpoint(),
                 "--view", str(port), "--control-endpoint", "none", "--tx-endpoint", "none")
        assert r.returncode == 2 and "the view did not start" in r.stderr
        assert "cannot listen" in r.stderr and "Traceback" not in r.stderr
        assert r.stdout == ""  # the radio was never started
    finally:
        s.close()
    r = _cli("view", "--bus", "tcp://10.1.2.3", "--port", "0")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    for args, words in [(["--view", "70000"], "--view 70000"),
                        (["--view", "8080", "--monitor", "0"], "--monitor"),
                        (["--monitor", "500"], "--monitor 500"),
                        (["--view", "8080", "--bus", "tcp://127.0.0.1:*"], "fixed port")]:
        r = _cli("rx", "--link", "ax25-afsk1200", "--hw", "loopback", "--device",
                 f"file={REC / 'swiatowid-ax25.wav'}", "--control-endpoint", "none",
                 "--tx-endpoint", "none", *args)
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, \
            r.stderr


def test_rx_view_serves_an_fsk_eye_from_a_real_recording_and_stops_with_rx():
    """rx --view replaying COLUMBIA (US04: 9k6 G3RUH FSK, receiver audio) at real time for 4 s: the
    websocket carries eye diagrams (17 points a trace): the live one, then the first frame's,
    open; one-sided spectrum rows; the view process is gone when rx exits."""
    port = free_port()
    p = RxProcess(["--link", "ax25-fsk9600", "--hw", "loopback", "--device",
                   f"file={REC / 'us04.wav'}", "--bus", loopback_endpoint(), "--duration", "4",
                   "--view", str(port), "--control-endpoint", "none", "--tx-endpoint", "none"])
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_port(port)
        got = asyncio.run(_read_ws(url, lambda g: sum(isinstance(x, dict) and
                                                      x["type"] == "symbols" for x in g) >= 5,
                                   timeout=15))
        out, err = p.communicate(timeout=30)
    finally:
        p.stop()
    assert p.returncode == 0, err
    eyes = [x for x in got if isinstance(x, dict) and x["type"] == "symbols"]
    assert eyes and all(e["form"] == "eye" and e["sps"] == 8 for e in eyes)
    assert eyes[0]["of"] == "live"  # before the first frame (0.91 s in): the live eye
    framed = [e for e in eyes if e["of"] == "frame"]
    assert framed  # then the first frame's, held
    tr = np.array(framed[-1]["traces"])
    assert tr.shape == (128, 17)
    # at the decision instant the frame's eye is open: no trace near the threshold (receiver
    # noise between bursts puts about a fifth of them there)
    mid = np.abs(tr[:, 8])
    assert np.mean(mid < 0.2 * np.percentile(mid, 95)) < 0.03
    rows = [x for x in got if isinstance(x, bytes)]
    head = json.loads(rows[-1][5:5 + _U32.unpack(rows[-1][1:5])[0]])
    assert head["one_sided"] and head["nbins"] == 1024 and head["samp_rate"] == 48000
    assert "view on http://127.0.0.1:" in err and "Traceback" not in err
    time.sleep(0.5)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), 0.5).close()


def test_view_doppler_panel_points_from_a_pass_mode_rx_run(tmp_path):
    """A simulated 2.2 GHz ISS pass (real TLE) decoded by rx --tle --pass next, the view
    subscribed: its Doppler points hold the predicted Doppler from the stats (through the top
    of the pass) and a measured carrier per frame, which sits on the prediction."""
    meta, _ = simulated_pass(tmp_path / "pass")
    bus, port = loopback_endpoint(), free_port()
    view = start_view(bus, port)
    try:
        sub = BusSub(bus)
        p = RxProcess(["--link", "ccsds-concat", "--set", "modulation=qpsk", "--hw",
                       "loopback", "--device", f"file={meta},rate=max", "--tle", TLE,
                       "--station", "52.0,4.37,10", "--freq", "2.2G", "--pass", "next",
                       "--min-el", "60", "--bus", bus, "--nodrop", "--wait-subscribers",
                       "10", "--min-subscribers", "2", "--control-endpoint", "none",
                       "--tx-endpoint", "none", "--stats-interval", "0.2"])
        try:
            msgs = sub.read_until_stop(120, proc=p)
            out, err = p.communicate(timeout=60)
        finally:
            sub.close()
            p.stop()
        assert p.returncode == 0, err
        import urllib.request

        time.sleep(0.5)
        st = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/state.json",
                                              timeout=5))
    finally:
        view.terminate()
        view.wait(10)
    dop = [m for m in st["messages"] if m["type"] == "doppler"]
    pred = [(d["t"], d["predicted_hz"]) for d in dop if d["predicted_hz"] is not None]
    meas = [(d["t"], d["measured_hz"]) for d in dop if d["measured_hz"] is not None]
    bus_stats = [m[5] for m in msgs if m[1] == 2 and "pass" in m[5]]
    assert len(pred) == len(bus_stats) >= 5
    assert max(h for _, h in pred) > 10e3 and min(h for _, h in pred) < -10e3
    frames = [m for m in msgs if m[1] == 1 and m[5].get("freq_offset_hz") is not None]
    assert len(meas) == len(frames) >= 5
    pt, ph = np.array(pred).T
    for t, hz in meas:  # the measured carrier is on the predicted curve (the residual small)
        assert abs(hz - np.interp(t, pt, ph)) < 2000, (t, hz)
    view_counts = [m for m in st["messages"] if m["type"] == "frame"]
    assert len(view_counts) == sum(1 for m in msgs if m[1] == 1)


def test_reference_subscriber_reads_the_spectrum_and_symbols_with_struct_alone():
    """The reference subscriber (pyzmq, struct, json; no orbitlink on its path) on rx
    replaying Swiatowid (AFSK 1200, 1.6 s) at real time: spectrum rows summarised by their peak,
    eye sets by their RMS, no message missing on any topic."""
    bus = loopback_endpoint()
    ref = subprocess.Popen([sys.executable, str(REPO / "tools" / "reference_subscriber.py"),
                            bus, "--stop-on-event", "stop", "--timeout", "30"],
                           stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": ""}, cwd="/")
    p = RxProcess(["--link", "ax25-afsk1200", "--hw", "loopback", "--device",
                   f"file={REC / 'swiatowid-ax25.wav'}", "--bus", bus, "--nodrop",
                   "--wait-subscribers", "10", "--station", "sw", "--control-endpoint", "none",
                   "--tx-endpoint", "none"])
    try:
        out, err = p.communicate(timeout=60)
        ref_out, _ = ref.communicate(timeout=30)
    finally:
        p.stop()
        if ref.poll() is None:
            ref.kill()
    assert p.returncode == 0, err
    rows = [x for x in ref_out.splitlines() if x.startswith("sw/ax25-afsk1200/spectrum ")]
    eyes = [x for x in ref_out.splitlines() if x.startswith("sw/ax25-afsk1200/symbols ")]
    assert len(rows) >= 10 and all("[1024 bins, peak " in x for x in rows)
    assert eyes and all("[eye: 2176 values, rms " in x for x in eyes)
    summary = {x.split()[1]: x for x in ref_out.splitlines() if x.startswith("summary:")}
    assert "topic=sw/ax25-afsk1200/spectrum" in summary
    assert "topic=sw/ax25-afsk1200/symbols" in summary
    assert all("missing=0" in x for x in summary.values())
    assert "missing=0 malformed=0" in ref_out.splitlines()[-1]


def test_malformed_bus_messages_are_counted_and_the_view_goes_on(served):
    """Garbage on the bus the view reads (wrong part counts, bad headers, a spectrum row whose
    length is not its nbins, symbols not a whole number of f32, an eye whose traces do not fill
    its points, meta not JSON): each is counted as malformed; the next good frame is shown."""
    served.until_subscribed()
    H = struct.Struct("<4sBBHQqd")
    good_h = H.pack(b"OLNK", 1, 6, 0, 0, 0, 0.0)
    bad = [
        [b"gs/l/frames"],
        [b"gs/l/frames", b"short", b"{}", b""],
        [b"gs/l/frames", H.pack(b"XXXX", 1, 1, 0, 0, 0, 0.0), b"{}", b""],
        [b"gs/l/frames", H.pack(b"OLNK", 9, 1, 0, 0, 0, 0.0), b"{}", b""],
        [b"gs/l/spectrum", good_h, b'{"nbins": 8}', bytes(7)],
        [b"gs/l/symbols", H.pack(b"OLNK", 1, 7, 0, 0, 0, 0.0),
         b'{"form": "constellation"}', bytes(6)],
        [b"gs/l/symbols", H.pack(b"OLNK", 1, 7, 0, 1, 0, 0.0),
         b'{"form": "eye", "points": 17}', bytes(4 * 20)],
        [b"gs/l/frames", H.pack(b"OLNK", 1, 1, 0, 0, 0, 0.0), b"\xff{not json", b""],
    ]
    before = served.srv.state.counters["malformed"]
    with served.pub._lock:
        for parts in bad:
            served.pub._sock.send_multipart(parts)
    served.pub.publish_frame("gs", "l", {"sample_index": 1, "time_s": 0.0, "crc_ok": True},
                             b"\x42", 1)
    end = time.monotonic() + 5
    while time.monotonic() < end and served.srv.state.counters["frames"] < 1:
        time.sleep(0.05)
    assert served.srv.state.counters["malformed"] - before == len(bad)
    assert served.srv.state.frames[-1]["hex"] == "42"


def test_the_view_of_rx_ends_when_rx_is_killed():
    """rx --view killed with SIGKILL (no chance to stop its view): the view notices its parent
    is gone and stops within a few seconds, leaving no server behind."""
    port = free_port()
    p = RxProcess(["--link", "ax25-afsk1200", "--hw", "loopback", "--device",
                   f"file={REC / 'swiatowid-ax25.wav'},loop=1", "--bus", loopback_endpoint(),
                   "--view", str(port), "--control-endpoint", "none", "--tx-endpoint", "none"])
    try:
        wait_port(port)
        p.kill()
        p.wait(10)
        end = time.monotonic() + 8
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                time.sleep(0.2)
            except OSError:
                break
        else:
            raise AssertionError("the view outlived rx")
    finally:
        p.stop()


def test_a_browser_that_connects_late_gets_the_whole_state(served):
    """After a long pass (1,500 Doppler points, 150 frames, 80 rows) a new browser gets every
    kept item first: the Doppler points whole, the last 100 frames, the last 60 rows."""
    served.until_subscribed()
    for i in range(1500):
        served.pub.publish_stats("gs", "l", {"pass": {"signal_s": float(i),
                                                      "doppler_hz": 1000.0 - i}})
    for i in range(150):
        served.pub.publish_frame("gs", "l", {"sample_index": i, "time_s": float(i),
                                             "crc_ok": True}, bytes([i]), i)
    for i in range(80):
        served.pub.publish_spectrum("gs", "l", {"nbins": 4, "db0": -90.0, "db_step": 0.5},
                                    bytes(4))
    end = time.monotonic() + 10
    while time.monotonic() < end and served.srv.state.counters["rows"] < 80:
        time.sleep(0.05)
    got = asyncio.run(_read_ws(served.url, lambda g: sum(isinstance(x, bytes) for x in g)
                               >= 60))
    dop = [x for x in got if isinstance(x, dict) and x["type"] == "doppler"]
    frames = [x for x in got if isinstance(x, dict) and x["type"] == "frame"]
    assert len(dop) == 1500 and [d["predicted_hz"] for d in dop[:2]] == [1000.0, 999.0]
    assert [f["hex"] for f in frames] == [bytes([i]).hex() for i in range(50, 150)]
    assert sum(isinstance(x, bytes) for x in got) == 60
