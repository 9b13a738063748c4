"""Channel simulator: timing/sample-rate offset, frequency offset, phase noise, loss and AWGN.

The :class:`Channel` block (registry name ``"channel"``) impairs a complex64 IQ stream the way a
satellite downlink and a receiver front end do, in this order:

1. **resampling** (``timing_offset``, ``sro_ppm``): output sample k is the input signal
   evaluated at input time ``t_k = k * (1 + sro_ppm * 1e-6) + timing_offset`` (in input
   samples), with a Kaiser-windowed sinc interpolator (16 taps per side, beta 10, 1024 phases
   linearly interpolated; error below -90 dB for a signal whose spectrum lies in
   ``|f| < 0.4 fs``). Inputs before the start of the stream count as zero. The last outputs are
   those with ``t_k`` within the input, so the output holds about ``N / (1 + sro_ppm * 1e-6)``
   samples.
2. **frequency** (``cfo_hz``, ``freq_ramp_hz_per_s``, ``freq_profile``): multiplication by
   ``exp(j 2 pi phi(t))`` with ``phi(t) = integral_0^t f(s) ds``,
   ``f(t) = cfo_hz + freq_ramp_hz_per_s * t + profile(t)`` and ``t = k / samp_rate`` the absolute
   time of output sample k (phase continuous, computed in float64 from k, no drift).
   **Doppler of a pass** (``Channel(params, doppler=predictor)``, ``doppler_t0``): a further
   ``exp(j 2 pi integral predictor(t) dt)`` with ``t = doppler_t0 + k / samp_rate`` in unix
   seconds; the predictor (``t_unix -> Hz``, e.g.
   :class:`orbitlink.modem.orbit.DopplerPredictor`) is evaluated on the absolute grid of
   :class:`orbitlink.modem.doppler.GridPhase` (every ``doppler_grid_s``, cubic interpolation,
   phase continuous in float64). See also :func:`simulate_pass`.
3. **phase noise** (``phase_noise_hz``): a Wiener process, ``theta_k = theta_{k-1} + w_k`` with
   ``w_k ~ N(0, 2 pi phase_noise_hz / samp_rate)`` (Lorentzian spectrum of 3 dB full width
   ``phase_noise_hz``; the variance of ``theta_k - theta_0`` grows as ``2 pi linewidth t``).
4. **attenuation** (``attenuation_db``): amplitude gain ``10 ** (-attenuation_db / 20)``.
5. **AWGN** (``esn0_db`` or ``ebn0_db``): circular complex Gaussian noise of total variance
   ``N0 = signal_power * sps / 10 ** (esn0_db / 10)`` per sample (``Es = signal_power * sps``).
   The noise floor is set from the *declared* ``signal_power`` (never measured, so the chunk
   contract holds) and does not move with ``attenuation_db``: attenuation is a path loss in front
   of a fixed receiver noise floor, and the Es/N0 at the output is
   ``esn0_db - attenuation_db``.

Sign conventions
----------------
* ``timing_offset = tau`` (0..1 input samples): the receiver samples ``tau`` late relative to
  the input grid, ``y[k] = x(k + tau)``. Seen on the output grid the waveform therefore appears
  *earlier* by ``tau`` samples (a feature at input time T shows up at output index ``T - tau``).
* ``sro_ppm = p > 0``: the receiver's sample clock is slow by p ppm (its sample period is
  ``1 + p * 1e-6`` input periods), so the output is time-compressed: a tone at f Hz in the input
  appears at ``f * (1 + p * 1e-6)`` Hz when the output is read at the nominal ``samp_rate``, a
  symbol rate R appears as ``R * (1 + p * 1e-6)``, and there are fewer output samples than input
  samples.
* ``cfo_hz > 0`` moves the spectrum up (multiplication by ``exp(+j 2 pi f t)``).

Random numbers come from two ``numpy.random.Generator`` objects (PCG64) seeded from
``SeedSequence(seed).spawn(2)``: one for phase noise (1 normal per output sample) and one for
AWGN (2 normals per output sample, real then imaginary). They are drawn sequentially per output
sample, so the output does not depend on how the input is split into chunks.
"""

from __future__ import annotations

import copy as _copy
import math
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink.modem._kernels import channel_kernels as _k
from orbitlink.modem.block import Block, ParamError, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.filters import kaiser_sinc_table

__all__ = ["Channel", "ChannelParams", "ProfileError", "load_freq_profile", "simulate",
           "simulate_pass", "interpolation_table"]

