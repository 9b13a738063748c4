"""numba kernels of the PSK modem.

Pure functions: inputs, parameters, state arrays (updated in place) and preallocated outputs in;
the number of items written out. No jitclass, one signature per kernel, ``cache=True``.
"""

import math

import numpy as np
from numba import njit

# ------------------------------------------------------------------------------------------------
# Transmit pulse shaping: arbitrary (non-integer) samples per symbol.


@njit(cache=True, nogil=True)
def tx_shape(sym_re, sym_im, k0, n_start, n_count, inv_sps, delay, table, res, half, q_shift,
             out):
    """Pulse-shaped samples ``out[j] = sum_k a_k p(tau_n - k)`` for n = n_start + j.

    ``tau_n = n * inv_sps - delay`` is the symbol time of output sample n; ``a_k`` are the
    symbols with absolute index k (``sym_*[k - k0]``; indices outside the buffer count as zero);
    the pulse p (support ``|t| <= half`` symbols) is tabulated with ``res`` points per symbol
    and linearly interpolated. The Q rail is delayed by ``q_shift`` symbols (0.5 for OQPSK).
    """
    nsym = sym_re.shape[0]
    ntab = table.shape[0]
    for j in range(n_count):
        n = n_start + j
        tau = n * inv_sps - delay
        acc_re = 0.0
        acc_im = 0.0
        for rail in range(2):
            shift = q_shift if rail == 1 else 0.0
            tt = tau - shift
            k_lo = int(math.ceil(tt - half))
            k_hi = int(math.floor(tt + half))
            for k in range(k_lo, k_hi + 1):
                i = k - k0
                if i < 0 or i >= nsym:
                    continue
                u = (tt - k + half) * res
                iu = int(u)
                if iu >= ntab - 1:
                    pv = table[ntab - 1]
                else:
                    fr = u - iu
                    pv = table[iu] * (1.0 - fr) + table[iu + 1] * fr
                if rail == 0:
                    acc_re += sym_re[i] * pv
                    if q_shift == 0.0:
                        acc_im += sym_im[i] * pv
                else:
                    acc_im += sym_im[i] * pv
            if q_shift == 0.0:
                break
        out[j] = complex(acc_re, acc_im)
    return n_count


# ------------------------------------------------------------------------------------------------
# AGC


@njit(cache=True, nogil=True)
def agc(x, state, rate, ref, max_gain, out):
    """Power AGC: ``y = g x``; ``g <- g (1 + rate (ref - |y|^2))`` per sample, ``g <= max_gain``.

    state: [gain].
    """
    g = state[0]
    c0 = 1.0 + rate * ref
    for i in range(x.shape[0]):
        xr = np.float64(x[i].real)
        xi = np.float64(x[i].imag)
        out[i] = complex(xr * g, xi * g)
        q = rate * (xr * xr + xi * xi)
        g = g * (c0 - q * (g * g))
        if g > max_gain:
            g = max_gain
        elif g < 1e-9:
            g = 1e-9
    state[0] = g
    return x.shape[0]


# ------------------------------------------------------------------------------------------------
# Frequency-locked loop with a cross-product (delay-and-multiply) discriminator.
#
# state layout
FLL_PH_RE, FLL_PH_IM, FLL_W, FLL_ACC_RE, FLL_ACC_IM, FLL_S_RE, FLL_S_IM, FLL_P_RE, FLL_P_IM, \
    FLL_CNT, FLL_UPD, FLL_BI, FLL_WDOT, FLL_EN = range(14)
FLL_NSTATE = 14


