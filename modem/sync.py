"""Frame synchronisation searches: the public face of the sync kernels for the framing layer.

Three searches, each returning the first position in ``[start, stop)`` that qualifies, so a
deframer can search a sliding buffer chunk by chunk and get the same frames for any split:

* :func:`asm_search`: a sync word (attached sync marker) in hard bits, either polarity,
  with a bit-error threshold;
* :func:`symbol_sync_search`: a sync word in complex PSK symbols, by normalised correlation
  and a count of wrong sync bits after removing the carrier's phase ambiguity;
* :func:`distributed_sync_search`: a sync vector spread over a frame at a fixed step, in soft
  bits (AO-40 FEC).

The numba kernels (:mod:`orbitlink.modem._kernels`) load on the first call, not on import.
All positions are indices into the arrays given (the caller adds its buffer's base).
"""

from __future__ import annotations

import numpy as np

__all__ = ["asm_search", "symbol_sync_search", "distributed_sync_search"]


def asm_search(bits: np.ndarray, start: int, stop: int, pattern: int, nbits: int,
               max_errors: int, result: np.ndarray) -> int:
    """First position ``p`` in ``[start, stop)`` where ``bits[p:p + nbits]`` equals
    ``pattern`` or its complement with at most ``max_errors`` bit errors.

    Parameters
    ----------
    bits : ndarray of uint8, shape (n,)
        Hard bits (0/1); ``stop - 1 + nbits <= n``.
    start, stop : int
        Search range of the first bit of the word.
    pattern : int
        The sync word, MSB first (the first bit sent is bit ``nbits - 1``).
    nbits : int
        Length of the word, 1 to 64 bits.
    max_errors : int
        Largest number of differing bits accepted.
    result : ndarray of int64, shape (>= 3,)
        Receives ``[p, inverted (0 or 1), errors]`` when found.

    Returns
    -------
    int
        1 if found, else 0.
    """
    from orbitlink.modem._kernels.sync import asm_search as _k

    return _k(bits, start, stop, pattern, nbits, max_errors, result)


def symbol_sync_search(z: np.ndarray, start: int, stop: int, ref: np.ndarray, n_corr: int,
                       sync_lab: np.ndarray, sync_mask: np.ndarray, order: int, phase0: float,
                       labels: np.ndarray, max_errors: int, min_corr: float,
                       result: np.ndarray) -> int:
    """First position ``p`` in ``[start, stop)`` where a PSK sync word starts.

    A position qualifies when the normalised correlation of ``z[p:p + n_corr]`` with ``ref``
    is at least ``min_corr`` and, after removing the rotation (a multiple of ``2 pi / order``)
    that the correlation's phase indicates, at most ``max_errors`` sync bits are wrong.

    Parameters
    ----------
    z : ndarray of complex128, shape (n,)
        Symbols (derotated matched-filter outputs); ``stop - 1 + len(sync_lab) <= n``.
    start, stop : int
        Search range of the first sync symbol.
    ref : ndarray of complex128
        Reference symbols of the first ``n_corr`` sync symbols.
    n_corr : int
        Symbols correlated.
    sync_lab, sync_mask : ndarray of int64, shape (L,)
        Per sync symbol, its label and the mask of the label bits that belong to the word.
    order : int
        Constellation order M (2, 4, 8).
    phase0 : float
        Phase of label index 0, rad.
    labels : ndarray of int64, shape (order,)
        Label of each constellation point (by phase index).
    max_errors : int
        Largest number of wrong sync bits accepted.
    min_corr : float
        Smallest normalised correlation accepted, 0 to 1.
    result : ndarray of float64, shape (>= 4,)
        Receives ``[p, rotation (multiples of 2 pi / order), errors, correlation]``.

    Returns
    -------
    int
        1 if found, else 0.
    """
    from orbitlink.modem._kernels.psk import sync_search as _k

    return _k(z, start, stop, ref, n_corr, sync_lab, sync_mask, order, phase0, labels,
              max_errors, min_corr, result)


def symbol_sync_search_all(z: np.ndarray, start: int, stop: int, step: int, ref: np.ndarray,
                           n_corr: int, sync_lab: np.ndarray, sync_mask: np.ndarray,
                           order: int, phase0: float, labels: np.ndarray, max_errors: int,
                           min_corr: float) -> tuple[np.ndarray, int]:
    """Every frame of a stream of PSK symbols, one after the other: the first sync word in
    ``[start, stop)`` (as :func:`symbol_sync_search`), then the first at or after its position
    plus ``step`` (the frame's length in symbols), and so on, in one compiled loop.

    Returns ``(found, next)``: ``found`` float64 of shape (n, 4), a row ``[p, rotation,
    errors, correlation]`` per frame; ``next`` the position where a further search starts
    (the last frame's position plus ``step``, or ``stop`` when no further sync word is
    there)."""
    from orbitlink.modem._kernels.psk import sync_search_all as _k

    cap = max(0, (stop - start - 1) // max(1, step) + 1)
    found = np.empty((cap, 4))
    state = np.zeros(1, np.int64)
    n = _k(z, start, stop, step, ref, n_corr, sync_lab, sync_mask, order, phase0, labels,
           max_errors, min_corr, found, state)
    return found[:n], int(state[0])


def distributed_sync_search(llr: np.ndarray, start: int, stop: int, sync: np.ndarray,
                            step: int, max_errors: int, result: np.ndarray) -> int:
    """First position ``p`` in ``[start, stop)`` where the soft bits ``llr[p + j * step]``
    (``j = 0 .. len(sync) - 1``) match ``sync`` or its complement with at most ``max_errors``
    hard-decision errors.

    Parameters
    ----------
    llr : ndarray of float32, shape (n,)
        Soft bits, positive means 1; ``stop - 1 + (len(sync) - 1) * step < n``.
    start, stop : int
        Search range of the first sync bit.
    sync : ndarray of uint8
        The sync bits (0/1) in transmission order.
    step : int
        Distance between consecutive sync bits, in bits.
    max_errors : int
        Largest number of wrong hard decisions accepted.
    result : ndarray of float64, shape (>= 4,)
        Receives ``[p, inverted (0/1), errors, correlation]``; the correlation is
        ``sum(+-llr) / sum(|llr|)`` over the sync positions with the sign of the matched
        polarity (1.0 is a perfect match).

    Returns
    -------
    int
        1 if found, else 0.
    """
    from orbitlink.modem._kernels.ao40 import distributed_sync_search as _k

    return _k(llr, start, stop, sync, step, max_errors, result)
