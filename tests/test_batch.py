"""``orbitlink batch`` (issue 14): a Dask LocalCluster on 127.0.0.1 decoding small recordings.

Every DIR/<stem>.jsonl equals what ``orbitlink decode REC --json`` prints (run as a
subprocess), for 1 and 2 workers; a corrupt recording is an error record and the others still
decode; ``--resume`` skips what is done and redoes a recording that changed; the frame index
(parquet with pyarrow, JSON lines without) has every frame; ``--retries`` tries a failed task
again; the dashboard only when asked, where asked, answering HTTP; the progress bar on a
terminal; Ctrl-C leaves whole outputs and no worker behind, quickly; bad input is one sentence.
"""

import errno
import io
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

from orbitlink.flowgraphs import batch
from orbitlink.flowgraphs.encode import encode
from orbitlink.flowgraphs.links import load_link

DATA = Path(__file__).resolve().parent / "data" / "recordings"
PY = sys.executable


def _payloads(path, link, n, seed):
    from orbitlink.framing import ax25

    with open(path, "w") as f:
        for i in range(n):
            if link.startswith("ax25"):
                data = ax25.build(ax25.ui_frame("CQ", "N0CALL", f"batch {seed} {i}".encode()))
            else:
                data = bytes([(i * 7 + j + seed) & 255 for j in range(64)])
            print(data.hex(), file=f)


def _make(folder, stem, link, n, seed=0, wav=False):
    """A recording made by encode from known payloads; it names its link."""
    os.makedirs(folder, exist_ok=True)
    pl = os.path.join(folder, f".{stem}.payloads")
    _payloads(pl, link, n, seed)
    out = os.path.join(folder, stem + (".wav" if wav else ""))
    res = encode(load_link(link), pl, out, seed=seed)
    os.remove(pl)
    return res.path


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    d = tmp_path_factory.mktemp("archive")
    recs = {"a": _make(str(d), "a", "bpsk", 12, 1),
            "b": _make(str(d), "b", "ax25-afsk1200", 3, 2, wav=True),
            "c": _make(str(d / "sub"), "c", "qpsk", 10, 3)}
    bad = d / "bad.wav"
    bad.write_bytes(os.urandom(3000))  # not a WAV at all
    recs["bad"] = str(bad)
    return d, recs