@njit(cache=True, nogil=True)
def fll(x, state, buf, decim, n_acq, min_corr, g_trk, g2, w_max, out, out_w):
    """Derotate x by a phase-continuous NCO whose frequency the loop estimates.

    Every sample: ``y = x e^{-j phi}``; a boxcar of length ``len(buf)`` smooths y into s;
    ``acc += s conj(s_prev)``. Every ``decim`` samples (on the absolute grid): the residual
    ``e = arg(acc)`` (rad/sample, unbiased for a symmetric spectrum, range +/-pi) updates the
    frequency ``w += g e`` (+ a second-order term ``g2``). Acquisition: over the first ``n_acq``
    updates whose normalised correlation ``|acc| / sum |s|^2`` exceeds ``min_corr`` (signal
    present) the gain is 1/k, so the estimate is the running mean of the measurements; after
    that the gain is ``g_trk`` (0 freezes the loop and leaves tracking to the carrier PLL). ``out_w`` receives the frequency (rad/sample)
    applied to each sample.
    """
    ph_re = state[FLL_PH_RE]
    ph_im = state[FLL_PH_IM]
    w = state[FLL_W]
    acc_re = state[FLL_ACC_RE]
    acc_im = state[FLL_ACC_IM]
    s_re = state[FLL_S_RE]
    s_im = state[FLL_S_IM]
    p_re = state[FLL_P_RE]
    p_im = state[FLL_P_IM]
    cnt = int(state[FLL_CNT])
    upd = state[FLL_UPD]
    bi = int(state[FLL_BI])
    wdot = state[FLL_WDOT]
    en = state[FLL_EN]
    nb = buf.shape[0]
    c = math.cos(w)
    s = -math.sin(w)
    if n_acq <= upd and g_trk == 0.0 and g2 == 0.0:
        # loop frozen: w only ever gets w += 0*e + wdot (wdot frozen too), so only the NCO runs
        for i in range(x.shape[0]):
            xr = x[i].real
            xi = x[i].imag
            out[i] = complex(xr * ph_re - xi * ph_im, xr * ph_im + xi * ph_re)
            out_w[i] = w
            t = ph_re * c - ph_im * s
            ph_im = ph_re * s + ph_im * c
            ph_re = t
            cnt += 1
            if cnt == decim:
                cnt = 0
                w += wdot
                if w > w_max:
                    w = w_max
                elif w < -w_max:
                    w = -w_max
                c = math.cos(w)
                s = -math.sin(w)
                mag = math.sqrt(ph_re * ph_re + ph_im * ph_im)
                ph_re /= mag
                ph_im /= mag
        state[FLL_PH_RE] = ph_re
        state[FLL_PH_IM] = ph_im
        state[FLL_W] = w
        state[FLL_CNT] = cnt
        return x.shape[0]
    for i in range(x.shape[0]):
        xr = x[i].real
        xi = x[i].imag
        yr = xr * ph_re - xi * ph_im
        yi = xr * ph_im + xi * ph_re
        out[i] = complex(yr, yi)
        out_w[i] = w
        # advance the NCO phasor (conjugate rotation)
        t = ph_re * c - ph_im * s
        ph_im = ph_re * s + ph_im * c
        ph_re = t
        # boxcar
        ob = buf[bi]
        buf[bi] = complex(yr, yi)
        bi += 1
        if bi == nb:
            bi = 0
        s_re += yr - ob.real
        s_im += yi - ob.imag
        acc_re += s_re * p_re + s_im * p_im
        acc_im += s_im * p_re - s_re * p_im
        en += s_re * s_re + s_im * s_im
        p_re = s_re
        p_im = s_im
        cnt += 1
        if cnt == decim:
            cnt = 0
            mag = math.sqrt(acc_re * acc_re + acc_im * acc_im)
            if mag > min_corr * en and mag > 0.0:
                e = math.atan2(acc_im, acc_re)
                # running mean during acquisition (gain 1/k), then the tracking gain
                if upd < n_acq:
                    g = 1.0 / (upd + 1.0)
                else:
                    g = g_trk
                wdot += g2 * e
                w += g * e + wdot
                if w > w_max:
                    w = w_max
                elif w < -w_max:
                    w = -w_max
                upd += 1.0
            acc_re = 0.0
            acc_im = 0.0
            en = 0.0
            c = math.cos(w)
            s = -math.sin(w)
            # renormalise the phasor and the boxcar sum (exactly recomputed)
            mag = math.sqrt(ph_re * ph_re + ph_im * ph_im)
            ph_re /= mag
            ph_im /= mag
            sr = 0.0
            si = 0.0
            for k in range(nb):
                sr += buf[k].real
                si += buf[k].imag
            s_re = sr
            s_im = si
    state[FLL_PH_RE] = ph_re
    state[FLL_PH_IM] = ph_im
    state[FLL_W] = w
    state[FLL_ACC_RE] = acc_re
    state[FLL_ACC_IM] = acc_im
    state[FLL_S_RE] = s_re
    state[FLL_S_IM] = s_im
    state[FLL_P_RE] = p_re
    state[FLL_P_IM] = p_im
    state[FLL_CNT] = cnt
    state[FLL_UPD] = upd
    state[FLL_BI] = bi
    state[FLL_WDOT] = wdot
    state[FLL_EN] = en
    return x.shape[0]


