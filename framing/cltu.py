"""Communications Link Transmission Unit (CCSDS 231.0-B-4, TC Synchronization and Channel
Coding, section 5) and the TC pseudo-randomizer (section 6).

CLTU (section 5.2, figure 5-1)::

    | Start Sequence (16 bits) EB90 | codeblock 1 | ... | codeblock n | Tail Sequence (64 bits) |

Each codeblock is a BCH(63,56) codeblock of 8 octets (section 3, :mod:`orbitlink.modem.fec.bch`):
7 information octets then the complemented parity bits and a filler bit 0. The information
octets carry the (optionally randomized) TC Transfer Frame; the last codeblock is completed
with Fill Data 0x55 (alternating bits starting with 0, section 3.3.3 / 5.3). The Tail Sequence
C5C5C5C5C5C5C579 (section 5.2.4) is built to be an uncorrectable codeblock, so decoding stops
there.

Randomizer (section 6): h(x) = x^8 + x^6 + x^4 + x^3 + x^2 + x + 1, register preset to all
ones at the start of each CLTU, XORed bit by bit with the TC frame before BCH encoding; the
sequence starts 1111 1111 0011 1001 1001 1110 0101 1010 0110 1000 (FF 39 9E 5A 68 ...) and
repeats after 255 bits. Here the fill octets are appended after randomization (as Yamcs does),
so the decoder derandomizes, then cuts the frame to the TC Frame Length field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orbitlink.framing import ccsds_tc
from orbitlink.framing.errors import FrameBuildError, FrameParseError
from orbitlink.framing._base import BitFramer
from orbitlink.modem.block import Block, Pdu, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.fec.bch import BchStatus, bch_decode, bch_encode

__all__ = ["START_SEQUENCE", "TAIL_SEQUENCE", "FILL", "build_cltu", "parse_cltu",
           "randomize", "randomizer_sequence", "CltuDecoder", "CltuDecoderParams",
           "FUZZ_TARGETS"]

START_SEQUENCE = bytes.fromhex("EB90")  #: section 5.2.2
TAIL_SEQUENCE = bytes.fromhex("C5C5C5C5C5C5C579")  #: section 5.2.4
FILL = 0x55  #: section 3.3.3


def randomizer_sequence(n: int) -> bytes:
    """The first ``n`` octets of the TC randomizer sequence (231.0-B-4 section 6.2)."""
    s = [1] * 8  # s[7] = x^8 stage, the output
    out = bytearray()
    for _ in range(n):
        byte = 0
        for _ in range(8):
            byte = (byte << 1) | s[7]
            fb = s[1] ^ s[3] ^ s[4] ^ s[5] ^ s[6] ^ s[7]
            s = [fb] + s[:-1]
        out.append(byte)
    return bytes(out)


_RAND = np.frombuffer(randomizer_sequence(255), np.uint8)  # period 255 bits = 255 octets


def randomize(data: bytes) -> bytes:
    """XOR ``data`` with the TC randomizer sequence (its own inverse)."""
    n = len(data)
    seq = np.resize(_RAND, n)
    return (np.frombuffer(bytes(data), np.uint8) ^ seq).tobytes()


def build_cltu(tc_frame: bytes, randomize: bool = False) -> bytes:
    """Encode TC Transfer Frame bytes (one or more frames) into a CLTU.

    Parameters
    ----------
    tc_frame : bytes
        The data to carry (normally one TC frame from :func:`orbitlink.framing.ccsds_tc.build`).
    randomize : bool
        Apply the TC randomizer (section 6) to ``tc_frame`` first.

    Returns
    -------
    bytes
        Start sequence, ``ceil(len / 7)`` codeblocks (fill 0x55), tail sequence; sent MSB
        first (``np.unpackbits`` gives the bit stream).

    Raises
    ------
    FrameBuildError
        ``tc_frame`` is empty.
    """
    data = bytes(tc_frame)
    if not data:
        raise FrameBuildError("a CLTU needs at least one octet to carry")
    if randomize:
        data = _randomize(data)
    data += bytes([FILL]) * (-len(data) % 7)
    out = bytearray(START_SEQUENCE)
    for i in range(0, len(data), 7):
        out += bch_encode(data[i:i + 7])
    out += TAIL_SEQUENCE
    return bytes(out)


_randomize = randomize


def _strip_fill(data: bytes) -> tuple[bytes, bool]:
    """Cut decoded data to the TC frame's length field when it is plausible."""
    if len(data) >= ccsds_tc.PRIMARY_HEADER_LEN + 1:
        n = ccsds_tc.frame_length(data)
        if ccsds_tc.PRIMARY_HEADER_LEN < n <= len(data) and len(data) - n < 7:
            return data[:n], True
    return data, False


