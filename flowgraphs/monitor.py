"""What the station shows of its signal on the bus: spectrum rows of the received band, and the
demodulator's symbols (a constellation for PSK, an eye diagram for the FSK family), for the live
view (``orbitlink view``) and any other subscriber.

- :class:`SpectrumMonitor` (on the source, before any correction: the band as the radio
  delivers it, the carrier sliding with Doppler): every ``1 / rows_per_s`` seconds of signal,
  and no more often than that in wall time, the averaged power spectrum of the latest samples
  (Hann window, half-overlapping segments, up to 16 of them) in ``nbins`` bins, quantised to
  u8 levels: ``dB = db0 + level * db_step`` (0.5 dB steps from the row's floor; dB full scale,
  a full-scale sine is 0 dB). IQ: two-sided, -rate/2 .. +rate/2 (FFT-shifted); real audio:
  one-sided, 0 .. rate/2.
- :class:`SymbolsMonitor` (on the demodulator): at most ``sets_per_s`` times a second, the last
  ``points`` synchronised symbols (I, Q as f32 pairs, form ``constellation``) or, for an FSK
  demodulator, eye traces (form ``eye``: the matched-filtered frequency signal over two
  symbol periods around each decision instant, ``2 P + 1`` points, from
  :meth:`FskQuality.eye_traces`): those of the last frame (meta ``of: "frame"``) for
  ``FRAME_EYE_HOLD_S`` after it, else the latest symbols' (``of: "live"``; between bursts,
  the noise).

Both publish through the station's :class:`~orbitlink.flowgraphs.bus.BusPublisher` as the
bus's monitor kinds (``spectrum``, ``symbols``): best effort, never waited for, rate-limited
here, so that they cost the receiver little (README "The bus").
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass

import numpy as np

from orbitlink.drivers.interfaces import Sink, StreamInfo
from orbitlink.modem.block import param

__all__ = ["SpectrumMonitor", "SymbolsMonitor", "spectrum_db", "quantise_db"]

DB_STEP = 0.5  # dB per level of a spectrum row
MAX_SEGMENTS = 16  # FFT segments averaged per row


def spectrum_db(x: np.ndarray, nbins: int, one_sided: bool) -> np.ndarray:
    """The averaged power spectrum of ``x`` in ``nbins`` bins, dB full scale (a full-scale
    complex exponential, or a full-scale real sine, is 0 dB in its bin). ``x`` holds at least
    one segment (``nbins`` samples, ``2 nbins`` for one-sided)."""
    n = 2 * nbins if one_sided else nbins
    w = np.hanning(n).astype(np.float32)
    step = n // 2
    nseg = min(MAX_SEGMENTS, max(1, (len(x) - n) // step + 1))
    start = len(x) - (nseg - 1) * step - n  # the latest samples
    segs = np.lib.stride_tricks.sliding_window_view(x[start:], n)[::step][:nseg]
    if one_sided:
        f = np.fft.rfft(segs * w, axis=1)[:, :nbins]
        scale = (w.sum() / 2) ** 2  # a real sine of amplitude 1 puts 1/2 in its bin
    else:
        f = np.fft.fftshift(np.fft.fft(segs * w, axis=1), axes=1)
        scale = w.sum() ** 2
    p = np.mean(f.real ** 2 + f.imag ** 2, axis=0) / scale
    return 10 * np.log10(np.maximum(p, 1e-20))


def quantise_db(db: np.ndarray, step: float = DB_STEP) -> tuple[float, float, bytes]:
    """(db0, step, levels): u8 levels from the row's floor, ``dB = db0 + level * step``; a
    row wider than 255 steps keeps its top (what is further below the peak reads as db0)."""
    db0 = max(math.floor(float(np.min(db))), math.ceil(float(np.max(db))) - 255 * step)
    lv = np.clip(np.round((db - db0) / step), 0, 255).astype(np.uint8)
    return float(db0), float(step), lv.tobytes()


class _Monitor(Sink):
    """Publishes through ``publisher`` (set by the station before the graph opens) on
    ``<station>/<link>/<kind>``; counts what it published and what the bus dropped."""

    def __init__(self, params=None, publisher=None, station: str = "station",
                 link: str = "link", **kw):
        super().__init__(params, **kw)
        self.publisher = publisher
        self.station, self.link = station, link
        self.counters = {"published": 0, "dropped": 0}

    def _sent(self, ok: bool) -> None:
        self.counters["published" if ok else "dropped"] += 1


@dataclass(frozen=True)
class SpectrumMonitorParams:
    """Parameters of :class:`SpectrumMonitor`."""

    nbins: int = param(1024, "Bins of a spectrum row", lo=64, hi=65536)
    rows_per_s: float = param(10.0, "Rows per second of signal, and at most per second of "
                              "wall time", unit="1/s", lo=0.1, hi=100.0)


class SpectrumMonitor(_Monitor):
    """Spectrum rows of the band on the bus (module docstring).

    Input
    -----
    c64 : IQ (two-sided rows), or f32 : a receiver's audio (one-sided rows).
    """

    name = "spectrum_monitor"
    Params = SpectrumMonitorParams
    in_types = ("c64", "f32")

    def open(self, info: StreamInfo) -> None:
        super().open(info)
        p = self.params
        self._rate = float(info.samp_rate)
        self._center = float(info.center_freq or 0.0)
        self._one_sided = info.out_type == "f32"
        seg = 2 * p.nbins if self._one_sided else p.nbins
        self._keep = seg * (MAX_SEGMENTS + 1) // 2
        self._buf = np.zeros(self._keep, np.float32 if self._one_sided else np.complex64)
        self._fill = 0
        self._seen = 0  # samples so far
        self._every = max(1, int(round(self._rate / p.rows_per_s)))
        self._next = max(seg, self._every)  # sample count at which the next row is due
        self._wall = 0.0
        self._min_wall = 1.0 / p.rows_per_s

    def write(self, x) -> None:
        x = np.asarray(x)
        n = len(x)
        if n >= self._keep:
            self._buf[:] = x[-self._keep:]
        elif n:
            self._buf[:-n] = self._buf[n:]
            self._buf[-n:] = x
        self._fill = min(self._keep, self._fill + n)
        self._seen += n
        if self._seen < self._next or self.publisher is None:
            return
        now = _time.monotonic()
        if now - self._wall < self._min_wall * 0.95:  # faster than real time: fewer rows
            return
        self._wall = now
        self._next = self._seen + self._every
        p = self.params
        seg = 2 * p.nbins if self._one_sided else p.nbins
        if self._fill < seg:
            return
        db = spectrum_db(self._buf[self._keep - self._fill:], p.nbins, self._one_sided)
        db0, step, levels = quantise_db(db)
        meta = {"nbins": p.nbins, "db0": db0, "db_step": step,
                "center_freq": self._center, "samp_rate": self._rate,
                "one_sided": self._one_sided, "time_s": round(self._seen / self._rate, 6),
                "span_samples": int(min(self._fill, seg * (MAX_SEGMENTS + 1) // 2))}
        self._sent(self.publisher.publish_spectrum(self.station, self.link, meta, levels,
                                                   self._seen))

    def retuned(self, center_freq: float) -> None:
        """The radio was retuned: rows from now on are labelled with the new centre."""
        self._center = float(center_freq)


@dataclass(frozen=True)
class SymbolsMonitorParams:
    """Parameters of :class:`SymbolsMonitor`."""

    points: int = param(512, "Symbols (or eye traces, at most 128) per set", lo=16,
                        hi=8192)
    sets_per_s: float = param(2.0, "Sets published per second of wall time at most",
                              unit="1/s", lo=0.1, hi=50.0)


class SymbolsMonitor(_Monitor):
    """The demodulator's symbols on the bus (module docstring).

    ``demod`` is the demodulator block whose output this sink reads: when it logs an FSK eye
    (``quality`` with :meth:`eye_traces`), eye traces are published; otherwise the items'
    complex symbols (the ``z`` field of ``sym`` items) as a constellation.

    Input
    -----
    sym : synchronised symbols, or f32 : soft symbols (FSK: the eye is read from ``demod``).
    """

    name = "symbols_monitor"
    Params = SymbolsMonitorParams
    in_types = ("sym", "f32")
    EYE_TRACES = 128
    FRAME_EYE_HOLD_S = 5.0  # the last frame's eye is shown this long after it

    def __init__(self, params=None, demod=None, **kw):
        super().__init__(params, **kw)
        self.demod = demod

    def open(self, info: StreamInfo) -> None:
        super().open(info)
        q = getattr(self.demod, "quality", None)
        self._eye = q if q is not None and hasattr(q, "eye_traces") else None
        if self._eye is not None:
            self._eye.eye_keep = min(self.EYE_TRACES, self.params.points)
        self._z = np.zeros(self.params.points, np.complex64)
        self._nz = 0
        self._wall = _time.monotonic()
        self._n = 0
        self._frames_seen = 0
        self._frame_wall = -1e9

    def write(self, items) -> None:
        n = len(items)
        self._n += n
        if self._eye is None:
            names = getattr(getattr(items, "dtype", None), "names", None)
            if not names or "z" not in names:
                return  # soft symbols without an eye: nothing to draw
            z = np.asarray(items["z"], np.complex64)
            k = min(len(z), len(self._z))
            if k:
                self._z = np.roll(self._z, -k)
                self._z[-k:] = z[-k:]
                self._nz = min(len(self._z), self._nz + k)
        now = _time.monotonic()
        if self._eye is not None and self._eye.frame_eyes != self._frames_seen:
            self._frames_seen = self._eye.frame_eyes
            self._frame_wall = now
        if self.publisher is None or now - self._wall < 1.0 / self.params.sets_per_s:
            return
        self._wall = now
        if self._eye is not None:
            # bursts: the last frame's eye is held for a while, then the live one (noise
            # between bursts is shown as it is)
            held = now - self._frame_wall < self.FRAME_EYE_HOLD_S
            tr = self._eye.frame_eye if held else self._eye.eye_traces()
            if tr is None or not len(tr):
                return
            meta = {"form": "eye", "traces": int(tr.shape[0]), "points": int(tr.shape[1]),
                    "sps": int(self._eye.EYE_POINTS), "symbols": self._n,
                    "of": "frame" if held else "live"}
            if held:
                meta["frame_symbol"] = self._eye.frame_eye_first
            payload = np.ascontiguousarray(tr, "<f4").tobytes()
        else:
            if self._nz < 16:
                return
            z = self._z[-self._nz:]
            meta = {"form": "constellation", "count": int(len(z)), "symbols": self._n}
            payload = np.ascontiguousarray(z).view("<f4").tobytes()
        self._sent(self.publisher.publish_symbols(self.station, self.link, meta, payload))
