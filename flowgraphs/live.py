"""Live mode: a graph run with its source in a thread of its own and a queue bounded in seconds
of signal between the source and the blocks.

- **The queue** holds at most ``queue_s`` seconds of samples (default 2 s). Its policy follows
  the source: a radio cannot wait, so when the blocks fall behind the *oldest* samples are
  dropped and counted (``drop``); a file or a back-pressured stream waits (``block``).
- **Sample indices stay the source's.** A chunk dropped from the queue leaves a hole: the
  blocks see the next chunk right after the last one they processed, and an :class:`IndexMap`
  turns the positions the blocks report back into the source's sample indices (frames keep
  their true ``sample_index`` and time); the hole goes into the source's gap log, so that the
  frames that span it are flagged like those that span a radio's own gap.
- **Stopping.** SIGINT and SIGTERM (or :meth:`LiveRun.stop`) stop the source; what is already
  queued is processed, the graph is flushed and the sinks are closed, so the frames in flight
  are delivered. The run then returns normally.

File mode (:func:`orbitlink.flowgraphs.runner.run_graph`) stays as it is: deterministic, one
thread.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import signal
import threading
import time

from orbitlink import OrbitlinkError

__all__ = ["run_live", "LiveRun", "IndexMap", "is_live_source"]

_END = object()


class IndexMap:
    """Maps positions in the stream the blocks processed to the source's sample indices, given
    the holes (samples dropped between the two): ``add(at, n)`` records ``n`` samples dropped
    before processed position ``at``."""

    def __init__(self):
        self._at: list[int] = []  # processed positions where holes are
        self._offset: list[int] = []  # total dropped before and at each hole

    def add(self, at: int, n: int) -> None:
        total = (self._offset[-1] if self._offset else 0) + int(n)
        self._at.append(int(at))
        self._offset.append(total)

    def __call__(self, processed_index: float) -> float:
        i = bisect.bisect_right(self._at, processed_index) - 1
        return processed_index + (self._offset[i] if i >= 0 else 0)

    @property
    def dropped(self) -> int:
        return self._offset[-1] if self._offset else 0


def is_live_source(source) -> bool:
    """A source that produces samples in real time (a radio, a network stream)."""
    return getattr(source, "live_policy", None) is not None or source.name == "radio_source"


@dataclasses.dataclass
class LiveCounters:
    queue_capacity_samples: int = 0
    queue_max_samples: int = 0
    dropped_chunks: int = 0
    dropped_samples: int = 0
    blocked_s: float = 0.0  # time the source waited for room (policy block)
    samples_in: int = 0
    samples_processed: int = 0
    stopped_by: str = ""


class LiveRun:
    """One live run of a built graph (see the module docstring); :meth:`run` returns a
    :class:`orbitlink.flowgraphs.runner.RunResult` whose counters hold ``live``."""

    def __init__(self, graph, chunk: int = 1 << 14, queue_s: float = 2.0,
                 policy: str | None = None, on_open=None, on_chunk=None):
        if not queue_s > 0:
            raise OrbitlinkError(f"the queue must hold some signal, got {queue_s!r} s")
        self.graph = graph
        self.chunk = int(chunk)
        self.queue_s = float(queue_s)
        src = graph.source.obj
        self.policy = policy or getattr(src, "live_policy", None) or (
            "drop" if src.name == "radio_source" else "block")
        if self.policy not in ("drop", "block"):
            raise OrbitlinkError(f"queue policy must be drop or block, got {self.policy!r}")
        self.on_open = on_open
        self.on_chunk = on_chunk
        self.counters = LiveCounters()
        self._q = collections.deque()  # (source index, array)
        self._q_samples = 0
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._error = None
        self.index_map = IndexMap()
        # when the source delivered its samples: end index of each recent chunk, and the
        # monotonic time it was read (latency from sample to output)
        self._arr: tuple[list, list] = ([], [])  # replaced as a whole when trimmed

    @property
    def queue_samples(self) -> int:
        return self._q_samples

    @property
    def queue_fill(self) -> float:
        """How full the queue is now (0 to 1)."""
        cap = getattr(self, "capacity", 0)
        return self._q_samples / cap if cap else 0.0

    def arrival_time(self, index: float) -> float | None:
        """``time.monotonic()`` when the source delivered sample ``index`` (of its
        numbering), for the recent past (the last ~100,000 chunks); None before the first
        chunk. An index not read yet gives the time of the latest chunk."""
        idx, t = self._arr  # the reader replaces, never shrinks, these lists
        n = min(len(idx), len(t))
        if n == 0:
            return None
        i = bisect.bisect_right(idx, index, 0, n)
        return t[min(i, n - 1)]

    def stop(self, why: str = "stop") -> None:
        """Stop the source; what is queued is still processed."""
        if not self._stop.is_set():
            self.counters.stopped_by = why
        self._stop.set()
        src = self.graph.source.obj
        if hasattr(src, "stop_requested"):
            src.stop_requested = True
        with self._cv:
            self._cv.notify_all()

    # the source's thread ---------------------------------------------------------------
    def _reader(self, src):
        index = 0
        try:
            for x in src.chunks(self.chunk):
                if self._stop.is_set():
                    break
                n = len(x)
                self.counters.samples_in += n
                with self._cv:
                    if self.policy == "block":
                        t0 = time.monotonic()
                        while (self._q_samples + n > self.capacity and self._q
                               and not self._stop.is_set()):
                            self._cv.wait(0.1)
                        self.counters.blocked_s += time.monotonic() - t0
                    else:
                        while self._q and self._q_samples + n > self.capacity:
                            i0, old = self._q.popleft()  # the oldest goes
                            self._q_samples -= len(old)
                            self.counters.dropped_chunks += 1
                            self.counters.dropped_samples += len(old)
                    self._q.append((index, x))
                    self._q_samples += n
                    if len(self._arr[0]) >= 200_000:  # keep the recent half
                        self._arr = (self._arr[0][100_000:], self._arr[1][100_000:])
                    self._arr[1].append(time.monotonic())  # time first: see arrival_time
                    self._arr[0].append(index + n)
                    self.counters.queue_max_samples = max(self.counters.queue_max_samples,
                                                          self._q_samples)
                    self._cv.notify_all()
                index += n
        except BaseException as e:  # handed to the processing thread, raised there
            self._error = e
        finally:
            with self._cv:
                self._q.append((index, _END))
                self._cv.notify_all()

    # the processing thread (the caller's) ---------------------------------------------
    def run(self):
        from orbitlink.flowgraphs.runner import GraphDriver, RunResult

        d = GraphDriver(self.graph)
        t0 = time.perf_counter()
        info = d.open_source()
        self.capacity = max(self.chunk, int(self.queue_s * info.samp_rate))
        self.counters.queue_capacity_samples = self.capacity
        log = getattr(d.src.obj, "gap_log", None)
        for n in d.nodes.values():
            if n.kind == "block" and hasattr(n.obj, "attach_index_map"):
                n.obj.attach_index_map(self.index_map)
        if self.on_open is not None:
            self.on_open(info)
        result = RunResult(info)
        old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                old[sig] = signal.signal(sig, lambda s, f: self.stop(signal.Signals(s).name))
        reader = threading.Thread(target=self._reader, args=(d.src.obj,), name="source",
                                  daemon=True)
        try:
            d.open_sinks(info)
            reader.start()
            expected = 0  # source index of the next sample the blocks expect
            processed = 0
            while True:
                with self._cv:
                    while not self._q:
                        self._cv.wait(0.1)
                    index, x = self._q.popleft()
                    if x is not _END:
                        self._q_samples -= len(x)
                    self._cv.notify_all()
                if x is _END:
                    break
                if index > expected:  # chunks dropped from the queue: a hole
                    self.index_map.add(processed, index - expected)
                    if log is not None:
                        log.add(index, index - expected)
                expected = index + len(x)
                processed += len(x)
                self.counters.samples_processed += len(x)
                result.items += len(x)
                if self.on_chunk is not None:
                    self.on_chunk(len(x))
                d.push(x)
            d.flush()
        finally:
            self.stop(self.counters.stopped_by or "end")
            reader.join(2.0)
            for sig, h in old.items():
                signal.signal(sig, h)
            d.close()
        result.seconds = time.perf_counter() - t0
        result.counters = d.counters()
        result.counters["live"] = dataclasses.asdict(self.counters)
        if self._error is not None and not isinstance(self._error, KeyboardInterrupt):
            if isinstance(self._error, OrbitlinkError):
                self._error.result = result
            raise self._error
        return result


def run_live(graph, chunk: int = 1 << 14, queue_s: float = 2.0, policy: str | None = None,
             on_open=None, on_chunk=None):
    """Run a built graph live (see the module docstring)."""
    return LiveRun(graph, chunk, queue_s, policy, on_open, on_chunk).run()
