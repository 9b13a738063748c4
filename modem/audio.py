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
           "passband_carrier", "kaiser_lowpass", "AfskEqualizer", "AfskEqualizerParams",
           "tilt_filter"]


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


# ================================================================================================
# AFSK tone-tilt equalizer


def _stage_coef(g: float, w1: float, w2: float) -> float:
    """Coefficient ``a`` in (0, 1) of ``|1 - a e^(-jw2)| / |1 - a e^(-jw1)| = g`` (g >= 1)."""
    if g <= 1.0:
        return 0.0
    c1, c2 = math.cos(w1), math.cos(w2)
    aa = 1.0 - g * g
    bb = -2.0 * (c2 - g * g * c1)
    disc = bb * bb - 4.0 * aa * aa
    if disc < 0:
        return 0.99
    r = sorted(((-bb - math.sqrt(disc)) / (2 * aa), (-bb + math.sqrt(disc)) / (2 * aa)),
               key=abs)[0]
    return float(min(0.99, max(0.0, r)))


def tilt_filter(tilt_db: float, samp_rate: float, mark: float, space: float):
    """``(b, a)`` of a filter whose gain at ``space`` is ``tilt_db`` above its gain at ``mark``
    (unit gain half-way between the tones): cascaded first-order zeros ``1 - a z^-1`` that
    lift the upper tone, or poles ``1 / (1 - a z^-1)`` that lift the lower one, as many as
    keep each coefficient at or below 0.99."""
    if abs(tilt_db) < 1e-9 or mark == space:
        return np.ones(1), np.ones(1)
    lo, hi = sorted((mark, space))
    up = (tilt_db > 0) == (space > mark)  # lift the higher tone: zeros
    w1, w2 = 2 * math.pi * lo / samp_rate, 2 * math.pi * hi / samp_rate
    gmax = abs(1 - 0.99 * np.exp(-1j * w2)) / abs(1 - 0.99 * np.exp(-1j * w1))
    g_total = 10 ** (abs(tilt_db) / 20)
    k = max(1, int(math.ceil(math.log(g_total) / math.log(gmax) - 1e-9)))
    a = _stage_coef(g_total ** (1.0 / k), w1, w2)
    poly = np.poly(np.full(k, a)) if a != 0 else np.ones(1)
    wc = math.pi * (mark + space) / samp_rate
    h = abs(np.polyval(poly, np.exp(1j * wc))) / abs(np.exp(1j * wc)) ** k
    if up:
        return poly / h, np.ones(1)
    return np.full(1, h), poly


@dataclass(frozen=True)
class AfskEqualizerParams:
    samp_rate: float = param(48000.0, "Audio sample rate", unit="Hz", lo=0.0, lo_open=True)
    mark: float = param(1200.0, "Mark tone", unit="Hz", lo=0.0, lo_open=True)
    space: float = param(2200.0, "Space tone", unit="Hz", lo=0.0, lo_open=True)
    symbol_rate: float = param(1200.0, "Symbol rate", unit="Bd", lo=0.0, lo_open=True)
    block_s: float = param(0.25, "Measurement block (the output lags by up to one)", unit="s",
                           lo=0.005, hi=10.0)
    memory: float = param(0.8, "Weight of the past in the running band powers, per block",
                          lo=0.0, hi=0.999)
    max_tilt_db: float = param(12.0, "Largest tilt corrected", unit="dB", lo=0.0, hi=30.0)
    step_db: float = param(0.5, "The correction moves (in steps of this size) once the "
                           "measurement is this far from it", unit="dB", lo=0.01, hi=6.0)
    tilt_db: float = param(0.0, "Tilt corrected when measure is off (mark above space)",
                           unit="dB", lo=-30.0, hi=30.0)
    measure: bool = param(True, "Measure the tilt from the audio (else use tilt_db)")
    min_on: float = param(0.4, "Share of a block's samples whose frequency must lie near "
                          "one of the tones for the block to count (a clean AFSK signal: "
                          "about 0.8; noise alone: about 0.25)", lo=0.0, hi=1.0)


