"""The SoapySDR driver through the real library and the test-only device module ``orbitfake``
(tests/soapy/OrbitFake.cpp, built into build/soapy by ``make setup`` or here on first use).

Every injected loss is counted exactly (overflows, timestamp gaps, LimeSDR-style status-only
drops), a radio without hardware time says it cannot count dropped samples, a recording received
through the device decodes to the file driver's frames at the same sample indices, a timed burst
is captured byte for byte at its time, a late one is reported late, Ctrl-C closes the device
within a second, and wrong buffers never reach the C call.

Without the SoapySDR binding or the means to build the module (not root, no apt) these tests are
skipped with the reason; with ``ORBITLINK_REQUIRE_SOAPY=1`` (CI: .ci/run) they fail instead.
"""

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from orbitlink.drivers.radio import RadioConfig, RadioError, check_buffer, open_radio
from orbitlink.drivers.soapy import SoapyRadio, device_report, list_devices
from orbitlink.tests import soapy_fake

pytestmark = pytest.mark.soapy

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fake():
    """The orbitfake module, built and loaded into this process."""
    return soapy_fake.require()


_serials = itertools.count()


def _args(**kw) -> dict:
    """Device args of a new device (SoapySDR hands out the same instance for equal args)."""
    a = {"driver": "orbitfake", "serial": f"t{os.getpid()}-{next(_serials)}"}
    a.update({k: str(v) for k, v in kw.items()})
    return a


def _radio(**kw) -> SoapyRadio:
    r = SoapyRadio(_args(**kw))
    r.open()
    return r


def _ramp(path: Path, n: int) -> np.ndarray:
    """A raw cf32 file whose sample k is k + 0j (exact in float32 up to 2**24)."""
    x = np.arange(n, dtype=np.float32).astype(np.complex64)
    x.tofile(path)
    return x


def _read_all(radio, size=4096, max_reads=100_000, timeout_s=0.5):
    """Every read's result and samples, until the device ends the stream."""
    buf = np.empty(size, np.complex64)
    out = []
    for _ in range(max_reads):
        r = radio.read(buf, timeout_s)
        out.append((r, buf[:r.n].copy()))
        if r.event == "end":
            return out
    raise AssertionError("the device never ended the stream")


def _sensor(radio, key) -> int:
    return int(radio.read_sensor(key))


def _encode(tmp_path, link="qpsk", n=4, seed=11):
    from orbitlink.flowgraphs.cli import main
    from orbitlink.flowgraphs.links import load_link, random_payloads

    pays = random_payloads(load_link(link), np.random.default_rng(seed), n)
    src = tmp_path / "payloads.txt"
    src.write_text("".join(p.hex() + "\n" for p in pays))
    out = tmp_path / f"{link}.sigmf-meta"
    assert main(["encode", "--link", link, "--in", str(src), "--out", str(out)]) == 0
    return out, pays


# ------------------------------------------------------------------------------------------------
# without the binding; the registry


