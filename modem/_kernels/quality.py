"""numba kernel of the FSK eye log (:mod:`orbitlink.modem.quality`).

Pure function: inputs and a preallocated output in, the number of items written out. Times are
absolute sample indices, so the result does not depend on the chunking.
"""

import math

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
