"""HDLC framing of AX.25 (ISO/IEC 13239; AX.25 v2.2 sections 3.1, 3.6-3.10): flags, bit
stuffing, FCS, and the 9600 bd line coding in front (NRZI, G3RUH scrambler).

On the air (transmission order)::

    7E .. 7E | frame (address .. info) + FCS, each byte LSB first, bit-stuffed | 7E .. 7E

* Flag ``0x7E`` = ``01111110``; flags are never stuffed.
* Bit stuffing: after five consecutive 1s of frame data a 0 is inserted; the receiver removes
  a 0 that follows five 1s. Six 1s then a 0 is a flag; seven or more 1s is an abort.
* FCS: CRC-16/X.25 over the frame, sent low byte first (:func:`orbitlink.modem.fec.crc.fcs_x25`).
* 9600 bd (G3RUH/K9NG) transmit order: HDLC bits -> NRZI -> G3RUH scrambler; the receiver
  descrambles, then NRZI-decodes (:mod:`orbitlink.modem.fec.scramble`, :mod:`~.line`).

:class:`HdlcDeframer` (u8 bits -> PDUs) and :class:`HdlcFramer` (PDUs -> u8 bits) are streaming
blocks (chunk contract); :func:`hdlc_frame` / :func:`hdlc_deframe` are whole-array conveniences.
PDUs carry the frame *without* its FCS (as KISS does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orbitlink.framing.errors import FrameParseError
from orbitlink.modem.block import Block, ParamError, Pdu, Rate, param, register
from orbitlink.modem.fec.crc import fcs_x25
from orbitlink.modem.fec.hdlc import deframe_bits, new_deframe_state
from orbitlink.modem.fec.line import NrziDecoder, NrziEncoder, check_bits
from orbitlink.modem.fec.scramble import G3ruhDescrambler, G3ruhScrambler

__all__ = ["HdlcDeframer", "HdlcFramer", "hdlc_frame", "hdlc_deframe", "stuff_bits",
           "FLAG_BITS", "FUZZ_TARGETS"]

#: The flag 0x7E in transmission order.
FLAG_BITS = np.array([0, 1, 1, 1, 1, 1, 1, 0], np.uint8)

def stuff_bits(bits: np.ndarray) -> np.ndarray:
    """Insert a 0 after every run of five 1s (HDLC bit stuffing), vectorised.

    A stuffed 0 resets the run, so inside a run of n 1s a 0 follows the 5th, 10th, ... 1.
    """
    bits = np.asarray(bits, np.uint8)
    if not len(bits):
        return bits.copy()
    # position of each bit inside its run of 1s (1-based), 0 for zeros
    idx = np.arange(1, len(bits) + 1)
    last_zero = np.maximum.accumulate(np.where(bits == 0, idx, 0))
    run = np.where(bits == 1, idx - last_zero, 0)
    after = np.nonzero((run > 0) & (run % 5 == 0))[0] + 1
    return np.insert(bits, after, np.uint8(0))


def _frame_bits(data: bytes, pre: int, post: int) -> np.ndarray:
    body = np.frombuffer(bytes(data) + fcs_x25(data), np.uint8)
    stuffed = stuff_bits(np.unpackbits(body, bitorder="little"))
    return np.concatenate([np.tile(FLAG_BITS, pre), stuffed, np.tile(FLAG_BITS, post)])


# ------------------------------------------------------------------------------------------------
# deframer


@dataclass(frozen=True)
class HdlcDeframerParams:
    """Parameters of :class:`HdlcDeframer`."""

    nrzi: bool = param(False, "NRZI-decode the input first (a 0 is a level change); "
                       "initial level 0")
    g3ruh: bool = param(False, "G3RUH-descramble (1 + x^12 + x^17) the input first, before "
                        "NRZI decoding; register initially zero")
    min_length: int = param(15, "Shortest frame accepted, FCS excluded (AX.25: 2 addresses "
                            "+ control = 15)", unit="bytes", lo=1, hi=65535)
    max_length: int = param(2048, "Longest frame accepted, FCS excluded (longer ones are "
                            "dropped)", unit="bytes", lo=1, hi=65535)
    emit_bad_fcs: bool = param(False, "Also emit frames whose FCS is wrong "
                               "(meta fcs_ok = False)")


@register
class HdlcDeframer(Block):
    """HDLC deframer: u8 bits in, one PDU per frame between flags out.

    Input: uint8 bits (0/1) in transmission order -- raw channel bits when ``g3ruh`` and/or
    ``nrzi`` are set (descrambled, then NRZI-decoded, as a 9600 bd receiver does), otherwise
    HDLC bits. Frames are searched between ``0x7E`` flags; stuffed 0s are removed, bytes are
    assembled LSB first, a run of seven 1s aborts the frame. A frame is kept if it holds a
    whole number of bytes, ``min_length <= len <= max_length`` (FCS excluded) and its
    CRC-16/X.25 FCS is good (or ``emit_bad_fcs``).

    Output PDUs: the frame without FCS; meta ``sample_index`` = absolute index (input items,
    i.e. channel bits) of the first bit of the opening flag, and ``fcs_ok``. State (partial
    frame, line decoders) carries across chunks; a frame unfinished at ``flush`` is dropped.
    Counters: ``self.stats`` (``frames``, ``fcs_errors``).

    Input
    -----
    u8 : ndarray of uint8, shape (n,)
        Bits (0 or 1) in transmission order: raw channel bits with ``g3ruh`` and/or
        ``nrzi``, else HDLC bits.

    Output
    ------
    pdu : list[Pdu]
        Frames between flags without their FCS (e.g. AX.25 frames); meta
        ``sample_index`` (absolute input bit index of the opening flag) and ``fcs_ok``.
    """

    name = "hdlc_deframer"
    Params = HdlcDeframerParams
    rate = Rate.STREAM_TO_PDU
    in_type = "u8"
    out_type = "pdu"

    def _reset(self):
        p = self.params
        if p.min_length > p.max_length:
            raise ParamError(f"{self.name}: min_length {p.min_length} > max_length "
                             f"{p.max_length}")
        self._desc = G3ruhDescrambler() if p.g3ruh else None
        self._nrzi = NrziDecoder() if p.nrzi else None
        self._state = new_deframe_state()
        self._buf = np.zeros(p.max_length + 2, np.uint8)
        self.stats = {"frames": 0, "fcs_errors": 0}

    def _process(self, x):
        x = check_bits(x, self.name)
        if self._desc is not None:
            x = self._desc.process(x)
        if self._nrzi is not None:
            x = self._nrzi.process(x)
        if not len(x):
            return []
        out_bytes = np.empty(len(self._buf) + len(x) // 8 + 8, np.uint8)
        out_frames = np.empty((len(x) // 8 + 2, 4), np.int64)
        n = deframe_bits(np.ascontiguousarray(x), self._state, self._buf,
                         self.params.min_length + 2, out_bytes, out_frames)
        pdus = []
        for start, off, nb, ok in out_frames[:n].tolist():
            ok = bool(ok)
            self.stats["frames"] += 1
            if not ok:
                self.stats["fcs_errors"] += 1
                if not self.params.emit_bad_fcs:
                    continue
            pdus.append(Pdu(out_bytes[off:off + nb - 2].tobytes(),
                            {"sample_index": int(start), "fcs_ok": ok}))
        return pdus

    @classmethod
    def example(cls, rng):
        frames = [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes()
                  for n in (15, 40, 3, 120, 60)]
        frames.append(b"\x7e\xff\xff\x7e" * 6)  # stuffing
        bits = [rng.integers(0, 2, 50).astype(np.uint8)]
        for i, f in enumerate(frames):
            b = _frame_bits(f, 2, 1)
            if i == 3:
                b = b.copy()
                b[200] ^= 1  # a bad FCS, emitted with fcs_ok False
            bits += [b, rng.integers(0, 2, 30).astype(np.uint8)]
        x = np.concatenate(bits)
        x = G3ruhScrambler().run(NrziEncoder().run(x))
        return cls(nrzi=True, g3ruh=True, emit_bad_fcs=True), x


# ------------------------------------------------------------------------------------------------
# framer


@dataclass(frozen=True)
class HdlcFramerParams:
    """Parameters of :class:`HdlcFramer`."""

    preamble_flags: int = param(1, "Flags sent before each frame", unit="flags", lo=1,
                                hi=10000)
    postamble_flags: int = param(1, "Flags sent after each frame", unit="flags", lo=1,
                                 hi=10000)
    nrzi: bool = param(False, "NRZI-encode the output (a 0 toggles the level); initial "
                       "level 0")
    g3ruh: bool = param(False, "G3RUH-scramble (1 + x^12 + x^17) the output, after NRZI; "
                        "register initially zero")


@register
class HdlcFramer(Block):
    """HDLC framer: PDUs (frames without FCS) in, u8 bits out.

    Each PDU becomes ``preamble_flags`` flags, the frame + CRC-16/X.25 FCS (low byte first)
    sent LSB first and bit-stuffed, then ``postamble_flags`` flags; then optional NRZI and
    G3RUH scrambling (in that order, as 9600 bd AX.25 transmits), whose state carries from
    PDU to PDU and chunk to chunk.

    Input
    -----
    pdu : list[Pdu]
        Frames without FCS (e.g. AX.25 frames).

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Channel bits (0 or 1): flags, the frame and its CRC-16/X.25 FCS sent LSB first and
        bit-stuffed, flags; NRZI-encoded and G3RUH-scrambled when set.
    """

    name = "hdlc_framer"
    Params = HdlcFramerParams
    rate = Rate.PDU_TO_STREAM
    in_type = "pdu"
    out_type = "u8"

    def _reset(self):
        self._nrzi = NrziEncoder() if self.params.nrzi else None
        self._scr = G3ruhScrambler() if self.params.g3ruh else None

    def _process(self, pdus):
        parts = []
        for p in pdus:
            data = p.data if isinstance(p, Pdu) else p
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"{self.name} needs Pdu or bytes, not {type(p).__name__}")
            parts.append(_frame_bits(bytes(data), self.params.preamble_flags,
                                     self.params.postamble_flags))
        x = np.concatenate(parts) if parts else np.zeros(0, np.uint8)
        if self._nrzi is not None:
            x = self._nrzi.process(x)
        if self._scr is not None:
            x = self._scr.process(x)
        return x

    @classmethod
    def example(cls, rng):
        pdus = [Pdu(rng.integers(0, 256, int(n), dtype=np.uint8).tobytes(), {"i": i})
                for i, n in enumerate((15, 1, 70, 0, 33, 255))]
        return cls(preamble_flags=3, postamble_flags=2, nrzi=True, g3ruh=True), pdus


# ------------------------------------------------------------------------------------------------
# conveniences


def hdlc_frame(frames, *, preamble_flags: int = 1, postamble_flags: int = 1, nrzi: bool = False,
               g3ruh: bool = False) -> np.ndarray:
    """Frame ``frames`` (bytes or an iterable of bytes, without FCS) into uint8 bits."""
    if isinstance(frames, (bytes, bytearray, memoryview)):
        frames = [frames]
    return HdlcFramer(preamble_flags=preamble_flags, postamble_flags=postamble_flags,
                      nrzi=nrzi, g3ruh=g3ruh).run([Pdu(bytes(f)) for f in frames])


def hdlc_deframe(bits, **params) -> list[Pdu]:
    """All frames of a whole bit array (``params`` as :class:`HdlcDeframerParams`)."""
    return HdlcDeframer(**params).run(bits)


def _fuzz_deframe(data: bytes) -> list[Pdu]:
    """Fuzz target: bytes -> bits (LSB first) -> deframer with bad frames emitted."""
    if not isinstance(data, (bytes, bytearray)):
        raise FrameParseError("hdlc: fuzz input must be bytes")
    bits = np.unpackbits(np.frombuffer(bytes(data), np.uint8), bitorder="little")
    return HdlcDeframer(min_length=1, emit_bad_fcs=True).run(bits)


FUZZ_TARGETS = {"hdlc_deframer": _fuzz_deframe}


# --------------------------------------------------------------------------------------------
# the framing a link names (orbitlink.framing.registry)

from orbitlink.framing.registry import Framing, register_framing  # noqa: E402


class _HdlcFraming(Framing):
    """AX.25 frames over HDLC: a payload is an AX.25 frame without its FCS."""

    def check_payload(self, opts, data, ctx):
        from orbitlink.framing import ax25

        try:
            ax25.parse(data)
        except FrameParseError as e:
            return str(e).rstrip(".")
        return None

    def random_payload(self, opts, rng, i):
        from orbitlink.framing import ax25

        data = super().random_payload(opts, rng, i)
        return ax25.build(ax25.ui_frame("CQ", f"N0CALL-{i % 16}", data))


register_framing(_HdlcFraming(
    name="hdlc", doc="AX.25 over HDLC (flags, bit stuffing, FCS), optional NRZI and G3RUH",
    framer=HdlcFramer, deframer=HdlcDeframer,
    # links send 16 flags of preamble, NRZI-coded, as TNCs do; the bare block sends one
    presets={"nrzi": True, "preamble_flags": 16, "postamble_flags": 4},
    emit_failed="emit_bad_fcs", index="bit"))