def test_the_package_imports_without_soapysdr_and_says_what_is_missing():
    code = (
        "import sys; sys.modules['SoapySDR'] = None\n"  # import SoapySDR -> ImportError
        "import orbitlink.drivers.soapy as s\n"
        "from orbitlink.drivers.radio import RadioError, open_radio\n"
        "r = open_radio('soapy', 'driver=orbitfake,serial=9')\n"
        "assert isinstance(r, s.SoapyRadio) and r.device_args['serial'] == '9'\n"
        "try:\n    r.open()\nexcept RadioError as e:\n    print(e)\n"
        "else:\n    raise SystemExit('opened without SoapySDR')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    msg = p.stdout.strip()
    assert "SoapySDR Python binding cannot be imported" in msg and "python3-soapysdr" in msg
    assert "make setup" in msg and "\n" not in msg


def test_open_radio_builds_a_soapy_radio_from_a_device_string(fake):
    r = open_radio("soapy", "driver=orbitfake,serial=reg1,rate=max")
    assert isinstance(r, SoapyRadio)
    assert r.device_args == {"driver": "orbitfake", "serial": "reg1", "rate": "max"}
    info = r.open()
    try:
        assert info["driver"] == "orbitfake" and info["serial"] == "reg1"
        assert info["hardware"] == "OrbitFake" and info["label"] == "orbitfake reg1"
    finally:
        r.close()


def test_no_device_is_a_radio_error(fake):
    with pytest.raises(RadioError, match="no SoapySDR device could be opened with "
                                         "'driver=no-such-driver'"):
        SoapyRadio("driver=no-such-driver").open()
    with pytest.raises(RadioError, match="not open"):
        SoapyRadio(_args()).configure(RadioConfig(samp_rate=1e6))


# ------------------------------------------------------------------------------------------------
# what the device is


def test_list_devices_and_device_report(fake):
    serial = f"list{os.getpid()}"
    found = list_devices(f"driver=orbitfake,serial={serial}")
    assert len(found) == 1
    d = found[0]
    assert d["args"]["serial"] == serial and d["driver"] == "orbitfake"
    assert "error" not in d
    assert d["channels"] == {"rx": 1, "tx": 1}
    assert d["samp_rate_ranges"] == {"rx": [(1e3, 61.44e6)], "tx": [(1e3, 61.44e6)]}
    assert d["samp_rates"][:2] == [48e3, 250e3]
    assert d["freq_ranges"] == {"rx": [(1e6, 6e9)], "tx": [(47e6, 6e9)]}
    assert d["gain_ranges"] == {"rx": (0, 102), "tx": (0, 76)}
    assert d["gain_elements"] == {"rx": {"LNA": (0, 40, 8), "VGA": (0, 62, 2)},
                                  "tx": {"PAD": (0, 52, 1), "IAMP": (-12, 12, 1)}}
    assert d["antennas"] == {"rx": ["RX", "LNAW", "LNAH"], "tx": ["TX", "BAND1", "BAND2"]}
    assert d["agc"] == {"rx": True, "tx": False}
    assert d["has_hardware_time"] is True and d["full_duplex"] is True
    # the facts beyond the profile check
    assert d["can_transmit"] is True and d["drop_detection"] == "hardware_time"
    assert d["clock_sources"] == ["internal", "external"]
    assert d["bandwidth_ranges"] == {"rx": [(200e3, 56e6)], "tx": [(200e3, 56e6)]}
    json.dumps(d)  # plain data
    assert list_devices(f"driver=orbitfake,serial={serial}", probe=False)[0].keys() == \
        {"args", "driver", "label"}
    r = _radio(no_time=1)
    try:
        rep = device_report(r)
        assert set(rep) == {"channels", "samp_rate_ranges", "samp_rates", "freq_ranges",
                            "gain_ranges", "gain_elements", "antennas", "agc", "full_duplex",
                            "has_hardware_time"}
        assert rep["has_hardware_time"] is False
        assert rep["gain_elements"] == d["gain_elements"]
    finally:
        r.close()


ORBITFAKE_PROFILE = """\
format: 1
name: orbitfake
description: the test device
driver: orbitfake
device_args: {}
transmit: full_duplex
timestamps: hardware
overflow_reporting: readStream
sample_rates:
  ranges: [[1.0e3, %(max_rate)s]]
rx:
  channels: 1
  freq_ranges: [[1.0e6, 6.0e9]]
  gain_range: [0, 102]
  gains: {LNA: [0, 40, 8], VGA: [0, 62, 2]}
  antennas: [RX, LNAW]
  agc: true
tx:
  channels: 1
  freq_ranges: [[47.0e6, 6.0e9]]
  gain_range: [0, 76]
  gains: {PAD: [0, 52, 1]}
  antennas: [TX]
  agc: false
  allowed_freq_ranges: [[144.0e6, 146.0e6]]
  max_gain: 40
"""


def test_a_profile_is_checked_against_the_device_report(fake, tmp_path):
    from orbitlink.drivers import profiles

    r = _radio()
    try:
        rep = device_report(r)
        good = tmp_path / "orbitfake.yaml"
        good.write_text(ORBITFAKE_PROFILE % {"max_rate": "61.44e6"})
        profiles.load_profile(good).check_device(rep)
        bad = tmp_path / "fast.yaml"
        bad.write_text(ORBITFAKE_PROFILE.replace("name: orbitfake", "name: fast")
                       % {"max_rate": "100.0e6"})
        with pytest.raises(profiles.ProfileError, match=r"fast.yaml: sample_rates: .*100 M"):
            profiles.load_profile(bad).check_device(rep)
    finally:
        r.close()


def test_soapysdrutil_probes_the_module(fake):
    util = "/usr/bin/SoapySDRUtil"
    if not os.path.exists(util):
        pytest.skip("SoapySDRUtil (Debian soapysdr-tools) is not installed")
    p = subprocess.run([util, "--probe=driver=orbitfake"], capture_output=True, text=True,
                       timeout=60, env=soapy_fake.plugin_env())
    assert p.returncode == 0, p.stderr
    assert "driver=orbitfake" in p.stdout and "LNA gain range: [0, 40, 8] dB" in p.stdout


# ------------------------------------------------------------------------------------------------
# configuration


def test_configure_sets_and_reads_back_everything(fake):
    r = _radio()
    try:
        cfg = RadioConfig(samp_rate=2.4e6, center_freq=437.5e6, ppm=-12.5, bandwidth=2e6,
                          gain=30, gains={"LNA": 16}, agc=False, antenna="LNAW",
                          clock_source="external", time_source="pps")
        got = r.configure(cfg)
        assert got.samp_rate == 2.4e6 and r.samp_rate == 2.4e6 and got.bandwidth == 2e6
        # the device is tuned to the ppm-corrected frequency; the nominal one is reported
        assert r.dev.getFrequency(1, 0) == pytest.approx(437.5e6 * (1 - 12.5e-6), abs=1e-3)
        assert got.center_freq == pytest.approx(437.5e6, abs=1e-3)
        # the overall gain is distributed first (LNA 30, VGA 0), then LNA set to 16
        assert got.gains == {"LNA": 16, "VGA": 0} and got.gain == 16
        assert got.agc is False and got.antenna == "LNAW"
        assert got.clock_source == "external" and got.time_source == "pps"
        assert r.configure(RadioConfig(agc=True)).agc is True
        tx = r.configure(RadioConfig(center_freq=145.9e6, gains={"PAD": 40, "IAMP": -3},
                                     antenna="BAND2", samp_rate=1e6), direction="tx")
        assert tx.gains == {"PAD": 40, "IAMP": -3} and tx.antenna == "BAND2"
        assert r.tx_config is tx and r.config.antenna == "LNAW"
    finally:
        r.close()


@pytest.mark.parametrize("cfg,direction,msg", [
    (RadioConfig(samp_rate=100e6), "rx", r"RX sample rate 100 MHz is outside what the device "
                                         r"supports \(1 kHz to 61.44 MHz\)"),
    (RadioConfig(center_freq=20e6), "tx", r"TX frequency \(with 0 ppm\) 20 MHz is outside"),
    (RadioConfig(center_freq=6e9, ppm=10), "rx", r"RX frequency \(with 10 ppm\) 6.00006 GHz"),
    (RadioConfig(gains={"MIX": 3}), "rx", r"no RX gain element 'MIX' \(the device has LNA, VGA\)"),
    (RadioConfig(gains={"LNA": 41}), "rx", r"RX gain LNA 41 dB is outside .*\(0 dB to 40 dB\)"),
    (RadioConfig(gain=103), "rx", r"RX gain 103 dB is outside"),
    (RadioConfig(antenna="TX"), "rx", r"no RX antenna 'TX' \(the device has RX, LNAW, LNAH\)"),
    (RadioConfig(channel=1), "rx", r"no RX channel 1 \(the device has 1\)"),
    (RadioConfig(agc=True), "tx", r"no TX AGC"),
    (RadioConfig(clock_source="gpsdo"), "rx", r"no clock source 'gpsdo'"),
    (RadioConfig(bandwidth=100e3), "rx", r"RX bandwidth 100 kHz is outside"),
])
def test_configure_refuses_what_the_device_cannot_do_before_setting_anything(fake, cfg,
                                                                               direction, msg):
    r = _radio()
    try:
        before = r.configure(RadioConfig(samp_rate=2e6, center_freq=400e6), direction)
        bad = RadioConfig(**{**cfg.__dict__, "samp_rate": cfg.samp_rate or 3e6})
        with pytest.raises(RadioError, match=msg):
            r.configure(bad, direction)
        # nothing was applied: the valid rate of the refused configuration was not set
        assert r.configure(RadioConfig(), direction).samp_rate == before.samp_rate
    finally:
        r.close()


# ------------------------------------------------------------------------------------------------
# receive


def test_a_recording_received_through_the_device_decodes_as_the_file_does(fake, tmp_path):
    from orbitlink.drivers.radio_source import RadioSource
    from orbitlink.drivers.sigmf import open_recording
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.links import load_link
    from orbitlink.flowgraphs.runner import decode_recording, run_graph
    from orbitlink.flowgraphs.sinks import CollectSink

    meta, pays = _encode(tmp_path, "qpsk", n=4)
    rec = open_recording(meta)
    link = load_link("qpsk")
    want = list(decode_recording(rec, link))
    assert [bytes(p.data) for p in want] == pays

    # the samples themselves, read by hand: identical to the file, indices continuous
    r = _radio(file=meta, mtu=1000)
    r.configure(RadioConfig(samp_rate=rec.samp_rate))
    r.start()
    reads = _read_all(r, size=4096)
    r.close()
    x = np.concatenate([s for _, s in reads])
    assert x.tobytes() == rec.read().tobytes()
    idx = 0
    for res, s in reads:
        assert res.sample_index == idx and res.gap == 0 and len(s) <= 1000
        idx += res.n
    assert reads[-1][0].event == "end"
    assert r.counters.samples == rec.num_samples and r.counters.dropped_samples == 0

    # through the graph: the device as the link's source
    radio = SoapyRadio(_args(file=meta))
    src = RadioSource(radio=radio, samp_rate=rec.samp_rate)
    out = CollectSink()
    res = run_graph(link_graph(link, "rx", rec.samp_rate, "iq", source=src, sinks=[out]), 4096)
    got = out.items
    assert [bytes(p.data) for p in got] == [bytes(p.data) for p in want]
    for p, q in zip(got, want):
        for k in ("sample_index", "crc_ok", "snr_db", "freq_offset_hz"):
            assert p.meta[k] == q.meta[k], k
    assert res.counters["source"]["radio_samples"] == rec.num_samples
    assert res.counters["source"]["radio_overflows"] == 0
    assert radio.dev is None  # the source closed the device


def test_frames_clear_of_the_devices_gaps_decode_as_from_the_file_and_the_others_are_flagged(
        fake, tmp_path):
    from orbitlink.drivers.radio_source import RadioSource
    from orbitlink.drivers.sigmf import open_recording
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.links import load_link
    from orbitlink.flowgraphs.runner import decode_recording, run_graph
    from orbitlink.flowgraphs.sinks import CollectSink

    meta, pays = _encode(tmp_path, "qpsk", n=8, seed=4)
    rec = open_recording(meta)
    link = load_link("qpsk")
    want = {p.meta["sample_index"]: p for p in decode_recording(rec, link)}
    assert len(want) == 8
    # every 9th read of 1000 samples loses 300 samples, silently but for the timestamps
    radio = SoapyRadio(_args(file=meta, mtu=1000, gap_every=9, gap=300))
    src = RadioSource(radio=radio, samp_rate=rec.samp_rate)
    out = CollectSink()
    res = run_graph(link_graph(link, "rx", rec.samp_rate, "iq", source=src, sinks=[out]), 4096)
    gaps = src.gap_log.gaps  # (index after the gap, samples lost)
    # reads 1-8 deliver 0..7999, read 9 loses 8000..8299, and so on every 9300 samples
    assert gaps == [(8300 + 9300 * k, 300) for k in range(3) if 8000 + 9300 * k < 18349]
    assert rec.num_samples == 18349
    assert res.counters["source"]["radio_dropped_samples"] == 300 * len(gaps)
    assert res.counters["source"]["filled_samples"] == 300 * len(gaps)

    def hit(start, count):
        return any(i - n < start + count and i > start for i, n in gaps)

    clear = [a["core:sample_start"] for a in rec.annotations
             if not hit(a["core:sample_start"], a["core:sample_count"])]
    assert 0 < len(clear) < 8
    got = {p.meta["sample_index"]: p for p in out.items}
    for i, p in got.items():
        if "gaps" in p.meta:  # spans a gap: flagged with what was lost
            assert p.meta["gaps"] == 1 and p.meta["gap_samples"] == 300
        else:  # same frame, same sample index as from the file
            assert bytes(p.data) == bytes(want[i].data) and p.meta["crc_ok"]
    clear_idx = sorted(i for i in want if not hit(i - 2, 1120))
    assert clear_idx and all(i in got and "gaps" not in got[i].meta for i in clear_idx)


def test_injected_overflows_and_gaps_are_counted_exactly(fake, tmp_path):
    ramp = _ramp(tmp_path / "ramp.cf32", 400_000)
    r = _radio(file=tmp_path / "ramp.cf32", overflow_every=7, overflow_skip=1000,
               gap_every=5, gap=123)
    r.configure(RadioConfig(samp_rate=1e6))
    r.start()
    reads = _read_all(r, size=2048)
    c = r.counters
    assert _sensor(r, "overflows") >= 10 and _sensor(r, "gaps") >= 10
    assert c.overflows == _sensor(r, "overflows")
    assert sum(res.event == "overflow" for res, _ in reads) == c.overflows
    lost = _sensor(r, "overflow_samples") + _sensor(r, "gap_samples")
    assert c.dropped_samples == lost == sum(res.gap for res, _ in reads)
    assert c.samples + c.dropped_samples == _sensor(r, "rx_index") == len(ramp)
    # every sample is where its index says: the ramp's value is its index in the stream
    for res, s in reads:
        if res.n:
            assert np.array_equal(s.real, np.arange(res.sample_index, res.sample_index + res.n,
                                                    dtype=np.float32))
            assert res.time_ns is not None
    assert r.stats()["drop_detection"] == "hardware_time"
    r.close()


def test_lime_style_drops_reported_only_through_read_stream_status_are_counted(fake, tmp_path):
    _ramp(tmp_path / "ramp.cf32", 200_000)
    r = _radio(file=tmp_path / "ramp.cf32", status_drop_every=4, status_drop=500)
    r.configure(RadioConfig(samp_rate=1e6))
    r.start()
    reads = _read_all(r, size=4096)
    assert not any(res.event == "overflow" for res, _ in reads)  # readStream never says so
    assert _sensor(r, "status_drops") >= 10
    assert r.counters.overflows == _sensor(r, "status_drops")
    assert r.counters.dropped_samples == _sensor(r, "status_drop_samples")
    r.close()


def test_without_hardware_time_overflows_are_counted_and_drops_are_not_claimed(fake, tmp_path):
    _ramp(tmp_path / "ramp.cf32", 100_000)
    r = _radio(file=tmp_path / "ramp.cf32", no_time=1, overflow_every=5, gap_every=3, gap=50)
    assert r.has_hardware_time is False and r.drop_detection == "overflow_reports"
    with pytest.raises(RadioError, match="no hardware time"):
        r.hardware_time()
    r.configure(RadioConfig(samp_rate=1e6))
    r.start()
    reads = _read_all(r)
    assert r.counters.overflows == _sensor(r, "overflows") > 0
    assert _sensor(r, "gap_samples") > 0
    assert r.counters.dropped_samples == 0 and r.counters.gaps == 0  # cannot be known
    assert all(res.time_ns is None and res.gap == 0 for res, _ in reads)
    st = r.stats()
    assert st["hardware_time"] is False and st["drop_detection"] == "overflow_reports"
    r.close()
    # PlutoSDR-style: no time and no overflow reports -> nothing detectable, and it says so
    r = _radio(no_time=1, reports_overflow=0)
    assert r.drop_detection == "none" and r.reports_overflow is False
    r.close()


def test_epoch_sized_hardware_times_give_no_false_gaps(fake):
    r = _radio()
    r.set_hardware_time(1_767_225_600 * 10**9)  # 2026-01-01 in ns: beyond float64's ns grid
    r.configure(RadioConfig(samp_rate=61.44e6))
    r.start()
    buf = np.empty(4093, np.complex64)
    t = []
    for _ in range(300):
        res = r.read(buf)
        t.append(res.time_ns)
    assert t[0] > 1_767_225_600 * 10**9
    assert r.counters.dropped_samples == 0 and r.counters.gaps == 0
    r.close()


def test_realtime_pacing_and_timeouts(fake):
    r = _radio(rate="realtime")
    r.configure(RadioConfig(samp_rate=100e3))
    r.start()
    buf = np.empty(5000, np.complex64)
    t0 = time.perf_counter()
    n = 0
    while n < 20_000:
        n += r.read(buf, timeout_s=0.5).n
    assert time.perf_counter() - t0 >= 0.19  # 20000 samples at 100 kHz: 0.2 s
    res = r.read(np.empty(50_000, np.complex64), timeout_s=0.01)  # 0.5 s of signal in 10 ms
    assert res.event in ("", "timeout")
    assert res.n <= 2000
    r.stop()
    res = r.read(buf)
    assert res.event == "end" and res.n == 0  # stopped
    r.close()


def test_read_from_a_dedicated_thread_and_stop_from_another(fake):
    r = _radio(rate="realtime")
    r.configure(RadioConfig(samp_rate=1e6))
    r.start()
    results = []

    def reader():
        buf = np.empty(4096, np.complex64)
        while True:
            res = r.read(buf, 0.1)
            results.append(res)
            if res.event == "end":
                return

    th = threading.Thread(target=reader)
    th.start()
    time.sleep(0.2)
    t0 = time.perf_counter()
    r.stop()
    th.join(2)
    assert not th.is_alive() and time.perf_counter() - t0 < 0.5
    assert results[-1].event == "end" and sum(x.n for x in results) > 50_000
    r.close()


def test_stream_helper_closes_the_device_when_the_event_is_set(fake, tmp_path):
    log = tmp_path / "dev.log"
    r = _radio(rate="realtime", log=log)
    r.configure(RadioConfig(samp_rate=1e6))
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    n = sum(len(x) for _, x in r.stream(4096, stop))
    assert n > 50_000 and r.dev is None
    assert log.read_text().splitlines()[-3:] == ["deactivate rx", "close_stream rx",
                                                 f"unmake serial={r.info['serial']}"]


CTRL_C_SCRIPT = r"""
import atexit, sys, time
# when the stream is closed and the traceback printed (before the interpreter's own teardown,
# which is not the driver's to bound)
atexit.register(lambda: print(f"closed at {time.monotonic()!r}", file=sys.stderr, flush=True))
from orbitlink.drivers.soapy import SoapyRadio
from orbitlink.drivers.radio import RadioConfig
radio = SoapyRadio(driver="orbitfake", serial="sigint", rate="realtime", log=sys.argv[1])
radio.open()
radio.configure(RadioConfig(samp_rate=250e3))
for i, (res, x) in enumerate(radio.stream(4096, timeout_s=0.2)):
    if i == 3:
        print("reading", flush=True)
"""


def test_ctrl_c_stops_the_stream_and_closes_the_device_within_a_second(fake, tmp_path):
    log = tmp_path / "dev.log"
    p = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT, str(log)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=soapy_fake.plugin_env())
    try:
        assert p.stdout.readline().strip() == "reading", p.stderr.read()
        time.sleep(0.1)
        t0 = time.monotonic()  # CLOCK_MONOTONIC: one clock for both processes
        p.send_signal(signal.SIGINT)
        p.wait(timeout=5)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = p.stderr.read()
    assert "KeyboardInterrupt" in err
    dt = float(err.rsplit("closed at ", 1)[1].split()[0]) - t0
    assert dt < 1.0, f"{dt:.2f} s"
    assert log.read_text().splitlines()[-3:] == ["deactivate rx", "close_stream rx",
                                                 "unmake serial=sigint"]


