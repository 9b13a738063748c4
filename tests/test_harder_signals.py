"""Harder signals (issue 13 item 4), built where possible with another tool.

AFSK 1200 through a receiver with de-emphasis
    ``gen_packets -n 100 -r RATE`` (direwolf 1.7: 100 AX.25 packets, "The quick brown fox ...
    NNNN of 0100", with noise growing linearly over the file; deterministic), then a
    de-emphasis tilt: cascaded first-order RC low-passes (bilinear transform) of 750 us
    (the 2200 Hz tone 5.2 dB below the 1200 Hz tone), 75 + 750 us (7.2 dB) and 750 + 750 us
    (10.4 dB), at 44.1 and 48 kHz (:func:`deemphasize`). direwolf's ``atest`` (default
    demodulator, ``-F 0``) and ``orbitlink`` (link ``ax25-afsk1200``, nothing else given) decode
    the same files; ours must find at least as many. The receiver levels the tones itself
    (:class:`orbitlink.modem.audio.AfskEqualizer`).
"""

import re
import shutil
import subprocess

import numpy as np
import pytest

from orbitlink.drivers.sigmf import open_recording
from orbitlink.flowgraphs.links import load_link
from orbitlink.flowgraphs.runner import decode_recording
from orbitlink.modem.audio import AfskEqualizer, tilt_filter
from orbitlink.modem.fsk import AfskModulator

GEN_PACKETS = shutil.which("gen_packets")
ATEST = shutil.which("atest")


# ------------------------------------------------------------------------------------------------
# AFSK de-emphasis


def rc_lowpass(tau_s: float, fs: float):
    """First-order RC low-pass (time constant tau_s) by the bilinear transform: (b, a)."""
    wc, k = 1.0 / tau_s, 2.0 * fs
    return np.array([wc, wc]) / (k + wc), np.array([1.0, (wc - k) / (k + wc)])


def deemphasize(x, fs: float, taus_us) -> np.ndarray:
    from scipy.signal import lfilter

    y = np.asarray(x, np.float64)
    for tau in taus_us:
        b, a = rc_lowpass(tau * 1e-6, fs)
        y = lfilter(b, a, y)
    return y


def tilt_db(fs: float, taus_us) -> float:
    """Level of 2200 Hz relative to 1200 Hz after :func:`deemphasize` (dB, negative)."""
    from scipy.signal import freqz

    t = 0.0
    for tau in taus_us:
        _, h = freqz(*rc_lowpass(tau * 1e-6, fs), [1200.0, 2200.0], fs=fs)
        t += 20 * np.log10(abs(h[1]) / abs(h[0]))
    return float(t)


def test_tilt_filter_levels_the_tones():
    from scipy.signal import freqz

    for fs in (44100.0, 48000.0):
        for t in (-12.0, -5.0, 0.5, 5.2, 7.2, 10.4, 12.0):
            b, a = tilt_filter(t, fs, 1200.0, 2200.0)
            _, h = freqz(b, a, [1200.0, 1700.0, 2200.0], fs=fs)
            assert abs(20 * np.log10(abs(h[2]) / abs(h[0])) - t) < 0.01
            assert abs(abs(h[1]) - 1.0) < 1e-6  # unit gain between the tones


@pytest.mark.parametrize("taus", [(750,), (75, 750), (750, 750)])
def test_equalizer_measures_the_deemphasis(taus):
    """On our own AFSK (random bits, noise at 20 dB in the tone band) behind the de-emphasis,
    the equalizer reads the tilt within 0.5 dB."""
    rng = np.random.default_rng(5)
    fs = 48000.0
    x = AfskModulator(samp_rate=fs).run(rng.integers(0, 2, 2400).astype(np.uint8))
    x = x + 0.05 * rng.standard_normal(len(x))
    y = deemphasize(x, fs, taus)
    eq = AfskEqualizer(samp_rate=fs)
    eq.run(y.astype(np.float32))
    assert abs(eq.tilt_db_measured + tilt_db(fs, taus)) < 0.5, eq.tilt_db_measured


def _gen_packets(tmp_path, rate):
    from scipy.io import wavfile

    path = tmp_path / f"gp_{rate}.wav"
    subprocess.run([GEN_PACKETS, "-r", str(rate), "-n", "100", "-o", str(path)],
                   capture_output=True, check=True, timeout=120)
    return wavfile.read(path)[1]


def _atest_count(path) -> int:
    out = subprocess.run([ATEST, str(path)], capture_output=True, timeout=300).stdout
    out = re.sub(rb"\x1b\[[0-9;]*m", b"", out).decode("latin-1")
    return int(re.search(r"^(\d+) packets decoded", out, re.M).group(1))


def _ours(path) -> set[int]:
    msg = re.compile(rb"The quick brown fox jumps over the lazy dog!  (\d{4}) of 0100$")
    got = [bytes(p.data) for p in decode_recording(open_recording(path),
                                                   load_link("ax25-afsk1200"))
           if p.meta["crc_ok"]]
    nums = {int(m.group(1)) for f in got if (m := msg.search(f))}
    assert len(nums) == len(got)  # nothing else came out
    return nums


@pytest.mark.slow
@pytest.mark.interop
@pytest.mark.skipif(GEN_PACKETS is None or ATEST is None, reason="direwolf not installed")
@pytest.mark.parametrize("rate", [44100, 48000])
def test_afsk_deemphasis_at_least_atest(tmp_path, rate):
    """Measured (direwolf 1.7 atest vs ours, packets of 100):

    ========  ======  ============  ============  =============
    rate      flat    -5.2 dB       -7.2 dB       -10.4 dB
    ========  ======  ============  ============  =============
    44.1 kHz  67 / 75  65 / 65-66   64 / 69-70    64 / 69-70
    48 kHz    71 / 74  70 / 71      69 / 69       66 / 72
    ========  ======  ============  ============  =============

    (before the equalizer ours found 37/36 at -5.2 dB and 24/26 at -7.2 dB)."""
    from scipy.io import wavfile

    x = _gen_packets(tmp_path, rate)
    rows = []
    for taus in [(), (750,), (75, 750), (750, 750)]:
        y = deemphasize(x, rate, taus) if taus else x.astype(np.float64)
        y = np.round(y * (0.5 * 32767 / np.max(np.abs(y)))).astype(np.int16)
        path = tmp_path / f"de_{rate}_{'_'.join(map(str, taus)) or 'flat'}.wav"
        wavfile.write(path, rate, y)
        ref, ours = _atest_count(path), _ours(path)
        rows.append((tilt_db(rate, taus) if taus else 0.0, ref, len(ours)))
    print(rate, rows)
    for t, ref, n in rows:
        assert n >= ref, (rate, t, ref, n)
