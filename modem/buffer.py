"""A sliding stream buffer with an absolute base: the carry-over of every streaming block.

A block that needs input beyond the current chunk (a filter's history, a matched filter's
look-ahead, a deframer waiting for a whole frame, an acquisition holding samples) keeps the
items it has not consumed in a :class:`StreamBuffer`. The buffer knows the absolute stream
index of its first item (:attr:`StreamBuffer.base`), so times and positions are computed from
absolute indices and the chunk contract holds (see :mod:`orbitlink.modem.block`).

Appends are amortised O(1) per item: the items live in a larger array, new items go after
them, and the array is compacted (or doubled) only when it is full, never re-concatenated on
every chunk. Dropping items from the front moves an offset. :attr:`StreamBuffer.view` is a
contiguous array over the live items (no copy), valid until the next :meth:`append`,
:meth:`reserve` or :meth:`extend_zeros` (dropping items does not move them).
"""

from __future__ import annotations

import numpy as np

__all__ = ["StreamBuffer"]


class StreamBuffer:
    """Items of one dtype from absolute stream index :attr:`base` on.

    Parameters
    ----------
    dtype : numpy dtype
        Item type, fixed for the buffer's life (structured dtypes such as
        :data:`orbitlink.modem.block.SYM_DTYPE` included). Appended chunks are cast to it:
        integers to integers of any width, anything else with ``same_kind`` casting (no
        complex to real, no float to integer).
    base : int
        Absolute index of the first item: the first of the ``fill`` zeros, or else the first
        item appended (negative for a filter history of zeros before sample 0).
    fill : int
        Number of zero items the buffer starts with (absolute indices ``base`` to
        ``base + fill - 1``; the first item appended is ``base + fill``).
    capacity : int
        Initial room, in items (grows as needed).

    Attributes
    ----------
    base : int
        Absolute index of :attr:`view` ``[0]``.

    Notes
    -----
    ``copy.deepcopy`` (and so ``Block.copy()``) gives an independent buffer holding the same
    items. A :attr:`view` taken before an :meth:`append` may no longer show the buffer (the
    storage can move): take the view after appending.
    """

    __slots__ = ("_data", "_start", "_end", "base")

    def __init__(self, dtype, base: int = 0, fill: int = 0, capacity: int = 256):
        fill = int(fill)
        self._data = np.zeros(max(int(capacity), fill, 1), np.dtype(dtype))
        self._start = 0
        self._end = fill
        self.base = int(base)

    # ---------------------------------------------------------------------------------------
    @property
    def dtype(self) -> np.dtype:
        """The item dtype."""
        return self._data.dtype

    @property
    def view(self) -> np.ndarray:
        """The live items, ``view[i]`` being absolute index ``base + i`` (a contiguous view,
        no copy; valid until the next append)."""
        return self._data[self._start:self._end]

    @property
    def end(self) -> int:
        """Absolute index one past the last item (``base + len(self)``)."""
        return self.base + (self._end - self._start)

    def __len__(self) -> int:
        return self._end - self._start

    def __repr__(self) -> str:
        return f"StreamBuffer(dtype={self.dtype}, base={self.base}, len={len(self)})"

    # ---------------------------------------------------------------------------------------
    def reserve(self, n: int) -> np.ndarray:
        """Room for ``n`` more items at the end: returns the writable array of those ``n``
        slots (uninitialised) and counts them as appended."""
        n = int(n)
        end = self._end + n
        if end > self._data.shape[0]:
            self._make_room(n)
            end = self._end + n
        out = self._data[self._end:end]
        self._end = end
        return out

    def append(self, chunk) -> None:
        """Add items at the end (cast to the buffer's dtype)."""
        if type(chunk) is not np.ndarray:
            chunk = np.asarray(chunk)
        n = chunk.shape[0]
        if n == 0:
            return
        end = self._end + n
        if end > self._data.shape[0]:
            self._make_room(n)
            end = self._end + n
        dst = self._data[self._end:end]
        if chunk.dtype == dst.dtype and dst.dtype.names is not None:
            # records ('sym'): copied as raw bytes, 15 times faster than field by field
            raw = np.dtype((np.void, dst.dtype.itemsize))
            dst.view(raw)[...] = chunk.view(raw)
        elif chunk.dtype == dst.dtype or (chunk.dtype.kind in "biu" and dst.dtype.kind in "biu"):
            dst[...] = chunk  # (integers of any width and sign convert: bits, indices)
        else:
            np.copyto(dst, chunk, casting="same_kind")  # no loss of kind
        self._end = end

    def extend_zeros(self, n: int) -> None:
        """Add ``n`` zero items at the end (padding at the end of a stream)."""
        self.reserve(n)[...] = 0

    def _make_room(self, n: int) -> None:
        live = self._end - self._start
        need = live + n
        if 2 * need <= self._data.shape[0]:
            # enough room once compacted: move the live items to the front
            self._data[:live] = self._data[self._start:self._end]
        else:
            data = np.empty(max(2 * need, 2 * self._data.shape[0]), self._data.dtype)
            data[:live] = self._data[self._start:self._end]
            self._data = data
        self._start, self._end = 0, live

    # ---------------------------------------------------------------------------------------
    def consume(self, n: int) -> None:
        """Drop the first ``n`` items (``0 <= n <= len``); :attr:`base` advances by ``n``."""
        n = int(n)
        if n < 0 or n > self._end - self._start:
            raise ValueError(f"cannot consume {n} of {self._end - self._start} items")
        self._start += n
        self.base += n
        if self._start == self._end:
            self._start = self._end = 0

    def keep_from(self, index: int) -> int:
        """Drop the items before absolute ``index`` (clamped to the items held); returns the
        number dropped."""
        n = int(index) - self.base
        if n <= 0:
            return 0
        live = self._end - self._start
        if n >= live:
            n = live
            self._start = self._end = 0
        else:
            self._start += n
        self.base += n
        return n

    def take(self, n: int) -> np.ndarray:
        """The first ``n`` items as a new array, consumed."""
        out = self._data[self._start:self._start + int(n)].copy()
        self.consume(len(out))
        return out

    def take_all(self) -> np.ndarray:
        """All items as a new array; the buffer is left empty with :attr:`base` at its end."""
        return self.take(len(self))

    def clear(self, base: int | None = None) -> None:
        """Drop every item; :attr:`base` moves to the end, or to ``base`` if given."""
        end = self.end
        self._start = self._end = 0
        self.base = end if base is None else int(base)

    # ---------------------------------------------------------------------------------------
    def __deepcopy__(self, memo):
        new = StreamBuffer.__new__(StreamBuffer)
        live = self._end - self._start
        new._data = np.zeros(max(2 * live, 256), self._data.dtype)
        new._data[:live] = self._data[self._start:self._end]
        new._start, new._end = 0, live
        new.base = self.base
        memo[id(self)] = new
        return new

    def __copy__(self):
        return self.__deepcopy__({})
