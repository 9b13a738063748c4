"""numba kernels of the audio blocks (:mod:`orbitlink.modem.audio`).

Pure functions: inputs, parameters, state arrays (updated in place) and preallocated outputs
in; the number of items written out. Time is the absolute input sample index, so the results do
not depend on how the stream is split into chunks.
"""

import math

from numba import njit


@njit(cache=True, nogil=True)
def mix_down(x, n0, f, out):
    """``out[i] = x[i] * exp(-2j pi f (n0 + i))``: real samples to complex, shifted by ``-f``.

    The phase is computed from the absolute index ``n0 + i`` (``f`` in cycles/sample), so the
    result does not depend on where a chunk starts.
    """
    # float64 phase f * n: error below 1e-7 cycle for n up to 1e9 (hours of audio)
    for i in range(x.shape[0]):
        ph = f * float(n0 + i)
        ph = ph - math.floor(ph)
        a = -2.0 * math.pi * ph
        out[i] = x[i] * complex(math.cos(a), math.sin(a))


@njit(cache=True, nogil=True)
def fir_decim(buf, base, m0, decim, taps, n_last, out):
    """Complex FIR with real, odd-length, centred taps, evaluated every ``decim`` inputs.

    Output ``m`` (absolute) is ``sum_j taps[j] * x[m * decim + D - j]`` with ``D = (len(taps) -
    1) // 2`` (so it is centred on input ``m * decim``: no delay). ``buf`` holds the inputs with
    absolute indices ``base ..``; outputs are produced from ``m0`` while every input they need
    is in ``buf`` and their centre is ``<= n_last``; ``len(out)`` caps their number.
    """
    ntap = taps.shape[0]
    d = (ntap - 1) // 2
    n_max = base + buf.shape[0] - 1
    i = 0
    while i < out.shape[0]:
        c = (m0 + i) * decim
        if c > n_last or c + d > n_max:
            break
        s_re = 0.0
        s_im = 0.0
        k = c + d - base
        for j in range(ntap):
            v = buf[k - j]
            s_re += taps[j] * v.real
            s_im += taps[j] * v.imag
        out[i] = complex(s_re, s_im)
        i += 1
    return i


@njit(cache=True, nogil=True)
def resample(buf, base, state, step_int, step_rem, den, table, n_last, out):
    """Polyphase windowed-sinc resampler over ``nch`` real channels.

    Parameters
    ----------
    buf : float64[nch, :]
        Input samples with absolute indices ``base .. base + buf.shape[1] - 1``.
    state : int64[3]
        ``[k, n, r]``: the next output ``k`` lies at input time ``n + r / den``; advanced in
        place by ``step_int + step_rem / den`` input samples per output (exact rational
        arithmetic, so rates stay exact over any length).
    table : float64[P + 1, 2K]
        Taps for the phases ``mu = p / P``; tap ``m`` multiplies input ``n - K + 1 + m``.
        Phases in between are interpolated linearly.
    n_last : int64
        Only outputs with input time ``<= n_last`` are produced.
    out : float64[nch, :]
        Output buffer; its width caps the number of outputs.

    Returns
    -------
    int
        Outputs written.
    """
    nphase = table.shape[0] - 1
    ntaps = table.shape[1]
    half = ntaps // 2
    nch = buf.shape[0]
    n_max = base + buf.shape[1] - 1
    i = 0
    while i < out.shape[1]:
        n = state[1]
        r = state[2]
        if n > n_last or (n == n_last and r > 0) or n + half > n_max:
            break
        pos = float(r) / float(den) * nphase
        p = int(math.floor(pos))
        if p >= nphase:
            p = nphase - 1
        w = pos - p
        k0 = n - half + 1 - base
        for ch in range(nch):
            s = 0.0
            for m in range(ntaps):
                h = table[p, m] + w * (table[p + 1, m] - table[p, m])
                s += h * buf[ch, k0 + m]
            out[ch, i] = s
        i += 1
        state[0] += 1
        n += step_int
        r += step_rem
        if r >= den:
            r -= den
            n += 1
        state[1] = n
        state[2] = r
    return i
