"""The replay radio (drivers/replay.py): a recording standing in for a radio.

Every recording here holds sample ``i`` = ``i - 1j*i`` (exact in float32 up to 2^24), so a
read's samples say which stream positions they came from, and gaps can be checked exactly.
"""

import time

from pathlib import Path

import numpy as np
import pytest

from orbitlink.drivers.radio import RadioError, open_radio
from orbitlink.drivers.replay import DEFAULT_GAP, ReplayRadio
from orbitlink.drivers.sigmf import SigmfWriter, open_recording

REPO = Path(__file__).resolve().parents[1]

RATE = 100_000.0
T0 = "2026-03-01T12:00:00.25Z"
T0_NS = 1772366400_250_000_000


def ramp(n, start=0):
    i = np.arange(start, start + n, dtype=np.float64)
    return (i - 1j * i).astype(np.complex64)


@pytest.fixture
def rec(tmp_path):
    """0.5 s at 100 kHz: 50 000 samples."""
    base = tmp_path / "rec"
    with SigmfWriter(base, RATE, center_freq=437.5e6, datetime=T0) as w:
        w.write(ramp(50_000))
    return str(base) + ".sigmf-meta"


def drain(radio, size=4096, timeout_s=1.0, limit=10_000):
    """Read until "end" (or ``limit`` reads); the results and the samples of each."""
    buf = np.empty(size, np.complex64)
    results = []
    for _ in range(limit):
        r = radio.read(buf, timeout_s)
        results.append((r, buf[:r.n].copy()))
        if r.event == "end":
            break
    return results


def check_positions(results, n_rec):
    """Every sample is the recording's sample at its stream index (mod the length)."""
    for r, x in results:
        if r.n:
            want = np.arange(r.sample_index, r.sample_index + r.n) % n_rec
            assert np.array_equal(x.real, want.astype(np.float32)), r
            assert np.array_equal(x.imag, -want.astype(np.float32)), r


def test_paced_takes_real_time_and_max_does_not(rec):
    out = {}
    for rate in ("real", "max"):
        with ReplayRadio(file=rec, rate=rate) as r:
            r.start()
            t = time.monotonic()
            res = drain(r)
            out[rate] = (time.monotonic() - t, np.concatenate([x for _, x in res]))
            assert res[-1][0].event == "end"
            assert r.counters.samples == 50_000 and r.counters.dropped_samples == 0
    assert out["real"][0] >= 0.45, out["real"][0]  # a 0.5 s recording
    assert out["real"][0] < 2.0
    assert out["max"][0] < 0.1, out["max"][0]
    assert np.array_equal(out["real"][1], ramp(50_000))
    assert np.array_equal(out["max"][1], ramp(50_000))


def test_speed_factor(rec):
    with ReplayRadio(file=rec, rate="5x") as r:
        r.start()
        t = time.monotonic()
        res = drain(r)
        dt = time.monotonic() - t
    assert 0.08 <= dt < 0.5, dt  # 0.5 s at 5x
    assert sum(x.n for x, _ in res) == 50_000


def test_timeout_when_nothing_is_due(tmp_path):
    base = tmp_path / "slow"
    with SigmfWriter(base, 10.0) as w:  # 100 ms per sample
        w.write(ramp(5))
    with ReplayRadio(file=str(base)) as r:
        r.start()
        buf = np.empty(3, np.complex64)
        first = r.read(buf, timeout_s=0.0)
        assert (first.n, first.event, first.sample_index) == (0, "timeout", 0)
        second = r.read(buf, timeout_s=0.02)
        assert (second.n, second.event) == (0, "timeout")
        assert r.counters.timeouts == 2
        t = time.monotonic()
        third = r.read(buf[:1], timeout_s=1.0)
        assert third.n == 1 and third.event == "" and time.monotonic() - t < 0.2


def test_paced_read_returns_what_is_due_at_its_timeout(rec):
    with ReplayRadio(file=rec) as r:
        r.start()
        t = time.monotonic()
        res = r.read(np.empty(40_000, np.complex64), timeout_s=0.1)  # 0.4 s asked
        dt = time.monotonic() - t
        assert 0.09 <= dt < 0.3
        assert 0.08 * RATE <= res.n <= 0.3 * RATE
        assert res.sample_index == 0 and res.event == ""


