"""orbitlink.modem.filters: the one filter-design module.

The designs it replaced are copied here verbatim (``_old_*``): the new functions must give the
same taps bit for bit, so every receiver that moved to them decodes exactly as before.
"""

import math

import numpy as np
import pytest

from orbitlink.modem import filters as F

# ------------------------------------------------------------------------------------------------
# the designs as they were, one per former home


def _old_audio_kaiser_lowpass(cutoff, transition, atten_db=60.0, max_taps=4095):  # modem/audio.py
    a = float(atten_db)
    beta = 0.1102 * (a - 8.7) if a > 50 else 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21)
    n = int(math.ceil((a - 8.0) / (2.285 * 2 * math.pi * max(transition, 1e-6)))) + 1
    n = min(max(n, 3), max_taps) | 1
    m = np.arange(n) - (n - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * m) * np.kaiser(n, beta)
    return h / h.sum()


def _old_doppler_lowpass(cutoff, ntap):  # modem/doppler.py _lowpass
    m = np.arange(ntap) - (ntap - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * m) * np.hamming(ntap)
    return h / h.sum()


def _old_fsk_lowpass_taps(cutoff, ntaps):  # modem/fsk.py lowpass_taps
    m = np.arange(ntaps) - (ntaps - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * m) * np.hanning(ntaps + 2)[1:-1]
    return h / h.sum()


def _old_mpower_prefilter(cutoff, ntap):  # modem/psk.py mpower_freq, inline
    m = np.arange(ntap) - (ntap - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * m) * np.hanning(ntap)
    return h / h.sum()


def _old_links_if_filter(fc):  # flowgraphs/links.py to_audio, inline (nt odd)
    nt = int(8 / fc) | 1
    m = np.arange(nt) - nt // 2
    h = 2 * fc * np.sinc(2 * fc * m) * np.hamming(nt)
    return h / h.sum()


def _old_resampler_table(fc, half, phases, beta):  # modem/audio.py _ResamplerBase._reset
    mu = np.arange(phases + 1)[:, None] / phases
    m = np.arange(2 * half)[None, :]
    d = m - half + 1 - mu
    wd = np.i0(beta * np.sqrt(np.clip(1 - (d / half) ** 2, 0, None))) / np.i0(beta)
    table = 2 * fc * np.sinc(2 * fc * d) * wd
    table /= table.sum(axis=1, keepdims=True)
    return table


def _old_interpolation_table(half, beta, phases):  # modem/channel.py interpolation_table
    mu = np.arange(phases + 1, dtype=np.float64) / phases
    j = np.arange(-half + 1, half + 1, dtype=np.float64)
    u = j[None, :] - mu[:, None]
    w = np.i0(beta * np.sqrt(np.clip(1.0 - (u / half) ** 2, 0.0, None))) / np.i0(beta)
    h = np.sinc(u) * w
    h[0] = 0.0
    h[0, half - 1] = 1.0
    return h


def _old_loop_gains(bn, zeta):  # modem/psk.py and modem/fsk.py _loop_gains
    th = bn / (zeta + 0.25 / zeta)
    d = 1 + 2 * zeta * th + th * th
    return 4 * zeta * th / d, 4 * th * th / d


def _old_doppler_loop(loop_bw_hz, tu, damping):  # modem/doppler.py DopplerTracker, inline
    th = loop_bw_hz * tu / (damping + 0.25 / damping)
    d = 1 + 2 * damping * th + th * th
    return 4 * damping * th / d, 4 * th * th / d


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# ------------------------------------------------------------------------------------------------
# bit-identical to what they replaced


@pytest.mark.parametrize("cutoff,transition,atten", [(0.1, 0.05, 60.0), (0.23, 0.013, 60.0),
                                                     (0.02, 0.004, 80.0), (0.3, 0.1, 40.0),
                                                     (0.05, 1e-7, 60.0)])
def test_kaiser_lowpass_is_the_old_design(cutoff, transition, atten):
    assert _same(F.kaiser_lowpass(cutoff, transition, atten),
                 _old_audio_kaiser_lowpass(cutoff, transition, atten))


@pytest.mark.parametrize("cutoff,ntap", [(0.11, 37), (0.45, 9), (0.0125, 321), (0.2, 20)])
def test_lowpass_windows_are_the_old_designs(cutoff, ntap):
    assert _same(F.lowpass(cutoff, ntap, "hamming"), _old_doppler_lowpass(cutoff, ntap))
    assert _same(F.lowpass(cutoff, ntap, "hann_open"), _old_fsk_lowpass_taps(cutoff, ntap))
    assert _same(F.lowpass(cutoff, ntap, "hann"), _old_mpower_prefilter(cutoff, ntap))


