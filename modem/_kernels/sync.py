"""numba kernels for frame synchronisation on bits."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _popcount64(x):
    x = x - ((x >> 1) & 0x5555555555555555)
    x = (x & 0x3333333333333333) + ((x >> 2) & 0x3333333333333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0F
    return (x * 0x0101010101010101) >> 56


@njit(cache=True, nogil=True)
def asm_search(bits, start, stop, pattern, nbits, max_errors, result):
    """First position p in [start, stop) where bits[p:p+nbits] match ``pattern`` (MSB first)
    or its complement with at most ``max_errors`` bit errors.

    ``bits`` are hard bits (u8 0/1). ``result`` receives [p, inverted (0/1), errors];
    returns 1 if found, else 0.
    """
    mask = np.uint64(0xFFFFFFFFFFFFFFFF) if nbits == 64 else np.uint64((1 << nbits) - 1)
    pat = np.uint64(pattern) & mask
    reg = np.uint64(0)
    lo = start
    if lo < 0:
        lo = 0
    for i in range(lo, stop + nbits - 1):
        reg = ((reg << np.uint64(1)) | np.uint64(bits[i] & 1)) & mask
        p = i - nbits + 1
        if p < start:
            continue
        e = int(_popcount64(reg ^ pat))
        if e <= max_errors:
            result[0] = p
            result[1] = 0
            result[2] = e
            return 1
        if nbits - e <= max_errors:
            result[0] = p
            result[1] = 1
            result[2] = nbits - e
            return 1
    return 0
