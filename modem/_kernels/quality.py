"""numba kernel of the FSK eye log (:mod:`orbitlink.modem.quality`).

Pure function: inputs and a preallocated output in, the number of items written out. Times are
absolute sample indices, so the result does not depend on the chunking.
"""

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def eye(y, base, t, w, out):
    """``out[k]`` = mean of ``y`` over the ``w`` samples from ``floor(t[k] - w/2 + 0.5)`` (absolute
    indices; ``y[0]`` is sample ``base``), for the leading instants whose window has arrived.
    Returns (how many, the first sample of the last one's window)."""
    end = base + y.shape[0]
    n = 0
    lo = 0
    for k in range(t.shape[0]):
        lo = int(math.floor(t[k] - 0.5 * w + 0.5))
        if lo + w > end:
            break
        acc = 0.0
        for i in range(max(lo, base) - base, lo + w - base):
            acc += y[i]
        out[k] = acc / w
        n += 1
    if n:
        lo = int(math.floor(t[n - 1] - 0.5 * w + 0.5))
    return n, lo



@njit(cache=True, nogil=True)
def _percentile(s, q):
    """Linear-interpolated percentile ``q`` (0..1) of the sorted ``s`` (numpy's default)."""
    x = q * (s.shape[0] - 1)
    k = int(x)
    if k + 1 >= s.shape[0]:
        return s[s.shape[0] - 1]
    return s[k] + (s[k + 1] - s[k]) * (x - k)


@njit(cache=True, nogil=True)
def eye_levels(r, out):
    """The two levels of an eye, ``r`` the symbol values of one frame: the threshold starts
    half-way between the 10th and 90th percentiles (between the rails whatever the bit
    balance), then three times: split, take the means of the two sides, move the threshold
    half-way between them. Writes ``out`` = (upper mean, lower mean, pooled variance of the
    last split about its means); False when a side has fewer than two symbols."""
    n = r.shape[0]
    s = np.sort(r)
    thr = 0.5 * (_percentile(s, 0.1) + _percentile(s, 0.9))
    mu = 0.0
    ml = 0.0
    split = thr
    for _ in range(3):
        split = thr
        su = 0.0
        sl = 0.0
        nu = 0
        nl = 0
        for i in range(n):
            if r[i] > split:
                su += r[i]
                nu += 1
            else:
                sl += r[i]
                nl += 1
        if nu < 2 or nl < 2:
            return False
        mu = su / nu
        ml = sl / nl
        thr = 0.5 * (mu + ml)
    var = 0.0
    for i in range(n):
        d = r[i] - (mu if r[i] > split else ml)
        var += d * d
    out[0] = mu
    out[1] = ml
    out[2] = var / (n - 2)
    return True
