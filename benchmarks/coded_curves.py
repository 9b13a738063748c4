#!/usr/bin/env python3
"""Coded link quality with the PSK receiver in the loop: conv BER and concatenated FER curves.

Two measurements, each against a CCSDS-style target, each optionally beside *genie* runs that
feed the same decoder ideal symbols or ideal LLRs, so that the loss of the synchroniser is
separated from the loss of the decoder (and of the LLR scaling and the frame synchroniser).

BER: convolutional code r=1/2 K=7 (CCSDS variant), soft Viterbi
    Target: BER 1e-5 at or below 4.8 dB Eb/N0 (4.4 dB + 0.4 dB allowance). Direct chain
    (like ``tests/ber_tools.py``, symbol rate 1)::

        random info bits -> ConvEncoder -> PskModulator (BPSK, 4 sps, RRC 0.35) -> level and
        carrier phase -> lead-in of zeros -> Channel (carrier offset, sample-rate offset,
        fractional timing, AWGN at Es/N0 = Eb/N0 - 3.01 dB) -> PskDemodulator (AGC, FLL
        acquisition, Gardner timing, decision-directed carrier PLL) -> z

    After ``skip`` symbols of acquisition transient the delay and the 180-degree ambiguity are
    resolved **once** on the next ``align_window`` symbols (``ber_tools.align``); from there on
    the derotated symbols go, from an even code-symbol index, to two Viterbi decoders that differ
    only by their LLRs:

    - ``demapper``: the coded deframer's own :class:`~orbitlink.modem.psk.SoftDemapper`
      (running M2M4 amplitude/noise estimate), the LLRs the link decodes;
    - ``fixed``: ``Re z`` (a constant scale: the AGC holds the level; the Viterbi decoder does
      not depend on the scale).

    The first 128 decoded bits (unknown start state) are not counted. A later cycle or timing
    slip is not hidden: it shows as a run of errors and in ``bad`` (blocks of 8192 bits with a
    bit error rate above 0.1). A segment whose alignment window does not correlate (no lock
    after ``skip`` symbols) counts in ``nolock`` and contributes no bits. Errors are also
    grouped into *events* (errors less than 13 bits apart belong to one Viterbi error event);
    the stopping rule counts events, because bit errors come in bursts and a handful of events
    gives no estimate whatever its bit count.

    Genie mode: the same info bits and encoder, symbols ``2c - 1`` plus complex AWGN at the same
    Es/N0 (ideal matched filter, timing and phase), the same two decoders (``fixed`` is then the
    exact LLR ``4 Es/N0 Re z``).

FER: ``ccsds-concat`` link (RS(255,223) I=5 + randomizer + conv r=1/2, 1115-byte frames)
    Target: FER 1e-4 at or below 2.6 dB Eb/N0, Eb per information bit with the RS rate
    (``link.code_rate`` = 0.4373: Es/N0 = Eb/N0 - 3.593 dB). Modes:

    - ``rx``: ``transmit(link, payloads)`` -> level and phase -> ``simulate`` (carrier offset,
      sample-rate offset, fractional timing, AWGN) -> ``link.demodulator()`` ->
      ``link.deframer(emit_failed=True)``, chunk by chunk. The whole receiver: no genie.
    - ``rxfix`` (from the same simulation): the same deframer with its SoftDemapper replaced
      by fixed-scale LLRs (``Re z``): a what-if that isolates the LLR scaling.
    - ``rxpos`` (from the same simulation as ``rx``): the receiver's symbols, delay and
      ambiguity resolved once by correlation with the sent symbols (in the first frame, after
      acquisition), fixed-scale LLRs (``Re z``) -> one streaming ViterbiDecoder -> each frame
      decoded where it was sent, its polarity taken from its ASM (kept from the previous frame
      unless the ASM clearly says otherwise). The synchroniser and the code, with an ideal frame
      synchroniser (as a deframer with a flywheel would be once locked).
    - ``sym`` (genie symbols): the same coded bit stream (idle preamble, back-to-back frames,
      postamble) as ``2c - 1`` plus AWGN at the same Es/N0 -> the same ``link.deframer``
      (SoftDemapper, Viterbi per hypothesis, ASM search with ``max_errors``, RS, derandomizer).
      Differs from ``rx`` only by the synchroniser. ``symfix``: the same with fixed-scale
      LLRs, as ``rxfix``.
    - ``llr`` (genie LLRs and frame positions): exact LLRs -> one streaming ViterbiDecoder ->
      each frame decoded where it was sent (no ASM search) with the link's frame codec. The
      code alone. ``asm>max`` counts the frames whose decoded ASM has more than the link's
      ``max_errors`` bit errors: frames a sync-word search with that threshold cannot find.

    Each frame sent is ``ok`` (a frame at its position, check passed, payload equal), ``failed``
    (found, check failed), ``wrong`` (check passed, payload differs: undetected) or ``missed``
    (nothing found at its position); FER = 1 - ok / sent. ``1st`` counts the bursts whose
    first frame was lost (the deframer has to find it by its ASM alone; a frame lock makes
    the following ones easier), so the FER after the first frame of each burst is given too. ``false`` counts decoded frames at no
    sent position, ``slips`` the changes of the frames' ``inverted`` flag (a 180-degree carrier
    slip between two frames) in ``rx`` mode.

Statistics: exact Clopper-Pearson 95 % intervals (two-sided), and the one-sided 95 % upper
bound (``1 - 0.05 ** (1 / n)``, about 3 / n, for a point without failure). Frames fail
independently; Viterbi bit errors do not (they come in bursts of several bits), so the BER
intervals are those of the number of error *events*, scaled by the mean errors per event
(the bit-level Clopper-Pearson interval, much narrower, is in the JSON as ``ci_bits``). The Eb/N0
where a curve crosses a target is interpolated linearly in log10(rate) between the two measured
points that bracket it; the same interpolation of the confidence bounds gives its range.

Work is split into segments (a number of bits or a burst of frames, each with its own seeds,
its own acquisition and its own channel realisation) run by a pool of ``--workers`` processes;
a point stops once its error count and minimum size are reached, or at its maximum size.

Usage::

    .venv/bin/python benchmarks/coded_curves.py                     # both curves, receiver only
    .venv/bin/python benchmarks/coded_curves.py --genie             # plus the genie runs
    .venv/bin/python benchmarks/coded_curves.py --what fer --fer-points 2.6 --fer-max-frames 40000
    .venv/bin/python benchmarks/coded_curves.py --what ber --ber-points 4.4,4.8 --json out.json

``tests/test_coded_ber.py`` imports this file (by path) for its tests.

Measured at commit 5269a4d (deframer with flywheel), 2 workers, ``--what both --modes
rx,genie,sym --fer-points 1.6,1.8,2.0,2.2,2.4,2.6,2.8,3.0 --fer-max-frames 6000
--fer-target-frames 30000`` (624 s of wall time: BER 150 s, FER 470 s) plus ``--modes llr``:

- conv BER 1e-5 with the receiver at 4.30 dB (95 % 4.20 .. 4.39), the genie at 4.09 dB: the
  synchroniser costs 0.21 dB; target (<= 4.8 dB) met: at 4.8 dB BER 1.4e-6 (14 events in 3e7
  bits, 95 % upper 2.4e-6); no slip.
- ccsds-concat at 2.6 dB through the receiver and the link's deframer: FER 6.3e-4 (19/30000),
  every loss the first frame of a 50-frame burst (found by its ASM alone, within 2 bit errors
  after the Viterbi decoder); the frames after it 0/29400 (one-sided 95 % bound 1.02e-4). The
  receiver's symbols decoded at the known positions 0/30000, the genie LLRs 0/30000 (bounds
  1.0e-4). Synchroniser loss 0.13 dB at FER 1e-1 and 1e-2 (genie symbols vs receiver, both
  through the deframer or both at known positions); deframer loss 0.0-0.03 dB there.
- genie symbols through the deframer: 2 frames of 30000 at 2.6 dB (and 2 of 6000 at 2.2 dB)
  passed RS with their payload complemented: the flywheel flips the polarity on an ASM with
  24 or more bit errors (within ``max_errors_locked`` of the inverted marker).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import multiprocessing as mp
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from orbitlink.flowgraphs.links import load_link, transmit
from orbitlink.modem.block import SYM_DTYPE
from orbitlink.modem.channel import Channel, simulate
from orbitlink.modem.fec.conv import ConvEncoder, ViterbiDecoder
from orbitlink.modem.psk import PskDemodulator, PskModulator
from orbitlink.tests.ber_tools import AlignmentError, align, clopper_pearson

#: targets of the brief
BER_TARGET = 1e-5
BER_REF_DB = 4.4  # conv r=1/2 K=7 soft Viterbi, ideal
BER_ALLOW_DB = 0.4  # so BER 1e-5 at or below 4.8 dB
FER_TARGET = 1e-4
FER_TARGET_DB = 2.6

LLR_KINDS = ("demapper", "fixed")
EVENT_GAP = 12  # errors at most this many bits apart belong to one error event
BAD_BLOCK_BITS = 8192
BAD_BLOCK_BER = 0.1


# ------------------------------------------------------------------------------------------------
# statistics


def upper_zero(n: int, confidence: float = 0.95) -> float:
    """One-sided upper bound of a proportion with no failure in ``n`` trials (about 3 / n)."""
    return 1.0 - (1.0 - confidence) ** (1.0 / n)


def crossing(points, target: float):
    """Eb/N0 where a measured curve crosses ``target``.

    ``points``: objects with ``ebn0_db``, ``rate``, ``ci_lo``, ``ci_hi``, ``ci_hi_one`` and
    ``fails`` (any order). Returns ``(value, lo, hi, note)``:

    - interpolated linearly in log10(rate) between the first pair of adjacent points (by
      Eb/N0) with ``rate_a >= target > rate_b > 0``; ``lo``/``hi``: the same with the points'
      lower/upper confidence bounds (nan when those do not bracket the target);
    - else, when some point has no failure and a one-sided 95 % upper bound at or below the
      target: ``value`` nan, ``hi`` the lowest such Eb/N0 (the target is reached there or
      below), ``lo`` the highest Eb/N0 below it still above the target (or nan);
    - else ``value`` None (not reached, or not resolved with the trials made).
    """
    pts = sorted(points, key=lambda p: p.ebn0_db)
    lt = math.log10(target)

    def interp(ea, ra, eb, rb):
        if not (ra > 0 and rb > 0) or not (ra >= target >= rb) or ra == rb:
            return float("nan")
        la, lb = math.log10(ra), math.log10(rb)
        return ea + (la - lt) / (la - lb) * (eb - ea)

    def cross_with(get):
        vals = [get(p) for p in pts]
        for i in range(len(pts) - 1):
            if vals[i] >= target > vals[i + 1] > 0:
                return interp(pts[i].ebn0_db, vals[i], pts[i + 1].ebn0_db, vals[i + 1])
        return float("nan")

    if not pts:
        return None, float("nan"), float("nan"), "no points"
    for i in range(len(pts) - 1):
        a, b = pts[i], pts[i + 1]
        if a.rate >= target > b.rate and b.fails > 0:
            v = interp(a.ebn0_db, a.rate, b.ebn0_db, b.rate)
            return (v, cross_with(lambda p: p.ci_lo), cross_with(lambda p: p.ci_hi),
                    f"interpolated between {a.ebn0_db:.2f} and {b.ebn0_db:.2f} dB")
    sure = [p for p in pts if p.fails == 0 and p.ci_hi_one <= target]
    if sure:
        b = sure[0]
        above = [p for p in pts if p.ebn0_db < b.ebn0_db and p.rate >= target]
        lo = above[-1].ebn0_db if above else float("nan")
        return (float("nan"), lo, b.ebn0_db,
                f"at or below {b.ebn0_db:.2f} dB: no error in {b.trials} there (one-sided "
                f"95 % bound {b.ci_hi_one:.2e})"
                + (f", above the target at {lo:.2f} dB" if above else ""))
    if all(p.rate < target for p in pts):
        return None, float("nan"), float("nan"), \
            f"below {target:g} at every measured point, not resolved"
    if any(p.rate < target for p in pts):
        return None, float("nan"), float("nan"), \
            (f"not resolved in {pts[0].ebn0_db:.2f}..{pts[-1].ebn0_db:.2f} dB (points below "
             f"the target have too few trials for a bound below it)")
    return None, float("nan"), float("nan"), \
        f"not reached in {pts[0].ebn0_db:.2f}..{pts[-1].ebn0_db:.2f} dB"


# ------------------------------------------------------------------------------------------------
# BER of the convolutional code: direct chain


@dataclass(frozen=True)
class BerSetup:
    """Impairments and receiver of the direct chain (symbol rate 1, as ``ber_tools``)."""

    sps: float = 4.0
    cfo: float = 0.05  # x symbol rate
    sro_ppm: float = 200.0
    amplitude: float = 0.05  # the AGC must work
    alpha: float = 0.35
    demod: dict = field(default_factory=dict)  # PskDemodulator overrides
    skip: int = 8000  # symbols of acquisition transient (FLL blocks are 2048 symbols)
    align_window: int = 2000
    warmup_bits: int = 128  # decoded bits not counted after the decoders start
    chunk_bits: int = 1 << 15  # info bits per processing chunk
    min_lock: float = 0.3


class ErrorCounter:
    """Bit errors, error events (bursts) and bad blocks of a stream of compared bits."""

    def __init__(self):
        self.errors = self.events = self.bits = 0
        self.last = -(10 ** 18)  # absolute index of the last error
        self.block_err = 0
        self.block_n = 0
        self.bad_blocks = 0

    def add(self, err: np.ndarray, base: int):
        idx = np.flatnonzero(err)
        if len(idx):
            a = idx + base
            gaps = np.diff(np.concatenate([[self.last], a]))
            self.events += int(np.count_nonzero(gaps > EVENT_GAP))
            self.last = int(a[-1])
        self.errors += len(idx)
        self.bits += len(err)
        # bad blocks of BAD_BLOCK_BITS compared bits
        pos = 0
        while pos < len(err):
            take = min(BAD_BLOCK_BITS - self.block_n, len(err) - pos)
            self.block_err += int(np.count_nonzero(err[pos:pos + take]))
            self.block_n += take
            pos += take
            if self.block_n == BAD_BLOCK_BITS:
                self.bad_blocks += self.block_err > BAD_BLOCK_BER * BAD_BLOCK_BITS
                self.block_err = self.block_n = 0

    def result(self) -> dict:
        return {"errors": self.errors, "events": self.events, "bits": self.bits,
                "bad_blocks": self.bad_blocks}


class _Decoders:
    """The two Viterbi decoders (demapper LLRs, fixed-scale LLRs) and their error counters."""

    def __init__(self, fixed_scale: float, warmup: int):
        # the demapper the coded deframer uses (its own SoftDemapper, same parameters)
        self.demap = _link("ccsds-conv", ()).deframer().demap
        self.dec = {k: ViterbiDecoder(variant="CCSDS", rate="1/2") for k in LLR_KINDS}
        self.count = {k: ErrorCounter() for k in LLR_KINDS}
        self.ndec = {k: 0 for k in LLR_KINDS}  # decoded bits released so far
        self.scale = fixed_scale
        self.warmup = warmup

    def feed(self, z: np.ndarray, info: np.ndarray, info_base: int, limit: int):
        """Decode derotated symbols ``z`` (the stream starts at an even code-symbol index);
        decoded bit ``j`` is compared with ``info[info_base + j]``, from ``j = warmup`` on, for
        at most ``limit`` bits per decoder."""
        llr = {"demapper": self.demap.process(z.astype(np.complex64)),
               "fixed": (self.scale * z.real).astype(np.float32)}
        for k in LLR_KINDS:
            d = self.dec[k].process(llr[k])
            j0 = self.ndec[k]
            self.ndec[k] += len(d)
            a = max(j0, self.warmup)
            b = min(self.ndec[k], self.warmup + limit, len(info) - info_base)
            if b > a:
                ref = info[info_base + a:info_base + b]
                self.count[k].add(d[a - j0:b - j0] != ref, a)

    def counted(self) -> int:
        return min(c.bits for c in self.count.values())


def ber_segment(ebn0_db: float, seed, nbits: int, mode: str = "rx",
                setup: BerSetup = BerSetup()) -> dict:
    """One segment of the conv BER measurement: ``nbits`` decoded bits compared per decoder.

    ``mode``: ``"rx"`` (the full receiver) or ``"genie"`` (ideal symbols). ``seed``: an int or a
    sequence of ints (all random choices derive from it). Returns a dict with, per LLR kind,
    errors / events / bits / bad_blocks, and ``elapsed``, ``lag``, ``rotation``, ``lock``.
    """
    t0 = time.perf_counter()
    seed = list(np.atleast_1d(seed))
    esn0_db = ebn0_db + 10 * math.log10(0.5)
    g = 10 ** (esn0_db / 10)
    rng_bits = np.random.default_rng(seed + [0xB175])
    rng_par = np.random.default_rng(seed + [0x5EED])
    enc = ConvEncoder(variant="CCSDS", rate="1/2")
    cs = setup.chunk_bits
    info = np.empty(0, np.uint8)
    out = {"mode": mode, "ebn0_db": ebn0_db, "esn0_db": esn0_db}

    if mode == "genie":
        rng_noise = np.random.default_rng(seed + [0xA3C])
        sigma = math.sqrt(0.5 / g)
        decs = _Decoders(4 * g, setup.warmup_bits)
        parts = []
        while decs.counted() < nbits:
            b = rng_bits.integers(0, 2, cs, dtype=np.uint8)
            parts.append(b)
            c = enc.process(b)
            z = (2.0 * c - 1.0) + sigma * (rng_noise.standard_normal(len(c))
                                           + 1j * rng_noise.standard_normal(len(c)))
            info = np.concatenate(parts) if len(parts) > 1 else parts[0]
            parts = [info]
            decs.feed(z, info, 0, nbits)
        out.update(lag=0, rotation=0, lock=1.0)
    elif mode == "rx":
        tau = float(rng_par.uniform(0.0, 1.0))
        phase0 = float(rng_par.uniform(-np.pi, np.pi))
        lead_in = int(rng_par.integers(0, int(16 * setup.sps)))
        ch_seed = int(rng_par.integers(0, 2 ** 62))
        amp = setup.amplitude
        tx = PskModulator(modulation="bpsk", symbol_rate=1.0, samp_rate=setup.sps,
                          alpha=setup.alpha)
        ch = Channel(samp_rate=setup.sps, sps=setup.sps, bits_per_symbol=1, esn0_db=esn0_db,
                     signal_power=amp ** 2, cfo_hz=setup.cfo, timing_offset=tau,
                     sro_ppm=setup.sro_ppm, seed=ch_seed)
        rx = PskDemodulator(modulation="bpsk", symbol_rate=1.0, samp_rate=setup.sps,
                            alpha=setup.alpha, **setup.demod)
        gain = np.complex64(amp * np.exp(1j * phase0))
        decs = _Decoders(1.0, setup.warmup_bits)
        count_start = setup.skip + setup.align_window
        coded = []  # transmitted code symbols (+-1) until aligned
        n_coded = 0
        rx_z = np.zeros(0, np.complex64)
        rx_base = 0
        lag = None
        derot = 1.0
        info_base = 0
        info_parts = []
        first = True
        n_chunks = 0
        while decs.counted() < nbits:
            b = rng_bits.integers(0, 2, cs, dtype=np.uint8)
            info_parts.append(b)
            c = enc.process(b)
            if lag is None:
                coded.append(2.0 * c - 1.0)
                n_coded += len(c)
            x = tx.process(c).astype(np.complex64) * gain
            if first:
                x = np.concatenate([np.zeros(lead_in, np.complex64), x])
                first = False
            z = rx.process(ch.process(x))["z"]
            rx_z = np.concatenate([rx_z, z])
            n_chunks += 1
            if lag is None:
                if rx_base + len(rx_z) < count_start or n_coded < count_start + 64:
                    if n_chunks > 64:
                        raise AlignmentError(f"rx gave {len(rx_z)} symbols for {n_coded} sent")
                    continue
                txs = np.concatenate(coded)
                lag, rot, metric = align(rx_z[setup.skip:count_start], setup.skip,
                                         txs[:count_start + 64], 2)
                if metric < setup.min_lock:  # counted (``nolock``), not hidden
                    out.update(lag=int(lag), rotation=int(rot), lock=round(float(metric), 4),
                               nolock=1, elapsed=time.perf_counter() - t0)
                    for k in LLR_KINDS:
                        out[k] = ErrorCounter().result()
                    return out
                derot = 1.0 if rot == 0 else -1.0
                i0 = count_start + ((count_start + lag) & 1)  # even code-symbol index
                rx_z = rx_z[i0:]
                rx_base = i0
                info_base = (i0 + lag) // 2
                coded = None
                out.update(lag=int(lag), rotation=int(rot), lock=round(float(metric), 4))
            info = np.concatenate(info_parts) if len(info_parts) > 1 else info_parts[0]
            info_parts = [info]
            decs.feed(rx_z * derot, info, info_base, nbits)
            rx_base += len(rx_z)
            rx_z = np.zeros(0, np.complex64)
    else:
        raise ValueError(f"unknown BER mode {mode!r}")
    for k in LLR_KINDS:
        out[k] = decs.count[k].result()
    out["nolock"] = 0
    out["elapsed"] = time.perf_counter() - t0
    return out


# ------------------------------------------------------------------------------------------------
# FER of a coded link


@dataclass(frozen=True)
class FerSetup:
    """Impairments of the link simulation (``rx`` mode)."""

    link: str = "ccsds-concat"
    overrides: tuple = ()  # (key, value) pairs for load_link
    cfo_hz: float = 1800.0
    sro_ppm: float = -120.0
    amplitude: float = 0.05
    chunk: int = 1 << 16  # samples (rx) or symbols (sym) per process() call


@functools.lru_cache(maxsize=8)
def _link(name, overrides):
    return load_link(name, dict(overrides))


class _FixedScaleLlr:
    """What-if stand-in for the coded deframer's SoftDemapper (BPSK): LLR = ``Re z``, a
    constant scale (the AGC holds the level), instead of the running M2M4 scaling."""

    def process(self, sym):
        return np.ascontiguousarray(sym["z"].real, dtype=np.float32)


def _deframers(link):
    """The link's deframer, and the same with fixed-scale LLRs (the ``...fix`` modes)."""
    dfr, fix = link.deframer(emit_failed=True), link.deframer(emit_failed=True)
    fix.demap = _FixedScaleLlr()
    return dfr, fix