#: interpolator: taps per side, Kaiser beta, number of tabulated phases
INTERP_HALF = 16
INTERP_BETA = 10.0
INTERP_PHASES = 1024

_DB_LO, _DB_HI = -50.0, 150.0


class ProfileError(OrbitlinkError, ValueError):
    """A frequency-profile CSV file is missing or malformed."""


# --------------------------------------------------------------------------------------------
# Parameters


@dataclass(frozen=True)
class ChannelParams:
    """Parameters of :class:`Channel` (see the module docstring for the model)."""

    samp_rate: float = param(1.0e6, "sample rate of the stream (input and output)", unit="Hz",
                             lo=0.0, lo_open=True, hi=1.0e12)
    sps: float = param(1.0, "samples per symbol; defines Es = signal_power * sps",
                       unit="samples", lo=0.0, lo_open=True, hi=1.0e6)
    bits_per_symbol: int = param(1, "bits per symbol, used to convert Eb/N0 to Es/N0",
                                 unit="bit", lo=1, hi=16)
    code_rate: float = param(1.0, "code rate, so that Eb/N0 refers to information bits",
                             lo=0.0, lo_open=True, hi=1.0)
    esn0_db: float | None = param(None, "Es/N0 at 0 dB attenuation; None: no noise (range "
                                  "-50..150; set at most one of esn0_db and ebn0_db)", unit="dB")
    ebn0_db: float | None = param(None, "Eb/N0 of information bits: Es/N0 - 10 log10("
                                  "bits_per_symbol * code_rate); None: use esn0_db (range "
                                  "-50..150)", unit="dB")
    signal_power: float = param(1.0, "declared mean power of the input (sets the noise level; "
                                "never measured)", unit="linear", lo=0.0, lo_open=True,
                                hi=1.0e12)
    cfo_hz: float = param(0.0, "constant carrier frequency offset", unit="Hz",
                          lo=-1.0e9, hi=1.0e9)
    freq_ramp_hz_per_s: float = param(0.0, "linear frequency ramp (Doppler rate)", unit="Hz/s",
                                      lo=-1.0e9, hi=1.0e9)
    freq_profile: str = param("", "CSV file of 'time_s,freq_hz' lines (optional header, "
                              "# comments): frequency offset linearly interpolated over time, "
                              "held at the ends, added to cfo and ramp; empty: none")
    phase_noise_hz: float = param(0.0, "3 dB linewidth of Wiener phase noise", unit="Hz",
                                  lo=0.0, hi=1.0e9)
    timing_offset: float = param(0.0, "sampling instant offset: output k is taken at input "
                                 "time k * (1 + sro_ppm * 1e-6) + timing_offset",
                                 unit="samples", lo=0.0, hi=1.0)
    sro_ppm: float = param(0.0, "sample-rate offset; positive: the receiver clock is slow and "
                           "a tone at f comes out at f * (1 + ppm * 1e-6)", unit="ppm",
                           lo=-1.0e4, hi=1.0e4)
    attenuation_db: float = param(0.0, "path loss applied before the noise (negative: gain)",
                                  unit="dB", lo=-100.0, hi=300.0)
    seed: int = param(0, "seed of the phase-noise and AWGN generators", lo=0, hi=2**63 - 1)
    doppler_t0: float = param(0.0, "unix time (UTC) of output sample 0 for the Doppler "
                              "predictor (Channel(..., doppler=predictor))", unit="s",
                              lo=-1.0e11, hi=1.0e11)
    doppler_grid_s: float = param(0.05, "spacing of the absolute time grid the Doppler "
                                  "predictor is evaluated on (cubic interpolation between)",
                                  unit="s", lo=1e-4, hi=60.0)

    def __post_init__(self):
        # The generic validator cannot range-check optional fields; do it here.
        for name in ("esn0_db", "ebn0_db"):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
                raise ParamError(f"channel: parameter '{name}' must be a number or None, "
                                 f"got {v!r}")
            v = float(v)
            if not (_DB_LO <= v <= _DB_HI):
                raise ParamError(f"channel: parameter '{name}' = {v!r} must be between "
                                 f"{_DB_LO:g} and {_DB_HI:g} dB")
            object.__setattr__(self, name, v)
        if self.esn0_db is not None and self.ebn0_db is not None:
            raise ParamError("channel: set at most one of 'esn0_db' and 'ebn0_db'")

    @property
    def effective_esn0_db(self) -> float | None:
        """Es/N0 in dB defining the noise floor (from esn0_db or ebn0_db), or None."""
        if self.esn0_db is not None:
            return self.esn0_db
        if self.ebn0_db is not None:
            return self.ebn0_db + 10.0 * math.log10(self.bits_per_symbol * self.code_rate)
        return None

    @property
    def noise_variance(self) -> float:
        """Total complex noise variance N0 per sample (0.0 without noise)."""
        esn0 = self.effective_esn0_db
        if esn0 is None:
            return 0.0
        return self.signal_power * self.sps / 10.0 ** (esn0 / 10.0)


