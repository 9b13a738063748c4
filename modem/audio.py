"""Audio-domain blocks: SSB receiver audio to complex baseband, and sample-rate conversion.

:class:`SsbToIq` (f32 -> c64)
    The audio of an SSB receiver tuned to a PSK downlink is a real passband signal: the PSK
    carrier sits somewhere in the audio band (around 1500 Hz for 1200 Bd, around 11-12 kHz for
    9600 Bd in 48 kHz audio). The block finds that carrier on its own (the spectral line of the
    squared analytic signal at twice the carrier, as :func:`orbitlink.modem.psk.mpower_freq`
    does for complex signals), then mixes the audio down by it and low-passes it to the signal's
    bandwidth plus a margin: the output is the complex baseband that
    :class:`orbitlink.modem.psk.PskDemodulator` takes, with a residual offset that its FLL and
    carrier loop acquire and track (Doppler drift included).

:class:`Resampler` (c64 -> c64) and :class:`RealResampler` (f32 -> f32)
    Any ratio ``in_rate -> out_rate``, polyphase windowed-sinc (Kaiser) interpolation with
    linear interpolation between phases, anti-alias filtering when decimating, exact rational
    output timing over any length.

Both honour the chunk contract: times come from absolute sample indices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from orbitlink.modem._kernels import audio as K
from orbitlink.modem.block import Block, ParamError, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.filters import kaiser_lowpass, kaiser_sinc_table

__all__ = ["SsbToIq", "SsbToIqParams", "Resampler", "RealResampler", "ResamplerParams",
           "passband_carrier", "kaiser_lowpass"]


# ================================================================================================
# helpers


def passband_carrier(x: np.ndarray, samp_rate: float, fmin: float, fmax: float,
                     half_bw: float = 0.0) -> tuple[float, float]:
    """Carrier of a BPSK signal in real passband audio, from the line of its squared analytic
    signal at twice the carrier.

    Parameters
    ----------
    x : real array
        The audio block.
    samp_rate : float
        Sample rate, Hz.
    fmin, fmax : float
        Carrier search range, Hz (``0 <= fmin < fmax <= samp_rate / 2``).
    half_bw : float
        Half the signal bandwidth, Hz: the audio outside ``[fmin - half_bw, fmax + half_bw]``
        is removed first (less noise through the square law).

    Returns
    -------
    (carrier_hz, line_db) : the carrier in Hz and the line's height over the median of the
    searched spectrum in dB (noise alone: about 10-13 dB).
    """
    x = np.asarray(x, np.float64)
    n = len(x)
    if n < 16:
        return 0.5 * (fmin + fmax), 0.0
    spec = np.fft.fft(x - x.mean())
    fr = np.fft.fftfreq(n, 1.0 / samp_rate)
    keep = (fr >= max(fmin - half_bw, 0.0)) & (fr <= fmax + half_bw) & (fr > 0)
    a = np.fft.ifft(np.where(keep, 2 * spec, 0))  # analytic, band-limited
    u = a * a * np.hanning(n)
    nfft = 1 << int(math.ceil(math.log2(4 * n)))
    p = np.abs(np.fft.fft(u, nfft)) ** 2
    f2 = np.arange(nfft) * (samp_rate / nfft)  # 0 .. samp_rate: twice the carrier, unaliased
    sel = np.nonzero((f2 >= 2 * fmin) & (f2 <= 2 * fmax))[0]
    if len(sel) < 3:
        return 0.5 * (fmin + fmax), 0.0
    k = sel[np.argmax(p[sel])]
    la, lb, lc = (math.log(p[(k + d) % nfft] + 1e-300) for d in (-1, 0, 1))
    den = la - 2 * lb + lc
    delta = 0.5 * (la - lc) / den if den < 0 else 0.0
    f = (k + delta) * samp_rate / nfft / 2
    snr = 10 * math.log10(p[k] / max(float(np.median(p[sel])), 1e-300))
    return float(f), float(snr)


# ================================================================================================
# SSB audio to complex baseband


@dataclass(frozen=True)
class SsbToIqParams:
    samp_rate: float = param(48000.0, "Audio sample rate", unit="Hz", lo=0.0, lo_open=True)
    symbol_rate: float = param(1200.0, "Symbol rate of the PSK signal", unit="Bd", lo=0.0,
                               lo_open=True)
    alpha: float = param(0.35, "Roll-off of the signal (its bandwidth is (1 + alpha) x symbol "
                         "rate)", lo=0.0, hi=1.0)
    carrier: float = param(0.0, "Audio carrier (0 = find it automatically)", unit="Hz", lo=0.0)
    fmin: float = param(0.0, "Lowest carrier searched (0 = half the signal bandwidth)",
                        unit="Hz", lo=0.0)
    fmax: float = param(0.0, "Highest carrier searched (0 = Nyquist minus half the signal "
                        "bandwidth)", unit="Hz", lo=0.0)
    acq_symbols: int = param(2048, "Symbols per acquisition block", unit="symbols", lo=64,
                             hi=1 << 20)
    min_line_db: float = param(16.0, "Height of the carrier line over the median that counts "
                               "as signal present (noise alone: 10-13 dB)", unit="dB", lo=0.0)
    max_hold: int = param(32, "Acquisition blocks held at most: after that many without a "
                          "clear line, the strongest line so far sets the carrier", lo=1,
                          hi=4096)
    margin: float = param(0.3, "Pass band beyond half the signal bandwidth, for the residual "
                          "offset and drift", unit="x symbol rate", lo=0.0, hi=4.0)
    sps: float = param(0.0, "Target samples per symbol: decimate by the largest integer that "
                       "keeps at least this many (0 = no decimation)", unit="samples", lo=0.0)
    lsb: bool = param(False, "The receiver was in LSB: conjugate the output (restores the "
                      "sense of rotation; not needed for BPSK)")


@register
class SsbToIq(Block):
    """SSB receiver audio (f32) carrying a PSK signal to complex baseband (c64).

    Acquisition: the audio is cut into blocks of ``acq_symbols`` symbols on the absolute sample
    grid; in each, :func:`passband_carrier` measures the carrier. The first block whose line
    stands ``min_line_db`` above the median sets the carrier (or, after ``max_hold`` blocks or
    at the end of the stream, the block with the strongest line). Everything is held until
    then; from then on the carrier is fixed (``carrier_hz``, ``line_db``) and every sample,
    from the first, is mixed down by it and low-passed (Kaiser windowed-sinc, pass band
    ``(1 + alpha) / 2 + margin`` symbol rates, stop band before the mirror image at twice the
    carrier) and decimated by ``decim``. Output sample ``m`` is centred on input sample
    ``m * decim`` (no delay); ``out_rate`` is the output sample rate.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        SSB receiver audio at ``samp_rate`` carrying a PSK signal on an audio carrier (USB;
        ``lsb`` for LSB audio).

    Output
    ------
    c64 : ndarray of complex64, shape (n,)
        Complex baseband at ``out_rate = samp_rate / decim`` with the audio carrier removed
        (a residual offset is left to the PSK receiver); output ``m`` is centred on input
        sample ``m * decim``. Nothing comes out until the carrier is found.
    """

    name = "ssb_to_iq"
    Params = SsbToIqParams
    rate = Rate.DECIM
    in_type = "f32"
    out_type = "c64"

    def _reset(self):
        p = self.params
        nyq = p.samp_rate / 2
        self.half_bw = (1 + p.alpha) * p.symbol_rate / 2
        if self.half_bw >= nyq:
            raise ParamError(f"{self.name}: a {p.symbol_rate:g} Bd signal does not fit in "
                             f"{p.samp_rate:g} Hz audio")
        self.fmin = p.fmin if p.fmin > 0 else self.half_bw
        self.fmax = p.fmax if p.fmax > 0 else nyq - self.half_bw
        if not self.fmin < self.fmax <= nyq:
            raise ParamError(f"{self.name}: the carrier search range {self.fmin:g}-"
                             f"{self.fmax:g} Hz is empty or above Nyquist")
        if p.carrier >= nyq:
            raise ParamError(f"{self.name}: carrier {p.carrier:g} Hz is above Nyquist "
                             f"({nyq:g} Hz)")
        self.decim = 1
        if p.sps > 0:
            self.decim = max(1, int(math.floor(p.samp_rate / (p.symbol_rate * p.sps) + 1e-9)))
        self.out_rate = p.samp_rate / self.decim
        self._nblock = max(64, int(round(p.acq_symbols * p.samp_rate / p.symbol_rate)))
        self._n_in = 0  # input samples seen
        self._hold = StreamBuffer(np.float32)  # held input, absolute indices 0 ..
        self._examined = 0  # acquisition blocks examined
        self._best = None  # (line_db, carrier_hz) of the strongest block so far
        self.carrier_hz = None
        self.line_db = None
        self.taps = None
        self._buf = StreamBuffer(np.complex128)  # mixed samples from absolute index .base on
        self._m = 0  # next output index
        if p.carrier > 0:
            self._start(p.carrier, None)

    # -- acquisition --------------------------------------------------------------------------
    def _measure(self, block):
        f, snr = passband_carrier(block, self.params.samp_rate, self.fmin, self.fmax,
                                  self.half_bw)
        if self._best is None or snr > self._best[0]:
            self._best = (snr, f)
        return f, snr

    def _start(self, carrier, line_db):
        p = self.params
        fs = p.samp_rate
        self.carrier_hz = float(carrier)
        self.line_db = line_db
        fp = self.half_bw + p.margin * p.symbol_rate  # pass band edge, Hz
        fstop = fp + 0.5 * p.symbol_rate
        fstop = min(fstop, self.out_rate - fp)  # no alias into the pass band after decimation
        image = 2 * carrier - self.half_bw  # nearest edge of the mirror image
        if image > self.half_bw:
            fstop = min(fstop, image)
        fstop = max(fstop, self.half_bw + 0.1 * p.symbol_rate)
        fp = min(fp, fstop - 0.05 * p.symbol_rate)
        self.taps = kaiser_lowpass(0.5 * (fp + fstop) / fs, (fstop - fp) / fs, 60.0)
        d = (len(self.taps) - 1) // 2
        self._buf = StreamBuffer(np.complex128, base=-d, fill=d)  # zeros before the first sample

    def _filter(self, x, final):
        """Mix and filter the next input samples (absolute indices continue from the buffer)."""
        n0 = self._buf.end
        mixed = self._buf.reserve(len(x))  # mixed down in place, behind the history
        K.mix_down(np.asarray(x, np.float64), n0, self.carrier_hz / self.params.samp_rate, mixed)
        d = (len(self.taps) - 1) // 2
        n_last = n0 + len(x) - 1
        if final:
            self._buf.extend_zeros(d)
        nmax = max(0, (n_last - self._m * self.decim) // self.decim + 1)
        out = np.empty(nmax, np.complex128)
        k = K.fir_decim(self._buf.view, self._buf.base, self._m, self.decim, self.taps, n_last,
                        out)
        self._m += k
        self._buf.keep_from(self._m * self.decim - d)
        y = out[:k].astype(np.complex64)
        return np.conj(y) if self.params.lsb else y

    def _process(self, x):
        self._n_in += len(x)
        if self.carrier_hz is not None:
            return self._filter(x, False)
        self._hold.append(x)
        nb = self._nblock
        while len(self._hold) >= (self._examined + 1) * nb:
            b = self._examined
            f, snr = self._measure(self._hold.view[b * nb:(b + 1) * nb])
            self._examined += 1
            if snr >= self.params.min_line_db:
                self._start(f, snr)
                break
            if self._examined >= self.params.max_hold:
                self._start(self._best[1], self._best[0])
                break
        if self.carrier_hz is None:
            return np.zeros(0, np.complex64)
        return self._filter(self._hold.take_all(), False)

    def _flush(self):
        if self.carrier_hz is None:
            if self._n_in == 0:
                return np.zeros(0, np.complex64)
            rest = self._hold.view[self._examined * self._nblock:]
            if len(rest) >= 64:
                f, snr = self._measure(rest)
            if self._best is None:
                self._start(0.5 * (self.fmin + self.fmax), None)
            else:
                self._start(self._best[1], self._best[0])
            return self._filter(self._hold.take_all(), True)
        return self._filter(np.zeros(0, np.float32), True)

    @classmethod
    def example(cls, rng):
        n = 3000
        t = np.arange(n)
        sym = np.repeat(rng.choice([-1.0, 1.0], n // 8 + 1), 8)[:n]
        x = sym * np.cos(2 * np.pi * 0.2 * t) + 0.1 * rng.standard_normal(n)
        return cls(samp_rate=8000.0, symbol_rate=1000.0, acq_symbols=64, sps=4.0,
                   margin=0.2), x.astype(np.float32)


# ================================================================================================
# Resampler


@dataclass(frozen=True)
class ResamplerParams:
    in_rate: float = param(48000.0, "Input sample rate", unit="Hz", lo=0.0, lo_open=True)
    out_rate: float = param(38400.0, "Output sample rate", unit="Hz", lo=0.0, lo_open=True)
    bandwidth: float = param(0.9, "Pass band, as a fraction of the lower of the two Nyquist "
                             "frequencies", lo=0.1, hi=0.99)
    half_width: int = param(16, "Zero crossings of the sinc on each side", lo=2, hi=256)
    beta: float = param(8.0, "Kaiser window beta", lo=0.0, hi=20.0)
    phases: int = param(256, "Polyphase table rows (linear interpolation in between)", lo=2,
                        hi=8192)


class _ResamplerBase(Block):
    Params = ResamplerParams
    rate = Rate.GENERAL
    _nch = 1

    def _reset(self):
        p = self.params
        ratio = (Fraction(p.in_rate) / Fraction(p.out_rate)).limit_denominator(1 << 31)
        if ratio > 4096 or ratio < Fraction(1, 4096):
            raise ParamError(f"{self.name}: the ratio {p.in_rate:g} -> {p.out_rate:g} Hz is "
                             "beyond 1:4096")
        self.ratio = ratio  # input samples per output sample
        self._den = ratio.denominator
        self._step_int, self._step_rem = divmod(ratio.numerator, ratio.denominator)
        scale = min(1.0, float(1 / ratio))  # cutoff scaling when decimating
        # cutoff halfway into the transition band between bandwidth and Nyquist
        fc = 0.25 * scale * (1 + p.bandwidth)
        half = int(math.ceil(p.half_width / (2 * fc)))
        self._half = half
        table = kaiser_sinc_table(fc, half, p.phases, p.beta)
        table /= table.sum(axis=1, keepdims=True)  # unit DC gain at every phase
        self._table = np.ascontiguousarray(table)
        self._state = np.zeros(3, np.int64)
        # input samples (complex for two channels) from absolute index .base on; zeros before 0
        self._buf = StreamBuffer(np.complex128 if self._nch == 2 else np.float64, base=-half,
                                 fill=half)
        self._n_in = 0

    def _run(self, x, final):
        self._n_in += len(x)
        self._buf.append(x)
        if final:
            self._buf.extend_zeros(self._half)
        n_last = self._n_in - 1 if final else self._buf.end
        avail = self._buf.end - self._state[1]
        nmax = max(0, int(avail * self._den // self.ratio.numerator) + 2)
        out = np.empty((self._nch, nmax), np.float64)
        v = self._buf.view
        chans = np.stack([v.real, v.imag]) if self._nch == 2 else v[None, :]
        k = K.resample(chans, self._buf.base, self._state, self._step_int, self._step_rem,
                       self._den, self._table, n_last, out)
        self._buf.keep_from(int(self._state[1]) - self._half + 1)
        if self._nch == 2:
            return (out[0, :k] + 1j * out[1, :k]).astype(np.complex64)
        return out[0, :k].astype(np.float32)

    def _process(self, x):
        return self._run(x, False)

    def _flush(self):
        empty = np.zeros(0, np.complex64 if self._nch == 2 else np.float32)
        if self._n_in == 0:
            return empty
        return self._run(empty, True)

    @property
    def delay(self) -> float:
        """Output sample ``k`` is the input at time ``k * in_rate / out_rate`` (no delay)."""
        return 0.0


@register
class Resampler(_ResamplerBase):
    """Complex samples (c64) from ``in_rate`` to ``out_rate`` (any ratio).

    Output ``k`` is the band-limited input at input time ``k * in_rate / out_rate`` (the ratio
    as an exact fraction, so the rates hold over any length); the stream of ``n`` inputs gives
    the outputs whose time is ``<= n - 1``. Kaiser-windowed sinc, cutoff halfway between
    ``bandwidth`` and the lower Nyquist frequency, ``half_width`` zero crossings each side.

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        IQ samples at ``in_rate``.

    Output
    ------
    c64 : ndarray of complex64, shape (n,)
        IQ samples at ``out_rate``: output ``k`` is the band-limited input at input time
        ``k * in_rate / out_rate``.
    """

    name = "resampler"
    in_type = "c64"
    out_type = "c64"
    _nch = 2

    @classmethod
    def example(cls, rng):
        x = (rng.standard_normal(700) + 1j * rng.standard_normal(700)).astype(np.complex64)
        return cls(in_rate=48000.0, out_rate=38400.0, half_width=6, phases=32), x


@register
class RealResampler(_ResamplerBase):
    """Real samples (f32, e.g. audio) from ``in_rate`` to ``out_rate``; as :class:`Resampler`.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        Real samples (e.g. audio) at ``in_rate``.

    Output
    ------
    f32 : ndarray of float32, shape (n,)
        Real samples at ``out_rate``: output ``k`` is the band-limited input at input time
        ``k * in_rate / out_rate``.
    """

    name = "resampler_f32"
    in_type = "f32"
    out_type = "f32"
    _nch = 1

    @classmethod
    def example(cls, rng):
        x = rng.standard_normal(900).astype(np.float32)
        return cls(in_rate=44100.0, out_rate=9600.0, half_width=6, phases=32), x
