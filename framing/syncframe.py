"""Interim framing: sync word + fixed-length payload + CRC-16, over any PSK constellation.

Frame on the air (bits, MSB first)::

    | sync word (default CCSDS ASM 1ACFFC1D, 32 bits) | payload (payload_len bytes) | CRC |

CRC is CRC-16/CCITT-FALSE over the payload (see :mod:`orbitlink.modem.fec.crc`), appended MSB
first; the frame is zero-padded to a whole number of symbols. This is the simple framing that
carries the PSK link end to end until the CCSDS and AX.25 framings take over.

The deframer correlates the synchronised complex symbols against the modulated sync word. The
correlation magnitude is blind to the carrier phase; its angle tells which of the
constellation's rotations the carrier loop locked to, and the frame is derotated before the
soft demapper. For OQPSK the half-symbol ambiguity of the I/Q pairing is resolved as well by
also searching the stream re-paired one rail later (and both conjugates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink.modem.sync import symbol_sync_search, symbol_sync_search_all
from orbitlink.framing._base import BitFramer
from orbitlink.modem.block import SYM_DTYPE, Block, Pdu, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer
from orbitlink.modem.fec.crc import crc16_ccitt, crc16_ccitt_rows
from orbitlink.modem.modulation import MODULATIONS, Modulation

CRCS = ("crc16", "none")


def _hex_bits(h: str) -> np.ndarray:
    try:
        raw = bytes.fromhex(h)
    except ValueError as e:
        raise OrbitlinkError(f"sync word {h!r} is not hexadecimal") from e
    return np.unpackbits(np.frombuffer(raw, np.uint8))


@dataclass(frozen=True)
class SyncFrameParams:
    modulation: str = param("qpsk", "Constellation", choices=MODULATIONS)
    differential: bool = param(False, "Differential encoding")
    sync_word: str = param("1ACFFC1D", "Sync word, hexadecimal, transmitted MSB first")
    payload_len: int = param(64, "Payload length", unit="bytes", lo=1, hi=65535)
    crc: str = param("crc16", "Frame check", choices=CRCS)
    max_errors: int = param(3, "Sync-word bit errors tolerated", unit="bits", lo=0, hi=64)
    min_corr: float = param(0.3, "Normalised sync correlation below which a position is not "
                            "examined", lo=0.0, hi=1.0)
    samp_rate: float = param(1.0, "Sample rate of the input samples (for times and Hz)",
                             unit="Hz", lo=0.0, lo_open=True)
    symbol_rate: float = param(1.0, "Symbol rate (for frame annotations)", unit="Bd", lo=0.0,
                               lo_open=True)


class _FrameLayout:
    def __init__(self, p: SyncFrameParams):
        self.mod = Modulation(p.modulation, p.differential)
        self.sync_bits = _hex_bits(p.sync_word)
        if not 8 <= len(self.sync_bits) <= 64:
            raise OrbitlinkError(f"sync word must have 8 to 64 bits, got {len(self.sync_bits)}")
        self.crc_bits = 16 if p.crc == "crc16" else 0
        self.nbits = len(self.sync_bits) + 8 * p.payload_len + self.crc_bits
        k = self.mod.bits_per_symbol
        self.nsym = -(-self.nbits // k)
        self.pad = self.nsym * k - self.nbits


@register
class SyncFramer(BitFramer):
    """PDUs (payload_len bytes each) to frame bits (u8): sync word, payload, CRC, padding.

    Input
    -----
    pdu : list[Pdu]
        Payloads of exactly ``payload_len`` bytes.

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Frame bits (0 or 1), MSB first: sync word, payload, CRC-16/CCITT-FALSE (high byte
        first) and zero padding to a whole number of symbols.
    """

    name = "sync_framer"
    Params = SyncFrameParams

    def _reset(self):
        self.layout = _FrameLayout(self.params)

    def frame_bits(self, payload: bytes) -> np.ndarray:
        p, lay = self.params, self.layout
        if not isinstance(payload, (bytes, bytearray)):
            raise OrbitlinkError(f"frame payload must be bytes, not {type(payload).__name__}")
        if len(payload) != p.payload_len:
            raise OrbitlinkError(f"frame payload has {len(payload)} bytes but the link carries "
                                 f"{p.payload_len}-byte payloads")
        parts = [lay.sync_bits, np.unpackbits(np.frombuffer(bytes(payload), np.uint8))]
        if p.crc == "crc16":
            c = crc16_ccitt(payload)
            parts.append(np.unpackbits(np.array([c >> 8, c & 0xFF], np.uint8)))
        parts.append(np.zeros(lay.pad, np.uint8))
        return np.concatenate(parts).astype(np.uint8)


    @classmethod
    def example(cls, rng):
        pdus = [Pdu(bytes(rng.integers(0, 256, 8).astype(np.uint8))) for _ in range(3)]
        return cls(payload_len=8), pdus


@register
class SyncDeframer(Block):
    """Synchronised symbols ('sym') to frames (PDUs), resolving the phase ambiguity.

    Every frame found is emitted, its CRC checked (``meta['crc_ok']``; ``check`` is ``"crc"``,
    or ``"none"`` without a CRC, and such frames are never good). Metadata:
    ``sample_index`` (input sample of the first sync symbol), ``symbol_index``, ``time_s``
    (``sample_index / samp_rate``), ``snr_db`` (Es/N0 estimated blind over the frame),
    ``freq_offset_hz``, ``crc_ok``, ``sync_errors``, ``rotation_deg`` (the carrier ambiguity
    removed).

    Input
    -----
    sym : ndarray of SYM_DTYPE, shape (n,)
        Synchronised symbols (from :class:`~orbitlink.modem.psk.PskDemodulator`).

    Output
    ------
    pdu : list[Pdu]
        Payloads of ``payload_len`` bytes; meta ``sample_index``, ``symbol_index``,
        ``time_s``, ``snr_db``, ``freq_offset_hz``, ``crc_ok``, ``check``, ``sync_errors``,
        ``rotation_deg``.
    """

    name = "sync_deframer"
    Params = SyncFrameParams
    rate = Rate.STREAM_TO_PDU
    in_type = "sym"
    out_type = "pdu"

    def _reset(self):
        p = self.params
        lay = self.layout = _FrameLayout(p)
        mod = lay.mod
        k = mod.bits_per_symbol
        nsync = len(lay.sync_bits)
        ns = -(-nsync // k)
        bits = np.concatenate([lay.sync_bits, np.zeros(ns * k - nsync, np.uint8)])
        self._sync_lab = mod.bits_to_labels(bits).astype(np.int64)
        nvalid = np.full(ns, k)
        nvalid[-1] = nsync - (ns - 1) * k
        self._sync_mask = np.array([((1 << v) - 1) << (k - v) for v in nvalid], np.int64)
        self._n_corr = nsync // k  # sync symbols entirely made of sync bits
        if mod.differential:
            pts = np.exp(2j * np.pi * np.arange(mod.order) / mod.order)
            self._phase0 = 0.0
        else:
            pts = mod.points_by_index.astype(np.complex128)
            self._phase0 = mod.phase0
        # the sync word's symbols (differential: its phase differences)
        self._ref = pts[mod.index_of_label[self._sync_lab[: self._n_corr]]]
        self._labels = mod.labels.astype(np.int64)
        self._extra = 1 if mod.offset else 0
        self._buf = StreamBuffer(SYM_DTYPE)  # symbols from absolute index .base on
        self._next = 0  # next position to examine
        self._prev = np.complex128(1.0)  # differential: symbol before _buf[0]

    # views of the buffer in which the sync word may appear --------------------------------
    def _views(self, z):
        if self.layout.mod.differential:
            zp = np.concatenate([[self._prev], z[:-1]])
            w = z * np.conj(zp) / np.maximum(np.abs(zp), 1e-12)
            return [w]
        if not self.layout.mod.offset:
            return [z]
        sh = np.empty(len(z), np.complex128)
        sh[:-1] = z[:-1].imag + 1j * z[1:].real
        sh[-1] = 0.0
        return [z, np.conj(z), sh, np.conj(sh)]

    def _process(self, sym):
        self._buf.append(sym)
        lay = self.layout
        need = lay.nsym + self._extra
        base = self._buf.base
        last_start = self._buf.end - need  # last position with a whole frame behind it
        found = []  # (position in the buffer, rotation, sync errors, view)
        if self._next <= last_start:
            # the buffer does not change while it is searched: one conversion, one set of views
            views = self._views(self._buf.view["z"].astype(np.complex128))
            res = np.zeros(4)
            nxt = self._next
            if len(views) == 1:  # one view: every frame of the buffer in one compiled loop
                hits, at = symbol_sync_search_all(
                    views[0], nxt - base, last_start - base + 1, lay.nsym, self._ref,
                    self._n_corr, self._sync_lab, self._sync_mask, lay.mod.order,
                    self._phase0, self._labels, self.params.max_errors, self.params.min_corr)
                found = [(int(h[0]), int(h[1]), int(h[2]), 0) for h in hits]
                nxt = base + at
            while nxt <= last_start:
                start = nxt - base
                stop = last_start - base + 1
                best = None
                for vi, v in enumerate(views):
                    if symbol_sync_search(v, start, stop, self._ref, self._n_corr,
                                          self._sync_lab, self._sync_mask, lay.mod.order,
                                          self._phase0, self._labels, self.params.max_errors,
                                          self.params.min_corr, res):
                        cand = (int(res[0]), int(res[2]), vi, int(res[1]))
                        if best is None or cand[:2] < best[:2]:
                            best = cand
                        stop = min(stop, int(res[0]) + 1)
                if best is None:
                    nxt = last_start + 1
                    break
                p, errors, vi, rot = best
                found.append((p, rot, errors, vi))
                nxt = base + p + lay.nsym
            self._next = nxt
            out = self._frames(views, found) if found else []
        else:
            out = []
        self._trim()
        return out

    def _trim(self):
        drop = self._next - self._buf.base
        if drop > 0:
            if self.layout.mod.differential:
                self._prev = np.complex128(self._buf.view["z"][drop - 1])
            self._buf.consume(drop)

    def _frames(self, views, found):
        """The frames at ``found`` [(position in the buffer, rotation, sync errors, view)],
        decoded together: derotation, blind Es/N0 (M2M4), hard decisions, CRC."""
        prm, lay = self.params, self.layout
        mod = lay.mod
        nsym = lay.nsym
        pos = np.array([f[0] for f in found], np.int64)
        rot = np.array([f[1] for f in found], np.int64)
        vis = np.array([f[3] for f in found], np.int64)
        idx = pos[:, None] + np.arange(nsym)
        f = np.empty((len(found), nsym), np.complex128)
        for vi in np.unique(vis):
            sel = vis == vi
            f[sel] = views[vi][idx[sel]]
        f *= np.exp(-2j * np.pi * rot / mod.order)[:, None]
        # M2M4 per frame (as modulation.m2m4)
        pw = np.abs(f) ** 2
        m2 = pw.mean(axis=1)
        m4 = (pw * pw).mean(axis=1)
        sig = np.sqrt(np.maximum(2 * m2 * m2 - m4, 0.0))
        nv = np.maximum(m2 - sig, 1e-6 * m2 + 1e-30)
        # hard decisions: the sign of the max-log LLR does not depend on the (positive)
        # amplitude and noise; a frame whose amplitude estimate is 0 has all-zero LLRs
        bits = (mod.demap(f.ravel(), 1.0, 1.0) > 0).reshape(len(found), -1)
        bits[sig <= 0] = False
        nsync = len(lay.sync_bits)
        npay = 8 * prm.payload_len
        payloads = np.packbits(bits[:, nsync: nsync + npay], axis=1)
        if prm.crc == "crc16":
            cb = np.packbits(bits[:, nsync + npay: nsync + npay + 16], axis=1).astype(np.int64)
            crc_ok = ((cb[:, 0] << 8) | cb[:, 1]) == crc16_ccitt_rows(payloads)
        else:  # nothing checks the frame: never good (check "none")
            crc_ok = np.zeros(len(found), bool)
        rec = self._buf.view
        t0 = rec["t"][pos].tolist()
        fo = (rec["f"][idx].astype(np.float64).mean(axis=1) * prm.samp_rate).tolist()
        snr = (10 * np.log10(np.maximum(sig, 1e-30) / nv)).tolist()
        ok = crc_ok.tolist()
        base = self._buf.base
        rate = prm.samp_rate
        order = mod.order
        check = "crc" if prm.crc == "crc16" else "none"
        out = []
        for i, (p, r, errors, vi) in enumerate(found):
            sidx = int(round(t0[i]))
            meta = {
                "sample_index": sidx,
                "symbol_index": base + p,
                "time_s": round(sidx / rate, 9),
                "snr_db": round(snr[i], 2),
                "freq_offset_hz": round(fo[i], 3),
                "crc_ok": bool(ok[i]),
                "check": check,
                "sync_errors": errors,
                "rotation_deg": round(360.0 * r / order, 3),
            }
            if vi in (1, 3):
                meta["conjugate"] = True  # OQPSK: Q rail inverted
            if vi >= 2:
                meta["repaired"] = True  # OQPSK: I/Q pairing shifted by half a symbol
            out.append(Pdu(payloads[i].tobytes(), meta))
        return out

    @classmethod
    def example(cls, rng):
        from orbitlink.modem.psk import PskDemodulator, PskModulator

        fr = SyncFramer(modulation="8psk", payload_len=6)
        pdus = [Pdu(bytes(rng.integers(0, 256, 6).astype(np.uint8))) for _ in range(4)]
        bits = np.concatenate([rng.integers(0, 2, 300).astype(np.uint8), fr.run(pdus),
                               rng.integers(0, 2, 90).astype(np.uint8)])
        x = PskModulator(modulation="8psk", symbol_rate=1.0, samp_rate=4.0).run(bits)
        x = x * np.exp(1j * 0.7)
        sym = PskDemodulator(modulation="8psk", symbol_rate=1.0, samp_rate=4.0,
                             acq_symbols=64).run(x.astype(np.complex64))
        return cls(modulation="8psk", payload_len=6, samp_rate=4.0), sym


# --------------------------------------------------------------------------------------------
# the framing a link names (orbitlink.framing.registry)

from orbitlink.framing.registry import Framing, register_framing  # noqa: E402


class _SyncCrcFraming(Framing):
    def payload_len(self, opts):
        return int(opts.get("payload_len", SyncFrameParams.payload_len))


register_framing(_SyncCrcFraming(
    name="sync_crc", doc="sync word + fixed-length payload + CRC (interim framing)",
    framer=SyncFramer, deframer=SyncDeframer,
    context=("modulation", "differential", "samp_rate", "symbol_rate")))