# --------------------------------------------------------------------------------------------
# Frequency profile


def load_freq_profile(path) -> tuple[np.ndarray, np.ndarray]:
    """Read a frequency-profile CSV file.

    Parameters
    ----------
    path : str or os.PathLike
        Text file with one ``time_s,freq_hz`` pair per line. Blank lines and ``#`` comments
        (whole-line or trailing) are ignored, and so is one header line before the first data
        line (any line whose fields are not numbers, e.g. ``time_s,freq_hz``). Times must be
        strictly increasing; at least one data line is required.

    Returns
    -------
    times : ndarray of float64, shape (n,)
        Breakpoint times in seconds from the start of the stream.
    freqs : ndarray of float64, shape (n,)
        Frequency offsets in Hz.

    Raises
    ------
    ProfileError
        The file is missing or unreadable, or a line is malformed (the message names the file
        and line).
    """
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        raise ProfileError(f"{name}: frequency profile file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{name}: cannot read the frequency profile ({exc})") from None
    times, freqs = [], []
    header_seen = False
    for lineno, raw in enumerate(lines, 1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        fields = [f.strip() for f in text.split(",")]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            values = None
        if values is None:
            if not times and not header_seen:
                header_seen = True
                continue
            raise ProfileError(f"{name} line {lineno}: expected 'time_s,freq_hz' numbers, "
                               f"got {raw.strip()!r}")
        if len(values) != 2:
            raise ProfileError(f"{name} line {lineno}: expected 2 fields 'time_s,freq_hz', "
                               f"got {len(values)} in {raw.strip()!r}")
        t, f = values
        if not (math.isfinite(t) and math.isfinite(f)):
            raise ProfileError(f"{name} line {lineno}: time and frequency must be finite, "
                               f"got {raw.strip()!r}")
        if times and t <= times[-1]:
            raise ProfileError(f"{name} line {lineno}: time {t:g} s is not after the previous "
                               f"time {times[-1]:g} s (times must increase strictly)")
        times.append(t)
        freqs.append(f)
    if not times:
        raise ProfileError(f"{name}: the frequency profile has no 'time_s,freq_hz' data lines")
    return np.array(times, np.float64), np.array(freqs, np.float64)


def _profile_tables(times, freqs):
    """Cumulative integral (cycles) at each breakpoint and the integral at t = 0."""
    c = np.zeros(len(times))
    if len(times) > 1:
        dt = np.diff(times)
        c[1:] = np.cumsum(dt * 0.5 * (freqs[:-1] + freqs[1:]))
    g0 = float(_k._profile_integral(0.0, times, freqs, c))
    return c, g0


# --------------------------------------------------------------------------------------------
# Interpolator


@lru_cache(maxsize=4)
def interpolation_table(half: int = INTERP_HALF, beta: float = INTERP_BETA,
                        phases: int = INTERP_PHASES) -> np.ndarray:
    """Kaiser-windowed sinc taps for fractional delays ``mu = p / phases``, p = 0..phases.

    Returns
    -------
    ndarray of float64, shape (phases + 1, 2 * half)
        Row p, tap m weights input ``n - half + 1 + m`` to estimate ``x(n + mu)``. Row 0 is an
        exact unit impulse (mu = 0 reproduces the input exactly). Read-only.
    """
    h = kaiser_sinc_table(0.5, half, phases, beta)  # cutoff 0.5: 2 fc sinc(2 fc u) = sinc(u)
    h[0] = 0.0
    h[0, half - 1] = 1.0
    h.setflags(write=False)
    return h


# --------------------------------------------------------------------------------------------
# Block


@register
class Channel(Block):
    """Channel simulator block: complex64 IQ in, impaired complex64 IQ out (general rate).

    See the module docstring for the model, the order of the impairments and the sign
    conventions. With every impairment off the block is the identity, sample for sample.
    With ``timing_offset`` or ``sro_ppm`` set, ``process`` holds back the last 16 input samples
    (interpolator look-ahead) until more input or ``flush`` arrives.

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        IQ samples at ``samp_rate``.

    Output
    ------
    c64 : ndarray of complex64, shape (n,)
        The impaired IQ at ``samp_rate``: one per input without a timing impairment; with
        ``sro_ppm`` or ``timing_offset`` the resampled stream (the last 16 inputs are held
        until more input or ``flush``).

    Parameters
    ----------
    params : ChannelParams, optional
        Parameters; or give them as keyword arguments.

    Raises
    ------
    ProfileError
        ``freq_profile`` names a missing or malformed file.
    ParamError
        A parameter is out of range.

    Examples
    --------
    >>> ch = Channel(samp_rate=1e6, sps=4, bits_per_symbol=2, ebn0_db=6.0, cfo_hz=1500.0,
    ...              sro_ppm=50.0, seed=1)
    >>> y = ch.run(x)                                                    # doctest: +SKIP
    """

    name = "channel"
    Params = ChannelParams
    rate = Rate.GENERAL
    in_type = "c64"
    out_type = "c64"

    def __init__(self, params=None, doppler=None, **kw):
        if doppler is not None and not callable(doppler):
            raise ParamError("channel: doppler must be a callable t_unix -> Hz")
        self._profile = None
        self.doppler = doppler
        super().__init__(params, **kw)

    def copy(self):
        return _copy.deepcopy(self, {id(self.doppler): self.doppler})

    # ----------------------------------------------------------------------------------------
    def _reset(self) -> None:
        p = self.params
        if self._profile is None:
            if p.freq_profile:
                t, f = load_freq_profile(p.freq_profile)
                c, g0 = _profile_tables(t, f)
            else:
                t = f = c = np.zeros(0)
                g0 = 0.0
            self._profile = (t, f, c, g0)
        self._eps = float(p.sro_ppm) * 1e-6
        self._tau = float(p.timing_offset)
        self._resampling = self._eps != 0.0 or self._tau != 0.0
        half = INTERP_HALF
        # inputs from absolute index .base to n_in - 1 (zeros before 0)
        self._buf = StreamBuffer(np.complex64, base=-half, fill=half)
        self._n_in = 0
        self._k = 0  # absolute index of the next output sample
        pn_ss, awgn_ss = np.random.SeedSequence(int(p.seed)).spawn(2)
        self._rng_pn = np.random.Generator(np.random.PCG64(pn_ss))
        self._rng_awgn = np.random.Generator(np.random.PCG64(awgn_ss))
        self._pn_state = np.zeros(1, np.float64)
        self._pn_std = math.sqrt(2.0 * math.pi * p.phase_noise_hz / p.samp_rate)
        self._gain = 10.0 ** (-p.attenuation_db / 20.0)
        self._noise_std = math.sqrt(p.noise_variance / 2.0)
        self._flushed = False
        self._dop = None
        if self.doppler is not None:
            from orbitlink.modem.doppler import GridPhase

            self._dop = GridPhase(self.doppler, p.doppler_t0, p.samp_rate, p.doppler_grid_s)

    @property
    def noise_variance(self) -> float:
        """Total complex noise variance N0 added per output sample (0.0 without noise)."""
        return self.params.noise_variance

    # ----------------------------------------------------------------------------------------
    def _process(self, chunk):
        if self._flushed:
            raise RuntimeError("channel: process() after flush(); call reset() first")
        if not self._resampling:
            return self._impair(chunk.astype(np.complex128))
        if len(chunk):
            self._buf.append(chunk)
            self._n_in += len(chunk)
        y = self._resample(n_last=np.iinfo(np.int64).max)
        self._trim()
        return self._impair(y)

    def _flush(self):
        if self._flushed or not self._resampling:
            self._flushed = True
            return np.zeros(0, np.complex64)
        self._flushed = True
        self._buf.extend_zeros(2 * INTERP_HALF + 2)
        y = self._resample(n_last=self._n_in - 1)
        return self._impair(y)

    # ----------------------------------------------------------------------------------------
    def _resample(self, n_last):
        table = interpolation_table()
        parts = []
        buf = self._buf.view
        n_max = self._buf.end - 1
        while True:
            cap = max(16, int((n_max + 2) / (1.0 + self._eps)) - self._k + 4)
            out = np.empty(cap, np.complex128)
            n = _k.resample(buf, np.int64(self._buf.base), np.int64(self._k), self._eps, self._tau,
                            table, np.int64(n_last), out)
            parts.append(out[:n])
            self._k += n
            if n < cap:
                break
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _trim(self):
        # keep the inputs the next output needs (n_k - K + 1 onwards), with a margin
        k = self._k
        n_next = k + math.floor(k * self._eps + self._tau)
        self._buf.keep_from(n_next - INTERP_HALF - 2)

    def _impair(self, y):
        """Frequency, phase noise, gain, noise on ``y`` (complex128, starting at self._k_imp)."""
        n = len(y)
        out = np.empty(n, np.complex64)
        if n == 0:
            return out
        p = self.params
        k0 = self._k - n if self._resampling else self._k
        pn = (self._rng_pn.standard_normal(n) * self._pn_std if self._pn_std > 0.0
              else np.zeros(0))
        noise = (self._rng_awgn.standard_normal(2 * n) if self._noise_std > 0.0
                 else np.zeros(0))
        if self._dop is not None:
            ph, _ = self._dop.phase(n)
            y = y * np.exp(2j * np.pi * ph)
        t, f, c, g0 = self._profile
        _k.impair(y, np.int64(k0), float(p.samp_rate), float(p.cfo_hz),
                  0.5 * float(p.freq_ramp_hz_per_s), t, f, c, float(g0), pn, self._pn_state,
                  float(self._gain), noise, float(self._noise_std), out)
        if not self._resampling:
            self._k += n
        return out

    # ----------------------------------------------------------------------------------------
    @classmethod
    def example(cls, rng: np.random.Generator):
        """All impairments on (noise, cfo, ramp, phase noise, timing offset, 200 ppm SRO, a fast
        Doppler sweep)."""
        from orbitlink.modem.doppler import AnalyticDoppler

        block = cls(samp_rate=250e3, sps=4.0, bits_per_symbol=2, esn0_db=12.0, cfo_hz=3100.0,
                    freq_ramp_hz_per_s=-2.0e4, phase_noise_hz=50.0, timing_offset=0.37,
                    sro_ppm=200.0, attenuation_db=3.0, seed=11, doppler_t0=1.7e9,
                    doppler_grid_s=0.001,
                    doppler=AnalyticDoppler(20e3, tca_unix=1.7e9 + 0.006, width_s=0.004))
        n = 3000
        x = ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2.0))
        return block, x.astype(np.complex64)


