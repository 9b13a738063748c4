"""Block model: parameters, lifecycle, rate classes, stream types, PDUs and the registry.

Every processing element of orbitlink is a :class:`Block`. A block is built from a frozen
parameter dataclass (each field carries a unit, a valid range and a doc string, see
:func:`param`), then driven with ``process(chunk)`` for every chunk of input, ``flush()`` at the
end of the stream, ``reset()`` to start over and ``copy()`` to fork its state.

Chunk contract
--------------
For every stateful block and any split of the input into chunks (empty and 1-item chunks
included), the concatenation of the outputs of ``process`` over the chunks followed by ``flush``
equals, bit for bit, the output for the whole input in one call (PDUs and their metadata
included). Time is therefore always derived from the absolute item index, never from the index
inside a chunk. ``tests/test_chunk_contract.py`` checks this for every registered block.

Stream types
------------
=========  ===============================================================================
``c64``    complex64 IQ samples
``f32``    float32 soft symbols / LLRs (positive means bit 1)
``u8``     uint8 unpacked bits (one bit per byte, 0 or 1)
``sym``    structured symbols :data:`SYM_DTYPE`: derotated complex symbol ``z``, absolute
           input sample position ``t`` of its timing instant, and frequency estimate ``f``
           (cycles per input sample)
``pdu``    ``list[Pdu]``
=========  ===============================================================================
"""

from __future__ import annotations

import copy as _copy
import dataclasses
import enum
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from orbitlink import OrbitlinkError

SYM_DTYPE = np.dtype([("z", np.complex64), ("t", np.float64), ("f", np.float32)])

STREAM_DTYPES = {
    "c64": np.dtype(np.complex64),
    "f32": np.dtype(np.float32),
    "u8": np.dtype(np.uint8),
    "sym": SYM_DTYPE,
}


class ParamError(OrbitlinkError, ValueError):
    """A block parameter is missing, of the wrong type or out of its valid range."""


class Rate(enum.Enum):
    """Rate classes, as in GNU Radio."""

    SYNC = "sync"  # one output item per input item
    DECIM = "decimating"  # fixed ratio, fewer outputs
    INTERP = "interpolating"  # fixed ratio, more outputs
    GENERAL = "general"  # variable rate (e.g. symbol synchronisation)
    STREAM_TO_PDU = "stream->pdu"  # deframers
    PDU_TO_PDU = "pdu->pdu"  # codecs
    PDU_TO_STREAM = "pdu->stream"  # framers, bursts


@dataclass(frozen=True)
class Pdu:
    """A packet: payload bytes plus a metadata dict (JSON-serialisable values)."""

    data: bytes
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.data, (bytes, bytearray)):
            raise TypeError(f"Pdu data must be bytes, not {type(self.data).__name__}")

    def __eq__(self, other):
        if not isinstance(other, Pdu):
            return NotImplemented
        return bytes(self.data) == bytes(other.data) and _meta_equal(self.meta, other.meta)

    __hash__ = None  # type: ignore[assignment]


