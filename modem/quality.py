"""Signal quality of received FSK frames: ``snr_db`` and ``freq_offset_hz`` from the eye.

PSK frames get ``snr_db`` (blind M2M4 Es/N0 over the frame's symbols) and ``freq_offset_hz``
(the carrier loop's frequency) from their deframers, which see the symbols. The FSK family
(2-FSK, GFSK/GMSK, AFSK, on IQ or a receiver's audio) ends in soft bits, so its deframers see
neither; instead the FSK demodulator logs, per symbol, the value its decision is made on, and
:class:`orbitlink.framing._base.FrameMeta` summarises the symbols of each frame.

How each quantity is estimated
------------------------------
:class:`FskQuality` is fed the demodulator's frequency signal ``y`` (the clock recovery's
input: the quadrature demodulator's output in rad/sample on IQ, the FM audio itself, or the
AFSK discriminator's normalised output, mark +1 / space -1) and the instants of the symbols the
clock recovery decided on. For each symbol it keeps the boxcar matched-filter value ``r`` of
``y`` over one symbol period centred on the instant (the eye at its opening), by absolute symbol
index, which is the channel-bit index the bit deframers report (``bit_index``).

For a frame's symbols (:meth:`FskQuality.frame_stats`), the eye is split into its upper and
lower rail (threshold first between the 10th and 90th percentiles, then at the midpoint of the
rails' means, refined three times; robust to unbalanced bit counts):

* ``A`` = half the distance between the rails' means (half the eye opening),
* ``dc`` = the midpoint between the rails' means (the discriminator's DC level),
* ``var`` = the noise variance about each rail's mean, pooled over both rails.

``snr_db = 10 log10(A**2 / var)``: the signal-to-noise ratio of the eye at the decision point,
matched filter included. Inter-symbol interference counts as noise, so it saturates on a clean
signal (about 18.5 dB for 9600 Bd G3RUH FSK and for AFSK 1200); below that it follows the
channel's Es/N0 (measured with the channel simulator: 2-FSK on IQ 12.7 dB at 12 dB and 15.4 at
16; AX100 FSK as FM audio 10.0 at 12, 14.8 at 16, 18.7 at 20; AFSK 1200 about 4 dB below it;
tests/test_json_fields.py).

``freq_offset_hz`` is ``dc`` in Hz: on IQ ``dc * out_rate / (2 pi)`` (rad/sample at the rate
the discriminator runs); on FM audio ``dc / A * deviation_hz`` (the eye's half opening is the
link's peak deviation, FrameMeta's ``deviation``: the only Hz scale the audio has); on AFSK
audio ``dc * (mark - space) / 2`` (the discriminator's scale), the offset of the audio tones.
A receiver whose FM audio is inverted reports the offset with its sign inverted, as the tones
are.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from orbitlink.modem._kernels.quality import eye as _eye, eye_levels as _eye_levels
from orbitlink.modem.buffer import StreamBuffer

__all__ = ["FskQuality", "attach_quality"]

#: symbols of log kept (frames are looked up right after their last symbol is decided)
KEEP_SYMBOLS = 1 << 16


class FskQuality:
    """Per-symbol eye values of an FSK demodulator, looked up per frame (module docstring).

    Parameters
    ----------
    sps : float
        The matched-filter (boxcar) length in samples of ``y``: the clock recovery's, about
        one symbol.
    hz_per_unit : float or None
        Hz per unit of ``y`` (IQ: ``out_rate / (2 pi)``; AFSK: ``(mark - space) / 2``); None
        for FM audio, whose scale comes from the eye and ``deviation_hz``.
    """

    def __init__(self, sps: float, hz_per_unit: float | None):
        self.sps = float(sps)
        self.hz_per_unit = hz_per_unit
        self.width = max(1, int(round(self.sps)))  # whole samples per matched-filter window
        self._y = StreamBuffer(np.float32)  # the frequency signal, absolute sample index
        self._r = StreamBuffer(np.float32)  # eye value per symbol, absolute symbol index
        self._pending = np.zeros(0, np.float64)  # instants whose window has not all arrived
        self._last_lo = 0  # first sample of the last symbol's window
        #: the eye diagram (:meth:`eye_traces`): the symbol period in samples of ``y``, and
        #: how many traces to keep (0: none are made)
        self.period = self.sps
        self.eye_keep = 0
        self._ring = None
        self._ring_idx = None
        #: the eye of the last frame looked up (:meth:`frame_stats`): its traces, its first
        #: symbol, and how many frames have had one
        self.frame_eye = None
        self.frame_eye_first = None
        self.frame_eyes = 0
        #: the last frames' eyes, (first symbol, traces), newest last
        self.frame_eye_log = collections.deque(maxlen=64)

    @classmethod
    def for_demod(cls, demod) -> "FskQuality":
        """The log of a :class:`~orbitlink.modem.fsk.FskDemodulator` (after its ``_reset``):
        the clock recovery's matched-filter length, and the Hz scale of its frequency signal."""
        p = demod.params
        if demod.disc is not None:  # AFSK: mark +1, space -1
            hz = 0.5 * (p.mark - p.space)
        elif p.input == "audio":  # FM audio: scaled by the eye and the link's deviation
            hz = None
        else:  # rad/sample at the rate the discriminator runs
            hz = p.samp_rate / demod.decim / (2 * math.pi)
        q = cls(demod.clock.params.window * demod.clock.params.sps, hz)
        q.period = float(demod.clock.params.sps)
        return q

    def update(self, y: np.ndarray, times: np.ndarray, dc: np.ndarray | None = None) -> None:
        """Log the symbols the clock recovery decided in this chunk: ``y`` the chunk of its
        input, ``times`` the symbols' instants (absolute samples of ``y``, fractional). Each
        symbol's value is the mean of ``width`` samples centred on its instant, summed in the
        same order whatever the chunking (a symbol whose window has not all arrived waits for
        the next chunk)."""
        first_index = self._r.end + len(self._pending)  # absolute index of times[0]
        self._y.append(np.asarray(y, np.float32))
        times = np.asarray(times, np.float64)
        if self.eye_keep and len(times):
            self._keep_traces(times, first_index, dc)
        t = np.concatenate([self._pending, times]) if len(self._pending) else times
        out = np.empty(len(t), np.float32)
        n, last_lo = _eye(self._y.view, self._y.base, t, self.width, out)
        self._r.append(out[:n])
        self._pending = t[n:].copy()
        if n:
            self._last_lo = last_lo
        # keep what the waiting symbols and the next ones (after the last instant) need
        first = int(np.floor(t[n] - 0.5 * self.width + 0.5)) if n < len(t) else self._last_lo
        self._y.keep_from(min(first, self._last_lo) - 1)
        self._r.keep_from(self._r.end - KEEP_SYMBOLS)

    #: points of an eye trace per symbol period (a trace spans two periods: 2 P + 1 points)
    EYE_POINTS = 8
    #: traces kept, by absolute symbol index (a frame's eye is looked up in them); grown to
    #: twice the symbols of the largest chunk
    EYE_RING = 4096

    def _keep_traces(self, times, first_index: int, dc=None) -> None:
        """Traces of the matched-filtered ``y`` (the clock recovery's boxcar: the mean over
        ``[t - W/2, t + W/2)``, samples held over their unit interval) two symbol periods long,
        centred on each instant whose span has arrived, kept in a ring by absolute symbol index
        (``first_index`` is the index of ``times[0]``), each less the clock recovery's DC
        estimate at its symbol (``dc``, when given): the eye its decisions see."""
        P = self.EYE_POINTS
        K = self.EYE_RING
        while K < 2 * len(times) and K < (1 << 20):  # a chunk's symbols and the frame before
            K *= 2
        if self._ring is None or len(self._ring) < K:
            old = (self._ring, self._ring_idx)
            self._ring = np.zeros((K, 2 * P + 1), np.float32)
            self._ring_idx = np.full(K, -1, np.int64)
            if old[0] is not None:
                keep = old[1] >= 0
                self._ring[old[1][keep] % K] = old[0][keep]
                self._ring_idx[old[1][keep] % K] = old[1][keep]
        off = (np.arange(2 * P + 1) / P - 1.0) * self.period
        base, end = self._y.base, self._y.end
        W = self.sps  # the clock recovery's matched filter: the mean over [t - W/2, t + W/2)
        hw = 0.5 * W
        idx = first_index + np.arange(len(times))
        ok = (times + off[0] - hw - 1 >= base) & (times + off[-1] + hw + 2 < end)
        t, idx = times[ok][-K:], idx[ok][-K:]
        dc = np.zeros(len(t)) if dc is None or len(dc) != len(times) else \
            np.asarray(dc, np.float64)[ok][-K:]
        if not len(t):
            return
        lo = int(np.floor(t[0] + off[0] - hw)) - 1 - base
        hi = int(np.ceil(t[-1] + off[-1] + hw)) + 2 - base
        v = self._y.view[lo:hi].astype(np.float64)
        c = np.concatenate([[0.0], np.cumsum(v)])  # c[k]: the sum before sample lo + k

        def csum(x):  # the integral up to x (samples held over their unit interval)
            k = np.floor(x).astype(np.int64)
            return c[k] + (x - k) * v[k]

        x = t[:, None] + off[None, :] - base - lo
        tr = (csum(x + hw) - csum(x - hw)) / W - dc[:, None]
        K = len(self._ring)
        self._ring[idx % K] = tr.astype(np.float32)
        self._ring_idx[idx % K] = idx

    def eye_traces(self, first: int | None = None, count: int | None = None) -> np.ndarray:
        """The last ``eye_keep`` eye traces, oldest first (of symbols ``first .. first +
        count`` when given): float32, shape (traces, 2 P + 1), the middle point at the
        decision instant."""
        if self._ring is None:
            return np.zeros((0, 2 * self.EYE_POINTS + 1), np.float32)
        have = self._ring_idx >= 0
        if first is not None:
            have &= (self._ring_idx >= first) & (self._ring_idx < first + count)
        sel = np.nonzero(have)[0]
        sel = sel[np.argsort(self._ring_idx[sel])][-int(self.eye_keep or 1):]
        return self._ring[sel].copy()

    @property
    def symbols(self) -> int:
        """Symbols logged so far."""
        return self._r.end

    def frame_stats(self, first: int, count: int, deviation_hz: float = 0.0) -> dict:
        """``snr_db`` and ``freq_offset_hz`` over symbols ``first .. first + count`` (those
        still logged); an empty dict when fewer than 8 are, or the eye is closed. FM audio
        has ``freq_offset_hz`` only with the link's peak deviation (``deviation_hz``)."""
        if self.eye_keep:
            tr = self.eye_traces(int(first), int(count))
            if len(tr) >= 8:
                self.frame_eye, self.frame_eye_first = tr, int(first)
                self.frame_eyes += 1
                self.frame_eye_log.append((int(first), tr))
        a = max(int(first), self._r.base)
        b = min(int(first) + int(count), self._r.end)
        if b - a < 8:
            return {}
        r = self._r.view[a - self._r.base:b - self._r.base].astype(np.float64)
        lv = np.empty(3)
        if not _eye_levels(r, lv):
            return {}
        mu, ml, var = float(lv[0]), float(lv[1]), float(lv[2])
        amp, dc = 0.5 * (mu - ml), 0.5 * (mu + ml)
        if not (amp > 0 and math.isfinite(var)):
            return {}
        snr = 10 * math.log10(amp * amp / max(var, amp * amp * 1e-9))
        if self.hz_per_unit is not None:
            hz = dc * self.hz_per_unit
        elif deviation_hz > 0:
            hz = dc / amp * deviation_hz
        else:
            hz = None
        out = {"snr_db": round(snr, 2)}
        if hz is not None:
            out["freq_offset_hz"] = round(hz, 3)
        return out


def attach_quality(blocks) -> None:
    """Connect the first block of ``blocks`` that logs FSK quality (``quality`` attribute, an
    :class:`FskQuality`) to the :class:`~orbitlink.framing._base.FrameMeta` after it, so that
    frames get ``snr_db`` and ``freq_offset_hz``."""
    src = None
    for b in blocks:
        q = getattr(b, "quality", None)
        if isinstance(q, FskQuality) and src is None:
            src = q
        if src is not None and hasattr(b, "attach_quality"):
            b.attach_quality(src)
            return
