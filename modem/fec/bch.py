"""BCH(63,56) codeblocks of CCSDS telecommand (CCSDS 231.0-B, TC Synchronization and Channel
Coding, section 3: "BCH coding").

Codeblock (8 bytes, sent byte 0 first, MSB first)::

    I0 ... I55 | ~P0 ... ~P6 | F
    7 bytes      bits 7..1 of byte 7   bit 0 of byte 7 (filler, always 0)

The 56 information bits I0..I55 (I0 = MSB of byte 0, the coefficient of x^62) are encoded
systematically by the generator g(x) = x^7 + x^6 + x^2 + 1 (shift register cleared before
each codeblock): the parity bits P0..P6 are the remainder of ``I(x) * x^7`` modulo g(x), P0
the coefficient of x^6. They are sent *complemented*, followed by one filler bit 0. So an
all-zero information field gives the last byte 0xFE.

g(x) = (x + 1)(x^6 + x + 1) makes this an expurgated Hamming code with minimum distance 4.
CCSDS defines two decoding modes, both offered by :func:`bch_decode`:

* ``"sec"`` (single error correction, the default): one bit error in the 63 code bits is
  corrected; two are always detected; three or more may be miscorrected or detected.
* ``"ted"`` (triple error detection): no correction; any 1, 2 or 3 bit errors are detected.

The filler bit is not part of the code; the decoder ignores it.
"""

from __future__ import annotations

import enum

from orbitlink.modem.fec.crc import FecInputError, as_bytes

__all__ = ["BchStatus", "bch_encode", "bch_decode", "bch_parity", "BCH_GENERATOR"]

#: generator polynomial x^7 + x^6 + x^2 + 1, bit k = coefficient of x^k
BCH_GENERATOR = 0xC5


class BchStatus(enum.IntEnum):
    """Outcome of :func:`bch_decode` (compares equal to the ints 0, 1 and -1)."""

    CLEAN = 0  #: no error found
    CORRECTED = 1  #: one bit error corrected (SEC mode)
    UNCORRECTABLE = -1  #: errors detected that this mode cannot correct


def _mod_table() -> list[int]:
    """T[v] = v(x) * x^7 mod g(x) for every 8-bit polynomial v."""
    t = []
    for v in range(256):
        r = v << 7
        for k in range(14, 6, -1):
            if r >> k & 1:
                r ^= BCH_GENERATOR << (k - 7)
        t.append(r)
    return t


_T = _mod_table()


def _remainder(info: bytes) -> int:
    """7-bit remainder of I(x) * x^7 mod g(x) (P0 in bit 6), before complementing."""
    r = 0
    for b in info:
        r = _T[(r << 1) ^ b]
    return r


def _single_error_table() -> dict[int, int]:
    """Syndrome -> bit position (1..63 in the 64-bit codeblock, MSB = 63) of a single error."""
    table = {}
    for k in range(1, 64):
        e = 1 << k
        syn = _remainder((e >> 8).to_bytes(7, "big")) ^ ((e >> 1) & 0x7F)
        if not syn or syn in table:  # pragma: no cover - a wrong generator
            raise RuntimeError("BCH generator does not give distinct single-error syndromes")
        table[syn] = k
    return table


_SINGLE = _single_error_table()


def bch_parity(info) -> int:
    """The last codeblock byte for 7 information bytes: complemented parity bits, filler 0.

    Parameters
    ----------
    info : bytes-like
        Exactly 7 bytes (56 information bits, MSB of byte 0 first).

    Returns
    -------
    int
        0..0xFE, always even: ``(~P & 0x7F) << 1``.
    """
    data = as_bytes(info, "bch_parity")
    if len(data) != 7:
        raise FecInputError(f"bch_parity needs 7 information bytes, got {len(data)}")
    return ((_remainder(data) ^ 0x7F) << 1) & 0xFE


def bch_encode(info) -> bytes:
    """Encode 7 information bytes into an 8-byte CCSDS TC codeblock.

    Parameters
    ----------
    info : bytes-like
        Exactly 7 bytes (randomized already, if the mission randomizes TC data). Pad a short
        last codeblock of a CLTU with the CCSDS fill pattern 0x55 before calling.

    Returns
    -------
    bytes
        ``info`` followed by the parity byte (complemented parity bits, then filler bit 0).
    """
    data = as_bytes(info, "bch_encode")
    if len(data) != 7:
        raise FecInputError(f"bch_encode needs 7 information bytes, got {len(data)}")
    return data + bytes([((_remainder(data) ^ 0x7F) << 1) & 0xFE])


def bch_decode(codeblock, mode: str = "sec") -> tuple[bytes, BchStatus]:
    """Check (and in SEC mode correct) an 8-byte CCSDS TC codeblock.

    Parameters
    ----------
    codeblock : bytes-like
        Exactly 8 bytes as received.
    mode : {"sec", "ted"}
        ``"sec"``: correct a single bit error; ``"ted"``: detect up to 3 errors, correct none.

    Returns
    -------
    info : bytes
        The 7 information bytes, corrected when ``status`` is CORRECTED; as received otherwise.
    status : BchStatus
        CLEAN (0), CORRECTED (1) or UNCORRECTABLE (-1). An error in a parity bit is corrected
        too (status CORRECTED, the information unchanged). The filler bit is ignored.
    """
    cb = as_bytes(codeblock, "bch_decode")
    if len(cb) != 8:
        raise FecInputError(f"bch_decode needs an 8-byte codeblock, got {len(cb)} bytes")
    if mode not in ("sec", "ted"):
        raise FecInputError(f"bch_decode mode must be 'sec' or 'ted', got {mode!r}")
    info = cb[:7]
    syn = _remainder(info) ^ ((cb[7] >> 1) ^ 0x7F)
    if syn == 0:
        return info, BchStatus.CLEAN
    k = _SINGLE.get(syn) if mode == "sec" else None
    if k is None:
        return info, BchStatus.UNCORRECTABLE
    if k >= 8:
        word = int.from_bytes(info, "big") ^ (1 << (k - 8))
        info = word.to_bytes(7, "big")
    return info, BchStatus.CORRECTED
