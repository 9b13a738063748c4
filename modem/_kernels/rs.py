"""Reed-Solomon kernels over GF(2^8): table-driven encoder and errors-and-erasures decoder.

Pure ``@njit(cache=True)`` functions; every table is built by :mod:`orbitlink.modem.fec.rs` and
passed in explicitly. They work on a 2-D batch of codeblocks (one codeblock per row) and
handle symbol interleaving themselves: symbol ``i`` of codeword ``j`` of a row is byte
``j + i * interleave`` of that row, so no transposed copies are made.

Positions
---------
Position ``p`` (0..254) counts the symbols of the *full-length* codeword from the first one
sent; with ``fill`` bytes of virtual fill, sent symbol ``i`` is position ``fill + i``. The
symbol at position ``p`` is the coefficient of ``x^(254 - p)`` and has the error locator
``X_p = gamma^(254 - p)``, where ``gamma = alpha^prim`` (``alpha`` = 2, the root of the field
polynomial). The syndromes are ``S_i = r(gamma^(fcr + i))``, ``i = 0 .. nroots - 1``.

Linear tables
-------------
Every map the hot loops need is GF(2)-linear in a symbol's 8 bits, so it is a table indexed by
the symbol's low and high nibble whose two rows are XORed (``T(v) = T(v & 15) ^ T(v & 0xF0)``),
stored as little-endian uint64 words (byte ``b`` of a vector is ``(word[b // 8] >> 8*(b % 8))
& 0xFF``). Rows ``32*q + v`` hold the low nibble ``v``, rows ``32*q + 16 + v`` the high one:

- ``enc_tab`` (``32 * k`` rows, ``nroots/8`` words): data symbol at position ``q`` -> its
  contribution to the parity bytes (transmission order);
- ``syn_tab`` (``32 * 255`` rows, ``nroots/8`` words): symbol at position ``p`` -> its
  contribution to ``S_0 .. S_(nroots-1)``;
- ``chien_tab`` (``32 * (nroots + 1)`` rows, 32 words): coefficient ``lambda_j`` of the error
  locator -> ``lambda_j * X_p^(-j)`` for every position ``p`` (byte ``p`` of 256; byte 255 is
  padding and always 0).

The CCSDS dual basis is folded into ``enc_tab`` and ``syn_tab`` (they take symbols as sent);
the decoder works in the conventional basis internally and maps each error value back with
``to_sym`` (Berlekamp's ``Taltab``, or the identity).

GF(256) arithmetic uses ``gflog`` (int64[256], ``gflog[0] = 510``) and ``gfexp`` (int64[1024],
``gfexp[i] = alpha^(i mod 255)`` for ``i < 510`` and 0 above), so ``a * b = gfexp[gflog[a] +
gflog[b]]`` needs no test for zero.
"""

from __future__ import annotations

import numpy as np
from numba import njit

LOG0 = 510  # gflog[0]: any sum with it lands in the zero tail of gfexp

_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)
_FF = np.uint64(0xFF)