def _link_bits(link, payloads, rng):
    """The link's bit stream as :func:`transmit` builds it (idle preamble, frames, idle gaps,
    postamble), before the convolutional code; and the bit index of each frame's ASM."""
    framer = link.framer()
    enc = link.conv_encoder()
    r = enc.code.rate if enc is not None else 1.0

    def idle(nsym):
        return rng.integers(0, 2, int(round(nsym * r))).astype(np.uint8)

    parts = [idle(link.preamble_symbols)]
    pos = len(parts[0])
    starts = []
    for i, pl in enumerate(payloads):
        fb = framer.frame_bits(pl)
        starts.append(pos)
        parts += [fb, idle(link.gap_symbols if i < len(payloads) - 1 else link.postamble_symbols)]
        pos += len(fb) + len(parts[-1])
    return np.concatenate(parts), starts


def _classify(found, positions, payloads, tol):
    """Match decoded frames to the frames sent. ``found``: list of (position, Pdu)."""
    status = ["missed"] * len(payloads)
    inv = [None] * len(payloads)
    false = 0
    for pos, p in sorted(found, key=lambda x: not x[1].meta["crc_ok"]):
        i = int(np.argmin([abs(pos - s) for s in positions]))
        if abs(pos - positions[i]) > tol or status[i] != "missed":
            false += 1
            continue
        if p.meta["crc_ok"]:
            status[i] = "ok" if bytes(p.data) == payloads[i] else "wrong"
        else:
            status[i] = "failed"
        inv[i] = p.meta.get("inverted")
    seen = [v for v in inv if v is not None]
    slips = sum(1 for a, b in zip(seen, seen[1:]) if a != b)
    return status, false, slips


