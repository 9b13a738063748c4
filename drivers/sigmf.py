"""SigMF and raw IQ recordings: a streaming reader and a cf32_le writer.

Reading
-------
:func:`open_recording` opens either a SigMF recording (``X.sigmf-meta`` + ``X.sigmf-data``;
pass either file or the base name ``X``) or a raw interleaved IQ file of any extension (``.cf32``,
``.raw``, ``.bin``, ...) whose format and sample rate the caller gives. Supported sample formats
(:data:`DATATYPES`), all converted to complex64:

===========  ==========================  ==========================================
``cf32_le``  little-endian float32 I, Q  as is
``ci16_le``  little-endian int16 I, Q    ``v / 32768``
``ci8``      int8 I, Q                   ``v / 128``
``cu8``      uint8 I, Q (offset binary)  ``(v - 127.5) / 127.5`` (rtl-sdr convention)
===========  ==========================  ==========================================

The real (single-channel) formats ``rf32_le``, ``ri16_le``, ``ri8`` and ``ru8`` (``(v - 128) /
128``) give recordings of ``kind == "audio"`` whose chunks are float32; complex ones have
``kind == "iq"``. WAV files (``.wav``, or any file with a RIFF/WAVE header, when no format is
given) are opened by :func:`orbitlink.drivers.wav.open_wav`: mono ones are audio, stereo ones IQ.

Raw formats also accept the aliases in :data:`FORMAT_ALIASES` (``cf32``, ``fc32``, ``ci16``,
``cs16``, ``sc16``, ``cs8``, ``sc8``, ``complex64``).

Problems visible up front (missing file, empty file, unsupported datatype, bad metadata) raise
when the recording is opened. Problems inside the data are raised lazily by
:meth:`Recording.chunks`, *after* every good sample before them has been yielded, so that a
decoder keeps (and prints) what it decoded before the damage:

* a data size that is not a whole number of samples: all whole samples, then
  :class:`TruncatedRecordingError`;
* a NaN or infinite value (cf32_le only): the samples before the first bad one, then
  :class:`BadSampleError` naming its index.

A data file that disagrees with its metadata is noticed when the recording is opened: a
``core:sha512`` that does not match the data file (hashed in blocks, only when the metadata has
one), or annotations or captures that lie past the end of the data (a truncated copy). By
default each problem is a one-sentence string in :attr:`Recording.warnings` (the caller shows
them; the driver prints nothing); with ``open_recording(..., strict=True)`` the first one raises
:class:`IntegrityError`. WAV files whose RIFF or data chunk sizes claim more bytes than the file
holds get the same treatment (see :mod:`orbitlink.drivers.wav`).

Every error a user can cause is an :class:`orbitlink.OrbitlinkError` (subclass
:class:`RecordingError`) whose message is one sentence starting with the file name.

Writing
-------
:class:`SigmfWriter` appends complex64 samples as ``cf32_le`` and writes the ``.sigmf-meta``
(SigMF 1.0.0) on close, with one annotation per call to :meth:`SigmfWriter.annotate`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from orbitlink import OrbitlinkError

__all__ = [
    "DATATYPES", "FORMAT_ALIASES", "Recording", "RecordingError", "RecordingNotFoundError",
    "UnsupportedDatatypeError", "EmptyRecordingError", "MetadataError",
    "TruncatedRecordingError", "BadSampleError", "IntegrityError", "SigmfWriter",
    "open_recording", "format_datetime",
]

META_EXT = ".sigmf-meta"
DATA_EXT = ".sigmf-data"
SIGMF_VERSION = "1.0.0"
#: a writer keeps this many annotations in memory, then spools them to a temporary file
_SPOOL_AT = 1024


@dataclass(frozen=True)
class _Datatype:
    name: str
    component: np.dtype  # dtype of one real component (I or Q)
    offset: float  # value subtracted before scaling
    scale: float  # multiplier after the offset
    channels: int = 2  # 2: complex (I, Q), 1: real (audio)

    @property
    def itemsize(self) -> int:
        """Bytes per sample (complex: I and Q)."""
        return self.channels * self.component.itemsize


#: supported sample formats, by SigMF ``core:datatype`` name
DATATYPES: dict[str, _Datatype] = {
    "cf32_le": _Datatype("cf32_le", np.dtype("<f4"), 0.0, 1.0),
    "ci16_le": _Datatype("ci16_le", np.dtype("<i2"), 0.0, 1.0 / 32768.0),
    "ci8": _Datatype("ci8", np.dtype("i1"), 0.0, 1.0 / 128.0),
    "cu8": _Datatype("cu8", np.dtype("u1"), 127.5, 1.0 / 127.5),
    # real (single-channel) samples: recordings of kind "audio", float32 chunks
    "rf32_le": _Datatype("rf32_le", np.dtype("<f4"), 0.0, 1.0, 1),
    "ri16_le": _Datatype("ri16_le", np.dtype("<i2"), 0.0, 1.0 / 32768.0, 1),
    "ri8": _Datatype("ri8", np.dtype("i1"), 0.0, 1.0 / 128.0, 1),
    "ru8": _Datatype("ru8", np.dtype("u1"), 128.0, 1.0 / 128.0, 1),
}

#: other names accepted for the ``fmt`` of raw files
FORMAT_ALIASES: dict[str, str] = {
    "cf32": "cf32_le", "fc32": "cf32_le", "complex64": "cf32_le", "cfile": "cf32_le",
    "ci16": "ci16_le", "cs16": "ci16_le", "sc16": "ci16_le", "cs16_le": "ci16_le",
    "cs8": "ci8", "sc8": "ci8",
    "rf32": "rf32_le", "f32": "rf32_le", "float32": "rf32_le", "ri16": "ri16_le",
    "s16": "ri16_le", "s16_le": "ri16_le", "s8": "ri8", "u8": "ru8",
}


# --------------------------------------------------------------------------------------------
# Errors


class RecordingError(OrbitlinkError):
    """A recording cannot be read (message: one sentence naming the file)."""


class RecordingNotFoundError(RecordingError, FileNotFoundError):
    """The data or metadata file does not exist."""


class UnsupportedDatatypeError(RecordingError, ValueError):
    """The sample format is unknown or not supported."""


class EmptyRecordingError(RecordingError, ValueError):
    """The recording holds no whole sample."""


class MetadataError(RecordingError, ValueError):
    """The ``.sigmf-meta`` file is not valid JSON or lacks a required field."""


class TruncatedRecordingError(RecordingError):
    """The data size is not a whole number of samples (raised after the whole samples)."""


class BadSampleError(RecordingError, ValueError):
    """A sample is NaN or infinite (raised after the good samples before it)."""


class IntegrityError(RecordingError):
    """The data file disagrees with what its metadata or header says (``core:sha512``
    mismatch, annotations or captures past the end of the data, a WAV chunk size larger than
    the file); raised by ``open_recording(..., strict=True)``, a warning otherwise."""


def _supported() -> str:
    return ", ".join(DATATYPES)


def _datatype(name, where: str, what: str) -> _Datatype:
    if not isinstance(name, str):
        raise UnsupportedDatatypeError(f"{where}: {what} must be a string such as 'cf32_le', "
                                       f"got {name!r}")
    key = name.strip().lower()
    key = FORMAT_ALIASES.get(key, key)
    if key not in DATATYPES:
        raise UnsupportedDatatypeError(f"{where}: {what} {name!r} is not supported "
                                       f"(supported: {_supported()})")
    return DATATYPES[key]


def _rate(value, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise MetadataError(f"{where}: {what} must be a positive number of Hz, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise MetadataError(f"{where}: {what} must be a positive number of Hz, got {value!r}")
    return v


# --------------------------------------------------------------------------------------------
# Reader


@dataclass
class Recording:
    """An opened recording; iterate over its samples with :meth:`chunks`.

    Attributes
    ----------
    data_path : str
        The sample file.
    meta_path : str or None
        The ``.sigmf-meta`` file, None for a raw file.
    datatype : str
        SigMF datatype name of the samples (``cf32_le``, ``ci16_le``, ``ci8`` or ``cu8``).
    samp_rate : float
        Sample rate in Hz.
    center_freq : float or None
        ``core:frequency`` of the first capture, in Hz.
    datetime : str or None
        ``core:datetime`` of the first capture (ISO 8601 string as written in the file).
    num_samples : int
        Number of whole complex samples in the data file.
    truncated_bytes : int
        Trailing bytes that do not form a whole sample (0 for a sound file); :meth:`chunks`
        raises :class:`TruncatedRecordingError` after the whole samples when this is non-zero.
    meta : dict
        The parsed ``.sigmf-meta`` document (``{}`` for a raw file).
    captures, annotations : list of dict
        The SigMF captures and annotations, sorted by ``core:sample_start``.
    warnings : list of str
        Problems found when opening that do not stop the samples from being read (the data
        file does not match ``core:sha512``, annotations past the end of the data...): one
        sentence each, starting with the file name, for the caller to show. Empty when the
        recording is intact; with ``strict=True`` they raise :class:`IntegrityError` instead.
    """

    data_path: str
    meta_path: str | None
    datatype: str
    samp_rate: float
    center_freq: float | None = None
    datetime: str | None = None
    num_samples: int = 0
    truncated_bytes: int = 0
    meta: dict = field(default_factory=dict)
    captures: list = field(default_factory=list)
    annotations: list = field(default_factory=list)
    #: "iq" (complex samples, complex64 chunks) or "audio" (real samples, float32 chunks)
    kind: str = "iq"
    #: one-sentence integrity warnings found when opening (see the class docstring)
    warnings: list = field(default_factory=list)

    @property
    def name(self) -> str:
        """File name used in messages (the data file's path)."""
        return self.data_path

    @property
    def duration(self) -> float:
        """Length of the recording in seconds."""
        return self.num_samples / self.samp_rate

    def chunks(self, chunk_size: int = 65536) -> Iterator[np.ndarray]:
        """Yield the samples in order, reading the file incrementally.

        Parameters
        ----------
        chunk_size : int
            Samples per chunk (the last chunk may be shorter).

        Yields
        ------
        ndarray of complex64, shape (<= chunk_size,)
            Consecutive samples, scaled as in :data:`DATATYPES`; never empty.

        Raises
        ------
        BadSampleError
            After yielding the samples before the first NaN/Inf sample.
        TruncatedRecordingError
            After yielding every whole sample, when the file ends in a partial sample.
        RecordingError
            The file cannot be read or shrank while being read.
        """
        dt = DATATYPES[self.datatype]
        itemsize = dt.itemsize
        yield from self._stream(chunk_size, 0, itemsize, lambda raw: _convert(raw, dt))
        if self.truncated_bytes:
            raise TruncatedRecordingError(
                f"{self.name}: size {self.num_samples * itemsize + self.truncated_bytes} bytes "
                f"is not a whole number of {self.datatype} samples ({itemsize} bytes each); "
                f"the trailing {self.truncated_bytes} byte(s) after the {self.num_samples} "
                "whole samples were ignored")

    def _stream(self, chunk_size, offset: int, itemsize: int, convert):
        """Read ``num_samples`` samples of ``itemsize`` bytes from byte ``offset`` of the data
        file, ``chunk_size`` at a time, through ``convert(raw bytes) -> array`` and the finite
        check; a file that shrinks while being read raises after its whole samples."""
        if isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        chunk_size = int(chunk_size)
        done = 0
        try:
            fh = open(self.data_path, "rb")
        except OSError as exc:
            raise RecordingError(f"{self.name}: cannot open the recording "
                                 f"({exc.strerror or exc})") from None
        with fh:
            fh.seek(offset)
            while done < self.num_samples:
                n = min(chunk_size, self.num_samples - done)
                try:
                    raw = fh.read(n * itemsize)
                except OSError as exc:
                    raise RecordingError(f"{self.name}: read error after {done} samples "
                                         f"({exc.strerror or exc})") from None
                if len(raw) < n * itemsize:
                    got = len(raw) // itemsize
                    if got:
                        yield from self._checked(convert(raw[:got * itemsize]), done)
                    raise RecordingError(f"{self.name}: the file ended after "
                                         f"{done + got} of {self.num_samples} samples "
                                         "(was it truncated while being read?)")
                yield from self._checked(convert(raw), done)
                done += n

    def _checked(self, x: np.ndarray, start: int):
        dt = DATATYPES[self.datatype]
        if dt.component.kind == "f":
            finite = np.isfinite(x.view(np.float32))
            if not finite.all():
                bad = int(np.argmin(finite)) // dt.channels
                if bad:
                    yield x[:bad]
                shown = _fmt_complex(x[bad]) if dt.channels == 2 else repr(float(x[bad]))
                raise BadSampleError(f"{self.name}: sample {start + bad} is not finite "
                                     f"({shown}); the samples before it were "
                                     "kept and the rest of the recording was skipped")
        yield x

    def read(self) -> np.ndarray:
        """All samples in one complex64 array (for small files; raises like :meth:`chunks`)."""
        parts = list(self.chunks(1 << 20))
        empty = np.zeros(0, np.complex64 if self.kind == "iq" else np.float32)
        return np.concatenate(parts) if parts else empty


def _shown(path: str) -> str:
    """How a file is named in messages: the path as the user gave it (or derived from it)."""
    return path


def _fmt_complex(z) -> str:
    return f"{float(z.real)!r}{'+' if not float(z.imag) < 0 else '-'}{abs(float(z.imag))!r}j"


def _convert(raw: bytes, dt: _Datatype) -> np.ndarray:
    v = np.frombuffer(raw, dt.component)
    f = v.astype(np.float32)  # copy, native order, writeable
    if dt.offset:
        f -= np.float32(dt.offset)
    if dt.scale != 1.0:
        f *= np.float32(dt.scale)
    return f.view(np.complex64) if dt.channels == 2 else f


def _split_sigmf_path(path: str) -> tuple[str, str] | None:
    """(meta, data) paths if ``path`` names a SigMF recording, else None."""
    if path.endswith(META_EXT):
        base = path[: -len(META_EXT)]
        return path, base + DATA_EXT
    if path.endswith(DATA_EXT):
        base = path[: -len(DATA_EXT)]
        meta = base + META_EXT
        return (meta, path) if os.path.exists(meta) else None
    if os.path.exists(path + META_EXT) or (os.path.exists(path + DATA_EXT)
                                           and not os.path.exists(path)):
        return path + META_EXT, path + DATA_EXT
    return None


def open_recording(path, fmt: str | None = None, samp_rate: float | None = None,
                   strict: bool = False) -> Recording:
    """Open a SigMF recording or a raw IQ file for streaming.

    Parameters
    ----------
    path : str or os.PathLike
        ``X.sigmf-meta``, ``X.sigmf-data``, the base name ``X`` of a SigMF recording, or a raw
        interleaved IQ file of any extension.
    fmt : str, optional
        Sample format of a raw file (a key of :data:`DATATYPES` or :data:`FORMAT_ALIASES`);
        required for raw files. For a SigMF recording it may be given if it agrees with
        ``core:datatype``.
    samp_rate : float, optional
        Sample rate in Hz; required for raw files and for SigMF recordings without
        ``core:sample_rate``. If the metadata has a rate, a given rate must agree with it.
    strict : bool
        Raise :class:`IntegrityError` when the data file disagrees with its metadata (or a WAV
        file with its header) instead of recording a warning in :attr:`Recording.warnings`.

    Returns
    -------
    Recording

    Raises
    ------
    RecordingNotFoundError, EmptyRecordingError, UnsupportedDatatypeError, MetadataError
        Problems detectable before reading the samples (all :class:`orbitlink.OrbitlinkError`).
    IntegrityError
        With ``strict``: a ``core:sha512`` that does not match the data file, annotations or
        captures past the end of the data, or WAV chunk sizes beyond the end of the file.
    """
    path = os.fspath(path)
    if fmt is None and not path.endswith((META_EXT, DATA_EXT)) and os.path.isfile(path):
        from orbitlink.drivers.wav import is_wav, open_wav

        if is_wav(path):
            rec = open_wav(path, strict=strict)
            if samp_rate is not None and not math.isclose(float(samp_rate), rec.samp_rate,
                                                          rel_tol=1e-9):
                raise MetadataError(f"{_shown(path)}: the given sample rate "
                                    f"{float(samp_rate):g} Hz conflicts with the WAV header's "
                                    f"{rec.samp_rate:g} Hz")
            return rec
    if path.endswith(".sigmf") and os.path.isfile(path):
        raise UnsupportedDatatypeError(f"{_shown(path)}: SigMF archives (.sigmf) "
                                       "are not supported; extract the .sigmf-meta and "
                                       ".sigmf-data files first")
    pair = _split_sigmf_path(path)
    if pair is None:
        if path.endswith(DATA_EXT) and fmt is None and os.path.exists(path):
            meta_path = path[: -len(DATA_EXT)] + META_EXT
            raise RecordingNotFoundError(f"{meta_path}: metadata file not found (needed for "
                                         f"{path}; give --format and --rate to read it as a "
                                         "raw file)")
        return _open_raw(path, fmt, samp_rate)
    meta_path, data_path = pair
    meta = _read_meta(meta_path)
    mname = _shown(meta_path)
    glob = meta["global"]
    if "core:datatype" not in glob:
        raise MetadataError(f"{mname}: global object has no core:datatype")
    dt = _datatype(glob["core:datatype"], mname, "core:datatype")
    if fmt is not None and _datatype(fmt, mname, "the given format").name != dt.name:
        raise UnsupportedDatatypeError(f"{mname}: the given format {fmt!r} conflicts with "
                                       f"core:datatype {dt.name!r}")
    if "core:sample_rate" in glob:
        rate = _rate(glob["core:sample_rate"], mname, "core:sample_rate")
        if samp_rate is not None and not math.isclose(float(samp_rate), rate, rel_tol=1e-9):
            raise MetadataError(f"{mname}: the given sample rate {float(samp_rate):g} Hz "
                                f"conflicts with core:sample_rate {rate:g} Hz")
    elif samp_rate is not None:
        rate = _rate(samp_rate, mname, "the given sample rate")
    else:
        raise MetadataError(f"{mname}: global object has no core:sample_rate and no sample "
                            "rate was given (use --rate)")
    captures = _sorted_segments(meta, "captures", mname)
    annotations = _sorted_segments(meta, "annotations", mname)
    center = dtime = None
    if captures:
        first = captures[0]
        if "core:frequency" in first:
            f = first["core:frequency"]
            if isinstance(f, bool) or not isinstance(f, (int, float)) or not math.isfinite(f):
                raise MetadataError(f"{mname}: captures[0] core:frequency must be a number of "
                                    f"Hz, got {f!r}")
            center = float(f)
        if "core:datetime" in first:
            dtime = first["core:datetime"]
            if not isinstance(dtime, str):
                raise MetadataError(f"{mname}: captures[0] core:datetime must be an ISO 8601 "
                                    f"string, got {dtime!r}")
    num, rest = _size(data_path, dt)
    problems = _past_the_end(captures, "capture", mname, num, _shown(data_path))
    problems += _past_the_end(annotations, "annotation", mname, num, _shown(data_path))
    if "core:sha512" in glob:
        problems += _sha512_check(glob["core:sha512"], data_path, mname)
    if strict and problems:
        raise IntegrityError(problems[0])
    return Recording(data_path=data_path, meta_path=meta_path, datatype=dt.name,
                     samp_rate=rate, center_freq=center, datetime=dtime, num_samples=num,
                     truncated_bytes=rest, meta=meta, captures=captures,
                     annotations=annotations, kind="iq" if dt.channels == 2 else "audio",
                     warnings=problems)


def _past_the_end(segs: list, what: str, mname: str, num: int, dname: str) -> list[str]:
    """One warning sentence when segments (captures or annotations) start at or reach past
    sample ``num``, the end of the data; [] otherwise."""
    bad = []
    for s in segs:
        start = s.get("core:sample_start", 0)
        count = s.get("core:sample_count", 0) if what == "annotation" else 0
        end = start + count
        if start >= num or end > num:
            bad.append((start, end))
    if not bad:
        return []
    start, end = bad[0]
    where = f"samples {start} to {end}" if end > start else f"sample {start}"
    return [f"{mname}: {len(bad)} {what}(s) lie past the end of the data ({num} samples in "
            f"{dname}), the first at {where}, so the data file is probably truncated"]


_SHA512_BLOCK = 1 << 20


def _sha512_check(want, data_path: str, mname: str) -> list[str]:
    """[] when the data file's SHA-512 is ``want`` (hex), else one warning sentence; the file
    is read in blocks of 1 MiB."""
    dname = _shown(data_path)
    if not isinstance(want, str) or len(want.strip()) != 128 or any(
            c not in "0123456789abcdefABCDEF" for c in want.strip()):
        return [f"{mname}: core:sha512 is not a SHA-512 digest (128 hexadecimal digits), so "
                f"{dname} could not be checked against it"]
    h = hashlib.sha512()
    try:
        with open(data_path, "rb") as fh:
            while block := fh.read(_SHA512_BLOCK):
                h.update(block)
    except OSError as exc:
        raise RecordingError(f"{dname}: cannot read the recording ({exc.strerror or exc})") \
            from None
    if h.hexdigest() != want.strip().lower():
        return [f"{dname}: the data file does not match the core:sha512 in {mname}, so it was "
                "changed or truncated after it was recorded"]
    return []


def _open_raw(path: str, fmt, samp_rate) -> Recording:
    name = _shown(path)
    if not os.path.exists(path):
        raise RecordingNotFoundError(f"{name}: file not found (looked for {path}, "
                                     f"{path + META_EXT} and {path + DATA_EXT})")
    if fmt is None:
        raise UnsupportedDatatypeError(f"{name}: not a SigMF recording (no {name}{META_EXT} "
                                       "next to it), so give the raw sample format with "
                                       f"--format (one of {_supported()})")
    dt = _datatype(fmt, name, "format")
    if samp_rate is None:
        raise MetadataError(f"{name}: a raw recording needs its sample rate (use --rate)")
    rate = _rate(samp_rate, name, "the sample rate")
    num, rest = _size(path, dt)
    return Recording(data_path=path, meta_path=None, datatype=dt.name, samp_rate=rate,
                     num_samples=num, truncated_bytes=rest,
                     kind="iq" if dt.channels == 2 else "audio")


def _size(data_path: str, dt: _Datatype) -> tuple[int, int]:
    name = _shown(data_path)
    try:
        st = os.stat(data_path)
    except FileNotFoundError:
        raise RecordingNotFoundError(f"{name}: data file not found") from None
    except OSError as exc:
        raise RecordingError(f"{name}: cannot open the recording ({exc.strerror or exc})") \
            from None
    if os.path.isdir(data_path):
        raise RecordingError(f"{name}: is a directory, not a recording")
    size = st.st_size
    num, rest = divmod(size, dt.itemsize)
    if num == 0:
        if size == 0:
            raise EmptyRecordingError(f"{name}: the recording is empty (0 samples)")
        raise EmptyRecordingError(f"{name}: size {size} bytes holds no whole {dt.name} sample "
                                  f"({dt.itemsize} bytes each)")
    if not os.access(data_path, os.R_OK):
        raise RecordingError(f"{name}: cannot open the recording (permission denied)")
    return num, rest


def _read_meta(meta_path: str) -> dict:
    name = _shown(meta_path)
    try:
        with open(meta_path, "rb") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise RecordingNotFoundError(f"{name}: metadata file not found") from None
    except IsADirectoryError:
        raise RecordingError(f"{name}: is a directory, not a SigMF metadata file") from None
    except OSError as exc:
        raise RecordingError(f"{name}: cannot read the metadata ({exc.strerror or exc})") \
            from None
    try:
        meta = json.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise MetadataError(f"{name}: the metadata is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise MetadataError(f"{name}: malformed JSON at line {exc.lineno} column {exc.colno} "
                            f"({exc.msg})") from None
    except RecursionError:
        raise MetadataError(f"{name}: the metadata JSON is nested too deeply") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("global"), dict):
        raise MetadataError(f"{name}: not a SigMF metadata file (no \"global\" object)")
    return meta


