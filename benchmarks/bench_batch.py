"""``orbitlink batch`` on Dask (issue 14): an archive decoded by one process vs a 2-worker
LocalCluster.

Makes ``--count`` recordings (default 24) of ``--seconds`` each (default 600 s, a whole LEO
pass): half AX.25 AFSK 1200 Bd receiver audio (16-bit WAV, 48 kHz, names its link), half BPSK
9600 Bd IQ (cf32 SigMF, 38.4 kHz); two distinct recordings of each kind are encoded from known
payloads and copied under other names. Then:

* **single process**: a fresh Python process imports orbitlink and calls
  :func:`orbitlink.flowgraphs.batch.decode_file` on every recording in a loop (what
  ``orbitlink decode`` does per file, without a process start per file); its wall time from
  the start of the process to the last decode, and the decode loop alone;
* **batch**: :func:`orbitlink.flowgraphs.batch.run_batch` with ``--workers`` (default 2)
  worker processes, wall time from the call to the last output written, cluster start-up
  included; the start-up (LocalCluster + Client) is also shown apart.

The per-recording outputs of the two are compared (byte for byte). The speed-up quoted is the
single process's decode loop (warm: imports and numba cache loads excluded) over the batch's
whole wall time (start-up included), i.e. the conservative ratio; the issue's target is 1.7x
with 2 workers on this 2-core machine.

    .venv/bin/python benchmarks/bench_batch.py [--count 24] [--seconds 600] [--workers 2]
        [--dir /tmp/orbitlink-bench-batch] [--keep] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

SINGLE = r"""
import json, sys, time
t0 = time.perf_counter()
from orbitlink.flowgraphs.batch import decode_file
paths, out = sys.argv[1], sys.argv[2]
paths = json.load(open(paths))
t1 = time.perf_counter()
texts, secs = {}, 0.0
for p in paths:
    r = decode_file(p)
    assert r["error"] is None, r["error"]
    texts[p] = r["text"]
    secs += r["duration_s"]
t2 = time.perf_counter()
json.dump({"texts": texts, "import_s": t1 - t0, "loop_s": t2 - t1, "total_s": t2 - t0,
           "recording_s": secs}, open(out, "w"))
