"""FSK-family modem: modulators, discriminators, clock recovery, compound receivers.

Loopbacks run through :func:`orbitlink.modem.channel.simulate` (AWGN, carrier offset, sample-rate
offset) and compare bits; the receivers get no genie parameters (no deviation, no offset). The
AFSK receiver is checked against direwolf's WAV (3 packets byte-exact through Slicer and
HdlcDeframer) and two real recordings (frames gr-satellites decodes).
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from orbitlink.framing.hdlc import HdlcDeframer
from orbitlink.modem.block import ParamError
from orbitlink.modem.channel import simulate
from orbitlink.modem.fec.line import Slicer
from orbitlink.modem.fsk import (AfskDiscriminator, AfskModulator, FskClockRecovery,
                                 FskDemodulator, FskModulator, GmskCoherentDemodulator,
                                 QuadratureDemod, laurent_c0, msk_freq)

DATA = Path(__file__).parent / "data"


def _bits(n, seed=1):
    return np.random.default_rng(seed).integers(0, 2, n).astype(np.uint8)


def _ber(soft, bits, skip=300, offsets=range(-4, 8)):
    """Best BER over small alignments (soft[i + off] <-> bits[i]), skipping the acquisition;
    returns (ber, offset)."""
    best = (1.0, 0)
    for off in offsets:
        n = min(len(soft) - off, len(bits)) - skip
        e = np.mean((soft[off + skip: off + skip + n] > 0) != bits[skip: skip + n])
        best = min(best, (float(e), off))
    return best


def _audio_channel(a, fs, rate, esn0_db=None, ppm=0.0, seed=3):
    """Real audio through the channel (sample-rate offset, noise on the real part)."""
    y = simulate(a.astype(np.complex64), samp_rate=fs, sps=fs / rate, esn0_db=esn0_db,
                 signal_power=float(np.mean(a ** 2)) * 2, sro_ppm=ppm, seed=seed)
    return y.real.astype(np.float32)


# ------------------------------------------------------------------------------------------------
# Modulators


@pytest.mark.parametrize("bt", [0.0, 0.3])
def test_fsk_mod_frequency_and_phase_continuity(bt):
    rate, fs, dev = 1200.0, 44100.0, 600.0  # 36.75 samples per symbol
    bits = _bits(400)
    m = FskModulator(symbol_rate=rate, samp_rate=fs, deviation=dev, bt=bt)
    x = m.run(bits)
    assert x.dtype == np.complex64
    assert np.allclose(np.abs(x), 1, atol=1e-5)
    f = np.angle(x[1:] * np.conj(x[:-1])) * fs / (2 * np.pi)
    assert np.max(np.abs(f)) <= dev * 1.0001  # no phase jumps: never beyond the deviation
    # at the centre of each symbol in a run of three equal bits the frequency is +-dev
    k = np.arange(1, len(bits) - 1)
    run3 = k[(bits[k - 1] == bits[k]) & (bits[k + 1] == bits[k])]
    idx = np.round([m.symbol_sample(i) for i in run3]).astype(int)
    tol = 1.0 if bt == 0 else 20.0  # Hz (GMSK: the neighbours' Gaussian tails)
    assert np.allclose(f[idx - 1], np.where(bits[run3] == 1, dev, -dev), atol=tol)
    # length: 400 symbols + the pulse tail
    assert abs(len(x) - m.symbol_sample(len(bits) - 1) - (0.5 if bt == 0 else 2.0) * fs / rate) \
        < fs / rate


def test_fsk_mod_audio_output_scaling():
    bits = np.array([1] * 20 + [0] * 20, np.uint8)
    m = FskModulator(symbol_rate=9600.0, samp_rate=48000.0, deviation=3000.0, output="audio")
    a = m.run(bits)
    assert m.out_type == "f32" and a.dtype == np.float32
    assert np.allclose(a[:100], 0.5) and np.allclose(a[-90:], -0.5)


def test_afsk_mod_tones():
    fs = 48000.0
    for bit, tone in ((1, 1200.0), (0, 2200.0)):
        a = AfskModulator(samp_rate=fs, amplitude=0.7).run(np.full(120, bit, np.uint8))
        assert a.dtype == np.float32 and np.max(np.abs(a)) <= 0.7 + 1e-6
        spec = np.abs(np.fft.rfft(a * np.hanning(len(a))))
        assert abs(np.argmax(spec) * fs / len(a) - tone) < 5
    # phase continuity across tone changes: no sample-to-sample jump beyond the fastest tone
    a = AfskModulator(samp_rate=fs, amplitude=1.0).run(_bits(200))
    assert np.max(np.abs(np.diff(a))) <= 2 * np.pi * 2200 / fs * 1.001


def test_quadrature_demod_tone():
    n = np.arange(2000)
    x = np.exp(2j * np.pi * 0.05 * n).astype(np.complex64)
    y = QuadratureDemod(gain=1 / (2 * np.pi)).run(x)
    assert y[0] == 0 and np.allclose(y[1:], 0.05, atol=1e-5)


def test_param_errors():
    with pytest.raises(ParamError):
        FskModulator(symbol_rate=9600.0, samp_rate=4800.0)
    with pytest.raises(ParamError):
        FskDemodulator(input="iq", kind="afsk")
    with pytest.raises(ParamError):
        AfskDiscriminator(mark=1200.0, space=1200.0)


# ------------------------------------------------------------------------------------------------
# Loopbacks: FSK / GFSK / GMSK through the channel, fractional sps, clock and carrier offsets

CASES = [  # rate, fs, deviation, bt, Eb/N0 dB, BER limit
    (9600.0, 48000.0, 4800.0, 0.0, 12.0, 2e-3),  # 2-FSK h = 1, 5 sps
    (9600.0, 48000.0, 2400.0, 0.5, 13.0, 5e-3),  # GFSK/GMSK bt 0.5
    (4800.0, 48000.0, 1200.0, 0.3, 14.0, 2e-2),  # GMSK bt 0.3, 10 sps
    (19200.0, 48000.0, 4800.0, 0.5, 13.0, 5e-3),  # 2.5 sps
    (1200.0, 44100.0, 600.0, 0.0, 12.0, 2e-3),  # 36.75 sps (decimated)
]


@pytest.mark.parametrize("ppm", [-5000.0, 5000.0])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]:g}bd-{c[1]:g}-bt{c[3]}")
def test_fsk_loopback_channel(case, ppm):
    rate, fs, dev, bt, ebn0, limit = case
    bits = _bits(6000)
    x = FskModulator(symbol_rate=rate, samp_rate=fs, deviation=dev, bt=bt).run(bits)
    y = simulate(x, samp_rate=fs, sps=fs / rate, ebn0_db=ebn0, cfo_hz=0.08 * rate,
                 sro_ppm=ppm, timing_offset=0.3, seed=7)
    rx = FskDemodulator(symbol_rate=rate, samp_rate=fs, bt=bt)
    soft = rx.run(y)
    assert soft.dtype == np.float32
    assert abs(len(soft) - len(bits)) < 10  # the channel compresses time, not symbols
    ber, _ = _ber(soft, bits)
    assert ber < limit, f"BER {ber:.2e}"


def test_fsk_audio_input_with_dc_and_clock_offset():
    """FM audio: carrier offset = DC (drifting), unknown deviation (level), clock +0.5 %."""
    rate, fs = 9600.0, 48000.0
    bits = _bits(6000)
    a = FskModulator(symbol_rate=rate, samp_rate=fs, deviation=3000.0, output="audio").run(bits)
    n = np.arange(len(a))
    a = 0.3 * a + 0.2 + 0.1 * np.sin(2 * np.pi * n / len(a))  # level 0.3, DC 0.1 .. 0.3
    y = _audio_channel(a.astype(np.float32), fs, rate, esn0_db=15.0, ppm=5000.0)
    soft = FskDemodulator(symbol_rate=rate, samp_rate=fs, input="audio").run(y)
    assert _ber(soft, bits)[0] < 1e-3


def test_fsk_polarity_bit1_is_higher_frequency():
    rate, fs = 4800.0, 48000.0
    bits = _bits(2000)
    x = FskModulator(symbol_rate=rate, samp_rate=fs, deviation=2400.0).run(bits)
    soft = FskDemodulator(symbol_rate=rate, samp_rate=fs).run(x)
    ber, off = _ber(soft, bits)
    assert ber == 0.0  # not 1.0: the polarity is fixed
    inv = FskDemodulator(symbol_rate=rate, samp_rate=fs).run(np.conj(x))
    assert _ber(inv, bits, offsets=[off])[0] == 1.0


def test_fsk_ber_near_noncoherent_theory():
    """2-FSK h = 1 (orthogonal): BER within 2x of 0.5 exp(-Eb / 2 N0) at Eb/N0 = 10 dB."""
    rate, fs, ebn0 = 9600.0, 48000.0, 10.0
    bits = _bits(30000, seed=5)
    x = FskModulator(symbol_rate=rate, samp_rate=fs, deviation=rate / 2).run(bits)
    y = simulate(x, samp_rate=fs, sps=fs / rate, ebn0_db=ebn0, seed=11)
    ber, _ = _ber(FskDemodulator(symbol_rate=rate, samp_rate=fs).run(y), bits)
    theory = 0.5 * math.exp(-10 ** (ebn0 / 10) / 2)
    assert theory / 2 < ber < 2 * theory, f"BER {ber:.2e}, theory {theory:.2e}"


def test_soft_bits_scale_like_llrs():
    """GFSK (bt 0.5, h 0.5) at Eb/N0 = 10 dB: the soft bits are LLR-scaled, i.e. the best
    logistic fit P(bit = 1 | s) = 1 / (1 + exp(-beta s)) has beta near 1, and larger magnitudes
    are more reliable. (2-FSK h = 1 through the discriminator has heavy-tailed noise: its soft
    bits are overconfident, see the module docs.)"""
    from scipy.optimize import minimize_scalar

    rate, fs = 9600.0, 48000.0
    bits = _bits(20000)
    x = FskModulator(symbol_rate=rate, samp_rate=fs, deviation=rate / 4, bt=0.5).run(bits)
    y = simulate(x, samp_rate=fs, sps=fs / rate, ebn0_db=10.0, seed=2)
    soft = FskDemodulator(symbol_rate=rate, samp_rate=fs, bt=0.5).run(y)
    off = _ber(soft, bits)[1]
    s = soft[500 + off: 19500 + off].astype(np.float64)
    sign = bits[500:19500] * 2.0 - 1.0
    fit = minimize_scalar(lambda beta: np.mean(np.logaddexp(0, -beta * s * sign)),
                          bounds=(1e-3, 100), method="bounded")
    assert 0.5 < fit.x < 2.0, f"logistic scale {fit.x:.3f}"
    ok = (s > 0) == (sign > 0)
    mag = np.abs(s)
    assert np.mean(ok[mag > np.median(mag)]) > np.mean(ok[mag <= np.median(mag)])


@pytest.mark.ber
@pytest.mark.parametrize("ebn0", [6.0, 8.0, 10.0, 12.0])
def test_fsk_ber_sweep(ebn0):
    rate, fs = 9600.0, 48000.0
    bits = _bits(400_000, seed=9)
    x = FskModulator(symbol_rate=rate, samp_rate=fs, deviation=rate / 2).run(bits)
    y = simulate(x, samp_rate=fs, sps=fs / rate, ebn0_db=ebn0, seed=13)
    ber, _ = _ber(FskDemodulator(symbol_rate=rate, samp_rate=fs).run(y), bits)
    theory = 0.5 * math.exp(-10 ** (ebn0 / 10) / 2)
    assert theory / 1.5 < ber < 1.6 * theory, f"BER {ber:.2e}, theory {theory:.2e}"


# ------------------------------------------------------------------------------------------------
# AFSK

AFSK = [  # rate, fs, mark, space
    (1200.0, 48000.0, 1200.0, 2200.0),
    (1200.0, 44100.0, 1200.0, 2200.0),
    (4800.0, 48000.0, 4800.0, 2400.0),  # AISAT: 3600 +- 1200 Hz
]


@pytest.mark.parametrize("ppm", [-5000.0, 5000.0])
@pytest.mark.parametrize("case", AFSK, ids=lambda c: f"{c[0]:g}bd-{c[1]:g}")
def test_afsk_loopback(case, ppm):
    rate, fs, mark, space = case
    bits = _bits(4000)
    a = AfskModulator(symbol_rate=rate, samp_rate=fs, mark=mark, space=space).run(bits)
    y = _audio_channel(a, fs, rate, esn0_db=18.0, ppm=ppm)
    rx = FskDemodulator(symbol_rate=rate, samp_rate=fs, input="audio", kind="afsk", mark=mark,
                        space=space)
    ber, _ = _ber(rx.run(y), bits)
    assert ber < 1e-3, f"BER {ber:.2e}"


def test_afsk_discriminator_levels():
    fs = 48000.0
    d = AfskDiscriminator(samp_rate=fs)
    a = AfskModulator(samp_rate=fs).run(np.array([1] * 30 + [0] * 30, np.uint8))
    f = d.run(a)
    assert d.out_rate == fs / d.decim and len(f) == math.ceil(len(a) / d.decim)
    per = fs / 1200 / d.decim
    assert np.allclose(f[int(5 * per):int(25 * per)], 1.0, atol=0.02)  # mark
    assert np.allclose(f[int(35 * per):int(55 * per)], -1.0, atol=0.02)  # space


def _hdlc_frames(soft, g3ruh=False):
    """Frames (hex) from both polarities, as the deframers downstream do."""
    got = set()
    for pol in (1, -1):
        pdus = HdlcDeframer(nrzi=True, g3ruh=g3ruh).run(Slicer().run(pol * soft))
        got |= {p.data.hex() for p in pdus}
    return got


def test_afsk_direwolf_wav_three_frames_exact():
    fs, a = wavfile.read(DATA / "vectors" / "afsk1200_3pk_44k1.wav")
    ref = json.loads((DATA / "vectors" / "afsk1200.json").read_text())
    ref = ref["files"]["afsk1200_3pk_44k1"]["atest_frames_hex_without_fcs"]
    rx = FskDemodulator(symbol_rate=1200.0, samp_rate=float(fs), input="audio", kind="afsk")
    soft = rx.run(a.astype(np.float32) / 32768)
    pdus = HdlcDeframer(nrzi=True, g3ruh=False).run(Slicer().run(soft))  # fixed polarity
    assert [p.data.hex() for p in pdus] == ref


@pytest.mark.parametrize("name,rate,kind,g3ruh", [
    ("quetzal1", 4800.0, "fsk", True),  # G3RUH FSK 4800, FM audio
    ("swiatowid-ax25", 1200.0, "afsk", False),  # AFSK 1200, FM audio
])
def test_recordings(name, rate, kind, g3ruh):
    fs, a = wavfile.read(DATA / "recordings" / f"{name}.wav")
    ref = [s.strip() for s in (DATA / "recordings" / "frames" / f"{name}.hex").read_text().split()]
    rx = FskDemodulator(symbol_rate=rate, samp_rate=float(fs), input="audio", kind=kind)
    got = _hdlc_frames(rx.run(a.astype(np.float32) / 32768), g3ruh=g3ruh)
    assert ref and all(r in got for r in ref)


# ------------------------------------------------------------------------------------------------
# Blocks on their own


def test_clock_recovery_tracks_5000ppm_on_fractional_sps():
    rate, fs = 1000.0, 2500.0 * (1 + 5e-3)  # 2.5 sps nominal, the transmitter 0.5 % fast
    bits = _bits(5000)
    a = FskModulator(symbol_rate=rate, samp_rate=fs, deviation=400.0, output="audio").run(bits)
    cr = FskClockRecovery(sps=2.5)
    soft = np.concatenate([cr.process(a[i:i + 777]) for i in range(0, len(a), 777)])
    assert _ber(soft, bits)[0] == 0.0
    period = np.diff(cr.last_times).mean()
    assert abs(period - 2.5 * (1 + 5e-3)) < 2e-3


# ------------------------------------------------------------------------------------------------
# Coherent GMSK


def _block_ber(soft, bits, blk=1000, skip=600):
    """BER over 1000-bit blocks, each at its best alignment (a timing slip costs one block's
    alignment, not the rest of the stream)."""
    errs = n = 0
    for s0 in range(skip, len(bits) - blk - 20, blk):
        errs += min(int(np.sum((soft[s0 + o:s0 + o + blk] > 0) != bits[s0:s0 + blk]))
                    for o in range(-12, 13) if 0 <= s0 + o and s0 + o + blk <= len(soft))
        n += blk
    return errs / n


def test_laurent_c0_msk_is_half_sine():
    c0, half_span = laurent_c0(0.0, 64)
    assert half_span == 1.0
    t = np.arange(len(c0)) / 64  # 0 .. 2 symbols
    assert np.allclose(c0, np.sin(np.pi * t / 2), atol=0.03)


def test_msk_freq_finds_the_carrier():
    bits = _bits(2000)
    x = FskModulator(symbol_rate=1000.0, samp_rate=5000.0, deviation=250.0, bt=0.3).run(bits)
    f0 = 0.013
    y = x * np.exp(2j * np.pi * f0 * np.arange(len(x)))
    assert abs(msk_freq(y, 5.0, 0.05) - f0) < 2e-4


@pytest.mark.parametrize("bt", [0.3, 0.5])
@pytest.mark.parametrize("ppm", [-3000.0, 3000.0])
def test_gmsk_coherent_noise_free_with_offsets(bt, ppm):
    rate, fs = 9600.0, 48000.0
    bits = _bits(5000)
    x = FskModulator(symbol_rate=rate, samp_rate=fs, deviation=rate / 4, bt=bt).run(bits)
    y = simulate(x, samp_rate=fs, sps=fs / rate, cfo_hz=0.07 * rate, sro_ppm=ppm, seed=1)
    rx = GmskCoherentDemodulator(symbol_rate=rate, samp_rate=fs, bt=bt)
    soft = rx.run(y)
    assert abs(rx.acq_frequency * fs - 0.07 * rate) < 0.002 * rate
    assert abs(len(soft) - len(bits)) < 10
    assert _ber(soft, bits)[0] == 0.0


@pytest.mark.parametrize("bt,ebn0,limit", [(0.5, 8.0, 2e-3), (0.3, 10.0, 2e-2)])
def test_gmsk_coherent_gain_over_noncoherent(bt, ebn0, limit):
    """At equal Eb/N0, with carrier and clock offsets, the coherent receiver's BER is at least
    5x lower than the discriminator's (bt 0.5 at 8 dB: about 6e-4 vs 3e-2)."""
    rate, fs = 9600.0, 48000.0
    bits = _bits(20000, seed=4)
    x = FskModulator(symbol_rate=rate, samp_rate=fs, deviation=rate / 4, bt=bt).run(bits)
    y = simulate(x, samp_rate=fs, sps=fs / rate, cfo_hz=700.0, sro_ppm=3000.0, ebn0_db=ebn0,
                 seed=5)
    coh = _block_ber(GmskCoherentDemodulator(symbol_rate=rate, samp_rate=fs, bt=bt).run(y), bits)
    non = _block_ber(FskDemodulator(symbol_rate=rate, samp_rate=fs, bt=bt).run(y), bits)
    assert coh < limit and coh * 5 < non, f"coherent {coh:.2e}, non-coherent {non:.2e}"
