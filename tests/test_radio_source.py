"""A radio as a graph's source: gaps of known length filled with zeros so that sample indices
stay the radio's, every gap logged, frames that span one flagged in their metadata."""

import numpy as np
import pytest

from orbitlink.drivers.radio import GapTracker, Radio, RadioConfig, ReadResult, check_buffer
from orbitlink.drivers.radio_source import RadioSource


class ScriptedRadio(Radio):
    """Plays an array; drops ``drops`` = {index: length} samples (reporting the jump in
    sample_index, as a radio with hardware time does)."""

    drop_detection = "hardware_time"

    def __init__(self, x, rate, drops=None, per_read=1000):
        super().__init__()
        self.x, self.rate, self.drops, self.per_read = x, rate, dict(drops or {}), per_read
        self.pos = 0
        self.closed = False

    def configure(self, cfg):
        return RadioConfig(samp_rate=self.rate)

    def start(self, rx=True, tx=False):
        pass

    def read(self, out, timeout_s=0.1):
        check_buffer(out, what="receive buffer")
        gap = 0
        for at, n in self.drops.items():
            if self.pos <= at < self.pos + self.per_read:  # lose n samples from 'at' on
                k = at - self.pos
                if k:
                    out[:k] = self.x[self.pos:at]
                    r = ReadResult(k, self.pos)
                    self.pos = at
                    return r
                gap = n
                self.pos += n
                del self.drops[at]
                break
        if self.pos >= len(self.x):
            return ReadResult(0, self.pos, event="end")
        k = min(len(out), self.per_read, len(self.x) - self.pos)
        out[:k] = self.x[self.pos:self.pos + k]
        r = ReadResult(k, self.pos, gap=gap)
        self.pos += k
        self.counters.dropped_samples += gap
        self.counters.gaps += bool(gap)
        return r

    def close(self):
        self.closed = True


def _rx(link_name, x, rate, **kw):
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.links import load_link
    from orbitlink.flowgraphs.runner import run_graph
    from orbitlink.flowgraphs.sinks import CollectSink

    link = load_link(link_name)
    radio = ScriptedRadio(x, rate, **kw)
    src = RadioSource(radio=radio)
    out = CollectSink()
    g = link_graph(link, "rx", rate, "iq", source=src, sinks=[out])
    res = run_graph(g, 4096)
    return out.items, src, radio, res


def test_frames_that_span_a_gap_are_flagged_and_indices_stay_the_radios():
    from orbitlink.flowgraphs.links import load_link, random_payloads, transmit

    link = load_link("qpsk")
    pays = random_payloads(link, np.random.default_rng(3), 6)
    b = transmit(link, pays)
    x = b.iq.astype(np.complex64)
    ref, _, _, _ = _rx("qpsk", x, link.samp_rate)
    assert [p.data for p in ref] == pays
    assert not any("gaps" in p.meta for p in ref)
    # lose 300 samples in the middle of frame 3
    at = int(b.frame_starts[3] + b.frame_len / 2)
    got, src, radio, res = _rx("qpsk", x, link.samp_rate, drops={at: 300})
    assert radio.closed
    assert src.gap_log.gaps == [(at + 300, 300)] and src.gap_log.total == 300
    assert src.counters["filled_samples"] == 300
    assert res.counters["source"]["radio_dropped_samples"] == 300
    for p in got:
        i = int(np.argmin([abs(p.meta["sample_index"] - s) for s in b.frame_starts]))
        # the frames after the gap keep the radio's sample indices (zeros fill the gap)
        assert abs(p.meta["sample_index"] - b.frame_starts[i] - link.sps / 2) < 2 * link.sps
        if i == 3:
            assert p.meta.get("gaps") == 1 and p.meta["gap_samples"] == 300
        elif i in (0, 1, 5):
            assert "gaps" not in p.meta
    assert {bytes(p.data) for p in got} >= set(pays[:3]) | set(pays[4:])