def _decode_known(link, d, starts, payloads, bit_base=0, track_polarity=True):
    """Decode each frame of decoded bits ``d`` where it was sent (``starts``: bit index of its
    ASM; ``d[j]`` is stream bit ``bit_base + j``). With ``track_polarity`` a 180-degree carrier
    slip is followed: the polarity flips when a frame's ASM matches the inverted marker within
    the link's ``max_errors`` (the evidence the deframer itself uses), and is kept otherwise.
    Returns the status list and the number of frames whose ASM has more than ``max_errors``
    errors (in the polarity used)."""
    framer = link.framer()
    codec, asm = framer.codec, framer.asm_bits
    max_err = int(link.framing.get("max_errors", 3))
    na, nf = len(asm), 8 * codec.encoded_length(link.payload_len)
    status, over = [], 0
    inverted = False
    for s, pl in zip(starts, payloads):
        j = s - bit_base
        if j < 0 or j + na + nf > len(d):
            status.append("missed")
            continue
        e = int(np.count_nonzero(d[j:j + na] != asm))
        # the polarity changes only on a clear ASM of the other polarity: an error burst over
        # the ASM must not flip it (the complement of a codeblock is a codeblock too, so a
        # wrong flip gives a frame that passes RS with a complemented payload)
        if track_polarity and (na - e if not inverted else e) <= max_err:
            inverted = not inverted
        fb = d[j + na:j + na + nf]
        if inverted:
            e, fb = na - e, 1 - fb
        over += e > max_err
        payload, info = codec.decode(np.packbits(fb).tobytes())
        if not info.get("ok", True):
            status.append("failed")
        else:
            status.append("ok" if payload == pl else "wrong")
    return status, over