@pytest.mark.parametrize("fc", [0.05, 0.2, 0.33])
def test_lowpass_is_the_links_if_filter(fc):
    # for flowgraphs/links.py to_audio: lowpass(fc, int(8 / fc) | 1, "hamming")
    assert _same(F.lowpass(fc, int(8 / fc) | 1, "hamming"), _old_links_if_filter(fc))


@pytest.mark.parametrize("fc,half,phases,beta", [(0.45, 16, 256, 8.0), (0.2, 40, 32, 8.0),
                                                 (0.475 * 0.2177, 74, 64, 5.0)])
def test_kaiser_sinc_table_is_the_resampler_table(fc, half, phases, beta):
    t = F.kaiser_sinc_table(fc, half, phases, beta)
    t /= t.sum(axis=1, keepdims=True)
    assert _same(t, _old_resampler_table(fc, half, phases, beta))


def test_kaiser_sinc_table_is_the_channel_interpolator():
    from orbitlink.modem.channel import INTERP_BETA, INTERP_HALF, INTERP_PHASES, \
        interpolation_table

    for half, beta, phases in [(INTERP_HALF, INTERP_BETA, INTERP_PHASES), (4, 6.0, 16)]:
        assert _same(interpolation_table(half, beta, phases),
                     _old_interpolation_table(half, beta, phases))


@pytest.mark.parametrize("bn,zeta", [(0.005, 0.707), (0.01, 1.0), (0.015, 1.0), (0.2, 0.1),
                                     (0.0, 5.0)])
def test_loop_gains_are_the_old_ones(bn, zeta):
    assert F.loop_gains(bn, zeta) == _old_loop_gains(bn, zeta)


@pytest.mark.parametrize("bw,tu,zeta", [(5.0, 0.05, 0.707), (20.0, 0.005, 0.707),
                                        (1.0, 0.0123, 2.0)])
def test_loop_gains_are_the_doppler_trackers(bw, tu, zeta):
    assert F.loop_gains(bw * tu, zeta) == _old_doppler_loop(bw, tu, zeta)


# ------------------------------------------------------------------------------------------------
# the designs do what they say


def test_lowpass_has_unit_dc_gain_and_linear_phase():
    for w in F.WINDOWS:
        h = F.lowpass(0.1, 41, w, beta=6.0)
        assert h.dtype == np.float64 and h.shape == (41,)
        assert abs(h.sum() - 1.0) < 1e-12
        assert np.allclose(h, h[::-1], atol=0, rtol=1e-12)


def test_lowpass_response():
    h = F.kaiser_lowpass(0.1, 0.05, 60.0)
    f = np.linspace(0, 0.5, 2001)
    H = np.abs(np.exp(-2j * np.pi * f[:, None] * np.arange(len(h))[None, :]) @ h)
    assert np.all(np.abs(H[f <= 0.075] - 1) < 0.002)  # pass band
    assert abs(H[np.argmin(np.abs(f - 0.1))] - 0.5) < 0.01  # -6 dB at the cutoff
    assert np.all(20 * np.log10(H[f >= 0.125] + 1e-30) < -59)  # stop band


def test_lowpass_takes_a_window_array():
    w = np.blackman(31)
    assert _same(F.lowpass(0.2, 31, w),
                 (lambda h: h / h.sum())(0.4 * np.sinc(0.4 * (np.arange(31) - 15)) * w))


def test_window_names():
    assert F.window("hann", 5)[0] == 0.0 and F.window("hann_open", 5)[0] > 0
    assert _same(F.window("kaiser", 9, 5.0), np.kaiser(9, 5.0))
    with pytest.raises(ValueError, match="unknown window"):
        F.window("triangle", 9)
    with pytest.raises(ValueError, match="beta"):
        F.window("kaiser", 9)


def test_kaiser_helpers():
    assert F.kaiser_beta(60.0) == pytest.approx(0.1102 * 51.3)
    assert F.kaiser_beta(10.0) == 0.0
    assert F.kaiser_ntaps(0.05, 60.0) % 2 == 1
    assert F.kaiser_ntaps(1e-9, 60.0, max_taps=100) == 101


def test_loop_gains_small_bandwidth_limit():
    # theta -> 0: kp ~ 4 zeta theta, ki ~ 4 theta^2
    kp, ki = F.loop_gains(1e-6, 0.707)
    th = 1e-6 / (0.707 + 0.25 / 0.707)
    assert kp == pytest.approx(4 * 0.707 * th, rel=1e-5)
    assert ki == pytest.approx(4 * th * th, rel=1e-5)