def _meta_equal(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_meta_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_meta_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


# --------------------------------------------------------------------------------------------
# Parameters


def param(default, doc: str, *, unit: str = "", lo=None, hi=None, choices=None,
          lo_open: bool = False):
    """Declare a parameter field: default, doc, unit, valid range ``[lo, hi]`` or choices.

    ``lo_open`` makes the lower bound exclusive (``lo < value``).
    """
    meta = {"doc": doc, "unit": unit, "lo": lo, "hi": hi, "choices": choices, "lo_open": lo_open}
    if isinstance(default, (list, dict)):
        raise TypeError("parameter defaults must be immutable (use a tuple)")
    return field(default=default, metadata=meta)


def describe_params(params_cls) -> list[dict]:
    """One dict per parameter: name, type, default, unit, range, choices, doc."""
    out = []
    for f in dataclasses.fields(params_cls):
        m = f.metadata
        out.append({"name": f.name, "type": _type_name(f.type), "default": f.default,
                    "unit": m.get("unit", ""), "lo": m.get("lo"), "hi": m.get("hi"),
                    "choices": m.get("choices"), "doc": m.get("doc", "")})
    return out


def _type_name(t) -> str:
    return t if isinstance(t, str) else getattr(t, "__name__", str(t))


def validate_params(p, owner: str = "") -> None:
    """Check every field of a params dataclass against its declared type, range and choices."""
    where = f"{owner}: " if owner else ""
    for f in dataclasses.fields(p):
        v = getattr(p, f.name)
        m = f.metadata
        tname = _type_name(f.type).replace(" ", "")
        if tname in ("float", "int") and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ParamError(f"{where}parameter '{f.name}' must be a number, got {v!r}")
        if tname == "int" and not float(v).is_integer():
            raise ParamError(f"{where}parameter '{f.name}' must be an integer, got {v!r}")
        if tname == "float" and not math.isfinite(float(v)):
            raise ParamError(f"{where}parameter '{f.name}' must be finite, got {v!r}")
        if tname == "bool" and not isinstance(v, bool):
            raise ParamError(f"{where}parameter '{f.name}' must be true or false, got {v!r}")
        if tname == "str" and not isinstance(v, str):
            raise ParamError(f"{where}parameter '{f.name}' must be a string, got {v!r}")
        if m.get("choices") is not None and v not in m["choices"]:
            raise ParamError(f"{where}parameter '{f.name}' = {v!r} is not one of "
                             f"{', '.join(map(str, m['choices']))}")
        lo, hi = m.get("lo"), m.get("hi")
        if lo is not None and (v < lo or (m.get("lo_open") and v == lo)):
            rng = f"> {lo}" if m.get("lo_open") else f">= {lo}"
            raise ParamError(f"{where}parameter '{f.name}' = {v!r} must be {rng}")
        if hi is not None and v > hi:
            raise ParamError(f"{where}parameter '{f.name}' = {v!r} must be <= {hi}")


def coerce_params(params_cls, values: dict, owner: str = ""):
    """Build a params dataclass from a dict (e.g. parsed YAML), rejecting unknown keys."""
    names = {f.name: f for f in dataclasses.fields(params_cls)}
    where = f"{owner}: " if owner else ""
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ParamError(f"{where}unknown parameter(s) {', '.join(unknown)}; "
                         f"known: {', '.join(names)}")
    kw = {}
    for k, v in values.items():
        tname = _type_name(names[k].type).replace(" ", "")
        if tname == "float" and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if (tname == "int" and isinstance(v, float) and math.isfinite(v) and v.is_integer()):
            v = int(v)
        if tname.startswith("tuple") and isinstance(v, list):
            v = tuple(v)
        kw[k] = v
    p = params_cls(**kw)
    validate_params(p, owner)
    return p


# --------------------------------------------------------------------------------------------
# Blocks

REGISTRY: dict[str, type["Block"]] = {}


def make_params(params_cls, owner: str, params=None, kw=None):
    """The validated parameters of a block (or source, or sink): ``params`` (an instance of
    ``params_cls``) with the fields of ``kw`` replaced, or ``params_cls(**kw)``."""
    kw = kw or {}
    if params is None:
        params = params_cls(**kw)
    elif kw:
        params = dataclasses.replace(params, **kw)
    if not isinstance(params, params_cls):
        raise TypeError(f"{owner}: params must be {params_cls.__name__}")
    validate_params(params, owner)
    return params


def register(cls):
    """Class decorator: add a block class to the registry under ``cls.name``."""
    name = cls.name
    if name in REGISTRY and REGISTRY[name] is not cls:
        raise ValueError(f"block name {name!r} registered twice")
    REGISTRY[name] = cls
    return cls


def empty(type_name: str):
    """The empty output of a stream type."""
    if type_name == "pdu":
        return []
    return np.zeros(0, STREAM_DTYPES[type_name])


def concat(type_name: str, parts):
    """Concatenate chunk outputs of one stream type."""
    parts = list(parts)
    if type_name == "pdu":
        return [p for part in parts for p in part]
    if not parts:
        return empty(type_name)
    return np.concatenate([np.asarray(p, STREAM_DTYPES[type_name]) for p in parts])


class Block:
    """Base class of every block (see the module docstring for the lifecycle and contract).

    Subclasses set the class attributes ``name``, ``Params``, ``rate``, ``in_type`` and
    ``out_type``, and implement ``_reset``, ``_process`` and optionally ``_flush``.
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type]
    rate: ClassVar[Rate] = Rate.SYNC
    in_type: ClassVar[str] = "c64"
    out_type: ClassVar[str] = "c64"
    stateful: ClassVar[bool] = True

    def __init__(self, params=None, **kw):
        self.params = make_params(self.Params, self.name, params, kw)
        self.reset()

    # lifecycle ---------------------------------------------------------------------------
    def process(self, chunk):
        """Consume one chunk of input, return the output it completes."""
        if self.in_type != "pdu":
            chunk = np.asarray(chunk)
            if chunk.dtype != STREAM_DTYPES[self.in_type]:
                chunk = chunk.astype(STREAM_DTYPES[self.in_type])
        return self._process(chunk)

    def flush(self):
        """End of stream: return whatever output is still held."""
        return self._flush()

    def reset(self) -> None:
        """Return to the state right after construction."""
        self._reset()

    def copy(self) -> "Block":
        """An independent block with the same parameters and state."""
        return _copy.deepcopy(self)

    def run(self, x):
        """Convenience: process the whole input and flush; returns the concatenated output."""
        return concat(self.out_type, [self.process(x), self.flush()])

    # to implement ---------------------------------------------------------------------------
    def _reset(self) -> None:
        pass

    def _process(self, chunk):
        raise NotImplementedError

    def _flush(self):
        return empty(self.out_type)

    # for tests and docs ---------------------------------------------------------------------
    @classmethod
    def example(cls, rng: np.random.Generator) -> tuple["Block", Any]:
        """A configured instance and a representative input for the chunk-contract test."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"