def _sorted_segments(meta: dict, key: str, mname: str) -> list:
    segs = meta.get(key, [])
    if not isinstance(segs, list) or not all(isinstance(s, dict) for s in segs):
        raise MetadataError(f"{mname}: \"{key}\" must be a list of objects")
    for i, s in enumerate(segs):
        start = s.get("core:sample_start", 0)
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise MetadataError(f"{mname}: {key}[{i}] core:sample_start must be a "
                                f"non-negative integer, got {start!r}")
        count = s.get("core:sample_count", 0)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise MetadataError(f"{mname}: {key}[{i}] core:sample_count must be a "
                                f"non-negative integer, got {count!r}")
    return sorted(segs, key=lambda s: s.get("core:sample_start", 0))


# --------------------------------------------------------------------------------------------
# Writer


def format_datetime(value) -> str:
    """ISO 8601 UTC with a ``Z``: ``2024-05-01T12:00:00Z`` or ``...T12:00:00.250000Z``.

    Parameters
    ----------
    value : datetime.datetime, float or str
        A datetime (naive ones are taken as UTC), a POSIX timestamp in seconds, or an ISO 8601
        string (normalised to UTC).
    """
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise OrbitlinkError(f"datetime {value!r} is not an ISO 8601 date and time") \
                from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            value = _dt.datetime.fromtimestamp(float(value), _dt.timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise OrbitlinkError(f"datetime {value!r} is not a POSIX timestamp of a year "
                                 "1..9999") from None
    if not isinstance(value, _dt.datetime):
        raise OrbitlinkError(f"datetime {value!r} is not a datetime, timestamp or ISO string")
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    try:
        value = value.astimezone(_dt.timezone.utc)
    except OverflowError:
        raise OrbitlinkError(f"datetime {value.isoformat()} is outside the years 1..9999 in "
                             "UTC") from None
    s = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        s += f".{value.microsecond:06d}"
    return s + "Z"


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


class SigmfWriter:
    """Write a SigMF recording of complex64 samples as ``cf32_le``.

    Parameters
    ----------
    base_path : str or os.PathLike
        ``X`` (or ``X.sigmf-meta`` / ``X.sigmf-data``): writes ``X.sigmf-data`` now and
        ``X.sigmf-meta`` on :meth:`close`. Existing files are replaced.
    samp_rate : float
        Sample rate in Hz (``core:sample_rate``).
    center_freq : float, optional
        Centre frequency in Hz (``core:frequency`` of the capture).
    datetime : datetime.datetime, float or str, optional
        Time of the first sample (``core:datetime``, written as ISO 8601 UTC with a ``Z``).
    description : str, optional
        ``core:description``.

    Notes
    -----
    Use it as a context manager; the metadata is written on exit, also after an exception, so
    the samples written so far stay readable. Annotation keys passed as ``**extra`` without a
    namespace are written as ``orbitlink:<key>`` and the ``orbitlink`` extension is declared in
    ``core:extensions``. The metadata records ``core:sha512`` of the data file.

    Examples
    --------
    >>> with SigmfWriter("out/pass", 1e6, center_freq=437.5e6) as w:      # doctest: +SKIP
    ...     w.write(burst)
    ...     w.annotate(0, len(burst), "frame 0", crc_ok=True)
    """

    def __init__(self, base_path, samp_rate: float, center_freq: float | None = None,
                 datetime=None, description: str | None = None):
        base = os.fspath(base_path)
        for ext in (META_EXT, DATA_EXT):
            if base.endswith(ext):
                base = base[: -len(ext)]
        self.base_path = base
        self.data_path = base + DATA_EXT
        self.meta_path = base + META_EXT
        name = _shown(self.data_path)
        self.samp_rate = _rate(samp_rate, name, "the sample rate")
        if center_freq is not None:
            center_freq = float(center_freq)
            if not math.isfinite(center_freq):
                raise OrbitlinkError(f"{name}: centre frequency must be finite, "
                                     f"got {center_freq!r}")
        self.center_freq = center_freq
        self.datetime = None if datetime is None else format_datetime(datetime)
        self.description = description
        #: extra global fields, e.g. {"orbitlink:link": "qpsk"} (keys need a namespace)
        self.global_extra: dict = {}
        self.num_samples = 0
        self._annotations: list[dict] = []  # up to _SPOOL_AT, then spooled to a file
        self._spool = None  # temporary file of JSON lines, one annotation each
        self._n_annotations = 0
        self._sorted = True  # annotations came in order of sample_start
        self._ns_keys = False  # an annotation has orbitlink: keys
        self._last_start = 0
        self._hash = hashlib.sha512()
        self._closed = False
        try:
            self._fh = open(self.data_path, "wb")
        except OSError as exc:
            raise RecordingError(f"{name}: cannot create the recording "
                                 f"({exc.strerror or exc})") from None

    def __enter__(self) -> "SigmfWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, samples) -> None:
        """Append samples.

        Parameters
        ----------
        samples : array_like of complex, shape (n,)
            Converted to complex64 and written little-endian (``cf32_le``).
        """
        if self._closed:
            raise ValueError(f"{_shown(self.data_path)}: write() after close()")
        x = np.ascontiguousarray(samples, dtype="<c8").reshape(-1)
        if not len(x):
            return
        b = x.tobytes()
        self._fh.write(b)
        self._hash.update(b)
        self.num_samples += len(x)

    def annotate(self, sample_start: int, sample_count: int, label: str,
                 comment: str | None = None, **extra) -> dict:
        """Add an annotation (e.g. one per transmitted frame).

        Parameters
        ----------
        sample_start, sample_count : int
            First sample and number of samples covered (``core:sample_start``,
            ``core:sample_count``).
        label : str
            ``core:label``.
        comment : str, optional
            ``core:comment``.
        **extra
            More fields; keys with a ``:`` are used as they are (e.g.
            ``core:freq_lower_edge``), other keys become ``orbitlink:<key>``. Values must be
            JSON-serialisable (numpy scalars/arrays are converted, bytes become hex).

        Returns
        -------
        dict
            The annotation as it will be written.
        """
        start, count = int(sample_start), int(sample_count)
        if start < 0 or count < 0:
            raise ValueError(f"annotation sample_start/sample_count must be >= 0, "
                             f"got {start}, {count}")
        ann = {"core:sample_start": start, "core:sample_count": count, "core:label": str(label)}
        if comment is not None:
            ann["core:comment"] = str(comment)
        for k, v in extra.items():
            ann[k if ":" in k else f"orbitlink:{k}"] = _jsonable(v)
        self._sorted = self._sorted and start >= self._last_start
        self._last_start = start
        self._ns_keys = self._ns_keys or any(k.startswith("orbitlink:") for k in ann)
        self._annotations.append(ann)
        self._n_annotations += 1
        if len(self._annotations) >= _SPOOL_AT:  # memory stays flat in the number of frames
            if self._spool is None:
                import tempfile

                self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")
            for a in self._annotations:
                self._spool.write(json.dumps(a, allow_nan=False) + "\n")
            self._annotations = []
        return ann

    def _all_annotations(self):
        """Every annotation, in order of sample_start (read back from the spool)."""
        if self._spool is None:
            return sorted(self._annotations, key=lambda a: a["core:sample_start"])
        self._spool.seek(0)
        anns = (json.loads(line) for line in self._spool)
        if self._sorted:
            import itertools

            return itertools.chain(anns, self._annotations)
        return sorted(list(anns) + self._annotations, key=lambda a: a["core:sample_start"])

    def metadata(self, with_annotations: bool = True) -> dict:
        """The SigMF metadata document for what has been written so far."""
        glob = {"core:datatype": "cf32_le", "core:sample_rate": self.samp_rate,
                "core:version": SIGMF_VERSION, "core:recorder": "orbitlink",
                "core:sha512": self._hash.hexdigest()}
        if self.description is not None:
            glob["core:description"] = self.description
        glob.update(self.global_extra)
        anns = list(self._all_annotations()) if with_annotations else []
        if self._ns_keys or any(k.startswith("orbitlink:") for k in self.global_extra):
            glob["core:extensions"] = [{"name": "orbitlink", "version": "0.1.0",
                                        "optional": True}]
        cap = {"core:sample_start": 0}
        if self.center_freq is not None:
            cap["core:frequency"] = self.center_freq
        if self.datetime is not None:
            cap["core:datetime"] = self.datetime
        return {"global": glob, "captures": [cap], "annotations": anns}

    def _write_spooled(self, fh) -> None:
        """The metadata document with many annotations, written one annotation at a time
        (same JSON as :meth:`metadata` gives, indented alike)."""
        doc = self.metadata(with_annotations=False)  # global and captures
        head = json.dumps({"global": doc["global"], "captures": doc["captures"]}, indent=2,
                          allow_nan=False)
        fh.write(head[:-2] + ',\n  "annotations": [')
        first = True
        for a in self._all_annotations():
            body = json.dumps(a, indent=2, allow_nan=False).replace("\n", "\n    ")
            fh.write(("\n    " if first else ",\n    ") + body)
            first = False
        fh.write("\n  ]\n}\n")
        self._spool.close()
        self._spool = None

    def close(self) -> None:
        """Close the data file and write the ``.sigmf-meta`` file (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._fh.close()
        tmp = self.meta_path + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                if self._spool is None:
                    fh.write(json.dumps(self.metadata(), indent=2, allow_nan=False) + "\n")
                else:  # the annotations stream from the spool into the file
                    self._write_spooled(fh)
            os.replace(tmp, self.meta_path)
        except OSError as exc:
            raise RecordingError(f"{_shown(self.meta_path)}: cannot write the "
                                 f"metadata ({exc.strerror or exc})") from None
