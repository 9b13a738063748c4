"""PSK modem: mapping, pulse shaping, acquisition, timing and carrier recovery, soft demapping."""

import numpy as np
import pytest

from orbitlink.modem.channel import simulate
from orbitlink.modem.modulation import Modulation, m2m4
from orbitlink.modem.psk import (Agc, Fll, PskDemodulator, PskModulator, SoftDemapper,
                                 SymbolSync, mpower_freq)
from orbitlink.modem.pulse import rrc
from orbitlink.tests.signals import psk_bits_and_signal

MODS = ["bpsk", "qpsk", "oqpsk", "8psk"]


# ------------------------------------------------------------------------------------------------
# constellations


def test_gray_labels_adjacent_points_differ_in_one_bit():
    for name in ("qpsk", "8psk"):
        m = Modulation(name)
        lab = m.labels
        for i in range(m.order):
            assert bin(int(lab[i] ^ lab[(i + 1) % m.order])).count("1") == 1


def test_bpsk_and_qpsk_mapping_conventions():
    b = Modulation("bpsk").modulate_bits(np.array([1, 0], np.uint8))
    np.testing.assert_allclose(b, [1, -1], atol=1e-6)  # bit 1 -> +1
    q = Modulation("qpsk").modulate_bits(np.array([1, 1, 0, 1, 0, 0, 1, 0], np.uint8))
    s = np.sqrt(0.5)
    np.testing.assert_allclose(q, [s + 1j * s, -s + 1j * s, -s - 1j * s, s - 1j * s], atol=1e-6)


@pytest.mark.parametrize("name", MODS)
@pytest.mark.parametrize("diff", [False, True])
def test_demap_inverts_map_with_positive_llr_for_one(name, diff):
    rng = np.random.default_rng(3)
    m = Modulation(name, diff)
    bits = rng.integers(0, 2, 300 * m.bits_per_symbol).astype(np.uint8)
    z = m.modulate_bits(bits)
    if diff:
        z = Modulation.diff_symbols(z, m.points_by_index[0])  # m_{-1} = 0
    llr = m.demap(z, 1.0, 0.1)
    np.testing.assert_array_equal((llr > 0).astype(np.uint8), bits)
    assert np.all(np.abs(llr) > 1)


def test_differential_encoding_is_rotation_invariant():
    m = Modulation("qpsk", differential=True)
    bits = np.random.default_rng(1).integers(0, 2, 400).astype(np.uint8)
    z = m.modulate_bits(bits) * np.exp(1j * np.pi / 2)  # carrier locked 90 degrees off
    w = Modulation.diff_symbols(z, m.points_by_index[0] * np.exp(1j * np.pi / 2))
    np.testing.assert_array_equal((m.demap(w, 1, 0.1) > 0).astype(np.uint8), bits)


def test_m2m4_estimates_esn0():
    rng = np.random.default_rng(2)
    z = Modulation("qpsk").points[rng.integers(0, 4, 20000)]
    for es in (3.0, 10.0, 20.0):
        n0 = 10 ** (-es / 10)
        y = z + np.sqrt(n0 / 2) * (rng.standard_normal(len(z)) + 1j * rng.standard_normal(len(z)))
        s, n = m2m4(y)
        assert abs(10 * np.log10(s / n) - es) < 0.3


# ------------------------------------------------------------------------------------------------
# transmitter


def test_rrc_has_unit_energy_and_nyquist_zero_crossings():
    t = np.arange(-20, 20, 1 / 64)
    p = rrc(t, 0.35)
    assert abs(np.sum(p ** 2) / 64 - 1) < 1e-3
    rc = np.convolve(p, p) / 64  # raised cosine, peak at the middle
    mid = int(np.argmax(rc))
    assert abs(rc[mid] - 1) < 1e-3
    for k in (1, 2, 3):
        assert abs(rc[mid + 64 * k]) < 2e-3


