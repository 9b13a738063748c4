"""numba kernels of the Doppler blocks (:mod:`orbitlink.modem.doppler`).

Pure functions: inputs, parameters, state arrays (updated in place) and preallocated outputs in;
the number of items written out. No jitclass, one signature per kernel, ``cache=True``.
Everything that depends on time is computed from the absolute sample index, so the results do
not depend on how the stream is split into chunks.
"""

import math

import numpy as np
from numba import njit

# ------------------------------------------------------------------------------------------------
# Predicted-Doppler NCO: a frequency curve sampled on a fixed absolute time grid, interpolated
# by Catmull-Rom cubics, integrated in closed form (phase continuous, float64).

GP_J = 0  # grid interval index (relative to the first grid point) of the phase origin
GP_C = 1  # phase in cycles (mod 1) at the start of interval GP_J
GP_NSTATE = 2


@njit(cache=True, nogil=True)
def _cr_integral(f0, f1, f2, f3, u):
    """Integral from 0 to u (in interval units) of the Catmull-Rom cubic through f0..f3
    (interval between f1 and f2)."""
    a = 0.5 * (f2 - f0)
    b = f0 - 2.5 * f1 + 2.0 * f2 - 0.5 * f3
    c = -0.5 * f0 + 1.5 * f1 - 1.5 * f2 + 0.5 * f3
    return u * (f1 + u * (0.5 * a + u * (b / 3.0 + u * (0.25 * c))))


@njit(cache=True, nogil=True)
def _cr_value(f0, f1, f2, f3, u):
    a = 0.5 * (f2 - f0)
    b = f0 - 2.5 * f1 + 2.0 * f2 - 0.5 * f3
    c = -0.5 * f0 + 1.5 * f1 - 1.5 * f2 + 0.5 * f3
    return f1 + u * (a + u * (b + u * c))


@njit(cache=True, nogil=True)
def grid_phase(n0, s0, dt, grid_s, vals, j_base, state, out_ph, out_f):
    """Phase (cycles, in [0, 1)) and frequency of a grid-sampled frequency curve.

    Parameters
    ----------
    n0 : int64
        Absolute index of the first sample.
    s0 : float64
        Time of sample 0 in seconds after grid point 0.
    dt : float64
        Seconds per sample (``(1 + clock_offset) / samp_rate``).
    grid_s : float64
        Grid spacing in seconds.
    vals : float64[:]
        Frequency (Hz) at grid points ``j_base .. j_base + len(vals) - 1``; must cover
        ``state[GP_J] - 1`` to ``j_last + 2`` (j_last: the interval of the last sample).
    state : float64[GP_NSTATE]
        Interval index and phase at its start; updated in place.
    out_ph, out_f : float64[:]
        Phase (cycles mod 1) and frequency in Hz *per second of the time base* for samples
        ``n0 .. n0 + len(out_ph) - 1``.

    Returns
    -------
    int
        Number of samples written.
    """
    jc = np.int64(state[GP_J])
    cc = state[GP_C]
    n = out_ph.shape[0]
    for i in range(n):
        q = (s0 + float(n0 + i) * dt) / grid_s
        j = np.int64(math.floor(q))
        u = q - float(j)
        while jc < j:
            k = jc - j_base
            cc += grid_s * _cr_integral(vals[k - 1], vals[k], vals[k + 1], vals[k + 2], 1.0)
            cc -= math.floor(cc)
            jc += 1
        k = j - j_base
        f0 = vals[k - 1]
        f1 = vals[k]
        f2 = vals[k + 1]
        f3 = vals[k + 2]
        ph = cc + grid_s * _cr_integral(f0, f1, f2, f3, u)
        out_ph[i] = ph - math.floor(ph)
        out_f[i] = _cr_value(f0, f1, f2, f3, u)
    state[GP_J] = float(jc)
    state[GP_C] = cc
    return n


@njit(cache=True, nogil=True)
def rotate(x, ph, sign, out):
    """``out[i] = x[i] * exp(sign * j 2 pi ph[i])`` (ph in cycles, float64 arithmetic)."""
    two_pi = 2.0 * math.pi
    for i in range(x.shape[0]):
        a = two_pi * ph[i]
        c = math.cos(a)
        s = sign * math.sin(a)
        xr = x[i].real
        xi = x[i].imag
        out[i] = complex(xr * c - xi * s, xr * s + xi * c)
    return x.shape[0]


# ------------------------------------------------------------------------------------------------
# Blind Doppler tracker: NCO following a frequency ramp, and a decimating FIR low-pass of the
# derotated signal for the tracker's frequency measurements.

NF_PH = 0  # NCO phase (cycles)
NF_HI = 1  # ring-buffer write index
NF_PTOT = 2  # running sum of |x|^2 (the caller resets it)
NF_NSTATE = 3


@njit(cache=True, nogil=True)
def nco_fir(x, n0, state, f, r, nb, fs, hist, taps, dec, out, out_f, z):
    """Derotate by a phase-continuous NCO ramp and low-pass/decimate the result.

    Sample n (absolute, ``n0 + i``) is multiplied by ``exp(-j 2 pi ph)``, then the phase
    advances by ``f_n / fs`` with ``f_n = f + r (n - nb) / fs`` (Hz; ``out_f`` receives it).
    The derotated samples enter the FIR ring buffer ``hist``; whenever ``(n + 1) mod dec ==
    0`` (absolute grid) the filter output (``taps``) is appended to ``z``.

    Returns
    -------
    int
        Number of filter outputs written to ``z``.
    """
    ntap = taps.shape[0]
    two_pi = 2.0 * math.pi
    ph = state[NF_PH]
    hi = int(state[NF_HI])
    ptot = state[NF_PTOT]
    nz = 0
    for i in range(x.shape[0]):
        n = n0 + i
        fn = f + r * float(n - nb) / fs
        a = two_pi * ph
        c = math.cos(a)
        s = -math.sin(a)
        xr = float(x[i].real)
        xi = float(x[i].imag)
        yr = xr * c - xi * s
        yi = xr * s + xi * c
        out[i] = complex(yr, yi)
        out_f[i] = fn
        ph += fn / fs
        ph -= math.floor(ph)
        ptot += xr * xr + xi * xi
        hist[hi] = complex(yr, yi)
        hi += 1
        if hi == ntap:
            hi = 0
        if (n + 1) % dec == 0:
            zr = 0.0
            zi = 0.0
            k = hi
            for t in range(ntap):
                v = hist[k]
                zr += taps[t] * v.real
                zi += taps[t] * v.imag
                k += 1
                if k == ntap:
                    k = 0
            z[nz] = complex(zr, zi)
            nz += 1
    state[NF_PH] = ph
    state[NF_HI] = float(hi)
    state[NF_PTOT] = ptot
    return nz
