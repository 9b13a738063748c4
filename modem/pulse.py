"""Pulse shapes."""

from __future__ import annotations

import numpy as np


def rrc(t: np.ndarray, alpha: float) -> np.ndarray:
    """Root-raised-cosine pulse at times ``t`` (in symbols), unit energy (integral of p^2 = 1).

    Parameters
    ----------
    t : float array
        Time in symbol periods.
    alpha : float
        Excess bandwidth (roll-off), 0 < alpha <= 1.
    """
    t = np.asarray(t, np.float64)
    a = float(alpha)
    out = np.empty_like(t)
    eps = 1e-9
    z = np.abs(t) < eps
    s = np.abs(np.abs(4 * a * t) - 1.0) < 1e-7
    r = ~(z | s)
    tr = t[r]
    out[r] = (np.sin(np.pi * tr * (1 - a)) + 4 * a * tr * np.cos(np.pi * tr * (1 + a))) / (
        np.pi * tr * (1 - (4 * a * tr) ** 2))
    out[z] = 1 - a + 4 * a / np.pi
    out[s] = a / np.sqrt(2) * ((1 + 2 / np.pi) * np.sin(np.pi / (4 * a))
                               + (1 - 2 / np.pi) * np.cos(np.pi / (4 * a)))
    return out


def rrc_table(alpha: float, span: int, res: int) -> np.ndarray:
    """RRC sampled at ``res`` points per symbol over ``[-span/2, span/2]`` (float64)."""
    n = int(span * res) + 1
    t = np.arange(n) / res - span / 2
    return rrc(t, alpha)


def polyphase_mf(alpha: float, span: int, sps: float, nfilt: int) -> tuple[np.ndarray, int]:
    """Polyphase matched-filter table for evaluation at any instant.

    Row p (0..nfilt-1) holds the taps for a fractional instant ``mu = p / nfilt``: the output
    at absolute time ``n0 + mu`` is ``sum_j x[n0 - K + 1 + j] * taps[p, j]``, j = 0..2K-1, with
    ``K = ceil(span * sps / 2)``. Normalised so that a unit-amplitude symbol of the orbitlink
    transmitter (unit-energy RRC) gives a peak of 1.

    Returns (taps float32 of shape (nfilt, 2K), K).
    """
    K = int(np.ceil(span * sps / 2))
    j = np.arange(2 * K)
    mu = np.arange(nfilt)[:, None] / nfilt
    # sample index n = n0 - K + 1 + j, instant n0 + mu: offset (t - n) = mu + K - 1 - j samples
    tau = (mu + K - 1 - j[None, :]) / sps
    h = rrc(tau, alpha) / sps
    h[np.abs(tau) > span / 2] = 0.0
    return h.astype(np.float32), K
