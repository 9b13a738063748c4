"""``orbitlink tx`` (issue 12, "Commands"): bursts from a payload file or from bus
submissions, each a timed burst on a transmitting radio, pre-compensated for the uplink Doppler
by its transmit time. Through the loopback profile (the replay radio writing a SigMF file) and
through the real SoapySDR library with the test module ``orbitfake``."""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

from orbitlink.drivers.sigmf import SigmfWriter, open_recording
from orbitlink.flowgraphs import cli_tx
from orbitlink.flowgraphs.links import load_link, transmit
from orbitlink.flowgraphs.runner import decode_recording

PROFILES = Path(__file__).resolve().parents[1] / "hw-profiles"
TLE = str(Path(__file__).parent / "data" / "tle" / "iss_flock_2018.tle")
STATION = "52.0,4.37,10"
PAYLOADS = ["11" * 64, "22" * 64, "33" * 64]
LOOP = ["--link", "qpsk", "--hw", "loopback", "--freq", "437.5e6", "--gain", "0"]


def _payload_file(tmp_path, payloads=PAYLOADS):
    p = tmp_path / "p.txt"
    p.write_text("\n".join(payloads) + "\n")
    return p


def _run(capsys, argv):
    capsys.readouterr()
    rc = cli_tx.main(["tx", *[str(a) for a in argv]])
    out, err = capsys.readouterr()
    return rc, out, err


def _lines(out):
    return [json.loads(x) for x in out.splitlines()]


def _decode(path, link="qpsk"):
    rec = open_recording(path)
    return [bytes(p.data).hex() for p in decode_recording(rec, load_link(link))
            if p.meta.get("crc_ok")]


def _soapy():
    from orbitlink.tests import soapy_fake

    soapy_fake.require()


def _orbitfake_profile(tmp_path):
    from orbitlink.tests.soapy_fake import orbitfake_profile

    return orbitfake_profile(tmp_path)


@pytest.fixture
def no_device(monkeypatch):
    """Opening any radio fails the test: the refusals must come first."""
    import orbitlink.drivers.radio_sink as rs

    def opened(*a, **k):
        raise AssertionError("a device was opened before the checks refused")

    monkeypatch.setattr(rs, "radio_for_profile", opened)


# ------------------------------------------------------------------------------------------------
# refusals, before any device is opened


