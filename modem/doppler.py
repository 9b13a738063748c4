"""Doppler correction, uplink pre-compensation and blind Doppler tracking.

Predicted Doppler (:class:`DopplerCorrector`, :class:`DopplerPrecompensator`)
------------------------------------------------------------------------------
A *predictor* is any callable ``predictor(t_unix) -> Hz`` taking a float64 array of unix
seconds (UTC) and returning the Doppler shift at those times (e.g.
:class:`orbitlink.modem.orbit.DopplerPredictor`, or :class:`AnalyticDoppler` for tests).
The blocks evaluate it on a **fixed absolute time grid** (every ``grid_s`` seconds of unix
time, ``K * grid_s`` for integer K, in calls of :data:`GRID_BLOCK` points aligned on the
grid), interpolate between grid points with Catmull-Rom cubics and integrate the cubic in
closed form: the phase is continuous, computed in float64 from the absolute sample index, and
the output is bit-identical for any chunking of the input.

The time of sample n is ``t_n = t0 + n / samp_rate * (1 + clock_offset_ppm * 1e-6) +
time_offset_s``: ``t0`` is the unix time of sample 0 (SigMF ``core:datetime``, see
:func:`unix_time`), ``clock_offset_ppm`` a sample clock running slow (positive: each sample
lasts longer than 1 / samp_rate), ``time_offset_s`` a timestamp error to correct. The phase is
the integral over real time, ``phi(t_n) = integral (doppler(t) + freq_offset_hz) dt``, so the
frequency applied in the sample stream is ``(doppler(t_n) + freq_offset_hz) * (1 +
clock_offset_ppm * 1e-6)`` Hz at the nominal sample rate (``last_freq_hz``).

* :class:`DopplerCorrector` multiplies by ``exp(-j 2 pi phi)``: a received signal that carries
  the predicted downlink Doppler comes out at its nominal frequency.
* :class:`DopplerPrecompensator` multiplies by ``exp(+j 2 pi phi)``: give it the uplink
  pre-compensation offset (``DopplerPredictor(..., uplink=True)``, the frequency to transmit
  minus the nominal one) and a burst whose sample 0 leaves the antenna at ``t0``.

Blind tracking (:class:`DopplerTracker`)
----------------------------------------
Without a prediction: a coarse search of the whole band (averaged periodogram correlated with
the signal's occupied bandwidth, then the power-spectrum centroid), a fine estimate in the
signal's band (the spectral line of ``x**power`` for PSK, the lag-1 correlation for
``power = 1``), then a second-order frequency loop (frequency and frequency rate) that tracks
the Doppler curve, with a signal-presence detector that holds the frequency when the signal
goes away and searches again after ``hold_s``.
"""

from __future__ import annotations

import copy as _copy
import math
from dataclasses import dataclass

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink.modem._kernels import doppler as K
from orbitlink.modem.block import Block, ParamError, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.filters import loop_gains, lowpass

__all__ = ["AnalyticDoppler", "LinearDoppler", "DopplerError", "DopplerNcoParams",
           "DopplerCorrector", "DopplerPrecompensator", "DopplerTracker", "DopplerTrackerParams",
           "GridPhase", "GRID_BLOCK", "TableDoppler", "precompensate_burst", "unix_time"]

#: grid points per predictor call (calls are aligned on multiples of this many grid points)
GRID_BLOCK = 256


class DopplerError(OrbitlinkError, ValueError):
    """A Doppler predictor returned unusable values, or a time cannot be understood."""


# ------------------------------------------------------------------------------------------------
# Helpers


class AnalyticDoppler:
    """A LEO-like Doppler curve for tests: ``f(t) = -amplitude_hz * tanh((t - tca) / width_s)``.

    Positive (approaching) before the time of closest approach ``tca``, zero at ``tca``,
    negative after; peak rate ``amplitude_hz / width_s`` Hz/s at ``tca`` (55 kHz over 55 s:
    1 kHz/s, like a 500 km pass at 2.2 GHz).
    """

    def __init__(self, amplitude_hz: float = 55e3, tca_unix: float = 0.0, width_s: float = 55.0):
        self.amplitude_hz = float(amplitude_hz)
        self.tca_unix = float(tca_unix)
        self.width_s = float(width_s)

    def __call__(self, t_unix):
        t = np.asarray(t_unix, np.float64)
        return -self.amplitude_hz * np.tanh((t - self.tca_unix) / self.width_s)

    def rate(self, t_unix):
        """Doppler rate in Hz/s."""
        t = np.asarray(t_unix, np.float64)
        return -self.amplitude_hz / self.width_s / np.cosh((t - self.tca_unix) / self.width_s) ** 2

    def phase(self, t_unix):
        """Integral of the curve from ``tca`` to t, in cycles (exact, for tests)."""
        t = np.asarray(t_unix, np.float64)
        x = (t - self.tca_unix) / self.width_s
        # log cosh, overflow-free
        ax = np.abs(x)
        return -self.amplitude_hz * self.width_s * (ax + np.log1p(np.exp(-2 * ax)) - math.log(2))

    def __repr__(self):
        return (f"AnalyticDoppler(amplitude_hz={self.amplitude_hz!r}, tca_unix={self.tca_unix!r},"
                f" width_s={self.width_s!r})")


