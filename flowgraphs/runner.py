"""File-mode runner: push chunks through a graph (or a linear chain) of blocks,
deterministically, in one thread.

The output does not depend on the chunk size (the chunk contract of every block). When the
source fails part-way (a truncated recording, a bad sample), the graph is still flushed and the
sinks closed, so everything decoded from the good part comes out before the error is raised
again.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from orbitlink import OrbitlinkError
from orbitlink.modem.block import Block, concat, empty


@dataclass
class RunResult:
    """What a graph run did: the source's stream info, items read, wall time, and every
    node's counters (sources and sinks count what they saw; nothing is dropped silently)."""

    info: object
    items: int = 0
    seconds: float = 0.0
    counters: dict = field(default_factory=dict)


class GraphDriver:
    """What both runners (file and live) do to a graph: open the source and the sinks, attach
    the source's gap log to the blocks that flag frames, push a chunk through the blocks in
    topological order (an output feeding several inputs is handed to each), flush, close, and
    collect the counters."""

    def __init__(self, graph):
        self.graph = graph
        self.order = graph.order()
        self.up = graph.upstream()
        self.nodes = graph.nodes
        self.src = graph.source
        self.rest = [self.nodes[n] for n in self.order if n != self.src.name]
        self.opened = []

    def open_source(self):
        info = self.src.obj.open()
        log = getattr(self.src.obj, "gap_log", None)
        if log is not None:  # frames that span a gap of the source are flagged
            for n in self.nodes.values():
                if n.kind == "block" and hasattr(n.obj, "attach_gap_log"):
                    n.obj.attach_gap_log(log)
        return info

    def open_sinks(self, info) -> None:
        for s in (n for n in self.rest if n.kind == "sink"):
            s.obj.open(dataclasses.replace(info, out_type=self.nodes[self.up[s.name]].out_type))
            self.opened.append(s)

    def push(self, x, final: bool = False) -> None:
        out = {self.src.name: x}
        for n in self.rest:
            y = out[self.up[n.name]]
            if n.kind == "sink":
                n.obj.write(y)
            elif final:
                out[n.name] = concat(n.obj.out_type, [n.obj.process(y), n.obj.flush()])
            else:
                out[n.name] = n.obj.process(y)

    def flush(self) -> None:
        self.push(empty(self.src.out_type), True)

    def close(self) -> None:
        try:
            for s in self.opened:
                s.obj.close()
        finally:
            self.src.obj.close()

    def counters(self) -> dict:
        return {n.name: dict(n.obj.counters) for n in self.nodes.values() if n.kind != "block"}


def run_graph(graph, chunk: int = 1 << 16, on_chunk: Callable | None = None,
              on_open: Callable | None = None) -> RunResult:
    """Run a built graph (:class:`orbitlink.flowgraphs.graph.Graph`) in file mode: read the
    source chunk by chunk, push every chunk through the blocks in topological order (an output
    that feeds several inputs is handed to each), hand each sink its input, then flush.

    ``on_chunk(n)`` is called with the size of every chunk read (progress); ``on_open(info)``
    once the source is open. A source error (a truncated file, a bad sample) is raised after
    the graph is flushed and the sinks closed.
    """
    if isinstance(chunk, bool) or int(chunk) != chunk or chunk < 1:
        raise OrbitlinkError(f"the chunk size must be a positive integer, got {chunk!r}")
    d = GraphDriver(graph)
    t0 = time.perf_counter()
    info = d.open_source()
    if on_open is not None:
        on_open(info)
    result = RunResult(info)
    error = None
    try:
        d.open_sinks(info)
        try:
            for x in d.src.obj.chunks(int(chunk)):
                result.items += len(x)
                if on_chunk is not None:
                    on_chunk(len(x))
                d.push(x)
        except OrbitlinkError as e:
            error = e
        d.flush()
    finally:
        d.close()
    result.seconds = time.perf_counter() - t0
    result.counters = d.counters()
    if error is not None:
        error.result = result
        raise error
    return result


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

    def __init__(self, total: int, label: str = "", stream=None, min_interval: float = 0.2,
                 enabled: bool = True):
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
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
    """Yield the frames (PDUs, metadata completed by the link's ``frame_meta``) that
    ``link``'s receiver finds in the opened recording ``rec`` (SigMF, WAV or raw; a mono WAV
    is a receiver's audio). Runs the link's receive graph with a collecting sink.

    ``on_chunk(n)`` is called with the size of every chunk read (for progress); ``front``:
    blocks run before the link's receiver (e.g. Doppler correction); ``taps(i, output)`` sees
    the output of block ``i`` of the chain (front included). A source error (truncated file,
    bad sample) is raised after the frames decoded before it.
    """
    from orbitlink.drivers.files import RecordingSource
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.sinks import CollectSink

    medium = getattr(rec, "kind", "iq")
    out = CollectSink()
    g = link_graph(link, "rx", rec.samp_rate, medium, front=list(front or []),
                   emit_failed=emit_failed, source=RecordingSource(medium=medium, rec=rec),
                   sinks=[out])
    if taps is not None:
        _attach_taps(g, taps)
    try:
        run_graph(g, chunk, on_chunk=on_chunk)
    finally:
        yield from out.items


def _attach_taps(g, taps):
    """Wrap the chain's blocks so that ``taps(i, y)`` sees block ``i``'s output."""
    chain = [n for n in g.order() if g.nodes[n].kind == "block"]
    for i, name in enumerate(chain):
        blk = g.nodes[name].obj
        for meth in ("process", "flush"):
            f = getattr(blk, meth)

            def wrapped(*a, _f=f, _i=i):
                y = _f(*a)
                taps(_i, y)
                return y

            setattr(blk, meth, wrapped)