def test_timestamps_from_the_recording_start(rec, tmp_path):
    with ReplayRadio(file=rec, rate="max") as r:
        info = r.open()
        assert info["datetime"].startswith("2026-03-01T12:00:00.25")
        assert info["num_samples"] == 50_000
        r.start()
        res = drain(r, size=1000)
    for x, _ in res[:-1]:
        assert x.time_ns == T0_NS + x.sample_index * 10_000  # 10 us per sample
    # no core:datetime: the clock starts at 0
    base = tmp_path / "nodate"
    with SigmfWriter(base, RATE) as w:
        w.write(ramp(100))
    with ReplayRadio(file=str(base), rate="max") as r:
        r.start()
        a = r.read(np.empty(10, np.complex64))
        b = r.read(np.empty(10, np.complex64))
    assert (a.time_ns, b.time_ns) == (0, 100_000)


def test_loop_keeps_counting(rec):
    with open_radio("replay", f"file={rec},rate=max,loop=1") as r:
        assert r.open()["num_samples"] is None
        r.start()
        buf = np.empty(7000, np.complex64)  # not a divisor of 50 000
        results, index = [], 0
        while index < 175_000:  # 3.5 passes
            res = r.read(buf)
            assert res.event == "" and res.gap == 0
            assert res.sample_index == index
            assert res.time_ns == T0_NS + index * 10_000
            results.append((res, buf[:res.n].copy()))
            index += res.n
        assert r.loops == 3
    check_positions(results, 50_000)


def test_gap_every_counted_exactly(rec):
    every, k = 10_000, 123
    with open_radio("replay", f"file={rec},rate=max,gap_every={every},gap={k}") as r:
        r.start()
        res = drain(r, size=3000)
        c = r.counters
    check_positions(res, 50_000)
    gaps = [x for x, _ in res if x.gap]
    assert [g.sample_index for g in gaps] == [m * every + k for m in (1, 2, 3, 4)]
    assert all(g.gap == k and g.event == "" and g.n > 0 for g in gaps)
    assert c.gaps == 4 and c.dropped_samples == 4 * k and c.overflows == 0
    assert c.samples == 50_000 - 4 * k
    # the sample index counts the lost samples: every read starts where the last one ended
    # plus its gap
    nxt = 0
    for x, _ in res:
        assert x.sample_index == nxt + x.gap
        nxt = x.sample_index + x.n
    assert nxt == 50_000 and res[-1][0].event == "end"


def test_gap_at_indices_including_the_first_and_across_a_loop(rec):
    with ReplayRadio(file=rec, rate="max", loop=True, gap_at="0;777;49950;60000",
                     gap=100) as r:
        r.start()
        results, index, seen = [], 0, []
        buf = np.empty(5000, np.complex64)
        while index < 120_000:
            x = r.read(buf)
            if x.gap:
                seen.append((x.sample_index, x.gap))
            results.append((x, buf[:x.n].copy()))
            index = x.sample_index + x.n
        c = r.counters
    # the gap at 49950 runs 50 samples into the second pass
    assert seen == [(100, 100), (877, 100), (50_050, 100), (60_100, 100)]
    assert c.gaps == 4 and c.dropped_samples == 400
    check_positions(results, 50_000)


def test_overflow_reports(rec):
    with open_radio("replay", f"file={rec},rate=max,overflow_every=20000,gap=500") as r:
        assert r.reports_overflow and r.drop_detection == "sample_counter"
        r.start()
        res = drain(r, size=4096)
        c = r.counters
    check_positions(res, 50_000)
    events = [x for x, _ in res]
    ov = [i for i, x in enumerate(events) if x.event == "overflow"]
    assert len(ov) == 2
    for i in ov:
        assert events[i].n == 0 and events[i].gap == 0
        after = events[i + 1]  # the next read carries the loss
        assert after.gap == 500 and after.n > 0
        assert after.sample_index == events[i].sample_index
    assert [events[i + 1].sample_index for i in ov] == [20_500, 40_500]
    assert c.overflows == 2 and c.gaps == 2 and c.dropped_samples == 1000
    assert c.samples == 49_000


def test_mixed_silent_and_reported_gaps(rec):
    with ReplayRadio(file=rec, rate="max", gap_every=15_000, overflow_at=[7000], gap=50) as r:
        r.start()
        res = drain(r, size=2048)
        c = r.counters
    check_positions(res, 50_000)
    assert sum(x.gap for x, _ in res) == c.dropped_samples == 4 * 50
    assert c.gaps == 4 and c.overflows == 1


