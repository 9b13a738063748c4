"""BER of the PSK receiver with full synchronisation, against theory.

The receiver (:class:`orbitlink.modem.psk.PskDemodulator`, default parameters) gets a signal
with an unknown level, carrier phase, delay and fractional timing, a carrier offset and a
sample-rate offset, so the AGC, the FLL acquisition, the Gardner timing loop and the carrier
PLL all work. The delay and the phase ambiguity are resolved once after a 2000-symbol
acquisition transient; a cycle or timing slip afterwards shows up as errors and in the slip
detector. See :mod:`orbitlink.tests.ber_tools`.

Default run: the tools themselves, and one smoke point per modulation near BER 1e-3.
``-m ber`` (add ``-s`` to see the tables): curves from 4 to 9 dB with the implementation
loss at BER 1e-4, and 10^6 symbols at Es/N0 = 6 dB without a slip.
"""

import math
import time

import numpy as np
import pytest
from scipy import stats

from orbitlink.modem.modulation import Modulation
from orbitlink.tests.ber_tools import (BerPoint, LinkConfig, align, ber_curve,
                                       bracketing_points, clopper_pearson,
                                       consistent_with_theory, count_slips, format_table,
                                       hard_bits, implementation_loss, simulate_ber, theory_ber,
                                       theory_ebn0_db)

MODS = ("bpsk", "qpsk")

#: loss allowed against theory, dB (the target; the receiver aims at 0.3 dB)
MAX_LOSS_DB = 0.5
#: optimistic tolerance of a single seed's point against theory, dB
MIN_LOSS_DB = -0.1
#: acquisition transient skipped before counting, symbols
SKIP = 2000


def _point(modulation, ebn0_db, errors, bits):
    lo, hi = clopper_pearson(errors, bits)
    return BerPoint(modulation, ebn0_db, ebn0_db, errors, bits, bits, errors / bits, lo, hi,
                    theory_ber(ebn0_db), 0, [], 0, 0, 1.0, 0, 1000, np.zeros(0, np.int64), [], 0.0)


# ------------------------------------------------------------------------------------------------
# The tools


def test_theory_values():
    # textbook anchors: BER 1e-3 at 6.79 dB, 1e-4 at 8.40 dB, 1e-5 at 9.59 dB
    for ebn0, ber in ((6.7895, 1e-3), (8.3983, 1e-4), (9.5879, 1e-5)):
        assert theory_ber(ebn0) == pytest.approx(ber, rel=2e-3)
        assert theory_ebn0_db(ber) == pytest.approx(ebn0, abs=1e-3)
    x = np.linspace(0.0, 12.0, 25)
    assert np.allclose(theory_ebn0_db(theory_ber(x)), x)


def test_clopper_pearson():
    for k, n in ((0, 1000), (1, 1000), (100, 100000), (37, 50), (50, 50)):
        lo, hi = clopper_pearson(k, n)
        ref = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        assert lo == pytest.approx(ref.low, rel=1e-9, abs=1e-15)
        assert hi == pytest.approx(ref.high, rel=1e-9)
    assert clopper_pearson(0, 1000)[1] == pytest.approx(1 - 0.025 ** (1 / 1000))
    with pytest.raises(ValueError):
        clopper_pearson(3, 2)


@pytest.mark.parametrize("modulation", MODS)
def test_hard_bits_follow_the_mapping(modulation):
    bits = np.random.default_rng(5).integers(0, 2, 2000).astype(np.uint8)
    z = Modulation(modulation).modulate_bits(bits)
    assert np.array_equal(hard_bits(z, modulation), bits)


@pytest.mark.parametrize("modulation", MODS)
def test_align_finds_delay_and_rotation(modulation):
    mod = Modulation(modulation)
    rng = np.random.default_rng(7)
    a = mod.modulate_bits(rng.integers(0, 2, 6000 * mod.bits_per_symbol).astype(np.uint8))
    for lag, rot in ((-17, 1), (0, 0), (5, mod.order - 1)):
        # receiver symbol i is transmitter symbol i + lag, rotated by rot * 2 pi / M, noisy
        i = np.arange(1000, 2000)
        z = a[i + lag] * np.exp(2j * np.pi * rot / mod.order + 0.2j)
        z = z + 0.5 * (rng.standard_normal(len(z)) + 1j * rng.standard_normal(len(z)))
        got_lag, got_rot, metric = align(z, 1000, a, mod.order)
        assert (got_lag, got_rot) == (lag, rot)
        assert 0.7 < metric <= 1.0
        # and nothing to find in noise
        assert align(z * 0 + rng.standard_normal(len(z)), 1000, a, mod.order)[2] < 0.2


def test_count_slips():
    assert count_slips([(0, 0)] * 5) == (0, [])
    assert count_slips([(0, 0), (0, 0), (0, 1), (0, 1), (1, 1)]) == (2, [2, 4])


def test_implementation_loss_recovers_a_known_shift():
    # points exactly on theory shifted by 0.3 dB, with plenty of errors
    pts = []
    for e in np.arange(6.0, 10.01, 0.5):
        ber = theory_ber(e - 0.3)
        bits = int(1e4 / ber)
        pts.append(_point("bpsk", float(e), int(round(ber * bits)), bits))
    loss, lo, hi = implementation_loss(pts)
    assert loss == pytest.approx(0.3, abs=0.005)
    assert lo < loss < hi and hi - lo < 0.1
    direct = implementation_loss(pts, method="direct")[0]
    assert direct == pytest.approx(0.3, abs=0.05)
    above, below, f = bracketing_points(pts)
    assert above.ber >= 1e-4 >= below.ber and 0 <= f <= 1
    with pytest.raises(ValueError, match="bracket"):
        implementation_loss(pts[:2])
    assert consistent_with_theory(pts[4], 0.5) and not consistent_with_theory(pts[4], 0.2)
    assert not consistent_with_theory(_point("bpsk", 7.0, 10, 10**6), 0.5)  # far too good


