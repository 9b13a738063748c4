"""What a user can ask ``passes`` and ``doppler`` for is bounded: absurd requests are refused
with one sentence and exit status 2, at once, before anything is computed or allocated."""

import math
import time
from pathlib import Path

import numpy as np
import pytest

from orbitlink import OrbitlinkError
from orbitlink.flowgraphs import cli_orbit
from orbitlink.modem import orbit as o

ISS_FILE = Path(__file__).parent / "data" / "tle" / "iss_flock_2018.tle"
ISS = ["--tle", str(ISS_FILE), "--sat", "iss", "--station", "52.0,4.37,10"]
START = ["--start", "2018-05-16T01:00Z"]


def refused(capsys, argv, *needles, max_s=0.5):
    capsys.readouterr()
    t0 = time.perf_counter()
    rc = cli_orbit.main([str(a) for a in argv])
    dt = time.perf_counter() - t0
    out, err = capsys.readouterr()
    assert rc == 2, (rc, err)
    assert "Traceback" not in err and out == ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("orbitlink: error:"), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert dt < max_s, f"{argv}: refused after {dt:.2f} s"
    return lines[0]


def test_passes_hours_absurd(capsys):
    cli_orbit.main(["passes", *ISS, *START, "--hours", "1"])  # imports and loads: warm
    msg = refused(capsys, ["passes", *ISS, "--hours", "1e9"], "--hours 1e+09", "744 h",
                  "SGP4 elements are meaningless")
    assert msg.count(". ") == 0
    refused(capsys, ["passes", *ISS, "--hours", "745"], "744 h")
    for bad in ("nan", "inf", "-inf", "0", "-3"):
        refused(capsys, ["passes", *ISS, f"--hours={bad}"], "--hours", "positive")


