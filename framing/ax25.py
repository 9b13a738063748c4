"""AX.25 link-layer frames (AX.25 Link Access Protocol for Amateur Packet Radio, version 2.2,
TAPR, July 1998), described with ``construct``.

Frame (without flags and FCS, which belong to HDLC, see :mod:`orbitlink.framing.hdlc`)::

    | Address (14..70 octets) | Control (1) | PID (1, I and UI only) | Information (0..N) |

Sections of the standard:

* 3.2 / 3.12 Address field and address-field encoding: a destination subfield, a source
  subfield, then up to eight layer-2 repeater (digipeater) subfields (3.12.3/3.12.4), 7 octets
  each: six callsign characters (ASCII upper case and digits, space padded) each shifted left
  one bit, then the SSID octet ``C R R S S S S X`` (bit 7 to bit 0): ``C`` the
  command/response bit in the destination and source subfields (6.1.2), ``H`` the
  has-been-repeated bit in repeater subfields; ``RR`` reserved (1 1 when unused); ``SSID`` the
  secondary station identifier 0..15; ``X`` the HDLC address-extension bit, 1 only in the last
  octet of the address field.
* 3.3 / 4.2 / 4.3 Control field, modulo 8 (one octet): I frames ``N(R) P N(S) 0``,
  S frames ``N(R) P/F S S 0 1`` (RR, RNR, REJ, SREJ), U frames ``M M M P/F M M 1 1``
  (SABME, SABM, DISC, DM, UA, FRMR, UI, XID, TEST). Modulo-128 (two-octet) control fields,
  negotiated by SABME/XID, cannot be told apart from the frame alone and are not decoded.
* 3.4 PID field (I and UI frames only), 3.5 Information field.

Command/response (6.1.2): destination C = 1 and source C = 0 is a command, the reverse a
response; equal bits are the older (v1) form. direwolf sets C in *both* (SSID octets E0/E1 on
UI frames): accepted and preserved.

:func:`parse` turns frame bytes into an :class:`Ax25Frame`; :func:`build` is its inverse
(``build(parse(b)) == b`` for every frame ``parse`` accepts). Bad bytes raise
:class:`~orbitlink.framing.errors.FrameParseError` and nothing else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from construct import (BitsInteger, BitStruct, Bytes, ConstructError, Flag, GreedyBytes, If,
                       Int8ub, RepeatUntil, Struct, obj_, this)

from orbitlink.framing.errors import FrameBuildError, FrameParseError

__all__ = ["Ax25Address", "Ax25Frame", "Ax25BuildError", "parse", "build", "ui_frame",
           "SSID_OCTET", "ADDRESS", "AX25_FRAME", "AX25_FRAME_COMPILED", "FUZZ_TARGETS",
           "MAX_DIGIPEATERS"]

MAX_DIGIPEATERS = 8
PID_NO_LAYER3 = 0xF0

# ------------------------------------------------------------------------------------------------
# construct formats (section 3.12: address-field encoding)

#: The SSID octet of an address subfield, bit 7 first (3.12.2, 3.12.3).
SSID_OCTET = BitStruct(
    "c_h" / Flag,  # C bit (destination/source) or H bit (repeater)
    "reserved" / BitsInteger(2),  # RR, 1 1 unless used by agreement
    "ssid" / BitsInteger(4),
    "extension" / Flag,  # X: 1 in the last octet of the address field
)

#: One address subfield: six callsign octets (ASCII << 1) and the SSID octet.
ADDRESS = Struct("callsign" / Bytes(6), "ssid" / SSID_OCTET)

_ADDRESS_FAST = Struct("callsign" / Bytes(6), "ssid" / Int8ub)


def _has_pid(ctx_control):
    return ((ctx_control & 1) == 0) | ((ctx_control & 0xEF) == 0x03)


#: The whole frame (no FCS). The SSID octets are kept as integers (see :data:`SSID_OCTET`
#: for their bits) so that the format compiles to fast code.
AX25_FRAME = Struct(
    "address" / RepeatUntil(obj_.ssid & 1 == 1, _ADDRESS_FAST),
    "control" / Int8ub,
    "pid" / If(_has_pid(this.control), Int8ub),
    "info" / GreedyBytes,
)
AX25_FRAME_COMPILED = AX25_FRAME.compile()

# ------------------------------------------------------------------------------------------------
# control field (4.2, 4.3), modulo 8

S_TYPES = {0x01: "RR", 0x05: "RNR", 0x09: "REJ", 0x0D: "SREJ"}
U_TYPES = {0x6F: "SABME", 0x2F: "SABM", 0x43: "DISC", 0x0F: "DM", 0x63: "UA", 0x87: "FRMR",
           0x03: "UI", 0xAF: "XID", 0xE3: "TEST"}


class Ax25BuildError(FrameBuildError):
    """Field values that cannot be encoded as an AX.25 frame."""


@dataclass(frozen=True)
class Ax25Address:
    """An address subfield: callsign (up to 6 characters), SSID 0..15, the C bit
    (destination/source) or H bit (repeater) as ``c_h``, and the two reserved bits."""

    call: str
    ssid: int = 0
    c_h: bool = False
    reserved: int = 3

    @property
    def h(self) -> bool:
        """Has-been-repeated bit (repeater subfields)."""
        return self.c_h

    @property
    def c(self) -> bool:
        """Command/response bit (destination and source subfields)."""
        return self.c_h

    def __str__(self) -> str:
        return self.call if self.ssid == 0 else f"{self.call}-{self.ssid}"

    @classmethod
    def from_text(cls, text: str, c_h: bool = False) -> "Ax25Address":
        """``"N0CALL-7"`` (``*`` suffix sets H) -> address."""
        t = text.strip()
        if t.endswith("*"):
            t, c_h = t[:-1], True
        call, _, ssid = t.partition("-")
        try:
            s = int(ssid) if ssid else 0
        except ValueError:
            raise Ax25BuildError(f"AX.25 address {text!r}: SSID is not a number") from None
        return cls(call.upper(), s, c_h)

    def encode(self, last: bool) -> bytes:
        call = self.call
        if not isinstance(call, str) or len(call) > 6 or not call.isascii():
            raise Ax25BuildError(f"AX.25 callsign {call!r} must be at most 6 ASCII characters")
        if not (isinstance(self.ssid, int) and 0 <= self.ssid <= 15):
            raise Ax25BuildError(f"AX.25 SSID {self.ssid!r} is not in 0..15")
        if not (isinstance(self.reserved, int) and 0 <= self.reserved <= 3):
            raise Ax25BuildError(f"AX.25 reserved bits {self.reserved!r} are not in 0..3")
        octet = (int(bool(self.c_h)) << 7) | (self.reserved << 5) | (self.ssid << 1) | int(last)
        return bytes((ord(ch) << 1) & 0xFE for ch in call.ljust(6)) + bytes((octet,))


_SHR1 = bytes(b >> 1 for b in range(256))  # callsign octet -> ASCII
_EXT_MASK = 0x010101010101  # extension bits of the six callsign octets


def _decode_address(a) -> Ax25Address:
    cs = a.callsign
    if int.from_bytes(cs, "big") & _EXT_MASK:
        raise FrameParseError("AX.25 frame: the address field ends inside a callsign "
                              "(extension bit set in a callsign octet)")
    o = a.ssid
    return Ax25Address(cs.translate(_SHR1).decode("ascii").rstrip(" "),
                       (o >> 1) & 0x0F, bool(o & 0x80), (o >> 5) & 3)


@dataclass(frozen=True)
class Ax25Frame:
    """A parsed AX.25 frame (no FCS).

    ``control`` is the raw modulo-8 control octet; ``pid`` is None unless the frame is I or
    UI; ``info`` is the information field (empty when absent).
    """

    dest: Ax25Address
    src: Ax25Address
    digipeaters: tuple = ()
    control: int = 0x03
    pid: int | None = PID_NO_LAYER3
    info: bytes = b""

    # --- control-field decoding ---------------------------------------------------------------
    @property
    def frame_type(self) -> str:
        """'I', 'S' or 'U'."""
        c = self.control
        return "I" if c & 1 == 0 else ("S" if c & 3 == 1 else "U")

    @property
    def kind(self) -> str:
        """I, RR, RNR, REJ, SREJ, SABME, SABM, DISC, DM, UA, FRMR, UI, XID, TEST or U?."""
        t = self.frame_type
        if t == "I":
            return "I"
        if t == "S":
            return S_TYPES[self.control & 0x0F]
        return U_TYPES.get(self.control & 0xEF, f"U?{self.control & 0xEF:02X}")

    @property
    def poll_final(self) -> bool:
        return bool(self.control & 0x10)

    @property
    def ns(self) -> int | None:
        """N(S), send sequence number (I frames)."""
        return (self.control >> 1) & 7 if self.frame_type == "I" else None

    @property
    def nr(self) -> int | None:
        """N(R), receive sequence number (I and S frames)."""
        return (self.control >> 5) & 7 if self.frame_type in "IS" else None

    @property
    def command(self) -> bool | None:
        """True for a command, False for a response, None for the v1 form (equal C bits)."""
        if self.dest.c_h == self.src.c_h:
            return None
        return self.dest.c_h

    def tnc2(self) -> str:
        """Monitor text ``SRC>DEST,DIGI*,...:info`` (non-printable bytes as ``<0xNN>``)."""
        path = ",".join([str(self.dest)] + [str(d) + ("*" if d.h else "")
                                            for d in self.digipeaters])
        info = "".join(chr(b) if 0x20 <= b < 0x7F else f"<0x{b:02x}>" for b in self.info)
        return f"{self.src}>{path}:{info}"


def _fail(msg: str):
    raise FrameParseError(f"AX.25 frame: {msg}")


def parse(frame: bytes) -> Ax25Frame:
    """Parse AX.25 frame bytes (address .. information, no FCS).

    Raises
    ------
    FrameParseError
        For anything that is not an AX.25 frame: truncated address field, a callsign octet
        with the extension bit, fewer than 2 or more than 10 addresses, no control field.
    """
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        raise FrameParseError(f"AX.25 frame: need bytes, not {type(frame).__name__}")
    frame = bytes(frame)
    if len(frame) < 15:
        _fail(f"{len(frame)} bytes is shorter than the 15-byte minimum")
    # the extension bit must end the address field at an SSID octet, within 10 subfields
    if frame[6] & 1:
        _fail("the address field ends after the destination (no source subfield)")
    end = 0
    for k in range(2, 2 + MAX_DIGIPEATERS + 1):
        if 7 * k > len(frame):
            _fail("the address field runs past the end of the frame")
        if frame[7 * k - 1] & 1:
            end = 7 * k
            break
    else:
        _fail(f"more than {MAX_DIGIPEATERS} digipeaters (no address-extension bit)")
    if frame[13] & 1 and end != 14:  # pragma: no cover - caught by the loop above
        _fail("inconsistent address field")
    if end >= len(frame):
        _fail("no control field")
    try:
        c = AX25_FRAME_COMPILED.parse(frame)
    except (ConstructError, struct.error, ValueError, IndexError, KeyError) as e:
        raise FrameParseError(f"AX.25 frame: truncated or malformed ({e})") from None
    try:
        addrs = [_decode_address(a) for a in c.address]
    except UnicodeDecodeError:  # pragma: no cover - 7-bit values always decode
        _fail("callsign is not ASCII")
    return Ax25Frame(addrs[0], addrs[1], tuple(addrs[2:]), c.control, c.pid, bytes(c.info))


def build(frame: Ax25Frame) -> bytes:
    """Encode an :class:`Ax25Frame` (no FCS); inverse of :func:`parse`.

    Raises
    ------
    Ax25BuildError
        Bad callsign/SSID, more than 8 digipeaters, control/PID out of range, PID present
        on a frame that has none (or missing on I/UI).
    """
    if not isinstance(frame, Ax25Frame):
        raise TypeError(f"build needs an Ax25Frame, not {type(frame).__name__}")
    digis = tuple(frame.digipeaters)
    if len(digis) > MAX_DIGIPEATERS:
        raise Ax25BuildError(f"AX.25 allows at most {MAX_DIGIPEATERS} digipeaters, "
                             f"got {len(digis)}")
    addrs = (frame.dest, frame.src) + digis
    out = bytearray()
    for i, a in enumerate(addrs):
        out += a.encode(last=i == len(addrs) - 1)
    if not (isinstance(frame.control, int) and 0 <= frame.control <= 0xFF):
        raise Ax25BuildError(f"AX.25 control octet {frame.control!r} is not in 0..255")
    out.append(frame.control)
    has_pid = frame.control & 1 == 0 or frame.control & 0xEF == 0x03
    if has_pid != (frame.pid is not None):
        raise Ax25BuildError("AX.25 PID must be given for I and UI frames and only for them")
    if has_pid:
        if not (isinstance(frame.pid, int) and 0 <= frame.pid <= 0xFF):
            raise Ax25BuildError(f"AX.25 PID {frame.pid!r} is not in 0..255")
        out.append(frame.pid)
    out += bytes(frame.info)
    return bytes(out)


def ui_frame(dest, src, info: bytes = b"", digipeaters=(), pid: int = PID_NO_LAYER3,
             command: bool = True, direwolf_c_bits: bool = False) -> Ax25Frame:
    """A UI frame from address texts (``"N0CALL-1"``) or :class:`Ax25Address` es.

    ``command`` sets the C bits as a v2 command (dest C = 1, src C = 0) or response;
    ``direwolf_c_bits`` sets both (as direwolf does).
    """
    def addr(a, c):
        a = a if isinstance(a, Ax25Address) else Ax25Address.from_text(a)
        return Ax25Address(a.call, a.ssid, c, a.reserved)

    d = addr(dest, command or direwolf_c_bits)
    s = addr(src, (not command) or direwolf_c_bits)
    digis = tuple(a if isinstance(a, Ax25Address) else Ax25Address.from_text(a)
                  for a in digipeaters)
    return Ax25Frame(d, s, digis, 0x03, pid, bytes(info))


FUZZ_TARGETS = {"ax25": parse}
