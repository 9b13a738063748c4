"""Automatic frequency control ahead of the FSK-family receivers (c64 -> c64).

The FSK receiver's channel filter is sized for the signal (deviation plus half the symbol rate,
GMSK: 0.7 symbol rates one-sided); a carrier offset of half the symbol rate moves half of a
GMSK signal out of it (no frames at any SNR), and the coherent GMSK receiver acquires only
+-0.2 symbol rates. :class:`FskAfc` measures the carrier from the whole band and removes it,
so that the signal arrives centred and the filters stay narrow (the sensitivity at zero offset
is kept).

The measurement is data-free in the mean: the lag-1 correlation ``sum x[n] conj(x[n-1])`` of
the unfiltered samples has the angle ``2 pi (offset + mean data frequency) / samp_rate``; white
noise adds nothing to it in the mean (it is uncorrelated from one sample to the next) and the
data's mean frequency averages out over many symbols (balanced, scrambled or NRZI data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from orbitlink.modem.block import Block, ParamError, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.quality import FskQuality

__all__ = ["FskAfc", "FskAfcParams", "AfcQuality"]


@dataclass(frozen=True)
class FskAfcParams:
    samp_rate: float = param(48000.0, "Sample rate", unit="Hz", lo=0.0, lo_open=True)
    symbol_rate: float = param(9600.0, "Symbol rate", unit="Bd", lo=0.0, lo_open=True)
    max_offset: float = param(0.6, "Largest carrier offset removed", unit="x symbol rate",
                              lo=0.0, hi=10.0)
    block_symbols: int = param(128, "Measurement block (the output lags by up to one)",
                               unit="symbols", lo=8, hi=1 << 20)
    avg_symbols: float = param(1024.0, "Time constant of the running correlation",
                               unit="symbols", lo=1.0, hi=1e7)


@register
class FskAfc(Block):
    """Carrier offset removal for FSK, GFSK and GMSK IQ (c64 -> c64, sync rate).

    The input is cut into blocks of ``block_symbols`` symbols on the absolute sample grid; each
    block's lag-1 correlation is added to a running sum (time constant ``avg_symbols``) whose
    angle is the carrier offset (limited to ``max_offset`` symbol rates); the block then leaves
    derotated by it (a phase-continuous NCO). ``freq_hz`` is the last estimate,
    ``last_freq_hz`` the frequency removed from each sample of the last output.

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        FSK-family IQ at ``samp_rate`` with a carrier offset.

    Output
    ------
    c64 : ndarray of complex64, shape (n,)
        The same samples with the measured offset removed, one per input in total (up to one
        block late).
    """

    name = "fsk_afc"
    _LOG_BLOCKS = 1 << 14  # blocks of frequency log kept for the frames' freq_offset_hz
    Params = FskAfcParams
    rate = Rate.SYNC
    in_type = "c64"
    out_type = "c64"

    def _reset(self):
        p = self.params
        if p.max_offset * p.symbol_rate >= 0.5 * p.samp_rate:
            raise ParamError(f"{self.name}: max_offset reaches the Nyquist frequency")
        self._nb = max(8, int(round(p.block_symbols * p.samp_rate / p.symbol_rate)))
        self._a = math.exp(-p.block_symbols / p.avg_symbols)
        self._hold = StreamBuffer(np.complex128)
        self._prev = None  # the last input sample (for the lag across blocks)
        self._r = 0j
        self._phase = 0.0  # NCO phase (cycles) at the next output sample
        self.freq_hz = 0.0
        self.last_freq_hz = np.zeros(0, np.float64)
        self._log = StreamBuffer(np.float64)  # the frequency removed, per block (absolute)

    def _block(self, x):
        p = self.params
        if len(x):
            lag = np.sum(x[1:] * np.conj(x[:-1]))
            if self._prev is not None:
                lag += x[0] * np.conj(self._prev)
            self._prev = x[-1]
            self._r = self._a * self._r + lag
            if self._r != 0:
                f = float(np.angle(self._r)) / (2 * math.pi) * p.samp_rate
                lim = p.max_offset * p.symbol_rate
                self.freq_hz = min(lim, max(-lim, f))
        self._log.append(np.full(1, self.freq_hz))
        self._log.keep_from(self._log.end - self._LOG_BLOCKS)
        w = self.freq_hz / p.samp_rate
        ph = self._phase + w * np.arange(len(x))
        self._phase = float((self._phase + w * len(x)) % 1.0)
        return (x * np.exp(-2j * np.pi * ph)).astype(np.complex64)

    def mean_freq(self, start: float, stop: float) -> float:
        """The mean frequency (Hz) removed over absolute samples ``start .. stop`` (the blocks
        still logged, the nearest one if none; 0 before the first)."""
        if not self._log.end:
            return 0.0
        lo, hi = self._log.base, self._log.end - 1
        a = min(max(int(start // self._nb), lo), hi)
        b = min(max(int(stop // self._nb), a), hi)
        return float(np.mean(self._log.view[a - lo:b - lo + 1]))

    def _process(self, x):
        self._hold.append(np.asarray(x, np.complex128))
        outs, frs = [], []
        while len(self._hold) >= self._nb:
            blk = self._hold.view[:self._nb].copy()
            self._hold.consume(self._nb)
            outs.append(self._block(blk))
            frs.append(np.full(len(blk), self.freq_hz))
        self.last_freq_hz = np.concatenate(frs) if frs else np.zeros(0, np.float64)
        return np.concatenate(outs) if outs else np.zeros(0, np.complex64)

    def _flush(self):
        blk = self._hold.take_all()
        if not len(blk):
            self.last_freq_hz = np.zeros(0, np.float64)
            return np.zeros(0, np.complex64)
        y = self._block(blk)
        self.last_freq_hz = np.full(len(blk), self.freq_hz)
        return y

    @classmethod
    def example(cls, rng):
        from orbitlink.modem.fsk import FskModulator

        bits = rng.integers(0, 2, 400).astype(np.uint8)
        x = FskModulator(symbol_rate=1000.0, samp_rate=5000.0, deviation=250.0, bt=0.5).run(bits)
        x = x * np.exp(2j * np.pi * 0.09 * np.arange(len(x)))
        x = x + 0.1 * (rng.standard_normal(len(x)) + 1j * rng.standard_normal(len(x)))
        return cls(samp_rate=5000.0, symbol_rate=1000.0, block_symbols=32,
                   avg_symbols=128.0), x.astype(np.complex64)


class AfcQuality(FskQuality):
    """The eye log of the FSK demodulator behind an :class:`FskAfc` (``demod.quality``, looked
    up at each call), with the frequency the AFC removed added to each frame's
    ``freq_offset_hz``: the offset the frame arrived with. The link sets it as the AFC's
    ``quality`` so that the frames' metadata read it
    (:func:`orbitlink.modem.quality.attach_quality`).
    """

    def __init__(self, afc: FskAfc, demod, sps: float):  # noqa: super().__init__ not wanted
        self._afc = afc
        self._demod = demod
        self._sps = float(sps)  # input samples per symbol

    @property
    def _q(self) -> FskQuality:
        return self._demod.quality

    def update(self, y, times) -> None:
        self._q.update(y, times)

    @property
    def symbols(self) -> int:
        return self._q.symbols

    def frame_stats(self, first: int, count: int, deviation_hz: float = 0.0) -> dict:
        out = self._q.frame_stats(first, count, deviation_hz)
        if "freq_offset_hz" in out:
            f = self._afc.mean_freq(int(first) * self._sps, (int(first) + int(count)) * self._sps)
            out["freq_offset_hz"] = round(out["freq_offset_hz"] + f, 3)
        return out
