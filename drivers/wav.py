"""WAV recordings: a streaming reader (``open_wav``) and a writer (:class:`WavWriter`).

Reading
-------
:func:`open_wav` parses the RIFF/WAVE header (chunks in any order, unknown chunks skipped,
odd-sized chunks padded to an even size as RIFF requires, and tolerated when a writer forgot
the pad byte) and returns a :class:`WavRecording`, which has the interface of
:class:`orbitlink.drivers.sigmf.Recording` (``samp_rate``, ``num_samples``, ``name``,
``chunks()``, ``read()``) plus ``kind`` and ``info``:

* mono files are **audio** (``kind == "audio"``): chunks are float32 in ``[-1, 1)``;
* stereo files are **IQ** (``kind == "iq"``): I = left, Q = right, chunks are complex64.

A ``LIST``/``INFO`` chunk (before or after the samples) is read into ``info`` (``{"ICMT":
"...", "ISFT": "...", ...}``); ``key=value`` lines of its comment (``ICMT``) whose key starts
with ``orbitlink:`` go to ``meta["global"]`` as SigMF's global object has them, so a WAV
written by ``orbitlink encode`` (``orbitlink:link=NAME``) names its link as a SigMF recording
does and ``decode`` needs no ``--link``.

Sample formats: PCM unsigned 8 bit (``(v - 128) / 128``), signed 16, 24 and 32 bit
(``v / 2**(bits - 1)``), IEEE float 32 and 64 bit (as they are), in plain ``WAVE_FORMAT_PCM`` /
``WAVE_FORMAT_IEEE_FLOAT`` headers or ``WAVE_FORMAT_EXTENSIBLE`` ones. The file is read
incrementally, never whole.

Errors are the :class:`orbitlink.drivers.sigmf.RecordingError` subclasses, with a message of one
sentence starting with the file name. Header problems raise when the file is opened (not a
RIFF/WAVE file, no ``fmt `` or ``data`` chunk, compressed or unknown formats, more than two
channels, a zero sample rate, no whole frame). Problems in the data are raised by
:meth:`WavRecording.chunks` after every whole frame before them has been yielded: a data chunk
that is not a whole number of frames or that is cut short by the end of the file
(:class:`~orbitlink.drivers.sigmf.TruncatedRecordingError`), a NaN or infinite float sample
(:class:`~orbitlink.drivers.sigmf.BadSampleError`).

Sizes that claim more bytes than the file holds are integrity problems: with
``open_wav(..., strict=True)`` a data chunk cut short by the end of the file, or a RIFF size
larger than the file (the end of the file is missing, even if the samples are whole), raise
:class:`~orbitlink.drivers.sigmf.IntegrityError` when the file is opened. Without ``strict``
the first is raised after the whole frames as above, and the second is a one-sentence warning
in :attr:`WavRecording.warnings`. The placeholder sizes of streaming writers (0 and
0xFFFFFFFF) are not problems.

Writing
-------
:class:`WavWriter` streams mono float audio or complex IQ (stereo) as float32 or int16 and
patches the sizes in the header when it is closed; its ``info`` (``{"ICMT": ..., ...}``) is
written as a ``LIST``/``INFO`` chunk after the samples (so the data chunk still follows the
fmt chunk directly, as some tools want).
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink.drivers.sigmf import (BadSampleError, EmptyRecordingError, IntegrityError,
                                     MetadataError, Recording, RecordingError,
                                     RecordingNotFoundError, TruncatedRecordingError,
                                     UnsupportedDatatypeError)

__all__ = ["WavRecording", "WavWriter", "open_wav", "is_wav", "SAMPLE_FORMATS"]

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")  # KSDATAFORMAT_SUBTYPE_* after the tag

_COMPRESSED = {0x0002: "Microsoft ADPCM", 0x0006: "A-law", 0x0007: "mu-law",
               0x0011: "IMA ADPCM", 0x0031: "GSM 6.10", 0x0050: "MPEG", 0x0055: "MP3"}

#: sample formats the writer accepts
SAMPLE_FORMATS = ("float32", "int16")

_UNKNOWN_SIZE = 0xFFFFFFFF


def is_wav(path) -> bool:
    """True when ``path`` ends in ``.wav``/``.wave`` or starts with a RIFF/WAVE header."""
    path = os.fspath(path)
    if path.lower().endswith((".wav", ".wave")):
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE"


@dataclass
class WavRecording(Recording):
    """An opened WAV file (see the module docstring); iterate with :meth:`chunks`.

    Attributes (beyond :class:`~orbitlink.drivers.sigmf.Recording`)
    ----------------------------------------------------------------
    kind : str
        ``"audio"`` (mono, float32 chunks) or ``"iq"`` (stereo, complex64 chunks).
    channels : int
        1 or 2.
    bits : int
        Bits per sample in the file (8, 16, 24, 32 or 64).
    is_float : bool
        IEEE float samples (else PCM integers).
    data_offset : int
        Byte offset of the first sample in the file.
    """

    kind: str = "audio"
    channels: int = 1
    bits: int = 16
    is_float: bool = False
    data_offset: int = 0
    missing_bytes: int = 0  # bytes the data chunk declares beyond the end of the file
    info: dict = field(default_factory=dict)  # LIST/INFO text fields by their 4-letter id

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.bits // 8

    def chunks(self, chunk_size: int = 65536) -> Iterator[np.ndarray]:
        """Yield the samples in order (float32 for audio, complex64 for IQ), reading
        incrementally; raises like the module docstring says after the good samples."""
        fb = self.frame_bytes
        yield from self._stream(chunk_size, self.data_offset, fb, self._convert)
        if self.missing_bytes:
            raise TruncatedRecordingError(
                f"{self.name}: the data chunk declares {self.missing_bytes} byte(s) more than "
                f"the file holds (truncated file?), so only its {self.num_samples} whole "
                "samples were read")
        if self.truncated_bytes:
            raise TruncatedRecordingError(
                f"{self.name}: the data chunk is not a whole number of {self.channels}-channel "
                f"{self.bits}-bit frames ({fb} bytes each); the trailing "
                f"{self.truncated_bytes} byte(s) after the {self.num_samples} whole frames "
                "were ignored")

    def _convert(self, raw: bytes) -> np.ndarray:
        b = self.bits
        if self.is_float:
            v = np.frombuffer(raw, "<f4" if b == 32 else "<f8").astype(np.float32)
        elif b == 8:
            v = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) * (1.0 / 128)
        elif b == 16:
            v = np.frombuffer(raw, "<i2").astype(np.float32) * (1.0 / 32768)
        elif b == 24:
            u = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
            i = u[:, 0] | (u[:, 1] << 8) | (u[:, 2] << 16)
            i = np.where(i >= 1 << 23, i - (1 << 24), i)
            v = (i.astype(np.float64) * (1.0 / (1 << 23))).astype(np.float32)
        else:  # 32-bit PCM: float64 keeps every bit before the single rounding to float32
            v = (np.frombuffer(raw, "<i4").astype(np.float64) * (1.0 / (1 << 31))).astype(
                np.float32)
        if self.channels == 2:
            return np.ascontiguousarray(v).view(np.complex64)
        return np.ascontiguousarray(v)

    def _checked(self, x: np.ndarray, start: int):
        if self.is_float:
            finite = np.isfinite(x.view(np.float32))
            if not finite.all():
                bad = int(np.argmin(finite)) // self.channels
                if bad:
                    yield x[:bad]
                raise BadSampleError(f"{self.name}: sample {start + bad} is not finite; the "
                                     "samples before it were kept and the rest of the "
                                     "recording was skipped")
        yield x

    def read(self) -> np.ndarray:
        """All samples in one array (for small files; raises like :meth:`chunks`)."""
        parts = list(self.chunks(1 << 20))
        if parts:
            return np.concatenate(parts)
        return np.zeros(0, np.complex64 if self.kind == "iq" else np.float32)


def _datatype_name(channels: int, bits: int, is_float: bool) -> str:
    pre = "c" if channels == 2 else "r"
    if is_float:
        return f"{pre}f{bits}_le"
    if bits == 8:
        return f"{pre}u8"
    return f"{pre}i{bits}_le"


def parse_info(body: bytes) -> dict:
    """The text fields of a ``LIST`` chunk of type ``INFO`` (``body`` after the chunk header):
    ``{id: text}``; anything else, or a damaged field, gives what was read before it."""
    out = {}
    if body[:4] != b"INFO":
        return out
    pos = 4
    while pos + 8 <= len(body):
        cid, n = body[pos:pos + 4], struct.unpack("<I", body[pos + 4:pos + 8])[0]
        if not _chunk_id_ok(cid) or pos + 8 + n > len(body):
            break
        out[cid.decode("ascii")] = body[pos + 8:pos + 8 + n].split(b"\0", 1)[0].decode(
            "utf-8", "replace")
        pos += 8 + n + (n & 1)
    return out


def info_chunk(info: dict) -> bytes:
    """A ``LIST``/``INFO`` chunk (header included) holding ``info`` (``{id: text}``, ids of
    four ASCII characters)."""
    body = b"INFO"
    for k, v in info.items():
        cid = str(k).encode("ascii")
        if len(cid) != 4 or not _chunk_id_ok(cid):
            raise OrbitlinkError(f"a WAV INFO field id has four letters, got {k!r}")
        text = str(v).encode("utf-8") + b"\0"
        body += cid + struct.pack("<I", len(text)) + text + (b"\0" if len(text) & 1 else b"")
    return b"LIST" + struct.pack("<I", len(body)) + body


def _orbitlink_meta(info: dict) -> dict:
    """``orbitlink:*`` keys of the INFO comment, as a SigMF-like ``{"global": {...}}``."""
    glob = {}
    for line in info.get("ICMT", "").splitlines():
        k, sep, v = line.partition("=")
        if sep and k.strip().startswith("orbitlink:"):
            glob[k.strip()] = v.strip()
    return {"global": glob} if glob else {}


def _chunk_id_ok(cid: bytes) -> bool:
    return len(cid) == 4 and all(32 <= c < 127 for c in cid)


def open_wav(path, strict: bool = False) -> WavRecording:
    """Open a WAV file for streaming (see the module docstring).

    ``strict``: chunk sizes that claim more bytes than the file holds raise
    :class:`~orbitlink.drivers.sigmf.IntegrityError` (otherwise: a warning in
    :attr:`WavRecording.warnings`, or for a short data chunk an error after its whole frames).

    Raises
    ------
    RecordingNotFoundError, EmptyRecordingError, UnsupportedDatatypeError, MetadataError
        Problems in the header (all :class:`orbitlink.OrbitlinkError`, one sentence).
    IntegrityError
        With ``strict``: a data chunk or RIFF size beyond the end of the file.
    """
    path = os.fspath(path)
    name = path
    try:
        size = os.stat(path).st_size
        if os.path.isdir(path):
            raise RecordingError(f"{name}: is a directory, not a recording")
        fh = open(path, "rb")
    except FileNotFoundError:
        raise RecordingNotFoundError(f"{name}: file not found") from None
    except OSError as exc:
        raise RecordingError(f"{name}: cannot open the recording ({exc.strerror or exc})") \
            from None
    with fh:
        if size == 0:
            raise EmptyRecordingError(f"{name}: the recording is empty (0 bytes)")
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            if head[:4] == b"RF64":
                raise UnsupportedDatatypeError(f"{name}: RF64 (64-bit RIFF) WAV files are not "
                                               "supported")
            raise MetadataError(f"{name}: not a WAV file (no RIFF/WAVE header)")
        fmt = None
        data = None  # (offset, declared size)
        info = {}
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            hdr = fh.read(8)
            cid, csize = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            if not _chunk_id_ok(cid):
                if fmt is not None and data is not None:
                    break  # trailing junk after the chunks we need
                raise MetadataError(f"{name}: corrupt RIFF chunk header at byte {pos}")
            body = pos + 8
            if cid == b"fmt ":
                if fmt is not None:
                    raise MetadataError(f"{name}: more than one fmt chunk")
                if csize < 16 or body + csize > size:
                    raise MetadataError(f"{name}: the fmt chunk is too short ({csize} bytes)")
                fmt = fh.read(csize)
            elif cid == b"LIST" and csize <= 1 << 16 and body + csize <= size:
                info.update(parse_info(fh.read(csize)))
            elif cid == b"data":
                if data is not None:
                    raise MetadataError(f"{name}: more than one data chunk")
                data = (body, csize)
                if csize == _UNKNOWN_SIZE or body + csize > size:
                    break  # the data runs to the end of the file
            nxt = body + csize
            if csize & 1:  # RIFF pads odd chunks; accept files whose writer did not
                fh.seek(nxt + 1)
                padded = fh.read(4)
                fh.seek(nxt)
                unpadded = fh.read(4)
                if _chunk_id_ok(padded) or not _chunk_id_ok(unpadded):
                    nxt += 1
            pos = nxt
        if fmt is None:
            raise MetadataError(f"{name}: no fmt chunk (not a valid WAV file)")
        if data is None:
            raise MetadataError(f"{name}: no data chunk (not a valid WAV file)")
    tag, channels, rate, _byte_rate, align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == WAVE_FORMAT_EXTENSIBLE:
        if len(fmt) < 40:
            raise MetadataError(f"{name}: the WAVE_FORMAT_EXTENSIBLE fmt chunk is too short "
                                f"({len(fmt)} bytes)")
        sub = fmt[24:40]
        if sub[2:] != _GUID_TAIL:
            raise UnsupportedDatatypeError(f"{name}: unsupported WAVE_FORMAT_EXTENSIBLE "
                                           f"sub-format {sub.hex()}")
        tag = struct.unpack("<H", sub[:2])[0]
    if tag not in (WAVE_FORMAT_PCM, WAVE_FORMAT_IEEE_FLOAT):
        what = _COMPRESSED.get(tag, f"format tag 0x{tag:04x}")
        raise UnsupportedDatatypeError(f"{name}: compressed or unknown WAV sample format "
                                       f"({what}); only PCM and IEEE float are supported")
    is_float = tag == WAVE_FORMAT_IEEE_FLOAT
    if channels == 0:
        raise MetadataError(f"{name}: the fmt chunk declares 0 channels")
    if channels > 2:
        raise UnsupportedDatatypeError(f"{name}: {channels} channels are not supported (mono "
                                       "audio or stereo I/Q only)")
    ok_bits = (32, 64) if is_float else (8, 16, 24, 32)
    if bits not in ok_bits:
        kind = "float" if is_float else "PCM"
        raise UnsupportedDatatypeError(f"{name}: {bits}-bit {kind} samples are not supported "
                                       f"(supported: {', '.join(map(str, ok_bits))} bits)")
    if rate == 0:
        raise MetadataError(f"{name}: the sample rate in the header is 0 Hz")
    fb = channels * bits // 8
    if align != fb:
        raise MetadataError(f"{name}: block align {align} does not match {channels} "
                            f"channel(s) of {bits} bits")
    offset, declared = data
    available = size - offset
    missing = 0
    if declared == _UNKNOWN_SIZE:
        nbytes = available
    elif declared > available:
        nbytes, missing = available, declared - available
    else:
        nbytes = declared
    num, rest = divmod(nbytes, fb)
    if missing:
        rest = 0  # reported as a truncated file instead
    if num == 0:
        if nbytes == 0:
            raise EmptyRecordingError(f"{name}: the data chunk is empty (0 samples)")
        raise EmptyRecordingError(f"{name}: the data chunk ({nbytes} bytes) holds no whole "
                                  f"frame ({fb} bytes each)")
    if not os.access(path, os.R_OK):
        raise RecordingError(f"{name}: cannot open the recording (permission denied)")
    problems = []
    riff = struct.unpack("<I", head[4:8])[0] + 8
    if missing:
        if strict:
            raise IntegrityError(f"{name}: the data chunk declares {missing} byte(s) more than "
                                 "the file holds, so the file is truncated")
    elif riff not in (8, _UNKNOWN_SIZE + 8) and riff > size:
        problems.append(f"{name}: the RIFF header declares {riff} bytes but the file has "
                        f"{size}, so its end is missing (truncated after the samples?)")
    if strict and problems:
        raise IntegrityError(problems[0])
    return WavRecording(data_path=path, meta_path=None,
                        datatype=_datatype_name(channels, bits, is_float),
                        samp_rate=float(rate), num_samples=num, truncated_bytes=rest,
                        kind="iq" if channels == 2 else "audio", channels=channels, bits=bits,
                        is_float=is_float, data_offset=offset, missing_bytes=missing,
                        warnings=problems, info=info, meta=_orbitlink_meta(info))


# --------------------------------------------------------------------------------------------
# Writer


class WavWriter:
    """Stream samples into a WAV file; sizes are patched into the header by :meth:`close`.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (replaced if it exists).
    samp_rate : float
        Sample rate in Hz; must be a positive integer number of Hz (the WAV header holds an
        integer).
    channels : int
        1: mono audio (real samples); 2: IQ (complex samples, I left, Q right).
    sample_format : str
        ``"float32"`` (IEEE float, written as is) or ``"int16"`` (PCM: ``round(v * 32768)``
        clipped to the int16 range).
    info : dict, optional
        Text fields (``{"ICMT": "orbitlink:link=NAME", "ISFT": "orbitlink"}``) written as a
        ``LIST``/``INFO`` chunk after the samples by :meth:`close`.

    Examples
    --------
    >>> with WavWriter("out.wav", 48000) as w:                        # doctest: +SKIP
    ...     w.write(audio)
    """

    def __init__(self, path, samp_rate: float, channels: int = 1,
                 sample_format: str = "float32", info: dict | None = None):
        self.path = os.fspath(path)
        self._info = info_chunk(info) if info else b""
        name = self.path
        if isinstance(samp_rate, bool) or not isinstance(samp_rate, (int, float, np.integer,
                                                                     np.floating)):
            raise OrbitlinkError(f"{name}: sample rate must be a number of Hz, got "
                                 f"{samp_rate!r}")
        r = float(samp_rate)
        if not (math.isfinite(r) and r >= 1 and r.is_integer() and r < 2 ** 32):
            raise OrbitlinkError(f"{name}: a WAV sample rate must be a positive whole number of "
                                 f"Hz, got {samp_rate!r}")
        if channels not in (1, 2):
            raise OrbitlinkError(f"{name}: channels must be 1 (audio) or 2 (IQ), got "
                                 f"{channels!r}")
        if sample_format not in SAMPLE_FORMATS:
            raise OrbitlinkError(f"{name}: sample format must be one of "
                                 f"{', '.join(SAMPLE_FORMATS)}, got {sample_format!r}")
        self.samp_rate = int(r)
        self.channels = channels
        self.sample_format = sample_format
        self.num_samples = 0
        self._closed = False
        self._float = sample_format == "float32"
        bits = 32 if self._float else 16
        self._frame = channels * bits // 8
        try:
            self._fh = open(self.path, "wb")
        except OSError as exc:
            raise RecordingError(f"{name}: cannot create the recording "
                                 f"({exc.strerror or exc})") from None
        tag = WAVE_FORMAT_IEEE_FLOAT if self._float else WAVE_FORMAT_PCM
        fmt = struct.pack("<HHIIHH", tag, channels, self.samp_rate, self.samp_rate * self._frame,
                          self._frame, bits)
        hdr = b"RIFF" + b"\0\0\0\0" + b"WAVE"
        if self._float:  # non-PCM: cbSize and a fact chunk (frame count)
            hdr += b"fmt " + struct.pack("<I", 18) + fmt + b"\0\0"
            self._fact_pos = len(hdr) + 8
            hdr += b"fact" + struct.pack("<I", 4) + b"\0\0\0\0"
        else:
            hdr += b"fmt " + struct.pack("<I", 16) + fmt
            self._fact_pos = None
        self._data_size_pos = len(hdr) + 4
        hdr += b"data" + b"\0\0\0\0"
        self._header_len = len(hdr)
        self._fh.write(hdr)

    def __enter__(self) -> "WavWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, samples) -> None:
        """Append samples: real values for mono, complex for stereo (IQ)."""
        if self._closed:
            raise ValueError(f"{self.path}: write() after close()")
        x = np.asarray(samples).reshape(-1)
        if self.channels == 2:
            v = np.ascontiguousarray(x, np.complex128).view(np.float64)
        else:
            if np.iscomplexobj(x):
                raise OrbitlinkError(f"{self.path}: a mono (audio) WAV takes real samples, "
                                     "not complex ones (use channels=2 for IQ)")
            v = np.asarray(x, np.float64)
        if not len(x):
            return
        if self._float:
            b = v.astype("<f4").tobytes()
        else:
            b = np.clip(np.round(v * 32768.0), -32768, 32767).astype("<i2").tobytes()
        if self._header_len + (self.num_samples + len(x)) * self._frame + 1 > 0xFFFFFFFF:
            raise OrbitlinkError(f"{self.path}: a WAV file cannot hold more than 4 GiB")
        self._fh.write(b)
        self.num_samples += len(x)

    def close(self) -> None:
        """Patch the RIFF, fact and data sizes and close the file (idempotent)."""
        if self._closed:
            return
        self._closed = True
        nbytes = self.num_samples * self._frame
        if nbytes & 1:  # cannot happen with 2- and 4-byte samples, kept for the rule
            self._fh.write(b"\0")
        self._fh.write(self._info)
        end = self._fh.tell()
        self._fh.seek(4)
        self._fh.write(struct.pack("<I", end - 8))
        if self._fact_pos is not None:
            self._fh.seek(self._fact_pos)
            self._fh.write(struct.pack("<I", self.num_samples))
        self._fh.seek(self._data_size_pos)
        self._fh.write(struct.pack("<I", nbytes))
        self._fh.close()
