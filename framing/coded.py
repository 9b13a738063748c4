"""Coded frames (CCSDS TM synchronisation and channel coding, 131.0-B): framer and deframer.

On the air::

    ... | ASM (1ACFFC1D) | codeblock | ASM | codeblock | ...      (then, optionally, the whole
                                                                 stream convolutionally coded)

where codeblock = randomize(RS(payload + CRC)) with each stage optional (see
:class:`orbitlink.modem.fec.codec.FrameCodec`). The ASM is not randomized.

The deframer takes synchronised symbols ('sym'), demaps them to LLRs and, because a PSK carrier
loop may lock at any of the constellation's rotations, runs one decoder per hypothesis that
cannot be told apart before decoding:

- BPSK with a convolutional code: the two alignments of the code-symbol pairs;
- QPSK: the carrier locked at 0/180 degrees or at 90/270 degrees (LLR pairs (a, b) -> (b, -a));

and 180 degrees (all bits inverted; both CCSDS generators have odd weight, so the decoded data
comes out complemented) shows as an inverted ASM. Frames are released in stream order once
every hypothesis has moved past them, so the output does not depend on chunking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink.modem.sync import asm_search
from orbitlink.framing._base import BitFramer
from orbitlink.modem.block import Block, Pdu, Rate, SYM_DTYPE, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.fec.codec import CrcStage, FrameCodec, RandomizerStage, RsStage
from orbitlink.modem.modulation import m2m4
from orbitlink.modem.psk import SoftDemapper

CONV_VARIANTS = ("none", "CCSDS", "CCSDS uninverted", "NASA-DSN", "NASA-DSN uninverted")
CONV_RATES = ("1/2", "2/3", "3/4", "5/6", "7/8")


@dataclass(frozen=True)
class CodedFrameParams:
    modulation: str = param("bpsk", "Constellation (coded links: BPSK or QPSK)",
                            choices=("bpsk", "qpsk"))
    asm: str = param("1ACFFC1D", "Attached sync marker, hexadecimal (32 or 64 bits)")
    payload_len: int = param(1115, "Payload bytes per frame (before CRC and RS)", unit="bytes",
                             lo=1, hi=65535)
    crc: str = param("none", "Frame check appended to the payload", choices=("none", "crc16"))
    rs_e: int = param(16, "Reed-Solomon correction power (0 = no RS)", choices=(0, 8, 16))
    rs_basis: str = param("dual", "Reed-Solomon symbol basis", choices=("dual", "conventional"))
    rs_interleave: int = param(5, "Reed-Solomon interleaving depth", lo=1, hi=8)
    rs_fill: int = param(0, "Reed-Solomon virtual fill per codeword", unit="bytes", lo=0,
                         hi=222)
    randomizer: bool = param(True, "CCSDS pseudo-randomizer over the codeblock")
    differential: bool = param(False, "Differential (NRZ-M) precoding of the whole bit stream "
                               "before the convolutional code: the deframer decodes "
                               "b[n] xor b[n-1] after Viterbi (gr-satellites 'precoding: "
                               "differential'; the transmitter puts an NrzmEncoder between "
                               "the framer and the ConvEncoder)")
    conv: str = param("CCSDS", "Convolutional code over the whole stream", choices=CONV_VARIANTS)
    conv_rate: str = param("1/2", "Convolutional code rate (punctured above 1/2)",
                           choices=CONV_RATES)
    traceback: int = param(96, "Viterbi traceback depth", unit="bits", lo=16, hi=4096)
    max_errors: int = param(3, "ASM bit errors tolerated while searching", unit="bits", lo=0,
                            hi=16)
    max_errors_locked: int = param(8, "ASM bit errors tolerated where the next frame is "
                                   "expected (right after a frame: the flywheel)", unit="bits",
                                   lo=0, hi=24)
    emit_failed: bool = param(False, "Also emit frames whose RS/CRC check failed")
    idle_frames: bool = param(False, "The link sends idle frames: report an all-zero "
                              "Reed-Solomon codeword (on the air: the randomizer sequence) "
                              "as a frame; by default it is dropped (a dead or idle carrier, "
                              "not data)")
    samp_rate: float = param(1.0, "Sample rate of the input samples (for times and Hz)",
                             unit="Hz", lo=0.0, lo_open=True)


def frame_codec(p: CodedFrameParams) -> FrameCodec:
    """The frame-level codec (everything after the ASM) of a coded link."""
    stages = []
    if p.crc == "crc16":
        stages.append(CrcStage())
    if p.rs_e:
        stages.append(RsStage(e=p.rs_e, basis=p.rs_basis, interleave=p.rs_interleave,
                              virtual_fill=p.rs_fill))
    if p.randomizer:
        stages.append(RandomizerStage())
    return FrameCodec(stages)


def check_name(p: CodedFrameParams) -> str:
    """What vouches for a coded frame (``meta["check"]``): ``crc``, ``rs``, ``crc+rs`` or
    ``none``."""
    parts = (["crc"] if p.crc == "crc16" else []) + (["rs"] if p.rs_e else [])
    return "+".join(parts) or "none"


def _asm_bits(p: CodedFrameParams) -> np.ndarray:
    try:
        raw = bytes.fromhex(p.asm)
    except ValueError:
        raise OrbitlinkError(f"sync marker {p.asm!r} is not hexadecimal") from None
    if len(raw) not in (4, 8):
        raise OrbitlinkError(f"sync marker must have 32 or 64 bits, got {8 * len(raw)}")
    return np.unpackbits(np.frombuffer(raw, np.uint8))


@register
class CodedFramer(BitFramer):
    """PDUs to frame bits (u8): ASM + codeblock. The convolutional code, when the link has
    one, is applied to the whole bit stream by a :class:`~orbitlink.modem.fec.conv.ConvEncoder`
    after this block.

    Input
    -----
    pdu : list[Pdu]
        Payloads of exactly ``payload_len`` bytes.

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Frame bits (0 or 1), MSB first: the ASM, then the codeblock (RS parity,
        randomized as configured); before any convolutional encoder.
    """

    name = "coded_framer"
    Params = CodedFrameParams

    def _reset(self):
        self.codec = frame_codec(self.params)
        self.asm_bits = _asm_bits(self.params)
        self.frame_bytes = self.codec.encoded_length(self.params.payload_len)

    def frame_bits(self, payload: bytes) -> np.ndarray:
        if not isinstance(payload, (bytes, bytearray)):
            raise OrbitlinkError(f"frame payload must be bytes, not {type(payload).__name__}")
        if len(payload) != self.params.payload_len:
            raise OrbitlinkError(f"frame payload has {len(payload)} bytes but the link carries "
                                 f"{self.params.payload_len}-byte payloads")
        block = self.codec.encode(bytes(payload))
        return np.concatenate([self.asm_bits, np.unpackbits(np.frombuffer(block, np.uint8))])


    @classmethod
    def example(cls, rng):
        pdus = [Pdu(bytes(rng.integers(0, 256, 20).astype(np.uint8))) for _ in range(2)]
        return cls(payload_len=20, rs_e=0, crc="crc16", conv="none"), pdus


class _Hypothesis:
    """One way of reading the LLR stream: a transform, an optional Viterbi decoder, a search."""

    def __init__(self, index, transform, skip, viterbi):
        self.index = index
        self.transform = transform  # "id" or "rot" (QPSK 90 degrees)
        self.skip = skip  # LLRs dropped at the start of the stream (pair alignment)
        self.viterbi = viterbi
        self.buf = StreamBuffer(np.uint8)  # decoded bits from absolute index .base on
        self.next = 0  # next bit position to examine
        self.expect = -1  # where the next ASM should start (flywheel), -1 when not locked
        self.misses = 0  # frames that failed in a row where the flywheel expected them
        self.inverted = False  # polarity of the last good frame
        self.last_end = 0  # end of the last good frame (no frame is decoded before it)
        self.llr_offset = skip
        self.prev_bit = 0  # last decoded bit before differential decoding

    @property
    def bits(self) -> np.ndarray:
        """The decoded bits held (a view, valid until the next append)."""
        return self.buf.view

    @property
    def base(self) -> int:
        """Absolute decoded-bit index of ``bits[0]``."""
        return self.buf.base


@register
class CodedDeframer(Block):
    """Synchronised symbols ('sym') to decoded frames (PDUs).

    Metadata of each frame: ``sample_index``, ``symbol_index``, ``time_s``, ``snr_db`` (Es/N0
    over the frame's symbols), ``freq_offset_hz``, ``crc_ok`` (every check passed; False when
    the link has neither CRC nor RS), ``check`` (``crc``, ``rs``, ``crc+rs`` or ``none``),
    ``rs_ok`` and ``rs_corrected`` (when RS is on), ``asm_errors``, ``inverted``,
    ``hypothesis``.

    An all-zero Reed-Solomon codeword (a valid codeword; with the randomizer on, the
    randomizer sequence on the air) and a codeblock of constant bits are not frames but a
    dead or idle carrier: they are dropped unless ``idle_frames`` says the link sends idle
    frames (``stats["idle_dropped"]`` counts them).

    Input
    -----
    sym : ndarray of SYM_DTYPE, shape (n,)
        Synchronised symbols (from :class:`~orbitlink.modem.psk.PskDemodulator`, or
        :class:`~orbitlink.modem.adapters.SoftToSym` after an FSK demodulator).

    Output
    ------
    pdu : list[Pdu]
        Decoded payloads of ``payload_len`` bytes; meta ``sample_index``,
        ``symbol_index``, ``time_s``, ``snr_db``, ``freq_offset_hz``, ``crc_ok``, ``check``,
        ``rs_ok`` and ``rs_corrected`` (with RS), ``asm_errors``, ``inverted``, ``hypothesis``.
    """

    name = "coded_deframer"
    Params = CodedFrameParams
    rate = Rate.STREAM_TO_PDU
    in_type = "sym"
    out_type = "pdu"

    def _reset(self):
        p = self.params
        self.codec = frame_codec(p)
        self.check = check_name(p)
        self.stats = {"idle_dropped": 0}
        self.asm = _asm_bits(p)
        self.asm_int = int("".join(map(str, self.asm)), 2)
        self.frame_bits = 8 * self.codec.encoded_length(p.payload_len)
        # a long average: the Viterbi metric wants a steady LLR scale
        self.demap = SoftDemapper(modulation=p.modulation, snr_avg=4096)
        self.k = 1 if p.modulation == "bpsk" else 2
        if p.conv != "none":
            from orbitlink.modem.fec.conv import ConvCode

            self._code = ConvCode(p.conv, p.conv_rate)
            self._bits_per_llr = self._code.rate  # decoded bits per coded bit
        else:
            self._code = None
            self._bits_per_llr = 1.0
        # alignments of the code's puncturing period that the stream may start at
        period = self._code.sent_per_period if self._code is not None else 1
        skips = range(period) if p.modulation == "bpsk" else range(0, period, 1 if period % 2 else 2)
        transforms = ("id",) if p.modulation == "bpsk" else ("id", "rot")
        hyps = [(tf, s) for tf in transforms for s in skips]
        self.hyps = [_Hypothesis(i, tf, s, self._new_viterbi()) for i, (tf, s) in enumerate(hyps)]
        self._sym = StreamBuffer(SYM_DTYPE)  # symbols from absolute index .base on
        self._nllr = 0  # LLRs produced so far
        self._pending = []  # (symbol_index, hypothesis, Pdu)

    def _new_viterbi(self):
        if self._code is None:
            return None
        from orbitlink.modem.fec.conv import ViterbiDecoder

        return ViterbiDecoder(variant=self.params.conv, rate=self.params.conv_rate,
                              traceback=self.params.traceback)

    # -----------------------------------------------------------------------------------------
    def _feed(self, h: _Hypothesis, llr: np.ndarray, final: bool):
        if h.transform == "rot" and len(llr):  # on whole symbols (LLR pairs), before any skip
            r = np.empty_like(llr)
            r[0::2], r[1::2] = llr[1::2], -llr[0::2]
            llr = r
        if h.skip:
            n = min(h.skip, len(llr))
            llr = llr[n:]
            h.skip -= n
        if h.viterbi is not None:
            parts = [h.viterbi.process(llr)]
            if final:
                parts.append(h.viterbi.flush())
            bits = np.concatenate(parts).astype(np.uint8)
        else:
            bits = (llr > 0).astype(np.uint8)
        if self.params.differential and len(bits):
            d = bits.copy()
            d[0] ^= h.prev_bit
            d[1:] ^= bits[:-1]
            h.prev_bit = int(bits[-1])
            bits = d
        h.buf.append(bits)

    def _bit_to_symbol(self, h: _Hypothesis, bit_index: float) -> int:
        llr_index = bit_index / self._bits_per_llr + h.llr_offset
        return int(llr_index // self.k)

    def _search(self, h: _Hypothesis, final: bool = False):
        """Find and decode frames: search for the ASM (at most ``max_errors`` bit errors);
        once a frame has been found, the next one is also tried where it should follow
        (the flywheel), whatever its ASM looks like: the RS/CRC check decides, unless a clean
        ASM (search grade) starts less than a frame later: then the stream has a gap and
        that ASM is taken instead (the window at the flywheel position would be a cyclic shift
        of a full-length RS codeword, which RS accepts). After two
        frames in a row fail there, the lock is dropped."""
        na = len(self.asm)
        need = na + self.frame_bits
        res = np.zeros(3, np.int64)
        p = self.params
        while True:
            last = h.base + len(h.bits) - need  # last start with a whole frame behind it
            if h.next > last:
                break
            start = h.next - h.base
            fly = h.expect == h.next
            if fly:
                e = int(np.count_nonzero(h.bits[start:start + na] != self.asm))
                # the complement of a codeblock is a codeblock too: change the polarity only
                # on a clear (search-grade) inverted marker
                inverted = (not h.inverted) if (e if h.inverted else na - e) <= p.max_errors \
                    else h.inverted
                errors = na - e if inverted else e
                pos = start
                if errors > p.max_errors_locked:
                    # a poor marker: look for a clean one up to a frame later (a gap)
                    if not final and h.next + need > last:
                        break  # wait for the whole window (decisions must not depend on chunks)
                    stop = min(start + need, last - h.base + 1)
                    if asm_search(h.bits, start + 1, stop, self.asm_int, na, p.max_errors, res):
                        h.next, h.expect, h.misses = h.base + int(res[0]), -1, 0
                        continue
            else:
                stop = last - h.base + 1
                if h.expect > h.next:  # search only up to where the flywheel expects a frame
                    stop = min(stop, h.expect - h.base)
                if not asm_search(h.bits, start, stop, self.asm_int, na, p.max_errors, res):
                    h.next = h.base + stop if h.expect > h.next else last + 1
                    if h.next > last:
                        h.next = min(h.next, last + 1)
                    continue
                pos, inverted, errors = int(res[0]), bool(res[1]), int(res[2])
            abs_pos = h.base + pos
            if not fly and h.expect == -1 and abs_pos - need >= max(h.base, h.last_end):
                # first lock: the frame just before this one may have had a damaged marker
                self._decode_at(h, abs_pos - need - h.base, inverted, -1, backward=True)
            ok = self._decode_at(h, pos, inverted, errors)
            if ok:
                h.last_end = abs_pos + need
                h.next = h.expect = abs_pos + need
                h.misses = 0
                h.inverted = inverted
            elif fly and h.misses == 0:  # one more chance one frame later; search meanwhile
                h.misses = 1
                h.next, h.expect = abs_pos + 1, abs_pos + need
            else:
                h.next, h.expect, h.misses = abs_pos + 1, -1, 0
        h.buf.keep_from(self._horizon(h))

    def _horizon(self, h: _Hypothesis) -> int:
        """No frame of this hypothesis can start before this bit any more."""
        if h.expect == -1:  # unlocked: the first lock may still decode one frame back
            return min(h.next, max(h.last_end, h.next - len(self.asm) - self.frame_bits, 0))
        return h.next

    def _decode_at(self, h: _Hypothesis, pos: int, inverted: bool, errors: int,
                   backward: bool = False) -> bool:
        """Decode the frame whose ASM starts at buffer index ``pos``; queue its PDU if it
        passes (or always, with ``emit_failed``, except for the backward guess)."""
        na = len(self.asm)
        fb = h.bits[pos + na: pos + na + self.frame_bits]
        if inverted:
            fb = 1 - fb
        payload, info = self.codec.decode(np.packbits(fb).tobytes())
        ok = bool(info.get("ok", True))
        if not self.params.idle_frames and self._idle(fb, payload, ok):
            if not backward:
                self.stats["idle_dropped"] += 1
            return ok  # the flywheel stays locked on an idle carrier; nothing is reported
        if errors < 0:
            e = int(np.count_nonzero(h.bits[pos:pos + na] != self.asm))
            errors = na - e if inverted else e
        if ok or (self.params.emit_failed and not backward):
            self._pending.append(self._make_pdu(h, h.base + pos, inverted, errors, payload,
                                                info))
        return ok

    def _idle(self, fb: np.ndarray, payload: bytes, ok: bool) -> bool:
        """An all-zero RS codeword (systematic: its data is all zero), or a codeblock of
        constant bits on the air."""
        if ok and self.params.rs_e and self.params.crc == "none" and not any(payload):
            return True
        return bool(len(fb)) and bool(np.all(fb == fb[0]))

    def _make_pdu(self, h, abs_pos, inverted, asm_errors, payload, info):
        p = self.params
        s0 = self._bit_to_symbol(h, abs_pos)
        s1 = self._bit_to_symbol(h, abs_pos + len(self.asm) + self.frame_bits)
        i0 = max(0, s0 - self._sym.base)
        i1 = max(i0 + 1, min(len(self._sym), s1 - self._sym.base))
        rec = self._sym.view[i0:i1]
        if len(rec):
            s, n = m2m4(rec["z"])
            t0 = float(rec["t"][0])
            f = float(np.mean(rec["f"].astype(np.float64)))
        else:  # pragma: no cover - symbols always retained up to the watermark
            s, n, t0, f = 1.0, 1.0, 0.0, 0.0
        sidx = int(round(t0))
        meta = {
            "sample_index": sidx,
            "symbol_index": int(s0),
            "time_s": round(sidx / p.samp_rate, 9),
            "snr_db": round(10 * math.log10(max(s, 1e-30) / n), 2),
            "freq_offset_hz": round(f * p.samp_rate, 3),
            "crc_ok": bool(info.get("ok", True)) and self.check != "none",
            "check": self.check,
            "asm_errors": asm_errors,
            "inverted": inverted,
            "hypothesis": h.index,
        }
        for key in ("rs_ok", "rs_corrected"):
            if key in info:
                meta[key] = info[key]
        return (s0, h.index, Pdu(bytes(payload), meta))

    def _release(self, final: bool):
        if final:
            ready, self._pending = self._pending, []
        else:
            mark = min(self._bit_to_symbol(h, self._horizon(h)) for h in self.hyps)
            ready = [x for x in self._pending if x[0] < mark]
            self._pending = [x for x in self._pending if x[0] >= mark]
        ready.sort(key=lambda x: (x[0], x[1]))
        out = []
        for s0, hi, pdu in ready:
            if out and abs(out[-1][0] - s0) * self.k * self._bits_per_llr < len(self.asm):
                continue  # the same frame seen by two hypotheses
            out.append((s0, hi, pdu))
        # keep the symbols every hypothesis may still need
        keep_from = min(self._bit_to_symbol(h, self._horizon(h)) for h in self.hyps) - 2
        if self._pending:
            keep_from = min(keep_from, min(x[0] for x in self._pending))
        self._sym.keep_from(keep_from)
        return [pdu for _, _, pdu in out]

    def _run(self, sym, final):
        self._sym.append(sym)
        llr = self.demap.process(sym)
        self._nllr += len(llr)
        for h in self.hyps:
            self._feed(h, llr, final)
            self._search(h, final)
        return self._release(final)

    def _process(self, sym):
        return self._run(sym, final=False)

    def _flush(self):
        return self._run(np.zeros(0, SYM_DTYPE), final=True)

    @classmethod
    def example(cls, rng):
        fr = CodedFramer(payload_len=24, rs_e=0, crc="crc16", conv="none", modulation="qpsk")
        pdus = [Pdu(bytes(rng.integers(0, 256, 24).astype(np.uint8))) for _ in range(3)]
        bits = np.concatenate([rng.integers(0, 2, 64).astype(np.uint8), fr.run(pdus),
                               rng.integers(0, 2, 32).astype(np.uint8)])
        from orbitlink.modem.modulation import Modulation

        z = Modulation("qpsk").modulate_bits(bits) * np.exp(1j * np.pi / 2)
        z = z + 0.1 * (rng.standard_normal(len(z)) + 1j * rng.standard_normal(len(z)))
        rec = np.zeros(len(z), SYM_DTYPE)
        rec["z"] = z
        rec["t"] = 4.0 * np.arange(len(z))
        return cls(payload_len=24, rs_e=0, crc="crc16", conv="none", modulation="qpsk"), rec


# --------------------------------------------------------------------------------------------
# the framing a link names (orbitlink.framing.registry)

from orbitlink.framing.errors import FrameParseError  # noqa: E402
from orbitlink.framing.registry import Framing, register_framing  # noqa: E402


class _CcsdsFraming(Framing):
    """CCSDS 131.0-B coded frames; with ``packets: true`` the payloads are Space Packets carried
    in TM Transfer Frames of virtual channel ``vcid`` (packetizer before the framer, VC
    demultiplexer after the deframer)."""

    def _frame_len(self, opts):
        return int(opts.get("payload_len", CodedFrameParams.payload_len))

    def tx_frame_blocks(self, opts, ctx, where=""):
        head = []
        if opts.get("packets"):
            from orbitlink.framing.space_packet import TmPacketizer

            head.append(TmPacketizer(frame_len=self._frame_len(opts), scid=int(opts["scid"]),
                                     vcid=int(opts["vcid"]), fecf=True))
        return head + [self.framer_block(opts, ctx, where)]

    def tx_bit_blocks(self, opts, ctx, where=""):
        p = self.framer_block(opts, ctx, where).params
        out = []
        if p.differential:  # NRZ-M precoding before the convolutional encoder
            from orbitlink.modem.fec.line import NrzmEncoder

            out.append(NrzmEncoder())
        if p.conv != "none":
            from orbitlink.modem.fec.conv import ConvEncoder

            out.append(ConvEncoder(variant=p.conv, rate=p.conv_rate))
        return out

    def rx_blocks(self, opts, ctx, emit_failed=None, where=""):
        out = [self.deframer_block(opts, ctx, emit_failed, where)]
        if opts.get("packets"):
            from orbitlink.framing.ccsds_tm import TmFrameDemux

            out.append(TmFrameDemux(frame_len=self._frame_len(opts), fecf=True))
        return out

    def stream_code_rate(self, opts, ctx):
        p = self.framer_block(opts, ctx).params
        if p.conv == "none":
            return 1.0
        from orbitlink.modem.fec.conv import ConvEncoder

        return ConvEncoder(variant=p.conv, rate=p.conv_rate).code.rate

    def code_rate(self, opts, ctx):
        fr = self.framer_block(opts, ctx)
        return self.stream_code_rate(opts, ctx) * fr.params.payload_len / fr.frame_bytes

    def payload_len(self, opts):
        return None if opts.get("packets") else self._frame_len(opts)

    def check_payload(self, opts, data, ctx):
        if not opts.get("packets"):
            return super().check_payload(opts, data, ctx)
        from orbitlink.framing import space_packet

        try:
            space_packet.parse(data)
        except FrameParseError as e:
            return str(e).rstrip(".")
        return None

    def random_payload(self, opts, rng, i):
        if not opts.get("packets"):
            return super().random_payload(opts, rng, i)
        from orbitlink.framing import space_packet

        data = super().random_payload(opts, rng, i)
        return space_packet.build(int(rng.integers(1, 2000)), data, sequence_count=i % 16384)


register_framing(_CcsdsFraming(
    name="ccsds", doc="CCSDS 131.0-B: ASM + randomized RS frames, optional convolutional code",
    framer=CodedFramer, deframer=CodedDeframer, context=("modulation", "samp_rate"),
    link_keys={"packets": False, "scid": 0, "vcid": 0}, emit_failed="emit_failed"))
