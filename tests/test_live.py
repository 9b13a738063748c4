"""Live mode (issue 12 item 1): the source in a thread of its own, a queue bounded in seconds
of signal; a radio's oldest samples are dropped and counted when the blocks fall behind, and
the frames keep the source's sample indices; SIGINT/SIGTERM stop within 2 s with the frames in
flight delivered; a paced replay gives the file's frames."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from orbitlink.drivers.radio_source import RadioSource
from orbitlink.flowgraphs.cli import main
from orbitlink.flowgraphs.sinks import CollectSink
from orbitlink.tests.test_radio_source import ScriptedRadio


def _recording(tmp_path, n=6):
    src = tmp_path / "p.txt"
    src.write_text("".join(f"{i + 16:02x}" * 64 + "\n" for i in range(n)))
    assert main(["encode", "--link", "qpsk", "--in", str(src), "--out",
                 str(tmp_path / "r.sigmf-meta")]) == 0
    return tmp_path / "r.sigmf-meta"


def _graph(tmp_path, capsys, device):
    g = tmp_path / "g.yaml"
    assert main(["expand", "--link", "qpsk", "-o", str(g)]) == 0
    doc = yaml.safe_load(g.read_text())
    doc["blocks"]["source"] = {"type": "radio_source",
                               "params": {"profile": "loopback", "device": device}}
    g.write_text(yaml.safe_dump(doc, sort_keys=False))
    capsys.readouterr()
    return g


def test_a_paced_replay_gives_the_files_frames(tmp_path, capsys):
    rec = _recording(tmp_path)
    g = _graph(tmp_path, capsys, f"file={rec}")
    t0 = time.perf_counter()
    assert main(["run", str(g), "--json"]) == 0
    dt = time.perf_counter() - t0
    got = capsys.readouterr()
    assert "live, queue" in got.err and "0 samples dropped" in got.err
    assert main(["decode", str(rec), "--json"]) == 0
    assert got.out == capsys.readouterr().out
    assert dt > 0.3  # paced: the recording lasts 0.41 s


class StallingSink(CollectSink):
    """A sink that stalls once (0.3 s): the blocks fall behind a radio that does not wait."""

    writes = 0

    def write(self, items):
        self.writes += 1
        if self.writes == 40:
            time.sleep(0.3)
        super().write(items)


class FastRadio(ScriptedRadio):
    """About 1 MS/s: 26 times the link's rate, and it never waits for the blocks."""

    def read(self, out, timeout_s=0.1):
        time.sleep(0.0005)
        return super().read(out, timeout_s)


def test_a_radio_that_outruns_the_blocks_loses_the_oldest_samples_counted(tmp_path):
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.links import load_link, random_payloads, transmit
    from orbitlink.flowgraphs.live import run_live

    link = load_link("qpsk")
    pays = random_payloads(link, np.random.default_rng(5), 60)
    b = transmit(link, pays)
    x = b.iq.astype(np.complex64)
    radio = FastRadio(x, link.samp_rate, per_read=512)
    src = RadioSource(radio=radio, read_size=512)
    out = StallingSink()
    g = link_graph(link, "rx", link.samp_rate, "iq", source=src, sinks=[out])
    res = run_live(g, chunk=512, queue_s=0.5)
    lv = res.counters["live"]
    assert lv["dropped_samples"] > 0 and lv["dropped_chunks"] > 0
    # every sample is accounted for: processed or dropped, and counted
    assert lv["samples_in"] == len(x) == lv["samples_processed"] + lv["dropped_samples"]
    assert lv["queue_max_samples"] <= lv["queue_capacity_samples"]
    assert src.gap_log.total == lv["dropped_samples"]
    good = [p for p in out.items if p.meta["crc_ok"]]
    assert 10 <= len(good) < 60, len(good)  # the frames outside the hole get through
    starts = np.array(b.frame_starts)
    for p in good:  # in the source's numbering, not the blocks'
        i = int(np.argmin(np.abs(starts - p.meta["sample_index"])))
        assert abs(p.meta["sample_index"] - starts[i] - link.sps / 2) < 2 * link.sps, p.meta
        assert bytes(p.data) == pays[i]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_a_live_run_within_two_seconds(tmp_path, capsys, sig):
    rec = _recording(tmp_path)
    g = _graph(tmp_path, capsys, f"file={rec},loop=1")  # paced, never ends by itself
    exe = Path(sys.executable).with_name("orbitlink")
    p = subprocess.Popen([str(exe), "run", str(g), "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        first = p.stdout.readline()  # a frame: the run is live
        assert first.startswith("{"), p.stderr.read()
        assert time.monotonic() < deadline
        p.send_signal(sig)
        t0 = time.monotonic()
        out, err = p.communicate(timeout=10)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert took < 2.0, took
    assert f"stopped by {signal.Signals(sig).name}" in err
    lines = [first] + out.splitlines()
    frames = [json.loads(x) for x in lines if x.strip()]
    assert len(frames) >= 1 and all(f["crc_ok"] for f in frames)
    # the indices keep counting across the loops of the replay
    idx = [f["sample_index"] for f in frames]
    assert idx == sorted(idx)
