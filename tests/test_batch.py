"""``orbitlink batch`` (issue 14): a Dask LocalCluster on 127.0.0.1 decoding small recordings.

Every DIR/<stem>.jsonl equals what ``orbitlink decode REC --json`` prints (run as a
subprocess), for 1 and 2 workers; a corrupt recording is an error record and the others still
decode; ``--resume`` skips what is done and redoes a recording that changed; the frame index
has every frame; Ctrl-C leaves whole outputs and no worker behind.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
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


def _batch_cli(*args, **kw):
    return subprocess.run([PY, "-m", "orbitlink.flowgraphs.cli_batch", "batch", *map(str, args)],
                          capture_output=True, text=True, timeout=180, **kw)


def _read(p):
    return Path(p).read_bytes()


def test_batch_1_and_2_workers_equal_decode_json(archive, tmp_path):
    d, recs = archive
    outs = {}
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        import io

        summary = io.StringIO()
        res = batch.run_batch([str(d)], str(out), workers=n, out=summary, parquet=False)
        outs[n] = out
        text = summary.getvalue()
        assert "bad: error: " in text and "not a WAV file" in text
        assert "4 recordings (3 decoded, 0 skipped, 1 error)" in text
        assert res["errors"] == 1
        for s in ("a", "b", "c"):
            assert f"{s}: {res['results'][s]['frames']} frames" in text
            assert res["results"][s]["error"] is None
    good = ("a", "b", "c")
    for s in good + ("bad",):
        assert _read(outs[1] / f"{s}.jsonl") == _read(outs[2] / f"{s}.jsonl")
    for s in good:
        ref = _decode_json(recs[s])
        assert ref.count(b"\n") >= 3
        assert _read(outs[2] / f"{s}.jsonl") == ref, s
    # the corrupt recording: an error record, and nothing else stopped
    errs = [json.loads(x) for x in (outs[2] / "errors.jsonl").read_text().splitlines()]
    assert [e["file"] for e in errs] == ["bad"] and "RIFF" in errs[0]["error"]
    # the frame index holds every frame of every recording
    rows = [json.loads(x) for x in (outs[2] / "frames.jsonl").read_text().splitlines()]
    assert set(rows[0]) == set(batch.INDEX_COLUMNS)
    for s in good:
        frames = [json.loads(x) for x in (outs[2] / f"{s}.jsonl").read_text().splitlines()]
        mine = [r for r in rows if r["file"] == s]
        assert [(r["sample_index"], r["hex"], r["check"]) for r in mine] == \
            [(f["sample_index"], f["hex"], f["check"]) for f in frames]
        link = {"a": "bpsk", "b": "ax25-afsk1200", "c": "qpsk"}[s]
        assert all(r["link"] == link and r["file"] == s for r in mine)
    assert not list(outs[2].glob("*.tmp*"))


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
    rows = (out / "frames.jsonl").read_text().splitlines()
    assert len(rows) == sum(len((out / f"{s}.jsonl").read_text().splitlines()) for s in "abc")
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


def test_ctrl_c_leaves_whole_outputs(archive, tmp_path):
    """SIGINT after the first recording is done: status 130, the finished outputs whole and
    equal to decode's, no temporary files, and the worker processes gone."""
    d, recs = archive
    src = tmp_path / "rec"
    src.mkdir()
    shutil.copy(recs["b"], src / "b.wav")
    for i in range(6):  # slower ones, queued behind b
        shutil.copy(DATA / "swiatowid-ax25.wav", src / f"z{i}.wav")
    out = tmp_path / "out"
    p = subprocess.Popen([PY, "-m", "orbitlink.flowgraphs.cli_batch", "batch",
                          str(src / "b.wav"), *[str(src / f"z{i}.wav") for i in range(6)],
                          "--link", "ax25-afsk1200", "--workers", "1", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = p.stdout.readline()
    assert first.startswith("b: 3 frames"), first
    children = psutil.Process(p.pid).children(recursive=True)
    assert children  # the cluster's processes
    p.send_signal(signal.SIGINT)
    o, e = p.communicate(timeout=60)
    assert p.returncode == 130, e
    assert "interrupted" in e and "Traceback" not in e
    assert _read(out / "b.jsonl") == _decode_json(recs["b"])
    assert json.loads((out / "b.done.json").read_text())["frames"] == 3
    assert len(list(out.glob("z*.jsonl"))) < 6
    ref = _decode_json(src / "z0.wav", "--link", "ax25-afsk1200")
    for f in out.glob("z*.jsonl"):  # whatever finished is whole
        assert _read(f) == ref
    assert not list(out.glob("*.tmp*"))
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
    """--scheduler: a cluster started elsewhere (here a LocalCluster on 127.0.0.1) is used, and
    left running."""
    from distributed import Client, LocalCluster

    d, recs = archive
    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None, scheduler_kwargs={
                          "dashboard": False, "dashboard_address": "127.0.0.1:0"}) as cluster:
        import io

        summary = io.StringIO()
        res = batch.run_batch([recs["a"], recs["c"]], str(tmp_path / "o"),
                              scheduler=cluster.scheduler_address, out=summary, parquet=False)
        assert res["errors"] == 0 and "2 recordings (2 decoded" in summary.getvalue()
        with Client(cluster.scheduler_address) as c:  # still there
            assert len(c.scheduler_info()["workers"]) == 1
    with pytest.raises(batch.BatchError, match="cannot reach the Dask scheduler"):
        batch.start_cluster(scheduler="tcp://127.0.0.1:1", timeout=1)