@njit(cache=True)
def rs_encode(data, out, interleave, fill, enc_tab):
    """Systematic encoding of a batch of codeblocks.

    Parameters
    ----------
    data : uint8[m, kd]
        Data of ``m`` codeblocks, ``kd = (k - fill) * interleave`` bytes each, interleaved
        (byte ``j + i*interleave`` is data symbol ``i`` of codeword ``j``).
    out : uint8[m, kd + nroots*interleave]
        Receives the data followed by the interleaved parity.
    interleave, fill : int
        Interleaving depth and virtual fill (zeros in front of each codeword, not sent).
    enc_tab : uint64[32*k, nroots/8]
        Parity contribution of each data position (see module docstring).

    Returns
    -------
    int
        ``m``, the number of codeblocks encoded.
    """
    m = data.shape[0]
    kd = data.shape[1]
    ksent = kd // interleave
    nw = enc_tab.shape[1]
    for r in range(m):
        for i in range(kd):
            out[r, i] = data[r, i]
        for j in range(interleave):
            a0 = np.uint64(0)
            a1 = np.uint64(0)
            a2 = np.uint64(0)
            a3 = np.uint64(0)
            base = 32 * fill
            pos = j
            if nw == 4:
                for _i in range(ksent):
                    b = data[r, pos]
                    lo = base + (b & 15)
                    hi = base + 16 + (b >> 4)
                    a0 ^= enc_tab[lo, 0] ^ enc_tab[hi, 0]
                    a1 ^= enc_tab[lo, 1] ^ enc_tab[hi, 1]
                    a2 ^= enc_tab[lo, 2] ^ enc_tab[hi, 2]
                    a3 ^= enc_tab[lo, 3] ^ enc_tab[hi, 3]
                    base += 32
                    pos += interleave
            else:
                for _i in range(ksent):
                    b = data[r, pos]
                    lo = base + (b & 15)
                    hi = base + 16 + (b >> 4)
                    a0 ^= enc_tab[lo, 0] ^ enc_tab[hi, 0]
                    a1 ^= enc_tab[lo, 1] ^ enc_tab[hi, 1]
                    base += 32
                    pos += interleave
            o = kd + j
            for w in range(nw):
                v = a0 if w == 0 else (a1 if w == 1 else (a2 if w == 2 else a3))
                for bb in range(8):
                    out[r, o] = np.uint8((v >> np.uint64(8 * bb)) & _FF)
                    o += interleave
    return m


#: workspace sizes (see :func:`rs_decode`)
WS_INT = 1024
WS_U64 = 96


@njit(cache=True)
def _byte(vec, p):
    """Byte ``p`` of a little-endian uint64 vector."""
    return np.int64((vec[p >> 3] >> np.uint64(8 * (p & 7))) & _FF)


