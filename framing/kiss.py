"""KISS framing (K9NG/KA9Q, "The KISS TNC: A simple Host-to-TNC communications protocol",
ARRL 6th Computer Networking Conference, 1987).

A KISS frame is ``FEND, command byte, escaped data, FEND`` with

* ``FEND`` 0xC0, ``FESC`` 0xDB, ``TFEND`` 0xDC, ``TFESC`` 0xDD: inside a frame, 0xC0 is sent as
  ``DB DC`` and 0xDB as ``DB DD``;
* command byte = ``port << 4 | command``; command 0 = data frame (an AX.25 frame without FCS),
  1..6 TNC parameters (TXDELAY, P, SLOTTIME, TXtail, FullDuplex, SetHardware), 0xFF = return.

Back-to-back FENDs are allowed (empty frames are skipped). A ``.kiss`` file is KISS frames
concatenated (as direwolf's ``kissutil`` and gr-satellites' ``kiss_file_sink`` write them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from orbitlink import OrbitlinkError
from orbitlink.framing.errors import FrameBuildError, FrameParseError

__all__ = ["FEND", "FESC", "TFEND", "TFESC", "CMD_DATA", "KissFrame", "escape", "unescape",
           "encode", "decode", "decode_stream", "KissDecoder", "read_kiss_file",
           "write_kiss_file", "KissFileError", "FUZZ_TARGETS"]

FEND, FESC, TFEND, TFESC = 0xC0, 0xDB, 0xDC, 0xDD
CMD_DATA = 0
CMD_RETURN = 0xFF


class KissFileError(OrbitlinkError, OSError):
    """A ``.kiss`` file that cannot be read or written (message: one sentence naming it)."""


@dataclass(frozen=True)
class KissFrame:
    """One KISS frame: port 0..15, command 0..15 (or port 15 / command 15 for 0xFF), data."""

    port: int
    command: int
    data: bytes

    @property
    def is_data(self) -> bool:
        return self.command == CMD_DATA


def escape(data: bytes) -> bytes:
    """KISS-escape ``data`` (FESC first, so that escapes are not escaped twice)."""
    return bytes(data).replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")


def unescape(data: bytes) -> bytes:
    """Undo :func:`escape`; :class:`FrameParseError` on FESC not followed by TFEND/TFESC."""
    data = bytes(data)
    if b"\xdb" not in data:
        return data
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        j = data.find(b"\xdb", i)
        if j < 0:
            out += data[i:]
            break
        out += data[i:j]
        if j + 1 >= n:
            raise FrameParseError("KISS frame: ends with a lone FESC")
        nxt = data[j + 1]
        if nxt == TFEND:
            out.append(FEND)
        elif nxt == TFESC:
            out.append(FESC)
        else:
            raise FrameParseError(f"KISS frame: FESC followed by 0x{nxt:02X}, not TFEND/TFESC")
        i = j + 2
    return bytes(out)


def encode(data: bytes, port: int = 0, command: int = CMD_DATA) -> bytes:
    """One KISS frame: ``C0, port << 4 | command, escape(data), C0``.

    Raises :class:`~orbitlink.framing.errors.FrameBuildError` when ``port`` or ``command`` is
    not an integer 0..15.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"KISS encode needs bytes, not {type(data).__name__}")
    for what, v in (("port", port), ("command", command)):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 15:
            raise FrameBuildError(f"KISS {what} must be an integer 0..15, got {v!r}")
    return bytes((FEND, (port << 4) | command)) + escape(data) + bytes((FEND,))


def _frame_from_body(body: bytes) -> KissFrame:
    cmd = body[0]
    return KissFrame(cmd >> 4, cmd & 0x0F, unescape(body[1:]))


def decode(kiss: bytes) -> KissFrame:
    """Decode exactly one KISS frame (leading/trailing FENDs optional).

    Raises
    ------
    FrameParseError
        Empty frame, more than one frame, bad escape, or a command byte that is escaped.
    """
    if not isinstance(kiss, (bytes, bytearray, memoryview)):
        raise FrameParseError(f"KISS frame: need bytes, not {type(kiss).__name__}")
    bodies = [b for b in bytes(kiss).split(b"\xc0") if b]
    if len(bodies) != 1:
        raise FrameParseError(f"KISS frame: expected one frame, found {len(bodies)}")
    if bodies[0][0] == FESC:
        raise FrameParseError("KISS frame: the command byte is an escape")
    return _frame_from_body(bodies[0])