# ------------------------------------------------------------------------------------------------
# Symbol synchroniser: polyphase matched filter at arbitrary instants, Gardner timing loop
# (proportional-integral on the symbol period), decision-directed carrier PLL.

SS_T, SS_PER, SS_TH, SS_OM, SS_P, SS_YP_RE, SS_YP_IM, SS_MP_RE, SS_MP_IM, SS_IP, SS_K, \
    SS_QP_RE, SS_QP_IM, SS_UP_RE, SS_UP_IM, SS_G, SS_LQ, SS_LK, SS_ANCHOR, SS_UG = range(20)
SS_NSTATE = 20

# params layout
SP_SPS, SP_KP, SP_KI, SP_C1, SP_C2, SP_ORDER, SP_OFFSET, SP_PMIN, SP_PMAX, SP_NFILT, SP_HALF, \
    SP_PAVG, SP_KF, SP_GEAR, SP_GEAR_N, SP_REACQ = range(16)
SP_N = 16

#: carrier-lock detector: leaky mean (LOCK_LEAK per symbol) of Re(u^M) with u the unit-length
#: derotated symbol and M the constellation order (1 locked and noise-free, 0 in noise). Above
#: LOCK_ON a lock begins (a burst): the symbol rate restarts from where the last lock left it
#: (the nominal one before the first; in the noise between bursts the loop wanders) and the
#: timing loop shifts gear again, if the lock was lost for REACQ_GAP symbols at least (a gap
#: between bursts, not a weak signal flickering about the threshold). Below LOCK_OFF the lock
#: ends.
LOCK_LEAK = 1.0 / 64.0
LOCK_ON = 0.7
LOCK_OFF = 0.35
REACQ_GAP = 512.0
#: the wider timing loop of a gear shift applies while locked only (a weak signal's timing
#: would jitter); unlocked, the symbol rate leaks back to the anchor at this rate per symbol
#: (in noise it does not walk to the +-max_dev rail)
ANCHOR_LEAK = 1.0 / 512.0


@njit(cache=True, nogil=True, fastmath=True)
def _mf(xr, xi, base_idx, t, taps, nfilt, kk):
    """Matched filter output at absolute time t (samples); x index 0 is absolute base_idx."""
    n0 = math.floor(t)
    mu = t - n0
    p = int(mu * nfilt + 0.5)
    i0 = int(n0) - base_idx
    if p == nfilt:
        p = 0
        i0 += 1
    row = taps[p]
    ar = np.float32(0.0)
    ai = np.float32(0.0)
    j0 = np.uintp(i0 - kk + 1)
    for j in range(2 * kk):
        h = row[j]
        ar += xr[j0 + np.uintp(j)] * h
        ai += xi[j0 + np.uintp(j)] * h
    return ar, ai


