"""Bit-error-rate measurement of the PSK receiver with full synchronisation.

Importable as ``orbitlink.tests.ber_tools``. Used by ``tests/test_ber.py`` and usable from a
script to explore receiver parameters::

    from orbitlink.tests.ber_tools import LinkConfig, simulate_ber, ber_curve, format_table
    cfg = LinkConfig("qpsk", demod={"carrier_bw": 0.005})
    print(format_table(ber_curve(cfg, [6.0, 7.0, 8.0, 9.0], min_errors=200)))

The link
--------
Random bits -> :class:`~orbitlink.modem.psk.PskModulator` (symbol rate 1, ``sps`` samples per
symbol, unit power) -> scaled by ``amplitude`` and rotated by ``phase0`` -> ``lead_in`` zero
samples in front -> :class:`~orbitlink.modem.channel.Channel` (sample-rate offset and
fractional timing offset, carrier offset, optionally a frequency ramp or profile and phase
noise, AWGN at the requested Eb/N0 computed from the declared signal power ``amplitude**2``)
-> :class:`~orbitlink.modem.psk.PskDemodulator` with every loop running (AGC, FLL
acquisition, Gardner timing, decision-directed carrier PLL). Nothing about the impairments is
given to the receiver. The stream is processed in chunks through the same
block instances (one continuous link), so the measurement can stop as soon as enough errors are
counted.

Counting
--------
The receiver's symbols ``z`` are turned into hard bits with the conventions of
:mod:`orbitlink.modem.modulation` (BPSK: ``Re z > 0`` -> 1; QPSK: ``Re z > 0`` -> first bit 1,
``Im z > 0`` -> second bit 1). The first ``skip`` symbols (acquisition transient) are ignored.
On the next ``align_window`` symbols the delay and the phase ambiguity are resolved **once**
(peak of the complex cross-correlation with the transmitted symbols; its angle gives the
rotation, a multiple of ``2 pi / M``). Errors are then counted from the end of that window on
with this fixed delay and rotation, so a cycle slip or a timing slip shows up as errors (about
half the bits of every later symbol wrong). Independently, a slip detector finds, per block of
``block_size`` symbols, the delay (within +/-2 symbols of the resolved one) and the rotation that
best fit the transmitted symbols, and counts the blocks where that pair changes.

Statistics
----------
BER with a minimum error count (stop when ``errors >= min_errors`` and ``symbols >=
min_symbols``, or at ``max_symbols``), exact Clopper-Pearson confidence bounds, theory
``Q(sqrt(2 Eb/N0)) = erfc(sqrt(Eb/N0)) / 2`` (BPSK, and Gray QPSK per bit), and the
implementation loss: the Eb/N0 shift between the measured curve and theory at a target BER.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats
from scipy.signal import correlate
from scipy.special import erfc, erfcinv

from orbitlink.modem.channel import Channel
from orbitlink.modem.modulation import Modulation
from orbitlink.modem.psk import PskDemodulator, PskModulator

__all__ = [
    "AlignmentError", "BerPoint", "LinkConfig", "align", "ber_curve", "bracketing_points",
    "clopper_pearson", "consistent_with_theory", "count_slips", "format_table", "hard_bits",
    "implementation_loss", "run_link", "simulate_ber", "theory_ber", "theory_ebn0_db",
]

#: modulations these tools handle (coherent, non-differential, no offset)
SUPPORTED = ("bpsk", "qpsk")


class AlignmentError(RuntimeError):
    """The receiver's symbols do not correlate with the transmitted ones (no lock)."""


# ------------------------------------------------------------------------------------------------
# Theory and statistics


def theory_ber(ebn0_db):
    """Bit error rate of coherent BPSK (and Gray-mapped QPSK) in AWGN.

    Parameters
    ----------
    ebn0_db : float or array_like of float
        Eb/N0 in dB (energy per information bit over the one-sided noise density).

    Returns
    -------
    float or ndarray of float64
        ``Q(sqrt(2 Eb/N0)) = erfc(sqrt(Eb/N0)) / 2``, same shape as ``ebn0_db``.
    """
    g = 10.0 ** (np.asarray(ebn0_db, np.float64) / 10.0)
    out = 0.5 * erfc(np.sqrt(g))
    return float(out) if np.ndim(out) == 0 else out