@pytest.mark.parametrize("buf,msg", [
    (np.zeros(4096, np.float64), "complex64, not float64"),
    (np.zeros(4096, np.complex128), "complex64, not complex128"),
    (np.zeros(8192, np.complex64)[::2], "C-contiguous"),
    (np.zeros((2, 2048), np.complex64), "one-dimensional"),
    (np.frombuffer(bytes(8 * 64), np.complex64), "writeable"),
    ([0j] * 16, "numpy array"),
])
def test_wrong_buffers_are_refused_before_the_c_call(fake, tmp_path, buf, msg):
    r = _radio(txfile=tmp_path / "tx.cf32")
    r.start(rx=True, tx=True)
    reads = _sensor(r, "reads")
    with pytest.raises(TypeError, match=msg):
        r.read(buf)
    assert _sensor(r, "reads") == reads and r.counters.reads == 0  # never reached readStream
    if msg != "writeable":  # transmit only reads the buffer
        with pytest.raises(TypeError, match=msg):
            r.write(buf)
        assert _sensor(r, "tx_samples") == 0 and r.tx_counters.samples == 0
    r.close()
    # a buffer shorter than asked: read/write take the length from the array, so the check
    # that guards the other drivers refuses it too
    with pytest.raises(TypeError, match="fewer than the 4096"):
        check_buffer(np.zeros(100, np.complex64), 4096)


