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

from orbitlink.modem._kernels import afc as K
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
    block_symbols: int = param(128, "Measurement block (the frequency moves once per block)",
                               unit="symbols", lo=8, hi=1 << 20)
    avg_symbols: float = param(1024.0, "Time constant of the running correlation",
                               unit="symbols", lo=1.0, hi=1e7)


@register
class FskAfc(Block):
    """Carrier offset removal for FSK, GFSK and GMSK IQ (c64 -> c64, sync rate).

    The input is cut into blocks of ``block_symbols`` symbols on the absolute sample grid; each
    block's lag-1 correlation is added to a running sum (time constant ``avg_symbols``) whose
    angle is the carrier offset (limited to ``max_offset`` symbol rates); the next block leaves
    derotated by it (a phase-continuous NCO; the first block as it came). ``freq_hz`` is the
    frequency removed from the current block, :meth:`mean_freq` the mean over a span.

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        FSK-family IQ at ``samp_rate`` with a carrier offset.

    Output
    ------
    c64 : ndarray of complex64, shape (n,)
        The same samples with the measured offset removed, one per input.
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
        self._decay = math.exp(-p.block_symbols / p.avg_symbols)
        self._fmax = p.max_offset * p.symbol_rate / p.samp_rate
        self._state = np.zeros(K.AF_NSTATE)
        self._log = StreamBuffer(np.float64)  # the frequency removed, per block (absolute)

    @property
    def freq_hz(self) -> float:
        """The frequency (Hz) removed from the current block."""
        return float(self._state[K.AF_FREQ] * self.params.samp_rate)

    def mean_freq(self, start: float, stop: float) -> float:
        """The mean frequency (Hz) removed over absolute samples ``start .. stop`` (the blocks
        still logged, the nearest one if none; 0 before the first)."""
        if not self._log.end:
            return 0.0
        lo, hi = self._log.base, self._log.end - 1
        a = min(max(int(start // self._nb), lo), hi)
        b = min(max(int(stop // self._nb), a), hi)
        return float(np.mean(self._log.view[a - lo:b - lo + 1])) * self.params.samp_rate

    def _process(self, x):
        x = np.asarray(x, np.complex64)
        out = np.empty(len(x), np.complex64)
        freqs = np.empty(len(x) // self._nb + 2, np.float64)
        if not self._log.end:
            self._log.append(np.zeros(1))  # block 0 leaves as it came
        n = K.afc(x, self._state, self._nb, self._decay, self._fmax, out, freqs)
        if n:
            self._log.append(freqs[:n])
            self._log.keep_from(self._log.end - self._LOG_BLOCKS)
        return out

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

    def update(self, y, times, dc=None) -> None:
        self._q.update(y, times, dc)

    # the eye diagram is the demodulator's (orbitlink.flowgraphs.monitor)
    @property
    def eye_keep(self) -> int:
        return self._q.eye_keep

    @eye_keep.setter
    def eye_keep(self, n: int) -> None:
        self._q.eye_keep = n

    def eye_traces(self, first=None, count=None):
        return self._q.eye_traces(first, count)

    @property
    def frame_eye(self):
        return self._q.frame_eye

    @property
    def frame_eye_first(self):
        return self._q.frame_eye_first

    @property
    def frame_eyes(self) -> int:
        return self._q.frame_eyes

    @property
    def frame_eye_log(self):
        return self._q.frame_eye_log

    @property
    def symbols(self) -> int:
        return self._q.symbols

    def frame_stats(self, first: int, count: int, deviation_hz: float = 0.0) -> dict:
        out = self._q.frame_stats(first, count, deviation_hz)
        if "freq_offset_hz" in out:
            f = self._afc.mean_freq(int(first) * self._sps, (int(first) + int(count)) * self._sps)
            out["freq_offset_hz"] = round(out["freq_offset_hz"] + f, 3)
        return out
