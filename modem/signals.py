"""Small deterministic PSK test signals.

The blocks' ``example()`` inputs (the chunk-contract test runs them) and the tests share these
generators; they live in the modem layer so that no package imports ``orbitlink.tests``
(``orbitlink.tests.signals`` re-exports them).
"""

from __future__ import annotations

import numpy as np

from orbitlink.modem.psk import PskModulator

__all__ = ["psk_bits_and_signal", "psk_signal"]


def psk_bits_and_signal(modulation: str, nsym: int, sps: float = 4.0,
                        esn0_db: float | None = None, cfo: float = 0.0,
                        rng: np.random.Generator | None = None, alpha: float = 0.35,
                        differential: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Random bits and their pulse-shaped PSK signal, with optional AWGN and carrier offset.

    Parameters
    ----------
    modulation : str
        ``bpsk``, ``qpsk``, ``oqpsk`` or ``8psk`` (see :mod:`orbitlink.modem.modulation`).
    nsym : int
        Number of symbols.
    sps : float
        Samples per symbol (the modulator runs at symbol rate 1, sample rate ``sps``).
    esn0_db : float or None
        Es/N0 of the added complex white Gaussian noise, dB; None adds no noise.
    cfo : float
        Carrier offset, cycles/sample.
    rng : numpy.random.Generator, optional
        Source of the bits and the noise (``default_rng(0)`` when omitted).
    alpha : float
        RRC roll-off.
    differential : bool
        Differential encoding of the phase index.

    Returns
    -------
    (bits, iq) : u8 array of ``nsym * bits_per_symbol`` bits (0/1, MSB first per symbol) and
    the c64 signal (unit average power before the noise; the transmitter's whole output,
    pulse tails included).
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


def psk_signal(modulation: str, nsym: int, **kw) -> np.ndarray:
    """The c64 signal of :func:`psk_bits_and_signal` (same arguments), without the bits."""
    return psk_bits_and_signal(modulation, nsym, **kw)[1]
