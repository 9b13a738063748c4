"""Frequency knowledge from outside (issue 13 item 5): ``--freq-offset HZ`` and
``--doppler-file FILE`` (gr-satellites' Doppler correction format) on ``decode`` and ``rx``."""

import json
from pathlib import Path

import numpy as np
import pytest

from orbitlink.flowgraphs.cli import main

REPO = Path(__file__).resolve().parents[1]
TLE = str(REPO / "tests" / "data" / "tle" / "iss_flock_2018.tle")
STATION = "52.0,4.37,10"


def _ok(capsys, argv):
    rc = main(argv)
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    return [json.loads(x) for x in cap.out.splitlines()]


@pytest.fixture(scope="module")
def offset_rec(tmp_path_factory):
    """10 QPSK frames 9 kHz off nominal: outside what the receiver pulls in by itself."""
    d = tmp_path_factory.mktemp("cfo")
    assert main(["loopback", "--link", "qpsk", "--frames", "10", "--cfo", "9000", "--out",
                 str(d), "--json", "--seed", "3"]) == 0
    return str(next(d.glob("*.sigmf-meta")))


def test_freq_offset_brings_back_a_carrier_the_receiver_cannot_reach(capsys, offset_rec):
    capsys.readouterr()
    assert _ok(capsys, ["decode", offset_rec, "--json"]) == []
    frames = _ok(capsys, ["decode", offset_rec, "--json", "--freq-offset", "9000"])
    assert len(frames) == 10 and all(f["crc_ok"] for f in frames)
    # a measurement 300 Hz off is still good enough: the receiver tracks the rest
    frames = _ok(capsys, ["decode", offset_rec, "--json", "--freq-offset", "8700"])
    assert len(frames) == 10
    assert all(abs(f["freq_offset_hz"] - 300) < 30 for f in frames), frames[0]


def test_freq_offset_on_rx(capsys, offset_rec):
    frames = _ok(capsys, ["rx", "--link", "qpsk", "--hw", "loopback", "--device",
                          f"file={offset_rec},rate=max", "--freq-offset", "9000", "--bus",
                          "tcp://127.0.0.1:0", "--tx-endpoint", "none",
                          "--control-endpoint", "none"])
    assert len(frames) == 10


@pytest.fixture(scope="module")
def pass_rec(tmp_path_factory):
    """The top of a 2.2 GHz ISS pass (real TLE) through the loopback, and its Doppler as a
    gr-satellites Doppler file: one 'UNIX-time Hz' line a second, written from `orbitlink
    doppler --json` (what a user would do with any prediction tool's table)."""
    d = tmp_path_factory.mktemp("pass")
    assert main(["loopback", "--link", "ccsds-concat", "--set", "modulation=qpsk", "--tle", TLE,
                 "--station", STATION, "--freq", "2.2G", "--start", "2018-05-16T01:00:00Z",
                 "--min-el", "60", "--ebn0", "9", "--out", str(d), "--json"]) == 0
    return d


def _doppler_file(capsys, d, path, scale=1.0):
    capsys.readouterr()
    assert main(["doppler", "--tle", TLE, "--station", STATION, "--freq", "2.2G", "--start",
                 "2018-05-16T01:00:00Z", "--min-el", "55", "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    with open(path, "w") as f:
        f.write("# UNIX time, Doppler Hz (from orbitlink doppler --json)\n")
        for r in rows:
            f.write(f"{r['t_unix']:.3f} {r['doppler_hz'] * scale:.2f}\n")
    return path


def test_doppler_file_corrects_a_pass(capsys, pass_rec, tmp_path):
    rec = str(next(pass_rec.glob("*.sigmf-meta")))
    capsys.readouterr()
    assert _ok(capsys, ["decode", rec, "--link", "ccsds-concat", "--set", "modulation=qpsk",
                        "--json"]) == []
    table = _doppler_file(capsys, pass_rec, tmp_path / "doppler.txt")
    frames = _ok(capsys, ["decode", rec, "--link", "ccsds-concat", "--set", "modulation=qpsk",
                          "--json", "--doppler-file", str(table)])
    assert len(frames) >= 20 and all(f["crc_ok"] for f in frames)
    # a table of the wrong sign makes it worse, not better: the file is really used
    bad = _doppler_file(capsys, pass_rec, tmp_path / "wrong.txt", scale=-1.0)
    assert _ok(capsys, ["decode", rec, "--link", "ccsds-concat", "--set", "modulation=qpsk",
                        "--json", "--doppler-file", str(bad)]) == []


def test_table_doppler_interpolates_and_holds():
    from orbitlink.modem.doppler import TableDoppler

    t = TableDoppler([10.0, 20.0, 30.0], [100.0, 300.0, -100.0])
    assert np.allclose(t([5, 10, 15, 25, 40]), [100, 100, 200, 100, -100])
    assert np.allclose(t.rate([5, 15, 25, 40]), [0, 20, -40, 0])


@pytest.mark.parametrize("content,words", [
    ("", "no 'UNIX-time frequency-Hz' line"),
    ("1526434288 100\n1526434287 200\n", "must increase"),
    ("1526434288 100 7\n", "is not 'UNIX-time frequency-Hz'"),
    ("1526434288 nan\n", "finite"),
    ("abc def\n", "is not 'UNIX-time"),
    ("1526434288 90000\n", "beyond"),
    ("1.0 100\n2.0 100\n", "not the recording"),
    ("\xff\xfe\x00bin\n", "not text"),
])
def test_bad_doppler_files_one_sentence(capsys, pass_rec, tmp_path, content, words):
    rec = str(next(pass_rec.glob("*.sigmf-meta")))
    p = tmp_path / "d.txt"
    p.write_bytes(content.encode("latin-1"))
    rc = main(["decode", rec, "--link", "ccsds-concat", "--set", "modulation=qpsk",
               "--doppler-file", str(p)])
    err = capsys.readouterr().err
    assert rc == 2 and words in err, err
    assert "Traceback" not in err


def test_outside_knowledge_refusals(capsys, pass_rec, tmp_path):
    rec = str(next(pass_rec.glob("*.sigmf-meta")))
    wav = str(REPO / "tests" / "data" / "recordings" / "koyo.wav")
    cases = [
        (["decode", wav, "--link", "ax25-fsk9600", "--freq-offset", "100"], "IQ"),
        (["decode", rec, "--link", "qpsk", "--freq-offset", "1e9"], "outside"),
        (["decode", rec, "--link", "qpsk", "--doppler-file", str(tmp_path / "none.txt")],
         "cannot read"),
        (["decode", rec, "--link", "qpsk", "--tle", TLE, "--station", STATION, "--freq",
          "2.2G", "--doppler-file", rec], "two sources"),
    ]
    for argv, words in cases:
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc == 2 and words in err, (argv, err)