class KissDecoder:
    """Streaming KISS decoder: feed any pieces of a byte stream, get whole frames.

    Bytes before the first FEND are discarded (a frame starts at a FEND). Malformed frames
    (bad escapes, an escaped command byte) are dropped and counted in ``errors``; frames
    longer than ``max_frame`` bytes (escaped) are dropped and counted in ``overflows``.
    """

    def __init__(self, max_frame: int = 4096):
        self.max_frame = int(max_frame)
        self.reset()

    def reset(self) -> None:
        self._buf = bytearray()
        self._in_frame = False
        self._overflow = False
        self.errors = 0
        self.overflows = 0

    def feed(self, data: bytes) -> list[KissFrame]:
        out = []
        data = bytes(data)
        i, n = 0, len(data)
        while i < n:
            j = data.find(b"\xc0", i)
            if j < 0:
                self._append(data[i:])
                break
            self._append(data[i:j])
            if self._in_frame and self._buf and not self._overflow:
                f = self._finish(bytes(self._buf))
                if f is not None:
                    out.append(f)
            self._buf.clear()
            self._overflow = False
            self._in_frame = True
            i = j + 1
        return out

    def _append(self, piece: bytes) -> None:
        if not self._in_frame or self._overflow or not piece:
            return
        if len(self._buf) + len(piece) > self.max_frame:
            self._overflow = True
            self.overflows += 1
            self._buf.clear()
            return
        self._buf += piece

    def _finish(self, body: bytes):
        if body[0] == FESC:
            self.errors += 1
            return None
        try:
            return _frame_from_body(body)
        except FrameParseError:
            self.errors += 1
            return None


def decode_stream(data: bytes) -> list[KissFrame]:
    """Every well-formed frame of a whole KISS byte stream (malformed ones dropped)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FrameParseError(f"KISS stream: need bytes, not {type(data).__name__}")
    return KissDecoder(max_frame=max(4096, len(data))).feed(data)


def read_kiss_file(path: str | os.PathLike, data_only: bool = True) -> list[bytes] | list[KissFrame]:
    """Frames of a ``.kiss`` file: the data-frame payloads (``data_only``) or every frame.

    Malformed frames are skipped (see :class:`KissDecoder`); a file that cannot be read raises
    :class:`KissFileError`.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise KissFileError(f"{os.fspath(path)}: cannot read the KISS file "
                            f"({e.strerror or e})") from None
    frames = decode_stream(raw)
    return [f.data for f in frames if f.is_data] if data_only else frames


def write_kiss_file(path: str | os.PathLike, frames, port: int = 0) -> None:
    """Write frames (bytes, data frames on ``port``) as a ``.kiss`` file (:class:`KissFileError`
    when it cannot be written)."""
    try:
        with open(path, "wb") as fh:
            for f in frames:
                fh.write(encode(f, port) if not isinstance(f, KissFrame)
                         else encode(f.data, f.port, f.command))
    except OSError as e:
        raise KissFileError(f"{os.fspath(path)}: cannot write the KISS file "
                            f"({e.strerror or e})") from None


def _fuzz_stream(data: bytes) -> list[KissFrame]:
    return decode_stream(data)


FUZZ_TARGETS = {"kiss": decode, "kiss_stream": _fuzz_stream}


def iter_kiss_file(path: str | os.PathLike, block_size: int = 1 << 16):
    """The data-frame payloads of a ``.kiss`` file, read block by block (any file size).

    Malformed frames are skipped as by :func:`read_kiss_file`; a file that cannot be read raises
    :class:`KissFileError`.
    """
    dec = KissDecoder(max_frame=1 << 20)
    try:
        with open(path, "rb") as fh:
            while True:
                raw = fh.read(block_size)
                if not raw:
                    break
                for f in dec.feed(raw):
                    if f.is_data:
                        yield f.data
    except OSError as e:
        raise KissFileError(f"{os.fspath(path)}: cannot read the KISS file "
                            f"({e.strerror or e})") from None
