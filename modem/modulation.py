"""PSK constellations: bit mapping, differential encoding, soft demapping.

Conventions (stated once, used everywhere)
------------------------------------------
- Bits are transmitted MSB first; a symbol carries ``bits_per_symbol`` consecutive bits, the
  first bit of the group being the most significant bit of the symbol label.
- LLRs are ``log P(b=1) / P(b=0)``: **positive means 1**.
- BPSK: bit 1 -> +1, bit 0 -> -1 (so the soft symbol and the LLR have the same sign).
- QPSK (and OQPSK): Gray, first bit on I, second on Q: ``((2 b0 - 1) + 1j (2 b1 - 1)) / sqrt(2)``.
- 8PSK: Gray labels around the circle, point ``m`` at angle ``2 pi m / 8``; label(m) = m ^ (m >> 1).
- OQPSK: the QPSK mapping with the Q rail delayed by half a symbol.
- Differential encoding (optional): the phase index advances by the Gray-decoded symbol value,
  ``m_k = (m_{k-1} + d_k) mod M`` with ``m_{-1} = 0``; the receiver demaps ``z_k conj(z_{k-1})``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from orbitlink import OrbitlinkError

MODULATIONS = ("bpsk", "qpsk", "oqpsk", "8psk")


def gray(m: np.ndarray | int):
    return m ^ (m >> 1)


@dataclass(frozen=True)
class Modulation:
    """An M-PSK constellation with its labels.

    Parameters
    ----------
    name : {"bpsk", "qpsk", "oqpsk", "8psk"}
    differential : bool
        Differential encoding of the phase index (removes the phase ambiguity at a ~3 dB cost
        at low SNR for coherent detection of the difference).
    """

    name: str
    differential: bool = False

    def __post_init__(self):
        if self.name not in MODULATIONS:
            raise OrbitlinkError(f"unknown modulation {self.name!r}; known: {', '.join(MODULATIONS)}")

    @property
    def order(self) -> int:
        return {"bpsk": 2, "qpsk": 4, "oqpsk": 4, "8psk": 8}[self.name]

    @property
    def bits_per_symbol(self) -> int:
        return {2: 1, 4: 2, 8: 3}[self.order]

    @property
    def offset(self) -> bool:
        """True for OQPSK (Q rail delayed by half a symbol)."""
        return self.name == "oqpsk"

    @cached_property
    def phase0(self) -> float:
        """Angle of phase index 0 (QPSK points sit at 45 degrees)."""
        return np.pi / 4 if self.order == 4 else (np.pi if self.order == 2 else 0.0)

    @cached_property
    def labels(self) -> np.ndarray:
        """labels[m]: bit label (int, MSB = first bit) of the point with phase index m."""
        M = self.order
        if M == 2:
            return np.array([0, 1])  # index 0 at angle pi (-1) carries bit 0
        if M == 4:
            # index m at angle pi/4 + m pi/2: (+,+)=11, (-,+)=01, (-,-)=00, (+,-)=10
            return np.array([3, 1, 0, 2])
        return gray(np.arange(M))

    @cached_property
    def index_of_label(self) -> np.ndarray:
        inv = np.empty(self.order, np.int64)
        inv[self.labels] = np.arange(self.order)
        return inv

    @cached_property
    def points_by_index(self) -> np.ndarray:
        M = self.order
        return np.exp(1j * (self.phase0 + 2 * np.pi * np.arange(M) / M)).astype(np.complex64)

    @cached_property
    def points(self) -> np.ndarray:
        """points[label]: unit-energy constellation point of each label."""
        return self.points_by_index[self.index_of_label]

    # -----------------------------------------------------------------------------------------
    def bits_to_labels(self, bits: np.ndarray) -> np.ndarray:
        """Group unpacked bits (length a multiple of bits_per_symbol) into symbol labels."""
        k = self.bits_per_symbol
        b = np.asarray(bits, np.int64).reshape(-1, k)
        return (b << np.arange(k - 1, -1, -1)).sum(axis=1)

    def labels_to_bits(self, labels: np.ndarray) -> np.ndarray:
        k = self.bits_per_symbol
        lab = np.asarray(labels, np.int64)
        return ((lab[:, None] >> np.arange(k - 1, -1, -1)) & 1).astype(np.uint8).ravel()

    def map_indices(self, labels: np.ndarray, prev_index: int = 0) -> tuple[np.ndarray, int]:
        """Phase indices for labels (differentially accumulated when enabled).

        Returns (indices, last index) so that a stream can be mapped in pieces.
        """
        d = self.index_of_label[np.asarray(labels, np.int64)]
        if not self.differential or len(d) == 0:
            return d, (int(d[-1]) if len(d) else prev_index)
        m = (np.cumsum(d) + prev_index) % self.order
        return m, int(m[-1])

    def modulate_bits(self, bits: np.ndarray) -> np.ndarray:
        """Unit-energy complex symbols for unpacked bits (no offset, no pulse shaping)."""
        idx, _ = self.map_indices(self.bits_to_labels(bits))
        return self.points_by_index[idx]

    # -----------------------------------------------------------------------------------------
    def demap(self, z: np.ndarray, amp: float, noise_var: float) -> np.ndarray:
        """Max-log LLRs (positive = 1) for coherent symbols ``z ~ amp * point + noise``.

        Parameters
        ----------
        z : complex array, shape (n,)
            Derotated symbols (for differential modulation: ``z_k conj(z_{k-1})``, see
            :meth:`diff_symbols`).
        amp : float
            Signal amplitude of ``z`` (sqrt of Es).
        noise_var : float
            Total complex noise variance of ``z`` (N0).

        Returns
        -------
        float32 array, shape (n * bits_per_symbol,), in transmission order.
        """
        z = np.asarray(z, np.complex128)
        nv = max(float(noise_var), 1e-12)
        M, k = self.order, self.bits_per_symbol
        if self.differential:
            pts = amp * np.exp(1j * 2 * np.pi * np.arange(M) / M)  # phase differences
        else:
            pts = amp * self.points_by_index
        if M == 2 and not self.differential:
            return (4 * amp * z.real / nv).astype(np.float32)
        if M == 4 and not self.differential:
            c = 2 * np.sqrt(2) * amp / nv
            out = np.empty(2 * len(z), np.float32)
            out[0::2] = c * z.real
            out[1::2] = c * z.imag
            return out
        d2 = np.abs(z[:, None] - pts[None, :]) ** 2  # (n, M) by phase index
        lab = self.labels
        out = np.empty((len(z), k), np.float32)
        for j in range(k):
            bit = (lab >> (k - 1 - j)) & 1
            out[:, j] = (d2[:, bit == 0].min(axis=1) - d2[:, bit == 1].min(axis=1)) / nv
        return out.ravel()

    @staticmethod
    def diff_symbols(z: np.ndarray, prev: complex) -> np.ndarray:
        """``z_k conj(z_{k-1})`` normalised by ``|z_{k-1}|`` (amplitude stays that of z)."""
        z = np.asarray(z, np.complex128)
        zp = np.concatenate([[prev], z[:-1]])
        return z * np.conj(zp) / np.maximum(np.abs(zp), 1e-12)


def m2m4(z: np.ndarray) -> tuple[float, float]:
    """Blind (M2M4) estimate of signal power S and noise power N for constant-modulus symbols.

    Returns ``(S, N)``; ``S/N`` is the Es/N0 estimate. Valid for any M-PSK; biased for
    very short blocks or Es/N0 below about -5 dB.
    """
    z = np.asarray(z)
    if len(z) == 0:
        return 0.0, 1.0
    p = np.abs(z.astype(np.complex128)) ** 2
    m2 = float(p.mean())
    m4 = float((p * p).mean())
    s = np.sqrt(max(2 * m2 * m2 - m4, 0.0))
    n = max(m2 - s, 1e-6 * m2 + 1e-30)
    return s, n


# --------------------------------------------------------------------------------------------
# The modulation registry: every modulation a link can name, declared once beside its blocks
# (PSK here, the FSK family in orbitlink.modem.fsk).


@dataclass(frozen=True)
class ModulationType:
    """A modulation a link file can name.

    Attributes
    ----------
    name : str
        The link's ``modulation`` key.
    family : {"psk", "fsk"}
        Which receive and transmit chains serve it (PSK: ``PskModulator`` /
        ``PskDemodulator``; FSK family: the modulators and demodulators of
        :mod:`orbitlink.modem.fsk`).
    bits_per_symbol : int
        Channel bits a symbol carries.
    line_power : int
        M of the spectral line of x^M that shows the carrier (blind Doppler search); 1 when
        the signal itself is searched.
    doc : str
    """

    name: str
    family: str
    bits_per_symbol: int
    line_power: int
    doc: str = ""


#: name -> :class:`ModulationType`
MODULATION_TYPES: dict[str, ModulationType] = {}


def register_modulation(m: ModulationType) -> ModulationType:
    if m.family not in ("psk", "fsk"):
        raise ValueError(f"modulation {m.name!r}: unknown family {m.family!r}")
    if m.name in MODULATION_TYPES and MODULATION_TYPES[m.name] != m:
        raise ValueError(f"modulation {m.name!r} registered twice")
    MODULATION_TYPES[m.name] = m
    return m


for _m in (ModulationType("bpsk", "psk", 1, 2, "binary PSK (bit 1 -> +1)"),
           ModulationType("qpsk", "psk", 2, 4, "Gray-coded QPSK, first bit on I"),
           ModulationType("oqpsk", "psk", 2, 4, "offset QPSK (Q delayed by half a symbol)"),
           ModulationType("8psk", "psk", 3, 1, "Gray-labelled 8PSK")):
    register_modulation(_m)