@njit(cache=True, nogil=True)
def symsync(xr, xi, wv, base_idx, n_avail, state, prm, taps, out_z, out_t, out_f):
    """Recover symbols from matched-filter samples.

    xr, xi : float32 input (real and imaginary parts); index 0 is absolute sample ``base_idx``.
    wv : float32 FLL frequency (rad/sample) of each input sample (added to the reported f).
    n_avail : number of valid samples in x.
    Returns the number of symbols written to ``out_z`` (derotated complex), ``out_t``
    (absolute timing instant in samples) and ``out_f`` (frequency estimate, cycles/sample).
    """
    kp = prm[SP_KP]
    ki = prm[SP_KI]
    c1 = prm[SP_C1]
    c2 = prm[SP_C2]
    order = int(prm[SP_ORDER])
    offset = prm[SP_OFFSET] != 0.0
    pmin = prm[SP_PMIN]
    pmax = prm[SP_PMAX]
    nfilt = int(prm[SP_NFILT])
    kk = int(prm[SP_HALF])
    pavg = prm[SP_PAVG]
    kf = prm[SP_KF]
    gear = prm[SP_GEAR]
    gear_n = prm[SP_GEAR_N]
    reacq = prm[SP_REACQ] != 0.0 and not offset

    t = state[SS_T]
    per = state[SS_PER]
    th = state[SS_TH]
    om = state[SS_OM]
    pw = state[SS_P]
    yp_re = state[SS_YP_RE]
    yp_im = state[SS_YP_IM]
    mp_re = state[SS_MP_RE]
    mp_im = state[SS_MP_IM]
    ip = state[SS_IP]
    kcount = state[SS_K]
    qp_re = state[SS_QP_RE]
    qp_im = state[SS_QP_IM]
    up_re = state[SS_UP_RE]
    up_im = state[SS_UP_IM]
    g = state[SS_G]  # symbols since the loops (re)started
    lq = state[SS_LQ]
    lk = state[SS_LK]
    anchor = state[SS_ANCHOR]
    ug = state[SS_UG]  # symbols since the lock was lost
    if anchor == 0.0:  # fresh state: the nominal rate, and the start counts as a gap
        anchor = prm[SP_SPS]
        ug = REACQ_GAP

    last = base_idx + n_avail - 1
    nout = 0
    tw = 2.0 * math.pi
    # the matched filter rounds t to the nearest of nfilt phases, which may be the next sample
    # (mu within half a phase of 1): its window then ends one sample later
    rnd = 0.5 / nfilt
    while math.floor(t + rnd) + kk <= last:
        tm = t - 0.5 * per
        y_re, y_im = _mf(xr, xi, base_idx, t, taps, nfilt, kk)
        m_re, m_im = _mf(xr, xi, base_idx, tm, taps, nfilt, kk)
        # derotate
        c = math.cos(th)
        s = math.sin(th)
        zr = y_re * c + y_im * s
        zi = y_im * c - y_re * s
        if offset:
            thm = th - 0.5 * om
            cm = math.cos(thm)
            sm = math.sin(thm)
            qr = m_re * cm + m_im * sm
            qi = m_im * cm - m_re * sm
        else:
            qr = 0.0
            qi = 0.0
        mag2 = zr * zr + zi * zi
        pw += pavg * (mag2 - pw)
        amp = math.sqrt(pw) + 1e-20
        # timing error (Gardner), normalised by power
        if offset:
            et = (qr * (yp_re - zr) + yp_im * (qp_im - qi)) / pw
        else:
            et = (m_re * (yp_re - y_re) + m_im * (yp_im - y_im)) / pw
        # carrier phase error
        if order == 2:
            ep = zi * (1.0 if zr >= 0 else -1.0) / amp
        elif order == 4 and not offset:
            ep = ((1.0 if zr >= 0 else -1.0) * zi - (1.0 if zi >= 0 else -1.0) * zr) / (amp * 1.4142135623730951)
        elif offset:
            ep = 0.5 * ((1.0 if zr >= 0 else -1.0) * zi - (1.0 if qi >= 0 else -1.0) * qr) / amp
        else:
            a = math.atan2(zi, zr)
            seg = tw / order
            dk = math.floor(a / seg + 0.5) * seg
            ep = (zi * math.cos(dk) - zr * math.sin(dk)) / amp
        # frequency detector: M-th power removes the modulation
        if kf > 0.0:
            ur = zr / amp
            ui = zi / amp
            nsq = 1 if order == 2 else (2 if order == 4 else 3)
            for _ in range(nsq):
                tr = ur * ur - ui * ui
                ui = 2.0 * ur * ui
                ur = tr
            ef = math.atan2(ui * up_re - ur * up_im, ur * up_re + ui * up_im) / order
            up_re = ur
            up_im = ui
        else:
            ef = 0.0
        # outputs
        ni = int(math.floor(t)) - base_idx
        fcur = (wv[ni] + om / per) / tw
        if offset:
            if kcount > 0:
                out_z[nout] = complex(ip, qi)
                out_t[nout] = t - per
                out_f[nout] = fcur
                nout += 1
            ip = zr
        else:
            out_z[nout] = complex(zr, zi)
            out_t[nout] = t
            out_f[nout] = fcur
            nout += 1
        kcount += 1.0
        # burst (carrier lock) detector
        if reacq:
            # Re(z^M) / |z|^M by repeated squaring (no square root)
            ur = zr
            ui = zi
            um = mag2
            tr = ur * ur - ui * ui
            ui = 2.0 * ur * ui
            ur = tr
            if order >= 4:
                tr = ur * ur - ui * ui
                ui = 2.0 * ur * ui
                ur = tr
                um = um * um
                if order >= 8:
                    tr = ur * ur - ui * ui
                    ui = 2.0 * ur * ui
                    ur = tr
                    um = um * um
            lq += LOCK_LEAK * ((ur / um if um > 0.0 else 0.0) - lq)
            if lk != 0.0:
                if lq < LOCK_OFF:
                    lk = 0.0
                    anchor = per
                    ug = 0.0
            elif lq > LOCK_ON:
                lk = 1.0
                if ug >= REACQ_GAP:
                    per = anchor
                    g = 0.0
            else:
                ug += 1.0
        # loops; gear shift: the timing loop's bandwidth starts ``gear`` x wider and narrows
        # linearly to its own over ``gear_n`` symbols after a (re)start (pull-in of a clock
        # offset of a few percent, then low jitter)
        gs = 1.0
        if g < gear_n and (lk != 0.0 or not reacq):
            gs = 1.0 + (gear - 1.0) * (1.0 - g / gear_n)
        g += 1.0
        if kcount > 1.0:
            per += gs * gs * ki * et
            if reacq and lk == 0.0:  # unlocked: bounded wandering, back to the anchor
                per += ANCHOR_LEAK * (anchor - per)
            if per < pmin:
                per = pmin
            elif per > pmax:
                per = pmax
            tstep = per + gs * kp * et
        else:
            tstep = per
        th += om + c1 * ep
        om += c2 * ep + kf * ef
        if th > math.pi:
            th -= tw
        elif th < -math.pi:
            th += tw
        yp_re = y_re
        yp_im = y_im
        mp_re = m_re
        mp_im = m_im
        if offset:
            yp_re = zr
            yp_im = zi
        qp_re = qr
        qp_im = qi
        t += tstep

    state[SS_T] = t
    state[SS_PER] = per
    state[SS_TH] = th
    state[SS_OM] = om
    state[SS_P] = pw
    state[SS_YP_RE] = yp_re
    state[SS_YP_IM] = yp_im
    state[SS_MP_RE] = mp_re
    state[SS_MP_IM] = mp_im
    state[SS_IP] = ip
    state[SS_K] = kcount
    state[SS_QP_RE] = qp_re
    state[SS_QP_IM] = qp_im
    state[SS_UP_RE] = up_re
    state[SS_UP_IM] = up_im
    state[SS_G] = g
    state[SS_LQ] = lq
    state[SS_LK] = lk
    state[SS_ANCHOR] = anchor
    state[SS_UG] = ug
    return nout