def test_gap_tracker_counts_from_timestamps():
    g = GapTracker(2e6)
    assert [g.update(t, 1000) for t in (10**9, 10**9 + 500_000, 10**9 + 1_500_000)] == [0, 0,
                                                                                      1000]
    assert g.index == 4000
    # jitter under half a sample and time going backwards are not gaps
    assert g.update(10**9 + 2_000_000 + 100, 10) == 0
    assert g.update(10**9, 10) == 0


@pytest.mark.parametrize("bad", [np.zeros(10, np.complex128), np.zeros(20, np.complex64)[::2],
                                 np.zeros((2, 5), np.complex64), np.zeros(4, np.complex64)])
def test_buffers_are_checked_before_the_driver_sees_them(bad):
    with pytest.raises(TypeError):
        check_buffer(bad, 10, "receive buffer")
    r = ScriptedRadio(np.zeros(100, np.complex64), 1e3)
    if bad.ndim == 1 and bad.dtype == np.complex64 and bad.flags.c_contiguous:  # only short
        return
    with pytest.raises(TypeError):
        r.read(bad)


def test_gap_tracker_keeps_precision_at_epoch_times():
    """Hardware times of 2024 in ns (1.7e18) at 61.44 MS/s: no false gaps from float rounding,
    and a real one-sample gap is seen."""
    rate = 61.44e6
    t0 = 1_700_000_000 * 10**9 + 123
    g = GapTracker(rate)
    n = 4096
    gaps = [g.update(t0 + (k * n * 10**9) // 61_440_000 * 1 + 0, n) for k in range(2000)]
    assert sum(gaps) == 0
    k = 2000
    t = t0 + ((k * n + 1) * 10**9) // 61_440_000 + 1  # one sample lost
    assert g.update(t, n) == 1


def test_a_profile_checks_the_settings_before_the_radio_is_opened(tmp_path, capsys,
                                                                  monkeypatch):
    """radio_source with a profile: the loopback profile replays a recording (rate=max) into
    the link's receiver; the RTL-SDR profile refuses a rate it cannot do, before any device."""
    import json

    import yaml

    from orbitlink.drivers.profiles import ConfigRefused
    from orbitlink.flowgraphs.cli import main

    src = tmp_path / "p.txt"
    src.write_text("".join(f"{i:02x}" * 64 + "\n" for i in range(4)))
    assert main(["encode", "--link", "qpsk", "--in", str(src), "--out",
                 str(tmp_path / "r.sigmf-meta")]) == 0
    assert main(["decode", str(tmp_path / "r.sigmf-meta"), "--json"]) == 0
    want = capsys.readouterr().out
    g = tmp_path / "g.yaml"
    assert main(["expand", "--link", "qpsk", "-o", str(g)]) == 0
    doc = yaml.safe_load(g.read_text())
    doc["blocks"]["source"] = {"type": "radio_source", "params": {
        "profile": "loopback", "device": f"file={tmp_path / 'r.sigmf-meta'},rate=max"}}
    g.write_text(yaml.safe_dump(doc, sort_keys=False))
    capsys.readouterr()
    assert main(["run", str(g), "--json"]) == 0
    got = capsys.readouterr().out
    assert [json.loads(x)["hex"] for x in got.splitlines()] == \
        [json.loads(x)["hex"] for x in want.splitlines()]
    assert [json.loads(x)["sample_index"] for x in got.splitlines()] == \
        [json.loads(x)["sample_index"] for x in want.splitlines()]

    import orbitlink.drivers.radio as radio

    def opened(*a, **k):
        raise AssertionError("a device was opened before the checks refused")

    monkeypatch.setattr(radio, "radio_for_profile", opened)
    s = RadioSource(profile="rtlsdr", samp_rate=10e6, freq=437e6)
    with pytest.raises(ConfigRefused, match="rtlsdr"):
        s.open()