def parse_cltu(cltu: bytes, randomize: bool = False, mode: str = "sec") -> tuple[bytes, int]:
    """Decode a whole CLTU given as bytes (byte aligned, no bit slips).

    Returns ``(tc_frame_bytes, corrected)``: the carried data, derandomized if asked, cut to
    the TC frame length field when it is plausible (fill removed), and the number of corrected
    codeblocks.

    Raises
    ------
    FrameParseError
        No start sequence, a length that is not start + n codeblocks + tail, an uncorrectable
        codeblock before the tail, or a missing tail.
    FrameBuildError
        ``mode`` is not ``"sec"`` or ``"ted"``.
    """
    if mode not in ("sec", "ted"):
        raise FrameBuildError(f"CLTU decoding mode must be 'sec' or 'ted', got {mode!r}")
    cltu = bytes(cltu)
    if cltu[:2] != START_SEQUENCE:
        raise FrameParseError("CLTU does not begin with the start sequence EB90")
    body = cltu[2:]
    if len(body) < 16 or len(body) % 8:
        raise FrameParseError(f"CLTU of {len(cltu)} octets is not start sequence + codeblocks "
                              "+ tail sequence")
    if body[-8:] != TAIL_SEQUENCE:
        raise FrameParseError("CLTU does not end with the tail sequence")
    out, corrected = bytearray(), 0
    for i in range(0, len(body) - 8, 8):
        info, status = bch_decode(body[i:i + 8], mode)
        if status == BchStatus.UNCORRECTABLE:
            raise FrameParseError(f"CLTU codeblock {i // 8} is uncorrectable")
        corrected += status == BchStatus.CORRECTED
        out += info
    data = bytes(out)
    if randomize:
        data = _randomize(data)
    return _strip_fill(data)[0], corrected


# ------------------------------------------------------------------------------------------------

_START_BITS = np.unpackbits(np.frombuffer(START_SEQUENCE, np.uint8))
_TAIL_BITS = np.unpackbits(np.frombuffer(TAIL_SEQUENCE, np.uint8))


@dataclass(frozen=True)
class CltuDecoderParams:
    max_errors: int = param(0, "Start sequence bit errors tolerated", unit="bits", lo=0, hi=3)
    randomize: bool = param(False, "Derandomize the decoded data (231.0-B-4 section 6)")
    mode: str = param("sec", "BCH decoding: single error correction or triple error detection",
                      choices=("sec", "ted"))
    max_codeblocks: int = param(147, "Codeblocks in a CLTU at most; a longer one is cut there "
                                     "(147 carry a 1024-octet TC frame)", lo=1, hi=65536)


