"""AO-40 FEC (Phil Karn's design for AO-40, used by the FUNcube satellites): encoder and deframer.

References: P. Karn, "Proposed coding standard for AO-40" (the AO-40 FEC description), and
gr-satellites 4.4 ``components/deframers/ao40_fec_deframer.py`` with its C++ blocks
``distributed_syncframe_soft``, ``matrix_deinterleaver_soft`` and ``decode_rs``, against which
the encoder here is checked (``tests/test_ao40.py``, interop marker). Bits go out MSB first.

One frame carries one 256-byte data block in 5200 channel bits (4.33 s at 1200 Bd)::

    256 data bytes
      -> 2 interleaved RS(160,128) codewords: RS(255,223) E=16, CCSDS generator, CONVENTIONAL
         basis, shortened by 95 virtual zero bytes; byte 2k+j belongs to codeword j, so the
         block is the 256 data bytes then 64 interleaved parity bytes (320 bytes)
      -> CCSDS TM randomizer over the 320 bytes (0xFF 0x48 0x0E ..., register all ones at
         byte 0)
      -> convolutional code r=1/2 K=7, CCSDS variant (G1 = 171, NOT G2 = 133; GNU Radio polys
         [79, -109]), started in state 0 and terminated with 6 zero bits: 2566 steps, 5132
         code symbols
      -> block interleaver of 80 rows x 65 columns, read column by column: row 0 is the 65-bit
         sync vector (:data:`SYNC_VECTOR`), rows 1..79 hold the 5132 code symbols row by row
         and 3 zero pad bits. Code symbol s sits at channel bit ``80 * (s % 65) + 1 + s // 65``;
         sync bit j at channel bit ``80 j``, so the sync vector is spread over the whole frame.

The deframer (:class:`Ao40Deframer`) looks for the spread-out sync vector at every bit
position, in both polarities, with up to ``max_errors`` hard-decision errors; then it
deinterleaves the frame's 5200 LLRs, Viterbi-decodes the terminated code (soft input),
derandomizes and RS-decodes. A complemented frame (180-degree ambiguity) is decoded by
complementing its LLRs (both generators have odd weight, so the complement of a codeword is a
codeword; the sync vector tells which polarity it is).

Short frames (:data:`SHORT`, SMOG-P and ATL-1; gr-satellites' "AO-40 FEC short") carry one
128-byte block in 2652 channel bits with the same chain scaled down: one RS(160,128) codeword,
the CCSDS randomizer, the same convolutional code (2572 code symbols) and a 51 x 52 block
interleaver whose row 0 holds a 52-bit sync vector (sync bit j at channel bit ``51 j``). The
matrix is read out with code symbol s at matrix cell ``i = s + 80`` (row ``i // 52``, column
``i % 52``; cells 52..79 are zero pad bits), i.e. at channel bit ``51 (i % 52) + i // 52``.
The long frame is the same rule with 80 rows, 65 columns and the symbols from cell 65 on.
Optionally (``crc``; gr-satellites' "AO-40 FEC CRC-16-ARC", SMOG-1) the block ends with a
CRC-16/ARC of the bytes before it, low byte first.

Every frame the deframer emits says what verified it: ``meta["check"]`` is ``"rs"`` (or
``"crc+rs"`` with ``crc``) and ``crc_ok`` is true only when every one of those checks passed.

Error policy: :func:`decode_rs_block` raises only :class:`FrameParseError`; encoding a block
of the wrong size raises :class:`Ao40Error`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from orbitlink.framing._base import BitFramer, finite_soft_bits
from orbitlink.framing.errors import FrameBuildError, FrameParseError
from orbitlink.modem.sync import distributed_sync_search
from orbitlink.modem.block import Block, Pdu, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.fec import conv as _conv
from orbitlink.modem.fec.crc import as_bytes as _as_bytes
from orbitlink.modem.fec.rs import ReedSolomon
from orbitlink.modem.fec.scramble import randomize

__all__ = ["Ao40Format", "LONG", "SHORT", "SYNC_VECTOR_SHORT", "crc16_arc", "SYNC_VECTOR",
           "SYNC_BITS", "ROWS", "COLS", "FRAME_BITS", "BLOCK_BYTES",
           "CODED_BYTES", "CODE_SYMBOLS", "Ao40Error", "Ao40Result", "ao40_encode",
           "interleave", "deinterleave", "decode_rs_block", "decode_frame_llrs",
           "Ao40Framer", "Ao40Deframer", "FUZZ_TARGETS", "FUZZ_SEEDS"]

#: the 65-bit sync vector, sent in row 0 of the interleaver (one bit every 80 channel bits)
SYNC_VECTOR = "11111110000111011110010110010010000001000100110001011101011011000"
SYNC_BITS = np.array([int(c) for c in SYNC_VECTOR], np.uint8)
SYNC_BITS.flags.writeable = False
ROWS = 80  #: interleaver rows = channel bits per column
COLS = 65  #: interleaver columns = sync vector length
FRAME_BITS = ROWS * COLS  #: 5200 channel bits per frame
BLOCK_BYTES = 256  #: data bytes per frame
CODED_BYTES = 320  #: after the two RS(160,128) codewords
CODE_SYMBOLS = 2 * (8 * CODED_BYTES + _conv.TAIL)  #: 5132 convolutional code symbols
RS_FILL = 95  #: virtual fill of RS(255,223) -> RS(160,128)

#: channel-bit position of each code symbol (the interleaver)
_SYMBOL_POS = (ROWS * (np.arange(CODE_SYMBOLS) % COLS) + 1 + np.arange(CODE_SYMBOLS) // COLS)
_SYNC_POS = ROWS * np.arange(COLS)

#: the 52-bit sync vector of short frames (the first 52 bits of the long one)
SYNC_VECTOR_SHORT = SYNC_VECTOR[:52]


@dataclass(frozen=True)
class Ao40Format:
    """The geometry of one AO-40 frame size.

    Attributes
    ----------
    name : str
        ``"long"`` or ``"short"``.
    sync : str
        The sync vector (row 0 of the interleaver), one character per bit.
    rows, cols : int
        Interleaver rows (channel bits between two sync bits) and columns (= sync length).
    skip : int
        Matrix cell of the first code symbol (cells before it: sync, then zero pad).
    block_bytes : int
        Data bytes per frame.
    rs_interleave : int
        RS(160,128) codewords per frame (interleaved byte by byte).
    """

    name: str
    sync: str
    rows: int
    cols: int
    skip: int
    block_bytes: int
    rs_interleave: int

    def __post_init__(self):
        assert len(self.sync) == self.cols
        assert self.skip + self.code_symbols <= self.frame_bits

    @property
    def frame_bits(self) -> int:
        return self.rows * self.cols

    @property
    def coded_bytes(self) -> int:
        return self.block_bytes + 32 * self.rs_interleave

    @property
    def code_symbols(self) -> int:
        return 2 * (8 * self.coded_bytes + _conv.TAIL)

    @functools.cached_property
    def sync_bits(self) -> np.ndarray:
        b = np.array([int(c) for c in self.sync], np.uint8)
        b.flags.writeable = False
        return b

    @functools.cached_property
    def symbol_pos(self) -> np.ndarray:
        """Channel-bit position of each code symbol (the interleaver)."""
        i = self.skip + np.arange(self.code_symbols)
        pos = self.rows * (i % self.cols) + i // self.cols
        pos.flags.writeable = False
        return pos

    @functools.cached_property
    def sync_pos(self) -> np.ndarray:
        return self.rows * np.arange(self.cols)


LONG = Ao40Format("long", SYNC_VECTOR, ROWS, COLS, COLS, BLOCK_BYTES, 2)
SHORT = Ao40Format("short", SYNC_VECTOR_SHORT, 51, 52, 80, 128, 1)
assert np.array_equal(LONG.symbol_pos, _SYMBOL_POS)


def _fmt(short: bool) -> Ao40Format:
    return SHORT if short else LONG


def _crc_table() -> list[int]:
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        t.append(c)
    return t


_ARC = _crc_table()


def crc16_arc(data) -> int:
    """CRC-16/ARC (poly 0x8005 reflected, init 0, no final XOR) of ``data``; a block that ends
    with its own CRC, low byte first, gives 0."""
    c = 0
    for b in _as_bytes(data, "crc16_arc"):
        c = _ARC[(c ^ b) & 0xFF] ^ (c >> 8)
    return c


class Ao40Error(FrameBuildError):
    """A data block the AO-40 encoder cannot carry (not 256 bytes)."""


@functools.lru_cache(maxsize=None)
def _rs(interleave: int = 2) -> ReedSolomon:
    return ReedSolomon(e=16, basis="conventional", interleave=interleave, virtual_fill=RS_FILL)


@dataclass(frozen=True)
class Ao40Result:
    """One decoded frame.

    Attributes
    ----------
    block : bytes
        The data bytes (256, or 128 for short frames; as received where the RS check failed).
    ok : bool
        Every RS codeword decoded.
    rs_corrected : int
        Bytes corrected by RS over both codewords (-1 if a codeword failed).
    conv_errors : int
        Channel-bit errors of the frame's code symbols, counted by re-encoding the Viterbi
        output (meaningful only when ``ok``).
    """

    block: bytes
    ok: bool
    rs_corrected: int
    conv_errors: int


def interleave(symbols, fmt: Ao40Format = LONG) -> np.ndarray:
    """The channel bits of a frame from its code symbols (u8), sync vector added (5132 ->
    5200 bits for :data:`LONG`, 2572 -> 2652 for :data:`SHORT`)."""
    s = np.asarray(symbols, np.uint8)
    if s.shape != (fmt.code_symbols,):
        raise Ao40Error(f"AO-40 {fmt.name}-frame interleaver takes {fmt.code_symbols} code "
                        f"symbols, got {s.size}")
    out = np.zeros(fmt.frame_bits, np.uint8)
    out[fmt.sync_pos] = fmt.sync_bits
    out[fmt.symbol_pos] = s
    return out


def deinterleave(frame, fmt: Ao40Format = LONG):
    """The code symbols (or their LLRs) of a frame of channel bits (or LLRs)."""
    f = np.asarray(frame)
    if f.shape != (fmt.frame_bits,):
        raise Ao40Error(f"AO-40 {fmt.name}-frame deinterleaver takes {fmt.frame_bits} channel "
                        f"bits, got {f.size}")
    return f[fmt.symbol_pos]


def ao40_encode(block, fmt: Ao40Format = LONG) -> np.ndarray:
    """Encode one data block (256 bytes; 128 for :data:`SHORT`) into the channel bits of an
    AO-40 FEC frame.

    Returns
    -------
    ndarray of uint8, shape (5200,) or (2652,)
        Unpacked bits (0/1) in transmission order, starting with the first sync bit.
    """
    data = _as_bytes(block, "ao40_encode")
    if len(data) != fmt.block_bytes:
        raise Ao40Error(f"AO-40 {fmt.name} frames carry {fmt.block_bytes}-byte blocks, not "
                        f"{len(data)} bytes")
    coded = randomize(_rs(fmt.rs_interleave).encode(data))
    bits = np.unpackbits(np.frombuffer(coded, np.uint8))
    return interleave(_conv.encode(bits, terminate=True, variant="CCSDS"), fmt)


def decode_rs_block(data, fmt: Ao40Format = LONG) -> tuple[bytes, int]:
    """Derandomize and RS-decode the bytes the Viterbi decoder gives for a frame (320; 160 for
    :data:`SHORT`).

    Returns the data bytes and the bytes corrected. Raises :class:`FrameParseError` for a
    wrong length or an uncorrectable codeword.
    """
    raw = _as_bytes(data, "ao40.decode_rs_block")
    if len(raw) != fmt.coded_bytes:
        raise FrameParseError(f"AO-40 coded block has {fmt.coded_bytes} bytes, not {len(raw)}")
    res = _rs(fmt.rs_interleave).decode(randomize(raw))
    if not res.ok:
        raise FrameParseError("AO-40 Reed-Solomon codeword is uncorrectable")
    return res.data, res.total_corrected


def decode_frame_llrs(llrs, fmt: Ao40Format = LONG) -> Ao40Result:
    """Decode one frame from its channel LLRs (float, positive = 1, sync bit 0 first, polarity
    already right): deinterleave, Viterbi, derandomize, RS."""
    x = np.ascontiguousarray(deinterleave(np.asarray(llrs, np.float32), fmt), np.float32)
    bits = _conv.decode_terminated(x, variant="CCSDS")
    raw = np.packbits(bits).tobytes()
    re = _conv.encode(bits, terminate=True, variant="CCSDS")
    conv_errors = int(np.count_nonzero(re != (x > 0)))
    res = _rs(fmt.rs_interleave).decode(randomize(raw))
    return Ao40Result(res.data, bool(res.ok), int(res.total_corrected) if res.ok else -1,
                      conv_errors)


# --------------------------------------------------------------------------------------------
# Blocks


_SHORT_DOC = ("Short frames (SMOG-P, ATL-1): 128-byte blocks, one RS codeword, 2652 channel "
              "bits, 52-bit sync vector")
_CRC_DOC = ("The block ends with a CRC-16/ARC of the bytes before it, low byte first (SMOG-1; "
            "the framer appends it to a payload 2 bytes shorter than the block)")


def _payload_bytes(short: bool, crc: bool) -> int:
    return _fmt(short).block_bytes - (2 if crc else 0)


@dataclass(frozen=True)
class Ao40FramerParams:
    """Parameters of :class:`Ao40Framer`."""

    invert: bool = param(False, "Complement every channel bit (e.g. to match the other "
                         "differential-encoding convention of a DBPSK modulator)")
    short: bool = param(False, _SHORT_DOC)
    crc: bool = param(False, _CRC_DOC)


@register
class Ao40Framer(BitFramer):
    """PDUs (data blocks) to AO-40 FEC frames (u8 channel bits), back to back.

    FUNcube sends frames continuously; DBPSK (differential) encoding, when the link uses it,
    is the modulator's job.

    Input
    -----
    pdu : list[Pdu]
        Data blocks of exactly 256 bytes (128 with ``short``; 2 fewer with ``crc``).

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Channel bits (0 or 1), 5200 per PDU (2652 with ``short``: RS, scrambler,
        convolutional code, interleaver and distributed sync), back to back; complemented
        with ``invert``.
    """

    name = "ao40_framer"
    Params = Ao40FramerParams

    def frame_bits(self, payload: bytes) -> np.ndarray:
        p = self.params
        data = bytes(payload)
        if p.crc:
            n = _payload_bytes(p.short, True)
            if len(data) != n:
                raise Ao40Error(f"AO-40 frames with CRC carry {n}-byte payloads, not "
                                f"{len(data)} bytes")
            data += crc16_arc(data).to_bytes(2, "little")
        bits = ao40_encode(data, _fmt(p.short))
        return bits ^ 1 if p.invert else bits

    @classmethod
    def example(cls, rng):
        return cls(), [Pdu(rng.integers(0, 256, BLOCK_BYTES, dtype=np.uint8).tobytes())]


@dataclass(frozen=True)
class Ao40DeframerParams:
    """Parameters of :class:`Ao40Deframer`."""

    max_errors: int = param(-1, "Sync-vector bit errors tolerated; -1: 20 of 65 for long "
                            "frames, 12 of 52 for short ones (gr-satellites uses 8, which "
                            "loses frames the FEC would decode below Eb/N0 = 3 dB). Viterbi "
                            "plus RS reject false syncs (about one per 400 noise bits at 20 "
                            "of 65), so a loose threshold costs only decoding time",
                            unit="bits", lo=-1, hi=28)
    allow_inverted: bool = param(True, "Also accept the complemented sync vector and decode "
                                 "the complemented frame (180-degree phase ambiguity)")
    emit_failed: bool = param(False, "Also emit frames whose RS check failed (meta "
                              "fec_ok = false, data as received)")
    short: bool = param(False, _SHORT_DOC)
    crc: bool = param(False, _CRC_DOC)


@register
class Ao40Deframer(Block):
    """Soft bits (f32 LLRs, positive = 1) to AO-40 FEC data blocks (PDUs of 256 bytes, 128
    with ``short``).

    At every bit position the sync bits (65, ``80 j`` apart; 52, ``51 j`` apart with
    ``short``) are compared with the sync vector (and its complement); where at most
    ``max_errors`` differ and the whole frame (5200 or 2652 bits) has arrived, the frame is
    deinterleaved, Viterbi-decoded (soft), derandomized and RS-decoded (and, with ``crc``, its
    CRC-16/ARC checked). After a decoded frame the search resumes right behind it; after a
    failed one, one bit after its first sync bit. Frames cut off by the end of the stream are
    dropped.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        Soft channel bits (LLRs), positive means 1 (after the DBPSK demodulator).

    Output
    ------
    pdu : list[Pdu]
        The data blocks (the CRC, if any, left in place as gr-satellites does); meta
        ``bit_index`` (absolute input index of the first sync bit), ``sync_errors``,
        ``sync_corr`` (soft correlation with the sync vector, sum(+-llr)/sum|llr|, 1.0 =
        perfect), ``inverted``, ``conv_errors`` (channel-bit errors in the code symbols, by
        re-encoding), ``rs_corrected`` (bytes, all codewords; -1 on failure), ``fec_ok``,
        ``check`` (``"rs"``, or ``"crc+rs"`` with ``crc``) and ``crc_ok`` (every check
        passed); with ``crc`` also ``crc16_ok``.
    """

    name = "ao40_deframer"
    Params = Ao40DeframerParams
    rate = Rate.STREAM_TO_PDU
    in_type = "f32"
    out_type = "pdu"

    def _reset(self):
        self._buf = StreamBuffer(np.float32)  # soft bits from absolute index .base on
        self._next = 0  # next absolute position to examine

    @property
    def searched_to(self) -> int:
        """Absolute bit index before which every frame start has been examined."""
        return self._next

    def _process(self, chunk):
        self._buf.append(finite_soft_bits(chunk))
        out = self._search()
        self._buf.keep_from(self._next)
        return out

    def _search(self):
        p_ = self.params
        fmt = _fmt(p_.short)
        max_errors = p_.max_errors if p_.max_errors >= 0 else (12 if p_.short else 20)
        nbits = fmt.frame_bits
        out = []
        res = np.zeros(4, np.float64)
        buf, base = self._buf.view, self._buf.base
        while True:
            last = self._buf.end - nbits  # last position with a whole frame
            if self._next > last:
                break
            start, stop = self._next - base, last - base + 1
            if not distributed_sync_search(buf, start, stop, fmt.sync_bits, fmt.rows,
                                           max_errors, res):
                self._next = last + 1
                break
            q, inverted = int(res[0]), bool(res[1])
            p = base + q
            if inverted and not p_.allow_inverted:
                self._next = p + 1
                continue
            frame = buf[q:q + nbits]
            r = decode_frame_llrs(-frame if inverted else frame, fmt)
            meta = {"bit_index": p, "sync_errors": int(res[2]),
                    "sync_corr": round(float(res[3]), 4), "inverted": inverted,
                    "conv_errors": r.conv_errors, "rs_corrected": r.rs_corrected,
                    "fec_ok": r.ok}
            ok = r.ok
            if p_.crc:
                crc_ok = r.ok and crc16_arc(r.block) == 0
                meta.update(crc16_ok=crc_ok, check="crc+rs")
                ok = ok and crc_ok
            else:
                meta["check"] = "rs"
            meta["crc_ok"] = ok
            if ok or p_.emit_failed:
                out.append(Pdu(r.block, meta))
            self._next = p + nbits if ok else p + 1
        return out

    @classmethod
    def example(cls, rng):
        blocks = [rng.integers(0, 256, BLOCK_BYTES, dtype=np.uint8).tobytes() for _ in range(2)]
        bits = np.concatenate([ao40_encode(blocks[0]), ao40_encode(blocks[1]) ^ 1])
        llr = (2.0 * bits - 1.0) * 2.0 + rng.standard_normal(len(bits)) * 1.5
        noise = rng.standard_normal(137) * 2.0
        return cls(), np.concatenate([noise, llr, noise[:50]]).astype(np.float32)


def _decode_coded_bytes(data):
    return decode_rs_block(data)[0]


#: name -> callable taking bytes, for a fuzz runner (must raise only FrameParseError)
FUZZ_TARGETS = {"ao40_rs_block": _decode_coded_bytes}


def _seed_blocks():
    rng = np.random.default_rng(40)
    return [randomize(_rs().encode(rng.integers(0, 256, BLOCK_BYTES, dtype=np.uint8)
                                   .tobytes()))]


#: valid inputs for the fuzz targets
FUZZ_SEEDS = {"ao40_rs_block": _seed_blocks()}


# --------------------------------------------------------------------------------------------
# the framing a link names (orbitlink.framing.registry)

from orbitlink.framing.registry import Framing, register_framing  # noqa: E402


class _Ao40Framing(Framing):
    def payload_len(self, opts):
        return _payload_bytes(bool(opts.get("short", False)), bool(opts.get("crc", False)))


register_framing(_Ao40Framing(
    name="ao40", doc="FUNcube / AO-40 FEC: 256-byte blocks, 5200 channel bits, distributed sync",
    framer=Ao40Framer, deframer=Ao40Deframer, index="bit"))

register_framing(_Ao40Framing(
    name="ao40_short", doc="AO-40 FEC short frames (SMOG-P, ATL-1): 128-byte blocks, one "
    "RS(160,128), 2652 channel bits, 52-bit distributed sync",
    framer=Ao40Framer, deframer=Ao40Deframer, presets={"short": True}, index="bit"))
