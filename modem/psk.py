"""PSK modem blocks: modulator, AGC, FLL, symbol synchroniser with carrier loop, soft demapper.

Receive chain (:class:`PskDemodulator` wires it)::

    IQ c64 -> Agc -> Fll (coarse acquisition + tracking) -> SymbolSync (matched filter, Gardner
    timing, decision-directed carrier PLL) -> 'sym' -> SoftDemapper -> f32 LLRs (positive = 1)

Sample and symbol times are absolute (counted from the first sample the block saw), so every
block honours the chunk contract (see :mod:`orbitlink.modem.block`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from orbitlink.modem._kernels import psk as K
from orbitlink.modem.block import SYM_DTYPE, Block, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.filters import loop_gains, lowpass
from orbitlink.modem.modulation import MODULATIONS, Modulation
from orbitlink.modem.pulse import polyphase_mf, rrc_table


# ================================================================================================
# Transmitter


@dataclass(frozen=True)
class PskModulatorParams:
    modulation: str = param("qpsk", "Constellation", choices=MODULATIONS)
    differential: bool = param(False, "Differential encoding of the phase index")
    symbol_rate: float = param(9600.0, "Symbol rate", unit="Bd", lo=0.0, lo_open=True)
    samp_rate: float = param(38400.0, "Output sample rate (any ratio to the symbol rate)",
                             unit="Hz", lo=0.0, lo_open=True)
    alpha: float = param(0.35, "RRC roll-off", lo=0.05, hi=1.0)
    span: int = param(12, "RRC length", unit="symbols", lo=2, hi=64)


@register
class PskModulator(Block):
    """Unpacked bits (u8, MSB first per symbol) to pulse-shaped complex baseband.

    Unit average power. Output sample ``n`` is at symbol time ``n * symbol_rate / samp_rate -
    span/2``: the peak of symbol k is at sample ``(k + span/2) * samp_rate / symbol_rate``.
    ``flush()`` pads the last symbol with zero bits and lets the pulse tail ring out.

    Input
    -----
    u8 : ndarray of uint8, shape (n,)
        Bits (0 or 1), ``bits_per_symbol`` per symbol (1 BPSK, 2 QPSK/OQPSK, 3 8PSK), MSB
        first; mapped by the conventions of :mod:`orbitlink.modem.modulation` (Gray; BPSK: 1
        -> +1).

    Output
    ------
    c64 : ndarray of complex64, shape (n,)
        Pulse-shaped complex baseband at ``samp_rate``, unit average power; sample ``n`` is
        at symbol time ``n * symbol_rate / samp_rate - span / 2``.
    """

    name = "psk_mod"
    Params = PskModulatorParams
    rate = Rate.INTERP
    in_type = "u8"
    out_type = "c64"

    RES = 512

    def _reset(self):
        p = self.params
        if p.samp_rate / p.symbol_rate < 1.0:
            from orbitlink.modem.block import ParamError
            raise ParamError(f"{self.name}: samp_rate must be at least the symbol rate")
        self.mod = Modulation(p.modulation, p.differential)
        self._table = rrc_table(p.alpha, p.span, self.RES)
        self._half = p.span / 2
        self._inv_sps = p.symbol_rate / p.samp_rate
        self._qshift = 0.5 if self.mod.offset else 0.0
        self._pending = StreamBuffer(np.uint8)  # bits of an incomplete symbol
        self._syms = StreamBuffer(np.complex128)  # symbols still needed, from index .base
        self._nsym = 0  # symbols received so far
        self._n = 0  # next output sample
        self._last_idx = 0

    @property
    def sps(self) -> float:
        return self.params.samp_rate / self.params.symbol_rate

    def symbol_peak_sample(self, k: float) -> float:
        """Sample index (fractional) of the peak of symbol k."""
        return (k + self._half) * self.sps

    def _tau(self, n):
        return n * self._inv_sps - self._half

    def _emit_until(self, n_end):
        n_count = max(0, n_end - self._n)
        out = np.empty(n_count, np.complex64)
        if n_count:
            s = self._syms.view
            K.tx_shape(s.real.copy(), s.imag.copy(), self._syms.base, self._n, n_count,
                       self._inv_sps, self._half, self._table, float(self.RES), self._half,
                       self._qshift, out)
        self._n += n_count
        # drop symbols no longer needed
        self._syms.keep_from(int(math.floor(self._tau(self._n) - self._half - self._qshift)) - 1)
        return out

    def _add_bits(self, bits):
        k = self.mod.bits_per_symbol
        self._pending.append(np.asarray(bits, np.uint8) & 1)
        nsym = len(self._pending) // k
        if nsym:
            idx, self._last_idx = self.mod.map_indices(
                self.mod.bits_to_labels(self._pending.take(nsym * k)), self._last_idx)
            self._syms.append(self.mod.points_by_index[idx])
            self._nsym += nsym

    def _process(self, bits):
        self._add_bits(bits)
        # sample n is complete once every symbol it touches is known: floor(tau+half+q) < nsym
        lim = self._nsym - 1 - self._half - self._qshift  # tau_n <= lim  (conservative)
        n_end = int(math.floor((lim + self._half) / self._inv_sps)) + 1
        while n_end > 0 and math.floor(self._tau(n_end - 1) + self._half + self._qshift) >= self._nsym:
            n_end -= 1
        return self._emit_until(max(n_end, self._n))

    def _flush(self):
        k = self.mod.bits_per_symbol
        if len(self._pending):
            self._add_bits(np.zeros(k - len(self._pending), np.uint8))
        if self._nsym == 0:
            return np.zeros(0, np.complex64)
        last_t = self._nsym - 1 + self._half + self._qshift  # last instant with energy
        n_end = int(math.ceil((last_t + self._half) / self._inv_sps)) + 1
        return self._emit_until(max(n_end, self._n))

    @classmethod
    def example(cls, rng):
        b = cls(modulation="oqpsk", symbol_rate=1000.0, samp_rate=3333.0, span=8)
        return b, rng.integers(0, 2, 600).astype(np.uint8)


# ================================================================================================
# AGC


@dataclass(frozen=True)
class AgcParams:
    rate: float = param(1e-3, "Adaptation rate per sample", lo=0.0, hi=0.5, lo_open=True)
    reference: float = param(1.0, "Target output power", lo=0.0, lo_open=True)
    max_gain: float = param(1e6, "Maximum gain", lo=0.0, lo_open=True)


@register
class Agc(Block):
    """Power AGC: drives the average output power to ``reference``.

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        IQ samples at any level.

    Output
    ------
    c64 : ndarray of complex64, shape (n,)
        The same samples times a slowly varying real gain (at most ``max_gain``): average
        power ``reference``; one output per input.
    """

    name = "agc"
    Params = AgcParams

    def _reset(self):
        self._state = np.array([1.0])

    def _process(self, x):
        out = np.empty(len(x), np.complex64)
        K.agc(x, self._state, self.params.rate, self.params.reference, self.params.max_gain, out)
        return out

    @classmethod
    def example(cls, rng):
        x = (rng.standard_normal(3000) + 1j * rng.standard_normal(3000)).astype(np.complex64) * 7
        return cls(rate=0.01), x


# ================================================================================================
# FLL


def mpower_freq(x: np.ndarray, power: int, fmax: float, cutoff: float | None = None
                ) -> tuple[float, float]:
    """Carrier frequency of M-PSK from the spectral line of ``x**power``.

    Parameters
    ----------
    x : complex array
        Pulse-shaped PSK samples.
    power : int
        2 for BPSK, 4 for QPSK/OQPSK, 8 for 8PSK.
    fmax : float
        Largest offset searched, cycles/sample (at most 0.5 / power).
    cutoff : float, optional
        Low-pass the block first (cutoff in cycles/sample: the signal's half-bandwidth plus
        fmax): less noise through the power law, a stronger line at low SNR.

    Returns
    -------
    (freq, snr_db) : frequency in cycles/sample, and the line's height over the median of the
    searched spectrum in dB (about 9 dB for noise alone at the usual sizes).
    """
    x = np.asarray(x, np.complex128)
    if len(x) < 16:
        return 0.0, 0.0
    if cutoff is not None and cutoff < 0.5:
        ntap = min(len(x) // 2 * 2 - 1, int(8 / cutoff) | 1)
        x = np.convolve(x, lowpass(cutoff, ntap, "hann"), mode="same")
    u = x ** power
    n = len(u)
    u = u * np.hanning(n)
    nfft = 1 << int(np.ceil(np.log2(4 * n)))
    spec = np.abs(np.fft.fft(u, nfft)) ** 2
    fr = np.fft.fftfreq(nfft)
    lim = min(power * fmax, 0.5)
    sel = np.nonzero(np.abs(fr) <= lim)[0]
    k = sel[np.argmax(spec[sel])]
    a, b, c = spec[(k - 1) % nfft], spec[k], spec[(k + 1) % nfft]
    la, lb, lc = np.log(a + 1e-300), np.log(b + 1e-300), np.log(c + 1e-300)
    den = la - 2 * lb + lc
    delta = 0.5 * (la - lc) / den if den < 0 else 0.0
    f = (fr[k] + delta / nfft) / power
    snr = 10 * np.log10(max(b, 1e-300) / max(np.median(spec[sel]), 1e-300))
    return float(f), float(snr)


@dataclass(frozen=True)
class FllParams:
    sps: float = param(4.0, "Samples per symbol", unit="samples", lo=1.0)
    power: int = param(4, "Power that removes the modulation (2 BPSK, 4 QPSK/OQPSK, 8 8PSK)",
                       choices=(1, 2, 4, 8))
    acq_symbols: int = param(2048, "Symbols per acquisition block", unit="symbols", lo=16)
    alpha: float = param(0.35, "Roll-off of the signal (sets the acquisition pre-filter)",
                         lo=0.0, hi=1.0)
    max_offset: float = param(0.3, "Largest carrier offset acquired", unit="x symbol rate",
                              lo=0.0, hi=4.0, lo_open=True)
    min_line_db: float = param(14.0, "Height of the spectral line over the median that counts "
                               "as signal present (noise alone: 10-13 dB)", unit="dB", lo=0.0)
    decim: int = param(256, "Samples per tracking-loop update", unit="samples", lo=4, hi=1 << 16)
    smooth: int = param(1, "Boxcar length before the tracking discriminator (1 = none)",
                        unit="samples", lo=1, hi=64)
    min_corr: float = param(0.15, "Normalised lag-1 correlation that counts as signal present "
                            "for a tracking update", lo=0.0, hi=1.0)
    gain_track: float = param(0.0, "Tracking gain after acquisition (0 = hold; the carrier PLL "
                              "tracks drift)", lo=0.0, hi=1.0)
    gain2: float = param(0.0, "Second-order (frequency-rate) tracking gain", lo=0.0, hi=0.1)
    max_freq: float = param(0.45, "Frequency limit", unit="cycles/sample", lo=0.0, hi=0.5,
                            lo_open=True)


@register
class Fll(Block):
    """Carrier frequency acquisition and tracking ahead of the matched filter.

    Acquisition: the input is cut into blocks of ``acq_symbols`` symbols on the absolute sample
    grid; in each, the spectral line of ``x**power`` gives the carrier frequency (feed-forward,
    free of the data's pattern noise, precise to a small fraction of an FFT bin). The first
    block whose line stands ``min_line_db`` above the spectrum's median sets the NCO; that
    block and everything after it leave derotated (the blocks before pass with frequency 0).
    Until then the output lags the input by up to one block.

    Tracking (optional, ``gain_track > 0``): a delay-and-multiply discriminator updates the
    frequency every ``decim`` samples. ``last_freq`` holds the frequency (rad/sample) applied to
    each sample of the last output.

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        Pulse-shaped PSK IQ at ``sps`` samples per symbol, after the AGC.

    Output
    ------
    c64 : ndarray of complex64, shape (n,)
        The same samples derotated by the NCO (the carrier offset removed), one per input;
        until the acquisition the output lags by up to one block. ``last_freq``: f32,
        rad/sample, the frequency removed from each sample of the last output.
    """

    name = "fll"
    Params = FllParams

    def _reset(self):
        p = self.params
        self._state = np.zeros(K.FLL_NSTATE)
        self._state[K.FLL_PH_RE] = 1.0
        self._buf = np.zeros(p.smooth, np.complex128)
        self._hold = StreamBuffer(np.complex64)  # held input, from sample _n_out on
        self._acquired = False
        self._nblock = max(16, int(round(p.acq_symbols * p.sps)))
        self._n_out = 0  # samples output so far (absolute index of _hold[0] while holding)
        self.acq_start = None  # absolute index of the first sample of the acquisition block
        self.acq_snr_db = None
        self.last_freq = np.zeros(0, np.float32)

    def _acquire(self, block) -> bool:
        p = self.params
        fmax = min(p.max_offset / p.sps, 0.5 / p.power, p.max_freq)
        cutoff = ((1 + p.alpha) / 2 + p.max_offset) / p.sps
        f, snr = mpower_freq(block, p.power, fmax, cutoff)
        if snr >= p.min_line_db:
            self._state[K.FLL_W] = 2 * np.pi * f
            self._acquired = True
            self.acq_snr_db = snr
            return True
        return False

    def _run(self, x):
        p = self.params
        out = np.empty(len(x), np.complex64)
        w = np.empty(len(x), np.float32)
        K.fll(x, self._state, self._buf, p.decim, 0.0, p.min_corr, p.gain_track, p.gain2,
              2 * np.pi * p.max_freq, out, w)
        return out, w

    def _process(self, x):
        out = self._process_held(x)
        self._n_out += len(out)
        return out

    def _process_held(self, x):
        if self._acquired:
            out, self.last_freq = self._run(x)
            return out
        self._hold.append(x)
        outs, ws = [], []
        nb = self._nblock
        start = self._n_out
        while not self._acquired and len(self._hold) >= nb:
            if self._acquire(self._hold.view[:nb]):
                self.acq_start = start
                break
            o, w = self._run(self._hold.view[:nb])
            outs.append(o)
            ws.append(w)
            self._hold.consume(nb)
            start += nb
        if self._acquired:
            o, w = self._run(self._hold.take_all())
            outs.append(o)
            ws.append(w)
        self.last_freq = np.concatenate(ws) if ws else np.zeros(0, np.float32)
        return np.concatenate(outs) if outs else np.zeros(0, np.complex64)

    def _flush(self):
        if self._acquired or len(self._hold) == 0:
            self.last_freq = np.zeros(0, np.float32)
            return np.zeros(0, np.complex64)
        if len(self._hold) >= 64 and self._acquire(self._hold.view):
            self.acq_start = self._n_out
        out, self.last_freq = self._run(self._hold.take_all())
        self._n_out += len(out)
        return out

    @property
    def freq(self) -> float:
        """Current frequency estimate, cycles/sample."""
        return self._state[K.FLL_W] / (2 * np.pi)

    @classmethod
    def example(cls, rng):
        from orbitlink.modem.signals import psk_signal

        x = psk_signal("qpsk", 1500, sps=4.0, esn0_db=10, cfo=0.03, rng=rng)
        return cls(sps=4.0, power=4, acq_symbols=256, decim=16, smooth=3,
                   gain_track=0.001), x


# ================================================================================================
# Symbol synchroniser


@dataclass(frozen=True)
class SymbolSyncParams:
    modulation: str = param("qpsk", "Constellation", choices=MODULATIONS)
    sps: float = param(4.0, "Nominal samples per symbol (need not be an integer)",
                       unit="samples", lo=1.5)
    alpha: float = param(0.35, "RRC roll-off of the matched filter", lo=0.05, hi=1.0)
    span: int = param(12, "Matched filter length", unit="symbols", lo=2, hi=64)
    nfilt: int = param(128, "Polyphase arms (timing resolution 1/nfilt sample)", lo=8, hi=4096)
    timing_bw: float = param(0.005, "Timing loop noise bandwidth", unit="x symbol rate",
                             lo=0.0, hi=0.2, lo_open=True)
    carrier_bw: float = param(0.01, "Carrier loop noise bandwidth", unit="x symbol rate",
                              lo=0.0, hi=0.2, lo_open=True)
    damping: float = param(0.707, "Loop damping factor", lo=0.1, hi=5.0)
    freq_gain: float = param(0.0, "Gain of the M-th power frequency detector on the PLL's "
                             "frequency (0 = off; ignored for OQPSK)", lo=0.0, hi=0.2)
    max_dev: float = param(0.02, "Largest symbol-period deviation tracked (0.02 = 2 %)",
                           lo=0.0, hi=0.2, lo_open=True)
    ted_gain: float = param(2.0, "Gardner detector gain assumed for the loop design",
                            lo=0.01, hi=100.0)
    gear: float = param(8.0, "Timing-loop bandwidth at a (re)start of the loops, relative to "
                        "timing_bw; it narrows linearly to timing_bw over gear_symbols (1 = no "
                        "gear shift)", lo=1.0, hi=16.0)
    gear_symbols: int = param(1024, "Symbols over which the timing loop narrows after a "
                              "(re)start", unit="symbols", lo=0, hi=1 << 20)
    reacquire: bool = param(True, "Re-acquire per burst: when a carrier lock begins (the mean "
                            "of Re(u^M) over ~64 symbols rises above 0.5), the symbol rate "
                            "restarts from where the last lock left it and the timing loop "
                            "shifts gear again (not for OQPSK)")


@register
class SymbolSync(Block):
    """Matched filter, Gardner timing recovery and decision-directed carrier PLL.

    Input c64 samples, output 'sym' records (one per symbol): ``z`` the derotated matched-filter
    output at the symbol instant (unit amplitude at high SNR after the AGC), ``t`` the absolute
    instant in input samples, ``f`` the frequency estimate in cycles/sample (carrier PLL plus
    whatever frequency an upstream FLL reported through ``freq``). For OQPSK, ``z = I + jQ`` with
    Q taken half a symbol later than I.

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        Pulse-shaped PSK IQ at ``sps`` samples per symbol (nominal), unit power (after the
        AGC); absolute sample index = position in the stream.

    Output
    ------
    sym : ndarray of SYM_DTYPE, shape (n,)
        One record per symbol: ``z`` the derotated matched-filter output at the symbol
        instant (unit amplitude at high SNR; OQPSK: I + jQ, Q half a symbol later), ``t``
        the absolute instant in input samples (float64), ``f`` the frequency estimate in
        cycles/sample.
    """

    name = "symbol_sync"
    Params = SymbolSyncParams
    rate = Rate.GENERAL
    out_type = "sym"

    def _reset(self):
        p = self.params
        self._taps, self._K = polyphase_mf(p.alpha, p.span, p.sps, p.nfilt)
        kp, ki = loop_gains(p.timing_bw, p.damping)
        c1, c2 = loop_gains(p.carrier_bw, p.damping)
        mod = Modulation(p.modulation)
        prm = np.zeros(K.SP_N)
        prm[K.SP_SPS] = p.sps
        prm[K.SP_KP] = kp * p.sps / p.ted_gain
        prm[K.SP_KI] = ki * p.sps / p.ted_gain
        prm[K.SP_C1] = c1
        prm[K.SP_C2] = c2
        prm[K.SP_ORDER] = mod.order
        prm[K.SP_OFFSET] = 1.0 if mod.offset else 0.0
        prm[K.SP_PMIN] = p.sps * (1 - p.max_dev)
        prm[K.SP_PMAX] = p.sps * (1 + p.max_dev)
        prm[K.SP_NFILT] = p.nfilt
        prm[K.SP_HALF] = self._K
        prm[K.SP_PAVG] = 1.0 / 256
        prm[K.SP_KF] = 0.0 if mod.offset else p.freq_gain
        prm[K.SP_GEAR] = p.gear
        prm[K.SP_GEAR_N] = p.gear_symbols
        prm[K.SP_REACQ] = 1.0 if p.reacquire else 0.0
        self._prm = prm
        st = np.zeros(K.SS_NSTATE)
        st[K.SS_PER] = p.sps
        st[K.SS_P] = 1.0
        self._state = st
        # input (real, imaginary) and FLL frequency from absolute sample .base on; zeros before
        # sample 0
        n0 = 2 * self._K + 2
        self._xr = StreamBuffer(np.float32, base=-n0, fill=n0)
        self._xi = StreamBuffer(np.float32, base=-n0, fill=n0)
        self._w = StreamBuffer(np.float32, base=-n0, fill=n0)

    def restart_loops(self) -> None:
        """Forget the timing-rate and carrier-frequency estimates (back to nominal), e.g. when
        a signal is first detected after noise the loops wandered on."""
        self._state[K.SS_PER] = self.params.sps
        self._state[K.SS_OM] = 0.0
        self._state[K.SS_G] = 0.0  # the timing loop shifts gear again

    def _flush(self):
        # the matched filter looks K samples ahead: pad zeros so the last symbols come out
        pad = np.zeros(self._K + 2, np.complex64)
        w = np.full(len(pad), self._w.view[-1] if len(self._w) else 0.0, np.float32)
        return self._process(pad, w)

    def _process(self, x, freq=None):
        self._xr.append(x.real)
        self._xi.append(x.imag)
        self._w.reserve(len(x))[...] = 0.0 if freq is None else freq
        m = len(self._xr)
        base = self._xr.base
        nmax = int(m / (self.params.sps * (1 - self.params.max_dev))) + 4
        z = np.empty(nmax, np.complex64)
        t = np.empty(nmax, np.float64)
        f = np.empty(nmax, np.float32)
        nout = K.symsync(self._xr.view, self._xi.view, self._w.view, base, m, self._state,
                         self._prm, self._taps, z, t, f)
        # keep only the short history the next symbols need
        keep = int(math.floor(self._state[K.SS_T] - self._state[K.SS_PER])) - self._K - 2
        for b in (self._xr, self._xi, self._w):
            b.keep_from(keep)
        out = np.empty(nout, SYM_DTYPE)
        out["z"], out["t"], out["f"] = z[:nout], t[:nout], f[:nout]
        return out

    @classmethod
    def example(cls, rng):
        from orbitlink.modem.signals import psk_signal

        x = psk_signal("qpsk", 500, sps=4.3, esn0_db=15, cfo=0.001, rng=rng)
        return cls(modulation="qpsk", sps=4.3), x


# ================================================================================================
# Soft demapper


@dataclass(frozen=True)
class SoftDemapperParams:
    modulation: str = param("qpsk", "Constellation", choices=MODULATIONS)
    differential: bool = param(False, "Demap z_k conj(z_{k-1}) (differential encoding)")
    snr_avg: int = param(256, "Symbols averaged by the running M2M4 SNR estimate", lo=1)


@register
class SoftDemapper(Block):
    """'sym' records (or complex symbols) to LLRs (float32, positive = 1), bits_per_symbol each.

    LLRs are scaled by a running blind (M2M4) estimate of amplitude and noise.

    Input
    -----
    sym : ndarray of SYM_DTYPE, shape (n,)
        Symbols (only ``z`` is used; a complex array is accepted too), one per symbol.

    Output
    ------
    f32 : ndarray of float32, shape (n,)
        ``bits_per_symbol`` LLRs per symbol, MSB first, positive means 1, scaled by a
        running blind (M2M4) estimate of amplitude and noise.
    """

    name = "soft_demapper"
    Params = SoftDemapperParams
    rate = Rate.INTERP
    in_type = "sym"
    out_type = "f32"

    def _reset(self):
        p = self.params
        self.mod = Modulation(p.modulation, p.differential)
        self._state = np.array([1.0, 1.0, 0.5])
        self._prev = np.complex128(1.0)
        if p.differential:
            pts = np.exp(2j * np.pi * np.arange(self.mod.order) / self.mod.order)
            self._order = 0
        else:
            pts = self.mod.points_by_index.astype(np.complex128)
            self._order = self.mod.order
        self._pts_re, self._pts_im = pts.real.copy(), pts.imag.copy()
        self._labels = self.mod.labels.astype(np.int64)

    def process(self, chunk):
        chunk = np.asarray(chunk)
        z = chunk["z"] if chunk.dtype == SYM_DTYPE else chunk.astype(np.complex64)
        return self._process(z)

    def _process(self, z):
        z = z.astype(np.complex128)
        if self.params.differential and len(z):
            zz = self.mod.diff_symbols(z, self._prev)
            self._prev = z[-1]
            z = zz
        k = self.mod.bits_per_symbol
        out = np.empty(len(z) * k, np.float32)
        K.demap_running(z, self._state, 1.0 / self.params.snr_avg, self._order, self._pts_re,
                        self._pts_im, self._labels, k, out)
        return out

    @classmethod
    def example(cls, rng):
        m = Modulation("8psk")
        z = m.points[rng.integers(0, 8, 400)] + 0.2 * (rng.standard_normal(400) + 1j * rng.standard_normal(400))
        rec = np.zeros(400, SYM_DTYPE)
        rec["z"] = z
        return cls(modulation="8psk"), rec


# ================================================================================================
# Compound receiver


@dataclass(frozen=True)
class PskDemodulatorParams:
    modulation: str = param("qpsk", "Constellation", choices=MODULATIONS)
    symbol_rate: float = param(9600.0, "Symbol rate", unit="Bd", lo=0.0, lo_open=True)
    samp_rate: float = param(38400.0, "Input sample rate", unit="Hz", lo=0.0, lo_open=True)
    alpha: float = param(0.35, "RRC roll-off", lo=0.05, hi=1.0)
    span: int = param(12, "Matched filter length", unit="symbols", lo=2, hi=64)
    agc_rate: float = param(1e-3, "AGC adaptation rate per sample", lo=0.0, hi=0.5, lo_open=True)
    fll: bool = param(True, "Run the FLL (coarse acquisition and frequency tracking)")
    acq_symbols: int = param(2048, "Symbols per frequency-acquisition block", lo=16)
    max_offset: float = param(0.3, "Largest carrier offset acquired", unit="x symbol rate",
                              lo=0.0, hi=4.0, lo_open=True)
    fll_gain: float = param(0.0, "FLL tracking gain (0 = hold after acquisition)", lo=0.0, hi=1.0)
    freq_bw: float = param(0.0, "Gain of the symbol-rate M-th power frequency detector that "
                           "assists the carrier PLL (0 = off; PSK only, ignored for OQPSK)",
                           lo=0.0, hi=0.2)
    timing_bw: float = param(0.005, "Timing loop bandwidth", unit="x symbol rate", lo=0.0,
                             hi=0.2, lo_open=True)
    carrier_bw: float = param(0.01, "Carrier loop bandwidth", unit="x symbol rate", lo=0.0,
                              hi=0.2, lo_open=True)
    max_dev: float = param(0.02, "Largest symbol-rate deviation tracked", lo=0.0, hi=0.2,
                           lo_open=True)
    gear: float = param(8.0, "Timing-loop bandwidth at the start (and after the FLL's "
                        "acquisition), relative to timing_bw, narrowing to it over gear_symbols",
                        lo=1.0, hi=16.0)
    gear_symbols: int = param(1024, "Symbols over which the timing loop narrows",
                              unit="symbols", lo=0, hi=1 << 20)
    reacquire: bool = param(True, "Re-acquire per burst (see SymbolSync)")


@register
class PskDemodulator(Block):
    """The PSK receive chain: IQ (c64) to synchronised symbols ('sym').

    AGC -> FLL -> SymbolSync; ``f`` of each symbol is the total frequency estimate
    (FLL + carrier PLL) in cycles/sample. ``debug_taps`` (a dict) collects the internal signals
    of every chunk when given: ``agc``, ``fll``, ``fll_freq``.

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        IQ samples at ``samp_rate`` carrying the PSK signal (any level, carrier offset up
        to ``max_offset`` symbol rates).

    Output
    ------
    sym : ndarray of SYM_DTYPE, shape (n,)
        One record per symbol, as :class:`SymbolSync`: ``z`` derotated symbol (unit
        amplitude at high SNR), ``t`` absolute instant in input samples, ``f`` the total
        frequency estimate (FLL + carrier PLL) in cycles/sample.
    """

    name = "psk_demod"
    Params = PskDemodulatorParams
    rate = Rate.GENERAL
    out_type = "sym"

    def __init__(self, params=None, debug_taps: dict | None = None, **kw):
        self.debug_taps = debug_taps
        super().__init__(params, **kw)

    def _reset(self):
        p = self.params
        sps = p.samp_rate / p.symbol_rate
        if sps < 1.5:
            from orbitlink.modem.block import ParamError
            raise ParamError(f"{self.name}: need at least 1.5 samples per symbol, got {sps:.3g}")
        self.agc = Agc(rate=p.agc_rate)
        power = {"bpsk": 2, "qpsk": 4, "oqpsk": 4, "8psk": 8}[p.modulation]
        self.fll = (Fll(sps=sps, power=power, acq_symbols=p.acq_symbols, max_offset=p.max_offset,
                        alpha=p.alpha, gain_track=p.fll_gain) if p.fll else None)
        self.sync = SymbolSync(modulation=p.modulation, sps=sps, alpha=p.alpha, span=p.span,
                               timing_bw=p.timing_bw, carrier_bw=p.carrier_bw,
                               freq_gain=p.freq_bw, max_dev=p.max_dev, gear=p.gear,
                               gear_symbols=p.gear_symbols, reacquire=p.reacquire)
        if self.debug_taps is not None:
            self.debug_taps.clear()

    def _tap(self, key, value):
        if self.debug_taps is not None:
            self.debug_taps.setdefault(key, []).append(np.array(value))

    def _process(self, x):
        y = self.agc.process(x)
        self._tap("agc", y)
        w = None
        if self.fll is not None:
            n0 = self.fll._n_out
            held = self.fll.acq_start is None
            y = self.fll.process(y)
            if not len(y):
                return np.zeros(0, SYM_DTYPE)
            w = self.fll.last_freq
            self._tap("fll", y)
            self._tap("fll_freq", w / (2 * np.pi))
            if held and self.fll.acq_start is not None:
                # the signal starts in the acquisition block: restart the symbol
                # synchroniser's loops there (during the noise before, they wandered)
                k = self.fll.acq_start - n0
                a = self.sync._process(y[:k], w[:k])
                self.sync.restart_loops()
                return np.concatenate([a, self.sync._process(y[k:], w[k:])])
        return self.sync._process(y, w)

    def _flush(self):
        parts = []
        if self.fll is not None:
            n0 = self.fll._n_out
            held = self.fll.acq_start is None
            y = self.fll.flush()
            if len(y):
                w = self.fll.last_freq
                if held and self.fll.acq_start is not None:
                    k = self.fll.acq_start - n0
                    parts.append(self.sync._process(y[:k], w[:k]))
                    self.sync.restart_loops()
                    y, w = y[k:], w[k:]
                parts.append(self.sync._process(y, w))
        parts.append(self.sync.flush())
        return np.concatenate(parts)

    def copy(self):
        taps, self.debug_taps = self.debug_taps, None
        try:
            return super().copy()
        finally:
            self.debug_taps = taps

    @classmethod
    def example(cls, rng):
        from orbitlink.modem.signals import psk_signal

        x = psk_signal("bpsk", 600, sps=4.0, esn0_db=12, cfo=0.01, rng=rng)
        return cls(modulation="bpsk", symbol_rate=1000.0, samp_rate=4000.0), x
