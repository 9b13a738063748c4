"""numba kernels on unpacked bit streams (one bit per uint8).

Pure functions: inputs, parameters, state arrays (updated in place) and preallocated outputs in;
the number of items written out. No jitclass, one signature per kernel, ``cache=True``.
"""

from numba import njit


@njit(cache=True, nogil=True)
def mult_scramble(x, taps, state, out):
    """Multiplicative (self-synchronising) scrambler: ``out[n] = x[n] ^ XOR_t out[n - t]``.

    Parameters
    ----------
    x : uint8[:]
        Input bits (only bit 0 of each item is used).
    taps : int64[:]
        Feedback delays t >= 1 (G3RUH: 12 and 17), each at most 62.
    state : int64[1]
        Shift register of past outputs, bit k = ``out[n - 1 - k]``; updated in place.
    out : uint8[:]
        Output bits, same length as ``x``.
    """
    s = state[0]
    width = 0
    for t in taps:
        if t > width:
            width = t
    mask = (1 << width) - 1
    for i in range(x.shape[0]):
        b = x[i] & 1
        for t in taps:
            b ^= (s >> (t - 1)) & 1
        out[i] = b
        s = ((s << 1) | b) & mask
    state[0] = s
    return x.shape[0]


@njit(cache=True, nogil=True)
def phase_accumulate(x, k, state, out):
    """Phase of an FM modulator: ``phase += k * x[n]``, wrapped to (-pi, pi], sample by sample
    (so that the result does not depend on how the input is chunked). ``state[0]`` holds the
    phase before ``x[0]`` and is updated; ``out[n]`` is the phase after ``x[n]``."""
    two_pi = 6.283185307179586
    ph = state[0]
    for i in range(x.shape[0]):
        ph += k * x[i]
        if ph > 3.141592653589793:
            ph -= two_pi * ((ph + 3.141592653589793) // two_pi)
        elif ph <= -3.141592653589793:
            ph += two_pi * ((3.141592653589793 - ph) // two_pi)
        out[i] = ph
    state[0] = ph
    return x.shape[0]


@njit(cache=True, nogil=True)
def crc16_msb_rows(data, init, table, out):
    """CRC-16, MSB first (table of :func:`orbitlink.modem.fec.crc._table16`), of every row of
    ``data`` (uint8[:, :]); ``out[i]`` (int64) receives row i's register, no final XOR."""
    for i in range(data.shape[0]):
        c = init
        for j in range(data.shape[1]):
            c = ((c << 8) & 0xFFFF) ^ table[((c >> 8) ^ data[i, j]) & 0xFF]
        out[i] = c
    return data.shape[0]
