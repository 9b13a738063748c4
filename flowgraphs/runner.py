"""File-mode runner: push chunks through a linear chain of blocks, deterministically.

The output does not depend on the chunk size (the chunk contract of every block). When the
source fails part-way (a truncated recording, a bad sample), the chain is still flushed, so
everything decoded from the good part comes out before the error is raised again.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Iterable, Iterator

from orbitlink import OrbitlinkError
from orbitlink.modem.block import Block


def run_chain(blocks: list[Block], chunks: Iterable, taps: Callable | None = None) -> Iterator:
    """Yield the last block's output for every input chunk, then for the flush.

    ``taps(i, output)``, when given, sees the output of every block ``i`` (for plots).
    Re-raises a source's :class:`OrbitlinkError` after flushing the chain.
    """
    error = None

    def push(i, y):
        for j in range(i, len(blocks)):
            y = blocks[j].process(y)
            if taps is not None:
                taps(j, y)
        return y

    try:
        for x in chunks:
            yield push(0, x)
    except OrbitlinkError as e:
        error = e
    for i, b in enumerate(blocks):
        y = b.flush()
        if taps is not None:
            taps(i, y)
        yield push(i + 1, y)
    if error is not None:
        raise error


class Progress:
    """A one-line progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self, total: int, label: str = "", stream=None, min_interval: float = 0.2):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.t0 = time.perf_counter()
        self._last = 0.0
        self.min_interval = min_interval

    def update(self, n: int):
        self.done += int(n)
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < self.min_interval and self.done < self.total:
            return
        self._last = now
        frac = min(self.done / self.total, 1.0)
        width = 30
        bar = "=" * int(frac * width) + " " * (width - int(frac * width))
        rate = self.done / max(now - self.t0, 1e-9)
        self.stream.write(f"\r{self.label} [{bar}] {frac * 100:5.1f}%  {rate / 1e6:6.2f} Msps")
        self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\r" + " " * 70 + "\r")
            self.stream.flush()


def decode_recording(rec, link, chunk: int = 1 << 16, emit_failed: bool | None = None,
                     on_chunk: Callable | None = None, taps: Callable | None = None,
                     front: list | None = None) -> Iterator:
    """Yield the frames (PDUs, metadata completed by ``link.finish``) that ``link``'s receiver
    finds in the opened recording ``rec`` (SigMF, WAV or raw; a mono WAV is a receiver's audio).

    ``on_chunk(n)`` is called with the size of every chunk read (for progress); ``front``:
    blocks run before the link's receiver (e.g. Doppler correction). A source error
    (truncated file, bad sample) is raised after the frames decoded before it.
    """
    medium = getattr(rec, "kind", "iq")
    chain = list(front or []) + link.rx_chain(rec.samp_rate, emit_failed=emit_failed,
                                              medium=medium)

    def chunks():
        for x in rec.chunks(chunk):
            if on_chunk is not None:
                on_chunk(len(x))
            yield x

    for frames in run_chain(chain, chunks(), taps=taps):
        for p in frames:
            yield link.finish(p, rec.samp_rate)