# ------------------------------------------------------------------------------------------------
# Soft demapper with a running M2M4 SNR estimate


@njit(cache=True, nogil=True)
def demap_running(z, state, avg, order, pts_re, pts_im, labels, k, out):
    """LLRs (positive = 1) of M-PSK symbols scaled by a running M2M4 estimate.

    state: [m2, m4, s]: the running moments and the last valid signal power (held while the
    M2M4 estimate is undefined, 2 m2^2 <= m4, as happens at very low SNR). ``avg`` is the
    averaging factor per symbol. For order 2 and 4 the
    closed forms are used; otherwise max-log over ``pts`` (unit energy, by phase index) with
    ``labels``. Writes ``len(z) * k`` LLRs.
    """
    m2 = state[0]
    m4 = state[1]
    s_last = state[2]
    M = pts_re.shape[0]
    for i in range(z.shape[0]):
        zr = z[i].real
        zi = z[i].imag
        p = zr * zr + zi * zi
        m2 += avg * (p - m2)
        m4 += avg * (p * p - m4)
        sp = 2.0 * m2 * m2 - m4
        if sp > 0.0:
            s = math.sqrt(sp)
            s_last = s
        else:
            s = min(s_last, m2)
        nv = m2 - s
        if nv < 1e-6 * m2 + 1e-30:
            nv = 1e-6 * m2 + 1e-30
        a = math.sqrt(s)
        if order == 2:
            out[i] = 4.0 * a * zr / nv
        elif order == 4:
            cc = 2.8284271247461903 * a / nv
            out[2 * i] = cc * zr
            out[2 * i + 1] = cc * zi
        else:
            for j in range(k):
                b0 = 1e300
                b1 = 1e300
                for m in range(M):
                    dr = zr - a * pts_re[m]
                    di = zi - a * pts_im[m]
                    d = dr * dr + di * di
                    if (labels[m] >> (k - 1 - j)) & 1:
                        if d < b1:
                            b1 = d
                    elif d < b0:
                        b0 = d
                out[k * i + j] = (b0 - b1) / nv
    state[0] = m2
    state[1] = m4
    state[2] = s_last
    return z.shape[0] * k


