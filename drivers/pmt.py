"""GNU Radio PMT serialization in pure Python (struct only, no gnuradio import).

The bytes are those of ``pmt::serialize`` / ``pmt::deserialize`` of GNU Radio 3.10
(gnuradio-runtime/include/pmt/pmt_serial_tags.h, lib/pmt/pmt_serialize.cc); every multi-byte
value inside a PMT is **big-endian**:

====  ============================  ==============================================
tag   PMT                           Python value here
====  ============================  ==============================================
00    #t                            ``True``
01    #f                            ``False``
02    symbol (u16 len + bytes)      ``str`` (UTF-8; at most 1024 bytes)
03    int32 (u32)                   ``int``
04    double (f64)                  ``float``
05    complex (2 x f64)             ``complex``
06    nil (the empty list)          ``None``
07    pair (car, cdr)               :class:`Pair`
08    vector (u32 n + n PMTs)       ``list``
09    dict cell (pair, rest)        ``dict`` (the chain of cells ending in ``06``)
0a    uniform vector                ``bytes`` (u8) or a numpy array of the subtype
0b    uint64 (u64)                  :class:`U64` (an ``int``)
0c    tuple (u32 n + n PMTs)        ``tuple``
0d    int64 (u64)                   ``int``
====  ============================  ==============================================

A uniform vector is ``0a``, the subtype (``00`` u8, ``01`` s8, ``02`` u16, ``03`` s16, ``04``
u32, ``05`` s32, ``06`` u64, ``07`` s64, ``08`` f32, ``09`` f64, ``0a`` c32, ``0b`` c64), the
element count (u32), a pad count (u8, GNU Radio writes 1) and that many pad bytes, then the
elements. :func:`serialize` writes Python ``int`` as int32 when it fits, else as int64, as
``pmt::from_long`` does; wrap a value in :class:`U64` to send a uint64 (``rx_time``'s seconds).

:func:`deserialize` is defensive, because its input comes from the network: every length is
checked against the bytes that are left *before* anything is built from it (a vector of 4 G
items in 5 bytes is an error, not an allocation), symbols are at most 1024 bytes (GNU Radio's
own limit), vectors and tuples at most :data:`MAX_ITEMS` items, dicts at most ``MAX_ITEMS``
cells, nesting at most :data:`MAX_DEPTH` levels. Every problem raises :class:`PmtError`.
"""

from __future__ import annotations

import struct

import numpy as np

__all__ = ["PmtError", "Pair", "U64", "serialize", "deserialize", "MAX_SYMBOL", "MAX_ITEMS",
           "MAX_DEPTH"]

MAX_SYMBOL = 1024  # bytes of a symbol (pmt_serialize.cc refuses longer)
MAX_ITEMS = 4096  # items of a vector or tuple, cells of a dict
MAX_DEPTH = 32  # nesting of pairs, vectors, tuples and dicts

_TRUE, _FALSE, _SYMBOL, _INT32, _DOUBLE, _COMPLEX, _NULL, _PAIR, _VECTOR, _DICT, _UVEC, \
    _UINT64, _TUPLE, _INT64 = range(14)

#: uniform-vector subtype -> numpy big-endian dtype
_UV_DTYPES = {0: ">u1", 1: ">i1", 2: ">u2", 3: ">i2", 4: ">u4", 5: ">i4", 6: ">u8", 7: ">i8",
              8: ">f4", 9: ">f8", 10: ">c8", 11: ">c16"}
#: numpy dtype (kind, itemsize) -> subtype
_UV_SUBTYPE = {("u", 1): 0, ("i", 1): 1, ("u", 2): 2, ("i", 2): 3, ("u", 4): 4, ("i", 4): 5,
               ("u", 8): 6, ("i", 8): 7, ("f", 4): 8, ("f", 8): 9, ("c", 8): 10, ("c", 16): 11}


class PmtError(ValueError):
    """Bytes that are not a PMT this parser accepts (one sentence)."""


class U64(int):
    """An integer serialized as a PMT uint64 (tag ``0b``)."""

    def __repr__(self) -> str:
        return f"U64({int(self)})"


class Pair(tuple):
    """A PMT pair ``(car . cdr)``."""

    def __new__(cls, car, cdr):
        return super().__new__(cls, (car, cdr))

    @property
    def car(self):
        return self[0]

    @property
    def cdr(self):
        return self[1]

    def __repr__(self) -> str:
        return f"Pair({self[0]!r}, {self[1]!r})"