@register
class AfskEqualizer(Block):
    """AFSK audio (f32) whose tones arrive at different levels (an FM receiver's de-emphasis
    puts the 2200 Hz tone of Bell 202 5 dB or more below the 1200 Hz tone; a flat
    discriminator output with pre-emphasized audio the other way round) to audio whose tones
    are level again.

    The audio is cut into blocks of ``block_s`` on the absolute sample grid; in each, the power
    within a quarter of the symbol rate of each tone is measured (Hann-windowed FFT) and added
    to running sums (``memory`` per block). The tilt is their ratio in dB (random data puts
    equal power at both tones), rounded to ``step_db`` and limited to ``max_tilt_db``; the block
    then leaves through :func:`tilt_filter` of that tilt (unit gain between the tones; the
    filter state runs on across blocks). ``tilt_db_measured`` holds the last estimate
    (positive: mark louder), ``tilts`` one per block.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        AFSK audio at ``samp_rate``.

    Output
    ------
    f32 : ndarray of float32, shape (n,)
        The same audio with the tone levels equalized, one sample per input sample in total
        (up to one block late).
    """

    name = "afsk_equalizer"
    _KEEP = 8  # past samples kept (more than the filter order)
    Params = AfskEqualizerParams
    rate = Rate.SYNC
    in_type = "f32"
    out_type = "f32"

    def _reset(self):
        p = self.params
        if max(p.mark, p.space) >= 0.5 * p.samp_rate:
            raise ParamError(f"{self.name}: the tones must lie below samp_rate / 2")
        self._nb = max(64, int(round(p.block_s * p.samp_rate)))
        self._hold = StreamBuffer(np.float64)
        self._pm = self._ps = 0.0  # running sums of the squared envelope on each tone
        self._cm = self._cs = 0.0  # and of the sample counts
        self._b, self._a = np.ones(1), np.ones(1)
        self._xpast = np.zeros(self._KEEP)  # the filter's last inputs and outputs
        self._ypast = np.zeros(self._KEEP)
        self._cur = None
        self.tilt_db_measured = 0.0
        self.tilts: list[float] = []
        if not p.measure:
            self._set(p.tilt_db)

    def _set(self, tilt_db):
        """Correction for a measured tilt (mark above space, dB): moves once the measurement
        is ``step_db`` away from the correction in place (rounded to ``step_db``)."""
        p = self.params
        t = min(p.max_tilt_db, max(-p.max_tilt_db, float(tilt_db)))
        if self._cur is not None and abs(t - self._cur) < p.step_db:
            return
        self._cur = p.step_db * round(t / p.step_db)
        self._b, self._a = tilt_filter(self._cur, p.samp_rate, p.mark, p.space)

    def _measure(self, x):
        """Tone levels where each tone is on: the band-limited analytic signal's envelope
        (squared) on the samples whose instantaneous frequency lies within 15 % of the shift
        of a tone (the data's share of each tone does not bias it)."""
        p = self.params
        # band-limited analytic signal: the positive frequencies within half the symbol rate
        # of the tones
        spec = np.fft.fft(x)
        fr = np.fft.fftfreq(len(x), 1.0 / p.samp_rate)
        lo, hi = sorted((p.mark, p.space))
        spec[(fr < lo - 0.5 * p.symbol_rate) | (fr > hi + 0.5 * p.symbol_rate)] = 0.0
        z = np.fft.ifft(spec)
        env2 = np.abs(z[1:]) ** 2
        f = np.angle(z[1:] * np.conj(z[:-1])) * (p.samp_rate / (2 * math.pi))
        tol = 0.15 * abs(p.mark - p.space)
        on_m = np.abs(f - p.mark) < tol
        on_s = np.abs(f - p.space) < tol
        nm, ns = int(np.count_nonzero(on_m)), int(np.count_nonzero(on_s))
        if nm < 16 or ns < 16 or nm + ns < p.min_on * len(f):
            return  # noise, or a signal too weak to read the tones from
        # cleaner blocks weigh more (noise pulls the weaker tone's level up)
        w = ((nm + ns) / len(f)) ** 2
        self._pm = p.memory * self._pm + w * float(np.sum(env2[on_m]))
        self._ps = p.memory * self._ps + w * float(np.sum(env2[on_s]))
        self._cm = p.memory * self._cm + w * nm
        self._cs = p.memory * self._cs + w * ns
        if self._pm <= 0 or self._ps <= 0:
            return
        self.tilt_db_measured = 10 * math.log10((self._pm / self._cm) / (self._ps / self._cs))
        self._set(self.tilt_db_measured)

    def _filter(self, x):
        """Filter with the correction in place; the state is the past input and output
        (direct form I), so a new correction takes over without a step."""
        from scipy.signal import lfilter, lfiltic

        k = max(len(self._b), len(self._a)) - 1
        if k == 0:
            y = self._b[0] / self._a[0] * x
        else:
            zi = lfiltic(self._b, self._a, self._ypast[::-1][:k], self._xpast[::-1][:k])
            y, _ = lfilter(self._b, self._a, x, zi=zi)
        self._xpast = np.concatenate([self._xpast, x])[-self._KEEP:]
        self._ypast = np.concatenate([self._ypast, y])[-self._KEEP:]
        return y.astype(np.float32)

    def _process(self, x):
        self._hold.append(np.asarray(x, np.float64))
        outs = []
        while len(self._hold) >= self._nb:
            blk = self._hold.view[:self._nb].copy()
            self._hold.consume(self._nb)
            if self.params.measure:
                self._measure(blk)
                self.tilts.append(self.tilt_db_measured)
            outs.append(self._filter(blk))
        return np.concatenate(outs) if outs else np.zeros(0, np.float32)

    def _flush(self):
        if not len(self._hold):
            return np.zeros(0, np.float32)
        blk = self._hold.take_all()
        if self.params.measure and len(blk) >= 64:
            self._measure(blk)
            self.tilts.append(self.tilt_db_measured)
        return self._filter(blk)

    @classmethod
    def example(cls, rng):
        from orbitlink.modem.fsk import AfskModulator
        from scipy.signal import lfilter

        x = AfskModulator(samp_rate=9600.0).run(rng.integers(0, 2, 240).astype(np.uint8))
        x = lfilter([0.3, 0.3], [1.0, -0.4], x) + 0.05 * rng.standard_normal(len(x))
        return cls(samp_rate=9600.0, block_s=0.05), x.astype(np.float32)
