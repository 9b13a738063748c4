"""Channel simulator (orbitlink.modem.channel)."""

import math

import numpy as np
import pytest

from orbitlink import OrbitlinkError
from orbitlink.modem.block import REGISTRY, ParamError, Rate, describe_params
from orbitlink.tests.helpers import run_split
from orbitlink.modem.channel import (INTERP_HALF, Channel, ChannelParams, ProfileError,
                                     load_freq_profile, simulate)

FS = 1.0e6


def _cplx_noise(n, seed=0):
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(
        np.complex64)




def _inst_freq(y, fs):
    """Instantaneous frequency (Hz) between consecutive samples, at times (k + 0.5) / fs."""
    return np.angle(y[1:] * np.conj(y[:-1])).astype(np.float64) * fs / (2 * np.pi)


def _tones(t, freqs, phases, amps):
    """Analytic band-limited signal: a sum of complex tones, evaluated at times t (samples)."""
    t = np.asarray(t, np.float64)[:, None]
    return (amps * np.exp(2j * np.pi * (freqs * t + phases))).sum(axis=1)


# ------------------------------------------------------------------------------------------
# registry and parameters


def test_registered():
    assert REGISTRY["channel"] is Channel
    assert Channel.rate is Rate.GENERAL and Channel.in_type == Channel.out_type == "c64"
    for d in describe_params(ChannelParams):
        assert d["doc"], d["name"]


def test_identity_when_all_off():
    x = _cplx_noise(1000)
    y = simulate(x)
    assert y.dtype == np.complex64 and y.tobytes() == x.tobytes()
    # a zero timing offset through the resampler path is exact too (unit-impulse phase 0)
    y = simulate(x, sro_ppm=0.0, timing_offset=1.0)
    assert y.tobytes() == x[1:].tobytes()


def test_param_errors():
    with pytest.raises(ParamError, match="at most one"):
        Channel(esn0_db=3.0, ebn0_db=3.0)
    with pytest.raises(ParamError, match="esn0_db"):
        Channel(esn0_db=1000.0)
    with pytest.raises(ParamError, match="ebn0_db"):
        Channel(ebn0_db="high")
    with pytest.raises(ParamError, match="timing_offset"):
        Channel(timing_offset=1.5)
    with pytest.raises(ParamError, match="samp_rate"):
        Channel(samp_rate=0.0)
    assert Channel(esn0_db=3).params.esn0_db == 3.0 and isinstance(
        Channel(esn0_db=3).params.esn0_db, float)


# ------------------------------------------------------------------------------------------
# noise


@pytest.mark.parametrize("kw, esn0", [
    (dict(esn0_db=10.0), 10.0),
    (dict(ebn0_db=4.0, bits_per_symbol=2), 4.0 + 10 * math.log10(2)),
    (dict(ebn0_db=4.0, bits_per_symbol=2, code_rate=0.5), 4.0),
    (dict(ebn0_db=0.0, bits_per_symbol=3, code_rate=0.75), 10 * math.log10(2.25)),
])
def test_noise_variance_matches_esn0(kw, esn0):
    n = 200_000
    sps, power = 4.0, 2.0
    ch = Channel(samp_rate=FS, sps=sps, signal_power=power, seed=3, **kw)
    n0 = power * sps / 10 ** (esn0 / 10)
    assert ch.noise_variance == pytest.approx(n0, rel=1e-12)
    y = ch.run(np.zeros(n, np.complex64)).astype(np.complex128)
    assert np.mean(np.abs(y) ** 2) == pytest.approx(n0, rel=0.02)
    assert np.var(y.real) == pytest.approx(n0 / 2, rel=0.02)
    assert np.var(y.imag) == pytest.approx(n0 / 2, rel=0.02)
    assert abs(np.mean(y.real * y.imag)) < 0.02 * n0  # circular