class LinearDoppler:
    """A linear Doppler sweep for tests: from ``start_hz`` at ``t0_unix`` at ``rate_hz_s``
    until ``stop_hz``, constant before and after (``f(t) = clip(start + rate (t - t0))``).

    A low LEO pass at X band (8.4 GHz, 500 km) sweeps about +-60 kHz at up to 10 kHz/s near
    its closest approach; ``LinearDoppler(60e3, -60e3, -10e3)`` is that stretch as a straight
    line (12 s).
    """

    def __init__(self, start_hz: float, stop_hz: float, rate_hz_s: float, t0_unix: float = 0.0):
        if rate_hz_s == 0 or (stop_hz - start_hz) * rate_hz_s < 0:
            raise DopplerError("LinearDoppler: the rate must run from start_hz towards stop_hz")
        self.start_hz = float(start_hz)
        self.stop_hz = float(stop_hz)
        self.rate_hz_s = float(rate_hz_s)
        self.t0_unix = float(t0_unix)
        self.duration_s = (self.stop_hz - self.start_hz) / self.rate_hz_s

    def __call__(self, t_unix):
        t = np.clip(np.asarray(t_unix, np.float64) - self.t0_unix, 0.0, self.duration_s)
        return self.start_hz + self.rate_hz_s * t

    def rate(self, t_unix):
        """Doppler rate in Hz/s."""
        t = np.asarray(t_unix, np.float64) - self.t0_unix
        return np.where((t >= 0) & (t <= self.duration_s), self.rate_hz_s, 0.0)

    def phase(self, t_unix):
        """Integral of the curve from ``t0_unix`` to t, in cycles (exact, for tests)."""
        t = np.asarray(t_unix, np.float64) - self.t0_unix
        tc = np.clip(t, 0.0, self.duration_s)
        return (self.start_hz * tc + 0.5 * self.rate_hz_s * tc ** 2
                + self.start_hz * np.minimum(t, 0.0)
                + self.stop_hz * np.maximum(t - self.duration_s, 0.0))

    def __repr__(self):
        return (f"LinearDoppler(start_hz={self.start_hz!r}, stop_hz={self.stop_hz!r}, "
                f"rate_hz_s={self.rate_hz_s!r}, t0_unix={self.t0_unix!r})")


class TableDoppler:
    """A Doppler curve from a table of ``(UNIX time, Hz)`` points (another tool's prediction or
    measurement, e.g. a gr-satellites Doppler correction file), linearly interpolated between
    the points and held at the first/last value outside them.

    ``times`` must be finite and strictly increasing, ``freqs`` finite; at least one point.
    """

    def __init__(self, times, freqs, source: str = "table"):
        t = np.asarray(times, np.float64).ravel()
        f = np.asarray(freqs, np.float64).ravel()
        if len(t) == 0 or len(t) != len(f):
            raise ValueError(f"{source}: a Doppler table needs as many times as frequencies, "
                             "and at least one of each")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(f))):
            raise ValueError(f"{source}: the Doppler table has a value that is not a finite "
                             "number")
        if len(t) > 1 and not np.all(np.diff(t) > 0):
            i = int(np.argmax(np.diff(t) <= 0))
            raise ValueError(f"{source}: the times must increase (point {i + 2} is at "
                             f"{t[i + 1]:.6f}, not after {t[i]:.6f})")
        self.times, self.freqs, self.source = t, f, source
        # the slope of each segment (held flat outside)
        self._slope = np.diff(f) / np.diff(t) if len(t) > 1 else np.zeros(0)

    def __call__(self, t_unix):
        return np.interp(np.asarray(t_unix, np.float64), self.times, self.freqs)

    def rate(self, t_unix):
        """Doppler rate in Hz/s (the slope of the segment; 0 outside the table)."""
        t = np.asarray(t_unix, np.float64)
        if len(self.times) < 2:
            return np.zeros_like(t)
        i = np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, len(self._slope) - 1)
        inside = (t >= self.times[0]) & (t <= self.times[-1])
        return np.where(inside, self._slope[i], 0.0)

    @property
    def span(self) -> tuple[float, float]:
        return float(self.times[0]), float(self.times[-1])

    def __repr__(self):
        return f"TableDoppler({len(self.times)} points from {self.source})"


def unix_time(value) -> float:
    """Unix seconds (UTC) of an ISO 8601 string (SigMF ``core:datetime``, ``Z`` allowed), a
    datetime (naive: UTC) or a number.

    The parsing is :func:`orbitlink.modem.orbit.parse_time`'s.

    Raises
    ------
    DopplerError
        The value is not a date and time.
    """
    from orbitlink.modem.orbit import OrbitError, parse_time

    try:
        return parse_time(value)
    except OrbitError:
        raise DopplerError(f"time {value!r} is not an ISO 8601 date and time, a datetime or "
                           "unix seconds") from None


