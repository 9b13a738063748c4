"""TM Transfer Frame (CCSDS 132.0-B-3, TM Space Data Link Protocol, section 4.1) and the
virtual-channel demultiplexer / Space Packet extractor :class:`TmFrameDemux`.

Frame (section 4.1.1, figure 4-1), fixed length on a physical channel::

    | Primary Header (6) | Secondary Header (opt., 2..64) | Data Field | OCF (opt., 4) | FECF (opt., 2) |

Primary header (section 4.1.2, figure 4-2), big-endian, MSB first::

    Transfer Frame Version Number (2) = '00' | Spacecraft Identifier (10) |
    Virtual Channel Identifier (3) | Operational Control Field Flag (1) |
    Master Channel Frame Count (8) | Virtual Channel Frame Count (8) |
    Transfer Frame Data Field Status (16): Secondary Header Flag (1), Synchronization Flag (1),
        Packet Order Flag (1), Segment Length Identifier (2), First Header Pointer (11)

The First Header Pointer (section 4.1.2.7.6) is the position, in the data field, of the first
octet of the first packet header starting in the frame; 0x7FF (all ones) means no packet header
starts in the frame, 0x7FE means the data field holds only idle data (an OID frame). The
Secondary Header (section 4.1.3) starts with one identification octet: version (2) = '00' and
length (6) = secondary header octets minus one. The OCF (section 4.1.5) is present when the OCF
flag is set. The FECF (section 4.1.6) is a managed parameter of the physical channel (not
signalled in the frame): CRC-16/CCITT (poly 0x1021, init 0xFFFF) over everything before it,
see :func:`orbitlink.modem.fec.crc.crc16_ccitt`.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

import numpy as np
from construct import (BitsInteger, BitStruct, Bytes, Const, ConstructError, Flag, If, Int16ub,
                       Struct, Terminated, this)

from orbitlink.framing import space_packet as sp
from orbitlink.framing.errors import FrameBuildError, FrameParseError, construct_reason
from orbitlink.modem.block import Block, ParamError, Pdu, Rate, param, register

__all__ = ["TmPrimaryHeader", "TmSecondaryHeader", "TmTransferFrame", "parse", "build", "size",
           "data_field_length", "fecf_of", "TmFrameDemux", "TmFrameDemuxParams",
           "FHP_NO_PACKET", "FHP_IDLE", "FUZZ_TARGETS"]

PRIMARY_HEADER_LEN = 6
FHP_NO_PACKET = 0x7FF  #: no packet header starts in this frame (section 4.1.2.7.6.3)
FHP_IDLE = 0x7FE  #: only idle data in the data field (section 4.1.2.7.6.4)
MAX_FRAME_LEN = 2048  #: section 4.1.1.2 (maximum TM Transfer Frame length, octets)

#: Transfer Frame Primary Header, CCSDS 132.0-B-3 section 4.1.2
TmPrimaryHeader = BitStruct(
    # Master Channel Identifier, section 4.1.2.2
    "transfer_frame_version_number" / Const(0, BitsInteger(2)),
    "spacecraft_identifier" / BitsInteger(10),
    "virtual_channel_identifier" / BitsInteger(3),  # section 4.1.2.3
    "operational_control_field_flag" / Flag,  # section 4.1.2.4
    "master_channel_frame_count" / BitsInteger(8),  # section 4.1.2.5
    "virtual_channel_frame_count" / BitsInteger(8),  # section 4.1.2.6
    # Transfer Frame Data Field Status, section 4.1.2.7
    "transfer_frame_secondary_header_flag" / Flag,
    "synchronization_flag" / Flag,
    "packet_order_flag" / Flag,
    "segment_length_identifier" / BitsInteger(2),
    "first_header_pointer" / BitsInteger(11),
)

#: Transfer Frame Secondary Header, CCSDS 132.0-B-3 section 4.1.3
TmSecondaryHeader = Struct(
    "transfer_frame_secondary_header_identification" / BitStruct(
        "transfer_frame_secondary_header_version_number" / Const(0, BitsInteger(2)),
        # octets of the whole secondary header minus one (section 4.1.3.2.3)
        "transfer_frame_secondary_header_length" / BitsInteger(6),
    ),
    "transfer_frame_secondary_header_data_field" / Bytes(
        this.transfer_frame_secondary_header_identification.transfer_frame_secondary_header_length),
)


def _data_len(ctx) -> int:
    h = ctx.transfer_frame_primary_header
    sec = ctx.transfer_frame_secondary_header
    n = ctx._params.frame_len - PRIMARY_HEADER_LEN - 4 * bool(h.operational_control_field_flag) \
        - 2 * bool(ctx._params.fecf)
    if sec is not None:
        n -= 1 + len(sec.transfer_frame_secondary_header_data_field)
    return n


#: TM Transfer Frame, CCSDS 132.0-B-3 section 4.1 (context parameters ``frame_len``, ``fecf``)
TmTransferFrame = Struct(
    "transfer_frame_primary_header" / TmPrimaryHeader,
    "transfer_frame_secondary_header" / If(
        this.transfer_frame_primary_header.transfer_frame_secondary_header_flag,
        TmSecondaryHeader),
    "transfer_frame_data_field" / Bytes(_data_len),
    "operational_control_field" / If(
        this.transfer_frame_primary_header.operational_control_field_flag, Bytes(4)),
    "frame_error_control_field" / If(this._params.fecf, Int16ub),
    Terminated,
)


def fecf_of(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (equal to ``crc16_ccitt``; C speed via binascii)."""
    return binascii.crc_hqx(data, 0xFFFF)


