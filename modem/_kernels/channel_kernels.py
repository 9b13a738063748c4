"""numba kernels of the channel simulator (:mod:`orbitlink.modem.channel`).

Pure functions: inputs, parameters, state arrays (updated in place) and preallocated outputs in;
the number of items written out. No jitclass, one signature per kernel, ``cache=True``.
Everything that depends on time is computed from the absolute output sample index, so the
results do not depend on how the stream is split into chunks.
"""

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def resample(buf, base, k0, eps, tau, table, n_last, out):
    """Windowed-sinc fractional resampler: ``out[i] = x(t_k)`` for ``k = k0 + i``.

    Parameters
    ----------
    buf : complex64[:]
        Input samples with absolute indices ``base .. base + len(buf) - 1``.
    base : int64
        Absolute index of ``buf[0]``.
    k0 : int64
        Absolute index of the first output sample to compute.
    eps : float64
        Sample-rate offset (ppm * 1e-6).
    tau : float64
        Timing offset in input samples.
    table : float64[P + 1, 2K]
        Interpolation filter taps for the phases ``mu = p / P`` (row P is mu = 1); tap ``m``
        multiplies input ``n - K + 1 + m``.
    n_last : int64
        Only outputs with input time ``t_k <= n_last`` are produced.
    out : complex128[:]
        Output buffer; its length caps the number of outputs.

    Returns
    -------
    int
        Number of outputs written. The input time of output k is
        ``t_k = k + (k * eps + tau)`` = ``n + mu`` with integer ``n`` and ``0 <= mu < 1``;
        an output needs inputs ``n - K + 1 .. n + K`` and stops the loop when they are not all
        in ``buf``.
    """
    nphase = table.shape[0] - 1
    ntaps = table.shape[1]
    half = ntaps // 2
    n_max = base + buf.shape[0] - 1
    cap = out.shape[0]
    i = 0
    while i < cap:
        k = k0 + i
        frac = float(k) * eps + tau
        fl = math.floor(frac)
        mu = frac - fl
        n = k + np.int64(fl)
        if n + half > n_max:
            break
        if n > n_last or (n == n_last and mu != 0.0):
            break
        ph = mu * nphase
        ip = int(ph)
        if ip > nphase - 1:
            ip = nphase - 1
        a = ph - ip
        start = n - half + 1 - base
        acc_re = 0.0
        acc_im = 0.0
        for m in range(ntaps):
            h0 = table[ip, m]
            h = h0 + a * (table[ip + 1, m] - h0)
            v = buf[start + m]
            acc_re += v.real * h
            acc_im += v.imag * h
        out[i] = complex(acc_re, acc_im)
        i += 1
    return i


@njit(cache=True, nogil=True)
def _profile_integral(t, prof_t, prof_f, prof_c):
    """Integral of the piecewise-linear frequency profile from ``prof_t[0]`` to t (cycles)."""
    npt = prof_t.shape[0]
    if t <= prof_t[0]:
        return prof_f[0] * (t - prof_t[0])
    if t >= prof_t[npt - 1]:
        return prof_c[npt - 1] + prof_f[npt - 1] * (t - prof_t[npt - 1])
    lo = 0
    hi = npt - 1  # prof_t[lo] < t < prof_t[hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if prof_t[mid] <= t:
            lo = mid
        else:
            hi = mid
    dt = t - prof_t[lo]
    slope = (prof_f[lo + 1] - prof_f[lo]) / (prof_t[lo + 1] - prof_t[lo])
    return prof_c[lo] + dt * (prof_f[lo] + 0.5 * slope * dt)


@njit(cache=True, nogil=True)
def impair(x, k0, samp_rate, cfo, half_ramp, prof_t, prof_f, prof_c, prof_g0, pn_inc, pn_state,
           gain, noise, noise_std, out):
    """Frequency offset, phase noise, gain and additive noise, in that order.

    Parameters
    ----------
    x : complex128[:]
        Input samples; ``x[i]`` is output sample ``k = k0 + i``.
    k0 : int64
        Absolute index of ``x[0]``.
    samp_rate : float64
        Sample rate in Hz; the time of sample k is ``k / samp_rate``.
    cfo, half_ramp : float64
        Constant frequency offset (Hz) and half the frequency ramp (Hz/s / 2).
    prof_t, prof_f, prof_c : float64[:]
        Frequency profile breakpoints (s, Hz) and the integral of the profile (cycles) from
        ``prof_t[0]`` to each breakpoint. Empty arrays: no profile.
    prof_g0 : float64
        Profile integral at t = 0 (so that the phase is the integral from 0).
    pn_inc : float64[:]
        Wiener phase-noise increments (rad), one per sample, or empty for none.
    pn_state : float64[1]
        Accumulated phase noise (rad) before ``x[0]``; updated in place.
    gain : float64
        Amplitude gain.
    noise : float64[:]
        ``2 * len(x)`` standard normals (re, im interleaved), or empty for none.
    noise_std : float64
        Standard deviation of each noise component.
    out : complex64[:]
        Output, same length as x.

    Returns
    -------
    int
        ``len(x)``.
    """
    n = x.shape[0]
    use_prof = prof_t.shape[0] > 0
    use_pn = pn_inc.shape[0] > 0
    use_noise = noise.shape[0] > 0
    two_pi = 2.0 * math.pi
    for i in range(n):
        t = float(k0 + i) / samp_rate
        cyc = t * (cfo + half_ramp * t)
        if use_prof:
            cyc += _profile_integral(t, prof_t, prof_f, prof_c) - prof_g0
        cyc -= math.floor(cyc)
        ph = two_pi * cyc
        if use_pn:
            pn_state[0] += pn_inc[i]
            ph += pn_state[0]
        c = math.cos(ph)
        s = math.sin(ph)
        xr = x[i].real
        xi = x[i].imag
        yr = gain * (xr * c - xi * s)
        yi = gain * (xr * s + xi * c)
        if use_noise:
            yr += noise_std * noise[2 * i]
            yi += noise_std * noise[2 * i + 1]
        out[i] = complex(yr, yi)
    return n
