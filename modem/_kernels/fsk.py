"""numba kernels of the FSK modem (2-FSK, GFSK, GMSK, AFSK).

Pure functions: inputs, parameters, state arrays (updated in place) and preallocated outputs in;
the number of items written out. Times are absolute sample indices, so the blocks honour the
chunk contract.
"""

import math

import numpy as np
from numba import njit

TWO_PI = 2.0 * math.pi


@njit(cache=True, nogil=True)
def fast_atan2(y, x):
    """atan2 with a polynomial (max error about 1e-5 rad); 0 for (0, 0)."""
    ax = abs(x)
    ay = abs(y)
    mx = ax if ax > ay else ay
    mn = ay if ax > ay else ax
    if mx == 0.0:
        return 0.0
    a = mn / mx
    s = a * a
    r = ((((0.0208351 * s - 0.085133) * s + 0.180141) * s - 0.3302995) * s + 0.999866) * a
    if ay > ax:
        r = 1.5707963267948966 - r
    if x < 0.0:
        r = 3.141592653589793 - r
    if y < 0.0:
        r = -r
    return r


# ------------------------------------------------------------------------------------------------
# Transmitter: frequency pulse train at arbitrary instants.


@njit(cache=True, nogil=True)
def freq_pulses(syms, k0, n_start, n_count, inv_sps, half, c, out):
    """Normalised instantaneous frequency ``out[j] = sum_k a_k g(tau_n - k - half)``.

    ``tau_n = n * inv_sps`` (symbols) for n = n_start + j; symbol k (``syms[k - k0]``, +-1,
    missing ones count as 0) has the frequency pulse g centred at ``k + half`` with support
    ``[k, k + 2 half)``. ``c == 0``: rectangular pulse (half = 0.5); otherwise the
    Gaussian-filtered rectangle ``0.5 (erf(c (u + 1/2)) - erf(c (u - 1/2)))``.
    """
    nsym = syms.shape[0]
    for j in range(n_count):
        tau = (n_start + j) * inv_sps
        if c == 0.0:
            i = int(math.floor(tau)) - k0
            out[j] = syms[i] if 0 <= i < nsym else 0.0
            continue
        k_hi = int(math.floor(tau))
        k_lo = int(math.floor(tau - 2.0 * half)) + 1
        acc = 0.0
        for k in range(k_lo, k_hi + 1):
            i = k - k0
            if i < 0 or i >= nsym:
                continue
            u = tau - k - half
            acc += syms[i] * 0.5 * (math.erf(c * (u + 0.5)) - math.erf(c * (u - 0.5)))
        out[j] = acc
    return n_count


@njit(cache=True, nogil=True)
def fm_iq(freq, scale, state, out):
    """Phase-continuous FM: ``phi += scale * freq[n]``, ``out[n] = exp(j phi)``; state[0] = phi."""
    ph = state[0]
    for n in range(freq.shape[0]):
        ph += scale * freq[n]
        if ph > math.pi:
            ph -= TWO_PI
        elif ph < -math.pi:
            ph += TWO_PI
        out[n] = complex(math.cos(ph), math.sin(ph))
    state[0] = ph
    return freq.shape[0]


@njit(cache=True, nogil=True)
def fm_audio(freq, centre, shift, fs, amp, state, out):
    """Tones: instantaneous frequency ``centre + shift * freq[n]`` Hz, ``out = amp cos(phi)``."""
    ph = state[0]
    k = TWO_PI / fs
    for n in range(freq.shape[0]):
        out[n] = amp * math.cos(ph)
        ph += k * (centre + shift * freq[n])
        if ph > math.pi:
            ph -= TWO_PI
    state[0] = ph
    return freq.shape[0]


# ------------------------------------------------------------------------------------------------
# Quadrature demodulator (optionally behind a real-tap FIR channel filter).


