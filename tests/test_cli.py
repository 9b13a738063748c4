"""The ``orbitlink`` command line, run as a user runs it.

Most cases call :func:`orbitlink.flowgraphs.cli.main` in-process (fast, output via capsys); a
few run ``python -m orbitlink`` in a subprocess to prove the exit status and that no traceback
reaches the user. Recordings are short (a handful of 64-byte frames) to keep the file fast.
"""

import datetime as dt
import io
import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest

from orbitlink.flowgraphs import cli
from orbitlink.flowgraphs.runner import Progress
from orbitlink.tests.helpers import loopback

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LINKS = ("bpsk", "qpsk", "oqpsk", "8psk")
N_FRAMES = 6
DATETIME = "2026-01-01T00:00:00Z"


# ------------------------------------------------------------------------------------------------
# helpers


def run(argv, capsys):
    """main(argv) in-process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def run_sub(argv, cwd=None, timeout=120):
    """``python -m orbitlink`` in a subprocess: (exit status, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-m", "orbitlink", *map(str, argv)], cwd=cwd,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def assert_user_error(rc, err, *needles):
    """Status 2, exactly one 'orbitlink: error:' line (the last), no traceback; the message
    contains every needle. Returns the message."""
    assert rc == 2, f"exit status {rc}, stderr: {err!r}"
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("orbitlink: error:")]
    assert len(errors) == 1, f"expected one error line, stderr: {err!r}"
    assert lines[-1] == errors[0], f"the error is not the last line: {err!r}"
    msg = errors[0]
    for n in needles:
        assert n in msg, f"{n!r} not in {msg!r}"
    return msg


def json_lines(out):
    return [json.loads(ln) for ln in out.splitlines() if ln.strip()]


def write_payloads(path, n, seed=0, payload_len=64):
    rng = np.random.default_rng(seed)
    pls = [bytes(rng.integers(0, 256, payload_len, dtype=np.uint8)) for _ in range(n)]
    path.write_text("# orbitlink test payloads\n" + "".join(p.hex() + "\n\n" for p in pls))
    return pls


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    """A QPSK SigMF recording of N_FRAMES frames made by ``orbitlink encode``."""
    d = tmp_path_factory.mktemp("rec")
    pls = write_payloads(d / "payloads.txt", N_FRAMES)
    rc = cli.main(["encode", "--link", "qpsk", "--in", str(d / "payloads.txt"),
                   "--out", str(d / "x.sigmf-meta"), "--center-freq", "437e6",
                   "--datetime", DATETIME])
    assert rc == 0
    return {"dir": d, "meta": d / "x.sigmf-meta", "data": d / "x.sigmf-data", "payloads": pls}


@pytest.fixture
def work(rec, tmp_path):
    """A private copy of the recording (tests may damage it)."""
    shutil.copy(rec["meta"], tmp_path / "x.sigmf-meta")
    shutil.copy(rec["data"], tmp_path / "x.sigmf-data")
    return tmp_path


# ------------------------------------------------------------------------------------------------
# links


def test_links_text(capsys):
    rc, out, err = run(["links"], capsys)
    assert rc == 0
    rows = {ln.split()[0]: ln for ln in out.splitlines()[1:] if ln.strip()}
    for name in LINKS:
        assert name in rows, out
        assert "9600 Bd" in rows[name], rows[name]
    assert "4.000" in rows["qpsk"] and "38400 Hz" in rows["qpsk"]
    assert "5.000" in rows["8psk"] and "48000 Hz" in rows["8psk"]
    header = out.splitlines()[0].lower()
    assert "symbol rate" in header and "sps" in header


def test_links_json(capsys):
    rc, out, _ = run(["links", "--json"], capsys)
    assert rc == 0
    lines = [ln for ln in out.splitlines() if ln.strip()]
    objs = [json.loads(ln) for ln in lines]  # every line is one object
    assert all(isinstance(o, dict) for o in objs)
    by = {o["name"]: o for o in objs}
    assert set(LINKS) <= set(by)
    for name in LINKS:
        o = by[name]
        assert o["symbol_rate"] == 9600
        assert o["sps"] == pytest.approx(o["samp_rate"] / o["symbol_rate"])
        assert o["payload_len"] == 64
        assert o["modulation"] == name
    assert by["qpsk"]["sps"] == 4.0 and by["8psk"]["sps"] == 5.0


