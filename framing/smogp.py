"""SMOG-P (and ATL-1, SMOG-1) framings: signalling frames and repeat-accumulate (RA) frames, and
the deframer that looks for every SMOG-P frame kind at once.

SMOG-P's downlink is 2-FSK at 1250, 2500, 5000 or 12500 Bd. Before data the satellite sends a
*signalling* frame at 1250 Bd that names the rate and coding of what follows; the data frames
are AO-40 FEC frames (:mod:`orbitlink.framing.ao40`, long or short) or RA frames. What
gr-satellites 4.4 decodes (``smogp_signalling_deframer``, ``smogp_ra_deframer``) is what we
emit, byte for byte.

Signalling frame (1250 Bd, 64 + 512 bits)::

    2D D4 | PN[0:6]   (64-bit sync: the common SMOG sync word, then the first 6 PN bytes)
    PN[6:64]          (58 bytes of the fixed 64-byte PN sequence)
    6 flag bytes      (each one bit sent 8 times: 3 bits downlink rate, 3 bits coding)

The PN sequence differs for the RX and TX signalling of SMOG-1 (``tx``). The deframer emits
the 64 bytes after the sync as received; what verifies a frame (``check = "pn"``) is that its
464 PN bits agree with the known sequence within ``max_pn_errors``: a frame so close to a fixed
464-bit sequence is not noise. Metadata adds ``pn_errors``, ``baud`` and ``coding`` (the
majority-decoded flags; None where a value is out of range).

RA frame (any rate)::

    2D D4                (16-bit sync; gr-satellites wants it exact, we allow one error:
                          the re-encoding check rejects the extra false syncs)
    RA code words        (260 bytes for 128-byte packets, 514 for 256; see
                          :mod:`orbitlink.modem.fec.ra`)

The deframer decodes the soft bits after every sync, re-encodes the packet and compares it with
the received hard bits: a decoded frame disagrees in a few per cent of them, noise in about
half. ``check = "ra"`` and ``crc_ok`` when the disagreement is at most ``max_recode_ber``;
SMOG-1 frames (``smog1``: 48-bit sync ``2DD4 63C5 3599`` with up to 6 errors) also end with a
CRC-16/ARC, and then ``check = "crc+ra"``.

The ``smogp`` framing (link ``smogp``) runs the signalling, AO-40 short and long and RA
deframers side by side on the same soft bits and emits their frames in stream order (meta
``kind``); its framer sends one kind (``kind``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orbitlink.framing import ao40
from orbitlink.framing._base import BitFramer, finite_soft_bits
from orbitlink.framing.errors import FrameBuildError, FrameParseError
from orbitlink.framing.registry import Framing, register_framing
from orbitlink.modem.block import Block, Pdu, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.fec.ra import RECODE_LIMIT, ra_code
from orbitlink.modem.sync import distributed_sync_search

__all__ = ["SMOG_SYNC", "PN_RX", "PN_TX", "SIGNALLING_BYTES", "RA_SIZES", "SmogpError",
           "signalling_sync", "signalling_packet", "parse_flags", "parse_signalling",
           "decode_ra_bytes", "FUZZ_TARGETS", "FUZZ_SEEDS",
           "SmogpSignallingFramer", "SmogpSignallingDeframer", "SmogpRaFramer",
           "SmogpRaDeframer", "SmogpFramer", "SmogpDeframer", "KINDS"]

#: the 16-bit sync word every SMOG frame starts with
SMOG_SYNC = "0010110111010100"
#: SMOG-1's longer RA sync word (2DD4 63C5 3599)
SMOG1_RA_SYNC = "001011011101010001100011110001010011010110011001"

#: the 64-byte PN sequences of the signalling frames (RX; SMOG-1 TX), as the satellites send
#: them and gr-satellites' telemetry parser lists them
PN_RX = bytes.fromhex("97fdd37b0f1f6d08f7835d9e5982c0fd1dcaad3b5bebd493e14a04d228ddf90153d2e6"
                      "6c5b256531c57ce7f138612d5c033ac68890db8c8c42f3517543a08393")
PN_TX = bytes.fromhex("a39e1a556bcb5c2f2a5cadd532fe851ddce8bce5137ebabd9d4431513c92266cf36898"
                      "daa3ba7f84863295ac8d4e668b7f7be014e23c494532e45c44f56d2d0a")
SIGNALLING_BYTES = 64  #: bytes after the sync: 58 PN bytes and 6 flag bytes
_PN_KEEP = 58
_FLAGS = 6

#: RA packet sizes (bytes) and their code sizes (bytes)
RA_SIZES = {128: 260, 256: 514}

#: signalling flag values (gr-satellites' telemetry parser)
BAUD_RATES = (500, 1250, 2500, 5000, 12500)
CODINGS = ("RX", "AO-40 short", "AO-40", "RA (260, 128)", "RA (514, 256)")


class SmogpError(FrameBuildError):
    """A payload a SMOG-P framer cannot carry."""


def _bits(s: str) -> np.ndarray:
    b = np.array([int(c) for c in s], np.uint8)
    b.flags.writeable = False
    return b


def signalling_sync(tx: bool = False) -> np.ndarray:
    """The 64 sync bits of a signalling frame."""
    pn = PN_TX if tx else PN_RX
    head = np.unpackbits(np.frombuffer(pn[:6], np.uint8))
    return np.concatenate([_bits(SMOG_SYNC), head])


_SIG_SYNC = {False: signalling_sync(False), True: signalling_sync(True)}
_PN_BITS = {tx: np.unpackbits(np.frombuffer((PN_TX if tx else PN_RX)[6:], np.uint8))
            for tx in (False, True)}


def signalling_packet(baud: int, coding: str, tx: bool = False) -> bytes:
    """The 64 bytes a signalling frame carries after its sync: the PN sequence and the flags
    naming ``baud`` (one of :data:`BAUD_RATES`) and ``coding`` (one of :data:`CODINGS`)."""
    if baud not in BAUD_RATES or coding not in CODINGS:
        raise SmogpError(f"signalling: baud must be one of {BAUD_RATES} and coding one of "
                         f"{CODINGS}, got {baud!r}, {coding!r}")
    r, c = BAUD_RATES.index(baud), CODINGS.index(coding)
    bits = [(r >> 2) & 1, (r >> 1) & 1, r & 1, (c >> 2) & 1, (c >> 1) & 1, c & 1]
    return (PN_TX if tx else PN_RX)[6:] + bytes(0xFF if b else 0 for b in bits)


def parse_flags(packet: bytes) -> tuple[int | None, str | None]:
    """The downlink rate and coding a signalling packet names (majority of each flag byte);
    None for a value out of range."""
    flags = np.unpackbits(np.frombuffer(bytes(packet[-_FLAGS:]), np.uint8)).reshape(-1, 8)
    v = (flags.sum(axis=1) > 4).astype(int)
    r = 4 * v[0] + 2 * v[1] + v[2]
    c = 4 * v[3] + 2 * v[4] + v[5]
    return (BAUD_RATES[r] if r < len(BAUD_RATES) else None,
            CODINGS[c] if c < len(CODINGS) else None)


def parse_signalling(packet, tx: bool = False) -> dict:
    """A received signalling packet (64 bytes): ``pn_errors`` (of 464 PN bits), ``baud`` and
    ``coding`` (None where out of range). Raises :class:`FrameParseError` for another size."""
    data = bytes(packet)
    if len(data) != SIGNALLING_BYTES:
        raise FrameParseError(f"signalling packets have {SIGNALLING_BYTES} bytes, not "
                              f"{len(data)}")
    bits = np.unpackbits(np.frombuffer(data[:_PN_KEEP], np.uint8))
    baud, coding = parse_flags(data)
    return {"pn_errors": int(np.count_nonzero(bits != _PN_BITS[tx])), "baud": baud,
            "coding": coding}


def decode_ra_bytes(code) -> bytes:
    """Decode RA code bytes taken as hard decisions (260 or 514 bytes, air order) to the
    packet; :class:`FrameParseError` for another size or a packet whose re-encoding differs
    from the input in more than 20 % of the bits."""
    raw = bytes(code)
    size = {v: k for k, v in RA_SIZES.items()}.get(len(raw))
    if size is None:
        raise FrameParseError(f"RA code blocks have 260 or 514 bytes, not {len(raw)}")
    bits = np.unpackbits(np.frombuffer(raw, np.uint8)).astype(np.float32)
    r = ra_code(size).decode(2.0 * bits - 1.0)
    if r.recode_ber > 0.2:
        raise FrameParseError(f"RA block does not decode (re-encoding differs in "
                              f"{r.recode_ber:.0%} of the bits)")
    return r.data


#: name -> callable taking bytes, for a fuzz runner (must raise only FrameParseError)
FUZZ_TARGETS = {"smogp_signalling": parse_signalling, "smogp_ra": decode_ra_bytes}


def _seeds():
    rng = np.random.default_rng(105)
    return {"smogp_signalling": [signalling_packet(5000, "AO-40 short")],
            "smogp_ra": [ra_code(128).encode(rng.integers(0, 256, 128, dtype=np.uint8)
                                             .tobytes())]}


#: valid inputs for the fuzz targets
FUZZ_SEEDS = _seeds()


# --------------------------------------------------------------------------------------------
# a sync search over a soft-bit stream, shared by the deframers here


class _SyncDeframer(Block):
    """Base of the deframers here: buffers soft bits, finds ``_sync()`` (contiguous, either
    polarity if ``allow_inverted``) with at most ``_max_errors()`` errors, hands the
    ``_frame_bits()`` soft bits after it to ``_decode`` (which returns a Pdu or None)."""

    rate = Rate.STREAM_TO_PDU
    in_type = "f32"
    out_type = "pdu"

    def _reset(self):
        self._buf = StreamBuffer(np.float32)
        self._next = 0

    @property
    def searched_to(self) -> int:
        """Absolute bit index before which every frame start has been examined."""
        return self._next

    def _process(self, chunk):
        self._buf.append(finite_soft_bits(chunk))
        sync = self._sync()
        n, body = len(sync), self._frame_bits()
        out = []
        res = np.zeros(4, np.float64)
        buf, base = self._buf.view, self._buf.base
        while True:
            last = self._buf.end - n - body
            if self._next > last:
                break
            if not distributed_sync_search(buf, self._next - base, last - base + 1, sync, 1,
                                           self._max_errors(), res):
                self._next = last + 1
                break
            q, inverted = int(res[0]), bool(res[1])
            p = base + q
            if inverted and not self.params.allow_inverted:
                self._next = p + 1
                continue
            soft = buf[q + n:q + n + body]
            pdu = self._decode(-soft if inverted else soft, {
                "bit_index": p, "sync_errors": int(res[2]), "inverted": inverted})
            if pdu is not None:
                out.append(pdu)
            self._next = p + n + body if pdu is not None and pdu.meta["crc_ok"] else p + 1
        self._buf.keep_from(self._next)
        return out


# --------------------------------------------------------------------------------------------
# signalling


@dataclass(frozen=True)
class SmogpSignallingFramerParams:
    """Parameters of :class:`SmogpSignallingFramer`."""

    tx: bool = param(False, "SMOG-1 TX signalling (the other PN sequence)")


@register
class SmogpSignallingFramer(BitFramer):
    """SMOG-P signalling packets (64 bytes: the 58 PN bytes then 6 flag bytes, as
    :func:`signalling_packet` builds them) to frames: 64 sync bits then the packet.

    Input
    -----
    pdu : list[Pdu]
        64-byte packets whose first 58 bytes are the PN sequence.

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        576 channel bits per packet.
    """

    name = "smogp_signalling_framer"
    Params = SmogpSignallingFramerParams

    def frame_bits(self, payload: bytes) -> np.ndarray:
        tx = self.params.tx
        if len(payload) != SIGNALLING_BYTES:
            raise SmogpError(f"signalling packets have {SIGNALLING_BYTES} bytes, not "
                             f"{len(payload)}")
        if payload[:_PN_KEEP] != (PN_TX if tx else PN_RX)[6:]:
            raise SmogpError("a signalling packet starts with the 58 bytes of the PN sequence")
        return np.concatenate([_SIG_SYNC[tx], np.unpackbits(np.frombuffer(payload, np.uint8))])

    @classmethod
    def example(cls, rng):
        return cls(), [Pdu(signalling_packet(5000, "AO-40 short")),
                       Pdu(signalling_packet(1250, "RA (260, 128)"))]


@dataclass(frozen=True)
class SmogpSignallingDeframerParams:
    """Parameters of :class:`SmogpSignallingDeframer`."""

    tx: bool = param(False, "SMOG-1 TX signalling (the other PN sequence)")
    max_errors: int = param(12, "Sync bit errors tolerated (of 64; gr-satellites: 8; the PN "
                            "check rejects false syncs)",
                            unit="bits", lo=0, hi=20)
    max_pn_errors: int = param(70, "PN bit errors (of 464) for a frame to count as "
                               "verified (check 'pn'); noise has about 232", unit="bits",
                               lo=0, hi=150)
    allow_inverted: bool = param(True, "Also accept the complemented sync (and complement "
                                 "the frame)")
    emit_failed: bool = param(False, "Also emit frames whose PN check failed (crc_ok false)")


@register
class SmogpSignallingDeframer(_SyncDeframer):
    """Soft bits (f32, positive = 1) to SMOG-P signalling packets (64 bytes, as received).

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        Soft channel bits, positive means 1.

    Output
    ------
    pdu : list[Pdu]
        The 64 bytes after each sync; meta ``bit_index`` (first sync bit), ``sync_errors``,
        ``inverted``, ``pn_errors``, ``baud``, ``coding``, ``check`` (``"pn"``) and
        ``crc_ok`` (PN errors within ``max_pn_errors``).
    """

    name = "smogp_signalling_deframer"
    Params = SmogpSignallingDeframerParams

    def _sync(self):
        return _SIG_SYNC[self.params.tx]

    def _max_errors(self):
        return self.params.max_errors

    def _frame_bits(self):
        return 8 * SIGNALLING_BYTES

    def _decode(self, soft, meta):
        hard = (soft > 0).astype(np.uint8)
        pn_errors = int(np.count_nonzero(hard[:8 * _PN_KEEP] != _PN_BITS[self.params.tx]))
        ok = pn_errors <= self.params.max_pn_errors
        if not ok and not self.params.emit_failed:
            return None
        data = np.packbits(hard).tobytes()
        baud, coding = parse_flags(data)
        meta.update(pn_errors=pn_errors, baud=baud, coding=coding, check="pn", crc_ok=ok)
        return Pdu(data, meta)

    @classmethod
    def example(cls, rng):
        bits = SmogpSignallingFramer().run([Pdu(signalling_packet(2500, "AO-40"))])
        llr = (2.0 * bits - 1.0) * 2.0 + rng.standard_normal(len(bits))
        noise = rng.standard_normal(300)
        return cls(), np.concatenate([noise, llr, -llr, noise[:77]]).astype(np.float32)


# --------------------------------------------------------------------------------------------
# RA frames


def _crc_ok(data: bytes) -> bool:
    return ao40.crc16_arc(data) == 0


@dataclass(frozen=True)
class SmogpRaFramerParams:
    """Parameters of :class:`SmogpRaFramer`."""

    size: int = param(128, "Packet size in bytes (128: RA(260,128); 256: RA(514,256))",
                      choices=(128, 256))
    smog1: bool = param(False, "SMOG-1 frames: the 48-bit sync and a CRC-16/ARC at the end "
                        "of the packet (the payload is 2 bytes shorter)")


@register
class SmogpRaFramer(BitFramer):
    """Packets to SMOG-P RA frames: the sync word, then the RA code words.

    Input
    -----
    pdu : list[Pdu]
        Packets of ``size`` bytes (``size - 2`` with ``smog1``, which appends the CRC).

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        16 + 2080 (or 16 + 4112) channel bits per packet (48 sync bits with ``smog1``).
    """

    name = "smogp_ra_framer"
    Params = SmogpRaFramerParams

    def frame_bits(self, payload: bytes) -> np.ndarray:
        p = self.params
        data = bytes(payload)
        n = p.size - (2 if p.smog1 else 0)
        if len(data) != n:
            raise SmogpError(f"RA frames of this link carry {n}-byte payloads, not "
                             f"{len(data)} bytes")
        if p.smog1:
            data += ao40.crc16_arc(data).to_bytes(2, "little")
        sync = SMOG1_RA_SYNC if p.smog1 else SMOG_SYNC
        return np.concatenate([_bits(sync), ra_code(p.size).encode_bits(data)])

    @classmethod
    def example(cls, rng):
        return cls(), [Pdu(rng.integers(0, 256, 128, dtype=np.uint8).tobytes())]


@dataclass(frozen=True)
class SmogpRaDeframerParams:
    """Parameters of :class:`SmogpRaDeframer`."""

    size: int = param(128, "Packet size in bytes (128: RA(260,128); 256: RA(514,256))",
                      choices=(128, 256))
    smog1: bool = param(False, "SMOG-1 frames: 48-bit sync and a CRC-16/ARC at the end of "
                        "the packet")
    max_errors: int = param(-1, "Sync bit errors tolerated; -1: 1 of 16 (gr-satellites: 0), "
                            "6 of 48 with smog1", unit="bits", lo=-1, hi=12)
    max_recode_ber: float = param(0.2, "Largest fraction of received code bits that may "
                                  "differ from the re-encoded packet for the frame to count "
                                  "as verified (check 'ra'); noise gives about 0.47, "
                                  "gr-satellites passes frames below 0.35", lo=0.0, hi=0.35)
    allow_inverted: bool = param(True, "Also accept the complemented sync (and complement "
                                 "the frame)")
    emit_failed: bool = param(False, "Also emit frames that failed their check (crc_ok "
                              "false), up to gr-satellites' 0.35 recode bound")


@register
class SmogpRaDeframer(_SyncDeframer):
    """Soft bits (f32, positive = 1) to SMOG-P RA packets.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        Soft channel bits, positive means 1.

    Output
    ------
    pdu : list[Pdu]
        The decoded packets (``size`` bytes, a SMOG-1 CRC left in place); meta
        ``bit_index`` (first sync bit), ``sync_errors``, ``inverted``, ``recode_errors``,
        ``recode_ber``, ``check`` (``"ra"``, ``"crc+ra"`` with ``smog1``) and ``crc_ok``.
    """

    name = "smogp_ra_deframer"
    Params = SmogpRaDeframerParams

    def _sync(self):
        return _bits(SMOG1_RA_SYNC if self.params.smog1 else SMOG_SYNC)

    def _max_errors(self):
        p = self.params
        return p.max_errors if p.max_errors >= 0 else (6 if p.smog1 else 1)

    def _frame_bits(self):
        return 8 * RA_SIZES[self.params.size]

    def _decode(self, soft, meta):
        p = self.params
        code = ra_code(p.size)
        r = code.decode(soft)  # min-sum: the LLRs' scale does not matter
        ok = r.recode_ber <= p.max_recode_ber
        check = "ra"
        if p.smog1:
            check = "crc+ra"
            ok = ok and _crc_ok(r.data)
        if not ok and not (p.emit_failed and r.recode_ber < RECODE_LIMIT):
            return None
        meta.update(recode_errors=r.recode_errors, recode_ber=round(r.recode_ber, 4),
                    check=check, crc_ok=ok)
        return Pdu(r.data, meta)

    @classmethod
    def example(cls, rng):
        data = rng.integers(0, 256, 128, dtype=np.uint8).tobytes()
        bits = SmogpRaFramer().run([Pdu(data)])
        llr = (2.0 * bits - 1.0) * 2.0 + rng.standard_normal(len(bits))
        noise = rng.standard_normal(211)
        return cls(), np.concatenate([noise, llr, noise[:90]]).astype(np.float32)


# --------------------------------------------------------------------------------------------
# every SMOG-P frame kind at once

#: frame kind -> payload bytes
KINDS = {"signalling": SIGNALLING_BYTES, "ao40_short": 128, "ao40": 256, "ra128": 128,
         "ra256": 256}


@dataclass(frozen=True)
class SmogpFramerParams:
    """Parameters of :class:`SmogpFramer`."""

    kind: str = param("ao40_short", "The frame kind sent", choices=tuple(KINDS))


@register
class SmogpFramer(BitFramer):
    """Packets to SMOG-P frames of one kind (signalling, AO-40 short or long, RA 128 or 256).

    Input
    -----
    pdu : list[Pdu]
        Packets of the kind's size (:data:`KINDS`).

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        The frames' channel bits, back to back.
    """

    name = "smogp_framer"
    Params = SmogpFramerParams

    def _reset(self):
        k = self.params.kind
        self._inner = {
            "signalling": lambda: SmogpSignallingFramer(),
            "ao40_short": lambda: ao40.Ao40Framer(short=True),
            "ao40": lambda: ao40.Ao40Framer(),
            "ra128": lambda: SmogpRaFramer(size=128),
            "ra256": lambda: SmogpRaFramer(size=256)}[k]()

    def frame_bits(self, payload: bytes) -> np.ndarray:
        return self._inner.frame_bits(payload)

    @classmethod
    def example(cls, rng):
        return cls(), [Pdu(rng.integers(0, 256, 128, dtype=np.uint8).tobytes())]


@dataclass(frozen=True)
class SmogpDeframerParams:
    """Parameters of :class:`SmogpDeframer`."""

    kinds: str = param("signalling,ao40_short,ao40,ra128,ra256", "The frame kinds looked for, "
                       "comma-separated")
    emit_failed: bool = param(False, "Also emit frames that failed their check")


@register
class SmogpDeframer(Block):
    """Soft bits (f32, positive = 1) to every SMOG-P frame kind found in them: the
    signalling, AO-40 (short and long) and RA (128 and 256) deframers side by side, their
    frames merged in stream order.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        Soft channel bits, positive means 1.

    Output
    ------
    pdu : list[Pdu]
        The frames, ordered by ``bit_index``; meta as each deframer gives it plus ``kind``.
    """

    name = "smogp_deframer"
    Params = SmogpDeframerParams
    rate = Rate.STREAM_TO_PDU
    in_type = "f32"
    out_type = "pdu"

    def _reset(self):
        p = self.params
        kinds = [k.strip() for k in p.kinds.split(",") if k.strip()]
        bad = sorted(set(kinds) - set(KINDS))
        if bad or not kinds:
            from orbitlink.modem.block import ParamError

            raise ParamError(f"smogp_deframer: kinds must be among {', '.join(KINDS)}, "
                             f"got {p.kinds!r}")
        ef = p.emit_failed
        make = {
            "signalling": lambda: SmogpSignallingDeframer(emit_failed=ef),
            "ao40_short": lambda: ao40.Ao40Deframer(short=True, emit_failed=ef),
            "ao40": lambda: ao40.Ao40Deframer(emit_failed=ef),
            "ra128": lambda: SmogpRaDeframer(size=128, emit_failed=ef),
            "ra256": lambda: SmogpRaDeframer(size=256, emit_failed=ef)}
        self._subs = [(k, make[k]()) for k in kinds]
        self._pending: list[Pdu] = []

    def _collect(self, outputs):
        for kind, pdus in outputs:
            for q in pdus:
                self._pending.append(Pdu(bytes(q.data), {**q.meta, "kind": kind}))
        self._pending.sort(key=lambda q: q.meta["bit_index"])

    def _process(self, chunk):
        self._collect([(k, d.process(chunk)) for k, d in self._subs])
        done = min(d.searched_to for _, d in self._subs)  # every frame before it is found
        out = [q for q in self._pending if q.meta["bit_index"] < done]
        self._pending = self._pending[len(out):]
        return out

    def _flush(self):
        self._collect([(k, d.flush()) for k, d in self._subs])
        out, self._pending = self._pending, []
        return out

    @classmethod
    def example(cls, rng):
        bits = np.concatenate([
            SmogpSignallingFramer().run([Pdu(signalling_packet(1250, "AO-40 short"))]),
            ao40.Ao40Framer(short=True).run([Pdu(bytes(range(128)))]),
            SmogpRaFramer().run([Pdu(bytes(range(100, 228)))])])
        llr = (2.0 * bits - 1.0) * 2.0 + rng.standard_normal(len(bits))
        noise = rng.standard_normal(150)
        return cls(), np.concatenate([noise, llr, noise[:60]]).astype(np.float32)


# --------------------------------------------------------------------------------------------
# the framings a link names (orbitlink.framing.registry)


class _SignallingFraming(Framing):
    def payload_len(self, opts):
        return SIGNALLING_BYTES

    def random_payload(self, opts, rng, i):
        v = rng.integers(0, 2, _FLAGS)
        pn = PN_TX if opts.get("tx", False) else PN_RX
        return pn[6:] + bytes(0xFF * int(b) for b in v)


class _RaFraming(Framing):
    def payload_len(self, opts):
        return int(opts.get("size", 128)) - (2 if opts.get("smog1", False) else 0)


class _SmogpFraming(Framing):
    def payload_len(self, opts):
        return KINDS[opts.get("kind", "ao40_short")]

    def random_payload(self, opts, rng, i):
        if opts.get("kind", "ao40_short") == "signalling":
            return _SignallingFraming.random_payload(self, opts, rng, i)
        return super().random_payload(opts, rng, i)


register_framing(_SignallingFraming(
    name="smogp_signalling", doc="SMOG-P signalling: 64-bit sync + 58 PN bytes + 6 flag bytes "
    "(checked against the PN sequence)",
    framer=SmogpSignallingFramer, deframer=SmogpSignallingDeframer,
    emit_failed="emit_failed", index="bit"))

register_framing(_RaFraming(
    name="smogp_ra", doc="SMOG-P RA frames: sync 2DD4 + repeat-accumulate code (260 or 514 "
    "bytes), checked by re-encoding",
    framer=SmogpRaFramer, deframer=SmogpRaDeframer, emit_failed="emit_failed", index="bit"))

register_framing(_SmogpFraming(
    name="smogp", doc="SMOG-P / ATL-1: signalling, AO-40 FEC short and long, RA 128 and 256 "
    "frames, all looked for at once",
    framer=SmogpFramer, deframer=SmogpDeframer, emit_failed="emit_failed", index="bit"))
