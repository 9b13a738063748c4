"""TC Transfer Frame (CCSDS 232.0-B-4, TC Space Data Link Protocol, section 4.1).

Frame (section 4.1.1, figure 4-1), variable length, at most 1024 octets::

    | Primary Header (5) | Data Field (1..1019) | Frame Error Control Field (optional, 2) |

Primary header (section 4.1.2, figure 4-2), big-endian, MSB first::

    Transfer Frame Version Number (2) = '00' | Bypass Flag (1) | Control Command Flag (1) |
    Reserved Spare (2) = '00' | Spacecraft Identifier (10) | Virtual Channel Identifier (6) |
    Frame Length (10) = total frame octets minus one | Frame Sequence Number (8)

Whether the FECF is present is a managed parameter of the physical channel (section 4.1.4.1);
it is the CRC-16/CCITT (poly 0x1021, init 0xFFFF) of the frame before it, as
:func:`orbitlink.modem.fec.crc.crc16_ccitt`.
"""

from __future__ import annotations

import binascii

import numpy as np
from construct import (BitsInteger, BitStruct, Bytes, Const, ConstructError, Flag, If, Int16ub,
                       Struct, Terminated, this)

from orbitlink.framing.errors import FrameBuildError, FrameParseError, construct_reason

__all__ = ["TcPrimaryHeader", "TcTransferFrame", "parse", "build", "size", "frame_length",
           "FUZZ_TARGETS", "MAX_FRAME_LEN", "PRIMARY_HEADER_LEN"]

PRIMARY_HEADER_LEN = 5
MAX_FRAME_LEN = 1024  #: section 4.1.1.2

#: Transfer Frame Primary Header, CCSDS 232.0-B-4 section 4.1.2
TcPrimaryHeader = BitStruct(
    "transfer_frame_version_number" / Const(0, BitsInteger(2)),  # 4.1.2.2
    "bypass_flag" / Flag,  # 4.1.2.3: 0 = Type-A (sequence-controlled), 1 = Type-B (expedited)
    "control_command_flag" / Flag,  # 4.1.2.4: 0 = data (Type-D), 1 = control (Type-C)
    "reserved_spare" / Const(0, BitsInteger(2)),  # 4.1.2.5
    "spacecraft_identifier" / BitsInteger(10),  # 4.1.2.6
    "virtual_channel_identifier" / BitsInteger(6),  # 4.1.2.7
    "frame_length" / BitsInteger(10),  # 4.1.2.8: total octets minus one
    "frame_sequence_number" / BitsInteger(8),  # 4.1.2.9
)

#: TC Transfer Frame, CCSDS 232.0-B-4 section 4.1 (context parameter ``fecf``)
TcTransferFrame = Struct(
    "transfer_frame_primary_header" / TcPrimaryHeader,
    "transfer_frame_data_field" / Bytes(
        lambda c: c.transfer_frame_primary_header.frame_length + 1 - PRIMARY_HEADER_LEN
        - 2 * bool(c._params.fecf)),
    "frame_error_control_field" / If(this._params.fecf, Int16ub),
    Terminated,
)


def frame_length(header: bytes) -> int:
    """Total frame length in octets from the first 4 octets of a TC frame (Frame Length + 1)."""
    if len(header) < 4:
        raise FrameParseError(f"TC frame header needs 4 octets, got {len(header)}")
    return (((header[2] & 0x03) << 8) | header[3]) + 1


def size(data_len: int, fecf: bool = True) -> int:
    """Octets of a TC frame whose data field has ``data_len`` octets."""
    return PRIMARY_HEADER_LEN + data_len + 2 * fecf