def test_gap_past_the_end_and_end_event(rec):
    with ReplayRadio(file=rec, rate="max", gap_at=[49_990], gap=100) as r:
        r.start()
        res = drain(r, size=10_000)
        last = res[-1][0]
        assert last.event == "end" and last.n == 0
        assert last.gap == 10 and last.sample_index == 50_000
        assert r.counters.dropped_samples == 10 and r.counters.gaps == 1
        again = r.read(np.empty(10, np.complex64))  # stays at the end
        assert again.event == "end" and again.n == 0 and again.gap == 0
    with ReplayRadio(file=rec, rate="real") as r:  # paced: no waiting for samples past the end
        r.start()
        t = time.monotonic()
        res = drain(r, size=30_000)
        assert time.monotonic() - t < 0.8
        assert [x.n for x, _ in res] == [30_000, 20_000, 0]


def test_transmit_into_a_file(rec, tmp_path):
    tx = tmp_path / "tx"
    with ReplayRadio(file=rec, rate="max", tx_file=str(tx)) as r:
        assert r.can_transmit
        r.start(rx=True, tx=True)
        r.read(np.empty(1000, np.complex64))  # the radio's clock is at sample 1000
        now = r.now_ns()
        assert now == T0_NS + 1000 * 10_000
        a, b, c = ramp(300, 1), ramp(200, 1000), ramp(50, 5000)
        assert r.write(a, time_ns=now + 5_000_000) == 300
        assert r.tx_status().event == "end_burst"
        # a burst in two pieces, as soon as possible
        assert r.write(b[:120], end_burst=False) == 120
        assert r.tx_status() is None
        assert r.write(b[120:], end_burst=True) == 80
        st = r.tx_status()
        assert st.event == "end_burst" and st.time_ns is None
        # too late: dropped, counted, reported
        assert r.write(c, time_ns=now - 1) == 50
        st = r.tx_status()
        assert st.event == "late" and st.time_ns == now - 1
        assert r.tx_status() is None
        tc = r.tx_counters
        assert (tc.samples, tc.bursts_sent, tc.late_bursts) == (550, 2, 1)
    got = open_recording(str(tx) + ".sigmf-meta")
    assert got.samp_rate == RATE and got.center_freq == 437.5e6
    assert np.array_equal(got.read(), np.concatenate([a, b]))
    anns = [(x["core:sample_start"], x["core:sample_count"], x["orbitlink:time_ns"])
            for x in got.annotations]
    assert anns == [(0, 300, now + 5_000_000), (300, 200, None)]
    assert [x["core:label"] for x in got.annotations] == ["burst 0", "burst 1"]


def test_transmit_needs_a_file(rec):
    with ReplayRadio(file=rec) as r:
        assert not r.can_transmit
        with pytest.raises(RadioError, match="tx_file"):
            r.start(tx=True)
        with pytest.raises(RadioError, match="cannot transmit"):
            r.write(ramp(10))


def test_buffers_checked_and_lifecycle(rec):
    r = ReplayRadio(file=rec, rate="max")
    r.open()
    with pytest.raises(RadioError, match="before start"):
        r.read(np.empty(10, np.complex64))
    r.start()
    for bad in (np.empty(10, np.complex128), np.empty(20, np.complex64)[::2],
                np.empty((2, 5), np.complex64), [0j] * 10):
        with pytest.raises(TypeError):
            r.read(bad)
    assert r.counters.reads == 0  # refused before anything happened
    r.close()


def test_configure(rec):
    with ReplayRadio(file=rec, rate="max") as r:
        from orbitlink.drivers.radio import RadioConfig

        got = r.configure(RadioConfig(samp_rate=RATE, gain=20))
        assert got.samp_rate == RATE and got.center_freq == 437.5e6 and got.gain == 20
        with pytest.raises(RadioError, match="100000 Hz"):
            r.configure(RadioConfig(samp_rate=2 * RATE))


@pytest.mark.parametrize("args, msg", [
    ("rate=max", "no recording"),
    ("file={rec},rate=2.4e6", "samp_rate"),
    ("file={rec},rate=fast-ish", "speed factor"),
    ("file={rec},gap_every=100,gap=100", "larger than gap"),
    ("file={rec},loop=maybe", "0 or 1"),
    ("file={rec},gap_at=1;x", "whole number"),
    ("file={rec},gain=3", "unknown device argument"),
])
def test_bad_device_args(rec, args, msg):
    with pytest.raises(RadioError, match=msg):
        r = open_radio("replay", args.format(rec=rec))
        r.open()