@pytest.mark.parametrize("name", MODS)
def test_modulator_power_length_and_symbol_peaks(name):
    rng = np.random.default_rng(5)
    mod = PskModulator(modulation=name, symbol_rate=1200.0, samp_rate=48000.0 / 11)  # 3.636 sps
    m = mod.mod
    bits = rng.integers(0, 2, 3000 * m.bits_per_symbol).astype(np.uint8)
    x = mod.run(bits)
    assert x.dtype == np.complex64
    n_expected = int(np.ceil((3000 - 1 + mod.params.span + (0.5 if m.offset else 0)) * mod.sps)) + 1
    assert abs(len(x) - n_expected) <= 1
    core = x[int(20 * mod.sps): -int(20 * mod.sps)]
    assert abs(np.mean(np.abs(core) ** 2) - 1) < 0.05
    # matched filter at the symbol peaks returns the symbols (ISI-free Nyquist pulse)
    syms = m.modulate_bits(bits)
    span = mod.params.span
    for k in (100, 1234, 2500):
        t0 = mod.symbol_peak_sample(k)
        tt = np.arange(len(x))
        h = rrc((tt - t0) / mod.sps, 0.35) / mod.sps
        h[np.abs(tt - t0) > span / 2 * mod.sps] = 0
        y = np.sum(x * h)
        if m.offset:
            hq = rrc((tt - t0 - mod.sps / 2) / mod.sps, 0.35) / mod.sps
            y = np.sum(x.real * h) + 1j * np.sum(x.imag * hq)
        assert abs(y - syms[k]) < 0.02


def test_modulator_chunked_equals_whole_for_any_rate():
    rng = np.random.default_rng(8)
    bits = rng.integers(0, 2, 2001).astype(np.uint8)
    for sr in (38400.0, 44100.0, 9600.0 * 2.5):
        mod = PskModulator(modulation="qpsk", symbol_rate=9600.0, samp_rate=sr)
        whole = mod.run(bits)
        mod.reset()
        parts = [mod.process(bits[i:i + 77]) for i in range(0, len(bits), 77)] + [mod.flush()]
        assert np.concatenate(parts).tobytes() == whole.tobytes()


def test_modulator_rejects_undersampling():
    with pytest.raises(Exception, match="samp_rate"):
        PskModulator(symbol_rate=9600.0, samp_rate=4800.0)


# ------------------------------------------------------------------------------------------------
# receiver pieces


def test_agc_normalises_power():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(40000) + 1j * rng.standard_normal(40000)).astype(np.complex64) * 30
    y = Agc(rate=1e-3).run(x)
    assert abs(np.mean(np.abs(y[20000:]) ** 2) - 1) < 0.1


@pytest.mark.parametrize("name,power", [("bpsk", 2), ("qpsk", 4), ("oqpsk", 4), ("8psk", 8)])
def test_mpower_frequency_estimate(name, power):
    for cfo in (-0.05, 0.0, 0.031):
        _, x = psk_bits_and_signal(name, 2048, sps=5.0, esn0_db=20, cfo=cfo,
                                   rng=np.random.default_rng(4))
        f, snr = mpower_freq(x, power, 0.3 / 5, cutoff=(0.675 + 0.3) / 5)
        assert abs(f - cfo) < 2e-5
        assert snr > 15


def test_fll_does_not_acquire_on_noise_and_passes_it_unchanged():
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(30000) + 1j * rng.standard_normal(30000)).astype(np.complex64)
    f = Fll(sps=4.0, power=4, acq_symbols=1024)
    y = f.run(x)
    assert f.acq_snr_db is None and f.freq == 0.0
    assert y.tobytes() == x.tobytes()


def test_fll_acquires_after_noise_only_start():
    rng = np.random.default_rng(12)
    noise = 0.7 * (rng.standard_normal(9000) + 1j * rng.standard_normal(9000))
    _, sig = psk_bits_and_signal("qpsk", 6000, sps=4.0, esn0_db=12, cfo=0.04, rng=rng)
    f = Fll(sps=4.0, power=4, acq_symbols=1024)
    f.run(np.concatenate([noise, sig]).astype(np.complex64))
    assert abs(f.freq - 0.04) < 1e-4


def test_soft_demapper_scales_llrs_by_snr():
    rng = np.random.default_rng(1)
    bits, z = None, None
    m = Modulation("qpsk")
    bits = rng.integers(0, 2, 8000).astype(np.uint8)
    z = m.modulate_bits(bits)
    out = {}
    for es in (5.0, 15.0):
        n0 = 10 ** (-es / 10)
        y = z + np.sqrt(n0 / 2) * (rng.standard_normal(len(z)) + 1j * rng.standard_normal(len(z)))
        llr = SoftDemapper(modulation="qpsk").run(y.astype(np.complex64))
        assert llr.dtype == np.float32 and len(llr) == len(bits)
        assert np.mean((llr[2000:] > 0) == bits[2000:]) > 0.9
        # mean |LLR| of a QPSK bit ~ 2*sqrt(2)*sqrt(Es)/N0 * sqrt(Es/2) = 2 Es/N0
        out[es] = np.mean(llr[2000:] * (2.0 * bits[2000:] - 1))
        assert abs(out[es] / (2 * 10 ** (es / 10)) - 1) < 0.15