def data_field_length(frame_len: int, *, ocf: bool = False, fecf: bool = True,
                      secondary_header_len: int = 0) -> int:
    """Octets of the Transfer Frame Data Field of a frame of ``frame_len`` octets.

    ``secondary_header_len`` counts the whole secondary header (identification octet included).
    """
    return frame_len - PRIMARY_HEADER_LEN - secondary_header_len - 4 * ocf - 2 * fecf


def size(frame_len: int) -> int:
    """TM frames are fixed-length on a physical channel: the size is ``frame_len``."""
    return frame_len


def parse(frame: bytes, frame_len: int | None = None, *, ocf: bool | None = None,
          fecf: bool = True, check_fecf: bool = True):
    """Parse one TM Transfer Frame.

    Parameters
    ----------
    frame : bytes
        The frame (after the ASM, derandomiser and Reed-Solomon decoder).
    frame_len : int or None
        Expected length in octets (``len(frame)`` when None); a different length is an error.
    ocf : bool or None
        Whether the channel carries the OCF; None accepts the frame's OCF flag as it is, True
        or False make a frame whose flag disagrees an error.
    fecf : bool
        Whether the channel carries the FECF (a managed parameter, not signalled in the frame).
    check_fecf : bool
        Verify the FECF (a mismatch is an error).

    Returns
    -------
    construct.Container
        ``transfer_frame_primary_header``, ``transfer_frame_secondary_header`` (or None),
        ``transfer_frame_data_field``, ``operational_control_field`` (4 bytes or None),
        ``frame_error_control_field`` (int or None); field names as in section 4.1.

    Raises
    ------
    FrameParseError
        Wrong length, version not 0, secondary header longer than the frame, OCF flag against
        ``ocf``, or bad FECF.
    """
    frame = bytes(frame)
    if frame_len is None:
        frame_len = len(frame)
    if len(frame) != frame_len:
        raise FrameParseError(f"TM frame has {len(frame)} octets, expected {frame_len}")
    if frame_len < PRIMARY_HEADER_LEN + 2 * fecf + 1:
        raise FrameParseError(f"TM frame of {frame_len} octets is too short")
    if frame[0] >> 6:
        raise FrameParseError(f"TM frame version number is {frame[0] >> 6}, not 0")
    try:
        c = TmTransferFrame.parse(frame, frame_len=frame_len, fecf=fecf)
    except (ConstructError, ValueError) as e:
        raise FrameParseError(f"TM frame is invalid ({construct_reason(e)})") from None
    h = c.transfer_frame_primary_header
    if ocf is not None and bool(h.operational_control_field_flag) != bool(ocf):
        raise FrameParseError(f"TM frame OCF flag is {int(h.operational_control_field_flag)}, "
                              f"the channel has {'an' if ocf else 'no'} OCF")
    if fecf and check_fecf and fecf_of(frame[:-2]) != c.frame_error_control_field:
        raise FrameParseError("TM frame FECF (CRC-16) check failed")
    return c