@njit(cache=True)
def _decode_word(blocks, r, j, interleave, fill, nroots, forney_exp, prim, syn, rho, erpos,
                 syn_tab, chien_tab, gfexp, gflog, to_sym, ws, veven, vodd, vom):
    """Decode one codeword whose syndromes ``syn`` (poly form) are not all zero.

    Corrects the codeword in place and returns the number of symbols changed, or -1 if it is
    uncorrectable (then nothing is changed). ``erpos[:rho]``: erased full-length positions.
    ``ws`` (int64), ``veven``, ``vodd``, ``vom`` (uint64[32]): scratch.
    """
    n1 = nroots + 1
    lsyn = ws[0:nroots]
    lam = ws[n1:2 * n1]
    bb = ws[2 * n1:3 * n1]
    tt = ws[3 * n1:4 * n1]
    omega = ws[4 * n1:5 * n1]
    rpos = ws[5 * n1:6 * n1]
    rval = ws[6 * n1:7 * n1]
    erflag = ws[7 * n1:7 * n1 + 256]
    for i in range(nroots):
        lsyn[i] = gflog[syn[i]]

    # erasure locator prod(1 + X_p x), X_p = gamma^(254 - p)
    for i in range(n1):
        lam[i] = 0
    lam[0] = 1
    for e in range(rho):
        ly = (prim * (254 - erpos[e])) % 255
        for i in range(e + 1, 0, -1):
            lam[i] ^= gfexp[gflog[lam[i - 1]] + ly]

    # Berlekamp-Massey from step rho + 1 (as libfec decode_rs). B(x) = x^sh * bb(x);
    # dl, db bound the degrees of lambda and bb; everything is truncated at degree nroots.
    for i in range(rho + 1):
        bb[i] = lam[i]
    dl = rho
    db = rho
    sh = 0
    el = rho
    for step in range(rho + 1, nroots + 1):
        d = 0
        for i in range(min(dl, step - 1) + 1):
            d ^= gfexp[gflog[lam[i]] + lsyn[step - 1 - i]]
        if d == 0:
            sh += 1
            continue
        ld = gflog[d]
        off = sh + 1
        top = min(db, nroots - off)
        grow = 2 * el <= step + rho - 1
        if grow:
            for i in range(dl + 1):
                tt[i] = lam[i]
        for i in range(top + 1):
            lam[i + off] ^= gfexp[gflog[bb[i]] + ld]
        newdl = max(dl, top + off) if top >= 0 else dl
        if grow:
            el = step + rho - el
            inv = 255 - ld
            for i in range(dl + 1):
                bb[i] = gfexp[gflog[tt[i]] + inv]
            db = dl
            sh = 0
        else:
            sh += 1
        dl = newdl

    deg = 0
    for i in range(dl + 1):
        if lam[i] != 0:
            deg = i
    if deg == 0:
        return -1

    # Chien search over all 255 positions at once: byte p of veven ^ vodd is lambda(X_p^-1)
    for w in range(32):
        veven[w] = _ONES  # lambda_0 = 1
        vodd[w] = 0
    for jd in range(1, deg + 1):
        c = lam[jd]
        if c != 0:
            lo = 32 * jd + (c & 15)
            hi = 32 * jd + 16 + (c >> 4)
            if jd & 1:
                for w in range(32):
                    vodd[w] ^= chien_tab[lo, w] ^ chien_tab[hi, w]
            else:
                for w in range(32):
                    veven[w] ^= chien_tab[lo, w] ^ chien_tab[hi, w]
    count = 0
    for w in range(32):
        v = veven[w] ^ vodd[w]
        if ((v - _ONES) & ~v & _HIGHS) == 0:
            continue  # no zero byte in this word
        for b8 in range(8):
            if ((v >> np.uint64(8 * b8)) & _FF) == 0:
                p = 8 * w + b8
                if p > 254:
                    continue
                if p < fill or count >= deg:
                    return -1  # root in the virtual fill, or more roots than the degree
                rpos[count] = p
                count += 1
    if count != deg:
        return -1

    # error evaluator omega = S * lambda mod x^deg, evaluated at every X_p^-1 (vom)
    for i in range(deg):
        acc = 0
        for k in range(i + 1):
            acc ^= gfexp[lsyn[i - k] + gflog[lam[k]]]
        omega[i] = acc
    w0 = np.uint64(omega[0]) * _ONES
    for w in range(32):
        vom[w] = w0
    for jd in range(1, deg):
        c = omega[jd]
        if c != 0:
            lo = 32 * jd + (c & 15)
            hi = 32 * jd + 16 + (c >> 4)
            for w in range(32):
                vom[w] ^= chien_tab[lo, w] ^ chien_tab[hi, w]

    # Forney: e_p = X_p^(1-fcr) omega(X_p^-1) / lambda'(X_p^-1), lambda'(X^-1) = X vodd(X^-1)
    for e in range(rho):
        erflag[erpos[e]] = 1
    nchanged = 0
    nerr = 0
    ok = True
    for q in range(count):
        p = rpos[q]
        num = _byte(vom, p)
        if num == 0:
            rval[q] = 0
            continue
        den = _byte(vodd, p)
        if den == 0:
            ok = False
            break
        lx = (prim * (254 - p)) % 255
        le = (forney_exp * lx + gflog[num] + 255 - gflog[den]) % 255
        rval[q] = to_sym[gfexp[le]]
        nchanged += 1
        if erflag[p] == 0:
            nerr += 1
    for e in range(rho):
        erflag[erpos[e]] = 0
    if not ok or 2 * nerr + rho > nroots:
        return -1  # beyond the bounded-distance capability: 2 errors + erasures <= nroots

    # the correction must reproduce the received syndromes exactly
    nw = syn_tab.shape[1]
    for w in range(nw):
        a = np.uint64(0)
        for q in range(count):
            c = rval[q]
            if c != 0:
                base = 32 * rpos[q]
                a ^= syn_tab[base + (c & 15), w] ^ syn_tab[base + 16 + (c >> 4), w]
        s = np.uint64(0)
        for bq in range(8):
            s |= np.uint64(syn[8 * w + bq]) << np.uint64(8 * bq)
        if a != s:
            return -1

    for q in range(count):
        c = rval[q]
        if c != 0:
            idx = j + (rpos[q] - fill) * interleave
            blocks[r, idx] = np.uint8(blocks[r, idx] ^ c)
    return nchanged