def _counts(status, **extra):
    d = {s: status.count(s) for s in ("ok", "failed", "wrong", "missed")}
    # the first frame of a burst is the one the deframer must find by its ASM alone
    d.update({"false": 0, "slips": 0, "asm_over": 0,
              "first": int(bool(status) and status[0] != "ok")})
    d.update(extra)
    return d


def fer_segment(ebn0_db: float, seed, nframes: int, mode: str = "rx",
                setup: FerSetup = FerSetup()) -> dict:
    """One burst of ``nframes`` frames through the link (see the module docstring).

    ``mode``: ``"rx"`` (three results from the same simulation: ``rx``, the link's deframer;
    ``rxfix``, the same with fixed-scale LLRs; ``rxpos``, the receiver's symbols decoded at the
    known frame positions), ``"sym"`` (``sym`` and ``symfix``) or ``"llr"``. Returns
    ``{"frames", "elapsed", "results": {name: counts}}`` with counts of ok / failed / wrong /
    missed frames, ``false`` frames, ``slips`` and ``asm_over``.
    """
    t0 = time.perf_counter()
    seed = list(np.atleast_1d(seed))
    link = _link(setup.link, tuple(setup.overrides))
    rng = np.random.default_rng(seed + [0xF4A3])
    payloads = [bytes(rng.integers(0, 256, link.payload_len, dtype=np.uint8))
                for _ in range(nframes)]
    k = link.modulator().mod.bits_per_symbol
    esn0_db = ebn0_db + 10 * math.log10(k * link.code_rate)
    g = 10 ** (esn0_db / 10)
    if link.modulation != "bpsk" or link.conv == "none":
        raise ValueError("these measurements model BPSK links with a convolutional code")
    enc = link.conv_encoder()
    r = enc.code.rate
    results = {}

    if mode == "rx":
        tau = float(rng.uniform(0.0, 1.0))
        phase0 = float(rng.uniform(-np.pi, np.pi))
        tx_seed = int(rng.integers(0, 2 ** 31))
        burst = transmit(link, payloads, seed=tx_seed)
        amp = setup.amplitude
        iq = burst.iq * np.complex64(amp * np.exp(1j * phase0))
        y = simulate(iq, samp_rate=link.samp_rate, sps=link.sps, bits_per_symbol=k,
                     esn0_db=esn0_db, signal_power=amp ** 2, cfo_hz=setup.cfo_hz,
                     sro_ppm=setup.sro_ppm, timing_offset=tau,
                     seed=int(rng.integers(0, 2 ** 62)))
        del iq, burst.iq
        scale = 1 + setup.sro_ppm * 1e-6
        positions = [(s - tau) / scale for s in burst.frame_starts]
        dem = link.demodulator()
        dfrs = dict(zip(("rx", "rxfix"), _deframers(link)))
        pdus = {m: [] for m in dfrs}
        zs = []
        for i in range(0, len(y) + setup.chunk, setup.chunk):
            sym = dem.process(y[i:i + setup.chunk]) if i < len(y) else dem.flush()
            zs.append(sym["z"])
            for m, d in dfrs.items():
                pdus[m] += d.process(sym)
        sps = link.sps / scale
        for m, d in dfrs.items():
            pdus[m] += d.flush()
            found = [(p.meta["sample_index"] - sps / 2, p) for p in pdus[m]]
            status, false, slips = _classify(found, positions, payloads, 8 * sps)
            results[m] = _counts(status, false=false, slips=slips)
        # the same receiver symbols, decoded at the frames' known positions
        bits, starts = _link_bits(link, payloads, np.random.default_rng(tx_seed))
        txs = 2.0 * enc.run(bits) - 1.0
        z = np.concatenate(zs)
        skip, win = 8192, 2048  # in the first frame: acquisition is over
        try:
            lag, rot, metric = align(z[skip:skip + win], skip, txs[:skip + win + 64], 2)
        except ValueError:
            metric = 0.0
        if metric < 0.2:
            results["rxpos"] = _counts(["missed"] * nframes)
        else:
            i0 = max(0, -lag)
            i0 += (i0 + lag) & 1  # the Viterbi decoder starts at an even code symbol
            llr = ((1.0 if rot == 0 else -1.0) * z[i0:].real).astype(np.float32)
            dec = ViterbiDecoder(variant=link.conv, rate=enc.code.rate_name)
            d = np.concatenate([dec.process(llr), dec.flush()])
            st, over = _decode_known(link, d, starts, payloads, bit_base=(i0 + lag) // 2)
            results["rxpos"] = _counts(st, asm_over=over)
    else:
        bits, starts = _link_bits(link, payloads, rng)
        c = enc.run(bits)
        rng_noise = np.random.default_rng(seed + [0xA3C])
        sigma = math.sqrt(0.5 / g)
        z = (2.0 * c - 1.0) + sigma * (rng_noise.standard_normal(len(c))
                                       + 1j * rng_noise.standard_normal(len(c)))
        if mode == "sym":
            rec = np.zeros(len(z), SYM_DTYPE)
            rec["z"] = z
            rec["t"] = link.sps * np.arange(len(z))
            positions = [s / r for s in starts]  # symbol index of each ASM
            for m, dfr in zip(("sym", "symfix"), _deframers(link)):
                pdus = []
                for i in range(0, len(rec), setup.chunk):
                    pdus += dfr.process(rec[i:i + setup.chunk])
                pdus += dfr.flush()
                found = [(p.meta["symbol_index"], p) for p in pdus]
                status, false, _ = _classify(found, positions, payloads, 16)
                results[m] = _counts(status, false=false)
        elif mode == "llr":
            dec = ViterbiDecoder(variant=link.conv, rate=enc.code.rate_name)
            llr = (4 * g * z.real).astype(np.float32)
            d = np.concatenate([dec.process(llr), dec.flush()])
            st, over = _decode_known(link, d, starts, payloads, track_polarity=False)
            results["llr"] = _counts(st, asm_over=over)
        else:
            raise ValueError(f"unknown FER mode {mode!r}")
    return {"ebn0_db": ebn0_db, "esn0_db": esn0_db, "frames": nframes,
            "elapsed": time.perf_counter() - t0, "results": results}


# ------------------------------------------------------------------------------------------------
# points: segments on a pool until the stopping rule holds


@dataclass
class Point:
    """A measured point: ``fails`` of ``trials`` (bits or frames)."""

    what: str  # "ber" or "fer"
    mode: str
    kind: str  # LLR kind (ber) or "" (fer)
    ebn0_db: float
    esn0_db: float
    fails: int = 0
    trials: int = 0
    events: int = 0  # ber: error events
    bad_blocks: int = 0
    counts: dict = field(default_factory=dict)  # fer: ok / failed / wrong / missed / false ...
    segments: int = 0
    cpu_s: float = 0.0  # sum of the segments' times
    wall_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.fails / self.trials if self.trials else float("nan")

    def _burst(self):
        """(count, scale) behind the intervals: for BER with errors, the error events and the
        mean errors per event (bit errors come in bursts, so a bit-level interval would be too
        narrow); otherwise the failures themselves."""
        if self.what == "ber" and self.events > 0:
            return self.events, self.fails / self.events
        return self.fails, 1.0

    @property
    def ci(self):
        """95 % two-sided interval (Clopper-Pearson; for BER on the error events, scaled)."""
        if not self.trials:
            return 0.0, 1.0
        n, m = self._burst()
        lo, hi = clopper_pearson(n, self.trials)
        return lo * m, min(1.0, hi * m)

    @property
    def ci_lo(self):
        return self.ci[0]

    @property
    def ci_hi(self):
        return self.ci[1]

    @property
    def ci_hi_one(self):
        """One-sided 95 % upper bound (``1 - 0.05 ** (1/n)``, about 3/n, without failures)."""
        n, m = self._burst()
        if n == 0:
            return upper_zero(self.trials)
        from scipy import stats
        return min(1.0, float(stats.beta.ppf(0.95, n + 1, self.trials - n)) * m)

    def to_dict(self):
        d = dataclasses.asdict(self)
        d.update(rate=self.rate, ci_lo=self.ci_lo, ci_hi=self.ci_hi, ci_hi_one=self.ci_hi_one,
                 ci_bits=clopper_pearson(self.fails, self.trials) if self.trials else None)
        return d


def _call(job):
    fn, args = job
    return fn(*args)


class Runner:
    """Runs segments inline (workers <= 1) or on a pool of processes."""

    def __init__(self, workers: int = 1):
        self.workers = max(1, int(workers))
        self.pool = None
        if self.workers > 1:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            self.pool = ctx.Pool(self.workers)

    def close(self):
        if self.pool is not None:
            self.pool.close()
            self.pool.join()
            self.pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None

    def run_until(self, make_job, merge, done, max_segments: int = 10 ** 6):
        """Run ``make_job(i)`` for i = 0, 1, ... (at most ``workers`` at once), ``merge`` each
        result (in completion order) until ``done()`` or ``max_segments``."""
        if self.pool is None:
            i = 0
            while not done() and i < max_segments:
                merge(_call(make_job(i)))
                i += 1
            return
        pending = []
        i = 0
        while True:
            while len(pending) < self.workers and not done() and i < max_segments:
                pending.append(self.pool.apply_async(_call, (make_job(i),)))
                i += 1
            if not pending:
                return
            # wait for the oldest one (results are merged in submission order)
            merge(pending.pop(0).get())
            if done():
                for p in pending:  # let the running ones finish; their results are dropped
                    p.wait()
                return


def measure_ber(runner: Runner, mode: str, ebn0_list, *, seed: int = 1,
                min_events: int = 50, min_bits: int = 0, max_bits: int = 20_000_000,
                segment_bits: int = 2_000_000, setup: BerSetup = BerSetup(),
                log=None) -> list[Point]:
    """Conv BER points (one per LLR kind) at each Eb/N0. Stops a point once the ``demapper``
    and ``fixed`` counts both have ``min_events`` error events and ``min_bits`` bits, or at
    ``max_bits``."""
    out = []
    for pi, e in enumerate(ebn0_list):
        t0 = time.perf_counter()
        pts = {k: Point("ber", mode, k, float(e), float(e) + 10 * math.log10(0.5))
               for k in LLR_KINDS}

        def make_job(i, e=e, pi=pi):
            n = min(segment_bits, max(1, max_bits - i * segment_bits))
            return ber_segment, (float(e), [seed, pi, i, 0xBE], n, mode, setup)

        def merge(r, pts=pts):
            for k in LLR_KINDS:
                p = pts[k]
                p.fails += r[k]["errors"]
                p.trials += r[k]["bits"]
                p.events += r[k]["events"]
                p.bad_blocks += r[k]["bad_blocks"]
                p.counts["nolock"] = p.counts.get("nolock", 0) + r["nolock"]
                p.segments += 1
                p.cpu_s += r["elapsed"]

        def done(pts=pts):
            return all(p.trials >= max_bits or (p.events >= min_events and p.trials >= min_bits)
                       for p in pts.values())

        runner.run_until(make_job, merge, done,
                         max_segments=max(1, math.ceil(max_bits / segment_bits)))
        for p in pts.values():
            p.wall_s = time.perf_counter() - t0
            out.append(p)
        if log:
            log(format_ber_table(list(pts.values()), header=False))
    return out


def measure_fer(runner: Runner, mode: str, ebn0_list, *, seed: int = 1,
                min_fails: int = 100, min_frames: int = 0, max_frames: int = 2000,
                frames_per_segment: int = 50, setup: FerSetup = FerSetup(),
                frames_at: dict | None = None, log=None) -> list[Point]:
    """FER points at each Eb/N0: stop once the primary result (``mode`` itself) has
    ``min_fails`` frame errors and ``min_frames`` frames, or at ``max_frames``.
    ``frames_at[round(ebn0, 3)]`` fixes the number of frames of one point (a long run at the
    target, whatever the errors). Mode ``rx`` also yields ``rxfix`` and ``rxpos`` points, mode
    ``sym`` ``symfix`` points (the same frames)."""
    link = _link(setup.link, tuple(setup.overrides))
    out = []
    for pi, e in enumerate(ebn0_list):
        t0 = time.perf_counter()
        fixed = (frames_at or {}).get(round(float(e), 3))
        mx = int(fixed or max_frames)
        mn = int(fixed or min_frames)
        pts = {}

        def make_job(i, e=e, pi=pi, mx=mx):
            n = min(frames_per_segment, max(1, mx - i * frames_per_segment))
            return fer_segment, (float(e), [seed, pi, i, 0xFE], n, mode, setup)

        def merge(r, pts=pts, e=e):
            for name, c in r["results"].items():
                p = pts.setdefault(name, Point("fer", name, "", float(e), r["esn0_db"]))
                p.trials += r["frames"]
                p.fails += r["frames"] - c["ok"]
                for key in ("ok", "failed", "wrong", "missed", "false", "slips", "asm_over",
                            "first"):
                    p.counts[key] = p.counts.get(key, 0) + c[key]
                p.segments += 1
                p.cpu_s += r["elapsed"]

        def done(pts=pts, mx=mx, mn=mn):
            p = pts.get(mode)
            return p is not None and (p.trials >= mx or (p.fails >= min_fails
                                                         and p.trials >= mn))

        runner.run_until(make_job, merge, done,
                         max_segments=max(1, math.ceil(mx / frames_per_segment)))
        for p in pts.values():
            p.wall_s = time.perf_counter() - t0
            out.append(p)
        if log:
            log(format_fer_table(list(pts.values()), header=False))
    return out


# ------------------------------------------------------------------------------------------------
# reporting


def _fmt_rate(p: Point) -> str:
    return f"{p.rate:10.3e} {p.ci_lo:10.3e} {p.ci_hi:10.3e}"


def format_ber_table(points, header: bool = True) -> str:
    lines = []
    if header:
        lines.append(f"{'mode':5} {'llr':8} {'Eb/N0':>6} {'Es/N0':>6} {'BER':>10} {'CI95 lo':>10} "
                     f"{'CI95 hi':>10} {'errors':>7} {'events':>6} {'bits':>10} {'bad':>4} "
                     f"{'nolock':>6} {'cpu s':>6} {'wall s':>6}")
    for p in points:
        lines.append(f"{p.mode:5} {p.kind:8} {p.ebn0_db:6.2f} {p.esn0_db:6.2f} {_fmt_rate(p)} "
                     f"{p.fails:7d} {p.events:6d} {p.trials:10d} {p.bad_blocks:4d} "
                     f"{p.counts.get('nolock', 0):6d} {p.cpu_s:6.1f} {p.wall_s:6.1f}")
    return "\n".join(lines)


def format_fer_table(points, header: bool = True) -> str:
    lines = []
    if header:
        lines.append(f"{'mode':5} {'Eb/N0':>6} {'Es/N0':>6} {'FER':>10} {'CI95 lo':>10} "
                     f"{'CI95 hi':>10} {'1s-95hi':>9} {'fails':>6} {'frames':>7} {'missed':>6} "
                     f"{'failed':>6} {'wrong':>5} {'false':>5} {'slips':>5} {'asm>max':>7} "
                     f"{'1st':>4} {'cpu s':>7} {'wall s':>6}")
    for p in points:
        c = p.counts
        lines.append(f"{p.mode:5} {p.ebn0_db:6.2f} {p.esn0_db:6.2f} {_fmt_rate(p)} "
                     f"{p.ci_hi_one:9.2e} {p.fails:6d} {p.trials:7d} {c.get('missed', 0):6d} "
                     f"{c.get('failed', 0):6d} {c.get('wrong', 0):5d} {c.get('false', 0):5d} "
                     f"{c.get('slips', 0):5d} {c.get('asm_over', 0):7d} {c.get('first', 0):4d} "
                     f"{p.cpu_s:7.1f} {p.wall_s:6.1f}")
    return "\n".join(lines)


def _fmt_cross(c, target):
    v, lo, hi, note = c
    if v is None:
        return f"{target:g} {note}"
    if math.isnan(v):
        return f"{target:g} reached {note}"
    rng = f"95 % {'n/a' if math.isnan(lo) else f'{lo:.2f}'} .. " \
        f"{'n/a' if math.isnan(hi) else f'{hi:.2f}'}"
    return f"{target:g} at {v:.2f} dB ({rng}; {note})"


def _verdict(p: Point, target: float) -> str:
    if p.ci_hi_one <= target:
        return "meets the target (one-sided 95 % upper bound below it)"
    if p.rate <= target:
        return "at or below the target, not resolved (95 % upper bound above it)"
    if p.ci_lo <= target:
        return "above the target, not significantly"
    return "misses the target (95 % lower bound above it)"


def ber_summary(points) -> str:
    """Crossings of BER 1e-5 per (mode, LLR kind), the point nearest 4.8 dB, and the losses."""
    lines = [f"conv r=1/2 K=7: target BER {BER_TARGET:g} at <= {BER_REF_DB + BER_ALLOW_DB:.1f} dB "
             f"({BER_REF_DB} dB + {BER_ALLOW_DB} dB)"]
    cross = {}
    groups = sorted({(p.mode, p.kind) for p in points}, key=lambda x: (x[0] != "rx", x[1]))
    for mode, kind in groups:
        pts = [p for p in points if (p.mode, p.kind) == (mode, kind)]
        c = crossing(pts, BER_TARGET)
        cross[(mode, kind)] = c
        lines.append(f"  {mode:5} {kind:8}: BER {_fmt_cross(c, BER_TARGET)}")
        at = [p for p in pts if abs(p.ebn0_db - (BER_REF_DB + BER_ALLOW_DB)) < 1e-6]
        for p in at:
            verdict = _verdict(p, BER_TARGET)
            lines.append(f"           at {p.ebn0_db:.2f} dB: BER {p.rate:.2e} (95 % "
                         f"{p.ci_lo:.2e} .. {p.ci_hi:.2e}, {p.events} events in {p.trials} bits)"
                         f": {verdict}")
    for kind in LLR_KINDS:
        a, b = cross.get(("rx", kind)), cross.get(("genie", kind))
        if a and b and a[0] and b[0] and not math.isnan(a[0]) and not math.isnan(b[0]):
            lines.append(f"  synchroniser loss at BER {BER_TARGET:g} ({kind} LLRs): "
                         f"{a[0] - b[0]:+.2f} dB (rx {a[0]:.2f} vs genie {b[0]:.2f})")
    for mode in ("rx", "genie"):
        a, b = cross.get((mode, "demapper")), cross.get((mode, "fixed"))
        if a and b and a[0] and b[0] and not math.isnan(a[0]) and not math.isnan(b[0]):
            lines.append(f"  SoftDemapper LLR loss ({mode}): {a[0] - b[0]:+.2f} dB "
                         f"(demapper {a[0]:.2f} vs fixed scale {b[0]:.2f})")
    g = cross.get(("genie", "fixed"))
    if g and g[0] and not math.isnan(g[0]):
        lines.append(f"  decoder alone (genie, exact LLRs) vs the {BER_REF_DB} dB reference: "
                     f"{g[0] - BER_REF_DB:+.2f} dB")
    return "\n".join(lines)


def fer_summary(points) -> str:
    lines = [f"concatenated RS(255,223) I=5 + conv r=1/2: target FER {FER_TARGET:g} at <= "
             f"{FER_TARGET_DB} dB Eb/N0"]
    cross = {}
    order = ("rx", "rxfix", "rxpos", "sym", "symfix", "llr")
    for mode in sorted({p.mode for p in points}, key=lambda m: order.index(m)
                       if m in order else 9):
        pts = [p for p in points if p.mode == mode]
        c = crossing(pts, FER_TARGET)
        cross[mode] = c
        lines.append(f"  {mode:5}: FER {_fmt_cross(c, FER_TARGET)}")
        for p in pts:
            if abs(p.ebn0_db - FER_TARGET_DB) < 1e-6:
                verdict = _verdict(p, FER_TARGET)
                extra = ""
                if p.fails:
                    c_ = p.counts
                    extra = (f"; of the {p.fails} lost: {c_.get('missed', 0)} missed (no ASM "
                             f"found), {c_.get('failed', 0)} failed RS, "
                             f"{c_.get('wrong', 0)} undetected")
                lines.append(f"         at {p.ebn0_db:.2f} dB: FER {p.rate:.2e} (95 % "
                             f"{p.ci_lo:.2e} .. {p.ci_hi:.2e}; one-sided upper "
                             f"{p.ci_hi_one:.2e}; {p.fails}/{p.trials} frames){extra}: {verdict}")
                if p.mode in ("rx", "rxfix", "sym", "symfix") and p.segments:
                    f1 = p.counts["first"]
                    q = dataclasses.replace(p, fails=p.fails - f1, trials=p.trials - p.segments)
                    lines.append(f"         first frame of a {p.trials // p.segments}-frame "
                                 f"burst lost {f1}/{p.segments}; the frames after it: FER "
                                 f"{q.rate:.2e} ({q.fails}/{q.trials}; one-sided upper "
                                 f"{q.ci_hi_one:.2e}): {_verdict(q, FER_TARGET)}")
    def ok(c):
        return c is not None and c[0] is not None and not math.isnan(c[0])

    comparisons = (("rx", "sym", "synchroniser loss (both through the link's deframer)"),
                   ("rxpos", "llr", "synchroniser loss (both decoded at known positions)"),
                   ("sym", "llr", "deframer loss, genie symbols (SoftDemapper LLRs + ASM search "
                                  "vs exact LLRs at known positions)"),
                   ("sym", "symfix", "  of which SoftDemapper LLRs, genie symbols"),
                   ("rx", "rxpos", "deframer loss with the receiver in the loop"),
                   ("rx", "rxfix", "  of which SoftDemapper LLRs"),
                   ("rxfix", "rxpos", "  of which the frame synchroniser (ASM search, "
                                      "flywheel)"))
    # losses where the curves are measured well: the target, and FER 1e-1 / 1e-2
    for level in (FER_TARGET, 1e-2, 1e-1):
        cr = cross if level == FER_TARGET else {
            m: crossing([p for p in points if p.mode == m], level) for m in cross}
        if level != FER_TARGET:
            got = [f"{m} {cr[m][0]:.2f}" for m in order if m in cr and ok(cr[m])]
            if got:
                lines.append(f"  FER {level:g} crossed at (dB): " + ", ".join(got))
        for a, b, what in comparisons:
            ca, cb = cr.get(a), cr.get(b)
            if ok(ca) and ok(cb):
                lines.append(f"    {what} at FER {level:g}: {ca[0] - cb[0]:+.2f} dB "
                             f"({a} {ca[0]:.2f} vs {b} {cb[0]:.2f})")
    # at the target Eb/N0 the FERs themselves compare the stages
    at = {p.mode: p for p in points if abs(p.ebn0_db - FER_TARGET_DB) < 1e-6}
    if len(at) > 1:
        lines.append(f"  at {FER_TARGET_DB} dB: " + ", ".join(
            f"{m} {at[m].rate:.2e} ({at[m].fails}/{at[m].trials})" for m in order if m in at))
    # the sync-marker floor: frames whose ASM has more than max_errors errors after the
    # Viterbi decoder (counted at the known positions): what a deframer without flywheel misses
    for m in ("llr", "rxpos"):
        pts = [dataclasses.replace(p, mode=m + " asm>max", fails=p.counts.get("asm_over", 0),
                                   counts={}) for p in points if p.mode == m]
        if pts:
            c = crossing(pts, FER_TARGET)
            at = [p for p in pts if abs(p.ebn0_db - FER_TARGET_DB) < 1e-6]
            lines.append(f"  ASM with > max_errors errors ({m}): {FER_TARGET:g} "
                         + _fmt_cross(c, FER_TARGET)[len(f"{FER_TARGET:g} "):]
                         + (f"; {at[0].fails}/{at[0].trials} = {at[0].rate:.2e} at "
                            f"{FER_TARGET_DB} dB" if at else ""))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# command line


def _floats(s):
    return [float(x) for x in s.split(",") if x.strip()]


def _kv(s):
    if "=" not in s:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {s!r}")
    k, v = s.split("=", 1)
    return k, v


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--what", choices=("ber", "fer", "both"), default="both")
    ap.add_argument("--genie", action="store_true",
                    help="also the genie runs (BER: ideal symbols; FER: 'sym' and 'llr')")
    ap.add_argument("--modes", default=None,
                    help="comma list of modes instead (ber: rx,genie; fer: rx,sym,llr)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    g = ap.add_argument_group("BER (conv r=1/2, direct chain)")
    g.add_argument("--ber-points", type=_floats, default=_floats("3.6,4.0,4.4,4.8,5.2"))
    g.add_argument("--ber-min-events", type=int, default=40)
    g.add_argument("--ber-min-bits", type=float, default=0)
    g.add_argument("--ber-max-bits", type=float, default=3e7)
    g.add_argument("--ber-segment-bits", type=float, default=2e6)
    g.add_argument("--ber-cfo", type=float, default=0.05, help="x symbol rate")
    g.add_argument("--ber-sro", type=float, default=200.0, help="ppm")
    g = ap.add_argument_group("FER (coded link)")
    g.add_argument("--link", default="ccsds-concat")
    g.add_argument("--set", dest="overrides", type=_kv, action="append", default=[],
                   metavar="KEY=VALUE", help="link override (e.g. framing.max_errors=4)")
    g.add_argument("--fer-points", type=_floats, default=_floats("1.6,1.8,2.0,2.2,2.4,2.6,2.8,3.0"))
    g.add_argument("--fer-min-fails", type=int, default=100)
    g.add_argument("--fer-min-frames", type=int, default=0)
    g.add_argument("--fer-max-frames", type=int, default=4000)
    g.add_argument("--fer-target-frames", type=int, default=None,
                   help=f"frames at {FER_TARGET_DB} dB, whatever the errors (default: the "
                        f"same rule as the other points)")
    g.add_argument("--frames-per-segment", type=int, default=50)
    g.add_argument("--cfo", type=float, default=1800.0, help="Hz (link)")
    g.add_argument("--sro", type=float, default=-120.0, help="ppm (link)")
    ap.add_argument("--json", default=None, help="write every point to this JSON file")
    ap.add_argument("--report", nargs="+", default=None, metavar="JSON",
                    help="print the tables and summaries of earlier --json files instead of "
                         "measuring (a later file's point replaces an earlier one's with the "
                         "same curve and Eb/N0)")
    return ap


def load_points(paths) -> dict:
    """Points of ``--json`` files: ``{"ber": [...], "fer": [...]}`` (later files win)."""
    names = {f.name for f in dataclasses.fields(Point)}
    out = {"ber": {}, "fer": {}}
    for path in paths:
        with open(path) as fh:
            doc = json.load(fh)
        for what in ("ber", "fer"):
            for d in doc.get(what, []):
                p = Point(**{k: v for k, v in d.items() if k in names})
                out[what][(p.mode, p.kind, round(p.ebn0_db, 3))] = p
    return {w: list(v.values()) for w, v in out.items()}


def report(paths) -> int:
    pts = load_points(paths)
    if pts["ber"]:
        print(format_ber_table(pts["ber"]) + "\n" + ber_summary(pts["ber"]) + "\n")
    if pts["fer"]:
        print(format_fer_table(pts["fer"]) + "\n" + fer_summary(pts["fer"]))
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.report:
        return report(args.report)

    def log(s):
        print(s, flush=True)

    t_all = time.perf_counter()
    results = {"ber": [], "fer": []}
    with Runner(args.workers) as runner:
        if args.what in ("ber", "both"):
            modes = (args.modes.split(",") if args.modes else
                     ["rx"] + (["genie"] if args.genie else []))
            modes = [m for m in modes if m in ("rx", "genie")]
            setup = BerSetup(cfo=args.ber_cfo, sro_ppm=args.ber_sro)
            log(f"\n== BER, conv r=1/2 K=7 (CCSDS), BPSK {setup.sps:g} sps, cfo {setup.cfo:g} "
                f"x Rs, sro {setup.sro_ppm:g} ppm, workers {runner.workers}")
            log(format_ber_table([], header=True))
            for m in modes:
                results["ber"] += measure_ber(
                    runner, m, args.ber_points, seed=args.seed, min_events=args.ber_min_events,
                    min_bits=int(args.ber_min_bits), max_bits=int(args.ber_max_bits),
                    segment_bits=int(args.ber_segment_bits), setup=setup, log=log)
            log("\n" + format_ber_table(results["ber"]))
            log(ber_summary(results["ber"]))
        if args.what in ("fer", "both"):
            modes = (args.modes.split(",") if args.modes else
                     ["rx"] + (["sym", "llr"] if args.genie else []))
            modes = [m for m in modes if m in ("rx", "sym", "llr")]
            setup = FerSetup(link=args.link, overrides=tuple(args.overrides), cfo_hz=args.cfo,
                             sro_ppm=args.sro)
            link = _link(setup.link, setup.overrides)
            log(f"\n== FER, link {link.name} ({link.description}); code rate "
                f"{link.code_rate:.4f}; cfo {setup.cfo_hz:g} Hz, sro {setup.sro_ppm:g} ppm; "
                f"overrides {dict(setup.overrides) or 'none'}; workers {runner.workers}")
            log(format_fer_table([], header=True))
            at = ({round(FER_TARGET_DB, 3): args.fer_target_frames}
                  if args.fer_target_frames else None)
            for m in modes:
                results["fer"] += measure_fer(
                    runner, m, args.fer_points, seed=args.seed, min_fails=args.fer_min_fails,
                    min_frames=args.fer_min_frames, max_frames=args.fer_max_frames,
                    frames_per_segment=args.frames_per_segment, setup=setup,
                    frames_at=at, log=log)
            log("\n" + format_fer_table(results["fer"]))
            log(fer_summary(results["fer"]))
        runner.close()
    log(f"\ntotal wall time {time.perf_counter() - t_all:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"argv": sys.argv[1:] if argv is None else list(argv),
                       "ber": [p.to_dict() for p in results["ber"]],
                       "fer": [p.to_dict() for p in results["fer"]]}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
