"""Small blocks that join the modem families to the deframers and to the audio medium.

- :class:`SoftToSym`: soft bits (f32 LLRs, one per symbol) to 'sym' records whose ``z`` is the
  (real) soft value, so that the symbol-input deframers (CCSDS coded frames, sync+CRC frames)
  can sit behind an FSK demodulator as they sit behind the PSK one.
- :class:`AudioUpconverter`: complex baseband to a real audio passband signal centred on an
  audio carrier: what an SSB receiver outputs for a PSK satellite (``Re{x e^{j 2 pi fc t}}``).
- :class:`FmModulator`: real audio to complex baseband FM (for AFSK and FM-audio waveforms on an
  IQ medium).

All three are phase- or index-continuous across chunks (absolute sample indices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orbitlink.modem._kernels.bits import phase_accumulate
from orbitlink.modem.block import SYM_DTYPE, Block, Rate, param, register


@dataclass(frozen=True)
class SoftToSymParams:
    sps: float = param(1.0, "Input samples per symbol the 't' field counts in (for times)",
                       unit="samples", lo=0.0, lo_open=True)
    scale: float = param(1.0, "Divide the soft values by this", lo=0.0, lo_open=True)


@register
class SoftToSym(Block):
    """f32 soft bits (positive = 1) to 'sym' records: ``z = x / scale`` (real), ``t = index *
    sps``, ``f = 0``.

    In the BPSK convention of :mod:`orbitlink.modem.modulation` bit 1 is the point at +1, so
    a positive LLR becomes the BPSK point of bit 1. The symbol deframers estimate amplitude
    and noise themselves (M2M4), so the scale only matters for display.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        Soft bits, one per symbol, positive means 1 (an FSK demodulator's output).

    Output
    ------
    sym : ndarray of SYM_DTYPE, shape (n,)
        One record per input: ``z = x / scale`` (real: bit 1 is the BPSK point +1), ``t =
        index * sps`` (input samples), ``f = 0``.
    """

    name = "soft_to_sym"
    Params = SoftToSymParams
    rate = Rate.SYNC
    in_type = "f32"
    out_type = "sym"

    def _reset(self):
        self._n = 0

    def _process(self, x):
        x = np.asarray(x, np.float32)
        p = self.params
        out = np.zeros(len(x), SYM_DTYPE)
        out["z"] = x / np.float32(p.scale)
        out["t"] = np.arange(self._n, self._n + len(x), dtype=np.float64) * p.sps
        self._n += len(x)
        return out

    @classmethod
    def example(cls, rng):
        x = (rng.standard_normal(700) + 3 * np.sign(rng.standard_normal(700))).astype(np.float32)
        return cls(sps=5.0, scale=3.0), x


@dataclass(frozen=True)
class AudioUpconverterParams:
    samp_rate: float = param(48000.0, "Sample rate", unit="Hz", lo=0.0, lo_open=True)
    carrier: float = param(1500.0, "Audio carrier frequency", unit="Hz", lo=0.0)
    amplitude: float = param(0.5, "Peak scale of the output (unit-power input)", lo=0.0,
                             hi=1.0, lo_open=True)


@register
class AudioUpconverter(Block):
    """Complex baseband (c64) to real audio (f32): ``amplitude * Re{x[n] e^{j 2 pi fc n/fs}}``,
    which is the USB audio of a receiver tuned ``carrier`` Hz below the signal.

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        Complex baseband at ``samp_rate`` (unit power nominal).

    Output
    ------
    f32 : ndarray of float32, shape (n,)
        Real audio, one per input: ``amplitude * Re{x[n] e^{j 2 pi carrier n / samp_rate}}``
        (USB audio).
    """

    name = "audio_upconverter"
    Params = AudioUpconverterParams
    rate = Rate.SYNC
    in_type = "c64"
    out_type = "f32"

    def _reset(self):
        self._n = 0

    def _process(self, x):
        p = self.params
        n = np.arange(self._n, self._n + len(x), dtype=np.float64)
        self._n += len(x)
        # phase from the absolute index, reduced exactly (frequency as a fraction of fs)
        ph = 2 * np.pi * np.mod(n * (p.carrier / p.samp_rate), 1.0)
        y = (np.asarray(x, np.complex128) * np.exp(1j * ph)).real * p.amplitude
        return y.astype(np.float32)

    @classmethod
    def example(cls, rng):
        x = (rng.standard_normal(500) + 1j * rng.standard_normal(500)).astype(np.complex64)
        return cls(samp_rate=8000.0, carrier=1700.0), x


@dataclass(frozen=True)
class FmModulatorParams:
    samp_rate: float = param(48000.0, "Sample rate", unit="Hz", lo=0.0, lo_open=True)
    deviation: float = param(3000.0, "Frequency deviation for input amplitude 1", unit="Hz",
                             lo=0.0, lo_open=True)


@register
class FmModulator(Block):
    """Real audio (f32) to complex baseband FM (c64, unit amplitude): the phase advances by
    ``2 pi deviation x[n] / fs`` per sample.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        Audio: the instantaneous frequency in units of ``deviation`` (1.0 -> +deviation
        Hz).

    Output
    ------
    c64 : ndarray of complex64, shape (n,)
        Unit-amplitude FM complex baseband at ``samp_rate``, one per input, phase
        continuous.
    """

    name = "fm_mod"
    Params = FmModulatorParams
    rate = Rate.SYNC
    in_type = "f32"
    out_type = "c64"

    def _reset(self):
        self._phase = 0.0

    def _process(self, x):
        p = self.params
        x = np.asarray(x, np.float64)
        ph = np.empty(len(x), np.float64)
        st = np.array([self._phase])
        phase_accumulate(x, 2 * np.pi * p.deviation / p.samp_rate, st, ph)  # sample by sample
        self._phase = float(st[0])
        return np.exp(1j * ph).astype(np.complex64)

    @classmethod
    def example(cls, rng):
        return cls(), rng.standard_normal(400).astype(np.float32)
