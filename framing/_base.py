"""Shared base of the framers that turn each PDU into a run of channel bits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orbitlink.modem.block import Block, Pdu, Rate, param, register


class BitFramer(Block):
    """PDUs in, u8 bits out: subclasses define ``frame_bits(payload) -> u8 array``."""

    rate = Rate.PDU_TO_STREAM
    in_type = "pdu"
    out_type = "u8"
    stateful = False

    def frame_bits(self, payload: bytes) -> np.ndarray:
        raise NotImplementedError

    def _process(self, pdus):
        if not pdus:
            return np.zeros(0, np.uint8)
        return np.concatenate([self.frame_bits(bytes(p.data)) for p in pdus])


#: what deframers call the sync marker's bit errors (``sync_errors`` in every frame's metadata)
_SYNC_KEYS = ("asm_errors", "start_errors")

#: the deframer's verdict keys, and the check each one names when the deframer names none
_VERDICTS = (("fcs_ok", "fcs"), ("rs_ok", "rs"), ("fec_ok", "fec"))


def finite_soft_bits(chunk) -> np.ndarray:
    """Soft bits as float32 with NaN as 0 (no information) and infinities as +-1e30, so that
    a bad value from upstream costs a bit, never the search."""
    x = np.asarray(chunk, np.float32)
    if len(x) and not np.all(np.isfinite(x)):
        x = np.nan_to_num(x, nan=0.0, posinf=1e30, neginf=-1e30)
    return x


def settle_check(m: dict) -> dict:
    """Set ``m["check"]`` and ``m["crc_ok"]`` of a received frame's metadata (in place; see
    :class:`FrameMeta`): a frame is good only if a check passed."""
    check = m.get("check")
    if not check:
        check = next((name for key, name in _VERDICTS if key in m), "none")
        m["check"] = check
    if check == "none":
        m["crc_ok"] = False
    elif "crc_ok" not in m:
        m["crc_ok"] = bool(next((m[key] for key, _ in _VERDICTS if key in m), True))
    else:
        m["crc_ok"] = bool(m["crc_ok"])
    return m


@dataclass(frozen=True)
class FrameMetaParams:
    """Parameters of :class:`FrameMeta`."""

    index: str = param("sample", "What the deframer's sample_index counts: input samples, or "
                       "channel bits (bit and soft-bit deframers)", choices=("sample", "bit"))
    bits_per_symbol: int = param(1, "Channel bits per symbol", lo=1, hi=8)
    symbol_rate: float = param(1.0, "Symbol rate", unit="Bd", lo=0.0, lo_open=True)
    samp_rate: float = param(1.0, "Sample rate of the receiver's input", unit="Hz", lo=0.0,
                             lo_open=True)
    air_bits_per_byte: float = param(10.0, "Channel bits a payload byte takes on the air "
                                     "(code, sync and stuffing included; to flag frames that "
                                     "span a gap of the source)", lo=1.0, hi=1000.0)
    deviation: float = param(0.0, "Peak deviation of an FSK link: the Hz scale of the "
                             "frames' freq_offset_hz on FM audio (0: unknown)", unit="Hz",
                             lo=0.0)


@register
class FrameMeta(Block):
    """Completes the metadata of received frames: a bit deframer's position becomes
    ``bit_index`` and an (approximate) ``sample_index``; ``time_s`` is added; ``check`` and
    ``crc_ok`` are settled; with an FSK demodulator's eye attached (:meth:`attach_quality`),
    ``snr_db`` and ``freq_offset_hz`` are estimated over the frame's symbols
    (:mod:`orbitlink.modem.quality` says how); ``sync_errors`` (bit errors in the sync
    marker) is given under that name for every family (deframers that call it ``asm_errors``
    or ``start_errors``).

    ``check`` names what vouches for the frame: ``crc``, ``fcs``, ``rs``, ``golay+rs``,
    ``crc+rs``, ``bch``, ... or ``none``. A deframer sets it; when it does not, it is
    inferred from the metadata the deframer left (``fcs_ok`` -> ``fcs``, ``rs_ok`` -> ``rs``,
    ``fec_ok`` -> ``fec``), else ``none``. ``crc_ok`` (the frame is good) follows from it: a
    frame whose check is ``none`` is never good, whatever else its metadata says; otherwise
    ``crc_ok`` is the deframer's own verdict (``crc_ok``, else ``fcs_ok``, ``rs_ok`` or
    ``fec_ok``), and True only for a deframer that names its check and emits only frames
    that passed it.

    Input
    -----
    pdu : list[Pdu]
        Frames from a deframer; ``meta["sample_index"]`` counts input samples
        (``index="sample"``) or channel bits (``index="bit"``).

    Output
    ------
    pdu : list[Pdu]
        The same frames (new Pdu objects); metadata with ``sample_index`` (input samples),
        ``time_s`` (seconds from the first input sample), ``check`` (str), ``crc_ok`` (bool:
        a check passed) and, for bit deframers, ``bit_index``.
    """

    name = "frame_meta"
    Params = FrameMetaParams
    rate = Rate.PDU_TO_PDU
    in_type = "pdu"
    out_type = "pdu"
    stateful = False

    #: where the source lost samples (``GapLog`` of a radio source, attached by the runner);
    #: None for recordings
    gap_log = None

    #: per-symbol eye of an FSK demodulator (:class:`orbitlink.modem.quality.FskQuality`,
    #: attached when the link's graph is built): frames get snr_db and freq_offset_hz from it
    quality = None

    #: processed position -> the source's sample index, when a live run dropped samples
    #: between the source and the blocks (attached by the live runner); None otherwise
    index_map = None

    def attach_gap_log(self, log) -> None:
        """Flag frames whose samples span a gap of ``log`` (``gaps``, ``gap_samples``)."""
        self.gap_log = log

    def attach_quality(self, quality) -> None:
        """Estimate ``snr_db`` and ``freq_offset_hz`` of bit deframers' frames from
        ``quality`` (an :class:`~orbitlink.modem.quality.FskQuality`) over each frame's
        symbols (from ``bit_index``, eight channel bits per payload byte)."""
        self.quality = quality

    def attach_index_map(self, index_map) -> None:
        """Report sample indices in the source's numbering (``index_map(position)``)."""
        self.index_map = index_map

    def _process(self, pdus):
        out = [self.finish(p) for p in pdus]
        if self.gap_log is not None:
            out = [self._flag(p) for p in out]
        return out

    def _flag(self, pdu: Pdu) -> Pdu:
        """A frame's samples: its air time after its position for symbol deframers (which
        report the frame's start); either side of it for bit deframers."""
        p = self.params
        m = pdu.meta
        span = (len(pdu.data) * p.air_bits_per_byte / p.bits_per_symbol * p.samp_rate
                / p.symbol_rate)
        s = m.get("sample_index", 0)
        hit = self.gap_log.between(s - (span if p.index == "bit" else 0), s + span)
        if hit:
            m = dict(m, gaps=len(hit), gap_samples=int(sum(n for _, n in hit)))
            return Pdu(bytes(pdu.data), m)
        return pdu

    def finish(self, pdu: Pdu) -> Pdu:
        p = self.params
        m = dict(pdu.meta)
        if p.index == "bit":
            if "bit_index" not in m and "sample_index" in m:
                m["bit_index"] = m.pop("sample_index")
            if "bit_index" in m and "sample_index" not in m:
                m["sample_index"] = int(round(m["bit_index"] / p.bits_per_symbol * p.samp_rate
                                              / p.symbol_rate))
        if self.quality is not None and "bit_index" in m and "snr_db" not in m:
            # 8 bits a byte: within the frame on the air in every framing (sync, header,
            # parity, stuffing and code only add bits), so every symbol has been decided
            span = 8 * len(pdu.data) // p.bits_per_symbol
            m.update(self.quality.frame_stats(m["bit_index"] // p.bits_per_symbol, span,
                                              p.deviation))
        if self.index_map is not None and "sample_index" in m:
            m["sample_index"] = int(round(self.index_map(m["sample_index"])))
        if "sample_index" in m and "time_s" not in m:
            m["time_s"] = round(m["sample_index"] / p.samp_rate, 9)
        if "sync_errors" not in m:  # one name for the sync marker's bit errors, all families
            for k in _SYNC_KEYS:
                if k in m:
                    m["sync_errors"] = m[k]
                    break
        settle_check(m)
        return Pdu(bytes(pdu.data), m)

    @classmethod
    def example(cls, rng):
        pdus = [Pdu(bytes([i]), {"sample_index": int(i * 977), "fcs_ok": bool(i % 2)})
                for i in range(6)]
        return cls(index="bit", bits_per_symbol=2, symbol_rate=9600.0, samp_rate=48000.0), pdus