def test_noise_floor_is_independent_of_attenuation_and_signal():
    n = 100_000
    a = simulate(np.zeros(n, np.complex64), esn0_db=0.0, attenuation_db=20.0, seed=5)
    b = simulate(np.zeros(n, np.complex64), esn0_db=0.0, seed=5)
    assert a.tobytes() == b.tobytes()
    # the noise is set by the declared power, never measured: a signal does not change it
    x = np.full(n, 3.0, np.complex64)
    c = simulate(x, esn0_db=0.0, seed=5)
    np.testing.assert_allclose(c - x, b, atol=1e-6)


def test_attenuation():
    x = _cplx_noise(500)
    y = simulate(x, attenuation_db=6.0)
    np.testing.assert_allclose(y, x * 10 ** (-6 / 20), rtol=1e-6)
    y = simulate(x, attenuation_db=-3.0)
    assert np.mean(np.abs(y) ** 2) / np.mean(np.abs(x) ** 2) == pytest.approx(10 ** 0.3, rel=1e-5)


# ------------------------------------------------------------------------------------------
# frequency


def test_cfo_frequency_and_phase():
    n = 50_000
    cfo = 12_345.6
    y = simulate(np.ones(n, np.complex64), samp_rate=FS, cfo_hz=cfo)
    k = np.arange(n)
    ref = np.exp(2j * np.pi * cfo * k / FS)  # phase starts at 0 at sample 0
    assert np.max(np.abs(y - ref)) < 1e-6
    assert np.mean(_inst_freq(y, FS)) == pytest.approx(cfo, rel=1e-6)
    # FFT peak
    spec = np.abs(np.fft.fft(y))
    f_peak = np.fft.fftfreq(n, 1 / FS)[np.argmax(spec)]
    assert abs(f_peak - cfo) <= FS / n
    # negative offsets move the spectrum down
    y = simulate(np.ones(n, np.complex64), samp_rate=FS, cfo_hz=-cfo)
    assert np.mean(_inst_freq(y, FS)) == pytest.approx(-cfo, rel=1e-6)


def test_ramp_instantaneous_frequency():
    n = 100_000
    cfo, ramp = -5000.0, 2.0e5  # Hz, Hz/s: -5 kHz .. +15 kHz over 0.1 s
    y = simulate(np.ones(n, np.complex64), samp_rate=FS, cfo_hz=cfo,
                 freq_ramp_hz_per_s=ramp)
    t_mid = (np.arange(n - 1) + 0.5) / FS
    np.testing.assert_allclose(_inst_freq(y, FS), cfo + ramp * t_mid, atol=0.5)
    # the phase is the exact integral of the frequency
    t = np.arange(n) / FS
    ref = np.exp(2j * np.pi * (cfo * t + 0.5 * ramp * t ** 2))
    assert np.max(np.abs(y - ref)) < 1e-5


PROFILE = """# Doppler predicted for a pass
time_s,freq_hz
0.010, 1000     # start
0.030, -2000
0.040, 500
"""


def _profile_file(tmp_path, text=PROFILE):
    p = tmp_path / "doppler.csv"
    p.write_text(text)
    return p


def _profile_ref(t):
    return np.interp(t, [0.010, 0.030, 0.040], [1000.0, -2000.0, 500.0])


def test_profile_parsing(tmp_path):
    t, f = load_freq_profile(_profile_file(tmp_path))
    assert t.tolist() == [0.010, 0.030, 0.040] and f.tolist() == [1000.0, -2000.0, 500.0]
    t, f = load_freq_profile(_profile_file(tmp_path, "\n0,5\n"))  # no header, one point
    assert t.tolist() == [0.0] and f.tolist() == [5.0]


