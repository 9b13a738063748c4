"""GOMspace NanoCom U482C frames: sync word, Golay(24,12) length/flags header, optional FEC.

References: gr-satellites 4.4 ``components/deframers/u482c_deframer.py`` and
``lib/u482c_decode_impl.cc`` (decoder with every flag on "auto"), ``lib/viterbi.c`` (the
packed hard-decision Viterbi decoder and its encoder), ``lib/golay24.c``. Bits are sent MSB
first. Checked against gr-satellites (``tests/test_u482c.py``, interop marker) and the AISAT
recording.

::

    | preamble | sync C3AA6655 (32 bits) | Golay(24,12) word (3 bytes) | body (length bytes) |

* Golay word: the same 12-bit length field as the AX100 ASM+Golay mode
  (:mod:`orbitlink.framing.ax100`): ``length`` (bits 7..0) = body bytes on the air,
  ``viterbi`` 0x100, ``scrambler`` 0x200, ``rs`` 0x400. The flags say which stages the body
  went through, and the decoder applies exactly those (gr-satellites' "auto" mode).
* Transmit order: payload -> RS(255,223) conventional-basis parity (32 bytes, shortened:
  libfec ``encode_rs_8`` with ``pad``) -> CCSDS randomizer from the first byte -> convolutional
  code. The code is r=1/2 K=7 with the polynomials in the order 0x6D, 0x4F and no inversion
  (gr-satellites' ``{V27POLYA, V27POLYB}``; ``"NASA-DSN uninverted"`` in
  :mod:`orbitlink.modem.fec.conv`), started in state 0, followed by 8 zero tail bits:
  ``n`` bytes become ``2 (n + 1)`` bytes on the air. So ``length`` is even with Viterbi and
  the data before it at most 126 bytes.
* Payload limits: with RS 1..223 bytes (1..94 with Viterbi too); without RS 0..255 (0..126).

A frame whose header has no RS flag carries no check: random bits that pass the sync word
and the Golay decoder come out as such "frames". They are emitted with ``check: "none"`` (so
never counted as good, and printed only with ``--all-frames``); ``require_rs`` drops them.

Error policy: :func:`decode_frame` raises only :class:`FrameParseError`; the encoder raises
:class:`U482cError` (a ``ValueError``) for payloads it cannot carry.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from orbitlink.framing.ax100 import (FLAG_RS, RS_PARITY, decode_length, encode_length,
                                     parse_length_field)
from orbitlink.framing.errors import FrameBuildError, FrameParseError
from orbitlink.modem.sync import asm_search
from orbitlink.modem.block import Block, Pdu, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.fec import conv as _conv
from orbitlink.modem.fec.crc import as_bytes as _as_bytes
from orbitlink.modem.fec.rs import ReedSolomon
from orbitlink.modem.fec.scramble import randomize

__all__ = ["SYNC", "SYNC_HEX", "CONV_VARIANT", "VITERBI_TAIL_BITS", "U482cError", "U482cFrame",
           "max_payload", "u482c_encode", "decode_frame", "decode_body", "U482cFramer",
           "U482cDeframer", "FUZZ_TARGETS", "FUZZ_SEEDS"]

SYNC = 0xC3AA6655  #: U482C sync word, sent MSB first
SYNC_HEX = "C3AA6655"
CONV_VARIANT = "NASA-DSN uninverted"  #: polynomials 0x6D then 0x4F, no inversion
VITERBI_TAIL_BITS = 8  #: zero bits after the data (one byte, gr-satellites VITERBI_TAIL)
_SYNC_BITS = np.unpackbits(np.frombuffer(SYNC.to_bytes(4, "big"), np.uint8))
HEADER_BITS = 24


class U482cError(FrameBuildError):
    """A payload or flag combination that a U482C frame cannot carry (encoding side)."""


@dataclass(frozen=True)
class U482cFrame:
    """A decoded U482C frame.

    Attributes
    ----------
    payload : bytes
        The frame's data (normally a CSP packet), after every stage its flags name.
    frame_length : int
        Body bytes on the air (the length field).
    viterbi, scrambler, rs : bool
        The header's flags (the stages applied).
    rs_corrected : int
        Bytes corrected by Reed-Solomon (0 without RS).
    golay_corrected : int
        Bits corrected in the Golay word.
    conv_errors : int
        Channel-bit errors in the body found by re-encoding the Viterbi output (0 without).
    length_field : int
        The decoded 12-bit field.
    """

    payload: bytes
    frame_length: int
    viterbi: bool
    scrambler: bool
    rs: bool
    rs_corrected: int
    golay_corrected: int
    conv_errors: int
    length_field: int


@functools.lru_cache(maxsize=None)
def _rs(k: int) -> ReedSolomon:
    return ReedSolomon(e=16, basis="conventional", interleave=1, virtual_fill=223 - k)


def max_payload(*, viterbi: bool = False, rs: bool = True) -> int:
    """Largest payload for the given flags (223, 255, 94 or 126 bytes)."""
    inner = 126 if viterbi else 255  # bytes before the convolutional code
    return min(inner - RS_PARITY, 223) if rs else inner


def _conv_encode(data: bytes) -> bytes:
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    bits = np.concatenate([bits, np.zeros(VITERBI_TAIL_BITS, np.uint8)])
    return np.packbits(_conv.encode(bits, terminate=False, variant=CONV_VARIANT)).tobytes()


def u482c_encode(payload, *, viterbi: bool = False, scrambler: bool = True,
                 rs: bool = True) -> bytes:
    """Encode one U482C frame: sync word, Golay length word, body.

    Parameters
    ----------
    payload : bytes-like
        The data (normally a CSP packet); see :func:`max_payload` for the limits.
    viterbi, scrambler, rs : bool
        The stages applied to the body (and set in the header's flags).
    """
    data = _as_bytes(payload, "u482c_encode")
    lo, hi = (1 if rs else 0), max_payload(viterbi=viterbi, rs=rs)
    if not lo <= len(data) <= hi:
        raise U482cError(f"U482C frame with viterbi={viterbi}, rs={rs} carries {lo}..{hi} "
                         f"payload bytes, not {len(data)}")
    body = _rs(len(data)).encode(data) if rs else data
    if scrambler:
        body = randomize(body)
    if viterbi:
        body = _conv_encode(body)
    return (SYNC.to_bytes(4, "big")
            + encode_length(len(body), viterbi=viterbi, scrambler=scrambler, rs=rs) + body)


def decode_body(body_llrs, field: int, golay_corrected: int = 0) -> U482cFrame:
    """Decode a frame body from its LLRs (f32, positive = 1, polarity right) given the decoded
    length field; ``body_llrs`` holds at least ``8 * length`` values (more are ignored).

    Raises :class:`FrameParseError` (truncated body, Viterbi length not even or too short,
    body too short for RS, uncorrectable RS codeword).
    """
    f = parse_length_field(field)
    n = f["length"]
    x = np.asarray(body_llrs, np.float32)
    if len(x) < 8 * n:
        raise FrameParseError(f"U482C frame announces {n} bytes after the Golay word but only "
                              f"{len(x) // 8} follow")
    x = np.ascontiguousarray(x[:8 * n])
    conv_errors = 0
    if f["viterbi"]:
        if n % 2 or n < 2:
            raise FrameParseError(f"U482C frame with the Viterbi flag needs an even length of "
                                  f"at least 2 bytes, not {n}")
        k = n // 2 - 1  # data bytes before the 8 tail bits
        bits = _conv.decode_terminated(x, variant=CONV_VARIANT)[:8 * k]
        re = _conv.encode(np.concatenate([bits, np.zeros(VITERBI_TAIL_BITS, np.uint8)]),
                          terminate=False, variant=CONV_VARIANT)
        conv_errors = int(np.count_nonzero(re != (x > 0)))
        body = np.packbits(bits).tobytes()
    else:
        body = np.packbits(x > 0).tobytes()
    if f["scrambler"]:
        body = randomize(body)
    corrected = 0
    if f["rs"]:
        if len(body) <= RS_PARITY:
            raise FrameParseError(f"U482C frame body of {len(body)} bytes leaves no data before "
                                  f"the {RS_PARITY} Reed-Solomon parity bytes")
        res = _rs(len(body) - RS_PARITY).decode(body)
        if not res.ok:
            raise FrameParseError("U482C frame Reed-Solomon codeword is uncorrectable")
        body, corrected = res.data, res.total_corrected
    return U482cFrame(body, n, f["viterbi"], f["scrambler"], f["rs"], corrected,
                      golay_corrected, conv_errors, field)


def decode_frame(data) -> U482cFrame:
    """Decode the bytes that follow the sync word (Golay word first), hard decisions.

    Bytes beyond the announced length are ignored. Raises :class:`FrameParseError`.
    """
    raw = _as_bytes(data, "u482c.decode_frame")
    field, g = decode_length(raw)
    bits = np.unpackbits(np.frombuffer(raw[3:], np.uint8))
    return decode_body(2.0 * bits.astype(np.float32) - 1.0, field, g)


# --------------------------------------------------------------------------------------------
# Blocks


@dataclass(frozen=True)
class U482cFramerParams:
    """Parameters of :class:`U482cFramer`."""

    viterbi: bool = param(False, "Convolutional code r=1/2 K=7 on the body (flag 0x100)")
    scrambler: bool = param(True, "CCSDS randomizer on the body (flag 0x200)")
    rs: bool = param(True, "RS(255,223) parity in the body (flag 0x400)")
    preamble_byte: int = param(0xAA, "Byte repeated before each frame", lo=0, hi=255)
    preamble_len: int = param(50, "Preamble bytes before each frame", unit="bytes", lo=0,
                              hi=65535)
    postamble_len: int = param(2, "Bytes of the preamble byte after each frame", unit="bytes",
                               lo=0, hi=65535)


@register
class U482cFramer(Block):
    """PDUs (CSP packets) to U482C frame bits (u8, MSB first) with preamble and postamble.

    Input
    -----
    pdu : list[Pdu]
        Payloads (normally CSP packets).

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Channel bits (0 or 1), MSB first: preamble, sync word, Golay header, body coded as
        the flags say, postamble, per PDU.
    """

    name = "u482c_framer"
    Params = U482cFramerParams
    rate = Rate.PDU_TO_STREAM
    in_type = "pdu"
    out_type = "u8"
    stateful = False

    def frame_bytes(self, payload) -> bytes:
        p = self.params
        f = u482c_encode(payload, viterbi=p.viterbi, scrambler=p.scrambler, rs=p.rs)
        return (bytes([p.preamble_byte]) * p.preamble_len + f
                + bytes([p.preamble_byte]) * p.postamble_len)

    def _process(self, pdus):
        if not pdus:
            return np.zeros(0, np.uint8)
        raw = b"".join(self.frame_bytes(bytes(q.data)) for q in pdus)
        return np.unpackbits(np.frombuffer(raw, np.uint8))

    @classmethod
    def example(cls, rng):
        return cls(viterbi=True, preamble_len=4), [Pdu(b"hello U482C")]


@dataclass(frozen=True)
class U482cDeframerParams:
    """Parameters of :class:`U482cDeframer`."""

    max_errors: int = param(4, "Sync-word bit errors tolerated (gr-satellites default 4)",
                            unit="bits", lo=0, hi=12)
    allow_inverted: bool = param(True, "Also accept the inverted sync word and invert the "
                                 "frame's bits (FSK tones swapped, 180-degree ambiguity)")
    require_rs: bool = param(False, "Drop frames whose header has no RS flag (nothing checks "
                             "them; noise that passes sync and Golay comes out as such frames)")


@register
class U482cDeframer(Block):
    """Soft bits (f32 LLRs, positive = 1) to U482C frames (PDUs with the payload).

    The sync word is searched on the sliced bits (both polarities with ``allow_inverted``);
    the Golay header is decoded from hard bits; the body goes through exactly the stages its
    flags name, the Viterbi decoder with soft input. After a decoded frame the search resumes
    behind it, after a failed one one bit after its sync word. Frames cut off by the end of the
    stream are dropped.

    PDU metadata: ``bit_index`` (absolute input index of the first sync bit), ``sync_errors``,
    ``inverted``, ``golay_corrected``, ``length_field``, ``frame_length``, ``viterbi``,
    ``scrambler``, ``rs``, ``conv_errors``, ``rs_corrected``, ``check`` (``golay+rs``, or
    ``none`` for a header without the RS flag: nothing checked the body).

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        Soft channel bits (LLRs), positive means 1.

    Output
    ------
    pdu : list[Pdu]
        The frames' payloads; meta ``bit_index`` (absolute input index of the first sync
        bit), ``sync_errors``, ``inverted``, ``golay_corrected``, ``length_field``,
        ``frame_length``, ``viterbi``, ``scrambler``, ``rs``, ``conv_errors``,
        ``rs_corrected``, ``check``.
    """

    name = "u482c_deframer"
    Params = U482cDeframerParams
    rate = Rate.STREAM_TO_PDU
    in_type = "f32"
    out_type = "pdu"

    def _reset(self):
        # soft bits and their hard decisions from absolute index .base on
        self._llr = StreamBuffer(np.float32)
        self._bits = StreamBuffer(np.uint8)
        self._next = 0

    def _process(self, chunk):
        x = np.nan_to_num(np.asarray(chunk, np.float32), nan=0.0)
        self._llr.append(x)
        self._bits.append(x > 0)
        out = self._search()
        self._llr.keep_from(self._next)
        self._bits.keep_from(self._next)
        return out

    def _search(self):
        p_ = self.params
        out = []
        ns = len(_SYNC_BITS)
        head = ns + HEADER_BITS
        res = np.zeros(3, np.int64)
        bits, llr, base = self._bits.view, self._llr.view, self._bits.base
        while True:
            n_avail = self._bits.end
            last = n_avail - head
            if self._next > last:
                break
            start, stop = self._next - base, last - base + 1
            if not asm_search(bits, start, stop, SYNC, ns, p_.max_errors, res):
                self._next = last + 1
                break
            q, inverted, errors = int(res[0]), bool(res[1]), int(res[2])
            p = base + q
            if inverted and not p_.allow_inverted:
                self._next = p + 1
                continue
            hb = bits[q + ns:q + head]
            try:
                field, g = decode_length(np.packbits(hb ^ 1 if inverted else hb).tobytes())
            except FrameParseError:
                self._next = p + 1
                continue
            total = head + 8 * (field & 0xFF)
            if p + total > n_avail:
                self._next = p  # wait for the rest of the frame
                break
            if p_.require_rs and not field & FLAG_RS:
                self._next = p + 1
                continue
            body = llr[q + head:q + total]
            try:
                fr = decode_body(-body if inverted else body, field, g)
            except FrameParseError:
                self._next = p + 1
                continue
            out.append(Pdu(fr.payload, {
                "bit_index": p, "sync_errors": errors, "inverted": inverted,
                "golay_corrected": fr.golay_corrected, "length_field": fr.length_field,
                "frame_length": fr.frame_length, "viterbi": fr.viterbi,
                "scrambler": fr.scrambler, "rs": fr.rs, "conv_errors": fr.conv_errors,
                "rs_corrected": fr.rs_corrected,
                # the Golay word protects the header only: without RS nothing checks the data
                "check": "golay+rs" if fr.rs else "none"}))
            self._next = p + total
        return out

    @classmethod
    def example(cls, rng):
        parts = [rng.standard_normal(77)]
        for i, (n, flags) in enumerate([(20, dict(viterbi=True)), (1, {}),
                                        (30, dict(viterbi=True, rs=False)), (12, dict(rs=False))]):
            pay = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            bits = np.unpackbits(np.frombuffer(b"\xaa" * 2 + u482c_encode(pay, **flags),
                                               np.uint8))
            if i == 1:
                bits = bits ^ 1
            llr = (2.0 * bits - 1.0) * 2.0 + rng.standard_normal(len(bits)) * 0.9
            parts += [llr, rng.standard_normal(23)]
        return cls(), np.concatenate(parts).astype(np.float32)


def _seeds():
    out = []
    for i, flags in enumerate([{}, dict(viterbi=True), dict(viterbi=True, rs=False),
                               dict(rs=False, scrambler=False)]):
        out.append(u482c_encode(bytes(range(i, i + 40)), **flags)[4:])
    return out


#: name -> callable taking bytes, for a fuzz runner (must raise only FrameParseError)
FUZZ_TARGETS = {"u482c_frame": decode_frame}
#: valid inputs for the fuzz targets
FUZZ_SEEDS = {"u482c_frame": _seeds()}


# --------------------------------------------------------------------------------------------
# the framing a link names (orbitlink.framing.registry)

from orbitlink.framing.registry import Framing, register_framing  # noqa: E402


class _U482cFraming(Framing):
    def random_payload(self, opts, rng, i):
        # TC Transfer Frames make payloads of varied length with a structure of their own
        from orbitlink.framing import ccsds_tc

        return ccsds_tc.random_frame(rng, super().random_payload(opts, rng, i), i)


register_framing(_U482cFraming(
    name="u482c", doc="GOMspace U482C: ASM + Golay header, optional conv / scrambler / RS per frame",
    framer=U482cFramer, deframer=U482cDeframer, index="bit"))
