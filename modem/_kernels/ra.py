"""numba kernel of the repeat-accumulate decoder (:mod:`orbitlink.modem.fec.ra`)."""

import numpy as np
from numba import njit

_BIG = np.float32(3.0e38)  # an accumulator known to be zero at the start of a pass


@njit(cache=True, nogil=True, inline="always")
def _box(a, b):
    """Min-sum LLR of the XOR of two bits (positive = 0)."""
    m = min(abs(a), abs(b))
    return -m if (a < 0) != (b < 0) else m


@njit(cache=True, nogil=True)
def ra_decode(code, perms, d, c, step, iterations):
    """Data-word beliefs (float32, shape (d, 16), positive = 0) from the code LLRs ``code``
    (float32, 16 per code word in word-bit order, positive = 0).

    ``perms`` (shape (4, d)) are the passes' data-word orders, ``c`` the check words of passes
    1..3, ``step`` the data words per check word. Per pass: a forward sweep along the
    accumulator chain keeps the message before each data word; a backward sweep combines it
    with the message from behind into the extrinsic belief of that word, which replaces the
    word's belief plus its previous value (halved after the first iteration).
    """
    nb = 16
    data = np.zeros((d, nb), np.float32)
    fwd = np.empty((d, nb), np.float32)
    acc = np.empty(nb, np.float32)
    for it in range(iterations):
        damp = np.float32(0.5) if it > 0 else np.float32(1.0)
        base = 0  # first code word of the pass
        for s in range(4):
            every = 1 if s == 0 else step
            k = base
            perm = perms[s]
            for b in range(nb):
                acc[b] = _BIG
            # forward: the accumulator chain from its known zero start
            for i in range(d):
                pos = perm[i]
                for b in range(nb):
                    fwd[i, b] = acc[b]
                    acc[b] = _box(acc[b], data[pos, b])
                if (i + 1) % every == 0:
                    for b in range(nb):
                        acc[b] += code[k * nb + b]
                    k += 1
                t = acc[0]  # the encoder rotates right before the next word
                for b in range(nb - 1):
                    acc[b] = acc[b + 1]
                acc[nb - 1] = t
            if d % every != 0:  # the last, partial group's word (still rotated here)
                for b in range(nb):
                    v = code[k * nb + (b + 1) % nb]
                    acc[b] += v + v
            # backward
            for i in range(d - 1, -1, -1):
                t = acc[nb - 1]
                for b in range(nb - 1, 0, -1):
                    acc[b] = acc[b - 1]
                acc[0] = t
                if (i + 1) % every == 0:
                    k -= 1
                    for b in range(nb):
                        acc[b] += code[k * nb + b]
                pos = perm[i]
                for b in range(nb):
                    left = _box(fwd[i, b], acc[b])
                    v = data[pos, b]
                    acc[b] = _box(acc[b], v)
                    data[pos, b] = left + v * damp
            base += d if s == 0 else c
    return data
