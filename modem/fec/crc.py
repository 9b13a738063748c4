"""Cyclic redundancy checks.

``crc16_ccitt`` is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, MSB first, no final XOR): the
CCSDS frame error control field (CCSDS 132.0-B-3 section 4.1.6, 232.0-B-4 section 4.1.4.2).

``crc16_x25`` is CRC-16/X.25 (also called CRC-16/IBM-SDLC): the HDLC / AX.25 frame check sequence
(ISO/IEC 13239, AX.25 v2.2 section 3.8). Reflected polynomial 0x8408 (0x1021 bit-reversed),
init 0xFFFF, final XOR 0xFFFF; the FCS is sent low byte first (:func:`fcs_x25`).
Check value of b"123456789": 0x906E.

``crc32c`` is CRC-32C (Castagnoli; iSCSI, RFC 3720 appendix B.4): reflected polynomial 0x82F63B78
(0x1EDC6F41 bit-reversed), init and final XOR 0xFFFFFFFF. Check value of b"123456789": 0xE3069283.
CubeSat Space Protocol (libcsp) uses it for its optional packet CRC and appends it big-endian
(network order); which bytes it covers (payload only, or header plus payload) depends on the
libcsp version, so that choice belongs to the CSP framing, not here.

All functions take bytes-like input (``bytes``, ``bytearray``, ``memoryview`` or a 1-D uint8
numpy array) and return an ``int``. They are table driven (one table look-up per byte).

:class:`FecInputError` is the error every ``orbitlink.modem.fec`` function raises for input of the
right type but the wrong length or value range; input of the wrong type raises ``TypeError``.
"""

from __future__ import annotations

import numpy as np

from orbitlink import OrbitlinkError


class FecInputError(OrbitlinkError, ValueError):
    """Input to an FEC function has the wrong length or a value out of range."""


def as_bytes(data, what: str) -> bytes:
    """``data`` as ``bytes``; ``TypeError`` naming ``what`` unless it is bytes-like.

    Accepts ``bytes``, ``bytearray``, ``memoryview`` and 1-D uint8 numpy arrays.
    """
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 1:
        return data.tobytes()
    raise TypeError(f"{what} needs bytes (or a 1-D uint8 array), not {type(data).__name__}")


def _table16(poly: int) -> np.ndarray:
    t = np.zeros(256, np.uint32)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ poly) if c & 0x8000 else (c << 1)
        t[i] = c & 0xFFFF
    return t


def _table_reflected(poly: int) -> list[int]:
    """Byte table of a reflected (LSB-first) CRC with reversed polynomial ``poly``."""
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t.append(c)
    return t


_T1021 = [int(v) for v in _table16(0x1021)]
_T8408 = _table_reflected(0x8408)
_T82F63B78 = _table_reflected(0x82F63B78)


def crc16_ccitt(data: bytes, init: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (check value of b"123456789" is 0x29B1)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"crc16_ccitt needs bytes, not {type(data).__name__}")
    c = init
    t = _T1021
    for b in bytes(data):
        c = ((c << 8) & 0xFFFF) ^ t[((c >> 8) ^ b) & 0xFF]
    return c


_T1021_ARRAY = np.array(_T1021, np.int64)


def crc16_ccitt_rows(rows: np.ndarray, init: int = 0xFFFF) -> np.ndarray:
    """CRC-16/CCITT-FALSE of every row of a 2-D uint8 array (one message a row, all of the
    same length), as an int64 array: ``crc16_ccitt(rows[i].tobytes())`` for each ``i``, in
    one compiled loop (a deframer checks all the frames of a chunk at once)."""
    rows = np.asarray(rows)
    if rows.dtype != np.uint8 or rows.ndim != 2:
        raise TypeError(f"crc16_ccitt_rows needs a 2-D uint8 array, not {rows.dtype} with "
                        f"{rows.ndim} dimensions")
    from orbitlink.modem._kernels.bits import crc16_msb_rows

    out = np.empty(rows.shape[0], np.int64)
    crc16_msb_rows(np.ascontiguousarray(rows), int(init) & 0xFFFF, _T1021_ARRAY, out)
    return out


def _check_value(value, bits: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what}: value must be an int, not {type(value).__name__}")
    if not 0 <= value < (1 << bits):
        raise FecInputError(f"{what}: value {value!r} is outside 0..0x{(1 << bits) - 1:X}")
    return int(value)


def _reflected_crc(data: bytes, register: int, table: list[int]) -> int:
    for b in data:
        register = (register >> 8) ^ table[(register ^ b) & 0xFF]
    return register


def crc16_x25(data, value: int = 0) -> int:
    """CRC-16/X.25: the HDLC / AX.25 frame check sequence.

    Reflected polynomial 0x8408 (x^16 + x^12 + x^5 + 1, bits processed LSB first), register
    initialised to 0xFFFF, final XOR 0xFFFF. Check value of b"123456789" is 0x906E.

    Parameters
    ----------
    data : bytes-like
        The frame (address to end of information field), without the FCS.
    value : int, optional
        Running CRC of the data that precedes ``data`` (``zlib.crc32`` convention):
        ``crc16_x25(b, crc16_x25(a)) == crc16_x25(a + b)``. 0 (the default) starts afresh.

    Returns
    -------
    int
        The 16-bit FCS. On air it is sent low byte first, see :func:`fcs_x25`.
    """
    data = as_bytes(data, "crc16_x25")
    v = _check_value(value, 16, "crc16_x25")
    return _reflected_crc(data, v ^ 0xFFFF, _T8408) ^ 0xFFFF


def fcs_x25(data) -> bytes:
    """The two FCS bytes of an HDLC / AX.25 frame as sent: CRC-16/X.25, low byte first.

    Parameters
    ----------
    data : bytes-like
        The frame without its FCS.

    Returns
    -------
    bytes
        2 bytes, ``crc16_x25(data).to_bytes(2, "little")``.
    """
    return crc16_x25(data).to_bytes(2, "little")


def check_fcs_x25(frame_with_fcs) -> bool:
    """True when the last two bytes of ``frame_with_fcs`` are the valid X.25 FCS (low byte first).

    Raises
    ------
    FecInputError
        If the input is shorter than the 2-byte FCS.
    """
    data = as_bytes(frame_with_fcs, "check_fcs_x25")
    if len(data) < 2:
        raise FecInputError(f"check_fcs_x25 needs at least the 2 FCS bytes, got {len(data)}")
    return crc16_x25(data[:-2]) == int.from_bytes(data[-2:], "little")


def crc32c(data, value: int = 0) -> int:
    """CRC-32C (Castagnoli), as used by the CubeSat Space Protocol (CSP).

    Reflected polynomial 0x82F63B78 (0x1EDC6F41 bit-reversed, bits processed LSB first),
    register initialised to 0xFFFFFFFF, final XOR 0xFFFFFFFF. Check value of b"123456789" is
    0xE3069283.

    Parameters
    ----------
    data : bytes-like
        The bytes to protect.
    value : int, optional
        Running CRC of the preceding data (``zlib.crc32`` convention):
        ``crc32c(b, crc32c(a)) == crc32c(a + b)``. 0 (the default) starts afresh.

    Returns
    -------
    int
        The 32-bit CRC. CSP appends it big-endian: ``crc32c(d).to_bytes(4, "big")``.
    """
    data = as_bytes(data, "crc32c")
    v = _check_value(value, 32, "crc32c")
    return _reflected_crc(data, v ^ 0xFFFFFFFF, _T82F63B78) ^ 0xFFFFFFFF