def simulate(x, **params) -> np.ndarray:
    """Run a whole signal through a fresh :class:`Channel`.

    Parameters
    ----------
    x : array_like of complex, shape (n,)
        Input IQ samples (converted to complex64).
    **params
        Fields of :class:`ChannelParams`.

    Returns
    -------
    ndarray of complex64, shape (m,)
        Impaired samples; ``m == n`` unless ``timing_offset`` or ``sro_ppm`` is set, then
        ``m`` is the number of output instants ``t_k`` inside ``[0, n - 1]``.
    """
    return Channel(**params).run(np.asarray(x, np.complex64))



def simulate_pass(iq, samp_rate: float, t0_unix: float, predictor, esn0_db: float | None = None,
                  **params) -> np.ndarray:
    """Run a signal through the Doppler of a pass (and optionally noise and other impairments).

    Parameters
    ----------
    iq : array_like of complex, shape (n,)
        Transmitted baseband (converted to complex64), sample k received at unix time
        ``t0_unix + k / samp_rate``.
    samp_rate : float
        Sample rate in Hz.
    t0_unix : float
        Unix time (UTC) of sample 0.
    predictor : callable
        ``predictor(t_unix ndarray) -> Hz``: the downlink Doppler (e.g.
        :class:`orbitlink.modem.orbit.DopplerPredictor`).
    esn0_db : float, optional
        Es/N0 (set ``sps`` too); None: no noise.
    **params
        Other fields of :class:`ChannelParams` (``sps``, ``ebn0_db`` with
        ``bits_per_symbol``, ``cfo_hz``, ``seed``, ...).

    Returns
    -------
    ndarray of complex64
        The received samples.
    """
    ch = Channel(samp_rate=float(samp_rate), doppler_t0=float(t0_unix), esn0_db=esn0_db,
                 doppler=predictor, **params)
    return ch.run(np.asarray(iq, np.complex64))