def build(data_field: bytes, frame_len: int | None = None, *, scid: int = 0, vcid: int = 0,
          mc_count: int = 0, vc_count: int = 0, first_header_pointer: int = 0,
          ocf: bytes | None = None, fecf: bool = True, secondary_header: bytes | None = None,
          synchronization_flag: bool = False, packet_order_flag: bool = False,
          segment_length_identifier: int = 3) -> bytes:
    """Build one TM Transfer Frame.

    ``data_field`` must have exactly :func:`data_field_length` octets when ``frame_len`` is
    given (otherwise the frame is as long as needed). ``secondary_header`` is the secondary
    header data field (1..63 octets; the identification octet is added). ``ocf`` (4 octets)
    sets the OCF flag. The FECF, when ``fecf``, is computed.

    Raises
    ------
    FrameBuildError
        A data field of the wrong length for ``frame_len`` (or none at all), a secondary header
        or OCF of the wrong length, or a header field out of its range (SCID 0..1023, VCID 0..7,
        frame counts 0..255, first header pointer 0..2047, segment length identifier 0..3).
    """
    sh_len = 0 if secondary_header is None else 1 + len(secondary_header)
    if frame_len is not None:
        want = data_field_length(frame_len, ocf=ocf is not None, fecf=fecf,
                                 secondary_header_len=sh_len)
        if want < 1:
            raise FrameBuildError(f"TM frames of {frame_len} octets leave no data field")
        if len(data_field) != want:
            raise FrameBuildError(f"TM data field must be {want} octets for {frame_len}-octet "
                                  f"frames, got {len(data_field)}")
    if secondary_header is not None and not 1 <= len(secondary_header) <= 63:
        raise FrameBuildError("TM secondary header data field must be 1..63 octets, got "
                              f"{len(secondary_header)}")
    if ocf is not None and len(ocf) != 4:
        raise FrameBuildError(f"TM Operational Control Field must be 4 octets, got {len(ocf)}")
    for what, v, hi in (("Spacecraft Identifier", scid, 1023),
                        ("Virtual Channel Identifier", vcid, 7),
                        ("Master Channel Frame Count", mc_count, 255),
                        ("Virtual Channel Frame Count", vc_count, 255),
                        ("First Header Pointer", first_header_pointer, 0x7FF),
                        ("Segment Length Identifier", segment_length_identifier, 3)):
        if not isinstance(v, (int, np.integer)) or not 0 <= v <= hi:
            raise FrameBuildError(f"TM frame {what} must be an integer 0..{hi}, got {v!r}")
    hdr = TmPrimaryHeader.build(dict(
        spacecraft_identifier=scid, virtual_channel_identifier=vcid,
        operational_control_field_flag=ocf is not None, master_channel_frame_count=mc_count,
        virtual_channel_frame_count=vc_count,
        transfer_frame_secondary_header_flag=secondary_header is not None,
        synchronization_flag=synchronization_flag, packet_order_flag=packet_order_flag,
        segment_length_identifier=segment_length_identifier,
        first_header_pointer=first_header_pointer))
    out = bytearray(hdr)
    if secondary_header is not None:
        out += TmSecondaryHeader.build(dict(
            transfer_frame_secondary_header_identification=dict(
                transfer_frame_secondary_header_length=len(secondary_header)),
            transfer_frame_secondary_header_data_field=bytes(secondary_header)))
    out += data_field
    if ocf is not None:
        out += ocf
    if fecf:
        out += fecf_of(bytes(out)).to_bytes(2, "big")
    return bytes(out)


# ------------------------------------------------------------------------------------------------
# Demultiplexer

_PH = struct.Struct(">HBBH")
_SPH = struct.Struct(">HHH")


@dataclass(frozen=True)
class TmFrameDemuxParams:
    frame_len: int = param(1115, "TM Transfer Frame length", unit="bytes", lo=8,
                           hi=MAX_FRAME_LEN)
    fecf: bool = param(True, "Frames end with the FECF (CRC-16/CCITT); frames failing it are "
                             "dropped")
    vcids: tuple = param((), "Virtual channels to extract packets from (empty = all)")
    scid: int = param(-1, "Spacecraft Identifier to accept (-1 = any)", lo=-1, hi=1023)
    drop_idle: bool = param(True, "Drop Idle Packets (APID 0x7FF)")


class _VcState:
    __slots__ = ("expected", "synced", "buf", "buf_meta")

    def __init__(self):
        self.expected = None  # next Virtual Channel Frame Count
        self.synced = False  # buf starts at a packet boundary
        self.buf = b""  # the packet in progress
        self.buf_meta = None  # (frame meta, vc count) of the frame where buf[0] was

    def __deepcopy__(self, memo):
        s = _VcState()
        s.expected, s.synced, s.buf = self.expected, self.synced, self.buf
        s.buf_meta = None if self.buf_meta is None else (dict(self.buf_meta[0]),
                                                         self.buf_meta[1])
        return s


