"""Decode an archive of recordings on Dask distributed (``orbitlink batch``).

One task per recording: :func:`decode_file` runs on a worker, opens the recording itself (no
sample arrays go through the scheduler) and returns a small dict whose ``text`` is exactly what
``orbitlink decode REC --json`` prints on stdout (the same graph: ``link_graph`` + a JSON
``FramesSink`` + ``run_graph``) and whose ``index`` holds the frame index's columns. A task
that raises (an I/O error, not an invalid recording) is tried ``retries`` more times. The
client (:func:`run_batch`) writes, for every recording:

* ``DIR/<stem>.jsonl``: the frames, byte-identical to ``orbitlink decode REC --json``;
* ``DIR/<stem>.done.json``: a sidecar with the input key, the link, the counts and the error
  (written after the ``.jsonl``; both through a temporary file and a rename, with a Ctrl-C
  held back until both are there, so that an interrupted batch leaves only whole pairs);

and for the batch: ``DIR/errors.jsonl`` (one record per recording that failed) and the frame
index ``DIR/frames.parquet`` (when pyarrow is installed) or ``DIR/frames.jsonl``, columns
``file, sample_index, time_s, time_utc, link, hex, check, crc_ok``.

``--resume`` skips a recording whose sidecar holds the same *input key*: the SHA-256 of the
names, sizes and modification times (ns) of the recording's files (both files of a SigMF
recording) with the link and ``--set`` options of the run. That costs one ``stat`` per file
(no reading of the archive on the client); a recording rewritten in place gets a new key. A
recording that failed is decoded again.

The embedded cluster (:func:`start_cluster`) is a ``LocalCluster`` on 127.0.0.1 set up for one
long task per worker (:data:`QUIET_CLUSTER`); this module is its workers' Dask preload
(:func:`dask_setup`: SIGINT ignored, the interpreter's teardown skipped at exit). The longest
recordings are handed out first (:func:`samples_hint`).

dask and distributed are imported only when a batch runs.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import re
import sys
import threading
import time

from orbitlink import OrbitlinkError

__all__ = ["BatchError", "expand_inputs", "recording_stem", "input_key", "decode_file",
           "run_batch"]

#: what a folder is searched for (recursively); a .sigmf-data stands for its .sigmf-meta
RECORDING_SUFFIXES = (".sigmf-meta", ".sigmf-data", ".sigmf", ".wav")
#: output names a recording's stem may not take
RESERVED_STEMS = ("frames", "errors")
INDEX_COLUMNS = ("file", "sample_index", "time_s", "time_utc", "link", "hex", "check",
                 "crc_ok")


class BatchError(OrbitlinkError):
    """A batch cannot run as asked (inputs, output folder, cluster)."""


# --------------------------------------------------------------------------------------------
# inputs


def _canonical(path: str) -> str:
    """A SigMF recording is named by its .sigmf-meta."""
    if path.lower().endswith(".sigmf-data"):
        meta = path[: -len(".sigmf-data")] + ".sigmf-meta"
        if os.path.exists(meta):
            return meta
    return path


def _is_recording_name(path: str) -> bool:
    return path.lower().endswith(RECORDING_SUFFIXES)


def _in_folder(folder: str) -> list[str]:
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            if f.lower().endswith(".sigmf-data") and os.path.exists(
                    p[: -len(".sigmf-data")] + ".sigmf-meta"):
                continue  # named by its .sigmf-meta
            if _is_recording_name(f):
                out.append(p)
    return out


def _in_list(path: str) -> list[str]:
    base = os.path.dirname(path)
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise BatchError(f"{path}: cannot read the list of recordings "
                         f"({getattr(e, 'strerror', None) or e})") from None
    out = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line if os.path.isabs(line) else os.path.join(base, line))
    return out


def expand_inputs(inputs) -> list[str]:
    """Recordings named by ``INPUT...``: a folder (searched recursively for SigMF and WAV
    recordings), a glob (``**`` allowed; quote it), a recording, or any other file: a list of
    recordings, one path a line (relative to the list's folder; ``#`` comments). Each recording
    once, in the order given."""
    seen, out = set(), []

    def add(p):
        p = _canonical(os.path.normpath(p))
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for item in inputs:
        if os.path.isdir(item):
            for p in _in_folder(item):
                add(p)
        elif os.path.exists(item):
            if _is_recording_name(item):
                add(item)
            else:
                for p in _in_list(item):
                    add(p)
        elif glob.has_magic(item):
            hits = sorted(glob.glob(item, recursive=True))
            hits = [h for h in hits if not os.path.isdir(h)]
            if not hits:
                raise BatchError(f"{item}: no file matches")
            for h in hits:
                if not (h.lower().endswith(".sigmf-data") and _canonical(h) != h):
                    add(h)
        else:
            # a missing recording is the batch's business (an error record), unless nothing
            # looks like a recording at all
            if _is_recording_name(item):
                add(item)
            else:
                raise BatchError(f"{item}: no such file or folder")
    if not out:
        raise BatchError("no recordings found in " + ", ".join(map(str, inputs)))
    return out


def recording_stem(path: str) -> str:
    """``DIR/<stem>.jsonl``: the file name without its recording suffix."""
    name = os.path.basename(path)
    low = name.lower()
    for suf in RECORDING_SUFFIXES:
        if low.endswith(suf):
            return name[: -len(suf)]
    return os.path.splitext(name)[0] or name


def recording_files(path: str) -> list[str]:
    """The files a recording is made of (both files of a SigMF recording)."""
    low = path.lower()
    for suf in (".sigmf-meta", ".sigmf-data"):
        if low.endswith(suf):
            base = path[: -len(suf)]
            return [base + ".sigmf-meta", base + ".sigmf-data"]
    return [path]


def input_key(path: str, link, overrides) -> str:
    """The input key ``--resume`` compares: SHA-256 of each file's name, size and mtime (ns),
    the link asked for and the ``--set`` options."""
    parts = []
    for f in recording_files(path):
        try:
            st = os.stat(f)
            parts.append([os.path.basename(f), st.st_size, st.st_mtime_ns])
        except OSError:
            parts.append([os.path.basename(f), None, None])
    blob = json.dumps({"files": parts, "link": link, "set": overrides or {}}, sort_keys=True)
    return "stat-sha256:" + hashlib.sha256(blob.encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# one recording (runs on a worker)


def decode_file(path: str, link: str | None = None, overrides: dict | None = None,
                chunk: int = 1 << 16, strict: bool = False) -> dict:
    """Decode one recording as ``orbitlink decode PATH --json [--link L] [--set ...]`` does.

    A recording that cannot be decoded (an :class:`OrbitlinkError`: not a recording, a damaged
    one, an unknown link) returns with ``error`` set (and the frames decoded before a damaged
    part, as ``decode`` prints them). Anything else (an ``OSError`` while reading, e.g. a
    network mount's hiccup or a worker that lacks the mount; a ``MemoryError``; a bug) is an
    error record too, unless ``strict``: then it is raised, so that the batch's task fails and
    Dask tries it again (``--retries``), on whichever worker is free.

    The returned dict is small: ``text`` (the JSON lines), ``index`` (the frame index's
    columns, :data:`INDEX_COLUMNS`, as lists), counts, the seconds decoded and spent."""
    t0 = time.perf_counter()
    started = time.time()
    out = io.StringIO()
    res = {"path": path, "link": link, "frames": 0, "good": 0, "duration_s": None,
           "warnings": [], "error": None}
    try:
        from orbitlink.drivers.files import RecordingSource, open_input
        from orbitlink.flowgraphs.cli import _with_rate
        from orbitlink.flowgraphs.graph import link_graph
        from orbitlink.flowgraphs.links import load_link
        from orbitlink.flowgraphs.runner import run_graph
        from orbitlink.flowgraphs.sinks import FramesSink

        rec = open_input(path)
        name = link or rec.meta.get("global", {}).get("orbitlink:link")
        if not name:
            raise BatchError(f"{rec.name}: the recording does not say which link it carries; "
                             f"give --link (see 'orbitlink links')")
        lk = load_link(name, _with_rate(overrides or {}, rec.samp_rate))
        res["link"] = lk.name
        medium = getattr(rec, "kind", "iq")
        sink = FramesSink(format="json", stream=out)
        g = link_graph(lk, "rx", rec.samp_rate, medium, front=[],
                       source=RecordingSource(medium=medium, rec=rec), sinks=[sink])
        try:
            r = run_graph(g, chunk)
        except OrbitlinkError as e:
            if getattr(e, "result", None) is None:
                raise
            res["error"], r = str(e), e.result
        res["warnings"] = list(r.info.extra.get("warnings", []))
        res["frames"] = sink.counters["frames"]
        res["good"] = sink.counters["frames_ok"]
        res["duration_s"] = r.items / r.info.samp_rate
    except OrbitlinkError as e:
        res["error"] = str(e)
    except Exception as e:  # a recording must never stop the batch
        if strict:
            raise
        res["error"] = task_error(path, e)
    res["text"] = out.getvalue()
    # the frame index's columns, made here (in parallel) rather than by the client
    res["index"] = index_columns(recording_stem(path), res["link"], res["text"])
    res["seconds"] = time.perf_counter() - t0
    res["started"], res["pid"] = started, os.getpid()
    return res


def task_error(path: str, e: BaseException) -> str:
    """One sentence for an exception out of a decode (or of its task on the cluster)."""
    if isinstance(e, OSError):
        return f"{getattr(e, 'filename', '') or path}: {e.strerror or e}"
    return f"{path}: {type(e).__name__}: {e}"


# --------------------------------------------------------------------------------------------
# writing the outputs


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def index_columns(stem: str, link, text: str) -> dict:
    """The frame index's columns (:data:`INDEX_COLUMNS`) for one recording's JSON lines."""
    cols = {c: [] for c in INDEX_COLUMNS}
    for line in text.splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        cols["sample_index"].append(d.get("sample_index"))
        cols["time_s"].append(d.get("time_s"))
        cols["time_utc"].append(d.get("time_utc"))
        cols["hex"].append(d.get("hex"))
        cols["check"].append(d.get("check"))
        cols["crc_ok"].append(bool(d.get("crc_ok")))
    n = len(cols["hex"])
    cols["file"] = [stem] * n
    cols["link"] = [link] * n
    return cols


def _parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def write_index(out_dir: str, parts, parquet: bool | None = None) -> str:
    """The frame index from the recordings' columns (:func:`index_columns`, in the batch's
    order): ``DIR/frames.parquet`` with pyarrow (when it imports, or ``parquet=True``), else
    ``DIR/frames.jsonl`` (one JSON object a line, the same columns). Written through a
    temporary file and a rename. Returns its path."""
    if parquet is None:
        parquet = _parquet_available()
    cols = {c: [] for c in INDEX_COLUMNS}
    for part in parts:
        for c in INDEX_COLUMNS:
            cols[c].extend(part[c])
    if parquet:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = os.path.join(out_dir, "frames.parquet")
        table = pa.table(cols, schema=pa.schema([
            ("file", pa.string()), ("sample_index", pa.int64()), ("time_s", pa.float64()),
            ("time_utc", pa.string()), ("link", pa.string()), ("hex", pa.string()),
            ("check", pa.string()), ("crc_ok", pa.bool_())]))
        tmp = path + f".tmp{os.getpid()}"
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        return path
    path = os.path.join(out_dir, "frames.jsonl")
    n = len(cols["file"])
    _write_atomic(path, "".join(json.dumps({c: cols[c][i] for c in INDEX_COLUMNS}) + "\n"
                                for i in range(n)))
    return path


def _summary_line(stem: str, r: dict) -> str:
    if r.get("skipped"):
        head = f"{stem}: skipped (done, same input): {r['frames']} frames ({r['good']} good)"
        return head + (f", {r['duration_s']:.1f} s of recording" if r.get("duration_s") else "")
    if r["error"] and not r["frames"]:
        return f"{stem}: error: {r['error']}"
    line = (f"{stem}: {r['frames']} frames ({r['good']} good), "
            f"{r['duration_s'] or 0.0:.1f} s of recording in {r['seconds']:.2f} s, "
            f"link {r['link']}")
    if r["error"]:
        line += f"; error: {r['error']}"
    return line


class _Bar:
    """Recordings done / total and frames/s, one line on stderr redrawn with a carriage return;
    on when ``enabled`` (default: when that stream is a terminal)."""

    def __init__(self, total: int, stream=None, enabled: bool | None = None):
        self.total, self.done, self.frames = max(total, 1), 0, 0
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = bool(enabled) and total > 0
        self.t0 = time.perf_counter()

    def update(self, frames: int):
        self.done += 1
        self.frames += frames
        if self.enabled:
            frac = self.done / self.total
            bar = "=" * int(frac * 30)
            dt = max(time.perf_counter() - self.t0, 1e-9)
            self.stream.write(f"\rbatch [{bar:<30}] {self.done}/{self.total} recordings  "
                              f"{self.frames / dt:7.1f} frames/s")
            self.stream.flush()

    def clear(self):
        if self.enabled:
            self.stream.write("\r" + " " * 79 + "\r")
            self.stream.flush()


# --------------------------------------------------------------------------------------------
# the cluster


#: the dashboard's address when ``--dashboard`` gives no host (or no value at all)
DASHBOARD_HOST, DASHBOARD_PORT = "127.0.0.1", 8787

#: seconds the batch waits for the cluster to shut down before it leaves it to the exit
CLOSE_TIMEOUT = 20.0

#: Dask settings for the embedded cluster: a worker runs one decode of a second or more at a
#: time, so the per-task machinery is turned down: no statistical profiler (it samples the
#: decoding thread every 10 ms, taking the GIL from it), event-loop ticks and memory and system
#: monitors at 0.5-2 s instead of 20-500 ms, one task per worker at a time (the next one is
#: handed out when it finishes: no task waits behind a long one while another worker idles),
#: and so no work stealing.
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.scheduler.worker-saturation": 1.0,
    "distributed.scheduler.work-stealing": False,
}


def dask_setup(worker) -> None:
    """Run in each worker process of the embedded cluster when it starts (this module is its
    Dask preload): SIGINT ignored. A terminal's Ctrl-C goes to the whole process group; the
    batch (the client) stops and shuts its workers down, instead of the workers dying under it
    with tracebacks of their own."""
    import atexit
    import signal

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a worker is done when its Dask close has run (results delivered, scratch folder gone):
    # the interpreter's own teardown after that (numba, llvmlite, thousands of objects) is
    # skipped, which makes the cluster's shut-down at the end of a batch ~0.2 s shorter
    atexit.register(_exit_now)


def _exit_now() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - on the way out
            pass
    os._exit(0)


def parse_dashboard(value: str) -> str:
    """``HOST:PORT``, ``:PORT`` or ``PORT`` (on 127.0.0.1), ``HOST`` (port 8787); IPv6 hosts
    in brackets (``[::1]:8787``)."""
    text = str(value).strip()
    if text.isdigit():
        host, port = "", text
    elif text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else (rest or str(DASHBOARD_PORT))
        if rest and not rest.startswith(":"):
            port = "x"
    elif ":" in text:
        host, _, port = text.rpartition(":")
    else:
        host, port = text, str(DASHBOARD_PORT)
    if not port.isdigit() or not 0 <= int(port) < 65536 or any(c in host for c in "/ "):
        raise BatchError(f"--dashboard {value}: give HOST:PORT, e.g. 127.0.0.1:8787")
    host = host or DASHBOARD_HOST
    return f"[{host}]:{int(port)}" if ":" in host else f"{host}:{int(port)}"


def start_cluster(workers: int | None = None, scheduler: str | None = None,
                  dashboard: str | None = None, timeout: float = 10.0,
                  retries: int | None = None):
    """A ``(client, cluster)`` pair: a running cluster's client (``scheduler``; ``timeout``
    seconds to reach it), or an embedded ``LocalCluster`` of ``workers`` single-threaded
    processes, scheduler and workers on 127.0.0.1, the dashboard only when asked (``HOST:PORT``;
    needs bokeh). ``retries``: how many times the embedded scheduler lets a task's worker die
    before the task fails (``distributed.scheduler.allowed-failures``; a running cluster keeps
    its own)."""
    import logging

    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise BatchError("orbitlink batch needs dask and distributed (pip install "
                         "'dask[distributed]')") from None
    if scheduler:
        if dashboard:
            raise BatchError("--dashboard is for the embedded cluster; a running cluster's "
                             "dashboard is its scheduler's")
        try:
            return Client(scheduler, timeout=f"{timeout}s"), None
        except Exception as e:  # noqa: BLE001 - OSError, TimeoutError, ValueError, a bad URL
            why = str(e).splitlines()[0] if str(e).strip() else "not a Dask scheduler address"
            raise BatchError(f"cannot reach the Dask scheduler at {scheduler} within "
                             f"{timeout:g} s ({why})") from None
    if dashboard:
        dashboard = parse_dashboard(dashboard)
        try:
            import bokeh  # noqa: F401
        except ImportError:
            raise BatchError("--dashboard needs bokeh (pip install 'bokeh>=3.1')") from None
    n = int(workers or os.cpu_count() or 1)
    if n < 1:
        raise BatchError(f"--workers must be at least 1, got {n}")
    import dask

    # distributed's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which fixes
    # glibc's mmap threshold too: every chunk's arrays are mapped and unmapped again, and a
    # decode takes twice as long (measured: 1.05 -> 2.10 s for 300 s of AFSK audio)
    env = {k: v for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ", None)
                             or {}).items() if k != "MALLOC_TRIM_THRESHOLD_"}
    # (the nannies hand this configuration to the worker processes they start)
    cfg = {"distributed.nanny.pre-spawn-environ": env, **QUIET_CLUSTER,
           "distributed.worker.preload": [__name__]}  # dask_setup: Ctrl-C is the client's
    if retries is not None:
        cfg["distributed.scheduler.allowed-failures"] = int(retries)
    with dask.config.set(cfg):
        # (blocks until the workers are up: a nanny reads its configuration when made)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1,
                               processes=True, host="127.0.0.1", scheduler_port=0,
                               dashboard_address=dashboard, silence_logs=logging.ERROR,
                               # no dashboard: the scheduler's plain HTTP routes (health,
                               # metrics) on a free loopback port, not 8787
                               scheduler_kwargs=None if dashboard else {
                                   "dashboard": False, "dashboard_address": "127.0.0.1:0"})
    try:
        # results come straight from the workers, not through the scheduler
        return Client(cluster, direct_to_workers=True), cluster
    except BaseException:
        cluster.close()
        raise


def stop_cluster(client, cluster) -> None:
    for x in (client, cluster):
        if x is not None:
            try:
                x.close()
            except Exception:  # noqa: BLE001 - closing on the way out, after an interrupt
                pass


# --------------------------------------------------------------------------------------------
# the batch


def _done_path(out_dir, stem):
    return os.path.join(out_dir, f"{stem}.done.json")


def _resumable(out_dir, stem, key):
    try:
        with open(_done_path(out_dir, stem), encoding="utf-8") as fh:
            side = json.load(fh)
        if side.get("key") != key or side.get("error"):
            return None
        with open(os.path.join(out_dir, f"{stem}.jsonl"), encoding="utf-8", newline="") as fh:
            side["text"] = fh.read()
        return side
    except (OSError, ValueError):
        return None


def samples_hint(path: str) -> int:
    """About how many samples a recording holds, from its size and header (no decoding; 0 when
    unknown): the batch hands out the longest recordings first, so that the last tasks of a
    batch are short ones and no worker is left alone with a long one at the end."""
    try:
        low = path.lower()
        if low.endswith((".sigmf-meta", ".sigmf-data")):
            base = path[: -len(".sigmf-meta")]
            with open(base + ".sigmf-meta", encoding="utf-8") as fh:
                dtype = json.load(fh).get("global", {}).get("core:datatype", "")
            m = re.match(r"([cr])([fiu])(\d+)", dtype or "")
            width = (2 if m.group(1) == "c" else 1) * int(m.group(3)) // 8 if m else 1
            return os.path.getsize(base + ".sigmf-data") // max(width, 1)
        size = os.path.getsize(path)
        if low.endswith(".wav"):
            with open(path, "rb") as fh:
                head = fh.read(4096)
            i = head.find(b"fmt ")
            if i >= 0 and len(head) >= i + 24:
                channels = int.from_bytes(head[i + 10:i + 12], "little")
                bits = int.from_bytes(head[i + 22:i + 24], "little")
                return size // max(channels * bits // 8, 1)
        return size
    except (OSError, ValueError, AttributeError):
        return 0


class _Interrupts:
    """Ctrl-C (SIGINT) during a batch, in the main thread: noted, and raised as
    ``KeyboardInterrupt`` only while the batch waits for the next result (:meth:`wait`), never
    in the middle of Dask's client calls (a client interrupted inside one may hang when it is
    closed) nor of a recording's two output files; a Ctrl-C that comes elsewhere is raised at
    the next wait, or at the end. Off the main thread, SIGINT is left alone."""

    def __init__(self):
        self.hit = self.waiting = False
        self.old = None

    def __enter__(self):
        import signal

        try:
            self.old = signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:  # not the main thread
            self.old = None
        return self

    def _on_sigint(self, signum, frame):
        self.hit = True
        if self.waiting:
            self.waiting = False
            raise KeyboardInterrupt

    def check(self):
        if self.hit:
            raise KeyboardInterrupt

    def wait(self, iterator):
        """``next(iterator)``, interruptible; None at its end."""
        self.check()
        self.waiting = True
        try:
            self.check()
            return next(iterator)
        except StopIteration:
            return None
        finally:
            self.waiting = False

    def __exit__(self, *exc):
        import signal

        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)


def _failed_record(path, link, error) -> dict:
    return {"path": path, "link": link, "frames": 0, "good": 0, "duration_s": None,
            "warnings": [], "seconds": 0.0, "text": "",
            "index": index_columns(recording_stem(path), link, ""), "error": error}


def run_batch(inputs, out_dir: str, *, link: str | None = None, overrides: dict | None = None,
              workers: int | None = None, scheduler: str | None = None,
              dashboard: str | None = None, resume: bool = False, chunk: int = 1 << 16,
              retries: int = 2, timeout: float = 10.0, progress: bool | None = None,
              out=None, err=None, parquet: bool | None = None) -> dict:
    """Decode the recordings named by ``inputs`` on a Dask cluster into ``out_dir`` (see the
    module docstring); prints a line per recording and a total on ``out`` (stdout), the
    dashboard's URL (when asked) and the progress bar (``progress``: default on a terminal) on
    ``err`` (stderr). A task that raises (see :func:`decode_file`, ``strict``) or whose worker
    dies is tried ``retries`` more times before it becomes an error record. Returns
    ``{"results": {stem: record}, "index": path, "errors": n, "seconds": s, "startup_s": s,
    "timings": {...}}``. ``KeyboardInterrupt`` stops the cluster and is raised again after the
    index and the errors of the finished recordings are written."""
    out = out or sys.stdout
    err = err or sys.stderr
    t_start = time.perf_counter()
    w_start = time.time()
    if retries is None or int(retries) < 0:
        raise BatchError(f"--retries must be 0 or more, got {retries}")
    if workers is not None and int(workers) < 1:
        raise BatchError(f"--workers must be at least 1, got {workers}")
    if dashboard:
        dashboard = parse_dashboard(dashboard)
    paths = expand_inputs(inputs)
    stems = {}
    for p in paths:
        s = recording_stem(p)
        if s in RESERVED_STEMS:
            raise BatchError(f"{p}: a recording may not be named '{s}' (DIR/{s}.jsonl is the "
                             "batch's own); rename it")
        if s in stems:
            raise BatchError(f"{stems[s]} and {p} would both write {s}.jsonl; give them "
                             "different names or run them in two batches")
        stems[s] = p
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise BatchError(f"{out_dir}: the output folder is a file; give a folder with --out")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise BatchError(f"{out_dir}: cannot make the output folder "
                         f"({e.strerror or e})") from None
    overrides = dict(overrides or {})
    keys = {s: input_key(p, link, overrides) for s, p in stems.items()}
    results: dict[str, dict] = {}
    todo = []
    for s, p in stems.items():
        side = _resumable(out_dir, s, keys[s]) if resume else None
        if side is not None:
            side["skipped"] = True
            results[s] = side
        else:
            todo.append(s)
    # the longest recordings first (see samples_hint); ties in the order given
    todo.sort(key=lambda s: -samples_hint(stems[s]))

    def finish(s, r):
        r = dict(r)
        text = r.pop("text", "")
        side = {k: v for k, v in r.items() if k not in ("skipped", "index", "started", "pid")}
        side.update(key=keys[s], key_kind="sha256 of (name, size, mtime_ns) of each file, "
                    "the link and --set", input=stems[s])
        _write_atomic(os.path.join(out_dir, f"{s}.jsonl"), text)
        _write_atomic(_done_path(out_dir, s), json.dumps(side, sort_keys=True) + "\n")
        r["text"] = text
        results[s] = r

    for s in stems:
        if s in results:
            print(_summary_line(s, results[s]), file=out, flush=True)
    timings = {"startup_s": 0.0, "first_decode_s": None, "all_workers_decoding_s": None,
               "close_s": 0.0, "index_s": 0.0}
    interrupted = None
    client = cluster = None
    bar = _Bar(len(todo), err, progress)
    sigint = _Interrupts().__enter__()
    try:
        if todo:
            t0 = time.perf_counter()
            client, cluster = start_cluster(workers, scheduler, dashboard, timeout=timeout,
                                            retries=retries)
            timings["startup_s"] = time.perf_counter() - t0
            if dashboard and cluster is not None:
                print(f"orbitlink batch: dashboard at {cluster.dashboard_link}", file=err,
                      flush=True)
            from distributed import as_completed

            # absolute paths: a worker's working folder is not ours (dask worker, --scheduler);
            # one task each, in order of priority (the longest first)
            # (keys of this batch's own: other clients of a running cluster have theirs)
            token = os.urandom(6).hex()
            futs = [client.submit(decode_file, os.path.abspath(stems[s]), link=link,
                                  overrides=overrides, chunk=chunk, strict=True, pure=False,
                                  retries=int(retries), priority=len(todo) - i,
                                  key=f"decode-{token}-{i:06d}-{s}")
                    for i, s in enumerate(todo)]
            by_key = {f.key: s for f, s in zip(futs, todo)}
            first = {}
            done_iter = as_completed(futs)
            while (f := sigint.wait(done_iter)) is not None:
                s = by_key[f.key]
                try:
                    r = f.result()
                except Exception as e:  # noqa: BLE001 - after the retries; a lost worker
                    r = _failed_record(stems[s], link, task_error(stems[s], e) + (
                        f" (tried {int(retries) + 1} times)" if retries else ""))
                f.release()
                if r.get("pid") is not None:
                    first[r["pid"]] = min(first.get(r["pid"], r["started"]), r["started"])
                finish(s, r)
                bar.clear()
                print(_summary_line(s, results[s]), file=out, flush=True)
                bar.update(results[s]["frames"])
            if first and cluster is not None:  # (a running cluster's clocks may differ)
                timings["first_decode_s"] = min(first.values()) - w_start
                timings["all_workers_decoding_s"] = max(first.values()) - w_start
    except KeyboardInterrupt as e:
        interrupted = e
    except BaseException:  # a BatchError, or a bug: the cluster closed on the way out
        bar.clear()
        sigint.__exit__(None, None, None)
        closer = threading.Thread(target=stop_cluster, args=(client, cluster), daemon=True)
        closer.start()
        closer.join(CLOSE_TIMEOUT)
        raise
    bar.clear()
    # the cluster shuts down (its workers exit) while the index is written
    t0 = time.perf_counter()
    closer = threading.Thread(target=stop_cluster, args=(client, cluster), daemon=True)
    closer.start()
    try:
        if interrupted is not None:
            closer.join(CLOSE_TIMEOUT)
        t0i = time.perf_counter()
        parts = []
        errors = []
        for s in stems:
            r = results.get(s)
            if r is None:
                continue
            if not r.get("index"):  # skipped (--resume): from its output
                r["index"] = index_columns(s, r.get("link"), r.get("text", ""))
            parts.append(r["index"])
            if r.get("error"):
                errors.append({"file": s, "input": stems[s], "error": r["error"],
                               "frames": r.get("frames", 0)})
        index = write_index(out_dir, parts, parquet)
        _write_atomic(os.path.join(out_dir, "errors.jsonl"),
                      "".join(json.dumps(e) + "\n" for e in errors))
        timings["index_s"] = time.perf_counter() - t0i
        closer.join(CLOSE_TIMEOUT)  # (a daemon thread: never holds the exit up)
    finally:
        sigint.__exit__(None, None, None)
    if sigint.hit and interrupted is None:  # Ctrl-C after the last result: all written
        interrupted = KeyboardInterrupt()
    timings["close_s"] = time.perf_counter() - t0
    total = time.perf_counter() - t_start
    done = [r for r in results.values() if not r.get("skipped") and not r.get("error")]
    skipped = sum(1 for r in results.values() if r.get("skipped"))
    n_err = len(errors)
    print(f"orbitlink batch: {len(stems)} recordings ({len(done)} decoded, {skipped} skipped, "
          f"{n_err} {'error' if n_err == 1 else 'errors'}), "
          f"{sum(r['frames'] for r in results.values())} frames "
          f"({sum(r['good'] for r in results.values())} good) in {total:.2f} s "
          f"(cluster start-up {timings['startup_s']:.2f} s"
          + (f", first decode at {timings['first_decode_s']:.2f} s"
             if timings["first_decode_s"] is not None else "")
          + f"); index {index}", file=out, flush=True)
    if interrupted is not None:
        raise interrupted
    return {"results": results, "index": index, "errors": n_err, "seconds": total,
            "startup_s": timings["startup_s"], "timings": timings}