# ------------------------------------------------------------------------------------------------
# full receiver


def _ser(name, y, bits, skip=1500):
    """Hard-decision bit error rate after resolving delay and phase ambiguity (once)."""
    m = Modulation(name)
    z = y["z"][skip:]
    rx = []
    for r in range(m.order):
        for conj in ((False, True) if m.offset else (False,)):
            zz = np.conj(z) if conj else z
            zz = zz * np.exp(-2j * np.pi * r / m.order)
            rx.append(m.demap(zz, 1.0, 1.0) > 0)
    tb = bits.astype(bool)
    best = 1.0
    k = m.bits_per_symbol
    for hb in rx:
        for off in range(-40, 40):
            a0 = skip * k + off
            if a0 < 0:
                continue
            n = min(len(hb) - 20 * k, len(tb) - a0) - 1
            if n < 1000:
                continue
            best = min(best, float(np.mean(hb[:n] != tb[a0:a0 + n])))
    return best


@pytest.mark.parametrize("name", ["bpsk", "qpsk", "oqpsk", "8psk"])
@pytest.mark.parametrize("cfo_frac,sro", [(0.25, 200.0), (-0.25, -200.0)])
def test_receiver_acquires_quarter_symbol_rate_offset_and_200ppm(name, cfo_frac, sro):
    """Carrier offsets of +/-25 % of the symbol rate and clock offsets of +/-200 ppm."""
    rng = np.random.default_rng(21)
    rs, fs = 9600.0, 9600.0 * 5.3  # not an integer number of samples per symbol
    mod = PskModulator(modulation=name, symbol_rate=rs, samp_rate=fs)
    bits = rng.integers(0, 2, 9000 * mod.mod.bits_per_symbol).astype(np.uint8)
    es = 20.0 if name == "8psk" else 14.0
    x = simulate(mod.run(bits), samp_rate=fs, sps=mod.sps, bits_per_symbol=1, esn0_db=es,
                 cfo_hz=cfo_frac * rs, sro_ppm=sro, timing_offset=0.37, seed=7)
    dem = PskDemodulator(modulation=name, symbol_rate=rs, samp_rate=fs)
    y = dem.run(x)
    assert _ser(name, y, bits, skip=3000) < 2e-3
    # frequency estimate: the applied offset, seen through the receiver's clock offset
    f_true = cfo_frac * rs / fs
    assert abs(np.median(y["f"][3000:]) - f_true) < 2e-5
    # symbol instants advance at the received symbol period (sro stretches time)
    per = np.median(np.diff(y["t"][3000:]))
    assert abs(per / (mod.sps / (1 + sro * 1e-6)) - 1) < 1e-4


def test_symbol_sync_alone_tracks_timing_at_integer_and_fractional_sps():
    for sps in (2.0, 4.0, 7.3):
        bits, x = psk_bits_and_signal("bpsk", 3000, sps=sps, esn0_db=15,
                                      rng=np.random.default_rng(9))
        y = SymbolSync(modulation="bpsk", sps=sps).run(x)
        assert abs(len(y) - (3000 + 12)) <= 3  # the stream carries span/2 symbols of tail each side
        assert _ser("bpsk", y, bits, skip=500) < 1e-3


@pytest.mark.parametrize("name", ["bpsk", "qpsk"])
def test_debug_taps_collect_internal_signals(name):
    _, x = psk_bits_and_signal(name, 3000, sps=4.0, esn0_db=15, cfo=0.01)
    taps = {}
    d = PskDemodulator(modulation=name, symbol_rate=1.0, samp_rate=4.0, debug_taps=taps)
    d.run(x)
    assert set(taps) == {"agc", "fll", "fll_freq"}
    assert abs(np.concatenate(taps["fll_freq"])[-1] - 0.01) < 1e-4