@register
class TmFrameDemux(Block):
    """TM Transfer Frames (PDUs) -> Space Packets (PDUs), CCSDS 132.0-B-3 section 4.1.4.2.

    Demultiplexes the virtual channels and extracts the Space Packets carried across frames
    with the First Header Pointer (packets spanning frames, several packets per frame).

    - Frames of the wrong length, version or spacecraft, or failing the FECF are dropped
      (and so is a frame whose meta says ``rs_ok: False``).
    - Idle frames (First Header Pointer 0x7FE) and Idle Packets (APID 0x7FF) are dropped.
    - A gap in a virtual channel's frame count (or a dropped frame) discards the packet in
      progress; extraction resynchronises at the next First Header Pointer.
    - Frames with the Synchronization Flag set (not packet-synchronised data) are skipped.

    Output PDU: the packet's bytes (primary header included); meta: the meta of the frame where
    the packet started, plus ``scid``, ``vcid``, ``vc_frame_count``, ``apid``, ``packet_type``,
    ``sequence_flags`` and ``sequence_count``. Counters in :attr:`stats`.

    Input
    -----
    pdu : list[Pdu]
        TM Transfer Frames of ``frame_len`` bytes (a frame whose meta says ``rs_ok:
        False`` is dropped).

    Output
    ------
    pdu : list[Pdu]
        Space Packets (primary header included); meta of the frame where the packet
        started plus ``scid``, ``vcid``, ``vc_frame_count``, ``apid``, ``packet_type``,
        ``sequence_flags``, ``sequence_count``.
    """

    name = "tm_demux"
    Params = TmFrameDemuxParams
    rate = Rate.PDU_TO_PDU
    in_type = "pdu"
    out_type = "pdu"

    def __init__(self, params=None, **kw):
        if "vcids" in kw and isinstance(kw["vcids"], list):
            kw["vcids"] = tuple(kw["vcids"])
        super().__init__(params, **kw)
        bad = [v for v in self.params.vcids if isinstance(v, bool) or not isinstance(v, int)
               or not 0 <= v <= 7]
        if bad:
            raise ParamError(f"{self.name}: parameter 'vcids' must hold integers 0..7, got "
                             f"{bad!r}")

    def _reset(self):
        self._vc: dict[int, _VcState] = {}
        self._vcset = frozenset(self.params.vcids)
        self.stats = dict(frames=0, bad_frames=0, fecf_errors=0, other_scid=0, other_vc=0,
                          idle_frames=0, gaps=0, resyncs=0, packets=0, idle_packets=0,
                          partial_discarded=0)

    def _process(self, pdus):
        out = []
        for pdu in pdus:
            self._frame(pdu, out)
        return out

    def _flush(self):
        for vs in self._vc.values():
            if vs.buf:
                self.stats["partial_discarded"] += 1
            vs.buf, vs.buf_meta = b"", None
        return []

    # -------------------------------------------------------------------------------------
    def _frame(self, pdu, out):
        p, st, d = self.params, self.stats, pdu.data
        st["frames"] += 1
        n = p.frame_len
        if len(d) != n or pdu.meta.get("rs_ok") is False:
            st["bad_frames"] += 1
            return
        if p.fecf and binascii.crc_hqx(d[:-2], 0xFFFF) != (d[-2] << 8 | d[-1]):
            st["fecf_errors"] += 1
            return
        w, _mc, vcc, status = _PH.unpack_from(d)
        if w >> 14:
            st["bad_frames"] += 1
            return
        scid, vcid = (w >> 4) & 0x3FF, (w >> 1) & 7
        if p.scid >= 0 and scid != p.scid:
            st["other_scid"] += 1
            return
        if self._vcset and vcid not in self._vcset:
            st["other_vc"] += 1
            return
        start = PRIMARY_HEADER_LEN
        if status & 0x8000:
            start += (d[6] & 0x3F) + 1
        end = n - 2 * p.fecf - 4 * (w & 1)
        fhp = status & 0x7FF
        vs = self._vc.get(vcid)
        if vs is None:
            vs = self._vc[vcid] = _VcState()
        if vs.expected is not None and vcc != vs.expected:
            st["gaps"] += 1
            self._lose(vs)
        vs.expected = (vcc + 1) & 0xFF
        if start >= end or (d[6] >> 6 if status & 0x8000 else 0):
            st["bad_frames"] += 1
            self._lose(vs)
            return
        if fhp == FHP_IDLE:
            st["idle_frames"] += 1
            self._lose(vs)
            return
        if status & 0x4000:  # synchronization flag: not packet-synchronised data
            self._lose(vs)
            return
        data = d[start:end]
        if fhp != FHP_NO_PACKET and fhp >= len(data):
            st["bad_frames"] += 1
            self._lose(vs)
            return
        fmeta = (pdu.meta, vcc)
        info = (scid, vcid)
        if vs.synced:
            if fhp == FHP_NO_PACKET:
                vs.buf += data
                self._extract(vs, fmeta, info, out)
                return
            vs.buf += data[:fhp]
            self._extract(vs, fmeta, info, out)
            if vs.buf:  # the header pointer disagrees with the packet lengths
                st["resyncs"] += 1
                st["partial_discarded"] += 1
        elif fhp == FHP_NO_PACKET:
            return
        else:
            st["resyncs"] += 1
        vs.synced, vs.buf, vs.buf_meta = True, data[fhp:], fmeta
        self._extract(vs, fmeta, info, out)

    def _lose(self, vs):
        if vs.buf:
            self.stats["partial_discarded"] += 1
        vs.synced, vs.buf, vs.buf_meta = False, b"", None

    def _extract(self, vs, fmeta, info, out):
        buf, pos, nb = vs.buf, 0, len(vs.buf)
        drop_idle = self.params.drop_idle
        st = self.stats
        while nb - pos >= 6:
            a, b, dl = _SPH.unpack_from(buf, pos)
            if a >> 13:  # packet version not 0: lost packet synchronisation
                st["partial_discarded"] += 1
                vs.synced, vs.buf, vs.buf_meta = False, b"", None
                return
            end = pos + 7 + dl
            if end > nb:
                break
            apid = a & 0x7FF
            if apid == sp.IDLE_APID and drop_idle:
                st["idle_packets"] += 1
            else:
                m, vcc = vs.buf_meta if pos == 0 else fmeta
                meta = dict(m)
                meta.update(scid=info[0], vcid=info[1], vc_frame_count=vcc, apid=apid,
                            packet_type=(a >> 12) & 1, sequence_flags=b >> 14,
                            sequence_count=b & 0x3FFF)
                out.append(Pdu(buf[pos:end], meta))
                st["packets"] += 1
            pos = end
        if pos:
            vs.buf, vs.buf_meta = buf[pos:], fmeta
        if not vs.buf:
            vs.buf_meta = None

    @classmethod
    def example(cls, rng):
        pkts = [sp.build(int(rng.integers(0, 0x7FF)), bytes(rng.integers(0, 256, int(n))
                                                             .astype("u1")),
                         sequence_count=i)
                for i, n in enumerate(rng.integers(1, 150, 12))]
        frames = sp.packets_to_frames(pkts, 64, scid=42, vcid=1)
        other = sp.packets_to_frames(pkts[:3], 64, scid=42, vcid=2)
        seq = frames[:3] + other[:1] + frames[4:]  # frame 3 of VC 1 lost
        pdus = [Pdu(f, {"sample_index": 1000 * i}) for i, f in enumerate(seq)]
        return cls(frame_len=64, fecf=True, vcids=(1,)), pdus


FUZZ_TARGETS = {
    "tm_frame": lambda b: parse(b, fecf=True, check_fecf=False),
    "tm_frame_1115": lambda b: parse(b, 1115, fecf=True),
    "tm_frame_nofecf": lambda b: parse(b, fecf=False),
}

_SEED_PACKETS = [sp.build(0x21, bytes(range(40))), sp.build(0x22, bytes(90)),
                 sp.build(0x23, b"x" * 7)]
#: valid inputs for the fuzz runner (name -> list of bytes), keyed like FUZZ_TARGETS
FUZZ_SEEDS = {
    "tm_frame": sp.packets_to_frames(_SEED_PACKETS, 64, scid=5, vcid=1)
    + sp.packets_to_frames(_SEED_PACKETS, 96, ocf=b"OCF!")
    + [build(bytes(51), 64, secondary_header=b"abcd", first_header_pointer=FHP_IDLE)],
    "tm_frame_1115": sp.packets_to_frames(_SEED_PACKETS * 8, 1115),
    "tm_frame_nofecf": sp.packets_to_frames(_SEED_PACKETS, 64, fecf=False),
}