# ------------------------------------------------------------------------------------------------
# Sync-word search


@njit(cache=True, nogil=True)
def sync_search(z, start, stop, ref, n_corr, sync_lab, sync_mask, order, phase0, labels,
                max_errors, min_corr, result):
    """Find the first position p in [start, stop) where the sync word is.

    z : complex128 symbols (one view of the stream). ref : reference symbols of the first
    ``n_corr`` sync symbols. sync_lab / sync_mask : per sync symbol, its label and the mask of
    label bits that belong to the sync word. A position qualifies when the normalised
    correlation is at least ``min_corr`` and, after removing the rotation (a multiple of
    2 pi / order) that the correlation's phase indicates, at most ``max_errors`` sync bits are
    wrong. ``result`` receives [p, rotation, errors, corr]; returns 1 if found, else 0.
    """
    L = sync_lab.shape[0]
    tw = 2.0 * math.pi
    er = 0.0
    for k in range(n_corr):
        er += ref[k].real * ref[k].real + ref[k].imag * ref[k].imag
    for p in range(start, stop):
        cr = 0.0
        ci = 0.0
        ez = 0.0
        for k in range(n_corr):
            zr = z[p + k].real
            zi = z[p + k].imag
            rr = ref[k].real
            ri = ref[k].imag
            cr += rr * zr + ri * zi
            ci += rr * zi - ri * zr
            ez += zr * zr + zi * zi
        if ez <= 0.0:
            continue
        rho = math.sqrt((cr * cr + ci * ci) / (er * ez))
        if rho < min_corr:
            continue
        rot = int(math.floor(math.atan2(ci, cr) * order / tw + 0.5)) % order
        errors = 0
        for k in range(L):
            a = math.atan2(z[p + k].imag, z[p + k].real) - phase0
            idx = int(math.floor(a * order / tw + 0.5)) % order
            idx = (idx - rot) % order
            x = (labels[idx] ^ sync_lab[k]) & sync_mask[k]
            while x:
                errors += x & 1
                x >>= 1
            if errors > max_errors:
                break
        if errors <= max_errors:
            result[0] = p
            result[1] = rot
            result[2] = errors
            result[3] = rho
            return 1
    return 0


@njit(cache=True, nogil=True)
def sync_search_all(z, start, stop, step, ref, n_corr, sync_lab, sync_mask, order, phase0,
                    labels, max_errors, min_corr, found, state):
    """Every frame in turn: the first sync word at or after ``start`` (as :func:`sync_search`,
    positions before ``stop``), then the first at or after it plus ``step`` (the frame's
    length), and so on. ``found[i]`` receives [p, rotation, errors, corr] of frame i (room for
    ``(stop - start - 1) // step + 1`` frames); ``state[0]`` the next position to examine (the
    last frame's end, or ``stop`` when no further sync word is there). Returns the number of
    frames found."""
    res = np.zeros(4)
    k = 0
    p = start
    while p < stop:
        if not sync_search(z, p, stop, ref, n_corr, sync_lab, sync_mask, order, phase0, labels,
                           max_errors, min_corr, res):
            p = stop
            break
        for j in range(4):
            found[k, j] = res[j]
        k += 1
        p = int(res[0]) + step
    state[0] = p
    return k
