"""Coded link quality with the PSK receiver in the loop (no genie), against the CCSDS targets.

The simulations live in ``benchmarks/coded_curves.py`` (loaded here by path; see its docstring
for the chains, the genie modes and the statistics): the receiver gets BPSK at 4 samples per
symbol with an unknown level, carrier phase and fractional timing, a carrier offset and a
sample-rate offset, so that the AGC, the FLL acquisition, the Gardner timing loop, the carrier
PLL and the phase-ambiguity resolution all work.

Targets:

- conv r=1/2 K=7 soft Viterbi: BER 1e-5 at or below 4.8 dB Eb/N0 (4.4 dB + 0.4 dB);
- concatenated RS(255,223) I=5 + conv r=1/2 (``ccsds-concat``, 1115-byte frames): FER 1e-4 at
  2.6 dB Eb/N0 per information bit (``link.code_rate``, Es/N0 = -0.99 dB).

Default run: the helpers, and one smoke run of each chain (a few seconds). ``-m ber`` (add
``-s`` for the tables, about 2 minutes on 2 cores): the conv BER around 1e-5 with the receiver
(and the genie beside it); the concatenated FER at 2.6 dB with the receiver, through the link's
deframer (the whole receiver) and decoded at the frames' known positions (the synchroniser and
the code), both FER <= 1e-2 with 95 % confidence from 1500 frames, and the code alone (genie
LLRs, FER <= 2e-3 from 5000 frames). FER 1e-4 itself needs some 30 000 frames per point: see
``benchmarks/coded_curves.py`` and its measured figures.
"""

import importlib.util
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

_BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "coded_curves.py"
if not _BENCH.is_file():  # pragma: no cover - an installed copy without the benchmarks
    pytest.skip(f"{_BENCH} not found", allow_module_level=True)
_spec = importlib.util.spec_from_file_location("orbitlink_coded_curves", _BENCH)
cc = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = cc  # so that pool workers find the segment functions
_spec.loader.exec_module(cc)

WORKERS = 2


def _point(ebn0, fails, trials, mode="rx", what="fer"):
    return cc.Point(what, mode, "", ebn0, ebn0, fails=fails, trials=trials)


# ------------------------------------------------------------------------------------------------
# helpers (default run)


def test_error_counter_groups_bursts_into_events():
    c = cc.ErrorCounter()
    err = np.zeros(30000, bool)
    err[[100, 104, 110]] = True  # one event (gaps <= 12)
    err[[200, 300]] = True  # two more
    err[20000:20000 + 4000:2] = True  # a bad stretch: one long event, 2000 errors
    c.add(err[:150], 0)  # split across calls: the event carries over
    c.add(err[150:], 150)
    r = c.result()
    assert r["errors"] == 5 + 2000 and r["events"] == 4 and r["bits"] == 30000
    assert r["bad_blocks"] == 1  # 8192-bit block 2 holds the stretch (2000 > 819)


def test_crossing_interpolates_and_is_honest_about_zero_counts():
    pts = [_point(2.0, 1000, 10_000), _point(2.5, 100, 100_000), _point(3.0, 10, 1_000_000)]
    v, lo, hi, _ = cc.crossing(pts, 1e-3)
    assert v == pytest.approx(2.5) and lo < v < hi
    v, lo, hi, _ = cc.crossing(pts, 1e-4)
    assert v == pytest.approx(2.75)
    # no error in too few trials: not resolved
    v, *_, note = cc.crossing([_point(2.0, 50, 1000), _point(2.5, 0, 1000)], 1e-4)
    assert v is None and "not resolved" in note
    # no error in enough trials: bounded by that point (even past an unresolved one)
    for pts in ([_point(2.0, 50, 1000), _point(2.5, 0, 100_000)],
                [_point(2.0, 50, 1000), _point(2.2, 0, 1000), _point(2.5, 0, 100_000)]):
        v, lo, hi, note = cc.crossing(pts, 1e-4)
        assert math.isnan(v) and hi == 2.5 and lo == 2.0, note
    assert cc.crossing([_point(2.0, 50, 1000)], 1e-4)[0] is None
    assert cc.upper_zero(1000) == pytest.approx(3.0 / 1000, rel=0.01)


def test_link_bits_are_what_transmit_sends():
    """The genie and known-position modes rebuild the link's bit stream: it must be the one
    ``transmit`` modulates, with the frames where ``transmit`` says they are."""
    from orbitlink.flowgraphs.links import transmit

    link = cc._link("ccsds-concat", ())
    rng = np.random.default_rng(0)
    pays = [bytes(rng.integers(0, 256, link.payload_len, dtype=np.uint8)) for _ in range(2)]
    burst = transmit(link, pays, seed=77)
    bits, starts = cc._link_bits(link, pays, np.random.default_rng(77))
    mod = link.modulator()
    iq = mod.run(link.conv_encoder().run(bits))
    assert np.array_equal(iq[:len(burst.iq)], burst.iq)
    r, k = link.conv_encoder().code.rate, 1
    assert [mod.symbol_peak_sample(s / r / k) - link.sps / 2 for s in starts] == \
        pytest.approx(burst.frame_starts)


# ------------------------------------------------------------------------------------------------
# smoke runs of the receiver in the loop (default run)


def test_smoke_concatenated_link_through_the_receiver():
    """ccsds-concat at 3.0 dB Eb/N0 (Es/N0 -0.6 dB), carrier offset 1800 Hz, -120 ppm: the
    link's demodulator and deframer decode every frame, and so does decoding the receiver's
    symbols at the known frame positions."""
    t0 = time.perf_counter()
    n = 8
    r = cc.fer_segment(3.0, [7], n, "rx")
    rx, pos = r["results"]["rx"], r["results"]["rxpos"]
    print(f"\nccsds-concat at 3.0 dB through the receiver, {n} frames, "
          f"{time.perf_counter() - t0:.1f} s: deframer {rx}, known positions {pos}")
    assert pos["ok"] == n, pos
    assert rx["ok"] == n, rx