# --------------------------------------------------------------------------------------------
# serialize


def serialize(obj) -> bytes:
    """The bytes ``pmt::serialize`` writes for the PMT that ``obj`` stands for (see the
    module docstring for the mapping)."""
    out = bytearray()
    _ser(obj, out, 0)
    return bytes(out)


def _ser(obj, out: bytearray, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise PmtError(f"PMT nested deeper than {MAX_DEPTH} levels")
    if obj is True:
        out.append(_TRUE)
    elif obj is False:
        out.append(_FALSE)
    elif obj is None:
        out.append(_NULL)
    elif isinstance(obj, U64):
        if not 0 <= obj < 1 << 64:
            raise PmtError(f"uint64 PMT value {int(obj)} out of range")
        out += struct.pack(">BQ", _UINT64, obj)
    elif isinstance(obj, (int, np.integer)):
        v = int(obj)
        if -(1 << 31) <= v < 1 << 31:
            out += struct.pack(">Bi", _INT32, v)
        elif -(1 << 63) <= v < 1 << 63:
            out += struct.pack(">Bq", _INT64, v)
        elif v < 1 << 64 and isinstance(obj, np.unsignedinteger):
            out += struct.pack(">BQ", _UINT64, v)
        else:
            raise PmtError(f"integer {v} does not fit a PMT int64")
    elif isinstance(obj, (float, np.floating)):
        out += struct.pack(">Bd", _DOUBLE, float(obj))
    elif isinstance(obj, (complex, np.complexfloating)):
        c = complex(obj)
        out += struct.pack(">Bdd", _COMPLEX, c.real, c.imag)
    elif isinstance(obj, str):
        b = obj.encode("utf-8")
        if len(b) > MAX_SYMBOL:
            raise PmtError(f"PMT symbol of {len(b)} bytes is longer than {MAX_SYMBOL}")
        out += struct.pack(">BH", _SYMBOL, len(b)) + b
    elif isinstance(obj, Pair):
        out.append(_PAIR)
        _ser(obj[0], out, depth + 1)
        _ser(obj[1], out, depth + 1)
    elif isinstance(obj, tuple):
        out += struct.pack(">BI", _TUPLE, len(obj))
        for x in obj:
            _ser(x, out, depth + 1)
    elif isinstance(obj, list):
        out += struct.pack(">BI", _VECTOR, len(obj))
        for x in obj:
            _ser(x, out, depth + 1)
    elif isinstance(obj, dict):
        for k, v in obj.items():  # every cell of the alist is tagged 09
            out += bytes((_DICT, _PAIR))
            _ser(k, out, depth + 1)
            _ser(v, out, depth + 1)
        out.append(_NULL)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        b = bytes(obj)
        out += struct.pack(">BBIBB", _UVEC, 0, len(b), 1, 0) + b
    elif isinstance(obj, np.ndarray):
        key = (obj.dtype.kind, obj.dtype.itemsize)
        if obj.ndim != 1 or key not in _UV_SUBTYPE:
            raise PmtError(f"no PMT uniform vector for a {obj.ndim}-D {obj.dtype} array")
        sub = _UV_SUBTYPE[key]
        out += struct.pack(">BBIBB", _UVEC, sub, len(obj), 1, 0)
        out += obj.astype(_UV_DTYPES[sub], copy=False).tobytes()
    else:
        raise PmtError(f"no PMT for a value of type {type(obj).__name__}")


# --------------------------------------------------------------------------------------------
# deserialize


def deserialize(data, offset: int = 0) -> tuple[object, int]:
    """Parse one PMT from ``data`` (bytes-like) at ``offset``.

    Returns
    -------
    (value, end)
        The Python value (see the module docstring) and the offset just past it.

    Raises
    ------
    PmtError
        Truncated input, an unknown tag, a length beyond the bytes left or beyond the caps.
    """
    mv = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    return _de(mv, int(offset), 0)


def _need(buf, pos: int, n: int, what: str) -> None:
    if pos + n > len(buf):
        raise PmtError(f"PMT {what} truncated at byte {pos} ({len(buf) - pos} of {n} bytes "
                       "left)")


def _de(buf, pos: int, depth: int):
    if depth > MAX_DEPTH:
        raise PmtError(f"PMT nested deeper than {MAX_DEPTH} levels")
    _need(buf, pos, 1, "tag")
    tag = buf[pos]
    pos += 1
    if tag == _TRUE:
        return True, pos
    if tag == _FALSE:
        return False, pos
    if tag == _NULL:
        return None, pos
    if tag == _SYMBOL:
        _need(buf, pos, 2, "symbol length")
        (n,) = struct.unpack_from(">H", buf, pos)
        pos += 2
        if n > MAX_SYMBOL:
            raise PmtError(f"PMT symbol length {n} is over {MAX_SYMBOL}")
        _need(buf, pos, n, "symbol")
        try:
            s = bytes(buf[pos:pos + n]).decode("utf-8")
        except UnicodeDecodeError:
            raise PmtError("PMT symbol is not UTF-8") from None
        return s, pos + n
    if tag == _INT32:
        _need(buf, pos, 4, "int32")
        return struct.unpack_from(">i", buf, pos)[0], pos + 4
    if tag == _INT64:
        _need(buf, pos, 8, "int64")
        return struct.unpack_from(">q", buf, pos)[0], pos + 8
    if tag == _UINT64:
        _need(buf, pos, 8, "uint64")
        return U64(struct.unpack_from(">Q", buf, pos)[0]), pos + 8
    if tag == _DOUBLE:
        _need(buf, pos, 8, "double")
        return struct.unpack_from(">d", buf, pos)[0], pos + 8
    if tag == _COMPLEX:
        _need(buf, pos, 16, "complex")
        re, im = struct.unpack_from(">dd", buf, pos)
        return complex(re, im), pos + 16
    if tag == _PAIR:
        car, pos = _de(buf, pos, depth + 1)
        cdr, pos = _de(buf, pos, depth + 1)
        return Pair(car, cdr), pos
    if tag in (_VECTOR, _TUPLE):
        what = "vector" if tag == _VECTOR else "tuple"
        _need(buf, pos, 4, f"{what} length")
        (n,) = struct.unpack_from(">I", buf, pos)
        pos += 4
        if n > MAX_ITEMS:
            raise PmtError(f"PMT {what} of {n} items is over the cap of {MAX_ITEMS}")
        if n > len(buf) - pos:  # every item takes at least one byte
            raise PmtError(f"PMT {what} of {n} items in {len(buf) - pos} bytes")
        items = []
        for _ in range(n):
            x, pos = _de(buf, pos, depth + 1)
            items.append(x)
        return (items if tag == _VECTOR else tuple(items)), pos
    if tag == _DICT:
        d: dict = {}
        while True:  # 09 (07 key value) then 09 ... or 06
            if len(d) >= MAX_ITEMS:
                raise PmtError(f"PMT dict of more than {MAX_ITEMS} entries")
            cell, pos = _de(buf, pos, depth + 1)
            if not isinstance(cell, Pair):
                raise PmtError("PMT dict entry is not a (key . value) pair")
            try:
                d[cell[0]] = cell[1]
            except TypeError:
                raise PmtError("PMT dict key is not hashable") from None
            _need(buf, pos, 1, "dict")
            if buf[pos] == _NULL:
                return d, pos + 1
            if buf[pos] != _DICT:
                raise PmtError(f"PMT dict continues with tag {buf[pos]:#04x}")
            pos += 1
    if tag == _UVEC:
        _need(buf, pos, 6, "uniform vector header")
        sub, n, npad = struct.unpack_from(">BIB", buf, pos)
        pos += 6
        if sub not in _UV_DTYPES:
            raise PmtError(f"PMT uniform vector subtype {sub:#04x} is unknown")
        size = np.dtype(_UV_DTYPES[sub]).itemsize
        _need(buf, pos, npad, "uniform vector padding")
        pos += npad
        if n > (len(buf) - pos) // size:  # before anything is allocated
            raise PmtError(f"PMT uniform vector of {n} items in {len(buf) - pos} bytes")
        raw = bytes(buf[pos:pos + n * size])
        pos += n * size
        if sub == 0:
            return raw, pos
        return np.frombuffer(raw, _UV_DTYPES[sub]).astype(_UV_DTYPES[sub][1:]), pos
    raise PmtError(f"unknown PMT tag {tag:#04x} at byte {pos - 1}")