# ------------------------------------------------------------------------------------------------
# transmit


def _bursts(txfile: Path) -> list[dict]:
    return [json.loads(line) for line in Path(f"{txfile}.bursts").read_text().splitlines()]


def test_a_timed_burst_is_captured_byte_identical_at_its_time(fake, tmp_path):
    from orbitlink.drivers.sigmf import open_recording

    meta, _ = _encode(tmp_path, "qpsk", n=3)
    rec = open_recording(meta)
    x = rec.read()
    txfile = tmp_path / "tx.cf32"
    r = _radio(txfile=txfile)
    r.configure(RadioConfig(samp_rate=rec.samp_rate, center_freq=145.9e6), direction="tx")
    r.start(rx=False, tx=True)
    at = r.hardware_time() + 500_000_000  # half a second from now
    assert r.write(x, time_ns=at) == len(x) > 4096  # several writeStream calls
    t0 = time.perf_counter()
    st = r.tx_status(1.0)
    assert time.perf_counter() - t0 < 1.0
    assert st.event == "end_burst" and st.time_ns == at
    assert r.tx_status(0.0) is None
    # a second burst written in pieces: HAS_TIME on the first, END_BURST on the last
    at2 = at + 10**9
    half = len(x) // 2
    assert r.write(x[:half], time_ns=at2, end_burst=False) == half
    assert r.tx_status(0.05) is None  # not ended yet
    assert r.write(x[half:], end_burst=True) == len(x) - half
    st2 = r.tx_status(1.0)
    assert st2.event == "end_burst" and st2.time_ns == at2
    assert r.tx_counters.bursts_sent == 2 and r.tx_counters.samples == 2 * len(x)
    r.close()
    data = Path(rec.data_path).read_bytes()
    assert txfile.read_bytes() == data + data
    assert _bursts(txfile) == [
        {"burst": 0, "offset": 0, "count": len(x), "time_ns": at, "late": False,
         "underflow": False},
        {"burst": 1, "offset": len(x), "count": len(x), "time_ns": at2, "late": False,
         "underflow": False}]