class GridPhase:
    """Phase of a predicted frequency curve sampled on an absolute time grid (the shared machinery
    of the Doppler NCO blocks and the channel simulator).

    ``phase(count)`` returns, for the next ``count`` samples (sample indices counted from 0 over
    successive calls), the phase in cycles (mod 1) of ``integral (predictor(t) + offset_hz) dt``
    and the frequency in Hz of the sample stream. ``predictor`` None means zero Doppler.
    Copies (``copy.deepcopy``) share the predictor (it must be a pure function of time).
    """

    def __init__(self, predictor, t0: float, samp_rate: float, grid_s: float = 0.05,
                 clock_offset_ppm: float = 0.0, offset_hz: float = 0.0):
        if predictor is not None and not callable(predictor):
            raise DopplerError(f"the Doppler predictor must be callable (t_unix -> Hz), got "
                               f"{type(predictor).__name__}")
        self.predictor = predictor
        self.grid_s = float(grid_s)
        self.offset_hz = float(offset_hz)
        self.scale = 1.0 + float(clock_offset_ppm) * 1e-6
        self.samp_rate = float(samp_rate)
        t0 = float(t0)
        self.k0 = math.floor(t0 / self.grid_s)  # absolute index of grid point 0
        s0 = t0 - self.k0 * self.grid_s
        self.s0 = min(max(s0, 0.0), math.nextafter(self.grid_s, 0.0))
        self.dt = self.scale / self.samp_rate
        self.state = np.zeros(K.GP_NSTATE)
        self.n = 0
        self._cache: dict[int, np.ndarray] = {}

    def __deepcopy__(self, memo):
        new = _copy.copy(self)
        new.state = self.state.copy()
        new._cache = dict(self._cache)  # arrays are never written
        return new

    def _values(self, ja: int, jb: int) -> np.ndarray:
        """Frequencies (Hz, offset included) at relative grid points ja .. jb."""
        ka, kb = self.k0 + ja, self.k0 + jb
        ba, bb = ka // GRID_BLOCK, kb // GRID_BLOCK
        parts = []
        for b in range(ba, bb + 1):
            v = self._cache.get(b)
            if v is None:
                v = self._evaluate(b)
                self._cache[b] = v
            parts.append(v)
        for b in [b for b in self._cache if b < ba - 1]:
            del self._cache[b]
        allv = np.concatenate(parts) if len(parts) > 1 else parts[0]
        off = ka - ba * GRID_BLOCK
        return allv[off:off + (kb - ka + 1)]

    def _evaluate(self, b: int) -> np.ndarray:
        kk = np.arange(b * GRID_BLOCK, (b + 1) * GRID_BLOCK, dtype=np.float64)
        t = kk * self.grid_s
        if self.predictor is None:
            v = np.zeros(GRID_BLOCK)
        else:
            try:
                v = np.asarray(self.predictor(t), np.float64)
            except OrbitlinkError:
                raise
            except Exception as exc:  # noqa: BLE001 - a user's callable
                raise DopplerError(f"the Doppler predictor failed at unix time {t[0]:.3f} "
                                   f"({type(exc).__name__}: {exc})") from None
            if v.shape != t.shape:
                raise DopplerError(f"the Doppler predictor returned shape {v.shape} for "
                                   f"{len(t)} times (it must return one frequency per time)")
            if not np.all(np.isfinite(v)):
                raise DopplerError(f"the Doppler predictor returned a non-finite frequency "
                                   f"between unix times {t[0]:.3f} and {t[-1]:.3f}")
        v = v + self.offset_hz
        v.setflags(write=False)
        return v

    def phase(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Phase (cycles, [0, 1)) and stream frequency (Hz at the nominal rate) of the next
        ``count`` samples."""
        ph = np.empty(count, np.float64)
        fr = np.empty(count, np.float64)
        if count:
            n0, n1 = self.n, self.n + count - 1
            jf = math.floor((self.s0 + n0 * self.dt) / self.grid_s)
            jl = math.floor((self.s0 + n1 * self.dt) / self.grid_s)
            ja = min(int(self.state[K.GP_J]), jf) - 1
            vals = self._values(ja, jl + 3)
            K.grid_phase(np.int64(n0), self.s0, self.dt, self.grid_s, vals, np.int64(ja),
                         self.state, ph, fr)
            fr *= self.scale
            self.n += count
        return ph, fr

    def time_of(self, n) -> np.ndarray:
        """Unix time (s) of sample(s) n on this block's time base."""
        return (self.k0 * self.grid_s + self.s0) + np.asarray(n, np.float64) * self.dt


# ------------------------------------------------------------------------------------------------
# Predicted-Doppler NCO blocks


@dataclass(frozen=True)
class DopplerNcoParams:
    samp_rate: float = param(192000.0, "Sample rate", unit="Hz", lo=0.0, lo_open=True,
                             hi=1.0e12)
    t0: float = param(0.0, "Unix time (UTC) of sample 0 (SigMF core:datetime; for the "
                      "pre-compensator: when the burst's first sample is transmitted)",
                      unit="s", lo=-1.0e11, hi=1.0e11)
    grid_s: float = param(0.05, "Spacing of the absolute time grid the prediction is "
                          "evaluated on (cubic interpolation between)", unit="s", lo=1e-4,
                          hi=60.0)
    clock_offset_ppm: float = param(0.0, "Sample clock error: sample n is at t0 + n / "
                                    "samp_rate * (1 + ppm * 1e-6) + time_offset_s", unit="ppm",
                                    lo=-1.0e5, hi=1.0e5)
    time_offset_s: float = param(0.0, "Added to every sample time (a timestamp error to "
                                 "correct)", unit="s", lo=-1.0e6, hi=1.0e6)
    freq_offset_hz: float = param(0.0, "Fixed frequency offset added to the prediction (e.g. "
                                  "the radio's tuning error)", unit="Hz", lo=-1.0e9, hi=1.0e9)


class _DopplerNco(Block):
    Params = DopplerNcoParams
    rate = Rate.SYNC
    in_type = "c64"
    out_type = "c64"
    _sign = -1.0

    def __init__(self, params=None, predictor=None, **kw):
        if predictor is not None and not callable(predictor):
            raise DopplerError(f"{self.name}: the predictor must be callable (t_unix -> Hz)")
        self.predictor = predictor
        super().__init__(params, **kw)

    def _reset(self):
        p = self.params
        self._grid = GridPhase(self.predictor, p.t0 + p.time_offset_s, p.samp_rate, p.grid_s,
                               p.clock_offset_ppm, p.freq_offset_hz)
        self.last_freq_hz = np.zeros(0, np.float64)

    def copy(self):
        return _copy.deepcopy(self, {id(self.predictor): self.predictor})

    def _process(self, x):
        ph, fr = self._grid.phase(len(x))
        out = np.empty(len(x), np.complex64)
        K.rotate(x, ph, self._sign, out)
        self.last_freq_hz = fr
        return out

    def _flush(self):
        self.last_freq_hz = np.zeros(0, np.float64)
        return np.zeros(0, np.complex64)

    def sample_time(self, n) -> np.ndarray:
        """Unix time of absolute sample index n (array or scalar) on this block's time base."""
        return self._grid.time_of(n)

    @classmethod
    def example(cls, rng):
        pred = AnalyticDoppler(55e3, tca_unix=1.7e9 + 0.02, width_s=0.05)  # a fast sweep
        b = cls(samp_rate=48000.0, t0=1.7e9, grid_s=0.001, clock_offset_ppm=30.0,
                time_offset_s=0.0013, freq_offset_hz=120.0, predictor=pred)
        x = (rng.standard_normal(3000) + 1j * rng.standard_normal(3000)).astype(np.complex64)
        return b, x


@register
class DopplerCorrector(_DopplerNco):
    """Removes the predicted Doppler: ``y[n] = x[n] exp(-j 2 pi phi(t_n))`` (c64 -> c64).

    ``DopplerCorrector(params, predictor=pred)`` with ``pred(t_unix) -> Hz`` the downlink
    Doppler (received minus transmitted carrier); without a predictor only
    ``freq_offset_hz`` is removed. ``last_freq_hz`` (float64, one per output sample of the last
    ``process``) is the frequency removed, in Hz at the nominal sample rate. See the module
    docstring for the time base and the grid.

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        Received IQ at ``samp_rate``; sample ``n`` was taken at ``t0 + n / samp_rate * (1 +
        clock_offset_ppm 1e-6) + time_offset_s`` (unix seconds).

    Output
    ------
    c64 : ndarray of complex64, shape (n,)
        One per input: ``x[n] exp(-j 2 pi phi(t_n))``, the predicted Doppler removed;
        ``last_freq_hz`` (float64, Hz) is the frequency removed from each sample.
    """

    name = "doppler_correct"
    _sign = -1.0


@register
class DopplerPrecompensator(_DopplerNco):
    """Applies the uplink pre-compensation: ``y[n] = x[n] exp(+j 2 pi phi(t_n))`` (c64 -> c64).

    ``predictor(t_unix) -> Hz`` gives the offset to transmit (``DopplerPredictor(...,
    uplink=True)``: transmitted minus nominal carrier, about minus the downlink Doppler);
    ``t0`` is the unix time at which sample 0 is transmitted. ``last_freq_hz`` is the offset
    added (Hz at the nominal sample rate).

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        Transmit IQ at ``samp_rate``; sample ``n`` leaves the antenna at ``t0 + n /
        samp_rate`` (unix seconds, with the clock and time offsets).

    Output
    ------
    c64 : ndarray of complex64, shape (n,)
        One per input: ``x[n] exp(+j 2 pi phi(t_n))``, the uplink pre-compensation applied;
        ``last_freq_hz`` (float64, Hz) is the offset added to each sample.
    """

    name = "doppler_precomp"
    _sign = 1.0


def precompensate_burst(iq, samp_rate: float, t_start_unix: float, predictor, *,
                        grid_s: float = 0.05, clock_offset_ppm: float = 0.0,
                        time_offset_s: float = 0.0, freq_offset_hz: float = 0.0) -> np.ndarray:
    """Pre-compensate one transmit burst whose first sample leaves at ``t_start_unix``.

    Returns the complex64 burst multiplied by ``exp(+j 2 pi phi)``, ``phi`` the integral of
    ``predictor`` (the uplink offset, Hz) over the burst's transmit times. Bursts use the same
    absolute grid, so consecutive bursts see one continuous frequency curve.
    """
    b = DopplerPrecompensator(samp_rate=float(samp_rate), t0=float(t_start_unix),
                              grid_s=grid_s, clock_offset_ppm=clock_offset_ppm,
                              time_offset_s=time_offset_s, freq_offset_hz=freq_offset_hz,
                              predictor=predictor)
    return b.process(np.asarray(iq, np.complex64))


# ------------------------------------------------------------------------------------------------
# Blind tracker


@dataclass(frozen=True)
class DopplerTrackerParams:
    samp_rate: float = param(192000.0, "Sample rate (must hold the Doppler range plus the "
                             "signal's bandwidth)", unit="Hz", lo=0.0, lo_open=True, hi=1.0e10)
    symbol_rate: float = param(9600.0, "Symbol rate of the signal", unit="Bd", lo=0.0,
                               lo_open=True, hi=1.0e9)
    power: int = param(4, "Power that removes the modulation in the fine acquisition and the "
                       "loop's discriminator (2 BPSK, 4 QPSK/OQPSK, 1 FSK and anything else)",
                       choices=(1, 2, 4))
    occupied_bw: float = param(1.35, "Occupied bandwidth of the signal (PSK: 1 + roll-off; "
                               "FSK: about 1 + 2 deviation / symbol rate)",
                               unit="x symbol rate", lo=0.1, hi=50.0)
    max_doppler_hz: float = param(60000.0, "Largest carrier offset searched (within the "
                                  "sample rate)", unit="Hz", lo=0.0, lo_open=True, hi=1.0e9)
    max_rate_hz_s: float = param(1000.0, "Largest Doppler rate tracked (the rate estimate is "
                                 "limited to twice this)", unit="Hz/s", lo=0.0, lo_open=True,
                                 hi=1.0e7)
    loop_bw_hz: float = param(5.0, "Noise bandwidth of the second-order frequency loop",
                              unit="Hz", lo=0.0, lo_open=True, hi=1000.0)
    damping: float = param(0.707, "Damping of the frequency loop", lo=0.1, hi=5.0)
    update_s: float = param(0.05, "Loop update (measurement) period, on the absolute sample "
                            "grid", unit="s", lo=1e-4, hi=1.0)
    acq_s: float = param(0.1, "Length of an acquisition block", unit="s", lo=1e-3, hi=60.0)
    min_snr_db: float = param(-4.0, "In-band SNR (signal power over the noise in the occupied "
                              "bandwidth) that counts as signal present", unit="dB", lo=-20.0,
                              hi=40.0)
    msk_lines: bool = param(False, "power 1 only: the signal is MSK-type CPM (GMSK, or 2-FSK "
                            "with h = 1/2): the loop measures the two spectral lines of x**2 "
                            "(free of the data) instead of the mean frequency while that is "
                            "within symbol_rate / 24")
    hold_s: float = param(2.0, "Time without signal after which the tracker searches the "
                          "band again (the frequency holds meanwhile)", unit="s", lo=0.0,
                          hi=3600.0)


@register
class DopplerTracker(Block):
    """Blind Doppler acquisition and tracking (c64 -> c64, derotated; sync rate).

    Acquisition works on blocks of ``acq_s`` seconds (the first starts at sample 0, the next
    ones right after a failed block or a loss of signal): the block's averaged periodogram is
    correlated with a rectangle of the occupied bandwidth over ``|f| <= max_doppler_hz``; the
    best position counts as a signal when its in-band SNR reaches ``min_snr_db``, the
    power-spectrum centroid around it gives the coarse frequency, and the spectral line of
    ``x**power`` (``power`` 2/4) or the lag-1 correlation (``power`` 1) in the signal's band the
    fine one. While a block is being searched its samples are held (the output lags by up to one
    block); once the decision is made the block leaves derotated by the new frequency.

    Tracking: a phase-continuous NCO with frequency F and rate R; a decimating low-pass of the
    derotated signal feeds a lag-1 discriminator of ``z**power``; every ``update_s`` (absolute
    grid) a second-order loop of noise bandwidth ``loop_bw_hz`` updates F and R. An in-band SNR
    estimate (filtered against total power) below ``min_snr_db`` freezes F (the rate is not
    applied); after ``hold_s`` without signal the tracker searches again.

    Attributes: ``last_freq_hz`` (float64, the NCO frequency of every sample of the last
    output), ``freq_hz``, ``rate_hz_s``, ``locked``, ``acquisitions`` (list of
    ``(sample_index, freq_hz, snr_db)``).

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        Received IQ at ``samp_rate`` with an unknown, drifting carrier offset (up to
        ``max_doppler_hz``).

    Output
    ------
    c64 : ndarray of complex64, shape (n,)
        The same samples derotated by the tracking NCO, one per input in total; while a
        block is searched the output lags by up to ``acq_s``. ``last_freq_hz`` (float64, Hz)
        is the frequency removed from each sample of the last output.
    """

    name = "doppler_track"
    Params = DopplerTrackerParams
    rate = Rate.SYNC
    in_type = "c64"
    out_type = "c64"

    def _reset(self):
        p = self.params
        fs = p.samp_rate
        half_bw = p.occupied_bw * p.symbol_rate / 2
        if half_bw >= fs / 2:
            raise ParamError(f"{self.name}: the occupied bandwidth "
                             f"({2 * half_bw:g} Hz) does not fit in the sample rate ({fs:g} Hz)")
        # measurement path: low-pass to the band plus a margin for the residual, decimated
        cutoff = min(0.45, (half_bw + 0.1 * p.symbol_rate) / fs)
        self._dec = max(1, int(1.0 / (4.0 * cutoff)))
        ntap = int(4.0 / cutoff) | 1
        self._taps = lowpass(cutoff, ntap, "hamming")
        self._gn = float(np.sum(self._taps ** 2))  # noise power gain (unit DC gain)
        self._upd = max(1, int(round(p.update_s * fs / self._dec))) * self._dec
        tu = self._upd / fs
        self._kp, self._ki = loop_gains(p.loop_bw_hz * tu, p.damping)
        self._fmax = min(fs / 2, p.max_doppler_hz * 1.25)
        self._rmax = 2.0 * p.max_rate_hz_s
        self._snr_min = 10 ** (p.min_snr_db / 10)
        self._nacq = max(256, int(round(p.acq_s * fs)))
        self._nf = np.zeros(K.NF_NSTATE)
        self._hist = np.zeros(ntap, np.complex128)
        self._f = 0.0  # NCO frequency at sample _nb (Hz)
        self._r = 0.0  # rate (Hz/s)
        self._nb = 0  # start of the current measurement period
        self._z = StreamBuffer(np.complex128)  # filter outputs of the measurement period
        self._present = False
        self._absent_s = 0.0
        self._sm = None  # smoothed (in-band, total) power
        self._snr = 0.0
        self.last_error_hz = 0.0
        self._acquired = False
        self._hold = StreamBuffer(np.complex64)  # acquisition block being gathered
        self._n = 0  # absolute index of the next sample to leave (= _hold[0] while searching)
        self.acquisitions: list[tuple[int, float, float]] = []
        self.last_freq_hz = np.zeros(0, np.float64)

    # ---------------------------------------------------------------------------------------
    @property
    def freq_hz(self) -> float:
        """NCO frequency (Hz) at the start of the current measurement period."""
        return self._f

    @property
    def rate_hz_s(self) -> float:
        """Doppler-rate estimate (Hz/s)."""
        return self._r

    @property
    def locked(self) -> bool:
        """Tracking with the signal present."""
        return self._acquired and self._present

    @property
    def snr_db(self) -> float:
        """Last in-band SNR estimate of the tracking loop (dB)."""
        return 10 * math.log10(self._snr) if self._snr > 0 else -math.inf

    # ---------------------------------------------------------------------------------------
    def acquire(self, x) -> tuple[float, float, float] | None:
        """Search a block for the carrier: ``(freq_hz, snr_db, rate_hz_s)`` or None (no signal).

        ``freq_hz`` is the carrier frequency at the middle of the block, ``snr_db`` the in-band
        SNR, ``rate_hz_s`` the Doppler rate measured between the block's halves (0 for
        ``power`` 1 or blocks shorter than 4096 samples)."""
        p = self.params
        fs = p.samp_rate
        x = np.asarray(x, np.complex128)
        nfft = 1 << max(6, int(math.ceil(math.log2(32 * fs / p.symbol_rate))))
        if len(x) < 2 * nfft:
            nfft = 1 << max(4, int(math.log2(max(16, len(x) // 2))))
        hop = nfft // 2
        nseg = (len(x) - nfft) // hop + 1
        if nseg < 1:
            return None
        win = np.hanning(nfft)
        idx = np.arange(nfft)[None, :] + hop * np.arange(nseg)[:, None]
        psd = np.mean(np.abs(np.fft.fft(x[idx] * win, axis=1)) ** 2, axis=0)
        psd = np.fft.fftshift(psd)
        fr = np.fft.fftshift(np.fft.fftfreq(nfft, 1.0 / fs))
        floor = float(np.median(psd))
        if floor <= 0:
            return None
        binw = fs / nfft
        width = max(1, int(round(p.occupied_bw * p.symbol_rate / binw)))
        # circular moving average over `width` bins, centred
        c = np.concatenate([psd, psd[:width]])
        cs = np.concatenate([[0.0], np.cumsum(c)])
        box = (cs[width:width + nfft] - cs[:nfft]) / width  # box[i] = mean psd[i .. i+width-1]
        centre = fr + (width - 1) / 2 * binw
        lim = min(p.max_doppler_hz, fs / 2 - p.occupied_bw * p.symbol_rate / 2)
        ok = np.abs(centre) <= lim
        if not np.any(ok):
            return None
        sel = np.nonzero(ok)[0]
        k = int(sel[np.argmax(box[sel])])
        snr = box[k] / floor - 1.0
        # noise alone: the box mean's relative spread is about 1 / sqrt(nseg * width / 2)
        # (Hann bins overlap); demand 6 of those besides min_snr_db
        guard = 6.0 / math.sqrt(nseg * width / 2.0)
        if snr <= guard or 10 * math.log10(snr) < p.min_snr_db:
            return None
        # centroid of the excess power around the peak
        lo_i = k - width // 4
        hi_i = k + width + width // 4
        ii = np.arange(lo_i, hi_i) % nfft
        wgt = np.clip(psd[ii] - floor, 0.0, None)
        ff = fr[0] + np.arange(lo_i, hi_i) * binw
        fc = float(np.sum(wgt * ff) / np.sum(wgt)) if np.sum(wgt) > 0 else float(centre[k])
        rate = 0.0
        if p.power > 1 and len(x) >= 4096:
            # frequency and Doppler rate together: the x**power line of the block dechirped by
            # each rate on a grid (a sweep smears the line over rate x block length, 2 kHz at
            # 10 kHz/s over 0.2 s: neither the line nor the halves' lines are then sharp)
            df, rate = self._chirp_fine(x, fc, 2.5 * binw)
            fc += df
        else:
            fc += self._fine(x, fc, 2.5 * binw)
            if p.power == 1 and len(x) >= 0.2 * fs:
                # FSK: the mean frequencies of the halves (the data's share of each tone
                # averages out over a tenth of a second and more)
                # (each half measured again around its own first estimate: the low-pass around
                # fc would cut the far edge of a half that a fast sweep moved away from fc)
                h = len(x) // 2
                fa = self._fine(x[:h], fc, 0.0)
                fa += self._fine(x[:h], fc + fa, 0.0)
                fb = self._fine(x[h:2 * h], fc, 0.0)
                fb += self._fine(x[h:2 * h], fc + fb, 0.0)
                rate = min(2 * p.max_rate_hz_s, max(-2 * p.max_rate_hz_s, (fb - fa) / (h / fs)))
        return fc, 10 * math.log10(snr), rate

    def _baseband(self, x, fc):
        """x mixed down by fc (Hz), low-passed and decimated: (samples, their rate in Hz)."""
        fs = self.params.samp_rate
        y = x * np.exp(-2j * np.pi * fc / fs * np.arange(len(x)))
        return np.convolve(y, self._taps, mode="valid")[:: self._dec], fs / self._dec

    def _chirp_fine(self, x, fc, span_hz) -> tuple[float, float]:
        """(residual frequency at the block's middle in Hz, rate in Hz/s) of x mixed down by fc:
        the strongest x**power line within span_hz over a grid of dechirping rates around the
        rate the two halves' lines give (within twice max_rate_hz_s; coarse grid, then a finer
        one around the best)."""
        p = self.params
        fs = p.samp_rate
        z, fd = self._baseband(x, fc)
        if len(z) < 32:
            return 0.0, 0.0
        m = len(z)
        t = (np.arange(m) - (m - 1) / 2) / fd  # seconds from the block's middle
        u = z ** p.power * np.hanning(m)
        nfft = 1 << int(np.ceil(np.log2(4 * m)))
        fr = np.fft.fftfreq(nfft, 1.0 / fd) / p.power  # carrier frequency of each bin
        sel = np.abs(fr) <= min(span_hz, 0.45 * fd / p.power)
        big_t = m / fd
        rmax = 2.0 * p.max_rate_hz_s

        def best(rates):
            top = (-1.0, 0.0, 0, None)
            for r in rates:
                spec = np.abs(np.fft.fft(u * np.exp(-1j * np.pi * p.power * r * t * t),
                                         nfft)) ** 2
                k = int(np.argmax(np.where(sel, spec, 0.0)))
                if spec[k] > top[0]:
                    top = (float(spec[k]), float(r), k, spec)
            return top

        # first guess: the lines of the two halves (smeared by the sweep, so within a few
        # hundred Hz/s at 10 kHz/s); then the line stays within one bin while the rate error
        # times power times T^2 < 1/2
        h = len(x) // 2
        fa = self._fine(x[:h], fc, span_hz)
        fb = self._fine(x[h:2 * h], fc, span_hz)
        rg = min(rmax, max(-rmax, (fb - fa) / (h / fs)))
        step = 0.5 / (p.power * big_t * big_t)
        wide = min(rmax, max(2500.0, 0.2 * abs(rg)))
        coarse = np.arange(rg - wide, rg + wide + step, 4 * step)
        _, r0, _, _ = best(coarse[np.abs(coarse) <= rmax] if rmax > 0 else np.zeros(1))
        _, r1, k, spec = best(np.arange(r0 - 4 * step, r0 + 4.5 * step, step / 2))
        # parabolic refinement of the line on the log spectrum
        la, lb, lc = (math.log(spec[(k + i) % nfft] + 1e-300) for i in (-1, 0, 1))
        den = la - 2 * lb + lc
        delta = 0.5 * (la - lc) / den if den < 0 else 0.0
        f = (np.fft.fftfreq(nfft, 1.0 / fd)[k] + delta * fd / nfft) / p.power
        return float(f), float(min(rmax, max(-rmax, r1)))

    def _fine(self, x, fc, span_hz) -> float:
        """Residual frequency (Hz) of x after mixing down by fc, in the signal's band."""
        p = self.params
        z, fd = self._baseband(x, fc)
        if len(z) < 32:
            return 0.0
        if p.power == 1:
            acc = np.sum(z[1:] * np.conj(z[:-1]))
            return float(np.angle(acc) / (2 * np.pi) * fd)
        from orbitlink.modem.psk import mpower_freq

        fmax = min(0.5 / p.power, span_hz / fd)
        f, _ = mpower_freq(z, p.power, fmax)
        return f * fd

    # ---------------------------------------------------------------------------------------
    def _nco(self, x, track: bool):
        """Derotate x (from absolute sample _n) with the current ramp; collect filter outputs."""
        out = np.empty(len(x), np.complex64)
        fr = np.empty(len(x), np.float64)
        z = np.empty(len(x) // self._dec + 2, np.complex128)
        r = self._r if self._present else 0.0
        nz = K.nco_fir(x, np.int64(self._n), self._nf, self._f, r, np.int64(self._nb),
                       self.params.samp_rate, self._hist, self._taps, np.int64(self._dec), out,
                       fr, z)
        if track:
            self._z.append(z[:nz])
        self._n += len(x)
        return out, fr

    def _measure(self, z) -> float:
        """Residual frequency (Hz) of the filtered, decimated, derotated samples z."""
        p = self.params
        fd = p.samp_rate / self._dec
        if p.power == 1:
            acc = np.sum(z[1:] * np.conj(z[:-1]))
            # the noise's lag-1 correlation (real) dilutes the angle by S / (S + N)
            e = float(np.angle(acc) / (2 * np.pi) * fd
                      * (1.0 + self._snr) / max(self._snr, 0.25))
            if p.msk_lines and abs(e) < p.symbol_rate / 24:
                # close: the line pair (no data jitter; range +-symbol_rate / 16)
                e2 = self._msk_measure(z, fd)
                if e2 is not None:
                    return e2
            return e
        from orbitlink.modem.psk import mpower_freq

        fmax = min(0.5 / p.power, 0.1 * p.symbol_rate / fd)
        f, _ = mpower_freq(z, p.power, fmax)
        return f * fd

    def _msk_measure(self, z, fd):
        """Residual frequency (Hz) from the two spectral lines of z**2 at twice the carrier plus
        and minus half the symbol rate (MSK-type CPM, h = 1/2): each line moved to DC, summed
        over sub-blocks of 4 symbols, and the phase step from one sub-block to the next
        (the data's continuum averages out; range +-symbol_rate / 16). None if too short."""
        p = self.params
        sub = max(2, int(round(4 * fd / p.symbol_rate)))
        m = len(z) // sub
        if m < 4:
            return None
        u = (z[:m * sub] ** 2).astype(np.complex128)
        ph = np.exp(-1j * np.pi * p.symbol_rate / fd * np.arange(m * sub))
        acc = 0j
        for v in (u * ph, u * np.conj(ph)):
            s_k = v.reshape(m, sub).sum(axis=1)
            acc += np.sum(s_k[1:] * np.conj(s_k[:-1]))
        # z**2 turns at twice the residual frequency
        return float(np.angle(acc) / (2 * np.pi) * fd / sub / 2)

    def _update(self):
        """End of a measurement period (absolute sample _n): measure, update the loop."""
        p = self.params
        fs = p.samp_rate
        t = (self._n - self._nb) / fs
        nx = self._n - self._nb
        z = self._z.take_all()
        ptot = self._nf[K.NF_PTOT] / max(nx, 1)
        self._nf[K.NF_PTOT] = 0.0
        pin = float(np.mean(np.abs(z) ** 2)) if len(z) else 0.0
        if self._sm is None:
            self._sm = (pin, ptot)
        else:
            a = min(1.0, t / 0.05)
            self._sm = (self._sm[0] + a * (pin - self._sm[0]),
                        self._sm[1] + a * (ptot - self._sm[1]))
        sin, stot = self._sm
        sig = (sin - self._gn * stot) / (1.0 - self._gn)
        nin = self._gn * (stot - sig)
        self._snr = max(0.0, sig / nin) if nin > 0 else 1e9
        f_end = self._f + (self._r if self._present else 0.0) * t
        if self._snr > self._snr_min and len(z) >= 32:
            e = self._measure(z)
            self.last_error_hz = e
            self._present = True
            self._absent_s = 0.0
            self._f = f_end + self._kp * e
            self._r = min(self._rmax, max(-self._rmax, self._r + self._ki * e / (self._upd / fs)))
        else:
            self._present = self._snr > self._snr_min and self._present
            self._f = f_end
            if self._snr <= self._snr_min:
                self._present = False
                self._absent_s += t
        self._f = min(self._fmax, max(-self._fmax, self._f))
        self._nb = self._n

    def _track(self, x):
        """Track through x; returns (out, freq, rest): rest is non-empty when the signal was
        lost (the caller searches again from there)."""
        outs, frs = [], []
        while len(x):
            end = (self._n // self._upd + 1) * self._upd
            m = min(len(x), end - self._n)
            o, f = self._nco(x[:m], True)
            outs.append(o)
            frs.append(f)
            x = x[m:]
            if self._n == end:
                self._update()
                if self._absent_s >= self.params.hold_s:
                    self._acquired = False
                    self._r = 0.0
                    break
        return outs, frs, x

    def _start_tracking(self, f_mid, snr_db, rate, nblock):
        """Track from sample _n, the start of an acquisition block of nblock samples whose
        middle is at f_mid Hz."""
        rate = float(rate)
        f_hz = float(f_mid) - rate * nblock / 2 / self.params.samp_rate
        self._f = f_hz
        self._r = rate
        self._nb = self._n
        self._z.clear()
        self._nf[K.NF_PTOT] = 0.0
        self._present = True
        self._absent_s = 0.0
        self._sm = None
        self._hist[:] = 0.0
        self._acquired = True
        self.acquisitions.append((self._n, float(f_hz), float(snr_db)))

    def _process(self, x):
        outs, frs = [], []
        while True:
            if self._acquired:
                o, f, x = self._track(x)
                outs += o
                frs += f
                if self._acquired or not len(x):
                    break
                continue
            need = self._nacq - len(self._hold)
            self._hold.append(x[:need])
            x = x[need:]
            if len(self._hold) < self._nacq:
                break
            block = self._hold.take_all()
            res = self.acquire(block)
            if res is not None:
                self._start_tracking(*res, len(block))
                o, f, rest = self._track(block)
                outs += o
                frs += f
                x = np.concatenate([rest, x])
            else:
                self._nb = self._n
                o, f = self._nco(block, False)
                outs.append(o)
                frs.append(f)
        self.last_freq_hz = np.concatenate(frs) if frs else np.zeros(0, np.float64)
        return np.concatenate(outs) if outs else np.zeros(0, np.complex64)

    def _flush(self):
        if self._acquired or not len(self._hold):
            self.last_freq_hz = np.zeros(0, np.float64)
            return np.zeros(0, np.complex64)
        block = self._hold.take_all()
        res = self.acquire(block) if len(block) >= 256 else None
        outs, frs = [], []
        if res is not None:
            self._start_tracking(*res, len(block))
            outs, frs, block = self._track(block)
        if len(block):
            self._nb = self._n
            o, f = self._nco(block, False)
            outs.append(o)
            frs.append(f)
        self.last_freq_hz = np.concatenate(frs)
        return np.concatenate(outs)

    @classmethod
    def example(cls, rng):
        from orbitlink.modem.signals import psk_signal

        fs, rs = 24000.0, 2400.0
        x = psk_signal("qpsk", 1200, sps=fs / rs, esn0_db=15, cfo=3000.0 / fs, rng=rng)
        n = np.arange(len(x))
        x = (x * np.exp(1j * np.pi * 2e3 / fs * n * n / fs)).astype(np.complex64)  # 2 kHz/s
        x = np.concatenate([np.zeros(1500, np.complex64), x]) + (
            0.05 * (rng.standard_normal(len(x) + 1500)
                    + 1j * rng.standard_normal(len(x) + 1500))).astype(np.complex64)
        return cls(samp_rate=fs, symbol_rate=rs, max_doppler_hz=8000.0, max_rate_hz_s=5000.0,
                   loop_bw_hz=20.0, update_s=0.005, acq_s=0.05, hold_s=0.05), x