def test_profile_instantaneous_frequency(tmp_path):
    n = 60_000  # 0.06 s: held before 10 ms and after 40 ms
    fs = FS
    cfo, ramp = 300.0, 1.0e4
    y = simulate(np.ones(n, np.complex64), samp_rate=fs, cfo_hz=cfo, freq_ramp_hz_per_s=ramp,
                 freq_profile=str(_profile_file(tmp_path)))
    t_mid = (np.arange(n - 1) + 0.5) / fs
    expect = cfo + ramp * t_mid + _profile_ref(t_mid)
    np.testing.assert_allclose(_inst_freq(y, fs), expect, atol=0.5)
    # phase: integral from t = 0 (the held start value counts from 0, not from 10 ms)
    t = np.arange(n) / fs
    dense = np.concatenate([[0.0], np.cumsum(_profile_ref((np.arange(n - 1) + 0.5) / fs))]) / fs
    ref = np.exp(2j * np.pi * (cfo * t + 0.5 * ramp * t ** 2 + dense))
    assert np.max(np.abs(y - ref)) < 1e-4


@pytest.mark.parametrize("text, match", [
    ("time_s,freq_hz\n0,1\n0.5,abc\n", r"doppler\.csv line 3: .*'0\.5,abc'"),
    ("0,1\n1,2,3\n", r"doppler\.csv line 2: expected 2 fields"),
    ("0,1\n2,2\n1,3\n", r"doppler\.csv line 3: time 1 s is not after"),
    ("# only comments\ntime_s,freq_hz\n", r"doppler\.csv: .*no 'time_s,freq_hz' data lines"),
    ("0,1\n1,nan\n", r"doppler\.csv line 2: .*finite"),
    ("hdr\nhdr2\n0,1\n", r"doppler\.csv line 2"),
])
def test_profile_errors(tmp_path, text, match):
    path = _profile_file(tmp_path, text)
    with pytest.raises(ProfileError, match=match) as e:
        Channel(freq_profile=str(path))
    assert isinstance(e.value, OrbitlinkError) and "\n" not in str(e.value)


