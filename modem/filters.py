"""Filter design: windowed-sinc low-passes, Kaiser designs and second-order loop gains.

Every FIR low-pass of the modem is designed here (the receive chains' channel filters, the
AFSK discriminator, the SSB-audio low-pass, the acquisition pre-filters, the Doppler
tracker's measurement filter), and so are the polyphase windowed-sinc tables of the
resamplers and the channel simulator's interpolator, and the gains of the second-order
(proportional-integral) tracking loops. All frequencies are in cycles per sample (0 to 0.5);
all taps are float64.

Conventions
-----------
* A low-pass of ``ntaps`` taps is ``h[m] = 2 fc sinc(2 fc (m - (ntaps - 1) / 2)) w[m]``,
  normalised to unit DC gain (``sum(h) == 1``); ``fc`` is its -6 dB frequency. Odd ``ntaps``
  give a linear-phase filter with an integer delay of ``(ntaps - 1) / 2`` samples.
* Windows (:func:`window`): ``"hamming"`` and ``"hann"`` are numpy's symmetric windows (the
  Hann window is 0 at both ends); ``"hann_open"`` is the symmetric Hann window of
  ``ntaps + 2`` points without its two zero end points (every tap counts); ``"kaiser"`` takes
  ``beta``; ``"rect"`` is no window.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["WINDOWS", "window", "lowpass", "kaiser_beta", "kaiser_ntaps", "kaiser_lowpass",
           "kaiser_sinc_table", "loop_gains"]

WINDOWS = ("hamming", "hann", "hann_open", "kaiser", "rect")


def window(name: str, ntaps: int, beta: float | None = None) -> np.ndarray:
    """A symmetric window of ``ntaps`` points (float64); names in :data:`WINDOWS`.

    ``beta`` is the Kaiser window's shape parameter (only for ``"kaiser"``).
    """
    n = int(ntaps)
    if name == "hamming":
        return np.hamming(n)
    if name == "hann":
        return np.hanning(n)
    if name == "hann_open":
        return np.hanning(n + 2)[1:-1]
    if name == "kaiser":
        if beta is None:
            raise ValueError("the Kaiser window needs beta")
        return np.kaiser(n, beta)
    if name == "rect":
        return np.ones(n)
    raise ValueError(f"unknown window {name!r}; known: {', '.join(WINDOWS)}")


def lowpass(cutoff: float, ntaps: int, window_name: str | np.ndarray = "hamming",
            beta: float | None = None) -> np.ndarray:
    """Windowed-sinc low-pass with unit DC gain.

    Parameters
    ----------
    cutoff : float
        -6 dB frequency, cycles/sample (0 < cutoff < 0.5).
    ntaps : int
        Number of taps (odd for an integer delay of ``(ntaps - 1) / 2``).
    window_name : str or ndarray
        A window name of :data:`WINDOWS`, or the window itself (``ntaps`` values).
    beta : float, optional
        Kaiser window shape (``window_name="kaiser"``).

    Returns
    -------
    ndarray of float64, shape (ntaps,)
        The taps, ``sum == 1``.
    """
    n = int(ntaps)
    w = (window(window_name, n, beta) if isinstance(window_name, str)
         else np.asarray(window_name, np.float64))
    m = np.arange(n) - (n - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * m) * w
    return h / h.sum()


def kaiser_beta(atten_db: float) -> float:
    """Kaiser window beta for a stop-band attenuation of ``atten_db`` dB (Kaiser's formula;
    0 below 21 dB)."""
    a = float(atten_db)
    if a > 50:
        return 0.1102 * (a - 8.7)
    if a >= 21:
        return 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21)
    return 0.0


def kaiser_ntaps(transition: float, atten_db: float, max_taps: int = 4095) -> int:
    """Odd number of taps a Kaiser-window design needs for a transition band of
    ``transition`` cycles/sample and ``atten_db`` dB of stop-band attenuation (at least 3, at
    most ``max_taps | 1``)."""
    a = float(atten_db)
    n = int(math.ceil((a - 8.0) / (2.285 * 2 * math.pi * max(transition, 1e-6)))) + 1
    return min(max(n, 3), max_taps) | 1


def kaiser_lowpass(cutoff: float, transition: float, atten_db: float = 60.0,
                   max_taps: int = 4095) -> np.ndarray:
    """Odd-length, unit-DC-gain Kaiser-windowed sinc low-pass.

    Parameters
    ----------
    cutoff : float
        -6 dB frequency, cycles/sample (middle of the transition band).
    transition : float
        Transition band width, cycles/sample.
    atten_db : float
        Stop-band attenuation, dB (sets beta, :func:`kaiser_beta`, and with the transition
        the length, :func:`kaiser_ntaps`).
    max_taps : int
        Longest filter designed.

    Returns
    -------
    ndarray of float64
        The taps, ``sum == 1``.
    """
    return lowpass(cutoff, kaiser_ntaps(transition, atten_db, max_taps), "kaiser",
                   kaiser_beta(atten_db))


def kaiser_sinc_table(cutoff: float, half: int, phases: int, beta: float) -> np.ndarray:
    """Kaiser-windowed sinc evaluated at fractional delays: the table of a polyphase
    interpolator or resampler.

    Row ``p`` (``p = 0 .. phases``, ``mu = p / phases``) holds ``2 half`` taps; tap ``m``
    weighs the input sample at distance ``d = m - half + 1 - mu`` from the output instant:
    ``2 cutoff sinc(2 cutoff d) w(d)`` with the Kaiser window taken at the continuous
    distance, ``w(d) = I0(beta sqrt(1 - (d / half)^2)) / I0(beta)`` (0 beyond ``half``).
    Not normalised (the resampler normalises each row; ``cutoff = 0.5`` is the ideal
    fractional-delay interpolator).

    Returns
    -------
    ndarray of float64, shape (phases + 1, 2 * half)
    """
    mu = np.arange(phases + 1, dtype=np.float64)[:, None] / phases
    m = np.arange(-half + 1, half + 1, dtype=np.float64)[None, :]
    d = m - mu
    wd = np.i0(beta * np.sqrt(np.clip(1.0 - (d / half) ** 2, 0.0, None))) / np.i0(beta)
    return 2 * cutoff * np.sinc(2 * cutoff * d) * wd


def loop_gains(bn: float, zeta: float) -> tuple[float, float]:
    """Proportional and integral gains of a second-order (PI) tracking loop.

    Parameters
    ----------
    bn : float
        Noise bandwidth per loop update (for a symbol-rate loop: in units of the symbol
        rate; for a loop updated every ``T`` seconds: ``B_Hz * T``).
    zeta : float
        Damping factor (0.707: critically damped in the usual sense).

    Returns
    -------
    (kp, ki) : float
        With the normalised bandwidth ``theta = bn / (zeta + 1 / (4 zeta))`` and
        ``d = 1 + 2 zeta theta + theta^2``: ``kp = 4 zeta theta / d``,
        ``ki = 4 theta^2 / d`` (the loop filter's proportional and integral gains for a
        detector of unit gain).
    """
    th = bn / (zeta + 0.25 / zeta)
    d = 1 + 2 * zeta * th + th * th
    return 4 * zeta * th / d, 4 * th * th / d
