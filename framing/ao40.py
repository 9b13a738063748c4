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

Error policy: :func:`decode_rs_block` raises only :class:`FrameParseError`; encoding a block
of the wrong size raises :class:`Ao40Error`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from orbitlink.framing._base import BitFramer
from orbitlink.framing.errors import FrameBuildError, FrameParseError
from orbitlink.modem.sync import distributed_sync_search
from orbitlink.modem.block import Block, Pdu, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.fec import conv as _conv
from orbitlink.modem.fec.crc import as_bytes as _as_bytes
from orbitlink.modem.fec.rs import ReedSolomon
from orbitlink.modem.fec.scramble import randomize

__all__ = ["SYNC_VECTOR", "SYNC_BITS", "ROWS", "COLS", "FRAME_BITS", "BLOCK_BYTES",
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


class Ao40Error(FrameBuildError):
    """A data block the AO-40 encoder cannot carry (not 256 bytes)."""


@functools.lru_cache(maxsize=None)
def _rs() -> ReedSolomon:
    return ReedSolomon(e=16, basis="conventional", interleave=2, virtual_fill=RS_FILL)


@dataclass(frozen=True)
class Ao40Result:
    """One decoded frame.

    Attributes
    ----------
    block : bytes
        The 256 data bytes (as received where the RS check failed).
    ok : bool
        Both RS codewords decoded.
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


def interleave(symbols) -> np.ndarray:
    """The 5200 channel bits of a frame from its 5132 code symbols (u8), sync vector added."""
    s = np.asarray(symbols, np.uint8)
    if s.shape != (CODE_SYMBOLS,):
        raise Ao40Error(f"AO-40 interleaver takes {CODE_SYMBOLS} code symbols, got {s.size}")
    out = np.zeros(FRAME_BITS, np.uint8)
    out[_SYNC_POS] = SYNC_BITS
    out[_SYMBOL_POS] = s
    return out


def deinterleave(frame):
    """The 5132 code symbols (or their LLRs) of a frame of 5200 channel bits (or LLRs)."""
    f = np.asarray(frame)
    if f.shape != (FRAME_BITS,):
        raise Ao40Error(f"AO-40 deinterleaver takes {FRAME_BITS} channel bits, got {f.size}")
    return f[_SYMBOL_POS]


def ao40_encode(block) -> np.ndarray:
    """Encode one 256-byte data block into the 5200 channel bits of an AO-40 FEC frame.

    Returns
    -------
    ndarray of uint8, shape (5200,)
        Unpacked bits (0/1) in transmission order, starting with the first sync bit.
    """
    data = _as_bytes(block, "ao40_encode")
    if len(data) != BLOCK_BYTES:
        raise Ao40Error(f"AO-40 frames carry {BLOCK_BYTES}-byte blocks, not {len(data)} bytes")
    coded = randomize(_rs().encode(data))
    bits = np.unpackbits(np.frombuffer(coded, np.uint8))
    return interleave(_conv.encode(bits, terminate=True, variant="CCSDS"))


def decode_rs_block(data) -> tuple[bytes, int]:
    """Derandomize and RS-decode the 320 bytes the Viterbi decoder gives for a frame.

    Returns the 256 data bytes and the bytes corrected. Raises :class:`FrameParseError` for a
    wrong length or an uncorrectable codeword.
    """
    raw = _as_bytes(data, "ao40.decode_rs_block")
    if len(raw) != CODED_BYTES:
        raise FrameParseError(f"AO-40 coded block has {CODED_BYTES} bytes, not {len(raw)}")
    res = _rs().decode(randomize(raw))
    if not res.ok:
        raise FrameParseError("AO-40 Reed-Solomon codeword is uncorrectable")
    return res.data, res.total_corrected


def decode_frame_llrs(llrs) -> Ao40Result:
    """Decode one frame from its 5200 channel LLRs (float, positive = 1, sync bit 0 first,
    polarity already right): deinterleave, Viterbi, derandomize, RS."""
    x = np.ascontiguousarray(deinterleave(np.asarray(llrs, np.float32)), np.float32)
    bits = _conv.decode_terminated(x, variant="CCSDS")
    raw = np.packbits(bits).tobytes()
    re = _conv.encode(bits, terminate=True, variant="CCSDS")
    conv_errors = int(np.count_nonzero(re != (x > 0)))
    res = _rs().decode(randomize(raw))
    return Ao40Result(res.data, bool(res.ok), int(res.total_corrected) if res.ok else -1,
                      conv_errors)


# --------------------------------------------------------------------------------------------
# Blocks


@dataclass(frozen=True)
class Ao40FramerParams:
    """Parameters of :class:`Ao40Framer`."""

    invert: bool = param(False, "Complement every channel bit (e.g. to match the other "
                         "differential-encoding convention of a DBPSK modulator)")


@register
class Ao40Framer(BitFramer):
    """PDUs of 256 bytes to AO-40 FEC frames (u8 channel bits, 5200 per PDU), back to back.

    FUNcube sends frames continuously; DBPSK (differential) encoding, when the link uses it,
    is the modulator's job.

    Input
    -----
    pdu : list[Pdu]
        Data blocks of exactly 256 bytes.

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Channel bits (0 or 1), 5200 per PDU (RS, scrambler, convolutional code,
        interleaver and distributed sync), back to back; complemented with ``invert``.
    """

    name = "ao40_framer"
    Params = Ao40FramerParams

    def frame_bits(self, payload: bytes) -> np.ndarray:
        bits = ao40_encode(payload)
        return bits ^ 1 if self.params.invert else bits

    @classmethod
    def example(cls, rng):
        return cls(), [Pdu(rng.integers(0, 256, BLOCK_BYTES, dtype=np.uint8).tobytes())]


@dataclass(frozen=True)
class Ao40DeframerParams:
    """Parameters of :class:`Ao40Deframer`."""

    max_errors: int = param(20, "Sync-vector bit errors tolerated (of 65; gr-satellites uses "
                            "8, which loses frames the FEC would decode below Eb/N0 = 3 dB). "
                            "Viterbi plus RS reject false syncs (about one per 400 noise bits "
                            "at 20), so a loose threshold costs only decoding time",
                            unit="bits", lo=0, hi=28)
    allow_inverted: bool = param(True, "Also accept the complemented sync vector and decode "
                                 "the complemented frame (180-degree phase ambiguity)")
    emit_failed: bool = param(False, "Also emit frames whose RS check failed (meta "
                              "fec_ok = false, data as received)")


@register
class Ao40Deframer(Block):
    """Soft bits (f32 LLRs, positive = 1) to AO-40 FEC data blocks (PDUs of 256 bytes).

    At every bit position the 65 bits ``80 j`` apart are compared with the sync vector (and
    its complement); where at most ``max_errors`` differ and the whole frame (5200 bits) has
    arrived, the frame is deinterleaved, Viterbi-decoded (soft), derandomized and RS-decoded.
    After a decoded frame the search resumes right behind it; after a failed one, one bit
    after its first sync bit. Frames cut off by the end of the stream are dropped.

    PDU metadata: ``bit_index`` (absolute input index of the first sync bit), ``sync_errors``,
    ``sync_corr`` (soft correlation with the sync vector, sum(+-llr)/sum|llr|, 1.0 = perfect),
    ``inverted``, ``conv_errors`` (channel-bit errors in the code symbols, by re-encoding),
    ``rs_corrected`` (bytes, both codewords; -1 on failure) and ``fec_ok``.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        Soft channel bits (LLRs), positive means 1 (after the DBPSK demodulator).

    Output
    ------
    pdu : list[Pdu]
        The 256-byte data blocks; meta ``bit_index`` (absolute input index of the first
        sync bit), ``sync_errors``, ``sync_corr``, ``inverted``, ``conv_errors``,
        ``rs_corrected``, ``fec_ok``.
    """

    name = "ao40_deframer"
    Params = Ao40DeframerParams
    rate = Rate.STREAM_TO_PDU
    in_type = "f32"
    out_type = "pdu"

    def _reset(self):
        self._buf = StreamBuffer(np.float32)  # soft bits from absolute index .base on
        self._next = 0  # next absolute position to examine

    def _process(self, chunk):
        x = np.asarray(chunk, np.float32)
        if len(x) and not np.all(np.isfinite(x)):
            x = np.nan_to_num(x, nan=0.0, posinf=1e30, neginf=-1e30)
        self._buf.append(x)
        out = self._search()
        self._buf.keep_from(self._next)
        return out

    def _search(self):
        p_ = self.params
        out = []
        res = np.zeros(4, np.float64)
        buf, base = self._buf.view, self._buf.base
        while True:
            last = self._buf.end - FRAME_BITS  # last position with a whole frame
            if self._next > last:
                break
            start, stop = self._next - base, last - base + 1
            if not distributed_sync_search(buf, start, stop, SYNC_BITS, ROWS, p_.max_errors,
                                           res):
                self._next = last + 1
                break
            q, inverted = int(res[0]), bool(res[1])
            p = base + q
            if inverted and not p_.allow_inverted:
                self._next = p + 1
                continue
            frame = buf[q:q + FRAME_BITS]
            r = decode_frame_llrs(-frame if inverted else frame)
            if r.ok or p_.emit_failed:
                out.append(Pdu(r.block, {
                    "bit_index": p, "sync_errors": int(res[2]),
                    "sync_corr": round(float(res[3]), 4), "inverted": inverted,
                    "conv_errors": r.conv_errors, "rs_corrected": r.rs_corrected,
                    "fec_ok": r.ok}))
            self._next = p + FRAME_BITS if r.ok else p + 1
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
        return 256


register_framing(_Ao40Framing(
    name="ao40", doc="FUNcube / AO-40 FEC: 256-byte blocks, 5200 channel bits, distributed sync",
    framer=Ao40Framer, deframer=Ao40Deframer, index="bit"))
