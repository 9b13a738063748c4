"""CubeSat Space Protocol (CSP) version 1 header and optional CRC-32C trailer.

Standard: libcsp 1.x, ``src/csp_id.c`` (CSP 1.x identifier: "2 PRIO | 5 SOURCE | 5 DESTINATION |
6 DESTINATION PORT | 6 SOURCE PORT | 8 FLAGS") and ``include/csp/csp_types.h`` /
``csp.h`` (flag bits ``CSP_FHMAC`` 0x08, ``CSP_FXTEA`` 0x04, ``CSP_FRDP`` 0x02, ``CSP_FCRC32``
0x01); CRC trailer: libcsp 1.x ``src/csp_crc32.c`` (``csp_crc32_append`` /
``csp_crc32_verify``). The same layout is gr-satellites' ``python/telemetry/csp.py``.

Header (4 bytes, 32 bits, big-endian / network order on the air, MSB first)::

    bits 31..30 priority (2)       bits 29..25 source (5)        bits 24..20 destination (5)
    bits 19..14 destination_port   bits 13..8  source_port (6)   bits 7..4   reserved (4)
    bit 3 hmac   bit 2 xtea   bit 1 rdp   bit 0 crc

(libcsp 1.x later used bit 4 as ``CSP_FFRAG``; here it is part of ``reserved`` and kept as sent.)
Field names are those of the libcsp identifier (``pri`` -> ``priority``, ``src`` -> ``source``,
``dst`` -> ``destination``, ``dport`` -> ``destination_port``, ``sport`` -> ``source_port``).

CRC-32C trailer: when the ``crc`` flag is set, the packet ends with 4 bytes of CRC-32C
(Castagnoli, :func:`orbitlink.modem.fec.crc.crc32c`) sent big-endian. libcsp 1.x computes it over
the data only by default; ``csp_crc32_verify(packet, include_header=true)`` (libcsp 1.5+) covers
the 4 header bytes (network order) followed by the data, hence ``crc_includes_header``.

Every parser raises only :class:`~orbitlink.framing.errors.FrameParseError` on bad bytes (and
``TypeError`` for input that is not bytes-like).
"""

from __future__ import annotations

from dataclasses import dataclass

import construct as cs

from orbitlink.framing.errors import FrameBuildError, FrameParseError
from orbitlink.modem.fec.crc import crc32c

__all__ = ["CspHeaderV1", "CspPacket", "HEADER_SIZE", "CRC_SIZE", "parse_header",
           "build_header", "parse", "build", "size", "FUZZ_TARGETS"]

#: CSP v1 identifier, libcsp 1.x ``csp_id.c`` (big-endian, MSB first)
CspHeaderV1 = cs.BitStruct(
    "priority" / cs.BitsInteger(2),
    "source" / cs.BitsInteger(5),
    "destination" / cs.BitsInteger(5),
    "destination_port" / cs.BitsInteger(6),
    "source_port" / cs.BitsInteger(6),
    "reserved" / cs.BitsInteger(4),
    "hmac" / cs.Flag,
    "xtea" / cs.Flag,
    "rdp" / cs.Flag,
    "crc" / cs.Flag,
)

HEADER_SIZE = 4  #: bytes of the CSP v1 header
CRC_SIZE = 4  #: bytes of the CRC-32C trailer
FIELDS = ("priority", "source", "destination", "destination_port", "source_port", "reserved",
          "hmac", "xtea", "rdp", "crc")
_WIDTH = {"priority": 2, "source": 5, "destination": 5, "destination_port": 6,
          "source_port": 6, "reserved": 4}
CRC_MODES = ("check", "strip", "keep")


def _as_bytes(data, what: str) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"{what} needs bytes, not {type(data).__name__}")


@dataclass(frozen=True)
class CspPacket:
    """A parsed CSP v1 packet.

    Attributes
    ----------
    header : dict
        The header fields (:data:`FIELDS`): ints and bools.
    payload : bytes
        The data after the header (without the CRC trailer when it was stripped or checked).
    crc : int or None
        The received CRC-32C trailer (big-endian), when the ``crc`` flag is set and the trailer
        was split off; otherwise None.
    """

    header: dict
    payload: bytes
    crc: int | None = None


def parse_header(data) -> dict:
    """Parse the 4-byte CSP v1 header at the start of ``data`` into a dict of its fields.

    Raises
    ------
    FrameParseError
        Fewer than 4 bytes.
    """
    raw = _as_bytes(data, "csp.parse_header")
    if len(raw) < HEADER_SIZE:
        raise FrameParseError(f"CSP v1 header needs {HEADER_SIZE} bytes, got {len(raw)}")
    c = CspHeaderV1.parse(raw[:HEADER_SIZE])
    return {k: c[k] for k in FIELDS}