@njit(cache=True)
def rs_decode(blocks, eras, interleave, fill, nroots, forney_exp, prim, syn_tab, chien_tab,
              gf, ws_int, ws_u64, corrected):
    """Errors-and-erasures decoding of a batch of codeblocks, corrected in place.

    Parameters
    ----------
    blocks : uint8[m, L]
        ``m`` received codeblocks of ``L = (255 - fill) * interleave`` bytes; corrected in
        place (a codeword that cannot be corrected is left as received).
    eras : uint8[m, L] or uint8[0, 0]
        Nonzero marks an erased byte; a 0x0 array means no erasures.
    interleave, fill, nroots : int
        Interleaving depth, virtual fill per codeword, number of parity symbols (2E).
    forney_exp : int
        ``(-fcr) mod 255``.
    prim : int
        Power of alpha that generates the code's roots (11 for CCSDS).
    syn_tab, chien_tab : uint64[:, :]
        Tables (see module docstring).
    gf : int64[3, 1024]
        ``gfexp``, ``gflog`` (first 256) and ``to_sym`` (first 256).
    ws_int : int64[WS_INT], ws_u64 : uint64[WS_U64]
        Scratch.
    corrected : int32[m, interleave]
        Receives, per codeword, the number of symbols changed, or -1 if uncorrectable.

    Returns
    -------
    int
        Number of uncorrectable codewords.
    """
    m = blocks.shape[0]
    nsent = blocks.shape[1] // interleave
    nw = syn_tab.shape[1]
    use_eras = eras.shape[0] == m and eras.shape[1] == blocks.shape[1] and m > 0
    gfexp = gf[0]
    gflog = gf[1]
    to_sym = gf[2]
    syn = ws_int[WS_INT - 2 * (nroots + 1):WS_INT - (nroots + 1)]
    erpos = ws_int[WS_INT - (nroots + 1):WS_INT]
    veven = ws_u64[0:32]
    vodd = ws_u64[32:64]
    vom = ws_u64[64:96]
    nfail = 0
    for r in range(m):
        for j in range(interleave):
            s0 = np.uint64(0)
            s1 = np.uint64(0)
            s2 = np.uint64(0)
            s3 = np.uint64(0)
            base = 32 * fill
            pos = j
            if nw == 4:
                for _i in range(nsent):
                    b = blocks[r, pos]
                    lo = base + (b & 15)
                    hi = base + 16 + (b >> 4)
                    s0 ^= syn_tab[lo, 0] ^ syn_tab[hi, 0]
                    s1 ^= syn_tab[lo, 1] ^ syn_tab[hi, 1]
                    s2 ^= syn_tab[lo, 2] ^ syn_tab[hi, 2]
                    s3 ^= syn_tab[lo, 3] ^ syn_tab[hi, 3]
                    base += 32
                    pos += interleave
            else:
                for _i in range(nsent):
                    b = blocks[r, pos]
                    lo = base + (b & 15)
                    hi = base + 16 + (b >> 4)
                    s0 ^= syn_tab[lo, 0] ^ syn_tab[hi, 0]
                    s1 ^= syn_tab[lo, 1] ^ syn_tab[hi, 1]
                    base += 32
                    pos += interleave
            rho = 0
            if use_eras:
                pos = j
                for i in range(nsent):
                    if eras[r, pos] != 0:
                        if rho <= nroots:
                            erpos[rho] = fill + i
                        rho += 1
                    pos += interleave
            if rho > nroots:
                corrected[r, j] = -1  # more erasures than parity symbols
                nfail += 1
                continue
            if (s0 | s1 | s2 | s3) == np.uint64(0):
                corrected[r, j] = 0
                continue
            for w in range(nw):
                v = s0 if w == 0 else (s1 if w == 1 else (s2 if w == 2 else s3))
                for b8 in range(8):
                    syn[8 * w + b8] = np.int64((v >> np.uint64(8 * b8)) & _FF)
            c = _decode_word(blocks, r, j, interleave, fill, nroots, forney_exp, prim, syn, rho,
                             erpos, syn_tab, chien_tab, gfexp, gflog, to_sym, ws_int, veven,
                             vodd, vom)
            corrected[r, j] = c
            if c < 0:
                nfail += 1
    return nfail