"""


def _payloads(path, link, n):
    from orbitlink.framing import ax25

    with open(path, "w") as f:
        for i in range(n):
            if link.startswith("ax25"):
                info = (f"telemetry {i:05d} " * 6).encode()
                print(ax25.build(ax25.ui_frame("CQ", "N0CALL", info)).hex(), file=f)
            else:
                print(bytes([(i * 7 + j) & 255 for j in range(64)]).hex(), file=f)


def _encode(link_name, out, seconds, seed, tmp):
    from orbitlink.flowgraphs.encode import encode
    from orbitlink.flowgraphs.links import load_link

    link = load_link(link_name)
    pl = os.path.join(tmp, "payloads.txt")
    _payloads(pl, link_name, 10)
    trial = encode(link, pl, os.path.join(tmp, "trial" + (".wav" if out.endswith(".wav")
                                                              else "")), seed=seed)
    n = math.ceil(10 * seconds / (trial.samples / trial.samp_rate)) + 1
    _payloads(pl, link_name, n)
    return encode(link, pl, out, seed=seed)


def make_archive(folder: str, count: int, seconds: float) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=folder)
    masters = []
    for k in range(2):
        r = _encode("ax25-afsk1200", os.path.join(tmp, f"afsk{k}.wav"), seconds, k + 1, tmp)
        masters.append(("wav", r.path))
        r = _encode("bpsk", os.path.join(tmp, f"bpsk{k}"), seconds, k + 1, tmp)
        masters.append(("sigmf", r.path))
    paths = []
    for i in range(count):
        kind, m = masters[i % len(masters)]
        if kind == "wav":
            dst = os.path.join(folder, f"pass{i:03d}.wav")
            shutil.copyfile(m, dst)
        else:
            dst = os.path.join(folder, f"pass{i:03d}.sigmf-meta")
            shutil.copyfile(m, dst)
            shutil.copyfile(m.replace(".sigmf-meta", ".sigmf-data"),
                            dst.replace(".sigmf-meta", ".sigmf-data"))
        paths.append(dst)
    shutil.rmtree(tmp)
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(),
                                                  "orbitlink-bench-batch"))
    ap.add_argument("--keep", action="store_true", help="keep the recordings and outputs")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)

    from orbitlink.flowgraphs.batch import recording_stem, run_batch

    rec_dir = os.path.join(a.dir, "recordings")
    out_dir = os.path.join(a.dir, "out")
    shutil.rmtree(a.dir, ignore_errors=True)
    t = time.perf_counter()
    paths = make_archive(rec_dir, a.count, a.seconds)
    make_s = time.perf_counter() - t
    size = sum(os.path.getsize(p.replace(".sigmf-meta", ".sigmf-data")) for p in paths)
    print(f"{len(paths)} recordings of {a.seconds:.0f} s, {size / 1e6:.0f} MB, made in "
          f"{make_s:.1f} s", file=sys.stderr)

    # single process, fresh interpreter
    lst = os.path.join(a.dir, "paths.json")
    res = os.path.join(a.dir, "single.json")
    json.dump(paths, open(lst, "w"))
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", SINGLE, lst, res], check=True)
    single_wall = time.perf_counter() - t
    single = json.load(open(res))

    # reference: two bare processes at once, each with half the list (no Dask), balanced:
    # each half has as many recordings of each kind
    halves = []
    for h in range(2):
        hl = os.path.join(a.dir, f"half{h}.json")
        json.dump([p for i, p in enumerate(paths) if (i // 2) % 2 == h], open(hl, "w"))
        halves.append(hl)
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", SINGLE, hl, hl + ".out"]) for hl in halves]
    assert all(p.wait() == 0 for p in procs)
    bare2_wall = time.perf_counter() - t
    bare2_loop_sum = sum(json.load(open(hl + ".out"))["loop_s"] for hl in halves)

    # batch
    summary = io.StringIO()
    import resource

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    b = run_batch(paths, out_dir, workers=a.workers, out=summary, parquet=False)
    batch_wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    assert b["errors"] == 0, summary.getvalue()
    same = all(open(os.path.join(out_dir, recording_stem(p) + ".jsonl"),
                    newline="").read() == single["texts"][p] for p in paths)
    rec_s = single["recording_s"]
    fig = {
        "recordings": len(paths), "seconds_each": a.seconds, "recording_s": rec_s,
        "data_mb": size / 1e6, "workers": a.workers, "cpus": os.cpu_count(),
        "single_process_wall_s": single_wall, "single_import_s": single["import_s"],
        "single_loop_s": single["loop_s"],
        "batch_wall_s": batch_wall, "batch_startup_s": b["startup_s"],
        "batch_after_startup_s": batch_wall - b["startup_s"],
        "speedup_vs_loop": single["loop_s"] / batch_wall,
        "speedup_vs_process": single_wall / batch_wall,
        "speedup_after_startup": single["loop_s"] / (batch_wall - b["startup_s"]),
        "batch_client_cpu_s": client_cpu,
        "two_bare_processes_wall_s": bare2_wall, "two_bare_processes_loops_sum_s": bare2_loop_sum,
        "batch_task_decode_s": sum(r["seconds"] for r in b["results"].values()),
        "outputs_identical": same,
    }
    rows = [
        ("recordings", f"{len(paths)} x {a.seconds:.0f} s ({rec_s / 3600:.2f} h, "
                       f"{size / 1e6:.0f} MB)"),
        ("single process: whole (python start, imports, loop)", f"{single_wall:7.2f} s"),
        ("single process: decode loop only", f"{single['loop_s']:7.2f} s  "
                                             f"({rec_s / single['loop_s']:.0f}x real time)"),
        (f"batch, {a.workers} workers: whole (start-up included)",
         f"{batch_wall:7.2f} s  ({rec_s / batch_wall:.0f}x real time)"),
        ("batch: cluster start-up (LocalCluster + Client)", f"{b['startup_s']:7.2f} s"),
        ("batch: after start-up", f"{batch_wall - b['startup_s']:7.2f} s"),
        ("batch: the tasks' decode times, summed", f"{fig['batch_task_decode_s']:7.2f} s"),
        ("batch: CPU of the client process (scheduler, results, outputs)",
         f"{client_cpu:7.2f} s"),
        ("reference, 2 bare processes at once (no Dask): whole", f"{bare2_wall:7.2f} s  "
         f"({single['loop_s'] / bare2_wall:.2f}x the loop; their loops summed "
         f"{bare2_loop_sum:.2f} s)"),
        ("speed-up: loop / batch whole", f"{fig['speedup_vs_loop']:7.2f}x"),
        ("speed-up: single process whole / batch whole", f"{fig['speedup_vs_process']:7.2f}x"),
        ("speed-up: loop / batch after start-up", f"{fig['speedup_after_startup']:7.2f}x"),
        ("outputs identical", str(same)),
    ]
    w = max(len(r[0]) for r in rows)
    text = "\n".join(f"{k:<{w}}  {v}" for k, v in rows)
    if a.json:
        print(text, file=sys.stderr)
        print(json.dumps(fig, indent=1))
    else:
        print(text)
    if not a.keep:
        shutil.rmtree(a.dir, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
