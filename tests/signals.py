"""Small deterministic test signals (importable as orbitlink.tests.signals).

The generators live in :mod:`orbitlink.modem.signals` (the blocks' ``example()`` inputs use
them, and the modem layer never imports ``orbitlink.tests``); this module re-exports them.
"""

from orbitlink.modem.signals import psk_bits_and_signal, psk_signal

__all__ = ["psk_bits_and_signal", "psk_signal"]
