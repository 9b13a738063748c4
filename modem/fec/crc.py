"""Cyclic redundancy checks.

``crc16_ccitt`` is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, MSB first, no final XOR): the
CCSDS frame error control field (CCSDS 132.0-B-3 section 4.1.6, 232.0-B-4 section 4.1.4.2).
"""

from __future__ import annotations

import numpy as np


def _table16(poly: int) -> np.ndarray:
    t = np.zeros(256, np.uint32)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ poly) if c & 0x8000 else (c << 1)
        t[i] = c & 0xFFFF
    return t


_T1021 = [int(v) for v in _table16(0x1021)]


def crc16_ccitt(data: bytes, init: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (check value of b"123456789" is 0x29B1)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"crc16_ccitt needs bytes, not {type(data).__name__}")
    c = init
    t = _T1021
    for b in bytes(data):
        c = ((c << 8) & 0xFFFF) ^ t[((c >> 8) ^ b) & 0xFF]
    return c