@register
class CltuDecoder(Block):
    """Hard bits (u8, 0/1) -> CLTU contents (PDUs), CCSDS 231.0-B-4 section 5.3.

    Searches the start sequence EB90 (at most ``max_errors`` bit errors), then decodes BCH
    codeblocks (correcting one bit error per codeblock in SEC mode) until one is uncorrectable
    (the tail sequence, or too many errors) or ``max_codeblocks`` are read, and emits the
    decoded data, derandomized if asked, with the fill removed using the TC frame length field
    when it is plausible. Then it searches the next start sequence. At the end of the stream a
    CLTU in progress is emitted as decoded so far.

    Output meta: ``sample_index`` (absolute index of the input bit where the start sequence
    begins), ``start_errors``, ``codeblocks``, ``corrected`` (codeblocks with a corrected bit),
    ``tail`` (ended on the exact tail sequence), ``fill_removed`` (cut to the TC frame length).

    Input
    -----
    u8 : ndarray of uint8, shape (n,)
        Hard channel bits (0 or 1) in transmission order (after any NRZ-M decoding).

    Output
    ------
    pdu : list[Pdu]
        The decoded CLTU contents (TC frames, fill removed when the frame length field is
        plausible); meta ``sample_index`` (absolute input index of the start sequence),
        ``start_errors``, ``codeblocks``, ``corrected``, ``tail``, ``fill_removed``.
    """

    name = "cltu_decoder"
    Params = CltuDecoderParams
    rate = Rate.STREAM_TO_PDU
    in_type = "u8"
    out_type = "pdu"

    def _reset(self):
        self._buf = StreamBuffer(np.uint8)  # input bits from absolute index .base on
        self._cur = None  # CLTU in progress: dict

    def _process(self, bits):
        self._buf.append(bits & 1)
        out = []
        while True:
            if self._cur is None:
                if not self._search():
                    break
            else:
                if len(self._buf) < 64:
                    break
                self._codeblock(out)
        return out

    def _flush(self):
        out = []
        if self._cur is not None and self._cur["data"]:
            self._emit(out, tail=False)
        self._cur = None
        return out

    def _consume(self, n):
        self._buf.consume(n)

    def _search(self) -> bool:
        b = self._buf.view
        if len(b) < 16:
            return False
        win = np.lib.stride_tricks.sliding_window_view(b, 16)
        err = np.count_nonzero(win != _START_BITS, axis=1)
        hits = np.flatnonzero(err <= self.params.max_errors)
        if len(hits) == 0:
            self._consume(len(b) - 15)
            return False
        i = int(hits[0])
        self._cur = {"start": self._buf.base + i, "start_errors": int(err[i]), "data": bytearray(),
                     "corrected": 0, "codeblocks": 0}
        self._consume(i + 16)
        return True

    def _codeblock(self, out):
        cb_bits = self._buf.view[:64]
        cb = np.packbits(cb_bits).tobytes()
        self._consume(64)
        info, status = bch_decode(cb, self.params.mode)
        cur = self._cur
        if status == BchStatus.UNCORRECTABLE:
            tail = cb == TAIL_SEQUENCE
            if cur["data"]:
                self._emit(out, tail=tail)
            self._cur = None
            return
        if cur["codeblocks"] >= self.params.max_codeblocks:  # too long: cut, search again
            self._emit(out, tail=False)
            self._cur = None
            return
        cur["data"] += info
        cur["codeblocks"] += 1
        cur["corrected"] += int(status == BchStatus.CORRECTED)

    def _emit(self, out, tail: bool):
        cur = self._cur
        data = bytes(cur["data"])
        if self.params.randomize:
            data = _randomize(data)
        data, cut = _strip_fill(data)
        out.append(Pdu(data, {"sample_index": cur["start"], "start_errors": cur["start_errors"],
                              "codeblocks": cur["codeblocks"], "corrected": cur["corrected"],
                              "tail": bool(tail), "fill_removed": cut}))

    @classmethod
    def example(cls, rng):
        parts = [rng.integers(0, 2, 50).astype(np.uint8)]
        for k in range(3):
            frame = ccsds_tc.build(bytes(rng.integers(0, 256, int(rng.integers(1, 40)))
                                         .astype(np.uint8)), scid=7, vcid=k, sequence_number=k)
            bits = np.unpackbits(np.frombuffer(build_cltu(frame, randomize=True), np.uint8))
            bits[40 + 64 * k] ^= 1  # one correctable error in a codeblock
            parts += [np.tile(np.array([0, 1], np.uint8), 16), bits,
                      rng.integers(0, 2, 30).astype(np.uint8)]
        return cls(randomize=True), np.concatenate(parts)


def _fuzz_cltu(b: bytes):
    return parse_cltu(b)


FUZZ_TARGETS = {"cltu": _fuzz_cltu, "cltu_randomized": lambda b: parse_cltu(b, randomize=True)}

#: valid inputs for the fuzz runner (name -> list of bytes), keyed like FUZZ_TARGETS
FUZZ_SEEDS = {
    "cltu": [build_cltu(ccsds_tc.build(b"command", scid=3)), build_cltu(b"x" * 14)],
    "cltu_randomized": [build_cltu(ccsds_tc.build(bytes(30)), randomize=True)],
}


@dataclass(frozen=True)
class CltuEncoderParams:
    acquisition_bytes: int = param(16, "Acquisition sequence (0x55 octets) before each CLTU "
                                   "(231.0-B-4 section 6.2.2)", unit="bytes", lo=0, hi=4096)
    randomize: bool = param(False, "Randomize the TC frame (231.0-B-4 section 6)")


