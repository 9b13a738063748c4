"""numba kernel of the FSK automatic frequency control (:mod:`orbitlink.modem.afc`).

Pure function: input, parameters, a state array (updated in place) and preallocated outputs in;
the number of items written out. Blocks lie on the absolute sample grid and every sum runs in
sample order, so the results do not depend on how the stream is split into chunks.
"""

import math

import numpy as np
from numba import njit

AF_RRE = 0  # running lag-1 correlation (real, imaginary)
AF_RIM = 1
AF_PRE = 2  # the previous input sample (real, imaginary)
AF_PIM = 3
AF_HAVE = 4  # 1 once a sample has been seen
AF_CNT = 5  # samples of the current block seen
AF_ARE = 6  # the current block's lag-1 sum (real, imaginary)
AF_AIM = 7
AF_FREQ = 8  # frequency removed in the current block (cycles/sample)
AF_PH = 9  # NCO phase (cycles, mod 1) at the start of the current block
AF_NSTATE = 10


@njit(cache=True, nogil=True)
def afc(x, st, nb, decay, fmax, out, freqs):
    """Derotate x by the running estimate (each block by the estimate of the blocks before
    it); at each block's end fold its lag-1 sum into the running one (``r = decay r + sum``)
    and set the next block's frequency, ``angle(r) / 2 pi`` limited to ``+-fmax`` (cycles per
    sample). Writes the derotated samples to ``out`` and each finished block's new frequency
    to ``freqs``; returns the number of blocks finished."""
    nfin = 0
    cnt = int(st[AF_CNT])
    w = st[AF_FREQ]
    ph0 = st[AF_PH]
    rot = np.exp(-2j * math.pi * (ph0 + w * cnt))
    step = np.exp(-2j * math.pi * w)
    acc = complex(st[AF_ARE], st[AF_AIM])
    prev = complex(st[AF_PRE], st[AF_PIM])
    have = st[AF_HAVE] > 0
    for i in range(len(x)):
        v = complex(x[i].real, x[i].imag)
        if have:
            acc += v * prev.conjugate()
        prev = v
        have = True
        out[i] = v * rot
        rot *= step
        cnt += 1
        if cnt == nb:
            ph0 = (ph0 + w * nb) % 1.0
            r = complex(decay * st[AF_RRE] + acc.real, decay * st[AF_RIM] + acc.imag)
            st[AF_RRE] = r.real
            st[AF_RIM] = r.imag
            if r.real != 0.0 or r.imag != 0.0:
                w = math.atan2(r.imag, r.real) / (2 * math.pi)
                w = min(fmax, max(-fmax, w))
            freqs[nfin] = w
            nfin += 1
            acc = 0j
            cnt = 0
            rot = np.exp(-2j * math.pi * ph0)
            step = np.exp(-2j * math.pi * w)
    st[AF_CNT] = cnt
    st[AF_FREQ] = w
    st[AF_PH] = ph0
    st[AF_ARE] = acc.real
    st[AF_AIM] = acc.imag
    st[AF_PRE] = prev.real
    st[AF_PIM] = prev.imag
    st[AF_HAVE] = 1.0 if have else 0.0
    return nfin
