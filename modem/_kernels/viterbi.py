"""numba kernels of the CCSDS K=7 convolutional code: encoder, Viterbi add-compare-select (ACS),
traceback.

Pure functions: inputs, parameters, state arrays (updated in place) and preallocated outputs in;
the number of items written out. No jitclass, one signature per kernel, ``cache=True``.

Trellis conventions (shared with :mod:`orbitlink.modem.fec.conv`)
------------------------------------------------------------------
* Polynomials are written bit-reversed, as GNU Radio and libfec do: bit 0 taps the newest input
  bit. ``G1_REV = 0b1001111`` (79) is 171 octal, ``G2_REV = 0b1101101`` (109) is 133 octal.
* The encoder register ``sr`` holds the last 7 input bits, newest in bit 0; the code symbols of
  an input bit are ``parity(sr & G1_REV)`` and ``parity(sr & G2_REV)``. The trellis state is
  ``sr & 63`` (the last 6 bits), so state ``s`` with input ``b`` goes to ``((s << 1) | b) & 63``.
* Butterfly ``i`` (0..31): old states ``i`` and ``i + 32`` go to new states ``2i`` and
  ``2i + 1``. Both polynomials tap the newest and the oldest bit, so the four branches of a
  butterfly carry one symbol pair and its complement.
* Soft input is one LLR per code symbol, positive = 1. Per step the kernels take
  ``x1 = s1 * llr[2t + ia]`` (the G1 symbol) and ``x2 = s2 * llr[2t + 1 - ia]`` (the G2 symbol):
  ``ia`` is the G1 position in the pair (0 for CCSDS order, 1 for NASA-DSN order) and
  ``s1``/``s2`` are -1 where the transmitted symbol is inverted. LLRs are clamped to
  +-``LLR_LIM``; NaN must be rejected by the caller.
* Path metrics are float32 correlations (larger is better): a branch expecting bits (c1, c2)
  adds ``(2c1 - 1) x1 + (2c2 - 1) x2``. After every absolute step ``t`` with
  ``t % RENORM_PERIOD == RENORM_PERIOD - 1`` the largest metric is subtracted from all 64, so
  the values stay bounded (below 32 * 2 * LLR_LIM + the spread of the metrics). Ties pick the predecessor
  without the oldest bit (state ``i``).
* Decisions are one uint64 word per step: bit ``s`` is 1 when new state ``s`` came from old
  state ``(s >> 1) | 32``. Traceback: ``s_prev = (s >> 1) | (((word >> s) & 1) << 5)``, and the
  decoded bit of a step is ``s & 1`` of the state after it.

The ACS comes in two bit-identical forms: :func:`acs_steps_ref`, plain numba, and
:func:`acs_steps`, which runs the loop through :func:`_acs_simd`, an LLVM-IR intrinsic holding the
64 metrics in vector registers across steps (the float32 butterflies of one step are a handful
of 512-bit operations; the decisions of the 64 states are packed with one mask-to-integer
bitcast). numba's auto-vectoriser cannot do either (it spills the metrics to memory every step
and guards each step with run-time alias checks), and that made it ~1.7x slower. The tests check
both forms step for step.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

NSTATES = 64
G1_REV = 0b1001111  # 171 octal, bit-reversed (79)
G2_REV = 0b1101101  # 133 octal, bit-reversed (109)
LLR_LIM = np.float32(1e30)
NEG_METRIC = np.float32(-1e37)  # metric of a state known not to be the start state
RENORM_PERIOD = 32  # steps between renormalisations (a power of two)


def _parity(x: int) -> int:
    return bin(x).count("1") & 1


#: expected (G1, G2) bits of butterfly i's branch "old state i, input 0"
_C1 = [_parity((2 * i) & G1_REV) for i in range(32)]
_C2 = [_parity((2 * i) & G2_REV) for i in range(32)]
#: butterfly i uses p = x1 + x2 (class 0) or q = x1 - x2 (class 1), negated where _NEG[i]
BM_CLASS = np.array([int(_C1[i] != _C2[i]) for i in range(32)], np.int64)
BM_NEG = np.array([int(_C1[i] == 0) for i in range(32)], np.int64)
PARITY7 = np.array([_parity(x) for x in range(128)], np.uint8)

# ------------------------------------------------------------------------------------------------
# Encoder


@njit(cache=True, nogil=True)
def conv_encode(bits, state, poly_a, poly_b, inv_a, inv_b, keep, parity, out):
    """Streaming encoder with puncturing.

    Parameters
    ----------
    bits : uint8[:]
        Input bits, first entered first (only bit 0 of each item is used).
    state : int64[2]
        ``[register, phase]``: the last 6 input bits (newest in bit 0) and the position in the
        puncturing mask (``2 * (pairs so far) % len(keep)``); updated in place.
    poly_a, poly_b : int
        Bit-reversed polynomials of the first and second symbol of each pair.
    inv_a, inv_b : int
        1 to invert the first / second symbol.
    keep : uint8[:]
        Puncturing mask over mother symbols (even length, 1 = sent), ``[1, 1]`` for rate 1/2.
    parity : uint8[128]
        Parity table (:data:`PARITY7`).
    out : uint8[:]
        Output symbols; room for ``2 * len(bits)`` is always enough.

    Returns
    -------
    int
        Number of symbols written.
    """
    sr = state[0]
    ph = state[1]
    nk = keep.shape[0]
    j = 0
    for i in range(bits.shape[0]):
        sr = ((sr << 1) | (bits[i] & 1)) & 127
        if keep[ph]:
            out[j] = parity[sr & poly_a] ^ inv_a
            j += 1
        if keep[ph + 1]:
            out[j] = parity[sr & poly_b] ^ inv_b
            j += 1
        ph += 2
        if ph >= nk:
            ph = 0
    state[0] = sr & 63
    state[1] = ph
    return j


# ------------------------------------------------------------------------------------------------
# Add-compare-select: the LLVM-IR intrinsic

_f32 = ir.FloatType()
_i32 = ir.IntType(32)
_i64 = ir.IntType(64)


def _mask(vals):
    vals = list(vals)
    return ir.Constant(ir.VectorType(_i32, len(vals)), [ir.Constant(_i32, v) for v in vals])


def _splat(builder, x, n):
    vty = ir.VectorType(x.type, n)
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(_i32, 0))
    return builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined), _mask([0] * n))


def _clamp(builder, x):
    hi = ir.Constant(_f32, float(LLR_LIM))
    lo = ir.Constant(_f32, -float(LLR_LIM))
    x = builder.select(builder.fcmp_ordered(">", x, hi), hi, x)
    return builder.select(builder.fcmp_ordered("<", x, lo), lo, x)


# Lane j of the vector ACS is butterfly j, computed with +p or +q; on the lanes where the branch
# metric is -p / -q the two outputs are swapped instead (m + (-b) == m - b exactly), and the
# shuffles that interleave the 2 x 32 results into state order undo the swap.
_OUT_SRC = [(s >> 1) + 32 * ((s & 1) ^ int(BM_NEG[s >> 1])) for s in range(64)]
_BM_IS_P = [int(BM_CLASS[i] == 0) for i in range(32)]


def _c_vector(t, dtype):
    return isinstance(t, types.Array) and t.ndim == 1 and t.layout == "C" and t.dtype == dtype


@intrinsic
def _acs_simd(typingctx, metrics, llr, p0, n, ia, s1, s2, dec, t0, rmask):
    """ACS over ``n`` steps with the 64 metrics kept in vector registers (see acs_steps)."""
    if not (_c_vector(metrics, types.float32) and _c_vector(llr, types.float32)
            and _c_vector(dec, types.uint64)):
        raise TypingError("_acs_simd needs C-contiguous float32 metrics/llr and uint64 dec")
    sig = types.void(metrics, llr, types.int64, types.int64, types.int64, types.float32,
                     types.float32, dec, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        _, _, ap0, an, aia, as1, as2, _, at0, armask = args
        ma = context.make_array(signature.args[0])(context, builder, args[0])
        la = context.make_array(signature.args[1])(context, builder, args[1])
        da = context.make_array(signature.args[7])(context, builder, args[7])
        v64 = ir.VectorType(_f32, 64)
        mptr = builder.bitcast(ma.data, v64.as_pointer())
        slot = cgutils.alloca_once(builder, v64)  # promoted to registers by LLVM (SROA)
        builder.store(builder.load(mptr, align=4), slot)
        ib = builder.sub(ir.Constant(_i64, 1), aia)
        is_p = ir.Constant(ir.VectorType(ir.IntType(1), 32),
                           [ir.Constant(ir.IntType(1), v) for v in _BM_IS_P])
        out_src = _mask(_OUT_SRC)
        with cgutils.for_range(builder, an) as loop:
            k = loop.index
            mv = builder.load(slot)
            base = builder.mul(builder.add(ap0, k), ir.Constant(_i64, 2))
            x1 = builder.load(builder.gep(la.data, [builder.add(base, aia)]))
            x2 = builder.load(builder.gep(la.data, [builder.add(base, ib)]))
            x1 = builder.fmul(_clamp(builder, x1), as1)
            x2 = builder.fmul(_clamp(builder, x2), as2)
            bm = builder.select(is_p, _splat(builder, builder.fadd(x1, x2), 32),
                                _splat(builder, builder.fsub(x1, x2), 32))
            lo = builder.shuffle_vector(mv, mv, _mask(range(32)))
            hi = builder.shuffle_vector(mv, mv, _mask(range(32, 64)))
            a0 = builder.fadd(lo, bm)
            b0 = builder.fsub(hi, bm)
            a1 = builder.fsub(lo, bm)
            b1 = builder.fadd(hi, bm)
            c0 = builder.fcmp_ordered(">", b0, a0)
            c1 = builder.fcmp_ordered(">", b1, a1)
            n0 = builder.select(c0, b0, a0)
            n1 = builder.select(c1, b1, a1)
            nv = builder.shuffle_vector(n0, n1, out_src)
            word = builder.bitcast(builder.shuffle_vector(c0, c1, out_src), _i64)
            t = builder.add(at0, k)
            builder.store(word, builder.gep(da.data, [builder.and_(t, armask)]))
            builder.store(nv, slot)
            last = ir.Constant(_i64, RENORM_PERIOD - 1)
            with builder.if_then(builder.icmp_unsigned("==", builder.and_(t, last), last)):
                r = nv
                w = 64
                while w > 1:
                    h = w // 2
                    a = builder.shuffle_vector(r, r, _mask(range(h)))
                    b = builder.shuffle_vector(r, r, _mask(range(h, w)))
                    r = builder.select(builder.fcmp_ordered(">", b, a), b, a)
                    w = h
                top = builder.extract_element(r, ir.Constant(_i32, 0))
                builder.store(builder.fsub(nv, _splat(builder, top, 64)), slot)
        builder.store(builder.load(slot), mptr, align=4)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def acs_steps(metrics, llr, p0, n, ia, s1, s2, dec, t0, rmask):
    """Add-compare-select over ``n`` trellis steps (vector form).

    Parameters
    ----------
    metrics : float32[64], C-contiguous
        Path metrics in state order; updated in place.
    llr : float32[:], C-contiguous
        LLR pairs (positive = 1); steps use pairs ``p0 .. p0 + n - 1``.
    p0, n : int
        First pair and number of steps; ``2 * (p0 + n) <= len(llr)``.
    ia : int
        Position of the G1 symbol in each pair (0 or 1).
    s1, s2 : float32
        +1, or -1 where the G1 / G2 symbol is sent inverted.
    dec : uint64[:], C-contiguous
        Decision words; step ``k`` writes ``dec[(t0 + k) & rmask]``.
    t0 : int
        Absolute index of the first step (drives the renormalisation schedule).
    rmask : int
        Ring mask (``len(dec) - 1`` for a power-of-two ring, -1 for a linear array).
    """
    if n > 0:
        _acs_simd(metrics, llr, p0, n, ia, np.float32(s1), np.float32(s2), dec, t0, rmask)


@njit(cache=True, nogil=True)
def acs_steps_ref(metrics, llr, p0, n, ia, s1, s2, dec, t0, rmask):
    """Plain-numba reference of :func:`acs_steps` (same arguments, bit-identical results)."""
    lim = LLR_LIM
    sg1 = np.float32(s1)
    sg2 = np.float32(s2)
    nm = np.empty(64, np.float32)
    for k in range(n):
        base = 2 * (p0 + k)
        x1 = llr[base + ia]
        x2 = llr[base + 1 - ia]
        x1 = lim if x1 > lim else x1
        x1 = -lim if x1 < -lim else x1
        x2 = lim if x2 > lim else x2
        x2 = -lim if x2 < -lim else x2
        x1 = x1 * sg1
        x2 = x2 * sg2
        pp = x1 + x2
        qq = x1 - x2
        word = np.uint64(0)
        for i in range(32):
            bm = pp if BM_CLASS[i] == 0 else qq
            if BM_NEG[i]:
                bm = -bm
            a0 = metrics[i] + bm
            b0 = metrics[i + 32] - bm
            a1 = metrics[i] - bm
            b1 = metrics[i + 32] + bm
            nm[2 * i] = b0 if b0 > a0 else a0
            nm[2 * i + 1] = b1 if b1 > a1 else a1
            if b0 > a0:
                word |= np.uint64(1) << np.uint64(2 * i)
            if b1 > a1:
                word |= np.uint64(1) << np.uint64(2 * i + 1)
        t = t0 + k
        dec[t & rmask] = word
        if (t & (RENORM_PERIOD - 1)) == RENORM_PERIOD - 1:
            top = nm[0]
            for i in range(1, 64):
                top = nm[i] if nm[i] > top else top
            for i in range(64):
                nm[i] = nm[i] - top
        for i in range(64):
            metrics[i] = nm[i]


# ------------------------------------------------------------------------------------------------
# Traceback and the decoders


@njit(cache=True, nogil=True)
def best_state(metrics):
    """Index of the largest metric (the lowest index among equals)."""
    b = 0
    v = metrics[0]
    for i in range(1, 64):
        if metrics[i] > v:
            v = metrics[i]
            b = i
    return b


@njit(cache=True, nogil=True)
def _traceback(dec, rmask, s, t_hi, t_mid, t_lo, out, o0):
    """From state ``s`` after step ``t_hi - 1``: skip steps ``t_hi-1 .. t_mid``, then write the
    bits of steps ``t_mid-1 .. t_lo`` to ``out[o0 + t - t_lo]``."""
    st = np.uint64(s)
    one = np.uint64(1)
    five = np.uint64(5)
    for t in range(t_hi - 1, t_mid - 1, -1):
        st = (st >> one) | (((dec[t & rmask] >> st) & one) << five)
    for t in range(t_mid - 1, t_lo - 1, -1):
        out[o0 + t - t_lo] = np.uint8(st & one)
        st = (st >> one) | (((dec[t & rmask] >> st) & one) << five)


@njit(cache=True, nogil=True)
def viterbi_stream(llr, npairs, metrics, ia, s1, s2, dec, state, depth, block, out):
    """Streaming Viterbi decoder: ACS over ``npairs`` LLR pairs, traceback in blocks.

    Once ``T`` steps are done and ``T == E + block + depth`` (``E`` = bits released so far), the
    path is traced back from the best state over ``depth`` steps and the ``block`` bits of steps
    ``E .. E + block - 1`` are released. Releases depend only on absolute step counts, so any
    split of the input gives the same output.

    Parameters
    ----------
    llr : float32[:], C-contiguous
        At least ``2 * npairs`` LLRs (positive = 1), pair order as described in the module.
    npairs : int
        Steps to run.
    metrics : float32[64]
        Path metrics (state order); updated in place.
    ia, s1, s2 :
        Symbol order and inversion (see :func:`acs_steps`).
    dec : uint64[R]
        Decision ring, R a power of two >= depth + block.
    state : int64[2]
        ``[T, E]``: steps done and bits released; updated in place.
    depth, block : int
        Traceback depth and bits released per traceback (both >= 1).
    out : uint8[:]
        Room for every released bit: ``block * ((T + npairs - depth - E) // block)``.

    Returns
    -------
    int
        Number of bits written to ``out``.
    """
    rmask = dec.shape[0] - 1
    tt = state[0]
    e = state[1]
    p = 0
    n_out = 0
    while p < npairs:
        steps = min(npairs - p, e + block + depth - tt)
        acs_steps(metrics, llr, p, steps, ia, s1, s2, dec, tt, rmask)
        p += steps
        tt += steps
        if tt == e + block + depth:
            _traceback(dec, rmask, best_state(metrics), tt, tt - depth, e, out, n_out)
            n_out += block
            e += block
    state[0] = tt
    state[1] = e
    return n_out


@njit(cache=True, nogil=True)
def viterbi_flush(metrics, dec, state, end_state, out):
    """Release every bit still held, tracing back from ``end_state`` (-1: the best state).

    ``out`` needs room for ``T - E`` bits; ``state`` becomes ``[T, T]``. Returns ``T - E``.
    """
    rmask = dec.shape[0] - 1
    tt = state[0]
    e = state[1]
    s = best_state(metrics) if end_state < 0 else end_state
    _traceback(dec, rmask, s, tt, tt, e, out, 0)
    state[1] = tt
    return tt - e


@njit(cache=True, nogil=True)
def viterbi_terminated(llr, nsteps, nout, ia, s1, s2, metrics, dec, out):
    """Decode frames that start and end in state 0 (the last 6 input bits are the zero tail).

    Parameters
    ----------
    llr : float32[nframes, >= 2 * nsteps], C-contiguous
        One frame of LLR pairs per row (depunctured, erasures = 0).
    nsteps : int
        Trellis steps per frame (information bits + 6).
    nout : int
        Bits written per frame (<= nsteps; the first ``nout`` steps).
    metrics : float32[64]
        Work array.
    dec : uint64[>= nsteps]
        Work array for the decisions of one frame.
    out : uint8[nframes, >= nout]
        Decoded bits.

    Returns
    -------
    int
        Number of frames decoded.
    """
    for f in range(llr.shape[0]):
        for i in range(64):
            metrics[i] = NEG_METRIC
        metrics[0] = 0.0
        row = llr[f]
        acs_steps(metrics, row, 0, nsteps, ia, s1, s2, dec, 0, -1)
        _traceback(dec, -1, 0, nsteps, nout, 0, out[f], 0)
    return llr.shape[0]


@njit(cache=True, nogil=True)
def has_nan(x):
    """True when any item of the (C-contiguous, 1-D) float array is NaN."""
    bad = False
    for i in range(x.shape[0]):
        bad |= x[i] != x[i]
    return bad