def test_a_late_burst_is_reported_late_and_not_sent(fake, tmp_path):
    txfile = tmp_path / "tx.cf32"
    r = _radio(txfile=txfile)
    r.start(rx=False, tx=True)
    r.set_hardware_time(10 * 10**9)
    x = np.ones(3000, np.complex64)
    assert r.write(x, time_ns=5 * 10**9) == 3000
    st = r.tx_status(1.0)
    assert st.event == "late" and st.time_ns == 5 * 10**9
    assert r.tx_counters.late_bursts == 1 and r.tx_counters.bursts_sent == 0
    # on time: sent
    at = r.hardware_time() + 10**8
    r.write(x, time_ns=at)
    assert r.tx_status(1.0).event == "end_burst"
    r.close()
    assert [b["late"] for b in _bursts(txfile)] == [True, False]
    assert txfile.stat().st_size == 3000 * 8  # only the burst on time
    # late=1: every burst late, whatever its time
    r = _radio(late=1)
    r.start(rx=False, tx=True)
    r.write(x, time_ns=r.hardware_time() + 10**9)
    assert r.tx_status(1.0).event == "late"
    r.close()


def test_underflows_are_reported_and_a_receive_only_start_cannot_transmit(fake):
    r = _radio(underflow_every=1)
    r.start(rx=False, tx=True)
    r.write(np.ones(100, np.complex64))  # untimed
    events = [r.tx_status(1.0), r.tx_status(1.0)]
    assert [e.event for e in events] == ["underflow", "end_burst"]
    assert events[1].time_ns is None
    assert r.tx_counters.underflows == 1 and r.tx_counters.bursts_sent == 1
    r.close()
    r = _radio()
    r.start(rx=True)
    with pytest.raises(RadioError, match="TX stream is not started"):
        r.write(np.ones(10, np.complex64))
    assert r.tx_status() is None
    r.close()