def build_header(header: dict | None = None, **fields) -> bytes:
    """Build the 4-byte CSP v1 header from a dict and/or keyword fields.

    Missing fields default to 0 / False. Unknown fields, or values out of their bit width, raise
    :class:`~orbitlink.framing.errors.FrameBuildError` (a ``ValueError``).
    """
    h = {k: 0 for k in FIELDS[:6]}
    h.update({k: False for k in FIELDS[6:]})
    for src in (header or {}), fields:
        for k, v in src.items():
            if k not in h:
                raise FrameBuildError(f"unknown CSP v1 header field {k!r}; known: "
                                      f"{', '.join(FIELDS)}")
            h[k] = v
    for k, w in _WIDTH.items():
        v = h[k]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < (1 << w):
            raise FrameBuildError(f"CSP v1 header field {k} must be an int 0..{(1 << w) - 1}, "
                                  f"got {v!r}")
    for k in FIELDS[6:]:
        h[k] = bool(h[k])
    return CspHeaderV1.build(h)


def _crc(header: bytes, payload: bytes, includes_header: bool) -> int:
    return crc32c(header + payload) if includes_header else crc32c(payload)


def parse(data, *, crc: str = "check", crc_includes_header: bool = False) -> CspPacket:
    """Parse a CSP v1 packet: header, payload and (when flagged) the CRC-32C trailer.

    Parameters
    ----------
    data : bytes-like
        The whole packet as received (header first).
    crc : {"check", "strip", "keep"}
        What to do with the trailer when the header's ``crc`` flag is set: ``"check"`` splits it
        off and verifies it (a mismatch raises), ``"strip"`` splits it off unchecked, ``"keep"``
        leaves it in ``payload``.
    crc_includes_header : bool
        The CRC covers the 4 header bytes too (libcsp ``include_header``), not just the data.

    Returns
    -------
    CspPacket

    Raises
    ------
    FrameParseError
        Truncated packet, missing trailer, or CRC mismatch.
    FrameBuildError
        ``crc`` is not one of :data:`CRC_MODES`.
    """
    if crc not in CRC_MODES:
        raise FrameBuildError(f"csp.parse crc must be one of {', '.join(CRC_MODES)}, "
                              f"not {crc!r}")
    raw = _as_bytes(data, "csp.parse")
    header = parse_header(raw)
    body = raw[HEADER_SIZE:]
    if not header["crc"] or crc == "keep":
        return CspPacket(header, body)
    if len(body) < CRC_SIZE:
        raise FrameParseError(f"CSP v1 packet has the CRC flag set but only {len(body)} bytes "
                              f"after the header, fewer than the {CRC_SIZE}-byte CRC-32C")
    payload, rx = body[:-CRC_SIZE], int.from_bytes(body[-CRC_SIZE:], "big")
    if crc == "check":
        want = _crc(raw[:HEADER_SIZE], payload, crc_includes_header)
        if want != rx:
            raise FrameParseError(f"CSP v1 packet CRC-32C mismatch: received 0x{rx:08X}, "
                                  f"computed 0x{want:08X}")
    return CspPacket(header, payload, rx)


def build(header: dict | None = None, payload=b"", *, crc: bool | None = None,
          crc_includes_header: bool = False, **fields) -> bytes:
    """Build a CSP v1 packet: header, payload and, when the ``crc`` flag is set, the trailer.

    ``crc`` (if not None) overrides the header's ``crc`` flag. The trailer is the CRC-32C of the
    payload (or of header plus payload with ``crc_includes_header``), big-endian.
    """
    h = dict(header or {})
    h.update(fields)
    if crc is not None:
        h["crc"] = bool(crc)
    hdr = build_header(h)
    body = _as_bytes(payload, "csp.build")
    if h.get("crc"):
        body = body + _crc(hdr, body, crc_includes_header).to_bytes(CRC_SIZE, "big")
    return hdr + body


def size(payload_len: int = 0, *, crc: bool = False) -> int:
    """Bytes of a CSP v1 packet with ``payload_len`` data bytes (plus 4 with the CRC trailer)."""
    return HEADER_SIZE + int(payload_len) + (CRC_SIZE if crc else 0)


#: name -> callable taking bytes, for a fuzz runner (must raise only FrameParseError)
FUZZ_TARGETS = {"csp": parse, "csp_header": parse_header}