def _decode_json(path, *extra):
    r = subprocess.run([PY, "-m", "orbitlink.flowgraphs.cli", "decode", str(path), "--json",
                        *extra], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def _batch_cli(*args, timeout=180, **kw):
    return subprocess.run([PY, "-m", "orbitlink.flowgraphs.cli_batch", "batch", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, **kw)


def _read(p):
    return Path(p).read_bytes()


def _jsonl(p):
    return [json.loads(x) for x in Path(p).read_text().splitlines()]


def _check_index(rows, out, good):
    """``rows`` (dicts) hold every frame of every good recording's DIR/<stem>.jsonl, in order,
    with the index's columns."""
    assert rows and set(rows[0]) == set(batch.INDEX_COLUMNS)
    assert len(rows) == sum(len(_jsonl(out / f"{s}.jsonl")) for s in good)
    for s in good:
        frames = _jsonl(out / f"{s}.jsonl")
        mine = [r for r in rows if r["file"] == s]
        assert [(r["sample_index"], r["time_s"], r["hex"], r["check"], r["crc_ok"])
                for r in mine] == \
            [(f["sample_index"], f["time_s"], f["hex"], f["check"], bool(f["crc_ok"]))
             for f in frames]
        link = {"a": "bpsk", "b": "ax25-afsk1200", "c": "qpsk"}[s]
        assert all(r["link"] == link for r in mine)


def test_batch_1_and_2_workers_equal_decode_json(archive, tmp_path, monkeypatch):
    """1 worker with pyarrow (frames.parquet), 2 workers without it (the import fails:
    frames.jsonl); the same outputs, equal to decode --json."""
    d, recs = archive
    outs = {}
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        summary = io.StringIO()
        if n == 2:  # pyarrow missing: 'import pyarrow' raises ImportError
            monkeypatch.setitem(sys.modules, "pyarrow", None)
            monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
        res = batch.run_batch([str(d)], str(out), workers=n, out=summary)
        monkeypatch.undo()
        outs[n] = out
        text = summary.getvalue()
        assert "bad: error: " in text and "not a WAV file" in text
        assert "4 recordings (3 decoded, 0 skipped, 1 error)" in text
        assert res["errors"] == 1
        for s in ("a", "b", "c"):
            r = res["results"][s]
            assert r["error"] is None
            assert f"{s}: {r['frames']} frames ({r['good']} good), " \
                   f"{r['duration_s']:.1f} s of recording in " in text
        assert res["index"] == str(out / ("frames.parquet" if n == 1 else "frames.jsonl"))
    good = ("a", "b", "c")
    for s in good + ("bad",):
        assert _read(outs[1] / f"{s}.jsonl") == _read(outs[2] / f"{s}.jsonl")
    for s in good:
        ref = _decode_json(recs[s])
        assert ref.count(b"\n") >= 3
        assert _read(outs[2] / f"{s}.jsonl") == ref, s
    # the corrupt recording: an error record, and nothing else stopped
    for n in (1, 2):
        errs = _jsonl(outs[n] / "errors.jsonl")
        assert [e["file"] for e in errs] == ["bad"] and "RIFF" in errs[0]["error"]
        assert not list(outs[n].glob("*.tmp*"))
    # the frame index holds every frame of every recording: parquet, read back with pyarrow
    assert not (outs[1] / "frames.jsonl").exists()
    table = pq.read_table(outs[1] / "frames.parquet")
    assert table.column_names == list(batch.INDEX_COLUMNS)
    assert str(table.schema.field("sample_index").type) == "int64"
    _check_index(table.to_pylist(), outs[1], good)
    # ... and the JSON lines when pyarrow is missing
    assert not (outs[2] / "frames.parquet").exists()
    _check_index(_jsonl(outs[2] / "frames.jsonl"), outs[2], good)
    # the README's pandas lines, on both forms of the index
    import pandas as pd

    for frames in (pd.read_parquet(outs[1] / "frames.parquet"),
                   pd.read_json(outs[2] / "frames.jsonl", lines=True)):
        per_file = frames[frames.crc_ok].groupby("file").size()
        want = {s: sum(1 for r in _jsonl(outs[1] / f"{s}.jsonl") if r["crc_ok"]) for s in good}
        assert per_file.to_dict() == {k: v for k, v in want.items() if v}


def test_batch_cli_real_wav_with_link(archive, tmp_path):
    d, recs = archive
    real = tmp_path / "swiatowid-ax25.wav"
    shutil.copy(DATA / "swiatowid-ax25.wav", real)
    lst = tmp_path / "list.txt"
    lst.write_text(f"# recordings\n{real.name}\n{recs['b']}\n")
    out = tmp_path / "out"
    r = _batch_cli(lst, "--link", "ax25-afsk1200", "--workers", "2", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "2 recordings (2 decoded, 0 skipped, 0 errors)" in r.stdout
    assert "swiatowid-ax25: 2 frames (2 good)" in r.stdout
    assert _read(out / "swiatowid-ax25.jsonl") == _decode_json(real, "--link", "ax25-afsk1200")
    assert _read(out / "b.jsonl") == _decode_json(recs["b"], "--link", "ax25-afsk1200")
    assert (out / "errors.jsonl").read_text() == ""
    assert "batch [" not in r.stderr  # no progress bar on a pipe (see the terminal's test)
    # errors a user can cause: one sentence, status 2, no traceback
    r = _batch_cli(tmp_path / "nowhere", "--out", out)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "nowhere: no such file or folder" in r.stderr
    r = _batch_cli(real, "--out", out, "--link", "no-such-link")
    assert r.returncode == 1 and "Traceback" not in r.stderr + r.stdout
    assert "swiatowid-ax25: error: " in r.stdout


def test_resume_skips_done_and_redoes_changed(archive, tmp_path):
    d, recs = archive
    src = tmp_path / "rec"
    shutil.copytree(d, src)
    out = tmp_path / "out"
    r = _batch_cli(src, "--out", out, "--workers", "2")
    assert r.returncode == 1, r.stderr  # bad.wav
    side = json.loads((out / "a.done.json").read_text())
    assert side["key"].startswith("stat-sha256:") and "mtime" in side["key_kind"]
    before = {s: (out / f"{s}.jsonl").stat().st_mtime_ns for s in "abc"}
    r = _batch_cli(src, "--out", out, "--workers", "2", "--resume")
    for s in "abc":
        assert f"{s}: skipped (done, same input)" in r.stdout
        assert (out / f"{s}.jsonl").stat().st_mtime_ns == before[s]
    assert "bad: error:" in r.stdout  # a failed recording is tried again
    assert "4 recordings (0 decoded, 3 skipped, 1 error)" in r.stdout
    rows = pq.read_table(out / "frames.parquet").to_pylist()  # skipped ones included
    assert len(rows) == sum(len((out / f"{s}.jsonl").read_text().splitlines()) for s in "abc")
    assert {r["file"] for r in rows} == set("abc")
    # c changes: other payloads, other frames; it is decoded again, a and b are not
    old = _read(out / "c.jsonl")
    time.sleep(0.01)
    _make(str(src / "sub"), "c", "qpsk", 7, 9)
    r = _batch_cli(src, "--out", out, "--workers", "2", "--resume")
    assert "c: 7 frames (7 good)" in r.stdout and "c: skipped" not in r.stdout
    assert "a: skipped" in r.stdout and "b: skipped" in r.stdout
    new = _read(out / "c.jsonl")
    assert new != old and new == _decode_json(src / "sub" / "c.sigmf-meta")
    # another link is another input key
    r = _batch_cli(src / "sub", "--out", out, "--resume", "--workers", "1",
                   "--set", "receiver.carrier_bw=0.02")
    assert "c: 7 frames" in r.stdout and "c: skipped" not in r.stdout


def _listening(pids):
    """(address, port) of the TCP sockets the processes listen on."""
    out = set()
    for pid in pids:
        try:
            conns = psutil.Process(pid).net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        out |= {(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}
    return out


def test_ctrl_c_leaves_whole_outputs(archive, tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) after the first
    recording is done: status 130 within seconds, one message and no traceback (the workers
    ignore SIGINT; the batch shuts them down), the finished outputs whole and equal to
    decode's, no temporary files, and the worker processes gone."""
    d, recs = archive
    src = tmp_path / "rec"
    src.mkdir()
    shutil.copy(recs["b"], src / "b.wav")
    shutil.copy(DATA / "swiatowid-ax25.wav", src / "z0.wav")
    for i in range(1, 40):  # more, queued (hard links: other names, the same recording)
        os.link(src / "z0.wav", src / f"z{i}.wav")
    out = tmp_path / "out"
    p = subprocess.Popen([PY, "-m", "orbitlink.flowgraphs.cli_batch", "batch", str(src),
                          "--link", "ax25-afsk1200", "--workers", "1", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    first = p.stdout.readline()
    stem = first.split(":")[0]
    assert (stem == "b" or stem[0] == "z") and " frames (" in first, first
    children = psutil.Process(p.pid).children(recursive=True)
    assert children  # the cluster's processes
    # no dashboard unless asked: nothing listens beyond the loopback, nothing on 8787
    listening = _listening([p.pid] + [c.pid for c in children])
    assert listening and all(ip == "127.0.0.1" for ip, _ in listening), listening
    assert 8787 not in {port for _, port in listening}
    t = time.monotonic()
    os.killpg(p.pid, signal.SIGINT)
    o, e = p.communicate(timeout=60)
    stopped = time.monotonic() - t
    assert p.returncode == 130, e
    print(f"stopped {stopped:.2f} s after SIGINT")
    assert stopped < 8, f"{stopped:.1f} s to stop"
    assert "interrupted" in e and "Traceback" not in e, e
    assert "KeyboardInterrupt" not in e
    assert json.loads((out / f"{stem}.done.json").read_text())["frames"] == \
        (3 if stem == "b" else 2)
    done = [f for f in sorted(out.glob("*.jsonl")) if f.name != "errors.jsonl"]
    assert 1 <= len(done) < 41  # stopped before the end
    ref_z = _decode_json(src / "z0.wav", "--link", "ax25-afsk1200")
    ref_b = _decode_json(recs["b"])
    for f in done:  # whatever finished is whole, with its sidecar
        assert _read(f) == (ref_b if f.stem == "b" else ref_z), f.name
        assert (out / f"{f.stem}.done.json").exists()
    assert not list(out.glob("*.tmp*"))
    # the index holds the finished recordings
    rows = pq.read_table(out / "frames.parquet").to_pylist()
    assert {r["file"] for r in rows} == {f.stem for f in done}
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive


def test_cli_import_loads_no_dask():
    code = ("import sys, orbitlink.flowgraphs.cli_batch, orbitlink.flowgraphs.batch; "
            "bad = [m for m in ('dask', 'distributed', 'numba', 'SoapySDR') "
            "if m in sys.modules]; print(bad)")
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr


def test_expand_inputs(tmp_path):
    (tmp_path / "x").mkdir()
    for n in ("x/r1.sigmf-meta", "x/r1.sigmf-data", "x/r2.wav", "x/notes.txt"):
        (tmp_path / n).write_text("")
    got = batch.expand_inputs([str(tmp_path / "x"), str(tmp_path / "x" / "*.sigmf-data"),
                               str(tmp_path / "x" / "r2.wav")])
    assert [os.path.basename(p) for p in got] == ["r1.sigmf-meta", "r2.wav"]
    with pytest.raises(batch.BatchError, match="no file matches"):
        batch.expand_inputs([str(tmp_path / "*.none")])
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "r2.wav").write_text("")
    with pytest.raises(batch.BatchError, match="both write r2.jsonl"):
        batch.run_batch([str(tmp_path / "x"), str(tmp_path / "y")], str(tmp_path / "o"))
    assert batch.recording_stem("/a/b.c.sigmf-meta") == "b.c"


def test_running_cluster_by_address(archive, tmp_path):
    """--scheduler: a cluster started as the README says for several machines (dask scheduler,
    dask worker --nthreads 1 --no-nanny, here both on 127.0.0.1) is used, and left running;
    the outputs equal decode --json's."""
    from distributed import Client

    d, recs = archive
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    dask = os.path.join(os.path.dirname(PY), "dask")  # the venv's 'dask' command
    procs = [subprocess.Popen([dask, "scheduler",
                               "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        env = dict(os.environ, DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED="False")
        for _ in range(2):
            procs.append(subprocess.Popen(
                [dask, "worker", addr,
                 "--nthreads", "1", "--no-nanny"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(tmp_path)))
        with Client(addr, timeout="30s") as c:
            c.wait_for_workers(2, timeout=60)
        rel = os.path.relpath(recs["c"])  # relative here: the workers get absolute paths
        r = _batch_cli(recs["a"], rel, recs["bad"], "--out", tmp_path / "o", "--scheduler", addr)
        assert r.returncode == 1, r.stderr
        assert "3 recordings (2 decoded, 0 skipped, 1 error)" in r.stdout
        assert "bad: error: " in r.stdout
        for s in "ac":
            assert _read(tmp_path / "o" / f"{s}.jsonl") == _decode_json(recs[s])
        with Client(addr, timeout="30s") as c:  # still there
            assert len(c.scheduler_info()["workers"]) == 2
        assert all(p.poll() is None for p in procs)
    finally:
        for p in procs[::-1]:  # (SIGTERM makes them linger for seconds)
            p.kill()
            p.wait()
    with pytest.raises(batch.BatchError, match="cannot reach the Dask scheduler"):
        batch.start_cluster(scheduler="tcp://127.0.0.1:1", timeout=1)


# --------------------------------------------------------------------------------------------
# --retries, the dashboard, the progress bar, bad input

_FLAKY = {}


def _flaky_decode(path, **kw):
    """The first attempt at each recording fails as a read from a flaky mount does."""
    _FLAKY[path] = _FLAKY.get(path, 0) + 1
    if _FLAKY[path] == 1:
        raise OSError(errno.EIO, "Input/output error", path)
    return _REAL_DECODE(path, **kw)


_REAL_DECODE = batch.decode_file


def test_retries_try_a_failed_task_again(archive, tmp_path, monkeypatch):
    """A task that raises (decode_file's strict mode: an OSError while reading) is tried again
    with --retries; without, it is an error record. (An in-process cluster by address, so that
    the flaky stand-in for decode_file is what the worker runs.)"""
    from distributed import LocalCluster

    d, recs = archive
    monkeypatch.setattr(batch, "decode_file", _flaky_decode)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        _FLAKY.clear()
        res = batch.run_batch([recs["a"], recs["b"]], str(tmp_path / "o1"), retries=1,
                              scheduler=cluster.scheduler_address, out=io.StringIO())
        assert res["errors"] == 0
        assert sorted(_FLAKY.values()) == [2, 2]  # each recording: failed once, then decoded
        for s in "ab":
            assert _read(tmp_path / "o1" / f"{s}.jsonl") == \
                _REAL_DECODE(os.path.abspath(recs[s]))["text"].encode()
        _FLAKY.clear()
        summary = io.StringIO()
        res = batch.run_batch([recs["a"]], str(tmp_path / "o0"), retries=0,
                              scheduler=cluster.scheduler_address, out=summary)
        assert res["errors"] == 1 and list(_FLAKY.values()) == [1]
        assert "a: error: " in summary.getvalue() and "Input/output error" in summary.getvalue()
        errs = _jsonl(tmp_path / "o0" / "errors.jsonl")
        assert errs[0]["file"] == "a" and "Input/output error" in errs[0]["error"]
    # a recording that is not valid is not tried again: an error record at once, even strict
    r = _REAL_DECODE(recs["bad"], strict=True)
    assert "RIFF" in r["error"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lines(stream, q):
    for line in iter(stream.readline, ""):
        q.put(line)
    q.put(None)


def test_dashboard_where_asked_and_answers(tmp_path):
    """--dashboard 127.0.0.1:PORT: the URL printed on stderr answers an HTTP GET while the batch
    runs, and the port is bound on 127.0.0.1 only; then Ctrl-C."""
    src = tmp_path / "rec"
    src.mkdir()
    shutil.copy(DATA / "swiatowid-ax25.wav", src / "z0000.wav")
    for i in range(1, 2000):  # hard links: 2000 recordings, one worker busy for ~50 s
        os.link(src / "z0000.wav", src / f"z{i:04d}.wav")
    port = _free_port()
    p = subprocess.Popen([PY, "-m", "orbitlink.flowgraphs.cli_batch", "batch", str(src),
                          "--link", "ax25-afsk1200", "--workers", "1", "--out",
                          str(tmp_path / "out"), "--dashboard", f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        q = queue.Queue()
        threading.Thread(target=_lines, args=(p.stderr, q), daemon=True).start()
        line = q.get(timeout=60)
        url = f"http://127.0.0.1:{port}/status"
        assert line == f"orbitlink batch: dashboard at {url}\n", line
        assert p.poll() is None
        with urllib.request.urlopen(url, timeout=20) as r:
            assert r.status == 200 and b"Dask" in r.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=20) as r:
            assert r.read() == b"ok"
        assert p.poll() is None  # the batch was still running
        pids = [p.pid] + [c.pid for c in psutil.Process(p.pid).children(recursive=True)]
        listening = _listening(pids)
        assert ("127.0.0.1", port) in listening
        assert all(ip == "127.0.0.1" for ip, _ in listening), listening
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=30) == 130
    finally:
        p.kill()
        p.wait()
    # where asked; the host, when not given, is the loopback, never all interfaces
    assert batch.parse_dashboard("8790") == "127.0.0.1:8790"
    assert batch.parse_dashboard(":8790") == "127.0.0.1:8790"
    assert batch.parse_dashboard("localhost") == "localhost:8787"
    assert batch.parse_dashboard("10.1.2.3:8000") == "10.1.2.3:8000"
    assert batch.parse_dashboard("[::1]:8000") == "[::1]:8000"
    from orbitlink.flowgraphs.cli_batch import add_parsers
    import argparse

    ap = argparse.ArgumentParser()
    add_parsers(ap.add_subparsers())
    assert ap.parse_args(["batch", "x", "--out", "o"]).dashboard is None
    assert ap.parse_args(["batch", "x", "--out", "o", "--dashboard"]).dashboard == \
        "127.0.0.1:8787"
    with pytest.raises(batch.BatchError, match="give HOST:PORT"):
        batch.parse_dashboard("host:port")


def test_progress_bar_on_a_terminal(archive, tmp_path):
    """stderr a terminal: the bar (done/total, frames/s), cleared at the end; not on a pipe
    (the other tests' runs)."""
    import pty

    d, recs = archive
    master, slave = pty.openpty()
    p = subprocess.Popen([PY, "-m", "orbitlink.flowgraphs.cli_batch", "batch", recs["a"],
                          recs["c"], "--workers", "1", "--out", str(tmp_path / "out")],
                         stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        err += chunk
    o, _ = p.communicate(timeout=120)
    os.close(master)
    assert p.returncode == 0, err
    text = err.decode()
    assert "batch [" in text and "1/2 recordings" in text and "2/2 recordings" in text
    assert "frames/s" in text and text.endswith("\r")  # the bar's line cleared at the end
    assert "2 recordings (2 decoded" in o and "batch [" not in o


def _cli_err(*args, timeout=60):
    r = _batch_cli(*args, timeout=timeout)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""
    return r.stderr


def test_bad_input_is_one_sentence(archive, tmp_path):
    d, recs = archive
    out = tmp_path / "out"
    e = _cli_err(str(tmp_path / "*.nothing"), "--out", out)
    assert e == f"orbitlink: error: {tmp_path}/*.nothing: no file matches\n"
    (tmp_path / "empty").mkdir()
    e = _cli_err(tmp_path / "empty", "--out", out)
    assert e.startswith("orbitlink: error: no recordings found in ") and e.count("\n") == 1
    e = _cli_err(recs["a"], "--out", out, "--workers", "0")
    assert "argument --workers: must be at least 1, got 0" in e
    e = _cli_err(recs["a"], "--out", out, "--retries", "-1")
    assert "argument --retries: must be at least 0, got -1" in e
    (tmp_path / "afile").write_text("")
    e = _cli_err(recs["a"], "--out", tmp_path / "afile")
    assert e == f"orbitlink: error: {tmp_path}/afile: the output folder is a file; give a folder " \
                "with --out\n"
    e = _cli_err(recs["a"], "--out", out, "--dashboard", "nowhere:port")
    assert e.count("\n") == 1 and "give HOST:PORT" in e
    # a scheduler nobody runs: a bounded wait, then one sentence
    t = time.monotonic()
    e = _cli_err(recs["a"], "--out", out, "--scheduler", f"tcp://127.0.0.1:{_free_port()}",
                 "--connect-timeout", "2")
    assert time.monotonic() - t < 20
    assert e.startswith("orbitlink: error: cannot reach the Dask scheduler at tcp://127.0.0.1:")
    assert "within 2 s" in e and e.count("\n") == 1
    e = _cli_err(recs["a"], "--out", out, "--scheduler", "nonsense", "--connect-timeout", "2")
    assert e.startswith("orbitlink: error: cannot reach the Dask scheduler at nonsense") and \
        e.count("\n") == 1
    assert not out.exists() or not any(out.iterdir())
