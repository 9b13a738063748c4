"""CCSDS convolutional code, r=1/2 K=7, and its punctured rates: encoder and soft Viterbi decoder.

CCSDS 131.0-B-3 section 3.3 (the rate-1/2 code) and section 3.4 (punctured rates 2/3, 3/4, 5/6
and 7/8). Streaming blocks (:class:`ConvEncoder`, :class:`ViterbiDecoder`) and frame functions
(:func:`encode`, :func:`decode_terminated`, or the same methods of :class:`ConvCode`).

Conventions
-----------
Polynomials
    G1 = 171 and G2 = 133 (octal), constraint length K = 7. In the octal form the most
    significant bit taps the newest input bit; GNU Radio and libfec write the polynomials
    bit-reversed (least significant bit = newest bit): G1 = 79 (0x4F), G2 = 109 (0x6D).
Encoder
    Starts in state 0 (all six register bits zero). Input bits are taken first-in first-out.
Symbol order and inversion (``variant``, named as in gr-satellites' ``ccsds_viterbi``)
    ======================= =================== =============================================
    variant                 symbols per bit      GNU Radio ``cc_encoder``/``cc_decoder`` polys
    ======================= =================== =============================================
    ``CCSDS``               G1, then NOT G2      ``[79, -109]`` (CCSDS 131.0-B 3.3)
    ``CCSDS uninverted``    G1, then G2          ``[79, 109]``
    ``NASA-DSN``            NOT G2, then G1      ``[-109, 79]``
    ``NASA-DSN uninverted`` G2, then G1          ``[109, 79]`` (libfec's default order, and
                                                 GNU Radio ``encode_ccsds_27_bb``)
    ======================= =================== =============================================
Punctured rates
    The mother code is G1, G2 in the CCSDS order and **never inverted** (131.0-B 3.4), so for
    rates above 1/2 ``CCSDS`` and ``CCSDS uninverted`` name the same code, and the NASA-DSN
    variants are refused. Patterns (1 = sent; pair 1 is the first pair of the stream, and the
    pattern phase runs on across chunks):

    ====  =========  =========  =====================================================
    rate  C1 (G1)    C2 (G2)    sent order
    ====  =========  =========  =====================================================
    2/3   10         11         C1(1) C2(1) C2(2)
    3/4   101        110        C1(1) C2(1) C2(2) C1(3)
    5/6   10101      11010      C1(1) C2(1) C2(2) C1(3) C2(4) C1(5)
    7/8   1000101    1111010    C1(1) C2(1) C2(2) C2(3) C2(4) C1(5) C2(6) C1(7)
    ====  =========  =========  =====================================================
Soft input
    One float LLR per received code symbol, ``log P(1)/P(0)``: **positive means 1**, 0 is an
    erasure (the depuncturer inserts 0 for the symbols not sent). Any scale works (the decoder
    uses float32 path metrics); magnitudes above 1e30 (and infinities) are clamped, NaN is
    refused.
Decoder
    Maximum-likelihood (Viterbi) over the 64-state trellis, float32 correlation metrics.
    :class:`ViterbiDecoder` releases bits ``block_bits`` at a time once they lie ``traceback``
    steps behind the newest symbol (tracing back from the best state), so its delay is between
    ``traceback`` and ``traceback + block_bits - 1`` bits; ``flush()`` releases the rest.
    :func:`decode_terminated` keeps every decision of the frame (8 bytes per trellis step) and
    traces back from state 0: exact maximum likelihood for a frame with a zero tail.

Wrong input (lengths, variants, rates, values) raises :class:`ConvCodeError`, which is both an
:class:`~orbitlink.OrbitlinkError` and a :class:`ValueError`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink.modem._kernels import viterbi as _k
from orbitlink.modem.block import Block, Rate, param, register
from orbitlink.modem.buffer import StreamBuffer

K = 7  #: constraint length
TAIL = K - 1  #: zero bits that return the encoder to state 0
G1 = 0o171  #: first generator, octal form (MSB taps the newest bit)
G2 = 0o133  #: second generator, octal form
G1_REV = _k.G1_REV  #: G1 bit-reversed (79), LSB taps the newest bit (GNU Radio / libfec form)
G2_REV = _k.G2_REV  #: G2 bit-reversed (109)

VARIANTS = ("CCSDS", "CCSDS uninverted", "NASA-DSN", "NASA-DSN uninverted")
RATES = ("1/2", "2/3", "3/4", "5/6", "7/8")

#: rate -> (C1 pattern, C2 pattern), CCSDS 131.0-B-3 table 3-1; 1 = sent
PUNCTURE_PATTERNS = {
    "1/2": ("1", "1"),
    "2/3": ("10", "11"),
    "3/4": ("101", "110"),
    "5/6": ("10101", "11010"),
    "7/8": ("1000101", "1111010"),
}

#: variant -> (position of the G1 symbol in a pair, G1 inverted, G2 inverted)
_LAYOUT = {
    "CCSDS": (0, False, True),
    "CCSDS uninverted": (0, False, False),
    "NASA-DSN": (1, False, True),
    "NASA-DSN uninverted": (1, False, False),
}


class ConvCodeError(OrbitlinkError, ValueError):
    """Bad input to the convolutional encoder or decoder (length, variant, rate, values)."""


def _fmt(items) -> str:
    return ", ".join(map(str, items))


def _rev7(x: int) -> int:
    return int(f"{x:07b}"[::-1], 2)


assert _rev7(G1) == G1_REV and _rev7(G2) == G2_REV


class ConvCode:
    """The CCSDS K=7 code in one variant and rate: frame encoding and terminated decoding.

    Parameters
    ----------
    variant : str
        Symbol order and inversion, one of :data:`VARIANTS` (see the module docstring).
    rate : str
        ``"1/2"`` or a punctured rate ``"2/3"``, ``"3/4"``, ``"5/6"``, ``"7/8"``.

    Attributes
    ----------
    rate : float
        Information bits per code symbol (0.5 ... 0.875).
    rate_name : str
        The rate as given (``"3/4"``).
    keep : ndarray of uint8
        Puncturing mask over one period of mother symbols, in the order C1(1) C2(1) C1(2) ...
    """

    def __init__(self, variant: str = "CCSDS", rate: str = "1/2"):
        if not isinstance(variant, str) or variant not in _LAYOUT:
            raise ConvCodeError(f"unknown convolutional code variant {variant!r} "
                                f"(known: {_fmt(repr(v) for v in VARIANTS)})")
        if not isinstance(rate, str) or rate not in PUNCTURE_PATTERNS:
            raise ConvCodeError(f"unknown convolutional code rate {rate!r} (known: {_fmt(RATES)})")
        ia, inv1, inv2 = _LAYOUT[variant]
        if rate != "1/2":
            if ia != 0:
                raise ConvCodeError(f"the punctured rate {rate} is defined for the CCSDS symbol "
                                    f"order only, not for variant {variant!r}")
            inv1 = inv2 = False  # CCSDS 131.0-B 3.4: the punctured codes do not invert G2
        self.variant = variant
        self.rate_name = rate
        self.rate = float(Fraction(rate))
        self.punctured = rate != "1/2"
        c1, c2 = PUNCTURE_PATTERNS[rate]
        self.keep = np.array([int(b) for pair in zip(c1, c2) for b in pair], np.uint8)
        self.period = len(c1)  #: pairs per puncturing period
        self._pos = np.flatnonzero(self.keep).astype(np.int64)  # sent mother positions
        self._pos_list = [int(v) for v in self._pos]
        self._cum = [0, *np.cumsum(self.keep).tolist()]
        self.sent_per_period = int(self.keep.sum())
        # decoder view: x1 = s1 * llr[2t + ia] is the G1 LLR, x2 = s2 * llr[2t + 1 - ia] G2's
        self._ia = ia
        self._s1 = -1.0 if inv1 else 1.0
        self._s2 = -1.0 if inv2 else 1.0
        # encoder view: first and second symbol of each pair
        polys = (G1_REV, G2_REV) if ia == 0 else (G2_REV, G1_REV)
        invs = (inv1, inv2) if ia == 0 else (inv2, inv1)
        self._enc = (polys[0], polys[1], int(invs[0]), int(invs[1]))

    def __repr__(self) -> str:
        return f"ConvCode({self.variant!r}, {self.rate_name!r})"

    # lengths -----------------------------------------------------------------------------------
    def coded_length(self, n_bits: int) -> int:
        """Code symbols sent for ``n_bits`` encoder input bits (tail bits included if any)."""
        n_bits = int(n_bits)
        if n_bits < 0:
            raise ConvCodeError(f"a bit count cannot be negative, got {n_bits}")
        full, rem = divmod(n_bits, self.period)
        return full * self.sent_per_period + self._cum[2 * rem]

    def _sent_position(self, j):
        """Mother-symbol index of the j-th sent symbol (0-based, absolute; int or int array)."""
        if isinstance(j, (int, np.integer)):
            q, r = divmod(int(j), self.sent_per_period)
            return q * 2 * self.period + self._pos_list[r]
        q, r = np.divmod(j, self.sent_per_period)
        return q * (2 * self.period) + self._pos[r]

    def pairs_for(self, n_symbols: int) -> int:
        """Encoder input bits (trellis steps) that give exactly ``n_symbols`` code symbols.

        Raises :class:`ConvCodeError` when no whole number of steps gives that many symbols.
        """
        n = int(n_symbols)
        if not self.punctured:
            if n % 2 or n < 0:
                raise ConvCodeError(f"rate 1/2 needs an even number of LLRs (two per trellis "
                                    f"step), got {n}")
            return n // 2
        if n <= 0:
            if n == 0:
                return 0
            raise ConvCodeError(f"a symbol count cannot be negative, got {n}")
        pairs = self._sent_position(n - 1) // 2 + 1
        if self.coded_length(pairs) != n:
            lo, hi = self.coded_length(pairs - 1), self.coded_length(pairs)
            raise ConvCodeError(f"{n} LLRs is not a whole number of trellis steps at rate "
                                f"{self.rate_name} (the nearest valid lengths are {lo} and {hi})")
        return pairs

    # frames ------------------------------------------------------------------------------------
    def encode(self, bits, terminate: bool = True) -> np.ndarray:
        """Encode a frame (1-D) or a batch of frames (2-D, one per row), starting in state 0.

        Parameters
        ----------
        bits : array_like of int or bool, shape (n,) or (frames, n)
            Unpacked bits, 0 or 1, first transmitted first.
        terminate : bool
            Append ``TAIL`` = 6 zero bits so that the trellis ends in state 0.

        Returns
        -------
        ndarray of uint8, shape (coded_length(n [+ 6]),) or (frames, ...)
            Code symbols (0/1) in transmission order, punctured at rates above 1/2.
        """
        b = _as_bits(bits, "encode", ndims=(1, 2))
        rows = b.reshape(-1, b.shape[-1]) if b.ndim == 2 else b[None, :]
        if terminate:
            rows = np.concatenate([rows, np.zeros((rows.shape[0], TAIL), np.uint8)], axis=1)
        rows = np.ascontiguousarray(rows)
        n_out = self.coded_length(rows.shape[1])
        out = np.empty((rows.shape[0], n_out), np.uint8)
        tmp = np.empty(2 * rows.shape[1], np.uint8)
        for i in range(rows.shape[0]):
            st = np.zeros(2, np.int64)
            n = _k.conv_encode(rows[i], st, *self._enc, self.keep, _k.PARITY7, tmp)
            out[i] = tmp[:n]
        return out if b.ndim == 2 else out[0]

    def depuncture(self, llrs) -> np.ndarray:
        """Mother-code LLRs of a frame: punctured positions become erasures (0).

        ``llrs`` has shape (m,) or (frames, m) with m a valid punctured length; returns float32
        of shape (..., 2 * pairs_for(m)). At rate 1/2 the input comes back as float32.
        """
        x = _as_llrs(llrs, "depuncture", ndims=(1, 2))
        return self._depuncture(x)

    def _depuncture(self, x):
        m = x.shape[-1]
        pairs = self.pairs_for(m)
        if not self.punctured:
            return x
        y = np.zeros(x.shape[:-1] + (2 * pairs,), np.float32)
        y[..., self._sent_position(np.arange(m))] = x
        return y

    def decode_terminated(self, llrs) -> np.ndarray:
        """Maximum-likelihood decoding of terminated frames (start and end in state 0).

        Parameters
        ----------
        llrs : array_like of float, shape (m,) or (frames, m)
            Received LLRs, positive = 1, 0 = erasure, as sent (punctured at rates above 1/2).
            ``m`` must be the length of a whole number of trellis steps (at rate 1/2: even),
            at least the 6 tail steps' worth.

        Returns
        -------
        ndarray of uint8, shape (n,) or (frames, n)
            The decoded information bits, the 6 tail bits removed (n = steps - 6).
        """
        x = _as_llrs(llrs, "decode_terminated", ndims=(1, 2))
        m = x.shape[-1]
        pairs = self.pairs_for(m)
        if pairs < TAIL:
            raise ConvCodeError(f"decode_terminated needs at least {self.coded_length(TAIL)} LLRs "
                                f"(the {TAIL} tail bits) at rate {self.rate_name}, got {m}")
        y = self._depuncture(x)
        rows = y.reshape(-1, 2 * pairs)
        nout = pairs - TAIL
        out = np.empty((rows.shape[0], nout), np.uint8)
        if rows.shape[0]:
            metrics = np.empty(64, np.float32)
            dec = np.empty(max(pairs, 1), np.uint64)
            _k.viterbi_terminated(rows, pairs, nout, self._ia, self._s1, self._s2, metrics, dec, out)
        return out if x.ndim == 2 else out[0]


@functools.lru_cache(maxsize=None)
def _cached_code(variant, rate) -> ConvCode:
    return ConvCode(variant, rate)


def _code(variant, rate) -> ConvCode:
    if isinstance(variant, str) and isinstance(rate, str):
        return _cached_code(variant, rate)
    return ConvCode(variant, rate)  # raises the error naming the bad value


def encode(bits, terminate: bool = True, variant: str = "CCSDS", rate: str = "1/2") -> np.ndarray:
    """Encode a frame or a batch of frames (rows); see :meth:`ConvCode.encode`.

    Examples
    --------
    >>> encode([1, 0, 1, 1], terminate=False)           # CCSDS: G1 then NOT G2
    array([1, 0, 1, 1, 0, 1, 1, 1], dtype=uint8)
    """
    return _code(variant, rate).encode(bits, terminate)


def decode_terminated(llrs, variant: str = "CCSDS", rate: str = "1/2") -> np.ndarray:
    """Decode terminated frame(s) of LLRs (positive = 1); see :meth:`ConvCode.decode_terminated`."""
    return _code(variant, rate).decode_terminated(llrs)


# ------------------------------------------------------------------------------------------------
# input checks


def _kind_error(x, what, expect):
    raise ConvCodeError(f"{what} expects {expect}, got {type(x).__name__}")


def _as_array(x, what, expect, ndims):
    if x is None or isinstance(x, (str, bytes, bytearray, dict, set, memoryview)):
        _kind_error(x, what, expect)
    try:
        a = np.asarray(x)
    except (TypeError, ValueError):
        _kind_error(x, what, expect)
    if a.dtype.kind not in "biuf":
        raise ConvCodeError(f"{what} expects {expect}, got an array of {a.dtype}")
    if a.ndim not in ndims:
        raise ConvCodeError(f"{what} expects {expect}, got an array of shape {a.shape}")
    return a


def _as_bits(x, what, ndims=(1,)):
    expect = "an array of bits (0 or 1)" if ndims == (1,) else "a 1-D or 2-D array of bits (0 or 1)"
    a = _as_array(x, what, expect, ndims)
    if a.dtype == np.uint8 or a.dtype == np.bool_:
        bad = a.dtype == np.uint8 and a.size and int(a.max()) > 1
    else:
        bad = a.size and bool(np.any((a != 0) & (a != 1)))
    if bad:
        raise ConvCodeError(f"{what} expects bits that are 0 or 1 (one bit per item), "
                            f"got values up to {a.max()!r}")
    return np.ascontiguousarray(a, np.uint8)


def _as_llrs(x, what, ndims=(1,)):
    if (type(x) is np.ndarray and x.dtype == np.float32 and x.ndim in ndims
            and x.flags.c_contiguous):
        a = x  # fast path (frame-by-frame callers)
    else:
        expect = "an array of float LLRs" if ndims == (1,) else "a 1-D or 2-D array of float LLRs"
        a = np.ascontiguousarray(_as_array(x, what, expect, ndims), np.float32)
    if a.size and _k.has_nan(a.reshape(-1)):
        raise ConvCodeError(f"{what}: the LLRs contain NaN")
    return a


# ------------------------------------------------------------------------------------------------
# streaming blocks


def _variant_doc():
    return ("Symbol order and inversion: 'CCSDS' = G1, NOT G2; 'CCSDS uninverted' = G1, G2; "
            "'NASA-DSN' = NOT G2, G1; 'NASA-DSN uninverted' = G2, G1 (gr-satellites names)")


_RATE_DOC = ("Code rate; above 1/2 the CCSDS 131.0-B 3.4 punctured code (mother code G1, G2, "
             "never inverted; NASA-DSN variants refused)")


@dataclass(frozen=True)
class ConvEncoderParams:
    variant: str = param("CCSDS", _variant_doc(), choices=VARIANTS)
    rate: str = param("1/2", _RATE_DOC, choices=RATES)
    tail: bool = param(False, "flush() encodes 6 zero bits, ending the trellis in state 0")


@register
class ConvEncoder(Block):
    """Streaming CCSDS K=7 convolutional encoder: bits (u8) to code symbols (u8).

    The encoder starts in state 0; its register and the puncturing phase carry over from
    chunk to chunk, so the output equals :func:`encode` of the whole stream with
    ``terminate=False`` (``terminate=True`` when ``tail`` is set). Conventions: see the module
    docstring of :mod:`orbitlink.modem.fec.conv`.

    Input
    -----
    u8 : ndarray of uint8, shape (n,)
        Information bits (0 or 1), first-in first-out.

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Code symbols (0 or 1) in transmission order: two per bit at rate 1/2 in the
        ``variant``'s order, fewer at the punctured rates; with ``tail``, ``flush()`` adds
        the symbols of 6 zero bits.
    """

    name = "conv_encoder"
    Params = ConvEncoderParams
    rate = Rate.INTERP
    in_type = "u8"
    out_type = "u8"

    def _reset(self):
        p = self.params
        self.code = ConvCode(p.variant, p.rate)
        self._state = np.zeros(2, np.int64)  # [register, puncturing phase]

    def process(self, chunk):
        return self._process(_as_bits(chunk, self.name))

    def _process(self, bits):
        out = np.empty(2 * len(bits), np.uint8)
        n = _k.conv_encode(bits, self._state, *self.code._enc, self.code.keep, _k.PARITY7, out)
        return out[:n]

    def _flush(self):
        if not self.params.tail:
            return np.zeros(0, np.uint8)
        return self._process(np.zeros(TAIL, np.uint8))

    @classmethod
    def example(cls, rng):
        return cls(rate="3/4", tail=True), rng.integers(0, 2, 500).astype(np.uint8)


@dataclass(frozen=True)
class ViterbiDecoderParams:
    variant: str = param("CCSDS", _variant_doc(), choices=VARIANTS)
    rate: str = param("1/2", _RATE_DOC, choices=RATES)
    traceback: int = param(96, "Traceback depth: a bit is released once this many later steps "
                           "are known", unit="bits", lo=1, hi=65536)
    block_bits: int = param(256, "Bits released per traceback (decoding delay is traceback .. "
                            "traceback + block_bits - 1 bits)", unit="bits", lo=1, hi=65536)
    start_state: int = param(-1, "Encoder state at the first symbol (0..63, newest bit in bit 0),"
                             " or -1 if unknown (all states equally likely)", lo=-1, hi=63)
    end_state: int = param(-1, "State flush() traces back from: 0 for a stream ended by a zero "
                           "tail, -1 for the best path metric", lo=-1, hi=63)


@register
class ViterbiDecoder(Block):
    """Streaming soft-decision Viterbi decoder: LLRs (f32, positive = 1) to bits (u8).

    Path metrics, the decision ring and the depuncturing phase carry over from chunk to chunk;
    bits are released ``block_bits`` at a time, ``traceback`` steps behind the newest symbol,
    tracing back from the best state. ``flush()`` releases the rest (tracing back from
    ``end_state``). An odd LLR left at the end of the stream (or a pair cut by puncturing)
    is completed with erasures. Conventions: see :mod:`orbitlink.modem.fec.conv`.

    Input
    -----
    f32 : ndarray of float32, shape (n,)
        LLRs of the received code symbols in transmission order (punctured symbols
        omitted), positive means 1, 0 an erasure.

    Output
    ------
    u8 : ndarray of uint8, shape (n,)
        Decoded bits (0 or 1), released ``block_bits`` at a time ``traceback`` steps
        behind the newest symbol; ``flush()`` releases the rest.
    """

    name = "viterbi_decoder"
    Params = ViterbiDecoderParams
    rate = Rate.DECIM
    in_type = "f32"
    out_type = "u8"

    def _reset(self):
        p = self.params
        self.code = ConvCode(p.variant, p.rate)
        ring = 1
        while ring < p.traceback + p.block_bits:
            ring *= 2
        self._dec = np.zeros(ring, np.uint64)
        self._metrics = np.zeros(64, np.float32)
        if p.start_state >= 0:
            self._metrics[:] = _k.NEG_METRIC
            self._metrics[p.start_state] = 0.0
        self._st = np.zeros(2, np.int64)  # [trellis steps done, bits released]
        # received LLRs of an incomplete pair; .base counts the received symbols consumed
        # into complete pairs
        self._pend = StreamBuffer(np.float32)

    def process(self, chunk):
        return self._process(_as_llrs(chunk, self.name))

    def _pairs(self, x):
        """Complete mother-code LLR pairs from the pending symbols plus ``x``."""
        held = len(self._pend) > 0
        if held:
            self._pend.append(x)
            x = self._pend.view
        j0 = self._pend.base  # absolute symbol index of x[0]
        code = self.code
        if not code.punctured:
            used = len(x) & ~1
            y = x if used == len(x) else x[:used]
        else:
            total = j0 + len(x)
            q0 = int(code._sent_position(j0)) // 2  # pairs fed so far
            q1 = int(code._sent_position(total)) // 2  # pairs complete once `total` are received
            used = code.coded_length(q1) - j0
            y = np.zeros(2 * (q1 - q0), np.float32)
            y[code._sent_position(np.arange(j0, j0 + used)) - 2 * q0] = x[:used]
        if held:
            self._pend.consume(used)  # y may be a view of the buffer: decoded before appending
        else:
            self._pend.clear(base=j0 + used)
            if used < len(x):
                self._pend.append(x[used:])
        return y

    def _decode(self, y):
        p = self.params
        npairs = len(y) // 2
        t, e = int(self._st[0]), int(self._st[1])
        n_max = p.block_bits * max(0, (t + npairs - p.traceback - e) // p.block_bits)
        out = np.empty(n_max, np.uint8)
        if npairs:
            c = self.code
            n = _k.viterbi_stream(y, npairs, self._metrics, c._ia, c._s1, c._s2, self._dec,
                                  self._st, p.traceback, p.block_bits, out)
            assert n == n_max
        return out

    def _process(self, x):
        return self._decode(self._pairs(x))

    def _flush(self):
        parts = []
        if len(self._pend):  # complete the last pair with erasures
            code = self.code
            j0 = self._pend.base
            r = len(self._pend)
            q = int(code._sent_position(j0)) // 2
            y = np.zeros(2, np.float32)
            y[code._sent_position(np.arange(j0, j0 + r)) - 2 * q] = self._pend.take_all()
            parts.append(self._decode(y))
        t, e = int(self._st[0]), int(self._st[1])
        out = np.empty(t - e, np.uint8)
        _k.viterbi_flush(self._metrics, self._dec, self._st, self.params.end_state, out)
        parts.append(out)
        return np.concatenate(parts)

    @classmethod
    def example(cls, rng):
        bits = rng.integers(0, 2, 700).astype(np.uint8)
        sym = encode(bits, terminate=True, rate="3/4")
        llr = (2.0 * sym - 1.0) * 2.0 + rng.standard_normal(len(sym)) * 1.2
        return cls(rate="3/4", traceback=30, block_bits=17, end_state=0), llr.astype(np.float32)
