"""``orbitlink decode REC --plot DIR`` (issue 15 item 4): spectrum, waterfall, constellation or
eye diagram, and the frames on the time axis, for real recordings; the sinks behind them
measure what the pictures show."""

import json
from pathlib import Path

import numpy as np

from orbitlink.drivers.interfaces import StreamInfo
from orbitlink.flowgraphs.cli import main
from orbitlink.flowgraphs.sinks import FramesPlotSink, SpectrumSink, WaterfallSink
from orbitlink.modem.block import Pdu

REC = Path(__file__).resolve().parents[1] / "tests" / "data" / "recordings"


def test_decode_plot_writes_four_pictures_and_the_same_frames(tmp_path, capsys):
    args = [str(REC / "by701.wav"), "--link", "ccsds-concat-diff", "--json"]
    assert main(["decode", *args]) == 0
    plain = capsys.readouterr().out
    assert main(["decode", *args, "--plot", str(tmp_path)]) == 0
    cap = capsys.readouterr()
    assert cap.out == plain  # the pictures tap the graph; the frames do not change
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["by701-frames.png", "by701-spectrum.png", "by701-symbols.png",
                     "by701-waterfall.png"]
    for p in tmp_path.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
    assert cap.err.count("plot ") == 4 and len(plain.splitlines()) == 27


def _info(rate, kind, n):
    return StreamInfo(samp_rate=rate, out_type=kind, name="t", num_samples=n)


def test_audio_spectrum_is_one_sided_and_iq_two_sided():
    fs, n = 48000.0, 48000
    t = np.arange(n) / fs
    s = SpectrumSink(nfft=1024)
    s.open(_info(fs, "f32", n))
    s.write(np.cos(2 * np.pi * 3000 * t).astype(np.float32))
    f, p = s.psd()
    assert f[0] == 0 and f[-1] == fs / 2 and np.all(f >= 0)
    assert abs(f[np.argmax(p)] - 3000) < fs / 1024
    s = SpectrumSink(nfft=1024)
    s.open(_info(fs, "c64", n))
    s.write(np.exp(-2j * np.pi * 5000 * t).astype(np.complex64))
    f, p = s.psd()
    assert f[0] < 0 and abs(f[np.argmax(p)] + 5000) < fs / 1024


def test_waterfall_rows_follow_a_sweep_and_stay_bounded():
    fs = 48000.0
    n = int(10 * fs)
    t = np.arange(n) / fs
    f_inst = 1000 + 1000 * t  # 1 kHz to 11 kHz over 10 s
    x = np.exp(2j * np.pi * np.cumsum(f_inst) / fs).astype(np.complex64)
    w = WaterfallSink(nfft=512, rows=50)
    w.open(_info(fs, "c64", None))  # length unknown: 0.1 s rows, merged past 50
    for k in range(0, n, 10000):
        w.write(x[k:k + 10000])
    w.close()
    f, dt, img = w.image()
    assert 25 <= len(img) <= 50 and w.counters["rows"] == len(img)
    peaks = f[np.argmax(img, axis=1)]
    mid = (np.arange(len(img)) + 0.5) * dt
    assert np.all(np.abs(peaks - (1000 + 1000 * mid))[:-1] < 600)


def test_frames_plot_counts_each_kind(tmp_path):
    s = FramesPlotSink(path=str(tmp_path / "f.png"))
    s.open(_info(48000.0, "pdu", 480000))
    s.write([Pdu(b"a" * 10, {"time_s": 1.0, "crc_ok": True, "check": "crc", "snr_db": 9.0}),
             Pdu(b"b" * 10, {"time_s": 2.0, "crc_ok": False, "check": "crc", "snr_db": 3.0}),
             Pdu(b"c" * 10, {"time_s": 3.0, "crc_ok": False, "check": "none"})])
    s.close()
    assert [f[3] for f in s.frames] == ["ok", "failed", "none"]
    assert (tmp_path / "f.png").stat().st_size > 5000


def test_fsk_recording_gets_the_eye_diagram_of_its_frames(tmp_path, capsys):
    """DELPHINI-1 (AX100 ASM+Golay, 9k6 FSK receiver audio): the symbols picture is the eye
    of every decoded frame, open at the decision instant."""
    from orbitlink.flowgraphs import cli
    from orbitlink.flowgraphs.sinks import ConstellationSink

    made = []
    orig = ConstellationSink.close

    def close(self):
        made.append(self)
        orig(self)

    ConstellationSink.close = close
    try:
        assert cli.main(["decode", str(REC / "delphini1.wav"), "--link", "ax100-asm",
                         "--json", "--plot", str(tmp_path)]) == 0
    finally:
        ConstellationSink.close = orig
    frames = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    sink = made[0]
    assert sink._eye_frames == len(frames) >= 10  # every frame's eye was taken
    tr = np.concatenate(sink._eyes)
    assert tr.shape[1] == 17 and sink.counters["eye_traces"] == min(len(tr), 2000)
    mid = np.abs(tr[:, 8])
    assert np.mean(mid < 0.2 * np.percentile(mid, 95)) < 0.03  # open
    assert (tmp_path / "delphini1-symbols.png").stat().st_size > 20_000
