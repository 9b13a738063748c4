"""The top layer's sources and sinks: frames as text or JSON lines, KISS files, plots, WAV
recordings, payload files (:mod:`orbitlink.drivers.interfaces` has the interface; the file and
radio drivers have their own).

``frames_sink`` prints what ``orbitlink decode`` prints: one line per frame, as text or (with
``format: json``) one JSON object per frame with ``sample_index``, ``time_s``, ``time_utc``
(when the source knows the time of its first sample), ``hex`` and the frame's metadata
(``check`` among it: what vouches for the frame, ``none`` when nothing does; and for an AX.25
frame whose FCS passed, an ``ax25`` object), or (``format: tnc2``) AX.25 frames as TNC2
monitor lines. Frames no check vouches for are printed only with ``all_frames``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink.drivers.interfaces import Sink, Source, StreamInfo, register_sink, \
    register_source
from orbitlink.modem.block import Pdu, param

__all__ = ["FramesSink", "KissSink", "ConstellationSink", "SpectrumSink", "WaterfallSink",
           "FramesPlotSink", "WavSink",
           "PayloadSource", "CollectSink", "frame_record"]


class SinkError(OrbitlinkError):
    """A sink cannot write where it was told to."""


def parse_time(s):
    """A SigMF ``core:datetime`` as a naive UTC datetime, or None."""
    if not s:
        return None
    try:
        return _dt.datetime.fromisoformat(str(s).replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def ax25_frame(pdu):
    """The parsed AX.25 frame (:class:`orbitlink.framing.ax25.Ax25Frame`) of a received HDLC
    frame whose FCS passed, or None (another framing, a bad FCS, not AX.25)."""
    if pdu.meta.get("check") != "fcs" or not pdu.meta.get("crc_ok"):
        return None
    from orbitlink.framing import ax25
    from orbitlink.framing.errors import FrameParseError

    try:
        return ax25.parse(bytes(pdu.data))
    except FrameParseError:
        return None


def ax25_record(f) -> dict:
    """An AX.25 frame as the ``ax25`` object of ``decode --json``: ``source``,
    ``destination``, ``digipeaters`` (``*`` marks one that has repeated it), ``type`` (UI,
    I, RR, ...), ``control``, ``pid`` (None unless I or UI), ``text`` (the information field,
    non-printable bytes as ``<0xNN>``, as in TNC2 lines) and ``tnc2`` (the monitor line)."""
    return {"source": str(f.src), "destination": str(f.dest),
            "digipeaters": [str(d) + ("*" if d.h else "") for d in f.digipeaters],
            "type": f.kind, "control": int(f.control),
            "pid": None if f.pid is None else int(f.pid),
            "text": "".join(chr(b) if 0x20 <= b < 0x7F else f"<0x{b:02x}>" for b in f.info),
            "tnc2": f.tnc2()}


def frame_record(pdu, rec_time=None, ax25: bool = True) -> dict:
    """The JSON object of a received frame (``decode --json``); an AX.25 frame whose FCS
    passed also gets an ``ax25`` object (:func:`ax25_record`; ``ax25=False``: not parsed,
    for output that does not show it)."""
    d = {"sample_index": pdu.meta["sample_index"], "time_s": pdu.meta["time_s"]}
    if rec_time is not None:
        t = rec_time + _dt.timedelta(seconds=pdu.meta["time_s"])
        d["time_utc"] = t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    d["hex"] = bytes(pdu.data).hex()
    d.update({k: v for k, v in pdu.meta.items() if k not in d})
    f = ax25_frame(pdu) if ax25 else None
    if f is not None and "ax25" not in d:
        d["ax25"] = ax25_record(f)
    return d


def _open_out(path: str, mode: str):
    if path in ("", "-"):
        return None
    try:
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
        return open(path, mode)
    except OSError as e:
        raise SinkError(f"{path}: cannot write ({e.strerror or e})") from None


# --------------------------------------------------------------------------------------------
# frames


@dataclass(frozen=True)
class FramesSinkParams:
    """Parameters of :class:`FramesSink`."""

    format: str = param("text", "One line per frame: text, a JSON object, or (tnc2) a TNC2 "
                        "monitor line for an AX.25 frame (other frames as text)",
                        choices=("text", "json", "tnc2"))
    path: str = param("-", "File to write ('-': standard output)")
    all_frames: bool = param(False, "Also print frames that no check vouches for (check "
                             "'none', e.g. a U482C frame without Reed-Solomon); they are "
                             "never counted as good")


@register_sink
class FramesSink(Sink):
    """Received frames, one line each (``orbitlink decode``'s output).

    Counters: ``frames`` (printed), ``frames_ok`` (printed with a check that passed) and
    ``frames_unchecked`` (frames no check vouches for, printed only with ``all_frames``).

    Input
    -----
    pdu : frames with ``sample_index``, ``time_s``, ``check`` and ``crc_ok`` in their metadata
    (after ``frame_meta``).
    """

    name = "frames_sink"
    Params = FramesSinkParams
    in_types = ("pdu",)

    def __init__(self, params=None, stream=None, before_line=None, **kw):
        super().__init__(params, **kw)
        self._stream = stream
        self.before_line = before_line  # called before each line (e.g. to clear a progress bar)
        self.counters = {"frames": 0, "frames_ok": 0, "frames_unchecked": 0}

    def open(self, info: StreamInfo) -> None:
        super().open(info)
        self._rec_time = parse_time(info.datetime)
        self._fh = _open_out(self.params.path, "w")

    def write(self, items) -> None:
        out = self._fh or self._stream or sys.stdout
        for p in items:
            if p.meta.get("check", "none") == "none":
                self.counters["frames_unchecked"] += 1
                if not self.params.all_frames:
                    continue
            self.counters["frames"] += 1
            self.counters["frames_ok"] += bool(p.meta.get("crc_ok"))
            d = frame_record(p, self._rec_time, ax25=self.params.format == "json")
            f = ax25_frame(p) if self.params.format == "tnc2" else None
            if self.params.format == "json":
                line = json.dumps(d)
            elif f is not None:
                line = f.tnc2()
            else:
                snr = d.get("snr_db")
                df = d.get("freq_offset_hz")
                line = (f"frame {self.counters['frames'] - 1:5d}  "
                        f"sample {d['sample_index']:>10d}  t {d['time_s']:10.4f} s  "
                        + (f"SNR {snr:5.1f} dB  " if snr is not None else "")
                        + (f"df {df:+10.1f} Hz  " if df is not None else "")
                        + ("CRC ok " if d["crc_ok"] else "CRC BAD" if d.get("check", "none")
                           != "none" else "NOCHECK") + f"  {d['hex']}")
            if self.before_line is not None:
                self.before_line()
            print(line, file=out, flush=True)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@dataclass(frozen=True)
class KissSinkParams:
    """Parameters of :class:`KissSink`."""

    path: str = param("", "The .kiss file to write")
    all_frames: bool = param(False, "Also write frames that failed their check")


@register_sink
class KissSink(Sink):
    """Frames that pass their check, as KISS data frames (port 0) in a file.

    Input
    -----
    pdu : frames with ``crc_ok`` in their metadata.
    """

    name = "kiss_sink"
    Params = KissSinkParams
    in_types = ("pdu",)

    def open(self, info: StreamInfo) -> None:
        super().open(info)
        if not self.params.path:
            raise SinkError("kiss_sink: no path given")
        self._fh = _open_out(self.params.path, "wb")
        self.counters = {"frames": 0}

    def write(self, items) -> None:
        from orbitlink.framing.kiss import encode

        for p in items:
            if p.meta.get("crc_ok") or self.params.all_frames:
                self._fh.write(encode(bytes(p.data)))
                self.counters["frames"] += 1
        if items:
            self._fh.flush()

    def close(self) -> None:
        if getattr(self, "_fh", None) is not None:
            self._fh.close()
            self._fh = None


# --------------------------------------------------------------------------------------------
# collecting (for library callers: the loopback, tests)


class CollectSink(Sink):
    """Keeps what it receives (PDUs in a list; arrays: the last ``keep`` items, or all)."""

    name = "collect"
    in_types = ("c64", "f32", "u8", "sym", "pdu")

    @dataclass(frozen=True)
    class Params:
        keep: int = param(0, "Arrays: keep only the last this many items (0: all)", lo=0)

    def open(self, info: StreamInfo) -> None:
        super().open(info)
        self.items = []
        self._n = 0

    def write(self, items) -> None:
        if isinstance(items, list):
            self.items.extend(items)
            return
        if len(items):
            self.items.append(np.array(items))
            self._n += len(items)
            keep = self.params.keep
            while keep and len(self.items) > 1 and self._n - len(self.items[0]) >= keep:
                self._n -= len(self.items.pop(0))

    def array(self):
        if not self.items:
            return None
        x = np.concatenate(self.items)
        return x[-self.params.keep:] if self.params.keep else x


# --------------------------------------------------------------------------------------------
# plots


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SinkError("plots need matplotlib (pip install 'orbitlink[plot]')") from None
    return plt


@dataclass(frozen=True)
class ConstellationSinkParams:
    """Parameters of :class:`ConstellationSink`."""

    path: str = param("", "PNG file to write at the end of the stream")
    keep: int = param(4000, "Plot the last this many symbols", lo=1, hi=10_000_000)
    title: str = param("", "Title of the plot")


@register_sink
class ConstellationSink(Sink):
    """A constellation (PSK symbols), an eye diagram (FSK, given its demodulator), or a
    histogram of soft symbols, as a PNG.

    With ``demod`` an FSK demodulator (its ``quality`` keeps eye traces:
    :meth:`orbitlink.modem.quality.FskQuality.eye_traces`), the eye of every frame is kept
    (up to ``EYE_TRACES`` traces, the matched-filtered frequency signal over two symbol
    periods, less the clock recovery's DC) and drawn; without a frame, the last symbols'.

    Input
    -----
    sym : synchronised symbols (the ``z`` field is plotted), or f32 soft symbols (positive
    means 1).
    """

    name = "constellation_sink"
    Params = ConstellationSinkParams
    in_types = ("sym", "f32")
    EYE_TRACES = 2000

    def __init__(self, params=None, demod=None, **kw):
        super().__init__(params, **kw)
        self.demod = demod

    def open(self, info: StreamInfo) -> None:
        super().open(info)
        self._keep = CollectSink(keep=self.params.keep)
        self._keep.open(info)
        q = getattr(self.demod, "quality", None)
        self._eye = q if q is not None and hasattr(q, "eye_traces") else None
        self._eyes, self._eye_frames, self._seen = [], 0, 0
        if self._eye is not None:
            self._eye.eye_keep = 512

    def _take_eye(self) -> None:
        q = self._eye
        if q is None or q.frame_eyes == self._seen:
            return
        new = q.frame_eyes - self._seen
        self._seen = q.frame_eyes
        self._eye_frames += new
        for _, tr in list(q.frame_eye_log)[-new:]:
            if sum(len(t) for t in self._eyes) < self.EYE_TRACES:
                self._eyes.append(tr)

    def write(self, items) -> None:
        self._take_eye()
        z = items["z"] if getattr(items, "dtype", None) is not None and items.dtype.names \
            else np.asarray(items)
        self._keep.write(z)

    def close(self) -> None:
        if not self.params.path:
            return
        self._take_eye()
        z = self._keep.array()
        z = np.zeros(0, np.complex64) if z is None else z
        plt = _pyplot()
        title = self.params.title or "symbols"
        if self._eye is not None:
            if self._eyes:
                tr = np.concatenate(self._eyes)[: self.EYE_TRACES]
                what = f"eye of {self._eye_frames} frame(s), {len(tr)} symbols"
            else:
                tr = self._eye.eye_traces()
                what = f"no frame: eye of the last {len(tr)} symbols"
            self.counters["eye_traces"] = len(tr)
            P = (tr.shape[1] - 1) // 2 if len(tr) else 8
            x = np.arange(2 * P + 1) / P
            fig, ax = plt.subplots(figsize=(6, 4))
            if len(tr):
                ax.plot(x, tr.T, color="C0", alpha=max(0.02, min(0.5, 20 / len(tr))), lw=0.8)
            ax.axvline(1.0, color="C1", ls="--", lw=0.8)
            ax.set_xlabel("time (symbol periods; decision at 1)")
            ax.set_ylabel("matched-filter output, DC removed")
            ax.set_title(f"{title}: {what}")
        elif not np.iscomplexobj(z):
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.hist(z, bins=120, color="C0")
            ax.set_xlabel("soft symbol (positive = 1)")
            ax.set_ylabel("count")
            ax.set_title(f"{title}: soft symbols (last {len(z)})")
        else:
            fig, ax = plt.subplots(figsize=(5, 5))
            ax.plot(z.real, z.imag, ".", ms=2, alpha=0.5)
            ax.set_aspect("equal")
            lim = 1.6 * max(1e-3, float(np.sqrt(np.mean(np.abs(z) ** 2)))) if len(z) else 1.5
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_xlabel("I")
            ax.set_ylabel("Q")
            ax.set_title(f"{title}: synchronised symbols (last {len(z)})")
        ax.grid(True, alpha=0.3)
        _save(fig, plt, self.params.path)
        self.counters["plot"] = self.params.path


@dataclass(frozen=True)
class SpectrumSinkParams:
    """Parameters of :class:`SpectrumSink`."""

    path: str = param("", "PNG file to write at the end of the stream")
    nfft: int = param(1024, "FFT length (Welch segments, Hann window, 50 % overlap)", lo=16,
                      hi=1 << 20)
    title: str = param("", "Title of the plot")


@register_sink
class SpectrumSink(Sink):
    """The average power spectral density of a stream (Welch), as a PNG.

    Input
    -----
    c64 IQ (two-sided spectrum) or f32 audio (one-sided) samples at the source's rate.
    """

    name = "spectrum_sink"
    Params = SpectrumSinkParams
    in_types = ("c64", "f32")

    def open(self, info: StreamInfo) -> None:
        super().open(info)
        n = self.params.nfft
        self._win = np.hanning(n).astype(np.float32)
        self._acc = np.zeros(n)
        self._segs = 0
        self._tail = None

    def write(self, items) -> None:
        n, hop = self.params.nfft, self.params.nfft // 2
        x = np.asarray(items)
        if self._tail is not None:
            x = np.concatenate([self._tail, x])
        k = 0
        while k + n <= len(x):
            self._acc += np.abs(np.fft.fft(x[k:k + n] * self._win)) ** 2
            self._segs += 1
            k += hop
        self._tail = x[k:]

    def psd(self):
        """(frequencies in Hz, PSD in dB/Hz), frequencies ascending: two-sided for IQ,
        one-sided (0 to half the rate, the power of the negative frequencies folded in) for
        real audio, whose spectrum is symmetric."""
        fs = self.info.samp_rate
        p = self._acc / max(self._segs, 1) / (fs * float(np.sum(self._win ** 2)))
        f = np.fft.fftfreq(self.params.nfft, 1 / fs)
        if self.info.out_type == "f32":
            half = self.params.nfft // 2
            one = p[:half + 1].copy()
            one[1:half] *= 2  # the mirrored half
            return np.abs(f[:half + 1]), 10 * np.log10(one + 1e-20)
        order = np.argsort(f)
        return f[order], 10 * np.log10(p[order] + 1e-20)

    def close(self) -> None:
        if not self.params.path:
            return
        f, p = self.psd()
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(f / 1e3, p)
        ax.set_xlabel("frequency (kHz)")
        ax.set_ylabel("PSD (dB/Hz)")
        ax.grid(True, alpha=0.3)
        ax.set_title(f"{self.params.title or 'stream'}: received spectrum")
        _save(fig, plt, self.params.path)
        self.counters["plot"] = self.params.path


@dataclass(frozen=True)
class WaterfallSinkParams:
    """Parameters of :class:`WaterfallSink`."""

    path: str = param("", "PNG file to write at the end of the stream")
    nfft: int = param(1024, "FFT length (Hann window)", lo=16, hi=1 << 16)
    rows: int = param(600, "Most rows in the picture (rows are averaged to fit)", lo=8,
                      hi=100_000)
    title: str = param("", "Title of the plot")


@register_sink
class WaterfallSink(Sink):
    """Power over frequency and time (a waterfall), as a PNG: each row the mean power
    spectrum of its stretch of the stream, in dB. The stretch is the stream's length over
    ``rows`` when the source says its length; otherwise 0.1 s, and when the rows grow past
    ``rows`` neighbouring rows are merged (the picture keeps its height, memory stays
    bounded). IQ: two-sided; real audio: one-sided.

    Input
    -----
    c64 IQ or f32 audio samples at the source's rate.
    """

    name = "waterfall_sink"
    Params = WaterfallSinkParams
    in_types = ("c64", "f32")

    def open(self, info: StreamInfo) -> None:
        super().open(info)
        n = self.params.nfft
        self._win = np.hanning(n).astype(np.float32)
        total = info.num_samples or 0
        self._per_row = max(1, int(np.ceil(total / self.params.rows / n))) if total else \
            max(1, int(0.1 * info.samp_rate / n))  # FFTs a row
        self._rows: list = []
        self._acc = np.zeros(n)
        self._k = 0
        self._tail = None
        self.counters["rows"] = 0

    def write(self, items) -> None:
        n = self.params.nfft
        x = np.asarray(items)
        if self._tail is not None and len(self._tail):
            x = np.concatenate([self._tail, x])
        m = len(x) // n
        if m:
            seg = x[:m * n].reshape(m, n) * self._win
            pw = np.abs(np.fft.fft(seg, axis=1)) ** 2
            for row in pw:
                self._acc += row
                self._k += 1
                if self._k == self._per_row:
                    self._push()
        self._tail = x[m * n:]

    def _push(self) -> None:
        self._rows.append(self._acc / self._k)
        self._acc = np.zeros(self.params.nfft)
        self._k = 0
        if len(self._rows) > self.params.rows:  # merge neighbours: half as many, twice as long
            r = self._rows
            self._rows = [(r[i] + r[i + 1]) / 2 if i + 1 < len(r) else r[i]
                          for i in range(0, len(r), 2)]
            self._per_row *= 2

    def image(self):
        """(frequencies in Hz ascending, seconds per row, rows x bins in dB)."""
        rows = list(self._rows) + ([self._acc / self._k] if self._k else [])
        fs, n = self.info.samp_rate, self.params.nfft
        f = np.fft.fftfreq(n, 1 / fs)
        img = np.array(rows) if rows else np.zeros((0, n))
        if self.info.out_type == "f32":
            keep = np.arange(n // 2 + 1)
            f = np.abs(f[keep])
            img = img[:, keep] if len(img) else np.zeros((0, len(keep)))
        else:
            order = np.argsort(f)
            f = f[order]
            img = img[:, order] if len(img) else np.zeros((0, n))
        return f, self._per_row * n / fs, 10 * np.log10(img + 1e-20)

    def close(self) -> None:
        f, dt, img = self.image()
        self.counters["rows"] = len(img)
        if not self.params.path:
            return
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(7, 5))
        if len(img):
            lo, hi = np.percentile(img, (5, 99.9))
            ax.imshow(img, aspect="auto", origin="upper", cmap="viridis", vmin=lo, vmax=hi,
                      extent=(f[0] / 1e3, f[-1] / 1e3, len(img) * dt, 0))
        ax.set_xlabel("frequency (kHz)")
        ax.set_ylabel("time (s)")
        ax.set_title(f"{self.params.title or 'stream'}: waterfall ({len(img)} rows of "
                     f"{dt:.3g} s)")
        _save(fig, plt, self.params.path)
        self.counters["plot"] = self.params.path


@dataclass(frozen=True)
class FramesPlotSinkParams:
    """Parameters of :class:`FramesPlotSink`."""

    path: str = param("", "PNG file to write at the end of the stream")
    title: str = param("", "Title of the plot")


@register_sink
class FramesPlotSink(Sink):
    """The frames on the time axis, as a PNG: one mark per frame at its time, its height the
    frame's SNR where it has one (else its length), green when a check passed, red when it
    failed, grey when nothing checked it.

    Input
    -----
    pdu : frames with ``time_s`` (after ``frame_meta``).
    """

    name = "frames_plot_sink"
    Params = FramesPlotSinkParams
    in_types = ("pdu",)

    def open(self, info: StreamInfo) -> None:
        super().open(info)
        self.frames = []  # (time_s, snr or None, length, status)

    def write(self, items) -> None:
        for p in items:
            m = p.meta
            status = "ok" if m.get("crc_ok") else (
                "none" if m.get("check", "none") == "none" else "failed")
            self.frames.append((float(m.get("time_s", 0.0)), m.get("snr_db"), len(p.data),
                                status))

    def close(self) -> None:
        self.counters["frames"] = len(self.frames)
        if not self.params.path:
            return
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(8, 3.5))
        use_snr = any(s is not None for _, s, _, _ in self.frames)
        for status, colour in (("ok", "C2"), ("failed", "C3"), ("none", "0.6")):
            pts = [(t, (s if use_snr else n)) for t, s, n, st in self.frames
                   if st == status and (s is not None or not use_snr)]
            if pts:
                t, y = zip(*pts)
                ax.plot(t, y, "o", color=colour, ms=5,
                        label={"ok": "check passed", "failed": "check failed",
                               "none": "no check"}[status] + f" ({len(pts)})")
        dur = (self.info.num_samples or 0) / self.info.samp_rate if self.info.samp_rate else 0
        if dur:
            ax.set_xlim(0, dur)
        ax.set_xlabel("time in the recording (s)")
        ax.set_ylabel("SNR (dB)" if use_snr else "frame length (bytes)")
        ax.grid(True, alpha=0.3)
        if self.frames:
            ax.legend(loc="best", fontsize=8)
        ax.set_title(f"{self.params.title or 'stream'}: {len(self.frames)} frames")
        _save(fig, plt, self.params.path)
        self.counters["plot"] = self.params.path


def _save(fig, plt, path):
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# WAV recordings and payload files (the transmitter's graph)


@dataclass(frozen=True)
class WavSinkParams:
    """Parameters of :class:`WavSink`."""

    path: str = param("", "The .wav file to write (16-bit PCM)")


@register_sink
class WavSink(Sink):
    """A 16-bit PCM WAV file: mono for audio (f32), stereo I/Q for c64.

    Input
    -----
    c64 IQ or f32 audio samples (full scale +-1) at the source's rate.
    """

    name = "wav_sink"
    Params = WavSinkParams
    in_types = ("c64", "f32")

    def __init__(self, params=None, channels: int | None = None, **kw):
        super().__init__(params, **kw)
        self._channels = channels
        self.writer = None

    def open(self, info: StreamInfo) -> None:
        from orbitlink.drivers.wav import WavWriter

        super().open(info)
        if not self.params.path:
            raise SinkError("wav_sink: no path given")
        ch = self._channels or (2 if info.out_type == "c64" else 1)
        self.writer = WavWriter(self.params.path, info.samp_rate, channels=ch,
                                sample_format="int16")
        self.counters = {"samples": 0}

    def write(self, items) -> None:
        if len(items):
            self.writer.write(items)
            self.counters["samples"] += len(items)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@dataclass(frozen=True)
class PayloadSourceParams:
    """Parameters of :class:`PayloadSource`."""

    path: str = param("", "Payloads: a text file with one frame per line in hex, or a .kiss "
                      "file ('' : given when the graph is run, --input)")
    samp_rate: float = param(0.0, "Sample rate of the transmitter's output (for the sinks)",
                             unit="Hz", lo=0.0)


@register_source
class PayloadSource(Source):
    """Payloads to transmit, read from a file as they are needed.

    Output
    ------
    pdu : one Pdu per payload (lists of up to the chunk size).
    """

    name = "payload_source"
    Params = PayloadSourceParams
    out_type = "pdu"

    def __init__(self, params=None, payloads=None, **kw):
        super().__init__(params, **kw)
        self._payloads = payloads

    def open(self) -> StreamInfo:
        if self._payloads is None:
            if not self.params.path:
                raise SinkError("the graph's payload_source has no path; give the payload "
                                "file with --input FILE")
            self._payloads = _iter_payloads(self.params.path)
        self.counters = {"payloads": 0}
        return StreamInfo(samp_rate=self.params.samp_rate, out_type="pdu",
                          name=self.params.path or "payloads")

    def chunks(self, n: int) -> Iterator[list]:
        group = []
        per = max(1, min(int(n), 64))
        for p in self._payloads:
            group.append(Pdu(bytes(p)))
            self.counters["payloads"] += 1
            if len(group) == per:
                yield group
                group = []
        if group:
            yield group


def _iter_payloads(path: str):
    from orbitlink.flowgraphs.links import read_payloads

    for _, b in read_payloads(path):
        yield b
