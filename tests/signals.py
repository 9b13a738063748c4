"""Small deterministic test signals (importable as orbitlink.tests.signals)."""

import numpy as np

from orbitlink.modem.psk import PskModulator


def psk_bits_and_signal(modulation, nsym, sps=4.0, esn0_db=None, cfo=0.0, rng=None,
                        alpha=0.35, differential=False):
    """Random bits and their pulse-shaped signal (unit power) with optional AWGN and offset.

    ``cfo`` in cycles/sample; ``esn0_db`` None means no noise. Returns (bits, iq complex64).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    mod = PskModulator(modulation=modulation, differential=differential, symbol_rate=1.0,
                       samp_rate=float(sps), alpha=alpha)
    bits = rng.integers(0, 2, nsym * mod.mod.bits_per_symbol).astype(np.uint8)
    x = mod.run(bits).astype(np.complex128)
    x *= np.exp(2j * np.pi * cfo * np.arange(len(x)))
    if esn0_db is not None:
        n0 = sps / 10 ** (esn0_db / 10)
        x += np.sqrt(n0 / 2) * (rng.standard_normal(len(x)) + 1j * rng.standard_normal(len(x)))
    return bits, x.astype(np.complex64)


def psk_signal(modulation, nsym, **kw):
    return psk_bits_and_signal(modulation, nsym, **kw)[1]