def test_profile_missing_file(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(OrbitlinkError, match=r"nope\.csv: frequency profile file not found"):
        Channel(freq_profile=str(missing))


# ------------------------------------------------------------------------------------------
# timing and sample-rate offset


BAND = dict(freqs=np.array([-0.39, -0.21, -0.05, 0.013, 0.17, 0.33, 0.398]),
            phases=np.array([0.1, 0.7, 0.3, 0.9, 0.5, 0.2, 0.8]),
            amps=np.array([0.3, 0.5, 1.0, 0.8, 0.6, 0.4, 0.3]))


def _interior(n_out, margin=2 * INTERP_HALF):
    return slice(margin, n_out - margin)


@pytest.mark.parametrize("tau", [0.0, 0.25, 0.5, 0.731, 1.0])
def test_timing_offset_band_limited(tau):
    """y[k] = x(k + tau): the receiver samples tau late (see the sign convention)."""
    n = 4000
    x = _tones(np.arange(n), **BAND).astype(np.complex64)
    y = simulate(x, timing_offset=tau)
    m = len(y)
    assert m == int(np.floor(n - 1 - tau)) + 1
    ref = _tones(np.arange(m) + tau, **BAND)
    sl = _interior(m)
    err = np.sqrt(np.mean(np.abs(y[sl] - ref[sl]) ** 2) / np.mean(np.abs(ref[sl]) ** 2))
    assert 20 * np.log10(err + 1e-300) < -70  # limited by complex64 (about -130 dB alone)


@pytest.mark.parametrize("ppm", [1000.0, -1000.0, 200.0])
def test_sro_time_stretch(ppm):
    """Output k is the input at time k (1 + ppm 1e-6) + tau: a tone f comes out at f (1 + ppm)."""
    n = 20_000
    eps = ppm * 1e-6
    tau = 0.3
    f0 = 0.0731  # cycles per sample
    x = np.exp(2j * np.pi * f0 * np.arange(n)).astype(np.complex64)
    y = simulate(x, samp_rate=FS, sro_ppm=ppm, timing_offset=tau)
    m = len(y)
    assert m == int(np.floor((n - 1 - tau) / (1 + eps))) + 1
    k = np.arange(m)
    ref = np.exp(2j * np.pi * f0 * (k * (1 + eps) + tau))
    sl = _interior(m)
    assert np.max(np.abs(y[sl] - ref[sl])) < 1e-4  # -80 dB
    f_meas = np.mean(_inst_freq(y[sl], FS))
    assert f_meas == pytest.approx(f0 * FS * (1 + eps), rel=1e-7)
    # band-limited multi-tone signal, the whole band up to 0.4 fs
    x = _tones(np.arange(n), **BAND).astype(np.complex64)
    y = simulate(x, sro_ppm=ppm, timing_offset=tau)
    ref = _tones(k * (1 + eps) + tau, **BAND)
    err = np.sqrt(np.mean(np.abs(y[sl] - ref[sl]) ** 2) / np.mean(np.abs(ref[sl]) ** 2))
    assert 20 * np.log10(err) < -70


def test_sro_chunked_over_long_stream():
    """State and history survive chunk boundaries (odd chunk sizes, bit for bit)."""
    x = _tones(np.arange(30_000), **BAND).astype(np.complex64)
    ch = Channel(sro_ppm=-350.0, timing_offset=0.61)
    ref = run_split(ch, x, [len(x)])
    rng = np.random.default_rng(8)
    sizes = rng.integers(0, 3000, 40)
    sizes = list(sizes[np.cumsum(sizes) < len(x)])
    sizes.append(len(x) - sum(sizes))
    assert run_split(ch, x, sizes).tobytes() == ref.tobytes()


# ------------------------------------------------------------------------------------------
# phase noise


def test_phase_noise_variance_grows_linearly():
    fs, lw = 1.0e5, 100.0
    n = 200_000
    y = simulate(np.ones(n, np.complex64), samp_rate=fs, phase_noise_hz=lw, seed=2)
    assert np.allclose(np.abs(y), 1.0, atol=1e-6)
    theta = np.unwrap(np.angle(y).astype(np.float64))
    d = 2 * np.pi * lw / fs
    for lag in (1, 10, 100, 1000):
        inc = theta[lag:] - theta[:-lag]
        assert abs(np.mean(inc)) < 4 * lag * math.sqrt(d / n)  # a random walk has no drift
        assert np.var(inc) == pytest.approx(lag * d, rel=0.12), lag


# ------------------------------------------------------------------------------------------
# determinism and the chunk contract with every feature


def test_determinism_and_seed():
    block, x = Channel.example(np.random.default_rng(0))
    a = block.run(x)
    block.reset()
    b = block.run(x)
    assert a.tobytes() == b.tobytes()
    c = Channel(block.params, seed=block.params.seed + 1).run(x)
    assert len(c) == len(a) and c.tobytes() != a.tobytes()
    p = {f: getattr(block.params, f) for f in ("samp_rate", "esn0_db", "cfo_hz", "seed")}
    assert simulate(x, **p).tobytes() == simulate(x, **p).tobytes()


def test_chunk_contract_with_profile(tmp_path):
    ch = Channel(samp_rate=1.0e6, sps=2.0, ebn0_db=5.0, bits_per_symbol=2, cfo_hz=-700.0,
                 freq_ramp_hz_per_s=3e5, freq_profile=str(_profile_file(tmp_path)),
                 phase_noise_hz=10.0, timing_offset=0.9, sro_ppm=-80.0, attenuation_db=1.0,
                 seed=4)
    x = _cplx_noise(50_000, 1)
    ref = run_split(ch, x, [len(x)])
    assert len(ref) > 0
    for sizes in ([1] * 50 + [len(x) - 50], [0, 17, 0, 33_000, len(x) - 33_017, 0],
                  [9_999, 10_001, 30_000]):
        assert run_split(ch, x, sizes).tobytes() == ref.tobytes()