def test_passes_at_the_bound_still_works(capsys):
    capsys.readouterr()
    rc = cli_orbit.main(["passes", *ISS, *START, "--hours", "744", "--min-el", "60", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0 and len(out.splitlines()) > 0
    assert "warning" in err  # a month from the epoch: stale elements


@pytest.mark.parametrize("opt,val,needle", [("--min-el", "nan", "--min-el"),
                                            ("--min-el", "90", "--min-el"),
                                            ("--min-el", "-91", "--min-el"),
                                            ("--dut1", "inf", "--dut1"),
                                            ("--dut1", "5", "--dut1")])
def test_common_options_out_of_range(capsys, opt, val, needle):
    refused(capsys, ["passes", *ISS, opt, val], needle)
    refused(capsys, ["doppler", *ISS, "--freq", "2.2G", opt, val], needle)


@pytest.mark.parametrize("step", ["1e-9", "0", "-1", "nan", "inf", "-inf", "0.0009"])
def test_doppler_step_absurd(capsys, step):
    refused(capsys, ["doppler", *ISS, *START, "--freq", "2.2G", f"--step={step}"], "--step")


def test_doppler_too_many_rows(capsys, monkeypatch):
    monkeypatch.setattr(cli_orbit, "MAX_ROWS", 1000)  # the ~400 s pass at 0.1 s: ~4000 rows
    refused(capsys, ["doppler", *ISS, *START, "--freq", "2.2G", "--min-el", "10", "--step",
                     "0.1"], "more than 1000 rows", "larger --step", max_s=2.0)


def test_doppler_pass_number(capsys):
    refused(capsys, ["doppler", *ISS, *START, "--freq", "2.2G", "--pass", "0"], "--pass 0")
    refused(capsys, ["doppler", *ISS, *START, "--freq", "2.2G", "--pass", "1000000000"],
            "fewer than 1000000000 pass", max_s=2.0)


@pytest.mark.parametrize("freq", ["0", "-5", "=-1G", "nan", "NaN", "inf", "1e999", "0x10",
                                  "abc", "", "1e-400"])
def test_doppler_freq_refused(capsys, freq):
    arg = ["--freq" + freq] if freq.startswith("=") else ["--freq", freq]
    refused(capsys, ["doppler", *ISS, *START, *arg], "--freq", "not a positive frequency")


@pytest.mark.parametrize("text,hz", [("437.5M", 437.5e6), ("2.2G", 2.2e9), ("2.2e9", 2.2e9),
                                     ("437500k", 437.5e6), ("145.8 MHz", 145.8e6)])
def test_parse_freq_good(text, hz):
    assert cli_orbit.parse_freq(text) == pytest.approx(hz)


@pytest.mark.parametrize("text", ["-1", "0", "nan", "inf", "-inf", "1e400", "1e-400", "G"])
def test_parse_freq_bad_is_an_orbitlink_error(text):
    with pytest.raises(OrbitlinkError) as ei:
        cli_orbit.parse_freq(text)
    assert type(ei.value) is not ValueError and "\n" not in str(ei.value)


def test_doppler_table_in_blocks_is_the_same(capsys, monkeypatch):
    """Rows computed in blocks (bounded memory) equal rows computed in one go."""
    argv = ["doppler", *ISS, *START, "--freq", "2.2G", "--min-el", "10", "--step", "3", "--json"]
    capsys.readouterr()
    assert cli_orbit.main(argv) == 0
    whole = capsys.readouterr().out
    monkeypatch.setattr(cli_orbit, "_BLOCK", 7)
    assert cli_orbit.main(argv) == 0
    assert capsys.readouterr().out == whole
    rows = whole.splitlines()
    assert 120 < len(rows) < 140 and '"el_deg": 10.0' in rows[0]


def test_doppler_times_do_not_drift(capsys):
    """Row k is at AOS + k * step exactly (to the ms printed), also far into a fine table."""
    import json

    capsys.readouterr()
    assert cli_orbit.main(["doppler", *ISS, *START, "--freq", "2.2G", "--min-el", "10",
                           "--step", "0.05", "--json"]) == 0
    rows = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    t = np.array([r["t_unix"] for r in rows[:-1]])
    assert np.abs(t - (t[0] + 0.05 * np.arange(len(t)))).max() < 2e-3


# ------------------------------------------------------------------------------------------------
# the library refuses the same things (for callers other than the CLI)


@pytest.fixture(scope="module")
def iss():
    return o.load_satellite(ISS_FILE, "iss"), o.Station(52.0, 4.37, 10.0)


def test_passes_window_and_step_bounds(iss):
    sat, st = iss
    t0 = o.parse_time("2018-05-16T00:00Z")
    t = time.perf_counter()
    with pytest.raises(o.OrbitError, match="meaningless"):
        o.passes(sat, st, t0, t0 + 1e9 * 3600)
    with pytest.raises(o.OrbitError, match="finite"):
        o.passes(sat, st, t0, math.inf)
    with pytest.raises(o.OrbitError, match="samples"):
        o.passes(sat, st, t0, t0 + 30 * 86400, step_s=1e-3)
    with pytest.raises(o.OrbitError, match="step"):
        o.passes(sat, st, t0, t0 + 3600, step_s=-1.0)
    with pytest.raises(o.OrbitError, match="DUT1"):
        o.passes(sat, st, t0, t0 + 3600, dut1_s=math.nan)
    with pytest.raises(o.OrbitError, match="days"):
        o.next_pass(sat, st, t0, max_days=1e6)
    with pytest.raises(o.OrbitError, match="DUT1"):
        o.DopplerPredictor(sat, st, 2.2e9, dut1_s=10.0)
    assert time.perf_counter() - t < 0.5


def test_look_in_blocks_is_the_same(iss, monkeypatch):
    sat, st = iss
    t = o.parse_time("2018-05-16T01:20Z") + np.arange(0.0, 1000.0, 0.5).reshape(-1, 2)
    whole = o.look(sat, st, t)
    monkeypatch.setattr(o, "_LOOK_BLOCK", 100)
    blocks = o.look(sat, st, t)
    for a, b in zip(whole, blocks):
        assert a.shape == t.shape and np.array_equal(a, b)


def test_times_outside_the_calendar_are_orbit_errors():
    for t in (1e18, -1e18, math.nan):
        with pytest.raises(o.OrbitError, match="1..9999"):
            o.iso(t)


# ------------------------------------------------------------------------------------------------
# element files: every bad input is an OrbitError, never a bare ValueError or RecursionError

_OMM = {"OBJECT_NAME": "X", "EPOCH": "2024-01-01T00:00:00", "MEAN_MOTION": 15.0,
        "ECCENTRICITY": 0.001, "INCLINATION": 51.6, "RA_OF_ASC_NODE": 10,
        "ARG_OF_PERICENTER": 10, "MEAN_ANOMALY": 10, "NORAD_CAT_ID": 25544, "BSTAR": 0.0001}


@pytest.mark.parametrize("text,needle", [
    ({**_OMM, "EPOCH_MICROSECONDS": "5e6"}, "EPOCH_MICROSECONDS"),
    ({**_OMM, "EPOCH_MICROSECONDS": -1}, "EPOCH_MICROSECONDS"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
])
def test_bad_omm_files(tmp_path, text, needle):
    import json

    p = tmp_path / "x.json"
    p.write_text(text if isinstance(text, str) else json.dumps(text))
    with pytest.raises(o.OrbitError, match=needle) as ei:
        o.load_satellite(p)
    assert type(ei.value) is not ValueError and "\n" not in str(ei.value)


def test_satellite_name_that_looks_like_a_digit():
    with pytest.raises(o.OrbitError, match="is not in the file"):
        o.load_satellite(ISS_FILE, "\u00b2")  # '²': str.isdigit() but not an int
    assert o.load_satellite(ISS_FILE, "25544").name == "ISS (ZARYA)"