def parse(frame: bytes, *, fecf: bool = True, check_fecf: bool = True):
    """Parse one TC Transfer Frame occupying all of ``frame``.

    Returns
    -------
    construct.Container
        ``transfer_frame_primary_header`` (fields as in section 4.1.2),
        ``transfer_frame_data_field`` (bytes), ``frame_error_control_field`` (int or None).

    Raises
    ------
    FrameParseError
        Length field disagreeing with the octets given, version or spare bits not 0, empty
        data field, or (with ``check_fecf``) a bad FECF.
    """
    frame = bytes(frame)
    n = frame_length(frame)
    if n != len(frame):
        raise FrameParseError(f"TC frame length field says {n} octets, got {len(frame)}")
    if n < size(1, fecf):
        raise FrameParseError(f"TC frame of {n} octets has no data field")
    if frame[0] >> 6:
        raise FrameParseError(f"TC frame version number is {frame[0] >> 6}, not 0")
    if frame[0] & 0x0C:
        raise FrameParseError("TC frame reserved spare bits are not 0")
    try:
        c = TcTransferFrame.parse(frame, fecf=fecf)
    except (ConstructError, ValueError) as e:
        raise FrameParseError(f"TC frame is invalid ({construct_reason(e)})") from None
    if fecf and check_fecf and binascii.crc_hqx(frame[:-2], 0xFFFF) != \
            c.frame_error_control_field:
        raise FrameParseError("TC frame FECF (CRC-16) check failed")
    return c


def build(data: bytes, *, scid: int = 0, vcid: int = 0, sequence_number: int = 0,
          bypass: bool = False, control_command: bool = False, fecf: bool = True) -> bytes:
    """Build a TC Transfer Frame around ``data`` (the data field, 1..1019 octets with the FECF,
    1..1019 + 2 without), computing Frame Length and, when ``fecf``, the FECF.

    Raises
    ------
    FrameBuildError
        An empty or too long data field, or a Spacecraft Identifier (0..1023) or Virtual
        Channel Identifier (0..63) out of range; the sequence number is taken mod 256.
    """
    n = size(len(data), fecf)
    if not data or n > MAX_FRAME_LEN:
        raise FrameBuildError(f"TC frame data field of {len(data)} octets makes a frame of {n} "
                              f"octets (1..{MAX_FRAME_LEN} with a data field)")
    for what, v, hi in (("Spacecraft Identifier", scid, 1023),
                        ("Virtual Channel Identifier", vcid, 63)):
        if not isinstance(v, (int, np.integer)) or not 0 <= v <= hi:
            raise FrameBuildError(f"TC frame {what} must be an integer 0..{hi}, got {v!r}")
    if not isinstance(sequence_number, (int, np.integer)):
        raise FrameBuildError(f"TC frame sequence number must be an integer, got "
                              f"{sequence_number!r}")
    hdr = TcPrimaryHeader.build(dict(
        bypass_flag=bypass, control_command_flag=control_command, spacecraft_identifier=scid,
        virtual_channel_identifier=vcid, frame_length=n - 1,
        frame_sequence_number=sequence_number & 0xFF))
    out = hdr + bytes(data)
    if fecf:
        out += binascii.crc_hqx(out, 0xFFFF).to_bytes(2, "big")
    return out


FUZZ_TARGETS = {
    "tc_frame": lambda b: parse(b, fecf=True),
    "tc_frame_nocheck": lambda b: parse(b, fecf=True, check_fecf=False),
    "tc_frame_nofecf": lambda b: parse(b, fecf=False),
}

#: valid inputs for the fuzz runner (name -> list of bytes), keyed like FUZZ_TARGETS
FUZZ_SEEDS = {
    "tc_frame": [build(b"command", scid=3, vcid=1), build(bytes(100), bypass=True)],
    "tc_frame_nocheck": [build(b"command", scid=3, vcid=1)],
    "tc_frame_nofecf": [build(b"command", fecf=False), build(b"\x01", control_command=True,
                                                             fecf=False)],
}


def random_frame(rng, data: bytes, i: int, fecf: bool = True) -> bytes:
    """A TC Transfer Frame around ``data[:200]`` with random SCID and VCID (loopback payloads;
    ``rng`` is drawn from in order: SCID, then VCID)."""
    return build(data[:200], scid=int(rng.integers(0, 1024)), vcid=int(rng.integers(0, 64)),
                 sequence_number=i % 256, fecf=fecf)
