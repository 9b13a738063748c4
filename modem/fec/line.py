"""Differential line codes: NRZ-M (CCSDS) and NRZI (HDLC / AX.25, also called NRZ-S).

Both map data bits to line levels (uint8 0/1, transmission order) through a running level that
starts at ``initial_level`` (0 by default) before the first bit:

=========  ===================================  ================================================
code       encoder (bit -> level)                decoder (levels -> bit)
=========  ===================================  ================================================
NRZ-M      a 1 toggles the level, a 0 keeps it  ``bit[n] = level[n] ^ level[n-1]``
           (CCSDS 131.0-B / 401.0-B "NRZ-M")
NRZI       a 0 toggles the level, a 1 keeps it  ``bit[n] = 1 ^ level[n] ^ level[n-1]``
           (HDLC, AX.25; gr-satellites
           ``nrzi_encode``, direwolf)
=========  ===================================  ================================================

Either decoder is insensitive to an inversion of all levels (a 180 degree phase ambiguity),
except for the first bit, which depends on the assumed ``initial_level``.

The soft decoders take float32 LLRs of the levels (positive means level 1) and return LLRs of
the bits (positive means bit 1) by the min-sum rule: magnitude ``min(|a|, |b|)`` of the two
levels involved; sign ``sign(a) * sign(b)`` for NRZI (equal levels give a 1) and its negative
for NRZ-M (equal levels give a 0). The level before the stream is ``initial_level``, known with
certainty (LLR +-inf), so the first output LLR has the magnitude of the first input.

Every encoder/decoder is a streaming sync block (the last level carries across chunks) with a
whole-array convenience function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orbitlink.modem.block import Block, Rate, param, register
from orbitlink.modem.fec.crc import FecInputError

__all__ = [
    "check_bits",
    "NrziEncoder", "NrziDecoder", "NrziDecoderSoft",
    "NrzmEncoder", "NrzmDecoder", "NrzmDecoderSoft",
    "nrzi_encode", "nrzi_decode", "nrzi_decode_soft",
    "nrzm_encode", "nrzm_decode", "nrzm_decode_soft",
]


def check_bits(x, what: str) -> np.ndarray:
    """``x`` as a 1-D uint8 array of 0/1; :class:`FecInputError` naming ``what`` otherwise."""
    x = np.asarray(x)
    if x.ndim != 1:
        raise FecInputError(f"{what}: bits must be a 1-D array, got shape {x.shape}")
    if x.dtype != np.uint8:
        if x.size and not np.issubdtype(x.dtype, np.integer) and not np.issubdtype(
                x.dtype, np.bool_):
            raise FecInputError(f"{what}: bits must be integers 0 or 1, got dtype {x.dtype}")
        if x.size and (x.min() < 0 or x.max() > 1):
            raise FecInputError(f"{what}: bits must be 0 or 1, found {x[(x < 0) | (x > 1)][0]}")
        x = x.astype(np.uint8)
    elif x.size and x.max() > 1:
        i = int(np.argmax(x > 1))
        raise FecInputError(f"{what}: bits must be 0 or 1, found {x[i]} at index {i}")
    return x


@dataclass(frozen=True)
class LineCodeParams:
    """Parameters of the NRZ-M / NRZI encoders and decoders."""

    initial_level: int = param(0, "Line level before the first bit (0 or 1)", lo=0, hi=1)


class _LineBlock(Block):
    """Shared machinery; ``_mark`` is True for NRZ-M (a 1 toggles), False for NRZI (a 0 does)."""

    Params = LineCodeParams
    _mark: bool

    @classmethod
    def example(cls, rng):
        if cls.in_type == "f32":
            x = (rng.standard_normal(600) * 2).astype(np.float32)
            x[::41] = 0.0
        else:
            x = rng.integers(0, 2, 600).astype(np.uint8)
        return cls(initial_level=1), x


class _Encoder(_LineBlock):
    in_type = "u8"
    out_type = "u8"

    def _reset(self):
        self._level = np.uint8(self.params.initial_level)

    def _process(self, x):
        x = check_bits(x, self.name)
        if not len(x):
            return np.zeros(0, np.uint8)
        toggles = x if self._mark else x ^ np.uint8(1)
        levels = np.bitwise_xor.accumulate(toggles) ^ self._level
        self._level = levels[-1]
        return levels


class _Decoder(_LineBlock):
    in_type = "u8"
    out_type = "u8"

    def _reset(self):
        self._level = np.array([self.params.initial_level], np.uint8)

    def _process(self, x):
        x = check_bits(x, self.name)
        ext = np.concatenate([self._level, x])
        self._level = ext[-1:].copy()
        d = ext[1:] ^ ext[:-1]
        return d if self._mark else d ^ np.uint8(1)


class _SoftDecoder(_LineBlock):
    in_type = "f32"
    out_type = "f32"

    def _reset(self):
        self._level = np.array([np.inf if self.params.initial_level else -np.inf], np.float32)

    def _process(self, x):
        ext = np.concatenate([self._level, x])
        self._level = ext[-1:].copy()
        a, b = ext[1:], ext[:-1]
        mag = np.minimum(np.abs(a), np.abs(b))
        # sign bit = XOR of the IEEE sign bits (product of signs), flipped for NRZ-M
        sign = (a.view(np.uint32) ^ b.view(np.uint32)) & np.uint32(0x80000000)
        if self._mark:
            sign ^= np.uint32(0x80000000)
        return (mag.view(np.uint32) | sign).view(np.float32)


@register
class NrziEncoder(_Encoder):
    """NRZI encoder (HDLC / AX.25): a 0 toggles the line level, a 1 keeps it.

    u8 bits in, u8 levels out (0/1), sync. Level before the first bit: ``initial_level``.

    Input
    -----
    u8 : ndarray of uint8, shape (n,)
        Bits (0 or 1).

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Line levels (0 or 1), one per bit: a 0 toggles the level, a 1 keeps it.
    """

    name = "nrzi_encoder"
    _mark = False


@register
class NrziDecoder(_Decoder):
    """NRZI decoder (HDLC / AX.25): bit 1 where the level stays, 0 where it changes.

    u8 levels in, u8 bits out, sync: ``bit[n] = 1 ^ level[n] ^ level[n-1]``.

    Input
    -----
    u8 : ndarray of uint8, shape (n,)
        Line levels (0 or 1), e.g. hard decisions of the demodulator.

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Bits (0 or 1), one per level: ``1 ^ level[n] ^ level[n-1]``.
    """

    name = "nrzi_decoder"
    _mark = False


@register
class NrziDecoderSoft(_SoftDecoder):
    """Soft NRZI decoder: LLR of ``1 ^ level[n] ^ level[n-1]`` by min-sum (positive = 1).

    f32 level LLRs in, f32 bit LLRs out, sync: ``sign(a) sign(b) min(|a|, |b|)``.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        LLRs of the line levels, positive means level 1.

    Output
    ------
    f32 : ndarray of float32, shape (n,)
        LLRs of the bits, one per input, positive means 1: ``sign(a) sign(b) min(|a|,
        |b|)``.
    """

    name = "nrzi_decoder_soft"
    _mark = False


@register
class NrzmEncoder(_Encoder):
    """NRZ-M encoder (CCSDS differential coding): a 1 toggles the line level, a 0 keeps it.

    u8 bits in, u8 levels out (0/1), sync. Level before the first bit: ``initial_level``.

    Input
    -----
    u8 : ndarray of uint8, shape (n,)
        Bits (0 or 1).

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Line levels (0 or 1), one per bit: a 1 toggles the level, a 0 keeps it.
    """

    name = "nrzm_encoder"
    _mark = True


@register
class NrzmDecoder(_Decoder):
    """NRZ-M decoder (CCSDS): bit 1 where the level changes, 0 where it stays.

    u8 levels in, u8 bits out, sync: ``bit[n] = level[n] ^ level[n-1]``.

    Input
    -----
    u8 : ndarray of uint8, shape (n,)
        Line levels (0 or 1).

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Bits (0 or 1), one per level: ``level[n] ^ level[n-1]``.
    """

    name = "nrzm_decoder"
    _mark = True


@register
class NrzmDecoderSoft(_SoftDecoder):
    """Soft NRZ-M decoder: LLR of ``level[n] ^ level[n-1]`` by min-sum (positive = 1).

    f32 level LLRs in, f32 bit LLRs out, sync: ``-sign(a) sign(b) min(|a|, |b|)``.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        LLRs of the line levels, positive means level 1.

    Output
    ------
    f32 : ndarray of float32, shape (n,)
        LLRs of the bits, one per input, positive means 1: ``-sign(a) sign(b) min(|a|,
        |b|)``.
    """

    name = "nrzm_decoder_soft"
    _mark = True


# ------------------------------------------------------------------------------------------------
# whole-array conveniences


def nrzi_encode(bits, initial_level: int = 0) -> np.ndarray:
    """NRZI-encode a whole bit array (a 0 toggles the level); uint8 levels out."""
    return NrziEncoder(initial_level=initial_level).run(bits)


def nrzi_decode(levels, initial_level: int = 0) -> np.ndarray:
    """NRZI-decode a whole level array (no change = 1); uint8 bits out."""
    return NrziDecoder(initial_level=initial_level).run(levels)


def nrzi_decode_soft(llrs, initial_level: int = 0) -> np.ndarray:
    """Soft NRZI-decode whole float32 level LLRs; float32 bit LLRs out (positive = 1)."""
    return NrziDecoderSoft(initial_level=initial_level).run(llrs)


def nrzm_encode(bits, initial_level: int = 0) -> np.ndarray:
    """NRZ-M-encode a whole bit array (a 1 toggles the level); uint8 levels out."""
    return NrzmEncoder(initial_level=initial_level).run(bits)


def nrzm_decode(levels, initial_level: int = 0) -> np.ndarray:
    """NRZ-M-decode a whole level array (change = 1); uint8 bits out."""
    return NrzmDecoder(initial_level=initial_level).run(levels)


def nrzm_decode_soft(llrs, initial_level: int = 0) -> np.ndarray:
    """Soft NRZ-M-decode whole float32 level LLRs; float32 bit LLRs out (positive = 1)."""
    return NrzmDecoderSoft(initial_level=initial_level).run(llrs)


@dataclass(frozen=True)
class SlicerParams:
    threshold: float = param(0.0, "LLRs above this become bit 1", lo=-1e9, hi=1e9)


@register
class Slicer(Block):
    """Hard decisions: LLRs (f32, positive = 1) to bits (u8 0/1). Stateless.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        LLRs (soft bits), positive means 1.

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Hard bits, one per input: 1 where the LLR is above ``threshold``, else 0.
    """

    name = "slicer"
    Params = SlicerParams
    rate = Rate.SYNC
    in_type = "f32"
    out_type = "u8"
    stateful = False

    def _process(self, llr):
        return (llr > self.params.threshold).astype(np.uint8)