def test_counting_sees_injected_slips():
    """A quarter-turn rotation and a lost symbol injected after alignment are not hidden."""

    def tamper(z, first):
        idx = first + np.arange(len(z))
        z = np.where(idx >= 20500, z * 1j, z)  # cycle slip: +90 degrees from symbol 20500
        return z[idx != 40300]  # timing slip: symbol 40300 dropped

    p = simulate_ber(LinkConfig("qpsk"), 7.0, min_errors=10**9, max_symbols=60_000,
                     tamper=tamper)
    # counting starts at SKIP + 1000: the slips fall in counted blocks 17 and 37
    assert p.slips == 2 and p.slip_blocks == [17, 37]
    assert p.block_errors[:17].max() < 20
    # a quarter turn makes every QPSK symbol carry exactly one wrong bit: half the bits
    assert np.all(np.abs(p.block_errors[18:] - p.block_size) < 100)
    assert p.ber > 0.3


# ------------------------------------------------------------------------------------------------
# Smoke point of the full receiver (default run)


@pytest.mark.parametrize("modulation", MODS)
def test_smoke_point_near_1e3(modulation):
    t0 = time.perf_counter()
    p = simulate_ber(LinkConfig(modulation), 6.8, min_errors=500, max_symbols=2_000_000,
                     skip=SKIP)
    print("\n" + format_table([p]) + f"\n  lag {p.lag} rotation {p.rotation} lock metric "
          f"{p.lock_metric:.3f} locked after {p.lock_at} symbols, {time.perf_counter() - t0:.1f} s")
    assert p.errors >= 100, "not enough errors for a BER estimate"
    assert p.slips == 0, f"slips in blocks {p.slip_blocks}"
    assert p.lock_at <= SKIP // 2, "acquisition took more than half of the skipped transient"
    assert consistent_with_theory(p, MAX_LOSS_DB, MIN_LOSS_DB), (
        f"BER {p.ber:.3e} [{p.ci_lo:.3e}, {p.ci_hi:.3e}] vs theory {p.theory:.3e} and "
        f"{theory_ber(p.ebn0_db - MAX_LOSS_DB):.3e} at {MAX_LOSS_DB} dB loss")


# ------------------------------------------------------------------------------------------------
# Curves and slips (-m ber)

CURVE_EBN0 = np.arange(4.0, 9.01, 0.5)


@pytest.mark.ber
@pytest.mark.parametrize("modulation", MODS)
def test_ber_curve_loss_at_1e4(modulation):
    t0 = time.perf_counter()
    pts = ber_curve(LinkConfig(modulation, seed=11), CURVE_EBN0, min_errors=1000,
                    max_symbols=40_000_000, skip=SKIP)
    loss, lo, hi = implementation_loss(pts, 1e-4)
    direct = implementation_loss(pts, 1e-4, method="direct")[0]
    above, below, _ = bracketing_points(pts, 1e-4)
    print(f"\n{modulation.upper()} with full synchronisation (defaults), "
          f"{time.perf_counter() - t0:.0f} s\n" + format_table(pts)
          + f"\nloss at BER 1e-4: {loss:.3f} dB (95 % {lo:.3f} .. {hi:.3f}; direct "
          f"interpolation {direct:.3f}); theory reaches 1e-4 at {theory_ebn0_db(1e-4):.2f} dB")
    assert min(above.errors, below.errors) >= 100
    assert all(p.slips == 0 for p in pts), [(p.ebn0_db, p.slip_blocks) for p in pts if p.slips]
    assert hi <= MAX_LOSS_DB, f"loss at 1e-4 {loss:.3f} dB (upper bound {hi:.3f})"
    assert lo >= MIN_LOSS_DB, f"better than theory at 1e-4: {loss:.3f} dB"
    bad = [p.ebn0_db for p in pts if not consistent_with_theory(p, MAX_LOSS_DB, MIN_LOSS_DB)]
    assert not bad, f"points off theory by more than the allowance: {bad}"


@pytest.mark.ber
@pytest.mark.parametrize("modulation", MODS)
def test_no_cycle_slip_in_1e6_symbols_at_esn0_6db(modulation):
    t0 = time.perf_counter()
    n = 1_000_000
    p = simulate_ber(LinkConfig(modulation, seed=21), esn0_db=6.0, min_errors=10**12,
                     min_symbols=n, max_symbols=n, skip=SKIP)
    worst = int(p.block_errors.max())
    print(f"\n{modulation.upper()} at Es/N0 6 dB, {p.symbols} symbols after the transient, "
          f"{time.perf_counter() - t0:.1f} s\n" + format_table([p])
          + f"\n  slips {p.slips}; worst block {worst} errors in {p.block_size} symbols; "
          f"locked after {p.lock_at} symbols")
    assert p.symbols == n
    assert p.slips == 0, f"slips in blocks {p.slip_blocks}"
    # a slip would leave a quarter to a half of every later bit wrong
    assert worst < 0.1 * p.block_size * Modulation(modulation).bits_per_symbol
    assert consistent_with_theory(p, MAX_LOSS_DB, MIN_LOSS_DB)
    assert math.isfinite(p.loss_db) and p.loss_db < MAX_LOSS_DB