def theory_ebn0_db(ber):
    """Eb/N0 (dB) at which coherent BPSK/QPSK reaches ``ber`` (the inverse of :func:`theory_ber`).

    Parameters
    ----------
    ber : float or array_like of float
        Bit error rate, 0 < ber < 0.5.

    Returns
    -------
    float or ndarray of float64
        Eb/N0 in dB.
    """
    b = np.asarray(ber, np.float64)
    out = 20.0 * np.log10(erfcinv(2.0 * b))
    return float(out) if np.ndim(out) == 0 else out


def clopper_pearson(errors: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided confidence interval of a binomial proportion.

    Parameters
    ----------
    errors : int
        Number of errors observed, ``0 <= errors <= trials``.
    trials : int
        Number of bits compared, > 0.
    confidence : float, optional
        Coverage probability, 0 < confidence < 1 (default 0.95).

    Returns
    -------
    (lo, hi) : tuple of float
        Bounds on the error probability; ``lo = 0`` when ``errors == 0`` and ``hi = 1`` when
        ``errors == trials``.
    """
    if trials <= 0 or not 0 <= errors <= trials:
        raise ValueError(f"need 0 <= errors <= trials and trials > 0, got {errors}/{trials}")
    a = 1.0 - confidence
    lo = 0.0 if errors == 0 else float(stats.beta.ppf(a / 2, errors, trials - errors + 1))
    hi = 1.0 if errors == trials else float(stats.beta.ppf(1 - a / 2, errors + 1, trials - errors))
    return lo, hi


# ------------------------------------------------------------------------------------------------
# Link description and result


@dataclass(frozen=True)
class LinkConfig:
    """A simulated link: modulation, impairments and receiver parameters.

    The defaults make every receiver loop work: a carrier offset of 0.05 symbol rate, a 200 ppm
    sample-rate offset, a level 26 dB below the AGC's target, and a carrier phase, fractional
    timing and delay drawn from the seed.

    Parameters
    ----------
    modulation : {"bpsk", "qpsk"}
        Constellation (conventions of :mod:`orbitlink.modem.modulation`).
    sps : float
        Samples per symbol at the transmitter and the receiver's nominal rate (symbol rate 1).
    cfo : float
        Carrier frequency offset in units of the symbol rate (cycles per symbol).
    timing_offset : float or None
        Fractional sampling offset of the channel in samples, 0..1; None draws it from ``seed``.
    sro_ppm : float
        Sample-rate offset of the receiver clock in ppm (see :class:`Channel`).
    phase0 : float or None
        Carrier phase at the first sample in radians; None draws it from ``seed``.
    amplitude : float
        Amplitude of the received signal (its power ``amplitude**2`` is declared to the channel
        so Eb/N0 is exact; anything but 1 makes the AGC work).
    lead_in : int or None
        Zero samples in front of the signal (noise only at the receiver), so the delay is
        unknown; None draws it from ``seed`` in ``[0, 16 * sps)``.
    alpha : float
        RRC roll-off of transmitter and receiver.
    phase_noise : float
        3 dB linewidth of Wiener phase noise in units of the symbol rate (0: none).
    freq_ramp : float
        Carrier frequency rate (Doppler rate) in units of the symbol rate squared.
    freq_profile : str
        CSV file of ``time,freq`` breakpoints (time in symbols, frequency in units of the symbol
        rate) added to ``cfo`` (see :func:`~orbitlink.modem.channel.load_freq_profile`);
        empty: none.
    seed : int
        Seed of the bits, of the channel noise and of the values drawn when None is given.
    demod : dict
        Extra :class:`PskDemodulator` parameters (``timing_bw``, ``carrier_bw``,
        ``acq_symbols``, ``freq_bw``, ``agc_rate``, ...); empty means the defaults.
    """

    modulation: str = "bpsk"
    sps: float = 4.0
    cfo: float = 0.05
    timing_offset: float | None = None
    sro_ppm: float = 200.0
    phase0: float | None = None
    amplitude: float = 0.05
    lead_in: int | None = None
    alpha: float = 0.35
    phase_noise: float = 0.0
    freq_ramp: float = 0.0
    freq_profile: str = ""
    seed: int = 1
    demod: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.modulation not in SUPPORTED:
            raise ValueError(f"modulation must be one of {SUPPORTED}, got {self.modulation!r}")

    @property
    def bits_per_symbol(self) -> int:
        """Bits per symbol of ``modulation`` (1 or 2)."""
        return Modulation(self.modulation).bits_per_symbol

    def resolved(self) -> "LinkConfig":
        """A copy with the None fields (unknown phase, timing, delay) drawn from ``seed``."""
        rng = np.random.default_rng([self.seed, 0x5EED])
        tau, ph, lead = rng.uniform(0.0, 1.0), rng.uniform(-np.pi, np.pi), rng.integers(
            0, int(16 * self.sps))
        return replace(
            self, timing_offset=float(tau) if self.timing_offset is None else self.timing_offset,
            phase0=float(ph) if self.phase0 is None else self.phase0,
            lead_in=int(lead) if self.lead_in is None else self.lead_in, demod=dict(self.demod))


@dataclass
class BerPoint:
    """One measured point of a BER curve.

    Attributes
    ----------
    modulation : str
    ebn0_db, esn0_db : float
        Channel Eb/N0 and Es/N0 in dB.
    errors, bits, symbols : int
        Bit errors, bits compared and symbols compared (after skip and alignment window).
    ber, ci_lo, ci_hi : float
        Measured BER and its 95 % Clopper-Pearson bounds.
    theory : float
        Coherent-detection theory at ``ebn0_db``.
    slips : int
        Blocks where the best (delay, rotation) changed from the previous block.
    slip_blocks : list of int
        Indices (in blocks of ``block_size`` counted symbols) where a slip was seen.
    lag, rotation : int
        Resolved delay (receiver symbol i is transmitter symbol ``i + lag``) and rotation
        (receiver symbols are the transmitted ones times ``exp(j 2 pi rotation / M)``).
    lock_metric : float
        Normalised correlation peak of the alignment window (about 1 at high SNR, about
        ``1/sqrt(window)`` without lock).
    lock_at : int
        Acquisition time in symbols: end of the last 100-symbol block of the skipped transient
        whose bit error rate, with the delay and rotation resolved later, exceeds 0.2 (0 when
        none does). Must be well below ``skip`` for the skip to hide only the transient.
    block_size : int
    block_errors : ndarray of int64
        Bit errors per block.
    block_states : list of (int, int)
        Per block, the delay offset from ``lag`` (-2..2) and the rotation that fit best: a
        change of the first is a timing slip, of the second a cycle slip.
    elapsed : float
        Wall time in seconds.
    """

    modulation: str
    ebn0_db: float
    esn0_db: float
    errors: int
    bits: int
    symbols: int
    ber: float
    ci_lo: float
    ci_hi: float
    theory: float
    slips: int
    slip_blocks: list
    lag: int
    rotation: int
    lock_metric: float
    lock_at: int
    block_size: int
    block_errors: np.ndarray
    block_states: list
    elapsed: float

    @property
    def loss_db(self) -> float:
        """Eb/N0 shift (dB) at which theory gives the measured BER (nan when no errors)."""
        if self.errors == 0 or self.ber >= 0.5:
            return float("nan")
        return self.ebn0_db - theory_ebn0_db(self.ber)


# ------------------------------------------------------------------------------------------------
# Symbol-level helpers


def hard_bits(z: np.ndarray, modulation: str) -> np.ndarray:
    """Hard decisions on received symbols, unpacked bits in transmission order.

    Parameters
    ----------
    z : ndarray of complex, shape (n,)
        Derotated receiver symbols.
    modulation : {"bpsk", "qpsk"}

    Returns
    -------
    ndarray of uint8, shape (n * bits_per_symbol,)
        BPSK: ``Re z > 0`` -> 1. QPSK: per symbol ``[Re z > 0, Im z > 0]`` (first bit on I).
    """
    z = np.asarray(z)
    if modulation == "bpsk":
        return (z.real > 0).astype(np.uint8)
    if modulation == "qpsk":
        out = np.empty(2 * len(z), np.uint8)
        out[0::2] = z.real > 0
        out[1::2] = z.imag > 0
        return out
    raise ValueError(f"hard_bits: unsupported modulation {modulation!r}")


def _rotation_of(c: complex, order: int) -> int:
    return int(np.round(np.angle(c) / (2 * np.pi / order))) % order


def align(z: np.ndarray, first_index: int, tx_symbols: np.ndarray, order: int,
          max_lag: int = 64) -> tuple[int, int, float]:
    """Delay and phase ambiguity of a window of receiver symbols.

    Parameters
    ----------
    z : ndarray of complex, shape (w,)
        Receiver symbols with absolute indices ``first_index .. first_index + w - 1``.
    first_index : int
        Absolute receiver index of ``z[0]``.
    tx_symbols : ndarray of complex, shape (m,)
        Transmitted symbols from index 0 on; ``m >= first_index + w + max_lag``.
    order : int
        Constellation order M (2 or 4).
    max_lag : int, optional
        Largest positive lag searched; lags from ``-first_index`` to ``max_lag`` are tried.

    Returns
    -------
    lag : int
        Receiver symbol ``i`` is transmitter symbol ``i + lag``.
    rotation : int
        ``z ~ tx * exp(j 2 pi rotation / M)``: multiply z by ``exp(-j 2 pi rotation / M)``.
    metric : float
        ``|sum z conj(tx)| / sqrt(w sum |z|^2)`` at the peak, in [0, 1].
    """
    z = np.asarray(z, np.complex128)
    w = len(z)
    seg = np.asarray(tx_symbols[: first_index + w + max_lag], np.complex128)
    if len(seg) < first_index + w + max_lag:
        raise ValueError("align: not enough transmitted symbols for the lag range")
    # c[m] = sum_n seg[n + m] conj(z[n]); lag = m - first_index
    c = np.conj(correlate(seg, z, mode="valid", method="fft"))
    m = int(np.argmax(np.abs(c)))
    metric = float(np.abs(c[m]) / math.sqrt(w * max(float(np.sum(np.abs(z) ** 2)), 1e-300)))
    return m - first_index, _rotation_of(c[m], order), metric


def count_slips(states) -> tuple[int, list]:
    """Count changes of a per-block synchronisation state.

    Parameters
    ----------
    states : sequence of hashable
        Per block, the (delay offset, rotation) that best fits the transmitted symbols.

    Returns
    -------
    (slips, where) : int and list of int
        Number of blocks whose state differs from the previous block's, and their indices.
    """
    where = [i for i in range(1, len(states)) if states[i] != states[i - 1]]
    return len(where), where


# ------------------------------------------------------------------------------------------------
# The streaming link

def _make_link(cfg: LinkConfig, ebn0_db: float):
    """Fresh transmitter, channel, receiver, bit generator and complex gain of a resolved cfg."""
    modn, k = cfg.modulation, cfg.bits_per_symbol
    tx = PskModulator(modulation=modn, symbol_rate=1.0, samp_rate=cfg.sps, alpha=cfg.alpha)
    ch = Channel(samp_rate=cfg.sps, sps=cfg.sps, bits_per_symbol=k, ebn0_db=float(ebn0_db),
                 signal_power=cfg.amplitude ** 2, cfo_hz=cfg.cfo, timing_offset=cfg.timing_offset,
                 sro_ppm=cfg.sro_ppm, phase_noise_hz=cfg.phase_noise,
                 freq_ramp_hz_per_s=cfg.freq_ramp, freq_profile=cfg.freq_profile,
                 seed=cfg.seed)
    rx = PskDemodulator(modulation=modn, symbol_rate=1.0, samp_rate=cfg.sps, alpha=cfg.alpha,
                        **cfg.demod)
    rng = np.random.default_rng([cfg.seed, 0xB175])
    gain = cfg.amplitude * np.exp(1j * cfg.phase0)
    return tx, ch, rx, rng, gain


def run_link(cfg: LinkConfig, ebn0_db: float, nsym: int) -> tuple[np.ndarray, np.ndarray]:
    """Run ``nsym`` symbols through the link in one piece (for diagnostics and plots).

    Parameters
    ----------
    cfg : LinkConfig
    ebn0_db : float
        Eb/N0 in dB.
    nsym : int
        Number of transmitted symbols.

    Returns
    -------
    bits : ndarray of uint8, shape (nsym * bits_per_symbol,)
        Transmitted bits (the same as :func:`simulate_ber` draws for the same cfg and chunking
        ``chunk_symbols = nsym``).
    sym : ndarray of SYM_DTYPE
        Receiver output records (``z``, ``t``, ``f``), flushed.
    """
    cfg = cfg.resolved()
    tx, ch, rx, rng, gain = _make_link(cfg, ebn0_db)
    bits = rng.integers(0, 2, nsym * cfg.bits_per_symbol, dtype=np.uint8)
    x = tx.run(bits).astype(np.complex64) * np.complex64(gain)
    x = np.concatenate([np.zeros(cfg.lead_in, np.complex64), x])
    return bits, rx.run(ch.run(x))


def _lock_time(z, lag, bits, modulation, skip, block=100, threshold=0.2):
    """End (symbols) of the last ``block``-symbol block before ``skip`` with BER > threshold.

    ``z`` are receiver symbols 0..skip-1 already derotated; ``bits`` the transmitted bits from
    symbol 0 on; receiver symbol i is transmitter symbol ``i + lag``.
    """
    k = 1 if modulation == "bpsk" else 2
    i0 = max(0, -lag)
    last = 0
    for b0 in range(i0, skip - block + 1, block):
        e = hard_bits(z[b0:b0 + block], modulation) != bits[(b0 + lag) * k:(b0 + lag + block) * k]
        if e.mean() > threshold:
            last = b0 + block
    return last


def simulate_ber(cfg: LinkConfig, ebn0_db: float | None = None, *, esn0_db: float | None = None,
                 min_errors: int = 100, min_symbols: int = 0, max_symbols: int = 2_000_000,
                 skip: int = 2000, align_window: int = 1000, block_size: int = 1000,
                 chunk_symbols: int = 1 << 16, min_lock: float = 0.3,
                 tamper=None) -> BerPoint:
    """Measure the BER of the fully synchronised receiver at one Eb/N0 (or Es/N0).

    Parameters
    ----------
    cfg : LinkConfig
        Link, impairments and receiver parameters.
    ebn0_db, esn0_db : float
        Eb/N0 or Es/N0 in dB (give exactly one).
    min_errors : int, optional
        Stop once this many bit errors are counted (and ``min_symbols`` reached).
    min_symbols : int, optional
        Count at least this many symbols.
    max_symbols : int, optional
        Symbol budget: stop here whatever the error count. Counting is by whole blocks.
    skip : int, optional
        Receiver symbols ignored at the start (acquisition transient).
    align_window : int, optional
        Symbols after ``skip`` on which the delay and rotation are resolved (not counted).
    block_size : int, optional
        Symbols per block of the slip detector and of the stopping rule.
    chunk_symbols : int, optional
        Symbols generated per processing chunk.
    min_lock : float, optional
        Smallest alignment correlation (see :func:`align`) accepted as lock.
    tamper : callable, optional
        ``tamper(z, first_index) -> z`` applied to each chunk of receiver symbols before
        counting (``first_index`` is the absolute index of ``z[0]``); lets a test inject a
        cycle or timing slip to check that the counting sees it.

    Returns
    -------
    BerPoint

    Raises
    ------
    AlignmentError
        The alignment window does not correlate with the transmitted symbols.
    """
    if (ebn0_db is None) == (esn0_db is None):
        raise ValueError("give exactly one of ebn0_db and esn0_db")
    t_start = time.perf_counter()
    cfg = cfg.resolved()
    modn = cfg.modulation
    mod = Modulation(modn)
    k, order = mod.bits_per_symbol, mod.order
    if ebn0_db is None:
        ebn0_db = esn0_db - 10 * math.log10(k)
    esn0_db = ebn0_db + 10 * math.log10(k)

    tx, ch, rx, rng, gain = _make_link(cfg, ebn0_db)

    # transmitted bits from absolute symbol index tx_base on (older ones are dropped)
    tx_bits = np.zeros(0, np.uint8)
    tx_base = 0
    n_tx = 0
    # receiver symbols from absolute index rx_base on, not yet consumed
    rx_z = np.zeros(0, np.complex64)
    rx_base = 0
    n_rx = 0  # receiver symbols produced so far
    first_chunk = True

    lag = rot = lock_at = None
    metric = float("nan")
    count_start = skip + align_window
    derot = 1.0
    errors = bits_counted = syms_counted = 0
    block_errors, states = [], []

    def tx_points(j0, j1):
        """Transmitted symbols with absolute indices j0..j1-1 (must be held)."""
        return mod.modulate_bits(tx_bits[(j0 - tx_base) * k:(j1 - tx_base) * k])

    done = False
    while not done:
        b = rng.integers(0, 2, chunk_symbols * k, dtype=np.uint8)
        tx_bits = np.concatenate([tx_bits, b])
        n_tx += chunk_symbols
        x = tx.process(b).astype(np.complex64) * np.complex64(gain)
        if first_chunk and cfg.lead_in:
            x = np.concatenate([np.zeros(cfg.lead_in, np.complex64), x])
        first_chunk = False
        z_new = rx.process(ch.process(x))["z"]
        if tamper is not None:
            z_new = np.asarray(tamper(z_new, n_rx), np.complex64)
        n_rx += len(z_new)
        rx_z = np.concatenate([rx_z, z_new])

        if lag is None:
            if rx_base + len(rx_z) < count_start:
                if n_tx > count_start + 16 * chunk_symbols:
                    raise AlignmentError(f"{modn}: the receiver gave {len(rx_z)} symbols for "
                                         f"{n_tx} sent")
                continue
            if n_tx < count_start + 64:
                continue
            zw = rx_z[skip - rx_base:count_start - rx_base]
            lag, rot, metric = align(zw, skip, tx_points(0, count_start + 64), order)
            if metric < min_lock:
                raise AlignmentError(
                    f"{modn} at Eb/N0 {ebn0_db:.2f} dB: no lock after {skip} symbols "
                    f"(correlation {metric:.3f} < {min_lock})")
            derot = np.exp(-2j * np.pi * rot / order)
            lock_at = _lock_time(rx_z[:skip] * derot, lag, tx_bits, modn, skip)
            rx_z = rx_z[count_start - rx_base:]
            rx_base = count_start

        # whole blocks whose transmitted symbols (+/-2 for the slip detector) are available
        while len(rx_z) >= block_size and rx_base + block_size + lag + 2 <= n_tx:
            zb = rx_z[:block_size].astype(np.complex128)
            j0 = rx_base + lag
            ref_bits = tx_bits[(j0 - tx_base) * k:(j0 + block_size - tx_base) * k]
            e = int(np.count_nonzero(hard_bits(zb * derot, modn) != ref_bits))
            errors += e
            bits_counted += block_size * k
            syms_counted += block_size
            block_errors.append(e)
            # slip detector: best delay offset (-2..2) and rotation on this block alone
            ref = tx_points(j0 - 2, j0 + block_size + 2)
            cs = [np.vdot(ref[2 + d:2 + d + block_size], zb) for d in range(-2, 3)]
            d = int(np.argmax(np.abs(cs)))
            states.append((d - 2, _rotation_of(cs[d], order)))
            rx_z = rx_z[block_size:]
            rx_base += block_size
            if (syms_counted >= max_symbols
                    or (errors >= min_errors and syms_counted >= min_symbols)):
                done = True
                break
        # drop transmitted bits no longer needed
        if lag is not None and rx_base + lag - 2 > tx_base:
            drop = rx_base + lag - 2 - tx_base
            tx_bits = tx_bits[drop * k:]
            tx_base += drop

    lo, hi = clopper_pearson(errors, bits_counted)
    # the first block's state is the resolved one (0, rot); a change from it is a slip too
    slips, where = count_slips([(0, rot)] + states)
    return BerPoint(
        modulation=modn, ebn0_db=float(ebn0_db), esn0_db=float(esn0_db), errors=errors,
        bits=bits_counted, symbols=syms_counted, ber=errors / bits_counted, ci_lo=lo, ci_hi=hi,
        theory=theory_ber(ebn0_db), slips=slips, slip_blocks=[w - 1 for w in where], lag=lag,
        rotation=rot, lock_metric=metric, lock_at=lock_at, block_size=block_size,
        block_errors=np.asarray(block_errors, np.int64), block_states=states,
        elapsed=time.perf_counter() - t_start)


def ber_curve(cfg: LinkConfig, ebn0_list, **kw) -> list[BerPoint]:
    """:func:`simulate_ber` at every Eb/N0 of ``ebn0_list`` (dB); keyword arguments pass on.

    Each point uses its own noise realisation (the seed is offset by the point's index).
    """
    out = []
    for i, e in enumerate(ebn0_list):
        c = replace(cfg, seed=cfg.seed + 1000 * i, demod=dict(cfg.demod))
        out.append(simulate_ber(c, float(e), **kw))
    return out


# ------------------------------------------------------------------------------------------------
# Loss and reporting


def bracketing_points(points, target: float = 1e-4):
    """The two measured points whose BERs bracket ``target``, and the interpolation weight.

    Parameters
    ----------
    points : sequence of BerPoint
        Measured points (any order); points without errors or at BER >= 0.5 are ignored.
    target : float, optional
        BER to bracket (default 1e-4).

    Returns
    -------
    (above, below, f) : BerPoint, BerPoint, float
        ``above.ber >= target >= below.ber`` (adjacent in BER order) and
        ``f = (log10 above.ber - log10 target) / (log10 above.ber - log10 below.ber)`` in [0, 1].

    Raises
    ------
    ValueError
        The measured BERs do not bracket ``target``.
    """
    pts = sorted((p for p in points if 0 < p.errors and p.ber < 0.5), key=lambda p: -p.ber)
    y = np.log10([p.ber for p in pts]) if pts else np.zeros(0)
    ly = math.log10(target)
    for i in range(len(pts) - 1):
        if y[i] >= ly >= y[i + 1]:
            f = 0.0 if y[i] == y[i + 1] else (y[i] - ly) / (y[i] - y[i + 1])
            return pts[i], pts[i + 1], float(f)
    raise ValueError(f"measured BERs do not bracket {target:g}: "
                     f"{[f'{p.ber:.2e}' for p in pts]}")


def implementation_loss(points, target: float = 1e-4, method: str = "shift"
                        ) -> tuple[float, float, float]:
    """Eb/N0 shift (dB) of a measured curve from theory where the BER crosses ``target``.

    ``method="shift"`` (default): each point's loss is ``delta_i = EbN0_i -
    theory_ebn0_db(BER_i)`` (the shift that puts theory through it), and ``delta`` is
    interpolated linearly in ``log10 BER`` at ``target`` between the two points bracketing it.
    This removes the curvature of the waterfall. ``method="direct"``: the Eb/N0 where the
    measured curve crosses ``target``, by linear interpolation of ``log10 BER`` against Eb/N0
    between the same two points, minus ``theory_ebn0_db(target)`` (biased by the curvature,
    by a few hundredths of a dB for 0.5 dB steps). The same interpolation of the values computed
    from the confidence bounds gives an approximate interval.

    Parameters
    ----------
    points : sequence of BerPoint
        Measured points (any order); points without errors are ignored.
    target : float, optional
        BER at which the loss is evaluated (default 1e-4).
    method : {"shift", "direct"}, optional

    Returns
    -------
    (loss, loss_lo, loss_hi) : tuple of float
        Loss in dB (positive: worse than theory) and its approximate 95 % bounds.

    Raises
    ------
    ValueError
        The measured BERs do not bracket ``target``, or unknown ``method``.
    """
    pa, pb, f = bracketing_points(points, target)
    ly = math.log10(target)
    ref = theory_ebn0_db(target)

    if method == "shift":
        def value(ba, bb):
            return ((1 - f) * (pa.ebn0_db - theory_ebn0_db(ba))
                    + f * (pb.ebn0_db - theory_ebn0_db(bb)))
    elif method == "direct":
        def value(ba, bb):
            ya, yb = math.log10(ba), math.log10(bb)
            g = 0.0 if ya == yb else (ya - ly) / (ya - yb)
            return pa.ebn0_db + g * (pb.ebn0_db - pa.ebn0_db) - ref
    else:
        raise ValueError(f"unknown method {method!r}; use 'shift' or 'direct'")

    loss = value(pa.ber, pb.ber)
    # a higher BER means a larger loss: the upper bound comes from ci_hi
    lo = value(max(pa.ci_lo, 1e-300), max(pb.ci_lo, 1e-300))
    hi = value(min(pa.ci_hi, 0.4999), min(pb.ci_hi, 0.4999))
    return float(loss), float(lo), float(hi)


def consistent_with_theory(point: BerPoint, max_loss_db: float = 0.5,
                           min_loss_db: float = 0.0) -> bool:
    """Whether some loss in ``[min_loss_db, max_loss_db]`` puts theory inside the 95 % interval.

    That is ``ci_lo <= theory(EbN0 - max_loss_db)`` (not significantly worse than theory with
    the allowed loss) and ``ci_hi >= theory(EbN0 - min_loss_db)`` (not significantly better
    than theory).

    Parameters
    ----------
    point : BerPoint
    max_loss_db : float, optional
        Loss allowance in dB (default 0.5).
    min_loss_db : float, optional
        Smallest loss in dB; a small negative value tolerates the optimistic fluctuation of a
        single seed (default 0).

    Returns
    -------
    bool
    """
    return (point.ci_lo <= theory_ber(point.ebn0_db - max_loss_db)
            and point.ci_hi >= theory_ber(point.ebn0_db - min_loss_db))


def format_table(points) -> str:
    """Text table of measured points (Eb/N0, BER, 95 % CI, theory, loss, errors, symbols, slips).

    Parameters
    ----------
    points : sequence of BerPoint

    Returns
    -------
    str
    """
    lines = [f"{'mod':5} {'Eb/N0':>6} {'Es/N0':>6} {'BER':>10} {'CI95 lo':>10} {'CI95 hi':>10} "
             f"{'theory':>10} {'loss dB':>7} {'errors':>7} {'symbols':>9} {'slips':>5} "
             f"{'time s':>6}"]
    for p in points:
        lines.append(f"{p.modulation:5} {p.ebn0_db:6.2f} {p.esn0_db:6.2f} {p.ber:10.3e} "
                     f"{p.ci_lo:10.3e} {p.ci_hi:10.3e} {p.theory:10.3e} {p.loss_db:7.3f} "
                     f"{p.errors:7d} {p.symbols:9d} {p.slips:5d} {p.elapsed:6.1f}")
    return "\n".join(lines)