@njit(cache=True, nogil=True)
def quad_demod(x, prev, gain, out):
    """``out[n] = gain * arg(x[n] conj(x[n-1]))``; prev[0] holds the sample before x[0]."""
    pr = prev[0].real
    pi_ = prev[0].imag
    for n in range(x.shape[0]):
        xr = x[n].real
        xi = x[n].imag
        re = xr * pr + xi * pi_
        im = xi * pr - xr * pi_
        out[n] = gain * fast_atan2(im, re)
        pr = xr
        pi_ = xi
    prev[0] = complex(pr, pi_)
    return x.shape[0]


@njit(cache=True, nogil=True)
def _fir_axpy(x, taps, y):
    """``y[m] += sum_j taps[j] x[m + j]``, tap by tap (each inner loop vectorises)."""
    n = y.shape[0]
    for j in range(taps.shape[0]):
        t = taps[j]
        xs = x[j:j + n]
        for m in range(n):
            y[m] += t * xs[m]


@njit(cache=True, nogil=True)
def fir_quad(xh, n0, taps, decim, prev, gain, out):
    """Channel filter (real taps), decimation, then quadrature demodulator.

    ``xh`` holds ``len(taps) - 1`` history samples then the new ones, the first new one being
    absolute sample n0. Outputs are produced at absolute samples ``m * decim`` (the last sample
    of the filter window); returns the number written.

    The filter runs tap by tap over all the outputs of the call (an axpy per tap on split I
    and Q arrays, which vectorises; about 4x the speed of a dot product per output). Each
    output is still the sum over the taps in order, so chunking does not change it.
    """
    nt = taps.shape[0]
    h = nt - 1
    n_new = xh.shape[0] - h
    first = ((n0 + decim - 1) // decim) * decim - n0  # index k of the first output
    if n_new <= first:
        return 0
    cnt = (n_new - 1 - first) // decim + 1
    xf = xh.view(np.float32)
    xr = np.ascontiguousarray(xf[0::2])
    xi = np.ascontiguousarray(xf[1::2])
    yr = np.zeros(cnt, np.float32)
    yi = np.zeros(cnt, np.float32)
    if decim == 1:
        _fir_axpy(xr[first:], taps, yr)
        _fir_axpy(xi[first:], taps, yi)
    else:
        for j in range(nt):
            t = taps[j]
            for m in range(cnt):
                yr[m] += t * xr[first + m * decim + j]
                yi[m] += t * xi[first + m * decim + j]
    pr = prev[0].real
    pi_ = prev[0].imag
    for m in range(cnt):
        ar = yr[m]
        ai = yi[m]
        re = ar * pr + ai * pi_
        im = ai * pr - ar * pi_
        out[m] = gain * fast_atan2(im, re)
        pr = ar
        pi_ = ai
    prev[0] = complex(pr, pi_)
    return cnt


# ------------------------------------------------------------------------------------------------
# AFSK tone discriminator: mix by the tone centre, low-pass, decimate, quadrature demod.


@njit(cache=True, nogil=True)
def afsk_disc(x, n0, fc_norm, mh, taps, decim, prev, gain, out):
    """Discriminate real audio ``x`` (absolute index of x[0] is n0).

    ``mh`` (complex128, length ``len(taps) - 1 + len(x)``) holds the mixed history on entry in
    its first ``len(taps) - 1`` items; the mixed new samples are written behind it. Outputs are
    produced at absolute input indices ``m * decim`` (the last sample of the FIR window);
    returns the number written. ``prev`` = [previous filtered sample].
    """
    nt = taps.shape[0]
    h = nt - 1
    for i in range(x.shape[0]):
        n = n0 + i
        ph = TWO_PI * ((n * fc_norm) % 1.0)
        mh[h + i] = x[i] * complex(math.cos(ph), -math.sin(ph))
    # first absolute index >= n0 that is a multiple of decim
    first = ((n0 + decim - 1) // decim) * decim
    pr = prev[0].real
    pi_ = prev[0].imag
    cnt = 0
    n = first
    while n < n0 + x.shape[0]:
        e = n - n0 + h  # index in mh of sample n
        ar = 0.0
        ai = 0.0
        for j in range(nt):
            v = mh[e - j]
            ar += taps[j] * v.real
            ai += taps[j] * v.imag
        re = ar * pr + ai * pi_
        im = ai * pr - ar * pi_
        out[cnt] = gain * math.atan2(im, re)
        pr = ar
        pi_ = ai
        cnt += 1
        n += decim
    prev[0] = complex(pr, pi_)
    return cnt


# ------------------------------------------------------------------------------------------------
# Clock recovery on a frequency signal: boxcar matched filter from prefix sums, envelope and
# decision-directed DC / amplitude / noise tracking, Gardner timing with a PI loop.

CR_T, CR_PER, CR_D, CR_A, CR_VAR, CR_YP, CR_K, CR_HI, CR_LO, CR_ACC, CR_RUN, CR_KS, \
    CR_BIG, CR_Q0, CR_QH, CR_MP, CR_SJ, CR_LK, CR_ANCHOR = range(19)
CR_NSTATE = 19

#: half-symbol hang-up detector: leak of the mean |difference| of consecutive samples at the
#: symbol instants and half-way, ratio that triggers a half-symbol jump, symbols between jumps
HANG_LEAK = 1.0 / 32.0
HANG_RATIO = 1.5
HANG_HOLD = 64.0

#: symbols of wider timing loop at the start and after every lock (pull-in of clock offsets)
GEAR_SYMBOLS = 256.0

#: burst detector on the tracked symbol SNR (a^2 / var): locked above LOCK_SNR, unlocked below
#: UNLOCK_SNR (FM noise without a signal sits near 2.5). In noise the clock-rate integrator
#: random-walks (to a rail after a few thousand symbols), and a burst would start a percent
#: off: at every lock the rate restarts from where the last lock left it (the nominal rate before
#: the first) and the timing loop runs GEAR x wider for GEAR_SYMBOLS symbols (re-acquisition per
#: burst). Weak signals that never lock are tracked as before.
LOCK_SNR = 5.0
UNLOCK_SNR = 4.0
GEAR = 3.0
#: unlocked, the rate leaks back to the anchor at this rate per symbol: in noise its random walk
#: stays within a few 0.1 %, while a weak signal with a clock offset still pulls it (the leak
#: costs a timing error of a few hundredths of a symbol at 0.5 %)
ANCHOR_LEAK = 1.0 / 512.0

#: symbols in a row far above the tracked level that restart the level acquisition
BIG_RESTART = 4.0

#: decisions of one sign in a row after which the DC tracker re-centres on the envelope
RUN_RESCUE = 48.0

CP_SPS, CP_W, CP_KP, CP_KI, CP_PMIN, CP_PMAX, CP_GD, CP_GA, CP_GV, CP_NACQ, CP_GENV, \
    CP_LLRMAX, CP_DC, CP_REACQ = range(14)
CP_N = 14


@njit(cache=True, nogil=True)
def prefix_sums(y, state, out):
    """``out[i] = acc + y[0] + ... + y[i]`` in float64 with acc = state[CR_ACC] (updated)."""
    acc = state[CR_ACC]
    for i in range(y.shape[0]):
        acc += y[i]
        out[i] = acc
    state[CR_ACC] = acc
    return y.shape[0]


@njit(cache=True, nogil=True)
def _csum(c, base, x):
    i = int(math.floor(x))
    j = i - base
    return c[j] + (x - i) * (c[j + 1] - c[j])


@njit(cache=True, nogil=True)
def clock_recovery(c, base, state, prm, out_llr, out_t, out_d):
    """Symbols from prefix sums ``c`` (c[i] = sum of the input before absolute sample base + i).

    The matched filter at instant t is the mean of the input over ``[t - W/2, t + W/2)``
    (samples held constant over their unit interval). Writes per symbol the soft bit, the
    instant and the DC estimate; returns the number of symbols.
    """
    w = prm[CP_W]
    kp = prm[CP_KP]
    ki = prm[CP_KI]
    pmin = prm[CP_PMIN]
    pmax = prm[CP_PMAX]
    gd = prm[CP_GD]
    ga = prm[CP_GA]
    gv = prm[CP_GV]
    nacq = prm[CP_NACQ]
    genv = prm[CP_GENV]
    llrmax = prm[CP_LLRMAX]
    track_dc = prm[CP_DC] != 0.0
    reacq = prm[CP_REACQ] != 0.0
    hw = 0.5 * w
    inv_w = 1.0 / w

    t = state[CR_T]
    per = state[CR_PER]
    d = state[CR_D]
    a = state[CR_A]
    var = state[CR_VAR]
    yp = state[CR_YP]
    k = state[CR_K]
    hi = state[CR_HI]
    lo = state[CR_LO]
    run = state[CR_RUN]
    ks = state[CR_KS]
    big = state[CR_BIG]
    q0 = state[CR_Q0]
    qh = state[CR_QH]
    mp = state[CR_MP]
    sj = state[CR_SJ]
    lk = state[CR_LK]  # symbols since lock (0: unlocked)
    anchor = state[CR_ANCHOR]  # the rate to restart from at a lock (0: the nominal one)
    if anchor == 0.0:
        anchor = prm[CP_SPS]
    last = base + c.shape[0] - 1  # last boundary index available
    nout = 0
    while math.floor(t + hw) + 1 <= last:
        y = (_csum(c, base, t + hw) - _csum(c, base, t - hw)) * inv_w
        tm = t - 0.5 * per
        m = (_csum(c, base, tm + hw) - _csum(c, base, tm - hw)) * inv_w
        # envelope (peak / valley), fast attack, slow decay
        # a signal far above the tracked level (burst after silence or noise) restarts the
        # level acquisition; single clicks do not
        if ks >= nacq and abs(y - d) > 3.0 * (a + math.sqrt(var)):
            big += 1.0
            if big >= BIG_RESTART:
                ks = 0.0
                big = 0.0
        else:
            big = 0.0
        if ks == 0.0:
            hi = y
            lo = y
            a = 0.0
            var = 0.0
        if y > hi:
            hi += 0.5 * (y - hi)
        else:
            hi += genv * (y - hi)
        if y < lo:
            lo += 0.5 * (y - lo)
        else:
            lo += genv * (y - lo)
        mid = 0.5 * (hi + lo)
        env = 0.5 * (hi - lo)
        if ks < nacq:
            if track_dc:
                d = mid
            g = 1.0 / (ks + 1.0)
            r = y - d
            a += g * (abs(r) - a)
            s = 1.0 if r >= 0.0 else -1.0
            ev = r - a * s
            var += g * (ev * ev - var)
        else:
            r = y - d
            s = 1.0 if r >= 0.0 else -1.0
            if s * run >= 0.0:
                run += s
            else:
                run = s
            if track_dc and abs(run) > RUN_RESCUE and abs(d - mid) > 0.5 * env:
                d = mid  # decisions stuck on one side: re-centre on the envelope
                run = 0.0
                r = y - d
                s = 1.0 if r >= 0.0 else -1.0
            # statistics on a clipped value (FM clicks)
            if r > 3.0 * a:
                r = 3.0 * a
            elif r < -3.0 * a:
                r = -3.0 * a
            ev = r - a * s
            # running means right after the acquisition, then the tracking gains
            g = 1.0 / (ks + 1.0)
            if track_dc:
                d += (gd if gd > g else g) * ev
            a += (ga if ga > g else g) * (abs(r) - a)
            var += (gv if gv > g else g) * (ev * ev - var)
        r = y - d
        rm = m - d
        # Gardner timing error, normalised by the amplitude
        e = 0.0
        if k > 0.0 and a > 1e-15:
            e = rm * (yp - r) / (a * a)
            if e > 1.0:
                e = 1.0
            elif e < -1.0:
                e = -1.0
            elif not (e == e):
                e = 0.0
        vv = var
        if vv < 1e-4 * a * a:
            vv = 1e-4 * a * a
        if vv > 0.0:
            llr = 2.0 * a * r / vv
        else:
            llr = 0.0
        if llr > llrmax:
            llr = llrmax
        elif llr < -llrmax:
            llr = -llrmax
        out_llr[nout] = llr
        out_t[nout] = t
        out_d[nout] = d
        nout += 1
        # hang-up detector: the samples half-way between symbol instants differ more from
        # one symbol to the next than the samples at the instants -> jump half a symbol
        jump = False
        if k > 0.0:
            q0 += HANG_LEAK * (abs(y - (yp + d)) - q0)
            qh += HANG_LEAK * (abs(m - mp) - qh)
            sj += 1.0
            if sj > HANG_HOLD and qh > HANG_RATIO * q0:
                jump = True
                sj = 0.0
                q0, qh = qh, q0
        yp = r
        mp = m
        k += 1.0
        ks += 1.0
        # burst (lock) detector with hysteresis on the tracked SNR
        if lk > 0.0:
            if var > 0.0 and a * a < UNLOCK_SNR * var:
                lk = 0.0
                anchor = per
            else:
                lk += 1.0
        elif reacq and var > 0.0 and a * a > LOCK_SNR * var and ks > nacq:
            lk = 1.0
            per = anchor
        # gear shift: a wider timing loop (proportional path) for the first GEAR_SYMBOLS symbols
        # of the stream and of every lock
        gs = GEAR if (k <= GEAR_SYMBOLS or (lk > 0.0 and lk <= GEAR_SYMBOLS)) else 1.0
        per += (gs * gs if k <= GEAR_SYMBOLS else 1.0) * ki * e
        # unlocked: a leak back to the anchor bounds the random walk in noise
        if reacq and lk == 0.0:
            per += ANCHOR_LEAK * (anchor - per)
        if per < pmin:
            per = pmin
        elif per > pmax:
            per = pmax
        t += per + gs * kp * e
        if jump:
            t += 0.5 * per
    state[CR_T] = t
    state[CR_PER] = per
    state[CR_D] = d
    state[CR_A] = a
    state[CR_VAR] = var
    state[CR_YP] = yp
    state[CR_K] = k
    state[CR_HI] = hi
    state[CR_LO] = lo
    state[CR_RUN] = run
    state[CR_KS] = ks
    state[CR_BIG] = big
    state[CR_Q0] = q0
    state[CR_QH] = qh
    state[CR_MP] = mp
    state[CR_SJ] = sj
    state[CR_LK] = lk
    state[CR_ANCHOR] = anchor
    return nout


# ------------------------------------------------------------------------------------------------
# Coherent GMSK: FLL in front of a channel filter and discriminator, Laurent main-pulse matched
# filter at given instants, Costas-type carrier PLL on the derotated pseudo-symbols.

GC_TH, GC_NU, GC_K, GC_A, GC_VAR, GC_LP, GC_TP, GC_WS = range(8)
GC_NSTATE = 8




@njit(cache=True, nogil=True)
def gmsk_coherent(xb, base, times, freqs, state, c0, res, half_span, sps, c1, c2, ga, llrmax,
                  out):
    """Pseudo-symbols at the absolute instants ``times`` (samples of ``xb``, whose item 0 is
    absolute sample ``base``): ``z = sum_n x[n] c0((n - t) / sps) exp(-j w (n - t))`` with w the
    carrier frequency (``freqs``, rad/sample, given per symbol, plus the PLL's frequency), derotated by (-j)^k and the carrier phase;
    soft pseudo-symbol LLRs are combined differentially into bit LLRs.

    ``c0`` is tabulated with ``res`` points per symbol over ``[-half_span, half_span]``
    symbols. Processes instants while their window is inside ``xb``; returns how many.
    """
    th = state[GC_TH]
    nu = state[GC_NU]
    k = state[GC_K]
    a = state[GC_A]
    var = state[GC_VAR]
    lp = state[GC_LP]
    tp = state[GC_TP]
    ws = state[GC_WS]
    last = base + xb.shape[0] - 1
    nc = c0.shape[0]
    done = 0
    for i in range(times.shape[0]):
        t = times[i]
        n_lo = int(math.ceil(t - half_span * sps))
        n_hi = int(math.floor(t + half_span * sps))
        if n_hi > last:
            break
        if k == 0.0:
            tp = t
        ws = freqs[i]
        th += ws * (t - tp)  # carrier phase advance since the last symbol
        tp = t
        wt = ws + nu / sps  # frequency inside the matched filter, rad/sample
        zr = 0.0
        zi = 0.0
        n0 = max(n_lo, base)
        # phasor exp(-j ws (n - t)), advanced by exp(-j ws) per sample
        rr = math.cos(wt * (n0 - t))
        ri = -math.sin(wt * (n0 - t))
        dr = math.cos(wt)
        di = -math.sin(wt)
        for n in range(n0, n_hi + 1):
            u = ((n - t) / sps + half_span) * res
            j = int(u)
            if j >= 0 and j < nc - 1:
                f = u - j
                cv = c0[j] + f * (c0[j + 1] - c0[j])
                v = xb[n - base]
                vr = v.real * rr - v.imag * ri
                vi = v.real * ri + v.imag * rr
                zr += cv * vr
                zi += cv * vi
            tr = rr * dr - ri * di
            ri = rr * di + ri * dr
            rr = tr
        # derotate by (-j)^k and the carrier phase
        q = int(k) % 4
        if q == 1:
            zr, zi = zi, -zr
        elif q == 2:
            zr, zi = -zr, -zi
        elif q == 3:
            zr, zi = -zi, zr
        c = math.cos(th)
        s = math.sin(th)
        pr = zr * c + zi * s
        pi_ = zi * c - zr * s
        # amplitude and noise (decision directed), PLL
        sg = 1.0 if pr >= 0.0 else -1.0
        if k < 16.0:
            g = 1.0 / (k + 1.0)
        else:
            g = ga
        a += g * (abs(pr) - a)
        ev = pr - sg * a
        var += g * (ev * ev - var)
        if a > 1e-15:
            e = sg * pi_ / a
            if e > 1.0:
                e = 1.0
            elif e < -1.0:
                e = -1.0
            nu += c2 * e
            th += c1 * e + nu
            if th > math.pi:
                th -= TWO_PI
            elif th < -math.pi:
                th += TWO_PI
        vv = var
        if vv < 1e-4 * a * a:
            vv = 1e-4 * a * a
        lk = 2.0 * a * pr / vv if vv > 0.0 else 0.0
        if k == 0.0:
            llr = 0.0
        else:
            mag = abs(lk) if abs(lk) < abs(lp) else abs(lp)
            llr = mag if lk * lp >= 0.0 else -mag
        if llr > llrmax:
            llr = llrmax
        elif llr < -llrmax:
            llr = -llrmax
        out[i] = llr
        lp = lk
        k += 1.0
        done += 1
    state[GC_TH] = th
    state[GC_NU] = nu
    state[GC_K] = k
    state[GC_A] = a
    state[GC_VAR] = var
    state[GC_LP] = lp
    state[GC_TP] = tp
    state[GC_WS] = ws
    return done


@njit(cache=True, nogil=True)
def derotate(x, n0, w, out):
    """``out[i] = x[i] exp(-j w (n0 + i))`` (w rad/sample, absolute sample index)."""
    for i in range(x.shape[0]):
        ph = (w * (n0 + i)) % TWO_PI
        c = math.cos(ph)
        s = math.sin(ph)
        out[i] = complex(x[i].real * c + x[i].imag * s, x[i].imag * c - x[i].real * s)
    return x.shape[0]
