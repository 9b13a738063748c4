"""File sources and sinks of a graph: recordings (SigMF, WAV, raw), standard input and pipes,
and a SigMF recording of a stream.

``recording_source`` opens what :func:`open_input` opens:

- ``-``: standard input, raw samples of ``format`` at ``rate`` (``rtl_sdr -s 2.4e6 - |
  orbitlink decode - --format cu8 --rate 2.4e6 --link L``);
- a named pipe or a character device: the same, read as a stream (its size is unknown);
- a SigMF recording, a WAV file (mono: a receiver's audio; stereo: IQ) or a raw file
  (:func:`orbitlink.drivers.sigmf.open_recording`).

A stream read from a pipe has no length and no metadata; everything else about it (sample
formats, the finite check, a partial last sample) is as for a file.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from orbitlink.drivers import sigmf
from orbitlink.drivers.interfaces import Sink, Source, StreamInfo, register_sink, \
    register_source
from orbitlink.drivers.sigmf import DATATYPES, FORMAT_ALIASES, RecordingError
from orbitlink.modem.block import param

__all__ = ["open_input", "StreamRecording", "RecordingSource", "SigmfSink"]


class StreamRecording(sigmf.Recording):
    """Raw samples read from a byte stream (standard input, a pipe): ``num_samples`` is None
    until the stream ends."""

    def __init__(self, fileobj, name: str, datatype: str, samp_rate: float):
        super().__init__(data_path=name, meta_path=None, datatype=datatype,
                         samp_rate=samp_rate, num_samples=0,
                         kind="iq" if DATATYPES[datatype].channels == 2 else "audio")
        self._fh = fileobj
        self.num_samples = None

    def chunks(self, chunk_size: int = 65536) -> Iterator[np.ndarray]:
        dt = DATATYPES[self.datatype]
        size = dt.itemsize
        want = max(1, int(chunk_size)) * size
        done = 0
        pending = b""
        while True:
            try:
                raw = self._fh.read(want - len(pending))
            except OSError as exc:
                raise RecordingError(f"{self.name}: read error after {done} samples "
                                     f"({exc.strerror or exc})") from None
            if not raw:
                break
            pending += raw
            whole = len(pending) // size * size
            if len(pending) < want:  # a pipe gives what it has: wait for a whole chunk
                continue
            x = sigmf._convert(pending[:whole], dt)
            pending = pending[whole:]
            yield from self._checked(x, done)
            done += len(x)
        whole = len(pending) // size * size
        if whole:
            x = sigmf._convert(pending[:whole], dt)
            yield from self._checked(x, done)
            done += len(x)
        self.num_samples = done
        rest = len(pending) - whole
        if rest:
            raise sigmf.TruncatedRecordingError(
                f"{self.name}: the stream ended in a partial sample ({rest} of {size} bytes "
                f"of a {self.datatype} sample) after {done} whole samples")
        if done == 0:
            raise sigmf.EmptyRecordingError(f"{self.name}: the stream held no samples")


def _stream_format(name: str, fmt, samp_rate) -> tuple[str, float]:
    if not fmt:
        raise sigmf.UnsupportedDatatypeError(
            f"{name}: a stream has no metadata; give its sample format (--format cu8, "
            f"ci16_le, cf32_le, ...) and sample rate (--rate)")
    key = FORMAT_ALIASES.get(str(fmt).lower(), str(fmt).lower())
    if key not in DATATYPES:
        raise sigmf.UnsupportedDatatypeError(
            f"{name}: unsupported sample format {fmt!r} (supported: "
            f"{', '.join(DATATYPES)})")
    if samp_rate is None:
        raise sigmf.MetadataError(f"{name}: a stream has no metadata; give its sample rate "
                                  "(--rate)")
    return key, sigmf._rate(samp_rate, name, "the sample rate")


def open_input(path: str, fmt: str | None = None, samp_rate: float | None = None,
               strict: bool = False, stdin=None):
    """Open a recording, standard input (``-``) or a pipe (see the module docstring)."""
    if path == "-":
        key, rate = _stream_format("standard input", fmt, samp_rate)
        fh = stdin if stdin is not None else sys.stdin.buffer
        return StreamRecording(fh, "standard input", key, rate)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if mode and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        key, rate = _stream_format(path, fmt, samp_rate)
        try:
            fh = open(path, "rb", buffering=0)
        except OSError as exc:
            raise RecordingError(f"{path}: cannot open ({exc.strerror or exc})") from None
        return StreamRecording(fh, path, key, rate)
    return sigmf.open_recording(path, fmt, samp_rate, strict=strict)


# --------------------------------------------------------------------------------------------
# the source


@dataclass(frozen=True)
class RecordingSourceParams:
    """Parameters of :class:`RecordingSource`."""

    path: str = param("", "Recording to read: SigMF, WAV or raw file, '-' for standard input, "
                      "or a named pipe ('' : given when the graph is run, --input)")
    format: str = param("", "Sample format of a raw file or stream (cu8, ci16_le, cf32_le, "
                        "...); '' for SigMF and WAV")
    rate: float = param(0.0, "Sample rate of a raw file or stream (0: from the metadata)",
                        unit="Hz", lo=0.0)
    medium: str = param("iq", "What the graph takes: complex IQ, or a receiver's real audio",
                        choices=("iq", "audio"))
    strict: bool = param(False, "A recording whose data does not match its metadata (SigMF "
                         "core:sha512, annotations past the end) is an error, not a warning")


@register_source
class RecordingSource(Source):
    """Samples of a recording, standard input or a pipe.

    Output
    ------
    c64 (``medium: iq``) or f32 (``medium: audio``) samples at the recording's rate.
    """

    name = "recording_source"
    Params = RecordingSourceParams

    @property
    def out_type(self) -> str:  # type: ignore[override]
        return "c64" if self.params.medium == "iq" else "f32"

    def __init__(self, params=None, rec=None, **kw):
        super().__init__(params, **kw)
        self.rec = rec

    def open(self) -> StreamInfo:
        p = self.params
        if self.rec is None:
            if not p.path:
                raise RecordingError("the graph's recording_source has no path; give the "
                                     "recording with --input FILE")
            self.rec = open_input(p.path, p.format or None, p.rate or None, p.strict)
        rec = self.rec
        if rec.kind != p.medium:
            what = {"iq": "complex IQ", "audio": "a receiver's audio"}
            raise RecordingError(f"{rec.name}: the recording is {what[rec.kind]} but the graph "
                                 f"takes {what[p.medium]} (expand the link with --medium "
                                 f"{rec.kind})")
        self.counters = {"samples": 0}
        return StreamInfo(samp_rate=rec.samp_rate, out_type=self.out_type, name=rec.name,
                          datetime=rec.datetime, center_freq=rec.center_freq,
                          num_samples=rec.num_samples,
                          extra={"warnings": list(getattr(rec, "warnings", []))})

    def chunks(self, n: int) -> Iterator[np.ndarray]:
        for x in self.rec.chunks(n):
            self.counters["samples"] += len(x)
            yield x


# --------------------------------------------------------------------------------------------
# the SigMF sink


@dataclass(frozen=True)
class SigmfSinkParams:
    """Parameters of :class:`SigmfSink`."""

    path: str = param("", "Base name of the recording (X writes X.sigmf-meta and "
                      "X.sigmf-data)")
    description: str = param("", "core:description of the recording")


@register_sink
class SigmfSink(Sink):
    """Records a complex stream as a cf32_le SigMF recording, with the source's sample rate,
    centre frequency and time of the first sample.

    Input
    -----
    c64 IQ samples.
    """

    name = "sigmf_sink"
    Params = SigmfSinkParams
    in_types = ("c64",)

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        self.writer = None
        self.global_extra = {}
        self.annotations = None  # callable -> [(start, count, label, kw)], read at close

    def open(self, info: StreamInfo) -> None:
        super().open(info)
        if not self.params.path:
            raise RecordingError("sigmf_sink: no path given")
        self.writer = sigmf.SigmfWriter(self.params.path, info.samp_rate,
                                        center_freq=info.center_freq, datetime=info.datetime,
                                        description=self.params.description or None)
        self.writer.global_extra.update(self.global_extra)
        self.counters = {"samples": 0}

    @property
    def meta_path(self):
        return self.writer.meta_path if self.writer is not None else None

    def write(self, items) -> None:
        if len(items):
            self.writer.write(items)
            self.counters["samples"] += len(items)

    def annotate(self, start: int, count: int, label: str, **kw) -> None:
        self.writer.annotate(start, count, label, **kw)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
