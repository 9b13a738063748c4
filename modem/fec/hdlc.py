"""HDLC bit work on unpacked bits: flag search, bit destuffing and the CRC-16/X.25 check.

The streaming core of :class:`orbitlink.framing.hdlc.HdlcDeframer` (ISO/IEC 13239; AX.25 v2.2
section 3): frames between ``0x7E`` flags, a 0 removed after every five 1s, bytes assembled
LSB first, a run of seven 1s aborts the frame, and the FCS checked by the residue of the
reflected CRC-16/X.25 register. The numba kernel loads on the first call (importing this
module does not load numba).
"""

from __future__ import annotations

import numpy as np

from orbitlink.modem.fec.crc import _T8408

__all__ = ["STATE_LEN", "X25_RESIDUE", "X25_TABLE", "new_deframe_state", "deframe_bits"]

#: length of the deframer state (int64)
STATE_LEN = 8
#: CRC-16/X.25 register after the data and its own FCS (before the final XOR): a good frame
X25_RESIDUE = 0xF0B8
#: byte table of the reflected polynomial 0x8408 (int64, read-only)
X25_TABLE = np.array(_T8408, np.int64)
X25_TABLE.flags.writeable = False

_CRC = 5  # state slot of the CRC register


def new_deframe_state() -> np.ndarray:
    """The state of a deframer before its first bit: int64[:data:`STATE_LEN`], hunting for a
    flag, CRC register 0xFFFF, absolute bit index 0."""
    state = np.zeros(STATE_LEN, np.int64)
    state[_CRC] = 0xFFFF
    return state


def deframe_bits(bits: np.ndarray, state: np.ndarray, buf: np.ndarray, min_bytes: int,
                 out_bytes: np.ndarray, out_frames: np.ndarray) -> int:
    """Find HDLC frames in the next bits of a stream, carrying ``state`` across calls.

    Parameters
    ----------
    bits : ndarray of uint8, shape (n,), C-contiguous
        Hard bits (0/1) in transmission order (NRZI-decoded and descrambled already).
    state : ndarray of int64, shape (STATE_LEN,)
        From :func:`new_deframe_state`; updated in place (run of 1s, in-frame flag, partial
        byte, bytes so far, CRC register, index of the opening flag, absolute index of
        ``bits[0]``).
    buf : ndarray of uint8, shape (max_bytes,)
        The frame being received (address to FCS), kept across calls; its length is the
        longest frame accepted, FCS included (a longer one is dropped).
    min_bytes : int
        Shortest frame emitted, FCS included.
    out_bytes : ndarray of uint8
        Frame bytes out, concatenated; capacity ``len(buf) + n // 8 + 8``.
    out_frames : ndarray of int64, shape (rows, 4)
        One row per frame: absolute bit index of the first bit of its opening flag, offset in
        ``out_bytes``, byte count (FCS included), 1 if the FCS is good else 0; capacity
        ``n // 8 + 2`` rows.

    Returns
    -------
    int
        Number of frames written.
    """
    from orbitlink.modem._kernels import hdlc as _k

    return _k.hdlc_deframe(bits, state, buf, X25_TABLE, min_bytes, out_bytes, out_frames)
