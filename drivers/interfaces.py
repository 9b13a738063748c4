"""Sources and sinks: where a graph's samples come from and where its outputs go.

A graph (:mod:`orbitlink.flowgraphs.graph`) is blocks plus one source and any number of sinks.
Sources and sinks are not blocks (they touch the outside world: files, pipes, radios, sockets,
screens), so they have an interface of their own, and the runner knows nothing else about them:
a new driver or output registers a class here and plugs into every graph without touching the
runner.

Lifecycle
---------
Source: ``open() -> StreamInfo``, then ``chunks(n)`` (an iterator of arrays of the source's
``out_type``, or of lists of PDUs), then ``close()``. A source raises an
:class:`orbitlink.OrbitlinkError` for a problem the user can fix (a missing file, a truncated
recording), *after* yielding every good item before it.

Sink: ``open(info)`` with the source's :class:`StreamInfo`, ``write(items)`` for every chunk
of its input (possibly empty), ``close()`` at the end of the stream (also after an error, so
that what was received is kept). ``counters`` holds what it counted (frames, bytes...).

Both are built like blocks, from a frozen parameter dataclass whose fields carry doc, unit and
range (:func:`orbitlink.modem.block.param`), so that graph files are validated the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator

from orbitlink.modem.block import STREAM_DTYPES, make_params

__all__ = ["StreamInfo", "Source", "Sink", "SOURCES", "SINKS", "register_source",
           "register_sink", "STREAM_TYPES"]

STREAM_TYPES = tuple(STREAM_DTYPES) + ("pdu",)


@dataclass
class StreamInfo:
    """What a source tells the sinks about its stream."""

    samp_rate: float  # Hz (items per second for a PDU source: 0)
    out_type: str  # "c64" IQ, "f32" audio, "pdu"
    name: str = ""  # for messages: the file, device or socket
    datetime: str | None = None  # ISO 8601 time of the first sample, when known
    center_freq: float | None = None  # Hz, when known
    num_samples: int | None = None  # None when unknown (a pipe, a radio, a socket)
    extra: dict = field(default_factory=dict)

    @property
    def medium(self) -> str:
        return {"c64": "iq", "f32": "audio"}.get(self.out_type, self.out_type)


class _Endpoint:
    name: ClassVar[str] = ""
    Params: ClassVar[type]

    def __init__(self, params=None, **kw):
        self.params = make_params(self.Params, self.name, params, kw)
        self.counters: dict[str, Any] = {}

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"


class Source(_Endpoint):
    """Where samples (or PDUs) come from. ``out_type`` is the stream type it yields."""

    out_type: ClassVar[str] = "c64"

    def open(self) -> StreamInfo:
        raise NotImplementedError

    def chunks(self, n: int) -> Iterator:
        raise NotImplementedError


class Sink(_Endpoint):
    """Where a stream ends. ``in_types``: the stream types it accepts."""

    in_types: ClassVar[tuple] = ("pdu",)

    def open(self, info: StreamInfo) -> None:
        self.info = info

    def write(self, items) -> None:
        raise NotImplementedError


#: graph node type -> class
SOURCES: dict[str, type[Source]] = {}
SINKS: dict[str, type[Sink]] = {}


def _register(table, cls):
    name = cls.name
    if not name:
        raise ValueError(f"{cls.__name__} has no name")
    if name in table and table[name] is not cls:
        raise ValueError(f"{name!r} registered twice")
    table[name] = cls
    return cls


def register_source(cls):
    """Class decorator: a source graph files can name."""
    return _register(SOURCES, cls)


def register_sink(cls):
    """Class decorator: a sink graph files can name."""
    return _register(SINKS, cls)