@register
class CltuEncoder(BitFramer):
    """TC Transfer Frames (PDUs) to channel bits (u8): acquisition sequence, then the CLTU
    (start sequence, BCH codeblocks with fill, tail sequence), for each frame. Stateless.

    Input
    -----
    pdu : list[Pdu]
        TC Transfer Frames (bytes).

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Channel bits (0 or 1), MSB first: per frame the acquisition sequence (0x55
        octets), the start sequence EB90, the BCH codeblocks (with fill) and the tail
        sequence.
    """

    name = "cltu_encoder"
    Params = CltuEncoderParams

    def frame_bits(self, frame: bytes) -> np.ndarray:
        raw = b"\x55" * self.params.acquisition_bytes + build_cltu(bytes(frame),
                                                                   self.params.randomize)
        return np.unpackbits(np.frombuffer(raw, np.uint8))



# --------------------------------------------------------------------------------------------
# the TC frame check after the decoder, and the framing a link names


@dataclass(frozen=True)
class TcFrameCheckParams:
    """Parameters of :class:`TcFrameCheck`."""

    fecf: bool = param(True, "The TC frames end with a Frame Error Control Field (CRC-16)")


@register
class TcFrameCheck(Block):
    """Sets ``crc_ok`` of each PDU from a TC Transfer Frame parse (header lengths and, with
    ``fecf``, the CRC); a PDU whose metadata already has ``crc_ok`` passes unchanged.
    ``check`` is ``crc`` with ``fecf``, else ``bch`` (the CLTU decoder keeps only codeblocks
    that BCH decoded).

    Input
    -----
    pdu : list[Pdu]
        TC Transfer Frames (CCSDS 232.0-B), e.g. from :class:`CltuDecoder`.

    Output
    ------
    pdu : list[Pdu]
        The same frames (new Pdu objects), metadata with ``crc_ok`` (bool) and ``check``.
    """

    name = "tc_check"
    Params = TcFrameCheckParams
    rate = Rate.PDU_TO_PDU
    in_type = "pdu"
    out_type = "pdu"
    stateful = False

    def _process(self, pdus):
        from orbitlink.framing import ccsds_tc

        out = []
        for p in pdus:
            meta = dict(p.meta)
            # every codeblock passed BCH; with the FECF the frame's CRC checks the whole
            meta.setdefault("check", "crc" if self.params.fecf else "bch")
            if "crc_ok" not in meta:
                try:
                    ccsds_tc.parse(bytes(p.data), fecf=self.params.fecf)
                    meta["crc_ok"] = True
                except FrameParseError:
                    meta["crc_ok"] = False
            out.append(Pdu(bytes(p.data), meta))
        return out

    @classmethod
    def example(cls, rng):
        from orbitlink.framing import ccsds_tc

        good = ccsds_tc.build(b"hello", scid=5, vcid=1)
        return cls(), [Pdu(good, {"i": 0}), Pdu(good[:-1] + b"\x00", {"i": 1}),
                       Pdu(b"\x01\x02", {"i": 2}), Pdu(good, {"crc_ok": False})]


from orbitlink.framing.registry import Framing, register_framing  # noqa: E402


class _CltuFraming(Framing):
    """TC Transfer Frames in CLTUs, NRZ-M line coded unless ``nrzm: false``."""

    def tx_bit_blocks(self, opts, ctx, where=""):
        if not opts["nrzm"]:
            return []
        from orbitlink.modem.fec.line import NrzmEncoder

        return [NrzmEncoder()]

    def rx_blocks(self, opts, ctx, emit_failed=None, where=""):
        head = []
        if opts["nrzm"]:
            from orbitlink.modem.fec.line import NrzmDecoderSoft, Slicer

            head = [NrzmDecoderSoft(), Slicer()]
        return head + [self.deframer_block(opts, ctx, emit_failed, where),
                       TcFrameCheck(fecf=bool(opts["fecf"]))]

    def check_payload(self, opts, data, ctx):
        from orbitlink.framing import ccsds_tc

        try:
            ccsds_tc.parse(data, fecf=bool(opts["fecf"]))
        except FrameParseError as e:
            return str(e).rstrip(".")
        return None

    def random_payload(self, opts, rng, i):
        from orbitlink.framing import ccsds_tc

        return ccsds_tc.random_frame(rng, super().random_payload(opts, rng, i), i,
                                     bool(opts["fecf"]))


register_framing(_CltuFraming(
    name="cltu", doc="CCSDS TC: TC Transfer Frames in CLTUs (BCH codeblocks), NRZ-M",
    framer=CltuEncoder, deframer=CltuDecoder, link_keys={"nrzm": True, "fecf": True},
    index="bit"))