def test_device_args_parsed(rec):
    r = open_radio("replay", f"file={rec},rate=max,loop=1,gap_every=1000,gap=10,"
                             "gap_at=5;7000,overflow_every=3000,tx_file=t")
    assert (r.speed, r.loop, r.gap, r.gap_every, r.gap_at, r.overflow_every) == \
        (None, True, 10, 1000, [5, 7000], 3000)
    assert r.can_transmit and r.reports_overflow
    r = open_radio("replay", f"file={rec},rate=2x,loop=0,overflow_at=9")
    assert (r.speed, r.loop, r.gap, r.overflow_at) == (2.0, False, DEFAULT_GAP, [9])
    assert not r.can_transmit and r.reports_overflow
    r = open_radio("replay", f"file={rec},rate=realtime,txfile=t")  # orbitfake's spellings
    assert r.speed == 1.0 and r.tx_file == "t"


def test_raw_file_and_stream(tmp_path):
    raw = tmp_path / "x.ci16"
    v = (np.arange(2000, dtype=np.int16) * 8).reshape(-1, 2)
    v.tofile(raw)
    with open_radio("replay", f"file={raw},format=ci16_le,samp_rate=48000,rate=max") as r:
        r.start()
        res = drain(r, size=333)
        x = np.concatenate([s for _, s in res])
    assert np.allclose(x, (v[:, 0] + 1j * v[:, 1]) / 32768)
    with pytest.raises(RadioError, match="cannot loop"):
        with open(raw, "rb") as fh:
            from orbitlink.drivers.files import open_input

            ReplayRadio(recording=open_input("-", "ci16_le", 48000, stdin=fh), loop=1).open()


def test_audio_recording_plays_as_audio_and_decodes_like_the_file():
    """A receiver's audio (a real recording, mono WAV) replayed as a radio: the radio says its
    medium is audio, a radio_source with medium=audio feeds the link's audio receiver, and the
    frames are those of decoding the file; a graph that expects IQ is refused."""
    from orbitlink.drivers.radio_source import RadioSource
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.links import load_link
    from orbitlink.flowgraphs.runner import decode_recording, run_graph
    from orbitlink.flowgraphs.sinks import CollectSink

    path = str(REPO / "tests" / "data" / "recordings" / "swiatowid-ax25.wav")
    link = load_link("ax25-afsk1200")
    want = [p.data for p in decode_recording(open_recording(path), link)]
    assert len(want) == 2
    r = ReplayRadio(file=path)
    r.open()
    assert r.medium == "audio"
    r.close()
    sink = CollectSink()
    g = link_graph(link, "rx", 48000, "audio", source=RadioSource(
        driver="replay", device=f"file={path},rate=max", medium="audio"), sinks=[sink])
    run_graph(g, 1 << 14)
    assert [p.data for p in sink.items] == want
    g = link_graph(link, "rx", 48000, "iq", source=RadioSource(
        driver="replay", device=f"file={path},rate=max"), sinks=[CollectSink()])
    with pytest.raises(RadioError, match="audio samples, the graph expects iq"):
        run_graph(g, 1 << 14)


def test_radio_source_decodes_like_the_file(tmp_path):
    """A link's recording replayed through the graph's radio source (unpaced) gives the same
    frames as decoding the file."""
    from orbitlink.drivers.radio_source import RadioSource
    from orbitlink.flowgraphs.encode import encode
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.links import load_link
    from orbitlink.flowgraphs.runner import decode_recording, run_graph
    from orbitlink.flowgraphs.sinks import CollectSink

    payloads = [bytes([i]) * 64 for i in range(6)]
    out = tmp_path / "q"
    link = load_link("qpsk")
    (tmp_path / "p.txt").write_text("".join(p.hex() + "\n" for p in payloads))
    encode(link, str(tmp_path / "p.txt"), str(out))
    meta = str(out) + ".sigmf-meta"
    want = [p.data for p in decode_recording(open_recording(meta), link)]
    sink = CollectSink()
    rec = open_recording(meta)
    g = link_graph(link, "rx", rec.samp_rate, "iq", source=RadioSource(
        driver="replay", device=f"file={meta},rate=max"), sinks=[sink])
    run_graph(g, 1 << 14)
    got = [p.data for p in sink.items]
    assert got == want and len(got) == len(payloads)
