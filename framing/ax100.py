"""GOMspace NanoCom AX100 frames: "ASM+Golay" mode and the older "Reed-Solomon" mode.

References: gr-satellites ``python/components/deframers/ax100_deframer.py`` (modes ``'ASM'``
and ``'RS'``), ``lib/u482c_decode_impl.cc`` (ASM+Golay), ``lib/ax100_decode_impl.cc`` (RS),
``lib/golay24.c``; the vectors ``tests/data/vectors/ax100_asm_golay.json`` (made by
``/work/shared/vectors/gen/gen_ax100.py`` and decoded by gr-satellites 4.4 ``ax100_deframer``).
Bits are sent MSB first throughout.

ASM+Golay mode (bit-exact with the vectors)
-------------------------------------------
::

    | ASM 930B51DE (32 bits) | Golay(24,12) codeword (3 bytes) | body (length bytes) |

* Golay codeword (:data:`GolayLengthWord`, big-endian): parity in bits 23..12, the 12-bit length
  field in bits 11..0: ``length`` (bits 7..0) = bytes of body that follow, ``viterbi`` 0x100,
  ``scrambler`` 0x200, ``rs`` 0x400, bit 11 reserved. Decoded with up to 3 bit errors corrected
  (:mod:`orbitlink.modem.fec.golay`).
* body: the payload (a CSP packet), then with ``rs`` the 32 parity bytes of RS(255,223) in the
  **conventional** basis, shortened by ``223 - len(payload)`` virtual zero bytes (libfec
  ``encode_rs_8`` with ``pad``); then with ``scrambler`` the whole body is XORed with the CCSDS
  TM randomizer from its first byte (0xFF 0x48 0x0E ...).
* By default the decoder does what gr-satellites does in this mode (``u482c_decode`` with
  scrambler and RS on, Viterbi off): it always derandomizes and RS-decodes and ignores the
  flags. The AX100 sets both flags (the vectors do). Trusting the flags instead
  (``honor_flags=True``) lets noise through: a random Golay word that decodes with the RS flag
  clear yields an unchecked "frame" (about 2 per million bits of noise at 4 sync-word errors).
  With ``honor_flags`` the Viterbi flag (convolutional r=1/2 inner code) is not supported:
  such frames raise :class:`FrameParseError`.

Reed-Solomon mode (from the gr-satellites source; checked on a real recording)
-----------------------------------------------------------------------------
The CA03 recording (``ca03_9k6.wav``: 9600 Bd FSK, FM audio) decodes to the same 9 frames as
gr-satellites 4.4, byte for byte, with :class:`Ax100DeframerSoft` in mode ``"rs"`` after
:class:`~orbitlink.modem.fsk.FskDemodulator`: so the G3RUH scrambler, the length byte and the
conventional RS basis below are what the AX100 sends. ::

    G3RUH-scrambled stream: | preamble | ASM 930B51DE | L (1 byte) | RS block (L - 1 bytes) |

* The whole bit stream, preamble and ASM included, goes through the G3RUH multiplicative
  scrambler 1 + x^12 + x^17 (gr-satellites descrambles the sliced stream with GNU Radio
  ``descrambler_bb(0x21, 0, 16)`` before the sync search); no CCSDS randomizer.
* ``L`` counts itself, the payload and the 32 parity bytes: ``L = len(payload) + 33``; it is
  not protected by the code. The RS block is the payload plus RS(255,223) conventional-basis
  parity, shortened by ``256 - L`` bytes. So the payload is 1 to 222 bytes.
* Old gr-satellites versions byte-swapped the CSP header here and in ASM mode; that was removed
  (gr-satellites issue #295), and the payload is returned as sent.

Error policy: every ``decode_*``/``parse_*`` function raises only :class:`FrameParseError` on
bad bytes; encoders raise :class:`Ax100Error` (a ``ValueError``) for payloads they cannot carry.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import construct as cs
import numpy as np

from orbitlink.framing.errors import FrameBuildError, FrameParseError
from orbitlink.modem.block import Block, Pdu, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.fec.crc import as_bytes as _as_bytes
from orbitlink.modem.fec.golay import golay24_decode, golay24_encode
from orbitlink.modem.fec.line import check_bits
from orbitlink.modem.fec.rs import ReedSolomon
from orbitlink.modem.fec.scramble import G3ruhDescrambler, G3ruhScrambler, randomize

__all__ = ["ASM", "ASM_HEX", "FLAG_VITERBI", "FLAG_SCRAMBLER", "FLAG_RS", "RS_PARITY",
           "MAX_ASM_PAYLOAD", "MAX_RS_PAYLOAD", "GolayLengthWord", "Ax100Error", "Ax100Frame",
           "length_field", "parse_length_field", "encode_length", "decode_length",
           "ax100_asm_encode", "decode_asm_frame", "ax100_rs_encode", "decode_rs_frame",
           "Ax100Framer", "Ax100Deframer", "Ax100DeframerSoft", "FUZZ_TARGETS"]

ASM = 0x930B51DE  #: AX100 sync word, sent MSB first
ASM_HEX = "930B51DE"
FLAG_VITERBI = 0x100  #: length-field flag: convolutional code (not supported)
FLAG_SCRAMBLER = 0x200  #: length-field flag: CCSDS randomizer on the body
FLAG_RS = 0x400  #: length-field flag: RS(255,223) parity in the body
RS_PARITY = 32  #: parity bytes of RS(255,223)
MAX_ASM_PAYLOAD = 223  #: with RS; 255 without
MAX_RS_PAYLOAD = 222  #: RS mode: the length byte counts itself (1 + 222 + 32 = 255)
MODES = ("asm", "rs")

#: the 3-byte Golay(24,12) codeword after the ASM (big-endian, MSB first)
GolayLengthWord = cs.BitStruct(
    "parity" / cs.BitsInteger(12),
    "reserved" / cs.BitsInteger(1),
    "rs" / cs.Flag,
    "scrambler" / cs.Flag,
    "viterbi" / cs.Flag,
    "length" / cs.BitsInteger(8),
)


class Ax100Error(FrameBuildError):
    """A payload or option that an AX100 frame cannot carry (encoding side)."""


@dataclass(frozen=True)
class Ax100Frame:
    """A decoded AX100 frame.

    Attributes
    ----------
    payload : bytes
        The frame's data (normally a CSP packet), RS-corrected.
    frame_length : int
        Bytes after the Golay word (ASM mode) or after the sync word, length byte included
        (RS mode).
    rs_corrected : int
        Bytes corrected by Reed-Solomon (0 when RS is off).
    golay_corrected : int or None
        Bits corrected in the Golay word (ASM mode), None in RS mode.
    length_field : int or None
        The decoded 12-bit length field (ASM mode), None in RS mode.
    """

    payload: bytes
    frame_length: int
    rs_corrected: int
    golay_corrected: int | None = None
    length_field: int | None = None


@functools.lru_cache(maxsize=None)
def _rs(k: int) -> ReedSolomon:
    """RS(255,223) conventional basis shortened to ``k`` data bytes (1..223)."""
    return ReedSolomon(e=16, basis="conventional", interleave=1, virtual_fill=223 - k)


# --------------------------------------------------------------------------------------------
# Length field (ASM+Golay mode)


def length_field(length: int, *, viterbi: bool = False, scrambler: bool = True,
                 rs: bool = True) -> int:
    """The 12-bit length field: ``length`` (0..255 bytes after the Golay word) plus flags."""
    if isinstance(length, bool) or not isinstance(length, int) or not 0 <= length <= 255:
        raise Ax100Error(f"AX100 length field holds 0..255 bytes, not {length!r}")
    return (length | (FLAG_VITERBI if viterbi else 0) | (FLAG_SCRAMBLER if scrambler else 0)
            | (FLAG_RS if rs else 0))


def parse_length_field(value: int) -> dict:
    """Split a 12-bit length field into ``length``, ``viterbi``, ``scrambler``, ``rs``,
    ``reserved``."""
    return {"length": value & 0xFF, "viterbi": bool(value & FLAG_VITERBI),
            "scrambler": bool(value & FLAG_SCRAMBLER), "rs": bool(value & FLAG_RS),
            "reserved": (value >> 11) & 1}


def encode_length(length: int, *, viterbi: bool = False, scrambler: bool = True,
                  rs: bool = True) -> bytes:
    """The 3-byte Golay(24,12) codeword of the length field (big-endian)."""
    return golay24_encode(length_field(length, viterbi=viterbi, scrambler=scrambler,
                                       rs=rs)).to_bytes(3, "big")


def decode_length(data) -> tuple[int, int]:
    """Decode the Golay word at the start of ``data``.

    Returns
    -------
    length_field : int
        The corrected 12-bit field.
    corrected : int
        Bit errors corrected (0..3).

    Raises
    ------
    FrameParseError
        Fewer than 3 bytes, or more than 3 bit errors detected.
    """
    raw = _as_bytes(data, "ax100.decode_length")
    if len(raw) < 3:
        raise FrameParseError(f"AX100 Golay length word needs 3 bytes, got {len(raw)}")
    value, n = golay24_decode(int.from_bytes(raw[:3], "big"))
    if n < 0:
        raise FrameParseError("AX100 Golay length word is uncorrectable (more than 3 bit "
                              "errors)")
    return value, n


# --------------------------------------------------------------------------------------------
# ASM+Golay mode


def ax100_asm_encode(payload, *, scrambler: bool = True, rs: bool = True) -> bytes:
    """Encode one AX100 ASM+Golay frame: ASM, Golay length word, body.

    Parameters
    ----------
    payload : bytes-like
        1..223 bytes with ``rs`` (0..255 without), normally a CSP packet.
    scrambler, rs : bool
        Set the flags and apply the CCSDS randomizer / RS(255,223) conventional parity.

    Returns
    -------
    bytes
        ``930B51DE``, 3 Golay bytes, then the body; bit-exact with the gr-satellites vectors.
    """
    data = _as_bytes(payload, "ax100_asm_encode")
    top = MAX_ASM_PAYLOAD if rs else 255
    lo = 1 if rs else 0
    if not lo <= len(data) <= top:
        raise Ax100Error(f"AX100 ASM+Golay frame carries {lo}..{top} payload bytes "
                         f"{'with' if rs else 'without'} Reed-Solomon, not {len(data)}")
    body = _rs(len(data)).encode(data) if rs else data
    if scrambler:
        body = randomize(body)
    return ASM.to_bytes(4, "big") + encode_length(len(body), scrambler=scrambler, rs=rs) + body


def decode_asm_frame(data, *, honor_flags: bool = False) -> Ax100Frame:
    """Decode what follows the ASM of an ASM+Golay frame (Golay word first).

    Bytes beyond the length announced by the Golay word are ignored. By default the CCSDS
    derandomizer and RS decoding are always applied (gr-satellites); ``honor_flags=True``
    applies them only where the length field's flags say so.

    Raises
    ------
    FrameParseError
        Uncorrectable Golay word, Viterbi flag set, truncated body, body too short for RS,
        or uncorrectable RS codeword.
    """
    raw = _as_bytes(data, "ax100.decode_asm_frame")
    field, g = decode_length(raw)
    f = parse_length_field(field)
    n = f["length"]
    if not honor_flags:
        f.update(viterbi=False, scrambler=True, rs=True)
    if f["viterbi"]:
        raise FrameParseError("AX100 frame has the Viterbi (convolutional) flag set, which is "
                              "not supported")
    body = raw[3:3 + n]
    if len(body) < n:
        raise FrameParseError(f"AX100 frame announces {n} bytes after the Golay word but "
                              f"only {len(body)} follow")
    if f["scrambler"]:
        body = randomize(body)
    corrected = 0
    if f["rs"]:
        if n <= RS_PARITY:
            raise FrameParseError(f"AX100 frame length {n} leaves no data before the "
                                  f"{RS_PARITY} Reed-Solomon parity bytes")
        res = _rs(n - RS_PARITY).decode(body)
        if not res.ok:
            raise FrameParseError("AX100 frame Reed-Solomon codeword is uncorrectable")
        body, corrected = res.data, res.total_corrected
    return Ax100Frame(body, n, corrected, g, field)


# --------------------------------------------------------------------------------------------
# Reed-Solomon mode


def ax100_rs_encode(payload) -> bytes:
    """Encode one AX100 RS-mode frame *before* the stream's G3RUH scrambler.

    Returns ``930B51DE``, the length byte ``len(payload) + 33`` and the RS block (payload plus
    32 conventional-basis parity bytes). :class:`Ax100Framer` in mode ``"rs"`` scrambles it.
    """
    data = _as_bytes(payload, "ax100_rs_encode")
    if not 1 <= len(data) <= MAX_RS_PAYLOAD:
        raise Ax100Error(f"AX100 Reed-Solomon mode frame carries 1..{MAX_RS_PAYLOAD} payload "
                         f"bytes, not {len(data)}")
    return (ASM.to_bytes(4, "big") + bytes([len(data) + 1 + RS_PARITY])
            + _rs(len(data)).encode(data))


def decode_rs_frame(data) -> Ax100Frame:
    """Decode what follows the sync word of an RS-mode frame (descrambled; length byte first).

    Bytes beyond the announced length are ignored.

    Raises
    ------
    FrameParseError
        Empty input, length byte below 34, truncated block, or uncorrectable RS codeword.
    """
    raw = _as_bytes(data, "ax100.decode_rs_frame")
    if not raw:
        raise FrameParseError("AX100 Reed-Solomon mode frame is empty (no length byte)")
    n = raw[0]
    if n < RS_PARITY + 2:
        raise FrameParseError(f"AX100 Reed-Solomon mode length byte {n} is below "
                              f"{RS_PARITY + 2} (length byte, data, {RS_PARITY} parity bytes)")
    block = raw[1:n]
    if len(block) < n - 1:
        raise FrameParseError(f"AX100 Reed-Solomon mode frame announces {n - 1} bytes after "
                              f"the length byte but only {len(block)} follow")
    res = _rs(n - 1 - RS_PARITY).decode(block)
    if not res.ok:
        raise FrameParseError("AX100 Reed-Solomon mode codeword is uncorrectable")
    return Ax100Frame(res.data, n, res.total_corrected)


# --------------------------------------------------------------------------------------------
# Blocks


def _sync_bits(hexword: str, owner: str) -> np.ndarray:
    try:
        raw = bytes.fromhex(hexword)
    except ValueError:
        raise Ax100Error(f"{owner}: sync word {hexword!r} is not hexadecimal") from None
    if not 1 <= len(raw) <= 8:
        raise Ax100Error(f"{owner}: sync word must have 8 to 64 bits, got {8 * len(raw)}")
    return np.unpackbits(np.frombuffer(raw, np.uint8))


@dataclass(frozen=True)
class Ax100FramerParams:
    """Parameters of :class:`Ax100Framer`."""

    mode: str = param("asm", "AX100 mode: 'asm' (ASM+Golay) or 'rs' (Reed-Solomon, G3RUH "
                      "scrambled stream)", choices=MODES)
    preamble_byte: int = param(0xAA, "Byte repeated before each frame", lo=0, hi=255)
    preamble_len: int = param(50, "Preamble bytes before each frame", unit="bytes", lo=0,
                              hi=65535)
    postamble_byte: int = param(0xAA, "Byte repeated after each frame", lo=0, hi=255)
    postamble_len: int = param(2, "Postamble bytes after each frame", unit="bytes", lo=0,
                               hi=65535)
    scrambler: bool = param(True, "ASM mode: CCSDS randomizer on the body (flag 0x200)")
    rs: bool = param(True, "ASM mode: RS(255,223) parity in the body (flag 0x400)")


@register
class Ax100Framer(Block):
    """PDUs (CSP packets) to AX100 frame bits (u8, MSB first), preamble and postamble around
    each frame.

    Mode ``"asm"``: :func:`ax100_asm_encode`. Mode ``"rs"``: :func:`ax100_rs_encode`, and the
    whole output stream (preamble and postamble included) goes through the G3RUH scrambler,
    whose register carries from frame to frame and across calls.

    Input
    -----
    pdu : list[Pdu]
        Payloads (normally CSP packets).

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Channel bits (0 or 1), MSB first: preamble, sync word, frame, postamble per PDU
        (RS mode: the whole stream G3RUH-scrambled).
    """

    name = "ax100_framer"
    Params = Ax100FramerParams
    rate = Rate.PDU_TO_STREAM
    in_type = "pdu"
    out_type = "u8"

    def _reset(self):
        self._scr = G3ruhScrambler() if self.params.mode == "rs" else None

    def frame_bytes(self, payload) -> bytes:
        """One frame with its preamble and postamble, as bytes (before any G3RUH scrambling)."""
        p = self.params
        if p.mode == "asm":
            f = ax100_asm_encode(payload, scrambler=p.scrambler, rs=p.rs)
        else:
            f = ax100_rs_encode(payload)
        return (bytes([p.preamble_byte]) * p.preamble_len + f
                + bytes([p.postamble_byte]) * p.postamble_len)

    def _process(self, pdus):
        if not pdus:
            return np.zeros(0, np.uint8)
        raw = b"".join(self.frame_bytes(bytes(q.data)) for q in pdus)
        bits = np.unpackbits(np.frombuffer(raw, np.uint8))
        return self._scr.process(bits) if self._scr is not None else bits

    @classmethod
    def example(cls, rng):
        pdus = [Pdu(rng.integers(0, 256, int(n), dtype=np.uint8).tobytes())
                for n in (10, 1, 60)]
        return cls(mode="rs", preamble_len=4, postamble_len=1), pdus


@dataclass(frozen=True)
class Ax100DeframerParams:
    """Parameters of :class:`Ax100Deframer`."""

    mode: str = param("asm", "AX100 mode: 'asm' (ASM+Golay) or 'rs' (Reed-Solomon, G3RUH "
                      "scrambled stream)", choices=MODES)
    max_errors: int = param(4, "Sync-word bit errors tolerated (gr-satellites default 4)",
                            unit="bits", lo=0, hi=16)
    sync_word: str = param(ASM_HEX, "Sync word, hexadecimal, sent MSB first")
    allow_inverted: bool = param(False, "Also accept the inverted sync word and invert the "
                                 "frame's bits (180-degree phase ambiguity)")
    honor_flags: bool = param(False, "ASM mode: derandomize and RS-decode only where the "
                              "length field's flags say so (default: always, as gr-satellites; "
                              "trusting the flags lets noise through as unchecked frames)")


@register
class Ax100Deframer(Block):
    """Hard bits (u8 0/1) to AX100 frames (PDUs with the payload, normally a CSP packet).

    Streaming: the sync word is searched with up to ``max_errors`` bit errors at every bit
    position; a frame is decoded once all its bits have arrived (ASM mode: Golay length word,
    CCSDS derandomizer, RS; RS mode: G3RUH descrambling of the stream, length byte, RS). After
    a decoded frame the search resumes behind it; after a failed one, one bit after its sync
    word. Frames cut off by the end of the stream are dropped.

    PDU metadata: ``bit_index`` (absolute input index of the first sync-word bit),
    ``asm_errors``, ``inverted``, ``rs_corrected``,
    ``frame_length``, ``check`` (``rs`` in RS mode, ``golay+rs`` in ASM mode; ``none`` for an
    ASM-mode frame without the RS flag under ``honor_flags``: nothing checked it), and in ASM
    mode ``golay_corrected`` and ``length_field``.

    Input
    -----
    u8 : ndarray of uint8, shape (n,)
        Hard channel bits (0 or 1) in transmission order (RS mode: still G3RUH
        scrambled).

    Output
    ------
    pdu : list[Pdu]
        The frames' payloads; meta ``bit_index`` (absolute input index of the first
        sync-word bit), ``asm_errors``, ``inverted``, ``rs_corrected``,
        ``frame_length``, ``check`` (ASM mode also ``golay_corrected``, ``length_field``).
    """

    name = "ax100_deframer"
    Params = Ax100DeframerParams
    rate = Rate.STREAM_TO_PDU
    in_type = "u8"
    out_type = "pdu"

    def _reset(self):
        p = self.params
        self._sync = _sync_bits(p.sync_word, self.name)
        self._sync_int = int("".join(map(str, self._sync)), 2)
        self._hdr_bits = 24 if p.mode == "asm" else 8
        self._descr = G3ruhDescrambler() if p.mode == "rs" else None
        self._buf = StreamBuffer(np.uint8)  # channel bits from absolute index .base on
        self._next = 0  # next absolute position to examine

    def _hard(self, chunk) -> np.ndarray:
        return check_bits(chunk, self.name)

    def _process(self, chunk):
        bits = self._hard(chunk)
        if self._descr is not None:
            bits = self._descr.process(bits)
        self._buf.append(bits)
        out = self._search()
        self._buf.keep_from(self._next)
        return out

    def _search(self):
        from orbitlink.modem.sync import asm_search

        out = []
        ns = len(self._sync)
        head = ns + self._hdr_bits
        res = np.zeros(3, np.int64)
        buf, base = self._buf.view, self._buf.base
        while True:
            n_avail = self._buf.end
            last = n_avail - head  # last position whose sync word and header have arrived
            if self._next > last:
                break
            start, stop = self._next - base, last - base + 1
            if not asm_search(buf, start, stop, self._sync_int, ns, self.params.max_errors, res):
                self._next = last + 1
                break
            q, inverted, errors = int(res[0]), bool(res[1]), int(res[2])
            p = base + q
            if inverted and not self.params.allow_inverted:
                self._next = p + 1
                continue
            hdr = self._bytes(q + ns, self._hdr_bits // 8, inverted)
            if self.params.mode == "asm":
                try:
                    field, _ = decode_length(hdr)
                except FrameParseError:
                    self._next = p + 1
                    continue
                total = ns + 24 + 8 * (field & 0xFF)
            else:
                total = ns + 8 * max(hdr[0], 1)
            if p + total > n_avail:
                self._next = p  # wait for the rest of the frame
                break
            body = self._bytes(q + ns, (total - ns) // 8, inverted)
            try:
                frame = (decode_asm_frame(body, honor_flags=self.params.honor_flags)
                         if self.params.mode == "asm"
                         else decode_rs_frame(body))
            except FrameParseError:
                self._next = p + 1
                continue
            meta = {"bit_index": p, "asm_errors": errors, "inverted": inverted,
                    "rs_corrected": frame.rs_corrected, "frame_length": frame.frame_length,
                    "check": self._check(frame)}
            if frame.golay_corrected is not None:
                meta["golay_corrected"] = frame.golay_corrected
                meta["length_field"] = frame.length_field
            out.append(Pdu(frame.payload, meta))
            self._next = p + total
        return out

    def _check(self, frame: Ax100Frame) -> str:
        """What vouches for a decoded frame: RS (RS mode), the Golay length word and RS (ASM
        mode), or nothing (ASM mode with ``honor_flags`` and a header without the RS flag)."""
        if self.params.mode != "asm":
            return "rs"
        if self.params.honor_flags and not (frame.length_field or 0) & FLAG_RS:
            return "none"
        return "golay+rs"

    def _bytes(self, q: int, n: int, inverted: bool) -> bytes:
        b = self._buf.view[q:q + 8 * n]
        if inverted:
            b = b ^ 1
        return np.packbits(b).tobytes()

    @classmethod
    def _example_bits(cls, rng, mode="asm"):
        fr = Ax100Framer(mode=mode, preamble_len=3, postamble_len=1)
        pdus = [Pdu(rng.integers(0, 256, int(n), dtype=np.uint8).tobytes())
                for n in (12, 1, 80)]
        bits = fr.run(pdus)
        # a few bit errors inside the second frame's body (RS corrects them)
        start = ((3 + 4 + 3 + 12 + 32 + 1) + (3 + 4 + 3)) * 8  # 2nd frame's body
        bits[start + np.array([3, 50, 51, 200])] ^= 1
        noise = [rng.integers(0, 2, int(n), dtype=np.uint8) for n in (157, 61)]
        return np.concatenate([noise[0], bits, noise[1]])

    @classmethod
    def example(cls, rng):
        return cls(), cls._example_bits(rng)


@register
class Ax100DeframerSoft(Ax100Deframer):
    """:class:`Ax100Deframer` on soft bits (f32 LLRs, positive means 1), sliced at 0.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        Soft channel bits (LLRs), positive means 1; sliced at 0.

    Output
    ------
    pdu : list[Pdu]
        As :class:`Ax100Deframer`: the payloads, meta ``bit_index`` (absolute input
        index of the first sync-word bit), ``asm_errors``, ``inverted``, ``rs_corrected``,
        ``frame_length``.
    """

    name = "ax100_deframer_soft"
    in_type = "f32"

    def _hard(self, chunk) -> np.ndarray:
        return (np.asarray(chunk) > 0).astype(np.uint8)

    @classmethod
    def example(cls, rng):
        bits = cls._example_bits(rng)
        llr = (2.0 * bits - 1.0) * (1.0 + rng.random(len(bits)))
        return cls(), llr.astype(np.float32)


#: name -> callable taking bytes, for a fuzz runner (must raise only FrameParseError)
FUZZ_TARGETS = {"ax100_frame": decode_asm_frame,
                "ax100_frame_flags": functools.partial(decode_asm_frame, honor_flags=True),
                "ax100_rs_frame": decode_rs_frame, "ax100_length": decode_length}


# --------------------------------------------------------------------------------------------
# the framing a link names (orbitlink.framing.registry)

from orbitlink.framing.registry import Framing, register_framing  # noqa: E402


class _Ax100Framing(Framing):
    def random_payload(self, opts, rng, i):
        # TC Transfer Frames make payloads of varied length with a structure of their own
        from orbitlink.framing import ccsds_tc

        return ccsds_tc.random_frame(rng, super().random_payload(opts, rng, i), i)


register_framing(_Ax100Framing(
    name="ax100", doc="GOMspace NanoCom AX100: ASM+Golay mode or Reed-Solomon mode",
    framer=Ax100Framer, deframer=Ax100DeframerSoft, presets={"allow_inverted": True}, index="bit"))
