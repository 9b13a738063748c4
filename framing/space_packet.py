"""Space Packet (CCSDS 133.0-B-2, Space Packet Protocol, section 4.1) and a TM packetiser.

Space Packet (section 4.1.3, primary header 6 octets, big-endian, MSB first)::

    | Packet Version Number (3) | Packet Type (1) | Secondary Header Flag (1) |
    | Application Process Identifier (11) | Sequence Flags (2) |
    | Packet Sequence Count or Packet Name (14) | Packet Data Length (16) | Packet Data Field |

The Packet Data Length is the length of the Packet Data Field minus one (section 4.1.3.5.3), so
a packet is ``7 + packet_data_length`` octets long, 7..65542. The version number is always 0
('000'). APID 0x7FF (all ones) marks an Idle Packet (section 4.1.3.3.4.4).

The packetiser :func:`packets_to_frames` packs Space Packets into fixed-length TM Transfer Frames
of one virtual channel (CCSDS 132.0-B-3, section 4.1.4.2: First Header Pointer), the transmit
side of :class:`orbitlink.framing.ccsds_tm.TmFrameDemux`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from construct import BitsInteger, BitStruct, Bytes, Const, ConstructError, Flag, Struct, this

from orbitlink.framing.errors import FrameBuildError, FrameParseError, construct_reason
from orbitlink.modem.block import Block, Pdu, Rate, param, register

__all__ = ["SpacePacketPrimaryHeader", "SpacePacket", "parse", "build", "size", "packet_length",
           "idle_packet", "packets_to_frames", "IDLE_APID", "HEADER_LEN", "FUZZ_TARGETS",
           "SEQ_CONTINUATION", "SEQ_FIRST", "SEQ_LAST", "SEQ_UNSEGMENTED"]

HEADER_LEN = 6
IDLE_APID = 0x7FF
MAX_PACKET_LEN = HEADER_LEN + 65536
#: Sequence Flags (section 4.1.3.4.2.2)
SEQ_CONTINUATION, SEQ_FIRST, SEQ_LAST, SEQ_UNSEGMENTED = 0, 1, 2, 3

#: Packet Primary Header, CCSDS 133.0-B-2 section 4.1.3 (figure 4-2)
SpacePacketPrimaryHeader = BitStruct(
    # Packet Version Number, section 4.1.3.2: '000'
    "packet_version_number" / Const(0, BitsInteger(3)),
    # Packet Identification Field, section 4.1.3.3
    "packet_type" / BitsInteger(1),  # 0 = telemetry, 1 = telecommand
    "secondary_header_flag" / Flag,
    "application_process_identifier" / BitsInteger(11),
    # Packet Sequence Control Field, section 4.1.3.4
    "sequence_flags" / BitsInteger(2),
    "packet_sequence_count" / BitsInteger(14),
    # Packet Data Length, section 4.1.3.5: octets in the Packet Data Field minus one
    "packet_data_length" / BitsInteger(16),
)

#: Space Packet, CCSDS 133.0-B-2 section 4.1 (the secondary header, if flagged, is the start of
#: the packet data field; its layout is mission specific)
SpacePacket = Struct(
    "primary_header" / SpacePacketPrimaryHeader,
    "packet_data_field" / Bytes(this.primary_header.packet_data_length + 1),
)

_HDR = struct.Struct(">HHH")


def packet_length(header: bytes) -> int:
    """Total length in octets of the packet whose first 6 octets are ``header``."""
    if len(header) < HEADER_LEN:
        raise FrameParseError(f"Space Packet header needs 6 octets, got {len(header)}")
    return HEADER_LEN + 1 + ((header[4] << 8) | header[5])


def parse(data: bytes):
    """Parse one Space Packet occupying all of ``data``.

    Returns
    -------
    construct.Container
        ``primary_header`` (fields named as in section 4.1.3) and ``packet_data_field`` (bytes).

    Raises
    ------
    FrameParseError
        Truncated, trailing octets, or a version number other than 0.
    """
    data = bytes(data)
    n = packet_length(data)
    if n != len(data):
        raise FrameParseError(f"Space Packet data length field says {n} octets, got {len(data)}")
    if data[0] >> 5:
        raise FrameParseError(f"Space Packet version number is {data[0] >> 5}, not 0")
    try:
        return SpacePacket.parse(data)
    except ConstructError as e:
        raise FrameParseError(f"Space Packet is invalid ({construct_reason(e)})") from None


def build(apid: int, data: bytes, *, sequence_count: int = 0, packet_type: int = 0,
          secondary_header_flag: bool = False, sequence_flags: int = SEQ_UNSEGMENTED) -> bytes:
    """Build a Space Packet: primary header plus ``data`` as the Packet Data Field (1..65536
    octets; a secondary header, if any, is the caller's part of ``data``).

    Raises
    ------
    FrameBuildError
        A data field of 0 or more than 65536 octets, or a header field out of its range (APID
        0..2047, packet type 0..1, sequence flags 0..3; the sequence count is taken mod 16384).
    """
    if not 1 <= len(data) <= 65536:
        raise FrameBuildError(f"Space Packet data field must be 1..65536 octets, got {len(data)}")
    for what, v, hi in (("APID", apid, 0x7FF), ("packet type", packet_type, 1),
                        ("sequence flags", sequence_flags, 3),
                        ("sequence count", sequence_count, None)):
        if not isinstance(v, (int, np.integer)) or (hi is not None and not 0 <= v <= hi):
            raise FrameBuildError(f"Space Packet {what} must be an integer"
                                  + (f" 0..{hi}" if hi is not None else "") + f", got {v!r}")
    hdr = SpacePacketPrimaryHeader.build(dict(
        packet_type=packet_type, secondary_header_flag=secondary_header_flag,
        application_process_identifier=apid, sequence_flags=sequence_flags,
        packet_sequence_count=sequence_count & 0x3FFF, packet_data_length=len(data) - 1))
    return hdr + bytes(data)


def size(data_len: int) -> int:
    """Octets of a Space Packet whose Packet Data Field has ``data_len`` octets."""
    return HEADER_LEN + data_len


def header_fields(data: bytes) -> tuple[int, int, int, int, int]:
    """Fast header decode (struct): (version, type, apid, sequence_flags, sequence_count)."""
    if len(data) < HEADER_LEN:
        raise FrameParseError(f"Space Packet header needs 6 octets, got {len(data)}")
    a, b, _ = _HDR.unpack_from(data)
    return a >> 13, (a >> 12) & 1, a & 0x7FF, b >> 14, b & 0x3FFF


def idle_packet(length: int, fill: int = 0x00) -> bytes:
    """An Idle Packet (APID 0x7FF) of ``length`` octets in total (at least 7)."""
    if length < HEADER_LEN + 1:
        raise FrameBuildError(f"an Idle Packet needs at least 7 octets, got {length}")
    if not 0 <= fill <= 0xFF:
        raise FrameBuildError(f"Idle Packet fill octet must be 0..255, got {fill!r}")
    return build(IDLE_APID, bytes([fill]) * (length - HEADER_LEN))


def packets_to_frames(packets, frame_len: int = 1115, scid: int = 0, vcid: int = 0, *,
                      fecf: bool = True, ocf: bytes | None = None, first_vc_count: int = 0,
                      first_mc_count: int = 0) -> list[bytes]:
    """Pack Space Packets into fixed-length TM Transfer Frames of one virtual channel.

    Packets run across frame boundaries; the First Header Pointer of each frame points at the
    first packet header starting in it (0x7FF when none does). The last frame is completed with
    an Idle Packet (or, when fewer than 7 octets remain, the idle packet itself spans into one
    more frame) so that every real packet is delivered.

    Parameters
    ----------
    packets : iterable of bytes
        Complete Space Packets (e.g. from :func:`build`).
    frame_len : int
        Total TM frame length in octets (1115 for the CCSDS RS(255,223) depth-5 codeblock).
    scid, vcid : int
        Spacecraft Identifier (0..1023) and Virtual Channel Identifier (0..7).
    fecf : bool
        Append the Frame Error Control Field (CRC-16/CCITT).
    ocf : bytes or None
        4-octet Operational Control Field to put in every frame (sets the OCF flag).
    first_vc_count, first_mc_count : int
        Frame counts of the first frame (mod 256).

    Returns
    -------
    list of bytes
        The frames, each ``frame_len`` octets.
    """
    from orbitlink.framing import ccsds_tm  # the TM module imports this one

    dlen = ccsds_tm.data_field_length(frame_len, ocf=ocf is not None, fecf=fecf)
    if dlen < 1:
        raise FrameBuildError(f"TM frames of {frame_len} octets leave no data field for the "
                              "packets")
    stream = bytearray()
    starts = []
    for p in packets:
        starts.append(len(stream))
        stream += p
    nframes = -(-len(stream) // dlen)
    pad = nframes * dlen - len(stream)
    if 0 < pad < HEADER_LEN + 1:
        pad += dlen
        nframes += 1
    if pad:
        starts.append(len(stream))
        stream += idle_packet(pad)
    frames = []
    si = 0
    for k in range(nframes):
        lo, hi = k * dlen, (k + 1) * dlen
        while si < len(starts) and starts[si] < lo:
            si += 1
        fhp = starts[si] - lo if si < len(starts) and starts[si] < hi else 0x7FF
        frames.append(ccsds_tm.build(
            bytes(stream[lo:hi]), frame_len=frame_len, scid=scid, vcid=vcid,
            mc_count=(first_mc_count + k) & 0xFF, vc_count=(first_vc_count + k) & 0xFF,
            first_header_pointer=fhp, ocf=ocf, fecf=fecf))
    return frames


FUZZ_TARGETS = {"space_packet": parse}

#: valid inputs for the fuzz runner (name -> list of bytes), keyed like FUZZ_TARGETS
FUZZ_SEEDS = {"space_packet": [build(0x10, b"hello", sequence_count=3), idle_packet(12),
                               build(0x7FE, bytes(range(200)), packet_type=1,
                                     secondary_header_flag=True)]}


@dataclass(frozen=True)
class TmPacketizerParams:
    frame_len: int = param(1115, "TM Transfer Frame length", unit="bytes", lo=16, hi=65535)
    scid: int = param(0, "Spacecraft Identifier", lo=0, hi=1023)
    vcid: int = param(0, "Virtual Channel Identifier", lo=0, hi=7)
    fecf: bool = param(True, "Append the Frame Error Control Field (CRC-16)")


@register
class TmPacketizer(Block):
    """Space Packets (PDUs) to TM Transfer Frames (PDUs) of one virtual channel.

    The packets are packed when the stream ends (``flush``), with the first header pointer of
    each frame set and an Idle Packet filling the last frame (see :func:`packets_to_frames`).

    Input
    -----
    pdu : list[Pdu]
        Space Packets (primary header included).

    Output
    ------
    pdu : list[Pdu]
        TM Transfer Frames of ``frame_len`` bytes of virtual channel ``vcid``, all at
        ``flush()``; the last one filled with an Idle Packet.
    """

    name = "tm_packetizer"
    Params = TmPacketizerParams
    rate = Rate.PDU_TO_PDU
    in_type = "pdu"
    out_type = "pdu"

    def _reset(self):
        self._packets = []

    def _process(self, pdus):
        self._packets.extend(bytes(p.data) for p in pdus)
        return []

    def _flush(self):
        p = self.params
        frames = packets_to_frames(self._packets, p.frame_len, p.scid, p.vcid, fecf=p.fecf)
        self._packets = []
        return [Pdu(f) for f in frames]

    @classmethod
    def example(cls, rng):
        pk = [build(int(rng.integers(0, 2000)), bytes(rng.integers(0, 256, int(n))
                                                       .astype(np.uint8)))
              for n in rng.integers(1, 300, 6)]
        return cls(frame_len=128), [Pdu(b) for b in pk]
