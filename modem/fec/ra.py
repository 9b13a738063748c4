"""Repeat-accumulate (RA) code of SMOG-P / ATL-1 / SMOG-1 (M. Maroti's code, as gr-satellites'
``decode_ra_code`` block decodes it).

The code works on 16-bit words. A packet of ``D`` words (64 for 128 bytes, 128 for 256; byte
``2k`` is the low byte of word ``k``) is sent as ``D + 3 ceil(D / 3)`` code words (rate about
1/2; 130 words = 260 bytes for 128, 257 words = 514 bytes for 256), in four passes over the
packet. Pass ``s`` (0..3) visits the ``D`` data words in the order of a Galois LFSR whose
states above ``D`` are skipped (a permutation of 0..D-1 that ends at word ``s``; mask and
start below). A 16-bit accumulator starts at 0; at every visited word it is rotated right by
one bit and the word XORed into it. Pass 0 sends the accumulator after every word (``D``
words); passes 1..3 after every third word and after the last one (``ceil(D / 3)`` words
each).

On the air each code word goes low byte first, each byte MSB first (gr-satellites reverses the
bits of each byte of the soft stream to put them in word-bit order before decoding).

Decoding is iterative min-sum message passing along the accumulator chains (one forward and one
backward sweep per pass, four passes an iteration, 20 iterations), with the data-word beliefs
carried from pass to pass; the later iterations halve the previous belief before adding the new
extrinsic information. The result is re-encoded and compared with the hard decisions of the
received code bits: the fraction of disagreeing bits (``recode_ber``) tells a decoded frame
(a few per cent at most) from noise (near one half); gr-satellites passes frames below 0.35.

References: gr-satellites 4.4 ``lib/radecoder`` (ra_config, ra_lfsr, ra_encoder,
ra_decoder_gen) and ``lib/decode_ra_code_impl.cc``; the SMOG-P ground software (smogcli).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from orbitlink.modem.fec.crc import FecInputError

__all__ = ["RaCode", "RaResult", "ra_code", "ITERATIONS", "RECODE_LIMIT"]

#: decoder iterations (gr-satellites: 20)
ITERATIONS = 20
#: gr-satellites' bound on the re-encoding disagreement of a decoded frame
RECODE_LIMIT = 0.35
_PUNCTURE = 3  # data words per check word in passes 1..3 (rate 1/2 overall)
_BITS = 16

#: LFSR feedback masks per register width (highest bit 4..12), one per pass; from
#: P. Koopman's tables of maximal-length LFSRs, as the SMOG-P code uses them
_MASKS = ((0x12, 0x17, 0x1B, 0x1E), (0x21, 0x2D, 0x30, 0x39), (0x41, 0x53, 0x69, 0x7B),
          (0x8E, 0xAF, 0xC3, 0xE7), (0x108, 0x13B, 0x168, 0x1DC),
          (0x204, 0x2E3, 0x369, 0x3AA), (0x415, 0x4BF, 0x553, 0x62B),
          (0x83E, 0x939, 0xAF5, 0xD70), (0x1013, 0x109D, 0x117D, 0x1271))


@dataclass(frozen=True)
class RaResult:
    """One decoded packet.

    Attributes
    ----------
    data : bytes
        The packet (the decoder's decision, whatever the re-encoding says).
    recode_errors : int
        Received hard code bits that differ from the re-encoded packet.
    recode_ber : float
        ``recode_errors`` over the code bits.
    """

    data: bytes
    recode_errors: int
    recode_ber: float


def _permutation(d: int, mask: int, seqno: int) -> np.ndarray:
    """The data-word order of pass ``seqno``: LFSR states above ``d`` skipped, offset so that
    the pass ends at word ``seqno``."""
    offset = d >> (1 + seqno)
    state = 1 + seqno + offset
    out = np.empty(d, np.int64)
    for i in range(d):
        while True:
            low = state & 1
            state >>= 1
            if low:
                state ^= mask
            if state <= d:
                break
        out[i] = (state - 1 - offset) % d
    return out


class RaCode:
    """The RA code for packets of ``data_bytes`` bytes (even, 8..4096)."""

    def __init__(self, data_bytes: int):
        if data_bytes % 2 or not 8 <= data_bytes <= 4096:
            raise FecInputError(f"RA code: packets of 8..4096 bytes, even, not {data_bytes}")
        self.data_bytes = data_bytes
        d = data_bytes // 2
        self.data_words = d
        self.check_words = -(-d // _PUNCTURE)
        self.code_words = d + 3 * self.check_words
        width, n = 4, d
        while n >= 32:
            n //= 2
            width += 1
        masks = _MASKS[width - 4]
        self.perms = np.stack([_permutation(d, masks[s], s) for s in range(4)])
        assert all(p[-1] == s for s, p in enumerate(self.perms))
        assert all(np.array_equal(np.sort(p), np.arange(d)) for p in self.perms)

    @property
    def code_bytes(self) -> int:
        return 2 * self.code_words

    @property
    def code_bits(self) -> int:
        return 16 * self.code_words

    # encoding ---------------------------------------------------------------------------
    def encode_words(self, words: np.ndarray) -> np.ndarray:
        """Data words (u16) to code words (u16)."""
        out = []
        for s in range(4):
            step = 1 if s == 0 else _PUNCTURE
            acc = 0
            perm = self.perms[s]
            for i, pos in enumerate(perm):
                acc = ((acc >> 1) | (acc << 15)) & 0xFFFF
                acc ^= int(words[pos])
                if (i + 1) % step == 0 or i == len(perm) - 1:
                    out.append(acc)
        w = np.array(out, np.uint16)
        assert len(w) == self.code_words
        return w

    def encode(self, data) -> bytes:
        """A packet to its code bytes (as sent, before the per-byte bit order of the air)."""
        data = bytes(data)
        if len(data) != self.data_bytes:
            raise FecInputError(f"RA code carries {self.data_bytes}-byte packets, not "
                                f"{len(data)} bytes")
        words = np.frombuffer(data, "<u2")
        return self.encode_words(words).astype("<u2").tobytes()

    def encode_bits(self, data) -> np.ndarray:
        """A packet to its channel bits (u8 0/1, air order: bytes MSB first)."""
        return np.unpackbits(np.frombuffer(self.encode(data), np.uint8))

    # decoding ---------------------------------------------------------------------------
    def decode(self, llrs, iterations: int = ITERATIONS) -> RaResult:
        """Decode ``code_bits`` channel LLRs (air order, positive = 1)."""
        x = np.asarray(llrs, np.float32)
        if x.shape != (self.code_bits,):
            raise FecInputError(f"RA decoder takes {self.code_bits} soft bits, not {x.size}")
        # air bit 8 k + 7 - b is bit b of byte k (byte 2 w + h is byte h of code word w); the
        # kernel wants bit b of word w at 16 w + b, positive meaning 0
        from orbitlink.modem._kernels.ra import ra_decode

        soft = np.ascontiguousarray(-x.reshape(-1, 8)[:, ::-1].reshape(-1))
        belief = ra_decode(soft, self.perms, self.data_words,
                           self.check_words, _PUNCTURE, iterations)
        bits = (belief < 0).astype(np.uint8)  # (data_words, 16), bit b of each word
        data = np.packbits(bits.reshape(-1), bitorder="little").tobytes()
        recode = self.encode_bits(data)
        errors = int(np.count_nonzero(recode != (x > 0)))
        return RaResult(data, errors, errors / self.code_bits)


@functools.lru_cache(maxsize=None)
def ra_code(data_bytes: int) -> RaCode:
    """The (cached) :class:`RaCode` for ``data_bytes``-byte packets."""
    return RaCode(data_bytes)