# ------------------------------------------------------------------------------------------------
# encode -> decode


def test_encode_writes_sigmf(rec):
    meta = json.loads(rec["meta"].read_text())
    g = meta["global"]
    assert g["core:datatype"] == "cf32_le"
    assert g["core:sample_rate"] == 38400
    assert g["orbitlink:link"] == "qpsk"
    (cap,) = meta["captures"]
    assert cap["core:frequency"] == 437e6
    assert cap["core:datetime"] == DATETIME
    anns = meta["annotations"]
    assert len(anns) == N_FRAMES
    assert [a["core:comment"] for a in anns] == [p.hex() for p in rec["payloads"]]
    starts = [a["core:sample_start"] for a in anns]
    assert starts == sorted(starts) and len(set(starts)) == N_FRAMES
    size = rec["data"].stat().st_size
    assert size % 8 == 0
    assert all(a["core:sample_start"] + a["core:sample_count"] <= size // 8 for a in anns)
    x = np.fromfile(rec["data"], "<c8")
    assert np.isfinite(x.view(np.float32)).all() and np.abs(x).max() > 0.1


def _check_decoded(frames, rec, with_time=True):
    assert [f["hex"] for f in frames] == [p.hex() for p in rec["payloads"]]
    anns = json.loads(rec["meta"].read_text())["annotations"]
    for f, a in zip(frames, anns):
        for k in ("sample_index", "hex", "crc_ok", "snr_db", "freq_offset_hz"):
            assert k in f, f
        assert f["crc_ok"] is True
        assert abs(f["sample_index"] - a["core:sample_start"]) <= 4  # within a symbol
        assert f["snr_db"] > 25  # clean signal
        assert abs(f["freq_offset_hz"]) < 5
        if with_time:
            t = dt.datetime(2026, 1, 1) + dt.timedelta(seconds=f["sample_index"] / 38400)
            got = dt.datetime.fromisoformat(f["time_utc"].rstrip("Z"))
            assert f["time_utc"].endswith("Z")
            assert abs((got - t).total_seconds()) < 1e-5
        else:
            assert "time_utc" not in f


def test_decode_sigmf_json(rec, capsys):
    rc, out, err = run(["decode", rec["meta"], "--json"], capsys)  # link from the metadata
    assert rc == 0, err
    frames = json_lines(out)
    _check_decoded(frames, rec)
    assert f"{N_FRAMES} frames ({N_FRAMES} with a good CRC)" in err
    assert "qpsk" in err
    assert "error" not in err


@pytest.mark.parametrize("which", ["data", "base"])
def test_decode_by_data_file_or_base_name(rec, capsys, which):
    path = rec["data"] if which == "data" else rec["dir"] / "x"
    rc, out, err = run(["decode", path, "--json", "--link", "qpsk"], capsys)
    assert rc == 0, err
    _check_decoded(json_lines(out), rec)


def test_decode_text(rec, capsys):
    rc, out, err = run(["decode", rec["meta"]], capsys)
    assert rc == 0, err
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == N_FRAMES
    for ln, p in zip(lines, rec["payloads"]):
        assert "CRC ok" in ln and ln.endswith(p.hex())


def test_decode_is_chunk_size_independent(rec, capsys):
    rc, out, _ = run(["decode", rec["meta"], "--json"], capsys)
    assert rc == 0
    rc2, out2, _ = run(["decode", rec["meta"], "--json", "--chunk", "777"], capsys)
    assert rc2 == 0
    assert json_lines(out2) == json_lines(out)


def test_decode_raw_cf32(rec, tmp_path, capsys):
    raw = tmp_path / "x.cf32"
    shutil.copy(rec["data"], raw)
    rc, out, err = run(["decode", raw, "--format", "cf32_le", "--rate", "38400",
                        "--link", "qpsk", "--json"], capsys)
    assert rc == 0, err
    _check_decoded(json_lines(out), rec, with_time=False)


def test_decode_raw_ci16(rec, tmp_path, capsys):
    x = np.fromfile(rec["data"], "<c8")
    peak = float(np.max(np.abs(x.view(np.float32))))
    iq = np.round(x.view(np.float32) / peak * 30000).astype("<i2")
    raw = tmp_path / "x.ci16"
    iq.tofile(raw)
    assert raw.stat().st_size == 4 * len(x)
    rc, out, err = run(["decode", raw, "--format", "ci16_le", "--rate", "38400",
                        "--link", "qpsk", "--json"], capsys)
    assert rc == 0, err
    _check_decoded(json_lines(out), rec, with_time=False)


def test_decode_raw_without_link_is_an_error(rec, tmp_path, capsys):
    raw = tmp_path / "x.cf32"
    shutil.copy(rec["data"], raw)
    rc, out, err = run(["decode", raw, "--format", "cf32_le", "--rate", "38400"], capsys)
    assert_user_error(rc, err, "--link")
    assert out == ""


def test_encode_decode_other_links(tmp_path, capsys):
    for link in ("bpsk", "8psk"):
        pls = write_payloads(tmp_path / "p.txt", 3, seed=len(link))
        out_meta = tmp_path / f"{link}.sigmf-meta"
        rc, _, err = run(["encode", "--link", link, "--in", tmp_path / "p.txt",
                          "--out", out_meta], capsys)
        assert rc == 0, err
        rc, out, err = run(["decode", out_meta, "--json"], capsys)
        assert rc == 0, err
        frames = json_lines(out)
        assert [f["hex"] for f in frames] == [p.hex() for p in pls], link
        assert all("time_utc" not in f for f in frames)  # no core:datetime


def test_decode_subprocess(rec):
    rc, out, err = run_sub(["decode", rec["meta"], "--json"])
    assert rc == 0, err
    assert [f["hex"] for f in json_lines(out)] == [p.hex() for p in rec["payloads"]]
    assert "Traceback" not in err and "\r" not in err  # no progress bar on a pipe


# ------------------------------------------------------------------------------------------------
# loopback


@pytest.mark.parametrize("link,frames,cfo,sro", [
    ("bpsk", 8, 2000.0, 180.0),
    ("qpsk", 16, 2400.0, 200.0),
    ("oqpsk", 16, -1800.0, -150.0),
])
def test_loopback_impaired(capsys, link, frames, cfo, sro):
    r = loopback(link, frames, esn0=10, cfo=cfo, sro=sro)
    assert r["link"] == link
    assert r["frames_sent"] == frames
    assert r["frames_found"] == frames, r
    assert r["false_frames"] == 0, r
    assert r["bits"] == frames * 64 * 8
    if link == "bpsk":
        assert r["frames_ok"] == frames and r["bit_errors"] == 0, r
    else:
        # uncoded QPSK at Es/N0 10 dB: theoretical BER 7.8e-4
        assert r["bit_errors"] / r["bits"] < 3e-3, r
    assert r["ber"] == pytest.approx(r["bit_errors"] / r["bits"])
    assert abs(r["snr_db"] - 10) < 1.0, r
    assert abs(r["freq_offset_hz"] - cfo) < 5.0, r
    assert r["esn0_db"] == 10 and r["cfo_hz"] == cfo and r["sro_ppm"] == sro


def test_loopback_8psk(capsys):
    r = loopback("8psk", 8, esn0=18, cfo=2400.0, sro=-200.0)
    assert r["frames_found"] == r["frames_sent"] == 8, r
    assert r["frames_ok"] == 8 and r["bit_errors"] == 0 and r["false_frames"] == 0, r
    assert abs(r["snr_db"] - 18) < 1.0 and abs(r["freq_offset_hz"] - 2400) < 5, r


def test_loopback_ebn0_default_meaning(capsys):
    rc, out, err = run(["loopback", "--link", "qpsk", "--frames", 2, "--ebn0", 9, "--json"],
                       capsys)
    assert rc == 0, err
    (r,) = json_lines(out)
    assert r["ebn0_db"] == 9 and r["esn0_db"] == pytest.approx(9 + 10 * math.log10(2), abs=1e-3)


def test_loopback_text(capsys):
    rc, out, err = run(["loopback", "--link", "bpsk", "--frames", 3, "--esn0", 12,
                        "--cfo", 1000], capsys)
    assert rc == 0, err
    low = out.lower()
    assert "3 frames sent" in low and "3 found" in low and "ber" in low, out
    assert "ber 0 " in low or "ber 0.0" in low, out


def test_loopback_plot(tmp_path, capsys):
    out_dir = tmp_path / "plots"
    r = loopback("qpsk", 3, esn0=12, cfo=1500.0, sro=100.0, plot=True, out_dir=str(out_dir))
    pngs = sorted(out_dir.glob("*.png"))
    assert len(pngs) == 2, pngs
    assert {p.name for p in pngs} == {"constellation-qpsk.png", "spectrum-qpsk.png"}
    for p in pngs:
        assert p.read_bytes()[:8] == PNG_MAGIC
        assert p.stat().st_size > 1000
    assert sorted(r["plots"]) == sorted(str(p) for p in pngs)
    # the recording is kept with --out, and decodes to the frames it annotates
    assert r["recording"] and (out_dir / "loopback-qpsk.sigmf-data").exists()
    rc, out, err = run(["decode", r["recording"], "--json"], capsys)
    assert rc == 0, err
    anns = json.loads((out_dir / "loopback-qpsk.sigmf-meta").read_text())["annotations"]
    assert len(json_lines(out)) == len(anns) == 3


# ------------------------------------------------------------------------------------------------
# errors a user can cause


def test_missing_file(tmp_path, capsys):
    rc, out, err = run(["decode", tmp_path / "nope.sigmf-meta"], capsys)
    assert_user_error(rc, err, "nope.sigmf-meta", "not found")
    assert out == ""


def test_missing_file_subprocess(tmp_path):
    rc, out, err = run_sub(["decode", tmp_path / "nope.cf32", "--format", "cf32_le",
                            "--rate", "38400", "--link", "qpsk"])
    assert_user_error(rc, err, "nope.cf32")
    assert out == ""


def test_missing_payload_file(tmp_path, capsys):
    rc, _, err = run(["encode", "--link", "qpsk", "--in", tmp_path / "none.txt",
                      "--out", tmp_path / "y.sigmf-meta"], capsys)
    assert_user_error(rc, err, "none.txt")


def test_truncated_sigmf_keeps_decoded_frames(work, rec):
    with open(work / "x.sigmf-data", "ab") as fh:
        fh.write(b"\x01\x02\x03")
    rc, out, err = run_sub(["decode", work / "x.sigmf-meta", "--json"])
    assert [f["hex"] for f in json_lines(out)] == [p.hex() for p in rec["payloads"]]
    assert_user_error(rc, err, "x.sigmf-data", "3 byte")


def test_truncated_raw_keeps_decoded_frames(work, rec, capsys):
    raw = work / "x.cf32"
    raw.write_bytes((work / "x.sigmf-data").read_bytes() + b"\x00\x00\x00")
    rc, out, err = run(["decode", raw, "--format", "cf32_le", "--rate", "38400", "--link",
                        "qpsk"], capsys)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert [ln.split()[-1] for ln in lines] == [p.hex() for p in rec["payloads"]]
    assert_user_error(rc, err, "x.cf32", "whole number")


def test_unknown_datatype(work, capsys):
    meta = json.loads((work / "x.sigmf-meta").read_text())
    meta["global"]["core:datatype"] = "cf64_le"
    (work / "x.sigmf-meta").write_text(json.dumps(meta))
    rc, out, err = run(["decode", work / "x.sigmf-meta"], capsys)
    assert_user_error(rc, err, "x.sigmf-meta", "cf64_le", "cf32_le")
    assert out == ""


def test_nan_samples_keep_frames_before(work, rec):
    anns = json.loads((work / "x.sigmf-meta").read_text())["annotations"]
    # a NaN well inside frame 3: frames 0..2 are complete (filter tails included) before it
    bad = anns[3]["core:sample_start"] + 200
    x = np.fromfile(work / "x.sigmf-data", "<c8")
    x[bad] = complex(np.nan, 0)
    x[bad + 1: bad + 50] = np.nan
    x.tofile(work / "x.sigmf-data")
    rc, out, err = run_sub(["decode", work / "x.sigmf-meta", "--json"])
    assert [f["hex"] for f in json_lines(out)] == [p.hex() for p in rec["payloads"][:3]]
    assert_user_error(rc, err, "x.sigmf-data", f"sample {bad}", "not finite")
    assert "3 frames" in err  # the summary counts the frames kept


def test_empty_file(tmp_path, capsys):
    (tmp_path / "e.cf32").write_bytes(b"")
    rc, out, err = run(["decode", tmp_path / "e.cf32", "--format", "cf32_le", "--rate",
                        "38400", "--link", "qpsk"], capsys)
    assert_user_error(rc, err, "e.cf32", "empty")
    assert out == ""


def test_empty_sigmf(work, capsys):
    (work / "x.sigmf-data").write_bytes(b"")
    rc, out, err = run(["decode", work / "x.sigmf-meta"], capsys)
    assert_user_error(rc, err, "x.sigmf-data", "empty")


def test_unknown_link_subprocess(rec):
    rc, out, err = run_sub(["decode", rec["meta"], "--link", "nosuchlink"])
    msg = assert_user_error(rc, err, "nosuchlink")
    for name in LINKS:
        assert name in msg
    assert out == ""


def test_unknown_link_loopback(capsys):
    rc, _, err = run(["loopback", "--link", "qpsk9", "--frames", "1"], capsys)
    msg = assert_user_error(rc, err, "qpsk9")
    assert all(n in msg for n in LINKS)


def _link_yaml(tmp_path, name, edit):
    from orbitlink.flowgraphs import links

    text = (links._links_dir() / "qpsk.yaml").read_text()
    p = tmp_path / name
    p.write_text(edit(text))
    return p


def test_malformed_link_yaml_subprocess(rec, tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("format: 1\nname: [qpsk\nmodulation: qpsk\n")
    rc, out, err = run_sub(["decode", rec["meta"], "--link", p])
    assert_user_error(rc, err, "broken.yaml", "YAML")
    assert out == ""


@pytest.mark.parametrize("edit,key", [
    (lambda t: t.replace("rrc_alpha:", "rrc_alfa:"), "rrc_alfa"),
    (lambda t: t.replace("  max_errors:", "  max_errorz:"), "max_errorz"),
    (lambda t: t.replace("receiver: {}", "receiver: {loop_bw: 0.01}"), "loop_bw"),
], ids=["top", "framing", "receiver"])
def test_link_file_unknown_key(rec, tmp_path, capsys, edit, key):
    p = _link_yaml(tmp_path, "mylink.yaml", edit)
    rc, out, err = run(["decode", rec["meta"], "--link", p], capsys)
    assert_user_error(rc, err, "mylink.yaml", key)
    assert out == ""


def test_link_file_unknown_key_subprocess(rec, tmp_path):
    p = _link_yaml(tmp_path, "typo.yaml", lambda t: t.replace("symbol_rate:", "symbolrate:"))
    rc, out, err = run_sub(["encode", "--link", p, "--in", rec["dir"] / "payloads.txt",
                            "--out", tmp_path / "y.sigmf-meta"])
    assert_user_error(rc, err, "typo.yaml", "symbolrate")
    assert not (tmp_path / "y.sigmf-meta").exists()


@pytest.mark.parametrize("edit,needles", [
    (lambda t: t.replace("modulation: qpsk", "modulation: 16qam"), ["modulation", "16qam"]),
    (lambda t: t.replace("symbol_rate: 9600", "symbol_rate: fast"), ["symbol_rate"]),
    (lambda t: t.replace("sync_word: 1ACFFC1D", "sync_word: 1ACFFC1G"), ["sync"]),
    (lambda t: t.replace("format: 1", "format: 7"), ["format"]),
    (lambda t: "- just\n- a list\n", ["mapping"]),
], ids=["modulation", "symbol_rate", "sync_word", "format", "not-a-mapping"])
def test_link_file_bad_values_name_the_file(rec, tmp_path, capsys, edit, needles):
    p = _link_yaml(tmp_path, "bad.yaml", edit)
    rc, _, err = run(["decode", rec["meta"], "--link", p], capsys)
    assert_user_error(rc, err, "bad.yaml", *needles)


def test_link_file_not_utf8(rec, tmp_path, capsys):
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00format: 1\n")
    rc, _, err = run(["decode", rec["meta"], "--link", p], capsys)
    assert_user_error(rc, err, "bin.yaml")


def test_whole_float_int_parameter(rec, tmp_path, capsys):
    """``payload_len: 64.0`` is the integer 64 (it used to crash with a TypeError)."""
    p = _link_yaml(tmp_path, "f.yaml", lambda t: t.replace("payload_len: 64", "payload_len: 64.0"))
    rc, _, err = run(["encode", "--link", p, "--in", rec["dir"] / "payloads.txt",
                      "--out", tmp_path / "y.sigmf-meta"], capsys)
    assert rc == 0, err
    rc, out, err = run(["decode", tmp_path / "y.sigmf-meta", "--link", p, "--json"], capsys)
    assert rc == 0, err
    assert [f["hex"] for f in json_lines(out)] == [q.hex() for q in rec["payloads"]]
    rc, _, err = run(["decode", rec["meta"], "--set", "framing.payload_len=64.5"], capsys)
    assert_user_error(rc, err, "payload_len")


def test_set_override(rec, capsys):
    rc, out, err = run(["decode", rec["meta"], "--set", "receiver.carrier_bw=0.02", "--json"],
                       capsys)
    assert rc == 0, err
    assert len(json_lines(out)) == N_FRAMES
    rc, _, err = run(["decode", rec["meta"], "--set", "receiver.carrier_bw=5"], capsys)
    assert_user_error(rc, err, "carrier_bw")
    rc, _, err = run(["decode", rec["meta"], "--set", "nokey"], capsys)
    assert_user_error(rc, err, "key=value")


def test_wrong_payload_length(tmp_path, capsys):
    pin = tmp_path / "p.txt"
    pin.write_text("00" * 64 + "\n" + "ab" * 63 + "\n")
    rc, _, err = run(["encode", "--link", "qpsk", "--in", pin, "--out",
                      tmp_path / "y.sigmf-meta"], capsys)
    assert_user_error(rc, err, "p.txt", "line 2", "63", "64")
    assert not (tmp_path / "y.sigmf-meta").exists()


def test_wrong_payload_length_subprocess(tmp_path):
    pin = tmp_path / "p.txt"
    pin.write_text("abcd\n")
    rc, out, err = run_sub(["encode", "--link", "bpsk", "--in", pin, "--out",
                            tmp_path / "y.sigmf-meta"])
    assert_user_error(rc, err, "p.txt", "64")


def test_payload_not_hex(tmp_path, capsys):
    pin = tmp_path / "p.txt"
    pin.write_text("zz" * 64 + "\n")
    rc, _, err = run(["encode", "--link", "qpsk", "--in", pin, "--out",
                      tmp_path / "y.sigmf-meta"], capsys)
    assert_user_error(rc, err, "p.txt", "line 1")


@pytest.mark.parametrize("argv,needle", [
    (["decode", "{meta}", "--chunk", "0"], "--chunk"),
    (["decode", "{meta}", "--rate", "48000"], "sample rate"),
    (["decode", "{meta}", "--format", "ci8"], "ci8"),
    (["loopback", "--frames", "0"], "--frames"),
    (["encode", "--link", "qpsk", "--in", "{payloads}", "--out", "{tmp}/y.sigmf-meta",
      "--datetime", "yesterday"], "yesterday"),
], ids=["chunk", "rate", "format", "frames", "datetime"])
def test_bad_options(rec, tmp_path, capsys, argv, needle):
    argv = [a.format(meta=rec["meta"], payloads=rec["dir"] / "payloads.txt", tmp=tmp_path)
            for a in argv]
    rc, _, err = run(argv, capsys)
    assert_user_error(rc, err, needle)


def test_stdout_closed_early_is_quiet(rec):
    """``orbitlink decode ... | head``: a closed stdout is not an error and not a traceback."""
    import os

    r, w = os.pipe()
    os.close(r)  # the reader is gone before the first frame is printed
    try:
        p = subprocess.run([sys.executable, "-m", "orbitlink", "decode", str(rec["meta"]),
                            "--json"], stdout=w, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(w)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "error" not in p.stderr.lower(), p.stderr


# ------------------------------------------------------------------------------------------------
# progress bar


class FakeStream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self._tty = tty

    def isatty(self):
        return self._tty


def test_progress_on_a_tty():
    s = FakeStream(True)
    p = Progress(1000, "decoding", stream=s, min_interval=0.0)
    assert p.enabled
    p.update(500)
    assert "decoding" in s.getvalue() and "50.0%" in s.getvalue()
    p.update(500)
    assert "100.0%" in s.getvalue()
    p.close()
    assert s.getvalue().endswith("\r")


def test_progress_not_on_a_pipe():
    s = FakeStream(False)
    p = Progress(1000, "decoding", stream=s, min_interval=0.0)
    assert not p.enabled
    p.update(500)
    p.update(500)
    p.close()
    assert s.getvalue() == ""


def test_progress_stream_without_isatty():
    class Sink:
        def __init__(self):
            self.text = ""

        def write(self, t):
            self.text += t

        def flush(self):
            pass

    s = Sink()
    p = Progress(10, stream=s, min_interval=0.0)
    p.update(10)
    p.close()
    assert s.text == ""
