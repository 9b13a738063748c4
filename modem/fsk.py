"""FSK-family modem blocks: 2-FSK, GFSK, GMSK and AFSK modulators and demodulators.

Conventions: bit 1 -> +deviation (the higher frequency) for FSK/GFSK/GMSK, bit 1 -> the mark
tone for AFSK; the demodulators output float32 soft bits (one per symbol, positive = bit 1,
scaled like LLRs from a running estimate of amplitude and noise).

Receive chains (:class:`FskDemodulator` wires them)::

    iq:    c64 -> [channel filter] -> QuadratureDemod -> FskClockRecovery -> f32 soft bits
    audio: f32 FM audio ----------------------------> FskClockRecovery -> f32 soft bits
    afsk:  f32 audio -> AfskDiscriminator (mix, low-pass, decimate, quad demod) -> FskClockRecovery

:class:`FskClockRecovery` works on the instantaneous-frequency signal: a one-symbol boxcar
matched filter evaluated at any instant from prefix sums (so its cost does not grow with the
samples per symbol), envelope and decision-directed DC (carrier offset) / amplitude / noise
tracking, and Gardner timing with a proportional-integral loop on the symbol period that follows
clock offsets up to ``max_dev``. :class:`GmskCoherentDemodulator` is the coherent receiver for
GMSK (h = 1/2).

Sample and symbol times are absolute (counted from the first sample a block saw), so every block
honours the chunk contract (see :mod:`orbitlink.modem.block`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from orbitlink.modem._kernels import fsk as K
from orbitlink.modem.block import Block, ParamError, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.filters import loop_gains, lowpass
from orbitlink.modem.quality import FskQuality

__all__ = ["FskModulator", "AfskModulator", "QuadratureDemod", "AfskDiscriminator",
           "FskClockRecovery", "FskDemodulator", "GmskCoherentDemodulator", "gaussian_half",
           "laurent_c0", "msk_freq"]


def gaussian_half(bt: float) -> tuple[float, float]:
    """(half, c) of the frequency pulse: half-support in symbols and the erf scale (0 = rect)."""
    if bt <= 0:
        return 0.5, 0.0
    sigma = math.sqrt(math.log(2.0)) / (2 * math.pi * bt)
    return 0.5 + 4.0 * sigma, 1.0 / (sigma * math.sqrt(2.0))


# ================================================================================================
# Transmitters


class _FreqPulseTx(Block):
    """Shared streaming machinery: bits -> normalised frequency (+-1 per symbol, pulse shaped)."""

    rate = Rate.INTERP
    in_type = "u8"
    _bt = 0.0

    def _setup(self, symbol_rate, samp_rate, bt):
        if samp_rate / symbol_rate < 1.0:
            raise ParamError(f"{self.name}: samp_rate must be at least the symbol rate")
        self._half, self._c = gaussian_half(bt)
        self._sps = samp_rate / symbol_rate
        self._inv_sps = symbol_rate / samp_rate
        self._syms = StreamBuffer(np.float64)  # +-1 per symbol still needed, from .base on
        self._nsym = 0
        self._n = 0

    @property
    def sps(self) -> float:
        return self._sps

    def symbol_sample(self, k: float) -> float:
        """Sample index (fractional) of the centre (frequency-pulse peak) of symbol k."""
        return (k + self._half) * self._sps

    def _n_before(self, tau_lim: float) -> int:
        """Number of samples n >= 0 with n * inv_sps < tau_lim (exact, same arithmetic)."""
        n = max(0, int(tau_lim * self._sps))
        while n > 0 and (n - 1) * self._inv_sps >= tau_lim:
            n -= 1
        while n * self._inv_sps < tau_lim:
            n += 1
        return n

    def _freq_until(self, n_end):
        cnt = max(0, n_end - self._n)
        f = np.empty(cnt, np.float64)
        if cnt:
            K.freq_pulses(self._syms.view, self._syms.base, self._n, cnt, self._inv_sps,
                          self._half, self._c, f)
        self._n += cnt
        self._syms.keep_from(int(math.floor(self._n * self._inv_sps - 2 * self._half)) - 1)
        return f

    def _freq_process(self, bits):
        b = np.asarray(bits, np.uint8) & 1
        if len(b):
            self._syms.append(2.0 * b - 1.0)
            self._nsym += len(b)
        # sample n is complete once every symbol k <= floor(tau_n) is known
        return self._freq_until(self._n_before(float(self._nsym)))

    def _process(self, bits):
        return self._emit(self._freq_process(bits))

    def _flush(self):
        return self._emit(self._freq_flush())

    def _freq_flush(self):
        if self._nsym == 0:
            return np.zeros(0, np.float64)
        return self._freq_until(self._n_before(self._nsym - 1 + 2 * self._half))


@dataclass(frozen=True)
class FskModulatorParams:
    symbol_rate: float = param(9600.0, "Symbol rate", unit="Bd", lo=0.0, lo_open=True)
    samp_rate: float = param(48000.0, "Output sample rate (any ratio to the symbol rate)",
                             unit="Hz", lo=0.0, lo_open=True)
    deviation: float = param(2400.0, "Peak frequency deviation (GMSK: symbol_rate / 4)",
                             unit="Hz", lo=0.0, lo_open=True)
    bt: float = param(0.0, "Gaussian filter bandwidth-time product (0: rectangular 2-FSK; "
                      "0.3/0.5: GMSK/GFSK)", lo=0.0, hi=2.0)
    output: str = param("iq", "'iq': unit-amplitude complex baseband (c64); 'audio': the "
                        "instantaneous frequency an FM receiver outputs (f32), +deviation -> "
                        "+0.5", choices=("iq", "audio"))


@register
class FskModulator(_FreqPulseTx):
    """Unpacked bits (u8) to phase-continuous 2-FSK / GFSK / GMSK.

    Bit 1 -> +deviation. Output sample n is at symbol time ``n * symbol_rate / samp_rate``; the
    frequency pulse of symbol k peaks at sample :meth:`symbol_sample` ``(k)``. ``output='iq'``
    gives c64 ``exp(j phi)``; ``output='audio'`` gives f32, the instantaneous frequency scaled so
    +deviation -> +0.5 (the instance attribute ``out_type`` follows ``output``).
    ``flush()`` lets the last Gaussian pulse ring out.

    Input
    -----
    u8 : ndarray of uint8, shape (n,)
        Bits (0 or 1), one per symbol; bit 1 -> +deviation.

    Output
    ------
    c64 : ndarray of complex64, shape (n,)
        ``output='iq'``: unit-amplitude complex baseband at ``samp_rate``, phase
        continuous; sample ``n`` is at symbol time ``n * symbol_rate / samp_rate``.
    f32 : ndarray of float32, shape (n,)
        ``output='audio'``: the instantaneous frequency an FM receiver outputs,
        +deviation -> +0.5 (the instance's ``out_type`` is then ``f32``).
    """

    name = "fsk_mod"
    Params = FskModulatorParams
    out_type = "c64"

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        # the stream type follows the 'output' parameter (instance attribute)
        self.out_type = "f32" if self.params.output == "audio" else "c64"

    def _reset(self):
        p = self.params
        self._setup(p.symbol_rate, p.samp_rate, p.bt)
        self._phase = np.zeros(1)

    def _emit(self, f):
        p = self.params
        if p.output == "audio":
            return (0.5 * f).astype(np.float32)
        out = np.empty(len(f), np.complex64)
        K.fm_iq(f, 2 * math.pi * p.deviation / p.samp_rate, self._phase, out)
        return out

    @classmethod
    def example(cls, rng):
        b = cls(symbol_rate=1200.0, samp_rate=5000.0, deviation=300.0, bt=0.3)
        return b, rng.integers(0, 2, 300).astype(np.uint8)


@dataclass(frozen=True)
class AfskModulatorParams:
    symbol_rate: float = param(1200.0, "Symbol rate", unit="Bd", lo=0.0, lo_open=True)
    samp_rate: float = param(48000.0, "Output sample rate", unit="Hz", lo=0.0, lo_open=True)
    mark: float = param(1200.0, "Mark tone (bit 1)", unit="Hz", lo=0.0)
    space: float = param(2200.0, "Space tone (bit 0)", unit="Hz", lo=0.0)
    amplitude: float = param(0.5, "Peak amplitude", lo=0.0, lo_open=True)


@register
class AfskModulator(_FreqPulseTx):
    """Unpacked bits (u8) to phase-continuous AFSK audio (f32): bit 1 -> mark, 0 -> space.

    Symbol k occupies samples with ``k <= n * symbol_rate / samp_rate < k + 1``.

    Input
    -----
    u8 : ndarray of uint8, shape (n,)
        Bits (0 or 1), one per symbol; bit 1 -> mark tone, 0 -> space tone.

    Output
    ------
    f32 : ndarray of float32, shape (n,)
        Phase-continuous audio at ``samp_rate``, peak ``amplitude``.
    """

    name = "afsk_mod"
    Params = AfskModulatorParams
    out_type = "f32"

    def _reset(self):
        p = self.params
        if max(p.mark, p.space) >= p.samp_rate / 2:
            raise ParamError(f"{self.name}: the tones must lie below samp_rate / 2")
        self._setup(p.symbol_rate, p.samp_rate, 0.0)
        self._phase = np.zeros(1)

    def _emit(self, f):
        p = self.params
        out = np.empty(len(f), np.float32)
        K.fm_audio(f, 0.5 * (p.mark + p.space), 0.5 * (p.mark - p.space), p.samp_rate,
                   p.amplitude, self._phase, out)
        return out

    @classmethod
    def example(cls, rng):
        return cls(samp_rate=44100.0), rng.integers(0, 2, 200).astype(np.uint8)


# ================================================================================================
# Discriminators


@dataclass(frozen=True)
class QuadratureDemodParams:
    gain: float = param(1.0, "Output per radian/sample of frequency", lo=-1e12, hi=1e12)


@register
class QuadratureDemod(Block):
    """Instantaneous frequency of c64 IQ: ``gain * arg(x[n] conj x[n-1])`` (f32).

    The sample before the first counts as 0 (first output 0). Uses a polynomial atan2
    (error below 1e-5 rad).

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        IQ samples.

    Output
    ------
    f32 : ndarray of float32, shape (n,)
        One per input: ``gain * arg(x[n] conj x[n-1])`` (``gain`` per rad/sample);
        positive for a frequency above the carrier.
    """

    name = "quadrature_demod"
    Params = QuadratureDemodParams
    in_type = "c64"
    out_type = "f32"

    def _reset(self):
        self._prev = np.zeros(1, np.complex64)

    def _process(self, x):
        out = np.empty(len(x), np.float32)
        K.quad_demod(x, self._prev, np.float32(self.params.gain), out)
        return out

    @classmethod
    def example(cls, rng):
        x = np.exp(1j * np.cumsum(rng.uniform(-1, 1, 500))).astype(np.complex64)
        return cls(gain=2.0), x


@dataclass(frozen=True)
class AfskDiscriminatorParams:
    symbol_rate: float = param(1200.0, "Symbol rate", unit="Bd", lo=0.0, lo_open=True)
    samp_rate: float = param(48000.0, "Input sample rate", unit="Hz", lo=0.0, lo_open=True)
    mark: float = param(1200.0, "Mark tone (bit 1)", unit="Hz", lo=0.0)
    space: float = param(2200.0, "Space tone (bit 0)", unit="Hz", lo=0.0)
    cutoff: float = param(0.0, "Low-pass cutoff after mixing (0: |mark - space| / 2 + "
                          "0.6 x symbol rate)", unit="Hz", lo=0.0)
    decim: int = param(0, "Decimation (0: automatic, about 8 samples per symbol out)",
                       lo=0, hi=64)


@register
class AfskDiscriminator(Block):
    """AFSK audio (f32) to a normalised frequency signal (f32): mark -> +1, space -> -1.

    Mixes by the tone centre ``(mark + space) / 2``, low-passes (Hann-windowed sinc, about two
    symbols long), decimates by ``decim`` (output m is at input sample ``m * decim``) and
    demodulates the phase. The output rate is ``samp_rate / decim`` (attribute ``out_rate``).

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        AFSK audio at ``samp_rate`` (any level).

    Output
    ------
    f32 : ndarray of float32, shape (n,)
        Normalised frequency at ``out_rate = samp_rate / decim``: mark -> +1, space -> -1;
        output ``m`` is at input sample ``m * decim``.
    """

    name = "afsk_discriminator"
    Params = AfskDiscriminatorParams
    rate = Rate.DECIM
    in_type = "f32"
    out_type = "f32"

    def _reset(self):
        p = self.params
        if p.mark == p.space:
            raise ParamError(f"{self.name}: mark and space must differ")
        sps = p.samp_rate / p.symbol_rate
        half_shift = 0.5 * abs(p.mark - p.space)
        cutoff = p.cutoff or (half_shift + 0.6 * p.symbol_rate)
        if cutoff >= 0.5 * p.samp_rate:
            raise ParamError(f"{self.name}: the low-pass cutoff must lie below samp_rate / 2")
        self.decim = p.decim or max(1, min(int(sps // 8), int(p.samp_rate // (3 * cutoff))))
        self.out_rate = p.samp_rate / self.decim
        ntaps = max(5, int(round(2 * sps)) | 1)
        self._taps = lowpass(cutoff / p.samp_rate, ntaps, "hann_open")
        self._fc = 0.5 * (p.mark + p.space) / p.samp_rate
        # normalise: rad/sample at the output rate -> (f - fc) / ((mark - space) / 2)
        self._gain = self.out_rate / (2 * math.pi) / (0.5 * (p.mark - p.space))
        # mixed samples: the filter's history (zeros before sample 0), then the new ones
        self._mh = StreamBuffer(np.complex128, base=-(ntaps - 1), fill=ntaps - 1)
        self._prev = np.zeros(1, np.complex128)
        self._n = 0

    def _process(self, x):
        self._mh.reserve(len(x))  # the kernel writes the mixed samples there
        out = np.empty(len(x) // self.decim + 2, np.float32)
        n = K.afsk_disc(x, self._n, self._fc, self._mh.view, self._taps, self.decim,
                        self._prev, self._gain, out)
        self._n += len(x)
        self._mh.keep_from(self._n - (len(self._taps) - 1))
        return out[:n]

    @classmethod
    def example(cls, rng):
        x = AfskModulator(samp_rate=44100.0).run(rng.integers(0, 2, 60).astype(np.uint8))
        return cls(samp_rate=44100.0), x


# ================================================================================================
# Clock recovery


@dataclass(frozen=True)
class FskClockRecoveryParams:
    sps: float = param(5.0, "Nominal samples per symbol (need not be an integer)",
                       unit="samples", lo=1.5)
    window: float = param(1.0, "Matched-filter (boxcar) length", unit="symbols", lo=0.1,
                          hi=2.0)
    timing_bw: float = param(0.015, "Timing loop noise bandwidth", unit="x symbol rate",
                             lo=0.0, hi=0.2, lo_open=True)
    damping: float = param(1.0, "Timing loop damping factor", lo=0.1, hi=5.0)
    max_dev: float = param(0.01, "Largest symbol-period deviation tracked (0.01 = 10000 ppm)",
                           lo=0.0, hi=0.2, lo_open=True)
    track_dc: bool = param(True, "Track the DC (carrier offset in FM audio); False: the input "
                           "is centred (e.g. an AFSK discriminator's output)")
    dc_gain: float = param(0.02, "DC (carrier offset) tracking gain per symbol", lo=0.0,
                           hi=1.0)
    amp_gain: float = param(0.01, "Amplitude and noise tracking gain per symbol", lo=0.0,
                            lo_open=True, hi=1.0)
    acq_symbols: int = param(16, "Symbols of envelope-based acquisition before decision-"
                             "directed tracking", lo=1, hi=1 << 20)
    env_decay: float = param(0.05, "Decay per symbol of the peak / valley envelope", lo=0.0,
                             lo_open=True, hi=1.0)
    llr_max: float = param(50.0, "Soft-bit magnitude limit", lo=0.0, lo_open=True)
    ted_gain: float = param(2.0, "Gardner detector gain assumed for the loop design",
                            lo=0.01, hi=100.0)
    reacquire: bool = param(True, "Re-acquire per burst: a tracked symbol SNR rising above "
                            "7 dB is a burst; its clock rate restarts from the last burst's and "
                            "the timing loop's proportional path runs 3x wider for 256 symbols; "
                            "between bursts the rate leaks back to the last burst's (noise does "
                            "not walk it to the clock-range rail)")


@register
class FskClockRecovery(Block):
    """Frequency signal (f32: quadrature-demod output or FM audio) to soft bits (f32).

    One soft bit per symbol: ``2 A r / var`` with ``r`` the DC-removed boxcar matched-filter
    value at the symbol instant, ``A`` its tracked amplitude and ``var`` the tracked
    decision-directed noise variance (positive = higher frequency = bit 1). ``last_times``
    holds the absolute input instants (samples) of the last output's symbols, ``last_dc`` the
    DC estimate (input units) at each.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        Frequency signal at ``sps`` samples per symbol (quadrature-demodulator output or FM
        audio), higher frequency positive; a DC offset is tracked (``track_dc``).

    Output
    ------
    f32 : ndarray of float32, shape (n,)
        One soft bit per symbol, positive means 1 (the higher frequency), scaled like an
        LLR (``2 A r / var``), at most ``llr_max`` in magnitude; ``last_times`` holds the
        symbols' absolute input instants (samples).
    """

    name = "fsk_clock_recovery"
    Params = FskClockRecoveryParams
    rate = Rate.GENERAL
    in_type = "f32"
    out_type = "f32"

    def _reset(self):
        p = self.params
        kp, ki = loop_gains(p.timing_bw, p.damping)
        prm = np.zeros(K.CP_N)
        prm[K.CP_SPS] = p.sps
        prm[K.CP_W] = p.window * p.sps
        prm[K.CP_KP] = kp * p.sps / p.ted_gain
        prm[K.CP_KI] = ki * p.sps / p.ted_gain
        prm[K.CP_PMIN] = p.sps * (1 - p.max_dev)
        prm[K.CP_PMAX] = p.sps * (1 + p.max_dev)
        prm[K.CP_GD] = p.dc_gain
        prm[K.CP_GA] = p.amp_gain
        prm[K.CP_GV] = p.amp_gain
        prm[K.CP_NACQ] = p.acq_symbols
        prm[K.CP_GENV] = p.env_decay
        prm[K.CP_LLRMAX] = p.llr_max
        prm[K.CP_DC] = 1.0 if p.track_dc else 0.0
        prm[K.CP_REACQ] = 1.0 if p.reacquire else 0.0
        self._prm = prm
        st = np.zeros(K.CR_NSTATE)
        st[K.CR_PER] = p.sps
        st[K.CR_T] = 0.5 * (prm[K.CP_W] + p.sps) + 1.0
        self._state = st
        # prefix sums at sample boundaries .base .. .end - 1
        self._c = StreamBuffer(np.float64, fill=1)
        self.last_times = np.zeros(0, np.float64)
        self.last_dc = np.zeros(0, np.float64)

    def _process(self, y):
        K.prefix_sums(y, self._state, self._c.reserve(len(y)))
        p = self.params
        nc = len(self._c)
        nmax = int((nc + 2) / (p.sps * (1 - p.max_dev))) + 4
        llr = np.empty(nmax, np.float32)
        tt = np.empty(nmax, np.float64)
        dd = np.empty(nmax, np.float64)
        nout = K.clock_recovery(self._c.view, self._c.base, self._state, self._prm, llr, tt, dd)
        t = self._state[K.CR_T]
        keep = int(math.floor(t - 0.5 * self._state[K.CR_PER] - self._prm[K.CP_W])) - 2
        self._c.keep_from(min(keep, self._c.end - 1))  # at least the last boundary stays
        self.last_times = tt[:nout]
        self.last_dc = dd[:nout]
        return llr[:nout]

    @classmethod
    def example(cls, rng):
        x = FskModulator(symbol_rate=1000.0, samp_rate=4700.0, deviation=500.0,
                         output="audio").run(rng.integers(0, 2, 300).astype(np.uint8))
        x = x + 0.1 + 0.1 * rng.standard_normal(len(x)).astype(np.float32)
        return cls(sps=4.7), x.astype(np.float32)


# ================================================================================================
# Compound receiver


@dataclass(frozen=True)
class FskDemodulatorParams:
    symbol_rate: float = param(9600.0, "Symbol rate", unit="Bd", lo=0.0, lo_open=True)
    samp_rate: float = param(48000.0, "Input sample rate", unit="Hz", lo=0.0, lo_open=True)
    input: str = param("iq", "'iq': complex baseband (c64), quadrature-demodulated first; "
                       "'audio': FM-demodulated audio (f32)", choices=("iq", "audio"))
    kind: str = param("fsk", "'fsk': the frequency is the symbol (2-FSK/GFSK/GMSK); 'afsk': "
                      "two audio tones (audio input only)", choices=("fsk", "afsk"))
    mark: float = param(1200.0, "AFSK mark tone (bit 1)", unit="Hz", lo=0.0)
    space: float = param(2200.0, "AFSK space tone (bit 0)", unit="Hz", lo=0.0)
    bt: float = param(0.0, "Gaussian BT of the transmitter (0: rectangular 2-FSK); GFSK/GMSK "
                      "(bt > 0) get a narrower channel filter and a 0.8-symbol matched "
                      "filter", lo=0.0, hi=2.0)
    bandwidth: float = param(0.0, "One-sided channel-filter cutoff before the quadrature "
                             "demodulator (iq input). Must pass deviation + half the symbol "
                             "rate + the carrier offset. 0: automatic (1.0 for bt = 0, 0.7 "
                             "for GFSK/GMSK); negative: no filter",
                             unit="x symbol rate", lo=-1.0, hi=16.0)
    clock_tolerance: float = param(0.01, "Largest transmitter clock offset tracked "
                                   "(0.01 = 10000 ppm)", lo=0.0, hi=0.2, lo_open=True)
    timing_bw: float = param(0.015, "Timing loop bandwidth", unit="x symbol rate", lo=0.0,
                             hi=0.2, lo_open=True)
    dc_gain: float = param(0.02, "DC (carrier offset) tracking gain per symbol", lo=0.0,
                           hi=1.0)
    amp_gain: float = param(0.01, "Amplitude and noise tracking gain per symbol", lo=0.0,
                            lo_open=True, hi=1.0)


@register
class FskDemodulator(Block):
    """The FSK / AFSK receive chain, ending in f32 soft bits (positive = bit 1).

    ``input='iq'`` (c64): channel filter (``bandwidth``) -> quadrature demodulator ->
    :class:`FskClockRecovery`. ``input='audio'`` (f32): FM-demodulated audio straight into the
    clock recovery (``kind='fsk'``) or through :class:`AfskDiscriminator` first
    (``kind='afsk'``). Polarity: bit 1 = higher frequency (fsk) / mark tone (afsk). Carrier
    offset (DC), deviation (amplitude) and symbol clock are found by the receiver.

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        ``input='iq'``: IQ samples at ``samp_rate``.
    f32 : ndarray of float32, shape (n,)
        ``input='audio'``: FM-demodulated audio at ``samp_rate`` (``kind='fsk'``: the
        level is the frequency) or AFSK audio (``kind='afsk'``); the instance's
        ``in_type`` is then ``f32``.

    Output
    ------
    f32 : ndarray of float32, shape (n,)
        One soft bit per symbol, positive means 1 (higher frequency / mark tone), scaled
        like an LLR.
    """

    name = "fsk_demod"
    Params = FskDemodulatorParams
    rate = Rate.GENERAL
    in_type = "c64"
    out_type = "f32"

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        self.in_type = "f32" if self.params.input == "audio" else "c64"

    def _reset(self):
        p = self.params
        sps = p.samp_rate / p.symbol_rate
        if p.kind == "afsk" and p.input != "audio":
            raise ParamError(f"{self.name}: kind 'afsk' needs input 'audio'")
        self.disc = None
        self._taps = None
        self.decim = 1  # input samples per sample into the clock recovery
        if p.kind == "afsk":
            self.disc = AfskDiscriminator(symbol_rate=p.symbol_rate, samp_rate=p.samp_rate,
                                          mark=p.mark, space=p.space)
            self.decim = self.disc.decim
            sps = sps / self.decim
        elif p.input == "iq" and p.bandwidth >= 0:
            cutoff = (p.bandwidth or (0.7 if p.bt > 0 else 1.0)) / sps
            if cutoff < 0.5:
                ntaps = max(5, int(round(4 * sps)) | 1)
                self._taps = lowpass(cutoff, ntaps, "hann_open").astype(np.float32)
                # the filter's history, then the new samples
                self._xh = StreamBuffer(np.complex64, base=-(ntaps - 1), fill=ntaps - 1)
                # decimate where sps is large (the filter output needs > 2.5 cutoff)
                self.decim = max(1, min(int(sps // 8), int(0.4 / cutoff)))
                sps = sps / self.decim
        if sps < 1.5:
            raise ParamError(f"{self.name}: need at least 1.5 samples per symbol, got "
                             f"{sps:.3g}")
        self._prev = np.zeros(1, np.complex64)
        self._started = False
        self._n = 0
        self.clock = FskClockRecovery(sps=sps, window=0.8 if p.bt > 0 else 1.0,
                                      timing_bw=p.timing_bw, max_dev=p.clock_tolerance,
                                      track_dc=p.kind != "afsk",
                                      dc_gain=p.dc_gain, amp_gain=p.amp_gain)
        # the eye per symbol, for the frames' snr_db and freq_offset_hz (modem.quality)
        self.quality = FskQuality.for_demod(self)

    def _freq(self, x):
        p = self.params
        if self.disc is not None:
            return self.disc.process(x)
        if p.input == "audio":
            return x
        if self._taps is None:
            out = np.empty(len(x), np.float32)
            K.quad_demod(x, self._prev, np.float32(1.0), out)
            return out
        if not self._started and len(x):
            self._xh.view[:] = x[0]  # no ramp-in transient from zeros
            self._started = True
        self._xh.append(x)
        out = np.empty(len(x) // self.decim + 2, np.float32)
        n = K.fir_quad(self._xh.view, self._n, self._taps, self.decim, self._prev,
                       np.float32(1.0), out)
        self._n += len(x)
        self._xh.keep_from(self._n - (len(self._taps) - 1))
        return out[:n]

    def _process(self, x):
        y = self._freq(x)
        out = self.clock.process(y)
        self.quality.update(y, self.clock.last_times, self.clock.last_dc)
        return out

    @property
    def last_times(self):
        return self.clock.last_times

    @classmethod
    def example(cls, rng):
        bits = rng.integers(0, 2, 300).astype(np.uint8)
        x = FskModulator(symbol_rate=1000.0, samp_rate=4500.0, deviation=500.0).run(bits)
        x = x * np.exp(2j * np.pi * 0.01 * np.arange(len(x)))
        x = x + 0.1 * (rng.standard_normal(len(x)) + 1j * rng.standard_normal(len(x)))
        return cls(symbol_rate=1000.0, samp_rate=4500.0), x.astype(np.complex64)


# ================================================================================================
# Coherent GMSK


def laurent_c0(bt: float, res: int = 256) -> tuple[np.ndarray, float]:
    """Laurent's main pulse C0 of binary CPM with h = 1/2 and the (Gaussian) frequency pulse of
    :class:`FskModulator`; tabulated with ``res`` points per symbol, centred, unit peak.

    Returns ``(table, half_span)``: the table covers ``[-half_span, half_span]`` symbols.
    """
    half, c = gaussian_half(bt)
    big_l = max(1, int(math.ceil(2 * half - 1e-9)))  # pulse length (symbols), integer
    tt = (np.arange(big_l * res) + 0.5) / res  # 0 .. L
    u = tt - big_l / 2
    if c == 0:
        g = (np.abs(u) < 0.5).astype(np.float64)
    else:
        from scipy.special import erf

        g = 0.5 * (erf(c * (u + 0.5)) - erf(c * (u - 0.5)))
    q = np.concatenate([[0.0], np.cumsum(g) / res])
    q = 0.5 * q / q[-1]  # phase pulse, q(L) = 1/2
    # psi(t) on [0, 2L]: pi h 2 q(t) rising, then falling symmetrically; S = sin(psi)
    psi = np.concatenate([np.pi * q, np.pi / 2 - np.pi * q[1:]])  # h = 1/2: 2 pi h q = pi q
    s = np.sin(psi)  # S(t), t = 0 .. 2L in steps of 1/res
    n_c0 = (big_l + 1) * res + 1
    c0 = np.ones(n_c0)
    tgrid = np.arange(n_c0)  # in 1/res steps, t = 0 .. L+1
    for i in range(big_l):
        idx = tgrid + i * res
        c0 *= np.where(idx < len(s), s[np.minimum(idx, len(s) - 1)], 0.0)
    c0 /= c0.max()
    return c0, (big_l + 1) / 2


def msk_freq(x: np.ndarray, sps: float, max_offset: float) -> float:
    """Carrier frequency (cycles/sample) of MSK-type CPM (h = 1/2, GMSK included).

    ``x**2`` carries two spectral lines at twice the carrier offset plus and minus half the
    symbol rate; the frequency maximising the sum of the two lines' power is twice the offset.
    ``max_offset`` is the largest offset searched (cycles/sample).
    """
    y = np.asarray(x, np.complex128) ** 2
    n = len(y)
    if n < 64:
        return 0.0
    nfft = 1 << int(np.ceil(np.log2(4 * n)))
    p = np.abs(np.fft.fft(y * np.hanning(n), nfft)) ** 2
    hb = int(round(nfft / (2 * sps)))  # half the symbol rate, in bins
    score = np.roll(p, hb) + np.roll(p, -hb)  # score[b] = p[b - hb] + p[b + hb]
    fr = np.fft.fftfreq(nfft)
    sel = np.nonzero(np.abs(fr) <= min(2 * max_offset, 0.5))[0]
    b = sel[np.argmax(score[sel])]
    # parabolic refinement on the log score
    la, lb, lc = (np.log(score[(b + i) % nfft] + 1e-300) for i in (-1, 0, 1))
    den = la - 2 * lb + lc
    delta = 0.5 * (la - lc) / den if den < 0 else 0.0
    return float((fr[b] + delta / nfft) / 2)


@dataclass(frozen=True)
class GmskCoherentDemodulatorParams:
    symbol_rate: float = param(9600.0, "Symbol rate", unit="Bd", lo=0.0, lo_open=True)
    samp_rate: float = param(48000.0, "Input sample rate", unit="Hz", lo=0.0, lo_open=True)
    bt: float = param(0.3, "Gaussian BT of the transmitter (0: MSK)", lo=0.0, hi=2.0)
    acq_symbols: int = param(512, "Symbols held for the carrier-frequency acquisition",
                             unit="symbols", lo=32, hi=1 << 20)
    max_offset: float = param(0.2, "Largest carrier offset acquired", unit="x symbol rate",
                              lo=0.0, hi=1.0, lo_open=True)
    bandwidth: float = param(0.7, "One-sided channel-filter cutoff of the discriminator path "
                             "(timing)", unit="x symbol rate", lo=0.1, hi=16.0)
    carrier_bw: float = param(0.01, "Carrier PLL noise bandwidth", unit="x symbol rate",
                              lo=0.0, hi=0.2, lo_open=True)
    timing_bw: float = param(0.01, "Timing loop bandwidth (discriminator path)",
                             unit="x symbol rate", lo=0.0, hi=0.2, lo_open=True)
    clock_tolerance: float = param(0.01, "Largest transmitter clock offset tracked", lo=0.0,
                                   hi=0.2, lo_open=True)
    amp_gain: float = param(0.01, "Amplitude and noise tracking gain per symbol", lo=0.0,
                            lo_open=True, hi=1.0)
    llr_max: float = param(50.0, "Soft-bit magnitude limit", lo=0.0, lo_open=True)


@register
class GmskCoherentDemodulator(Block):
    """Coherent GMSK (h = 1/2) receiver: c64 IQ to f32 soft bits (positive = bit 1).

    Carrier acquisition: the first ``acq_symbols`` symbols are held and the carrier offset is
    read from the two spectral lines of ``x**2`` (:func:`msk_freq`, free of the data); the IQ
    is derotated by it from then on (output starts once the block is full; ``acq_frequency``
    holds the estimate in cycles/sample). The discriminator path (channel filter, quadrature
    demodulator, :class:`FskClockRecovery`) gives the symbol instants. Half a symbol after each
    frequency-pulse centre, Laurent's main pulse C0 is correlated with the IQ; the result,
    rotated by ``(-j)^k``, is a real pseudo-symbol ``d_k`` (MSK seen as OQPSK) whose carrier
    phase and residual frequency a Costas-type second-order PLL tracks. The transmitted bit is
    ``d_k d_(k-1)`` (the differential relation of MSK-type CPM, free of the PLL's 180-degree
    ambiguity); its soft value combines the two pseudo-symbol LLRs (sign of the product,
    smaller magnitude).

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        IQ samples of GMSK / MSK (h = 1/2) at ``samp_rate``, carrier offset up to
        ``max_offset`` symbol rates.

    Output
    ------
    f32 : ndarray of float32, shape (n,)
        One soft bit per symbol, positive means 1 (higher frequency), at most ``llr_max``
        in magnitude; nothing comes out until ``acq_symbols`` symbols have arrived.
    """

    name = "gmsk_coherent_demod"
    Params = GmskCoherentDemodulatorParams
    rate = Rate.GENERAL
    in_type = "c64"
    out_type = "f32"

    #: instants: frequency-pulse centre (clock recovery time) -> IQ sample time of d_k
    _CR_TO_IQ = -1.0

    def _reset(self):
        p = self.params
        sps = p.samp_rate / p.symbol_rate
        if sps < 2.0:
            raise ParamError(f"{self.name}: need at least 2 samples per symbol, got {sps:.3g}")
        self._sps = sps
        cutoff = min(p.bandwidth / sps, 0.45)
        ntaps = max(5, int(round(4 * sps)) | 1)
        self._taps = lowpass(cutoff, ntaps, "hann_open").astype(np.float32)
        # derotated samples: the channel filter's history, then the new ones
        self._fhist = StreamBuffer(np.complex64, base=-(ntaps - 1), fill=ntaps - 1)
        self._prev = np.zeros(1, np.complex64)
        self.clock = FskClockRecovery(sps=sps, window=0.8 if p.bt > 0 else 1.0,
                                      timing_bw=p.timing_bw, max_dev=p.clock_tolerance,
                                      amp_gain=p.amp_gain, reacquire=False)
        # clock time t -> centre of the frequency pulse in IQ samples, + half a symbol
        self._shift = self._CR_TO_IQ - (ntaps - 1) / 2 + 0.5 * sps
        self._c0, self._half_span = laurent_c0(p.bt, 256)
        self._c1, self._c2 = loop_gains(p.carrier_bw, 0.707)
        self._state = np.zeros(K.GC_NSTATE)
        self._xb = StreamBuffer(np.complex64)  # derotated samples the next symbols need
        self._n = 0  # samples through the pipeline
        self._pending = StreamBuffer(np.float64)  # instants (IQ samples) of the next symbols
        self._hold = StreamBuffer(np.complex64)  # input held for the acquisition
        self._nacq = int(round(p.acq_symbols * sps))
        self.acq_frequency = None

    def _acquire(self, block):
        p = self.params
        self.acq_frequency = msk_freq(block, self._sps, p.max_offset / self._sps)
        self._w0 = 2 * math.pi * self.acq_frequency

    def _pipe(self, x):
        xd = np.empty(len(x), np.complex64)
        K.derotate(x, self._n, self._w0, xd)
        if self._n == 0 and len(xd):
            self._fhist.view[:] = xd[0]  # no ramp-in transient from zeros
        self._fhist.append(xd)
        u = np.empty(len(x), np.float32)
        K.fir_quad(self._fhist.view, self._n, self._taps, 1, self._prev, np.float32(1.0), u)
        self._fhist.keep_from(self._n + len(x) - (len(self._taps) - 1))
        self.clock.process(u)
        self._pending.append(self.clock.last_times + self._shift)
        self._xb.append(xd)
        self._n += len(x)
        return self._symbols()

    def _process(self, x):
        if self.acq_frequency is not None:
            return self._pipe(x)
        self._hold.append(x)
        if len(self._hold) < self._nacq:
            return np.zeros(0, np.float32)
        self._acquire(self._hold.view[:self._nacq])
        return self._pipe(self._hold.take_all())

    def _symbols(self):
        p = self.params
        out = np.empty(len(self._pending), np.float32)
        freqs = np.zeros(len(self._pending))
        n = K.gmsk_coherent(self._xb.view, self._xb.base, self._pending.view, freqs,
                            self._state, self._c0, 256.0, self._half_span, self._sps, self._c1,
                            self._c2, p.amp_gain, p.llr_max, out)
        self._pending.consume(n)
        # keep the samples the next instants need
        nxt = self.clock._state[K.CR_T] - self.clock.params.sps + self._shift
        if len(self._pending):
            nxt = min(nxt, self._pending.view[0])
        self._xb.keep_from(int(math.floor(nxt - self._half_span * self._sps)) - 2)
        return out[:n]

    def _flush(self):
        parts = []
        if self.acq_frequency is None:
            if not len(self._hold):
                return np.zeros(0, np.float32)
            self._acquire(self._hold.view)
            parts.append(self._pipe(self._hold.take_all()))
        # instants whose matched-filter window runs past the end: pad with zeros
        self._xb.extend_zeros(int(math.ceil(self._half_span * self._sps)) + 2)
        parts.append(self._symbols())
        return np.concatenate(parts)

    @classmethod
    def example(cls, rng):
        bits = rng.integers(0, 2, 300).astype(np.uint8)
        x = FskModulator(symbol_rate=1000.0, samp_rate=4500.0, deviation=250.0, bt=0.3).run(bits)
        x = x * np.exp(2j * np.pi * 0.005 * np.arange(len(x)) + 1.0j)
        x = x + 0.1 * (rng.standard_normal(len(x)) + 1j * rng.standard_normal(len(x)))
        return cls(symbol_rate=1000.0, samp_rate=4500.0, acq_symbols=128), x.astype(np.complex64)


# --------------------------------------------------------------------------------------------
# the modulations a link can name (orbitlink.modem.modulation.MODULATION_TYPES)

from orbitlink.modem.modulation import ModulationType, register_modulation  # noqa: E402

for _m in (ModulationType("fsk", "fsk", 1, 1, "2-FSK, rectangular pulses (G3RUH 9600)"),
           ModulationType("gfsk", "fsk", 1, 1, "2-FSK with a Gaussian pulse (BT)"),
           ModulationType("gmsk", "fsk", 1, 1, "GMSK: Gaussian 2-FSK with h = 1/2"),
           ModulationType("afsk", "fsk", 1, 1, "audio FSK: mark and space tones, FM")):
    register_modulation(_m)
