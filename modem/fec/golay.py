"""Extended binary Golay code (24,12,8), in the systematic form of the GOMspace AX100.

Codeword layout (a 24-bit int, sent big-endian as 3 bytes, MSB first): bits 23..12 hold the 12
parity bits, bits 11..0 the 12 data bits. In the AX100 "ASM+Golay" mode the data is the length
field (byte count in bits 7..0, flags 0x100 Viterbi, 0x200 scrambler, 0x400 Reed-Solomon).

Parity bit ``23 - i`` (i = 0 first, MSB first) is the XOR of the data bits selected by row i of
the parity matrix used by gr-satellites (``lib/golay24.c``, after R. H. Morelos-Zaragoza, *The
Art of Error Correcting Coding*, section 2.2.3)::

    0x8ED 0x1DB 0x3B5 0x769 0xED1 0xDA3 0xB47 0x68F 0xD1D 0xA3B 0x477 0xFFE

so ``golay24_encode(0x628) == 0x434628`` (the AX100 vectors).

Decoding is by syndrome table: the 12-bit syndrome ``parity ^ P(data)`` of the 2325 error
patterns of weight <= 3 are all distinct (minimum distance 8), so every pattern of up to 3 bit
errors is corrected, and every pattern of 4 errors is detected (its syndrome matches no pattern
of weight <= 3) and reported as a failure. Five or more errors may be miscorrected.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from orbitlink.modem.fec.crc import FecInputError

__all__ = ["GOLAY24_ROWS", "golay24_encode", "golay24_decode", "golay24_encode_array",
           "golay24_decode_array"]

#: parity matrix rows (row i gives parity bit 23 - i), as in gr-satellites lib/golay24.c
GOLAY24_ROWS = (0x8ED, 0x1DB, 0x3B5, 0x769, 0xED1, 0xDA3, 0xB47, 0x68F, 0xD1D, 0xA3B, 0x477,
                0xFFE)


def _parity_table() -> np.ndarray:
    d = np.arange(4096, dtype=np.uint32)
    p = np.zeros(4096, np.uint32)
    for i, row in enumerate(GOLAY24_ROWS):
        v = d & row
        for sh in (8, 4, 2, 1):  # fold to the XOR of all bits
            v ^= v >> sh
        p |= (v & 1) << (11 - i)
    return p


_PARITY = _parity_table()  # data12 -> parity12


def _syndrome(words: np.ndarray) -> np.ndarray:
    return (words >> 12) ^ _PARITY[words & 0xFFF]


def _syndrome_tables():
    pats, wts = [], []
    for w in range(4):
        for pos in combinations(range(24), w):
            pats.append(sum(1 << p for p in pos))
            wts.append(w)
    pats = np.array(pats, np.uint32)
    s = _syndrome(pats)
    if len(np.unique(s)) != len(s):  # pragma: no cover - a wrong matrix
        raise RuntimeError("Golay parity matrix does not give distinct syndromes")
    err = np.zeros(4096, np.uint32)
    wt = np.full(4096, -1, np.int8)
    err[s] = pats
    wt[s] = wts
    return err, wt


_SYN_ERR, _SYN_WEIGHT = _syndrome_tables()
for _t in (_PARITY, _SYN_ERR, _SYN_WEIGHT):
    _t.flags.writeable = False


def _check_int(v, bits: int, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{what} needs an int, not {type(v).__name__}")
    if not 0 <= v < (1 << bits):
        raise FecInputError(f"{what} needs a {bits}-bit value 0..0x{(1 << bits) - 1:X}, "
                            f"got {v!r}")
    return int(v)


def _check_array(a, bits: int, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{what} needs an integer array, not dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() >= (1 << bits)):
        raise FecInputError(f"{what} needs {bits}-bit values 0..0x{(1 << bits) - 1:X}, "
                            f"got values {a.min()}..{a.max()}")
    return a.astype(np.uint32)


def golay24_encode(data12: int) -> int:
    """Encode 12 data bits into a 24-bit Golay codeword.

    Parameters
    ----------
    data12 : int
        0..0xFFF (for the AX100: the frame length field).

    Returns
    -------
    int
        ``parity12 << 12 | data12``; send as ``word.to_bytes(3, "big")``.
    """
    d = _check_int(data12, 12, "golay24_encode")
    return (int(_PARITY[d]) << 12) | d


def golay24_decode(word24: int) -> tuple[int, int]:
    """Decode a 24-bit Golay codeword, correcting up to 3 bit errors.

    Parameters
    ----------
    word24 : int
        Received word 0..0xFFFFFF (parity in bits 23..12, data in bits 11..0; for bytes
        ``int.from_bytes(b, "big")``).

    Returns
    -------
    data12 : int
        The corrected data bits; on failure, the received data bits unchanged.
    n_errors : int
        Number of bit errors corrected (0..3, parity bits included), or -1 when the word is
        uncorrectable (more than 3 errors detected; every 4-error pattern is detected).
    """
    w = _check_int(word24, 24, "golay24_decode")
    s = (w >> 12) ^ int(_PARITY[w & 0xFFF])
    n = int(_SYN_WEIGHT[s])
    if n < 0:
        return w & 0xFFF, -1
    return (w ^ int(_SYN_ERR[s])) & 0xFFF, n


def golay24_encode_array(data12) -> np.ndarray:
    """Vectorised :func:`golay24_encode`: integer array of 12-bit values -> uint32 codewords."""
    d = _check_array(data12, 12, "golay24_encode_array")
    return (_PARITY[d] << 12) | d


def golay24_decode_array(words24) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`golay24_decode`.

    Parameters
    ----------
    words24 : array of int
        Received 24-bit words, any shape.

    Returns
    -------
    data12 : uint16 array
        Corrected data (the received data bits where uncorrectable).
    n_errors : int8 array
        Bit errors corrected (0..3), -1 where uncorrectable.
    """
    w = _check_array(words24, 24, "golay24_decode_array")
    s = _syndrome(w)
    n = _SYN_WEIGHT[s]
    fixed = np.where(n >= 0, w ^ _SYN_ERR[s], w)
    return (fixed & 0xFFF).astype(np.uint16), n.copy()