def test_smoke_conv_direct_chain_through_the_receiver():
    """Conv r=1/2 over BPSK through the full receiver at 4.4 dB: lock, delay and ambiguity
    resolved, the Viterbi decoders' BER in the expected range, no slip."""
    r = cc.ber_segment(4.4, [3], 300_000, "rx")
    print(f"\nconv at 4.4 dB through the receiver: lag {r['lag']} rotation {r['rotation']} "
          f"lock {r['lock']}, {r['fixed']} / {r['demapper']}, {r['elapsed']:.1f} s")
    assert r["lock"] > 0.5
    for k in cc.LLR_KINDS:
        assert r[k]["bits"] == 300_000 and r[k]["bad_blocks"] == 0
        assert r[k]["errors"] < 300  # BER < 1e-3 (expected about 1e-5)


# ------------------------------------------------------------------------------------------------
# -m ber: the targets


@pytest.fixture(scope="module")
def runner():
    with cc.Runner(WORKERS) as r:
        yield r
        r.close()


@pytest.mark.ber
def test_conv_ber_1e5_by_4p8_db_with_the_receiver(runner):
    t0 = time.perf_counter()
    pts = cc.measure_ber(runner, "rx", [4.0, 4.4, 4.8], seed=11, min_events=30,
                         max_bits=20_000_000, segment_bits=2_000_000)
    genie = cc.measure_ber(runner, "genie", [4.0, 4.4, 4.8], seed=11, min_events=30,
                           max_bits=20_000_000, segment_bits=2_000_000)
    print(f"\nconv r=1/2 K=7, BPSK 4 sps with the receiver (and the genie), "
          f"{time.perf_counter() - t0:.0f} s\n" + cc.format_ber_table(pts + genie) + "\n"
          + cc.ber_summary(pts + genie))
    for p in pts:
        assert p.counts["nolock"] == 0, f"no lock in a segment at {p.ebn0_db} dB"
        assert p.bad_blocks == 0, f"slip or bad stretch at {p.ebn0_db} dB ({p.kind})"
    at = [p for p in pts if p.ebn0_db == 4.8]
    for p in at:
        assert p.trials >= 10_000_000
        # one-sided 95 % bound on the error events, times the mean errors per event
        assert p.ci_hi_one <= cc.BER_TARGET, (p.kind, p.rate, p.events, p.ci_hi_one)
    for kind in cc.LLR_KINDS:
        v, lo, hi, note = cc.crossing([p for p in pts if p.kind == kind], cc.BER_TARGET)
        assert v is not None, note
        if not math.isnan(v):
            assert v <= cc.BER_REF_DB + cc.BER_ALLOW_DB, (kind, v)


@pytest.fixture(scope="module")
def concat_at_target(runner):
    """ccsds-concat at 2.6 dB through the receiver: 1500 frames (rx and rxpos)."""
    t0 = time.perf_counter()
    pts = cc.measure_fer(runner, "rx", [cc.FER_TARGET_DB], seed=21, frames_per_segment=50,
                         frames_at={round(cc.FER_TARGET_DB, 3): 1500})
    llr = cc.measure_fer(runner, "llr", [cc.FER_TARGET_DB], seed=21, frames_per_segment=250,
                         frames_at={round(cc.FER_TARGET_DB, 3): 5000})
    print(f"\nccsds-concat at {cc.FER_TARGET_DB} dB Eb/N0, {time.perf_counter() - t0:.0f} s\n"
          + cc.format_fer_table(pts + llr) + "\n" + cc.fer_summary(pts + llr))
    return {p.mode: p for p in pts + llr}


@pytest.mark.ber
def test_concat_fer_at_2p6_db_receiver_at_known_positions(concat_at_target):
    """The synchroniser and the code: the receiver's symbols decoded where the frames are."""
    p = concat_at_target["rxpos"]
    print(f"\nrxpos: FER {p.rate:.2e} ({p.fails}/{p.trials}), one-sided 95 % upper bound "
          f"{p.ci_hi_one:.2e} (target {cc.FER_TARGET:g})")
    assert p.trials == 1500
    assert p.ci_hi_one <= 1e-2
    # and nothing undetected through the link's deframer either
    assert concat_at_target["rx"].counts["wrong"] == 0


@pytest.mark.ber
def test_concat_fer_at_2p6_db_code_alone(concat_at_target):
    """The decoders alone (exact LLRs, frames at known positions)."""
    p = concat_at_target["llr"]
    print(f"\nllr: FER {p.rate:.2e} ({p.fails}/{p.trials}), one-sided 95 % upper bound "
          f"{p.ci_hi_one:.2e}")
    assert p.trials == 5000 and p.counts["wrong"] == 0
    assert p.ci_hi_one <= 2e-3


@pytest.mark.ber
def test_concat_fer_at_2p6_db_through_the_deframer(concat_at_target):
    """The whole receiver: demodulator and the link's deframer (ASM search and flywheel)."""
    p = concat_at_target["rx"]
    print(f"\nrx: FER {p.rate:.2e} ({p.fails}/{p.trials}: {p.counts}), one-sided 95 % upper "
          f"bound {p.ci_hi_one:.2e} (target {cc.FER_TARGET:g})")
    assert p.trials == 1500
    assert p.ci_hi_one <= 1e-2
