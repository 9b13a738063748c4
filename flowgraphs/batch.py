"""Decode an archive of recordings on Dask distributed (``orbitlink batch``).

One task per recording: :func:`decode_file` runs on a worker, opens the recording itself (no
sample arrays go through the scheduler) and returns a small dict whose ``text`` is exactly what
``orbitlink decode REC --json`` prints on stdout (the same graph: ``link_graph`` + a JSON
``FramesSink`` + ``run_graph``). The client (:func:`run_batch`) writes, for every recording:

* ``DIR/<stem>.jsonl``: the frames, byte-identical to ``orbitlink decode REC --json``;
* ``DIR/<stem>.done.json``: a sidecar with the input key, the link, the counts and the error
  (written after the ``.jsonl``; both through a temporary file and a rename, so that an
  interrupted batch leaves only whole files);

and for the batch: ``DIR/errors.jsonl`` (one record per recording that failed) and the frame
index ``DIR/frames.parquet`` (when pyarrow is installed) or ``DIR/frames.jsonl``, columns
``file, sample_index, time_s, time_utc, link, hex, check, crc_ok``.

``--resume`` skips a recording whose sidecar holds the same *input key*: the SHA-256 of the
names, sizes and modification times (ns) of the recording's files (both files of a SigMF
recording) with the link and ``--set`` options of the run. That costs one ``stat`` per file
(no reading of the archive on the client); a recording rewritten in place gets a new key. A
recording that failed is decoded again.

dask and distributed are imported only when a batch runs.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import sys
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
                chunk: int = 1 << 16) -> dict:
    """Decode one recording as ``orbitlink decode PATH --json [--link L] [--set ...]`` does;
    never raises: a recording that cannot be decoded returns with ``error`` set (and the frames
    decoded before a damaged part, as ``decode`` prints them)."""
    t0 = time.perf_counter()
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
    except OSError as e:
        res["error"] = f"{getattr(e, 'filename', '') or path}: {e.strerror or e}"
    except Exception as e:  # a recording must never stop the batch
        res["error"] = f"{path}: {type(e).__name__}: {e}"
    res["text"] = out.getvalue()
    # the frame index's rows, made here (in parallel) rather than by the client
    res["index"] = "".join(json.dumps(r) + "\n" for r in
                           index_rows(recording_stem(path), res["link"], res["text"]))
    res["seconds"] = time.perf_counter() - t0
    return res


# --------------------------------------------------------------------------------------------
# writing the outputs


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def index_rows(stem: str, link, text: str) -> list[dict]:
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        rows.append({"file": stem, "sample_index": d.get("sample_index"),
                     "time_s": d.get("time_s"), "time_utc": d.get("time_utc"),
                     "link": link, "hex": d.get("hex"), "check": d.get("check"),
                     "crc_ok": bool(d.get("crc_ok"))})
    return rows


def write_index(out_dir: str, lines: str, parquet: bool | None = None) -> str:
    """The frame index from its JSON lines (:func:`index_rows`): ``frames.parquet`` with
    pyarrow (when installed, or ``parquet=True``), else ``frames.jsonl``. Returns its path."""
    if parquet is None:
        try:
            import pyarrow  # noqa: F401

            parquet = True
        except ImportError:
            parquet = False
    if parquet:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = os.path.join(out_dir, "frames.parquet")
        rows = [json.loads(x) for x in lines.splitlines()]
        table = pa.table({c: [r[c] for r in rows] for c in INDEX_COLUMNS},
                         schema=pa.schema([("file", pa.string()), ("sample_index", pa.int64()),
                                           ("time_s", pa.float64()),
                                           ("time_utc", pa.string()), ("link", pa.string()),
                                           ("hex", pa.string()), ("check", pa.string()),
                                           ("crc_ok", pa.bool_())]))
        tmp = path + f".tmp{os.getpid()}"
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        return path
    path = os.path.join(out_dir, "frames.jsonl")
    _write_atomic(path, lines)
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
    """Recordings done / total on stderr, only on a terminal."""

    def __init__(self, total: int, stream=None):
        self.total, self.done, self.frames = max(total, 1), 0, 0
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
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


def parse_dashboard(value: str) -> str:
    host, sep, port = str(value).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise BatchError(f"--dashboard {value}: give HOST:PORT, e.g. 127.0.0.1:8787")
    return f"{host}:{int(port)}"


def start_cluster(workers: int | None = None, scheduler: str | None = None,
                  dashboard: str | None = None, timeout: float = 20.0):
    """A ``(client, cluster)`` pair: a running cluster's client (``scheduler``), or an
    embedded ``LocalCluster`` of ``workers`` single-threaded processes, scheduler and workers
    on 127.0.0.1, the dashboard only when asked (``HOST:PORT``; needs bokeh)."""
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
        except (OSError, TimeoutError, ValueError) as e:
            raise BatchError(f"cannot reach the Dask scheduler at {scheduler} ({e})") from None
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
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               host="127.0.0.1", scheduler_port=0,
                               dashboard_address=dashboard, silence_logs=logging.ERROR,
                               # no dashboard: the scheduler's plain HTTP routes (health,
                               # metrics) on a free loopback port, not 8787
                               scheduler_kwargs=None if dashboard else {
                                   "dashboard": False, "dashboard_address": "127.0.0.1:0"})
    return Client(cluster), cluster


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


def run_batch(inputs, out_dir: str, *, link: str | None = None, overrides: dict | None = None,
              workers: int | None = None, scheduler: str | None = None,
              dashboard: str | None = None, resume: bool = False, chunk: int = 1 << 16,
              out=None, err=None, parquet: bool | None = None) -> dict:
    """Decode the recordings named by ``inputs`` on a Dask cluster into ``out_dir`` (see the
    module docstring); prints a line per recording and a total on ``out`` (stdout). Returns
    ``{"results": {stem: record}, "index": path, "errors": n, "seconds": s,
    "startup_s": s}``. ``KeyboardInterrupt`` stops the cluster and is raised again after the
    index and the errors of the finished recordings are written."""
    out = out or sys.stdout
    err = err or sys.stderr
    t_start = time.perf_counter()
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

    def finish(s, r):
        r = dict(r)
        text = r.pop("text", "")
        side = {k: v for k, v in r.items() if k not in ("skipped", "index")}
        side.update(key=keys[s], key_kind="sha256 of (name, size, mtime_ns) of each file, "
                    "the link and --set", input=stems[s])
        _write_atomic(os.path.join(out_dir, f"{s}.jsonl"), text)
        _write_atomic(_done_path(out_dir, s), json.dumps(side, sort_keys=True) + "\n")
        r["text"] = text
        results[s] = r

    for s in stems:
        if s in results:
            print(_summary_line(s, results[s]), file=out, flush=True)
    startup = 0.0
    interrupted = None
    client = cluster = None
    bar = _Bar(len(todo), err)
    try:
        if todo:
            t0 = time.perf_counter()
            client, cluster = start_cluster(workers, scheduler, dashboard)
            startup = time.perf_counter() - t0
            if dashboard and cluster is not None:
                print(f"orbitlink batch: dashboard at {cluster.dashboard_link}", file=err,
                      flush=True)
            from distributed import as_completed

            # absolute paths: a worker's working folder is not ours (dask worker, --scheduler)
            futs = client.map(decode_file, [os.path.abspath(stems[s]) for s in todo], link=link,
                              overrides=overrides, chunk=chunk, pure=False,
                              key=[f"decode-{i}-{s}" for i, s in enumerate(todo)])
            by_key = {f.key: s for f, s in zip(futs, todo)}
            for f in as_completed(futs):
                s = by_key[f.key]
                try:
                    r = f.result()
                except Exception as e:  # noqa: BLE001 - a lost worker, a killed task
                    r = {"path": stems[s], "link": link, "frames": 0, "good": 0,
                         "duration_s": None, "warnings": [], "seconds": 0.0, "text": "",
                         "index": "",
                         "error": f"{stems[s]}: the task failed on the cluster "
                                  f"({type(e).__name__}: {e})"}
                finish(s, r)
                bar.clear()
                print(_summary_line(s, results[s]), file=out, flush=True)
                bar.update(results[s]["frames"])
    except KeyboardInterrupt as e:
        interrupted = e
    finally:
        bar.clear()
        stop_cluster(client, cluster)
    rows = []
    errors = []
    for s in stems:
        r = results.get(s)
        if r is None:
            continue
        if "index" not in r:  # skipped (--resume): from its output
            r["index"] = "".join(json.dumps(x) + "\n" for x in
                                 index_rows(s, r.get("link"), r.get("text", "")))
        rows.append(r["index"])
        if r.get("error"):
            errors.append({"file": s, "input": stems[s], "error": r["error"],
                           "frames": r.get("frames", 0)})
    index = write_index(out_dir, "".join(rows), parquet)
    _write_atomic(os.path.join(out_dir, "errors.jsonl"),
                  "".join(json.dumps(e) + "\n" for e in errors))
    total = time.perf_counter() - t_start
    done = [r for r in results.values() if not r.get("skipped") and not r.get("error")]
    skipped = sum(1 for r in results.values() if r.get("skipped"))
    print(f"orbitlink batch: {len(stems)} recordings ({len(done)} decoded, {skipped} skipped, "
          f"{len(errors)} {'error' if len(errors) == 1 else 'errors'}), {sum(r['frames'] for r in results.values())} frames "
          f"({sum(r['good'] for r in results.values())} good) in {total:.2f} s "
          f"(cluster start-up {startup:.2f} s); index {index}", file=out, flush=True)
    if interrupted is not None:
        raise interrupted
    return {"results": results, "index": index, "errors": len(errors), "seconds": total,
            "startup_s": startup}
