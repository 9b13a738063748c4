"""Stand-alone copy of the PSK test signal and the SER check of the peer benchmarks.

Used by ``bench_psk_rx.py`` only when the peer benchmark directory (``../shared/peers``, with
``signals.py`` and ``common.py``) is not there. The code is a faithful copy of
``shared/peers/signals.py`` (``rrc_taps``, ``psk_file``, ``align``, ``psk_ser``) and of
``shared/peers/common.py`` (``ref_rate``): same seeds, same operations in the same order, so
with the same numpy/scipy it writes a byte-identical file (checked: numpy 2.4 / scipy 1.17 in
the venv and numpy 1.24 / scipy 1.10 of Debian give the same bytes as the peers' copy).

Signal: RRC (alpha 0.35, 11-symbol pulse) BPSK or QPSK at 4 samples/symbol, 0.37-sample
fractional timing offset, AWGN at Es/N0 10 dB, carrier offset 0.002 cycles/sample, constant
phase 0.7 rad, amplitude 0.5; complex64 (cf32) on tmpfs. Transmitted symbol indices go to a
``_sym.npy`` beside it (BPSK: d in {0,1} -> 1-2d; QPSK: d in {0..3} -> exp(j(pi/4 + pi/2 d))).
"""

from __future__ import annotations

import os
import time

import numpy as np

DATA_DIR = os.environ.get("ORBITLINK_BENCH_DATA", os.environ.get("PEERBENCH_DATA",
                                                                   "/dev/shm/peerbench"))


def data_path(name: str) -> str:
    os.makedirs(DATA_DIR, exist_ok=True)
    return os.path.join(DATA_DIR, name)


def rrc_taps(sps, alpha, span_sym=11, frac_delay=0.0):
    n = span_sym * sps + 1
    t = (np.arange(n) - (n - 1) / 2 - frac_delay) / sps  # in symbols
    h = np.empty(n)
    for i, ti in enumerate(t):
        if abs(ti) < 1e-9:
            h[i] = 1 - alpha + 4 * alpha / np.pi
        elif abs(abs(ti) - 1 / (4 * alpha)) < 1e-9:
            h[i] = alpha / np.sqrt(2) * ((1 + 2 / np.pi) * np.sin(np.pi / (4 * alpha))
                                         + (1 - 2 / np.pi) * np.cos(np.pi / (4 * alpha)))
        else:
            h[i] = (np.sin(np.pi * ti * (1 - alpha)) + 4 * alpha * ti * np.cos(np.pi * ti * (1 + alpha))) / (
                np.pi * ti * (1 - (4 * alpha * ti) ** 2))
    return h / np.sqrt(np.sum(h ** 2))


def _psk_symbols(order, nsym, rng):
    if order == 2:
        d = rng.integers(0, 2, nsym, dtype=np.int8)
        return d, (1.0 - 2.0 * d).astype(np.complex128)
    if order == 4:
        d = rng.integers(0, 4, nsym, dtype=np.int8)
        return d, np.exp(1j * (np.pi / 4 + np.pi / 2 * d))
    raise ValueError(order)


def _add_channel(x, esn0_db, fo, rng, amp=0.5, phase0=0.7, es=1.0):
    n0 = es / 10 ** (esn0_db / 10)
    out = np.empty(len(x), dtype=np.complex64)
    chunk = 1 << 22
    for s in range(0, len(x), chunk):
        e = min(len(x), s + chunk)
        m = e - s
        noise = np.sqrt(n0 / 2) * (rng.standard_normal(m) + 1j * rng.standard_normal(m))
        t = np.arange(s, e, dtype=np.float64)
        rot = np.exp(1j * (2 * np.pi * fo * t + phase0))
        out[s:e] = (amp * (x[s:e] + noise) * rot).astype(np.complex64)
    return out


def psk_file(order=2, nsamp=20_000_000, sps=4, alpha=0.35, esn0_db=10.0, fo=0.002, seed=None):
    """Same file name, seed and contents as ``shared/peers/signals.psk_file``."""
    tag = f"psk{order}_n{nsamp}_sps{sps}_a{alpha}_es{esn0_db}_fo{fo}"
    p, ps = data_path(tag + ".cf32"), data_path(tag + "_sym.npy")
    if os.path.exists(p) and os.path.exists(ps):
        return p, ps
    from scipy.signal import upfirdn
    rng = np.random.default_rng(1000 + order if seed is None else seed)
    taps = rrc_taps(sps, alpha, 11, frac_delay=0.37)
    nsym = nsamp // sps + 12
    d, sym = _psk_symbols(order, nsym, rng)
    x = upfirdn(taps, sym, up=sps)[:nsamp]
    y = _add_channel(x, esn0_db, fo, rng)
    y.tofile(p + ".tmp")
    os.replace(p + ".tmp", p)
    np.save(ps, d)
    return p, ps


def align(rx, tx, approx=0, search=3000, L=4096):
    mid = len(rx) // 2
    lo = max(0, mid + approx - search)
    hi = min(len(tx), mid + approx + search + L)
    w = rx[mid:mid + L]
    seg = tx[lo:hi]
    c = np.correlate(seg, w, mode="valid")
    n = int(np.argmax(np.abs(c)))
    return lo + n - mid, c[n]


def psk_ser(rx, tx_syms, order, block=10000):
    """Median per-block SER over the second half (phase ambiguity resolved per block)."""
    if order == 2:
        h = np.sign(np.real(rx)).astype(np.complex128)
        t = (1.0 - 2.0 * tx_syms).astype(np.complex128)
        transforms = [1, -1]
    else:
        h = (np.sign(rx.real) + 1j * np.sign(rx.imag)).astype(np.complex128)
        t = np.exp(1j * (np.pi / 4 + np.pi / 2 * tx_syms.astype(np.float64))) * np.sqrt(2)
        t = np.sign(np.round(t.real, 6)) + 1j * np.sign(np.round(t.imag, 6))
        transforms = [1, 1j, -1, -1j]
    best = None
    for conj in ((False, True) if order == 4 else (False,)):
        z = np.conj(h) if conj else h
        o, c = align(z, t)
        if best is None or abs(c) > abs(best[1]):
            best = (o, c, conj)
    o, _, conj = best
    z = np.conj(h) if conj else h
    half = len(z) // 2
    a = z[half:]
    b = t[half + o: half + o + len(a)]
    m = min(len(a), len(b))
    a, b = a[:m], b[:m]
    sers = []
    for s in range(0, m - block + 1, block):
        sers.append(min(float(np.mean(a[s:s + block] * r != b[s:s + block])) for r in transforms))
    sers = np.array(sers)
    return {"ser_median_block": float(np.median(sers)), "slipped_block_frac": float(np.mean(sers > 0.05)),
            "offset": int(o), "blocks": int(len(sers))}


_REF = {}


def ref_rate(n=1 << 20, ntaps=64, repeats=3):
    """Copy of ``common.ref_rate``: 64-tap scipy lfilter on 2^20 complex64, best of 3, samples/s."""
    from scipy import signal
    if "x" not in _REF:
        rng = np.random.default_rng(1)
        _REF["x"] = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
        _REF["b"] = signal.firwin(ntaps, 0.2).astype(np.float32)
        _REF["a"] = np.ones(1, np.float32)
        assert signal.lfilter(_REF["b"], _REF["a"], _REF["x"][:4096]).dtype == np.complex64
    x, b, a = _REF["x"], _REF["b"], _REF["a"]
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        signal.lfilter(b, a, x)
        best = max(best, n / (time.perf_counter() - t0))
    return best