def _one_error(rc, err, *words):
    assert rc == 2, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("orbitlink: error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.mark.parametrize("mode", ["file", "bus"])
def test_nothing_transmits_without_the_flag(tmp_path, capsys, no_device, mode):
    from orbitlink.drivers.radio_sink import TRANSMIT_FLAG_REFUSAL

    src = ["--in", _payload_file(tmp_path)] if mode == "file" else \
        ["--from-bus", "--tx-endpoint", "tcp://127.0.0.1:0", "--duration", "5"]
    t0 = time.perf_counter()
    rc, out, err = _run(capsys, [*LOOP, "--device", f"tx_file={tmp_path}/out", *src])
    _one_error(rc, err, TRANSMIT_FLAG_REFUSAL)
    assert time.perf_counter() - t0 < 2.0 and not out
    assert not list(tmp_path.glob("out*"))


@pytest.mark.parametrize("hw,freq,gain,words", [
    ("rtlsdr", "437M", "10", ["receive-only"]),
    ("airspy-r2", "145.9M", "0", ["receive-only"]),
    ("hackrf", "433M", "10", ["433 MHz (occupying", "outside the allowed transmit ranges"]),
    ("hackrf", "437.996M", "10", ["occupying 437.98952-438.00248 MHz", "outside"]),
    ("hackrf", "437M", "45", ["45 dB is above the maximum"]),
])
def test_profile_refusals_before_the_device_opens(tmp_path, capsys, no_device, hw, freq, gain,
                                                   words):
    p = _payload_file(tmp_path)
    for flag in (["--transmit"], []):
        rc, out, err = _run(capsys, ["--link", "qpsk", "--hw", hw, "--freq", freq, "--gain",
                                     gain, "--in", p, *flag])
        _one_error(rc, err, *(words if flag or hw in ("rtlsdr", "airspy-r2")
                              else ["without --transmit"]))


@pytest.mark.parametrize("argv,words", [
    (["--in", "{p}", "--from-bus"], ["not allowed with"]),
    ([], ["--in FILE or --from-bus"]),
    (["--in", "{bad}"], ["line 1", "64-byte"]),
    (["--in", "{p}", "--tle", TLE], ["--station LAT,LON,ALT"]),
    (["--in", "{p}", "--station", "95,4,10", "--tle", TLE], ["latitude"]),
    (["--in", "{p}", "--station", "gs1", "--station", "gs2"], ["given twice"]),
    (["--from-bus", "--tx-endpoint", "tcp://10.0.0.1:5551"], ["needs CURVE keys"]),
    (["--in", "{p}", "--lead", "-1"], ["--lead"]),
])
def test_user_errors_are_one_sentence(tmp_path, capsys, no_device, argv, words):
    p = _payload_file(tmp_path)
    (tmp_path / "bad").mkdir()
    bad = _payload_file(tmp_path / "bad", ["1234"])
    argv = [a.format(p=p, bad=bad) for a in argv]
    capsys.readouterr()
    try:
        rc = cli_tx.main(["tx", *LOOP, "--transmit", *argv])
    except SystemExit as e:  # argparse's own refusals
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, (w, err)


# ------------------------------------------------------------------------------------------------
# bursts from a file


def test_file_bursts_into_the_loopback_recording(tmp_path, capsys):
    p = _payload_file(tmp_path)
    base = tmp_path / "out"
    t_start = time.time()
    rc, out, err = _run(capsys, [*LOOP, "--device", f"tx_file={base}", "--in", p,
                                 "--transmit", "--json", "--station", "gs1"])
    assert rc == 0, err
    res = _lines(out)
    assert [r["status"] for r in res] == ["sent"] * 3
    assert [r["index"] for r in res] == [0, 1, 2] and all(r["bytes"] == 64 for r in res)
    assert all(r["requested_time"] is None and r["freq_offset_hz"] is None for r in res)
    # bursts back to back from the lead on, each at the time it was given
    assert t_start < res[0]["tx_time"] < t_start + 5.0
    for a, b in zip(res, res[1:]):
        assert b["tx_time"] - a["tx_time"] == pytest.approx(a["duration_s"] + 0.02, abs=1e-3)
    counters = json.loads(err.strip().splitlines()[-1].split("orbitlink tx: ", 1)[1])
    assert counters["sent"] == 3 and counters["late"] == 0 and counters["radio_bursts_sent"] == 3
    # the capture: one annotated burst each, which decode back to the payloads
    meta = json.loads((tmp_path / "out.sigmf-meta").read_text())
    ann = meta["annotations"]
    assert [a["core:label"] for a in ann] == ["burst 0", "burst 1", "burst 2"]
    dt = [(b["orbitlink:time_ns"] - a["orbitlink:time_ns"]) / 1e9 for a, b in zip(ann, ann[1:])]
    assert dt == pytest.approx([b["tx_time"] - a["tx_time"] for a, b in zip(res, res[1:])],
                               abs=1e-6)
    assert _decode(tmp_path / "out.sigmf-meta") == PAYLOADS
    # each burst is the link's transmitter for its payload, sample for sample
    x = np.fromfile(tmp_path / "out.sigmf-data", np.complex64)
    ref = np.concatenate([transmit(load_link("qpsk"), [bytes.fromhex(h)]).iq for h in PAYLOADS])
    assert x.tobytes() == ref.astype(np.complex64).tobytes()


@pytest.mark.soapy
def test_file_bursts_through_soapysdr(tmp_path, capsys):
    _soapy()
    pf = _orbitfake_profile(tmp_path)
    cap = tmp_path / "cap.cf32"
    p = _payload_file(tmp_path)
    rc, out, err = _run(capsys, ["--link", "qpsk", "--hw", pf, "--freq", "437.5M", "--gain",
                                 "20", "--device", f"serial=txcmd{os.getpid()},txfile={cap}",
                                 "--in", p, "--transmit", "--json"])
    assert rc == 0, err
    res = _lines(out)
    assert [r["status"] for r in res] == ["sent"] * 3
    bursts = [json.loads(x) for x in open(str(cap) + ".bursts")]
    assert len(bursts) == 3 and not any(b["late"] or b["underflow"] for b in bursts)
    # timed bursts on the device's clock, as far apart as they were scheduled
    gaps = [(b["time_ns"] - a["time_ns"]) / 1e9 for a, b in zip(bursts, bursts[1:])]
    assert gaps == pytest.approx([b["scheduled_time"] - a["scheduled_time"]
                                  for a, b in zip(res, res[1:])], abs=1e-6)
    x = np.fromfile(cap, np.complex64)
    assert [b["count"] for b in bursts] == [len(x) // 3] * 3
    with SigmfWriter(tmp_path / "cap", 38400.0) as w:
        w.write(x)
    assert _decode(tmp_path / "cap.sigmf-meta") == PAYLOADS


@pytest.mark.soapy
def test_a_late_burst_is_reported_late_never_sent(tmp_path, capsys):
    _soapy()
    pf = _orbitfake_profile(tmp_path)
    cap = tmp_path / "cap.cf32"
    rc, out, err = _run(capsys, ["--link", "qpsk", "--hw", pf, "--freq", "437.5M", "--gain",
                                 "20", "--device",
                                 f"serial=txlate{os.getpid()},txfile={cap},late=1",
                                 "--in", _payload_file(tmp_path), "--transmit", "--json"])
    assert rc == 1, err
    res = _lines(out)
    assert [r["status"] for r in res] == ["late"] * 3
    assert all(r["tx_time"] is None and "late" in r["reason"] for r in res)
    counters = json.loads(err.strip().splitlines()[-1].split("orbitlink tx: ", 1)[1])
    assert counters["late"] == 3 and counters["sent"] == 0


# ------------------------------------------------------------------------------------------------
# bursts from the bus


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _submit(sock, seq, payload: bytes, meta=None):
    h = struct.pack("<4sBBHQqd", b"OLNK", 1, 5, 0, seq, 0, 0.0)
    sock.send_multipart([h, json.dumps(meta or {}).encode(), payload])


def _acks(sock, want, timeout=10.0):
    """Read tx-acks until ``want(acks)``; each ack is (topic, meta)."""
    got = []
    t_end = time.monotonic() + timeout
    while not want(got):
        left = t_end - time.monotonic()
        assert left > 0, f"acks so far: {got}"
        if sock.poll(int(left * 1000)):
            topic, header, meta, payload = sock.recv_multipart()
            assert struct.unpack("<4sBBHQqd", header)[2] == 4
            got.append((topic.decode(), json.loads(meta)))
    return got


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_from_bus_acks_and_a_clean_stop(tmp_path, sig):
    """Through the CLI in a process of its own: accepted then sent (with the transmit time)
    for good submissions, at the time asked for; malformed and bad ones rejected with a
    reason and counted; a signal stops it within 2 s, and the burst still waiting for its
    time gets its final ack."""
    port = _free_port()
    ep = f"tcp://127.0.0.1:{port}"
    base = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", "orbitlink.flowgraphs.cli_tx", "tx", *LOOP,
                          "--device", f"tx_file={base}", "--from-bus", "--tx-endpoint", ep,
                          "--station", "gs1", "--transmit", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ctx = zmq.Context.instance()
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    d.connect(ep)
    try:
        # wait until it serves (the first answer tells)
        t_end = time.monotonic() + 30
        while True:
            assert p.poll() is None, p.communicate()
            assert time.monotonic() < t_end
            d.send_multipart([b"x"])  # malformed: one part
            if d.poll(200):
                topic, _, meta, _ = d.recv_multipart()
                assert json.loads(meta)["status"] == "rejected"
                assert "malformed" in json.loads(meta)["reason"]
                break
        while d.poll(300):  # answers to the other probes
            d.recv_multipart()
        _submit(d, 1, bytes.fromhex(PAYLOADS[0]))  # as soon as possible
        at = time.time() + 1.0
        _submit(d, 2, bytes.fromhex(PAYLOADS[1]), {"tx_time": at})
        _submit(d, 3, b"\x01\x02")  # the link carries 64-byte payloads
        _submit(d, 4, bytes.fromhex(PAYLOADS[2]), {"tx_time": time.time() - 5})
        _submit(d, 5, bytes.fromhex(PAYLOADS[2]), {"tx_time": "soon"})
        far = time.time() + 60
        _submit(d, 6, bytes.fromhex(PAYLOADS[2]), {"tx_time": far})
        d.send_multipart([b"OLNK", b"{}", b""])  # malformed: a header that is not 32 bytes
        acks = _acks(d, lambda a: sum(m["status"] == "sent" for _, m in a) == 2
                     and len(a) >= 9)
        assert all(t == "gs1/qpsk/tx-ack" for t, _ in acks)
        by = {}
        for _, m in acks:
            by.setdefault(m.get("request_seq"), []).append(m)
        assert [m["status"] for m in by[1]] == ["accepted", "sent"]
        assert [m["status"] for m in by[2]] == ["accepted", "sent"]
        assert by[2][1]["tx_time"] == pytest.approx(at, abs=1e-3)  # when it was asked for
        assert by[1][1]["tx_time"] < at
        assert [m["status"] for m in by[3]] == ["rejected"] and "64-byte" in by[3][0]["reason"]
        assert "in the past" in by[4][0]["reason"]
        assert "not a UNIX time" in by[5][0]["reason"]
        assert [m["status"] for m in by[6]] == ["accepted"]
        assert sum("malformed" in m.get("reason", "") for m in by.get(None, [])) == 1
        t0 = time.monotonic()
        p.send_signal(sig)
        out, err = p.communicate(timeout=10)
        assert time.monotonic() - t0 < 2.0
        assert p.returncode == 0, err
        last = _acks(d, lambda a: len(a) >= 1, timeout=2)
        assert last[0][1]["request_seq"] == 6 and last[0][1]["status"] == "rejected"
        assert "stopped" in last[0][1]["reason"]
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
        d.close(0)
    res = _lines(out)
    assert sorted(r["status"] for r in res) == ["cancelled", "rejected", "rejected", "rejected",
                                                "sent", "sent"]
    counters = json.loads(err.strip().splitlines()[-1].split("orbitlink tx: ", 1)[1])
    assert counters["sent"] == 2 and counters["rejected"] == 3 and counters["cancelled"] == 1
    assert counters["malformed"] >= 2
    assert _decode(str(base) + ".sigmf-meta") == PAYLOADS[:2]


# ------------------------------------------------------------------------------------------------
# Doppler pre-compensation


class _Clock:
    """UNIX time moved to the 2018 pass of the test TLE (the replay radio's clock is the
    monotonic one: the mapping holds)."""

    def __init__(self, at):
        self.off = at - time.time()

    def __call__(self):
        return time.time() + self.off


def _measured_offsets(y, x, rate):
    """Frequency (Hz) of y / x at its first and last sample: a line fitted to the
    instantaneous frequency of y conj(x) where x carries power."""
    z = y.astype(np.complex128) * np.conj(x.astype(np.complex128))
    w = np.abs(x[1:]) * np.abs(x[:-1]) > 0.05
    inst = np.angle(z[1:] * np.conj(z[:-1]))[w] * rate / (2 * np.pi)
    n = np.arange(1, len(z))[w]
    k, f0 = np.polyfit(n, inst, 1)
    return f0, f0 + k * (len(z) - 1)


def test_doppler_precompensation_by_transmit_time(tmp_path):
    from orbitlink.flowgraphs.uplink import BurstRefused, DopplerPlan, Uplink
    from orbitlink.modem import orbit

    link = load_link("qpsk")
    tca = orbit.parse_time("2018-05-16T01:32:00Z")  # the ISS pass over Delft, 82 deg
    clock = _Clock(tca - 30.0)  # approaching: ~ -5.5 kHz, changing by ~100 Hz/s at 437 MHz
    plan = DopplerPlan.load(TLE, "ISS (ZARYA)", STATION, 437.0e6, min_el_deg=10.0)
    done = []
    up = Uplink(link, "loopback", freq=437.0e6, gain=0, device=f"tx_file={tmp_path}/out",
                transmit=True, doppler=plan, clock=clock,
                on_result=lambda r, tag: done.append(r))
    pays = [bytes.fromhex(h) for h in PAYLOADS[:2]]
    with up:
        accepted = [up.submit(pays[0]), up.submit(pays[1], clock() + 1.0)]
        up.wait_idle()
        # below the mask: an hour earlier the ISS is below the horizon
        with pytest.raises(BurstRefused, match="elevation"):
            up.submit(pays[0], clock() + 1800)
    assert [r.status for r in done] == ["sent", "sent"] and up.counters["rejected"] == 1
    up_pred = orbit.DopplerPredictor(plan.sat, plan.station, 437.0e6, uplink=True)
    rec = open_recording(tmp_path / "out.sigmf-meta")
    y = np.concatenate(list(rec.chunks()))
    x = transmit(link, [pays[0]]).iq.astype(np.complex64)
    for i, r in enumerate(done):
        assert r is accepted[i] and r.tx_time == pytest.approx(r.scheduled_time, abs=1e-6)
        t0, t1 = r.tx_time, r.tx_time + len(x) / link.samp_rate
        want0, want1 = (float(v) for v in up_pred(np.array([t0, t1])))
        assert -8e3 < want0 < -3e3 and abs(want1 - want0) > 10.0  # a real offset, and a ramp
        assert r.freq_offset_hz == pytest.approx(want0, abs=0.01)
        assert r.freq_offset_end_hz == pytest.approx(want1, abs=0.01)
        xi = transmit(link, [pays[i]]).iq.astype(np.complex64)
        yi = y[i * len(x):(i + 1) * len(x)]
        got0, got1 = _measured_offsets(yi, xi, link.samp_rate)
        assert got0 == pytest.approx(want0, abs=1.0)
        assert got1 == pytest.approx(want1, abs=1.0)


def test_doppler_beyond_the_sample_rate_is_refused(tmp_path):
    from orbitlink.flowgraphs.uplink import BurstRefused, DopplerPlan, Uplink
    from orbitlink.modem import orbit

    tca = orbit.parse_time("2018-05-16T01:32:00Z")
    plan = DopplerPlan.load(TLE, None, STATION, 2.2e9)  # +-50 kHz: more than 38.4 kHz holds
    up = Uplink(load_link("qpsk"), "loopback", freq=2.2e9, gain=0,
                device=f"tx_file={tmp_path}/out", transmit=True, doppler=plan,
                clock=_Clock(tca - 120))
    with pytest.raises(BurstRefused, match=r"--rate \d+"):
        up.submit(bytes.fromhex(PAYLOADS[0]))
    up = Uplink(load_link("qpsk"), "loopback", freq=2.2e9, gain=0, rate=124800,
                device=f"tx_file={tmp_path}/out", transmit=True, doppler=plan,
                clock=_Clock(tca - 120))
    assert up.submit(bytes.fromhex(PAYLOADS[0])).status == "accepted"


def test_the_first_burst_is_checked_before_the_device_opens(tmp_path, capsys, no_device):
    """With --tle, a satellite below the mask now is one sentence, and nothing is opened
    (the 2018 elements, today: the warning about their age, then the refusal or the check)."""
    rc, out, err = _run(capsys, [*LOOP, "--in", _payload_file(tmp_path), "--transmit", "--tle",
                                 TLE, "--station", STATION, "--min-el", "90"])
    assert rc == 2 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("orbitlink: error: the first burst cannot go")