@dataclass(frozen=True)
class BurstParams:
    """Parameters of :class:`Burst`."""

    framer: str = param("sync_framer", "Name of the framer block (PDUs -> u8 bits)")
    framer_params: tuple = param((), "The framer's parameters, as (name, value) pairs")
    preamble_bits: int = param(0, "Idle bits before the first frame", unit="bits", lo=0,
                               hi=1 << 30)
    gap_bits: int = param(0, "Idle bits between frames", unit="bits", lo=0, hi=1 << 30)
    postamble_bits: int = param(0, "Idle bits after the last frame", unit="bits", lo=0,
                                hi=1 << 30)
    seed: int = param(0, "Seed of the pseudo-random idle bits", lo=0)


@register
class Burst(Block):
    """One continuous transmission: idle (pseudo-random) bits, then each frame with idle
    bits between frames, then idle bits at the end of the stream.

    The framer is built from its registered name and parameters. The idle bits come from
    ``numpy.random.default_rng(seed)`` in transmission order (preamble, gaps, postamble), so
    the output does not depend on how the PDUs are split into chunks. ``frame_starts`` (with
    ``frame_bits``, their lengths) lists
    the output bit index where each frame begins.

    Input
    -----
    pdu : list[Pdu]
        Payloads, in the form the framer takes.

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Channel bits (0 or 1), MSB first, before any stream code (convolutional code,
        line code), which follows in its own block.
    """

    name = "burst"
    Params = BurstParams
    rate = Rate.PDU_TO_STREAM
    in_type = "pdu"
    out_type = "u8"

    def __init__(self, params=None, **kw):
        from orbitlink.modem.block import REGISTRY, coerce_params

        super().__init__(params, **kw)
        p = self.params
        cls = REGISTRY.get(p.framer)
        if cls is None or cls.in_type != "pdu" or cls.out_type != "u8":
            from orbitlink.modem.block import ParamError

            raise ParamError(f"burst: '{p.framer}' is not a framer block (PDUs -> u8)")
        self._framer_cls = cls
        self._framer_params = coerce_params(cls.Params, dict(p.framer_params), p.framer)
        self._reset()

    def _reset(self):
        if not hasattr(self, "_framer_cls"):
            return
        self.framer = self._framer_cls(self._framer_params)
        self._rng = np.random.default_rng(self.params.seed)
        self._started = False
        self._pos = 0
        self.frame_starts = []
        self.frame_bits = []  # bits of each frame in frame_starts
        self.last_frame_bits = 0

    def _idle(self, n):
        return self._rng.integers(0, 2, n).astype(np.uint8)

    def _process(self, pdus):
        parts = []
        for q in pdus:
            # the preamble before the first frame, a gap before each later one
            idle = self._idle(self.params.gap_bits if self._started else
                              self.params.preamble_bits)
            self._started = True
            parts.append(idle)
            self._pos += len(idle)
            fb = (self.framer.frame_bits(bytes(q.data)) if hasattr(self.framer, "frame_bits")
                  else self.framer.process([q]))
            self.frame_starts.append(self._pos)
            self.frame_bits.append(len(fb))
            self.last_frame_bits = len(fb)
            self._pos += len(fb)
            parts.append(np.asarray(fb, np.uint8))
        return np.concatenate(parts) if parts else np.zeros(0, np.uint8)

    def _flush(self):
        parts = []
        if not self._started:
            parts.append(self._idle(self.params.preamble_bits))
            self._started = True
        tail = self.framer.flush()
        if len(tail):
            parts.append(np.asarray(tail, np.uint8))
        parts.append(self._idle(self.params.postamble_bits))
        out = np.concatenate(parts)
        self._pos += len(out)
        return out

    @classmethod
    def example(cls, rng):
        pdus = [Pdu(bytes(rng.integers(0, 256, 8, dtype=np.uint8))) for _ in range(5)]
        return cls(framer="sync_framer", framer_params=(("payload_len", 8),),
                   preamble_bits=40, gap_bits=16, postamble_bits=24, seed=3), pdus
