"""Orbit prediction, passes and Doppler (orbitlink.modem.orbit) and ``orbitlink passes/doppler``.

Geometry and pass times are checked against skyfield (test-only dependency, builtin timescale,
no downloads) for real TLEs shipped with the sgp4 and skyfield packages (tests/data/tle/*.origin).
"""

import copy
import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from orbitlink import OrbitlinkError
from orbitlink.flowgraphs import cli_orbit
from orbitlink.modem import orbit as o
from orbitlink.modem.orbit import C, OrbitError, OrbitWarning, Station

TLE = Path(__file__).parent / "data" / "tle"
ISS_FILE = TLE / "iss_flock_2018.tle"
AO73_FILE = TLE / "ao73_2020.tle"
DELFT = Station(52.0, 4.37, 10.0)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# satellite file, name, station: both hemispheres, altitudes from 10 m to 2.5 km
CASES = [
    ("iss_flock_2018.tle", "ISS (ZARYA)", Station(52.0, 4.37, 10.0)),  # 3-line TLE
    ("iss_flock_2018.tle", "FLOCK 2E-1", Station(-33.94, 18.47, 1500.0)),  # cubesat, CRLF line
    ("ao73_2020.tle", None, Station(-45.0, -70.0, 2500.0)),  # 2-line TLE, cubesat ~640 km
    ("ao73_2020.tle", None, Station(64.86, -147.85, 150.0)),
]


@pytest.fixture(scope="module")
def ts():
    from skyfield.api import load  # the 'test' extra; builtin timescale: no download

    return load.timescale(builtin=True)


def sky_time(ts, t_unix):
    """skyfield Time for unix seconds (whole days + seconds: ts.utc would count leap seconds
    inside a large seconds argument)."""
    t = np.asarray(t_unix, dtype=np.float64)
    d = np.floor(t / 86400.0)
    return ts.utc(1970, 1, 1 + d, 0, 0, t - d * 86400.0)


def sky(ts, sat, st):
    from skyfield.api import EarthSatellite, wgs84

    es = EarthSatellite.from_satrec(sat.satrec, ts)
    top = wgs84.latlon(st.lat_deg, st.lon_deg, elevation_m=st.alt_m)
    return es, top


def best_pass(sat, st):
    ps = o.passes(sat, st, sat.epoch_unix, sat.epoch_unix + 86400.0, 0.0)
    return max(ps, key=lambda p: p.max_el_deg)


# ------------------------------------------------------------------------------------------------
# geometry against skyfield


@pytest.mark.parametrize("fname,name,st", CASES, ids=[f"{c[0]}-{c[1]}-{c[2].lat_deg}" for c in CASES])
def test_look_matches_skyfield_over_a_pass(ts, fname, name, st):
    sat = o.load_satellite(TLE / fname, name)
    p = best_pass(sat, st)
    assert p.max_el_deg > 35
    t = np.arange(p.aos, p.los, 2.0)
    es, top = sky(ts, sat, st)
    tt = sky_time(ts, t)
    alt, az, dist, _, _, rr = (es - top).at(tt).frame_latlon_and_rates(top)
    dut1 = float(np.mean(tt.dut1))

    lk = o.look(sat, st, t)  # default: UT1 = UTC
    daz = (lk.az_deg - az.degrees + 180.0) % 360.0 - 180.0
    assert np.max(np.abs(lk.range_rate_mps - rr.m_per_s)) < 1.0
    assert np.max(np.abs(lk.el_deg - alt.degrees)) < 0.05
    assert np.max(np.abs(daz * np.cos(np.radians(lk.el_deg)))) < 0.05
    assert np.max(np.abs(lk.range_m - dist.m)) < 100.0

    lk = o.look(sat, st, t, dut1_s=dut1)  # skyfield's UT1: the same model to mm
    assert np.max(np.abs(lk.range_m - dist.m)) < 0.05
    assert np.max(np.abs(lk.range_rate_mps - rr.m_per_s)) < 1e-3
    assert np.max(np.abs(lk.el_deg - alt.degrees)) < 1e-5


@pytest.mark.parametrize("fname,name,st", CASES, ids=[f"{c[0]}-{c[1]}-{c[2].lat_deg}" for c in CASES])
def test_passes_match_skyfield_find_events(ts, fname, name, st):
    sat = o.load_satellite(TLE / fname, name)
    t0, t1 = sat.epoch_unix, sat.epoch_unix + 86400.0
    es, top = sky(ts, sat, st)
    te, ev = es.find_events(top, sky_time(ts, t0), sky_time(ts, t1), altitude_degrees=10.0)
    tu = [x.utc_datetime().timestamp() for x in te]
    # whole passes: rise, culmination(s), set
    sk = []
    for i, e in enumerate(ev):
        if e == 0:
            j = i + 1
            while j < len(ev) and ev[j] == 1:
                j += 1
            if j < len(ev) and ev[j] == 2:
                sk.append((tu[i], tu[i + 1], tu[j]))
    ours = [p for p in o.passes(sat, st, t0, t1, 10.0) if p.aos >= t0 and p.los <= t1]
    assert len(ours) == len(sk) >= 2
    for p, (r, c, s) in zip(ours, sk):
        assert abs(p.aos - r) < 1.0 and abs(p.los - s) < 1.0
        assert abs(p.t_max_el - c) < 1.0
        assert abs(p.tca - p.t_max_el) < 10.0  # seconds apart on low passes
        alt = (es - top).at(sky_time(ts, c)).altaz()[0].degrees
        assert abs(p.max_el_deg - alt) < 0.05
        assert p.aos < p.tca < p.los and p.max_el_deg >= 10.0
        lk = o.look(sat, st, np.array([p.aos, p.los]))
        np.testing.assert_allclose(lk.el_deg, 10.0, atol=1e-3)  # refined to < 0.1 s


def test_short_pass_between_samples_is_found():
    sat = o.load_satellite(ISS_FILE, "ISS (ZARYA)")
    p = best_pass(sat, DELFT)
    # a mask just under the maximum: a pass of a few seconds, shorter than the sampling step
    mask = p.max_el_deg - 0.01
    ps = o.passes(sat, DELFT, p.aos - 600, p.los + 600, mask, step_s=30.0)
    assert len(ps) == 1
    assert 0 < ps[0].duration_s < 30.0
    assert abs(ps[0].t_max_el - p.t_max_el) < 0.1


def test_pass_under_way_at_start_has_its_real_aos():
    sat = o.load_satellite(ISS_FILE, "ISS (ZARYA)")
    p = best_pass(sat, DELFT)
    q = o.passes(sat, DELFT, p.tca, p.tca + 3600.0)[0]
    assert abs(q.aos - p.aos) < 0.1 and abs(q.los - p.los) < 0.1 and not q.clipped
    assert o.next_pass(sat, DELFT, p.tca).aos == pytest.approx(p.aos, abs=0.1)
    nxt = o.next_pass(sat, DELFT, p.tca, index=2)
    assert nxt.aos > p.los + 3000


def test_omm_json_and_xml_give_the_same_as_the_tle(tmp_path):
    tle = o.load_satellite(TLE / "mario_2023.tle")
    js = o.load_satellite(TLE / "mario_2023.json")
    xml = o.load_satellite(TLE / "mario_2023.xml")
    # Space-Track's layout: numbers as strings, a space in EPOCH
    rec = json.loads((TLE / "mario_2023.json").read_text())[0]
    rec = {k: str(v) for k, v in rec.items()}
    rec["EPOCH"] = rec["EPOCH"].replace("T", " ")
    (tmp_path / "st.json").write_text(json.dumps(rec))
    st_json = o.load_satellite(tmp_path / "st.json")
    assert tle.name == js.name == xml.name == st_json.name == "MARIO"
    assert tle.norad == js.norad == 55123
    assert abs(tle.epoch_unix - js.epoch_unix) < 1e-3
    st = Station(-33.94, 18.47, 1500.0)
    t = tle.epoch_unix + np.arange(0.0, 86400.0, 30.0)
    ref = o.look(tle, st, t)
    for s in (js, xml, st_json):
        lk = o.look(s, st, t)
        assert np.max(np.abs(lk.range_m - ref.range_m)) < 1.0
        assert np.max(np.abs(lk.range_rate_mps - ref.range_rate_mps)) < 1e-3


def test_load_satellites_formats_and_selection():
    sats = o.load_satellites(ISS_FILE)
    assert [s.name for s in sats] == ["ISS (ZARYA)", "FLOCK 2E-1"]
    assert [s.norad for s in sats] == [25544, 41483]
    assert sats[0].epoch.isoformat().startswith("2018-05-15T14:50:33")
    assert sats[0].epoch.tzinfo is not None
    assert o.load_satellite(ISS_FILE, "41483").name == "FLOCK 2E-1"
    assert o.load_satellite(ISS_FILE, "flock").name == "FLOCK 2E-1"
    assert o.load_satellite(ISS_FILE).name == "ISS (ZARYA)"
    ao = o.load_satellite(AO73_FILE)  # 2-line: named by catalog number
    assert ao.name == "NORAD 39444" and 96 < ao.period_s / 60 < 98
    with pytest.raises(OrbitError, match=r"'HUBBLE' is not in the file \(it has: ISS"):
        o.load_satellite(ISS_FILE, "HUBBLE")
    # immutable, copies share it; pickling rebuilds it
    assert copy.deepcopy(sats[0]) is sats[0]
    s2 = pickle.loads(pickle.dumps(sats[1]))
    np.testing.assert_array_equal(o.look(s2, DELFT, sats[1].epoch_unix + np.arange(3.0)).range_m,
                                  o.look(sats[1], DELFT, sats[1].epoch_unix + np.arange(3.0)).range_m)


def test_look_is_vectorised_and_keeps_the_shape():
    sat = o.load_satellite(ISS_FILE)
    t = sat.epoch_unix + np.arange(12.0).reshape(3, 4) * 100
    lk = o.look(sat, DELFT, t)
    assert all(a.shape == (3, 4) and a.dtype == np.float64 for a in lk)
    one = o.look(sat, DELFT, float(t[1, 2]))
    assert one.range_m.shape == () and one.range_m == lk.range_m[1, 2]


# ------------------------------------------------------------------------------------------------
# Doppler


def test_doppler_formulas_sign_round_trip_and_first_order_error():
    f = 2.2e9
    v = np.array([-7500.0, -1000.0, 0.0, 1000.0, 7500.0])
    d = o.doppler_hz(v, f)
    assert d[0] > 0 and d[-1] < 0 and d[2] == 0  # approaching: higher; receding: lower
    np.testing.assert_allclose(f + d, f / (1 + v / C), rtol=1e-15)
    up = o.uplink_frequency_hz(v, f)
    assert up[-1] > f > up[0]  # receding: transmit higher
    np.testing.assert_allclose(up * (1 - v / C), f, rtol=1e-15)  # the satellite hears f
    # first order: off by < (v/c)^2 f, 1.4 Hz at 7.5 km/s and 2.2 GHz
    err = np.abs(d + f * v / C)
    assert np.all(err <= (v / C) ** 2 * f * 1.0001) and err.max() < 1.5 and err.max() > 1.0
    assert o.doppler_hz(7000.0, 2.2e9) == pytest.approx(-51367.5, abs=1.0)


@pytest.fixture(scope="module")
def iss_pass():
    sat = o.load_satellite(ISS_FILE, "ISS (ZARYA)")
    return sat, best_pass(sat, DELFT)


def test_doppler_over_a_pass_at_2g2(iss_pass):
    sat, p = iss_pass
    pred = o.DopplerPredictor(sat, DELFT, 2.2e9)
    t = np.arange(p.aos, p.los, 1.0)
    d, r = pred(t), pred.rate(t)
    assert 45e3 < d[0] < 56e3 and -56e3 < d[-1] < -45e3  # about +-50 kHz
    assert np.all(r < 0)  # a downlink Doppler only falls
    k = int(np.argmin(r))
    assert 700 < -r[k] < 1200 and abs(t[k] - p.tca) < 5  # up to ~1 kHz/s, steepest at TCA
    zero = t[np.flatnonzero(np.diff(np.sign(d)))[0]]
    assert abs(zero - p.tca) < 1.5
    # the rate is the derivative
    h = 0.05
    num = (pred(t + h) - pred(t - h)) / (2 * h)
    assert np.max(np.abs(num - r)) < 0.1
    # the geometry's range rate gives the same within the light-time term (< 2 Hz)
    geo = o.doppler_hz(o.look(sat, DELFT, t).range_rate_mps, 2.2e9)
    lt = np.abs(d - geo)
    assert lt.max() < 2.0 and lt.max() > 0.2
    np.testing.assert_array_equal(o.DopplerPredictor(sat, DELFT, 2.2e9, light_time=False)(t), geo)


def test_uplink_predictor_is_the_precompensation(iss_pass):
    sat, p = iss_pass
    t = np.arange(p.aos, p.los, 5.0)
    up = o.DopplerPredictor(sat, DELFT, 2.2e9, uplink=True)
    down = o.DopplerPredictor(sat, DELFT, 2.2e9)
    off = up(t)
    assert off[0] < 0 < off[-1]  # approaching: transmit lower; receding: higher
    assert np.max(np.abs(off + down(t))) < 4.0  # the opposite of the downlink, to (v/c)^2 terms
    # transmitted at t, it reaches the satellite at t + range/c with the range rate there
    tau = o.look(sat, DELFT, t).range_m / C
    rr = o.look(sat, DELFT, t + tau).range_rate_mps
    np.testing.assert_allclose((2.2e9 + off) * (1 - rr / C), 2.2e9, rtol=1e-12)


def test_predictor_value_does_not_depend_on_the_batch(iss_pass):
    sat, p = iss_pass
    pred = o.DopplerPredictor(sat, DELFT, 437e6)
    t = p.aos + np.arange(0.0, 37.0, 0.05)
    full = pred(t)
    np.testing.assert_array_equal(np.concatenate([pred(t[:7]), pred(t[7:300]), pred(t[300:])]),
                                  full)
    np.testing.assert_array_equal(np.array([pred(np.array([x]))[0] for x in t[:40]]), full[:40])
    assert copy.deepcopy(pred)(t[:5]).tolist() == full[:5].tolist()


# ------------------------------------------------------------------------------------------------
# bad input


def write(tmp_path, text, name="x.tle"):
    p = tmp_path / name
    p.write_text(text)
    return p


ISS_LINES = ISS_FILE.read_text().splitlines()[:3]


def fix(line):
    """The line with its checksum recomputed."""
    return line[:68] + str(o._checksum(line))


@pytest.mark.parametrize("mutate,needle", [
    (lambda ls: [ls[0], ls[1][:-1] + str((int(ls[1][-1]) + 1) % 10), ls[2]], "bad checksum"),
    (lambda ls: [ls[0], ls[1][:40] + ls[1][41:], ls[2]], "68 characters, not 69"),
    (lambda ls: [ls[0], ls[1] + "0", ls[2]], "70 characters, not 69"),
    (lambda ls: [ls[0], ls[1]], "not followed by line 2"),
    (lambda ls: [ls[0], ls[2], ls[1]], "expected TLE line 1"),
    (lambda ls: [ls[0], ls[1], fix(ls[2].replace("25544", "25545", 1))], "different satellites"),
    (lambda ls: ["hello world", "this is not a TLE", "at all"], "expected TLE line 1"),
    (lambda ls: [ls[2]], "line 2 without its line 1"),
    (lambda ls: [], "no satellite elements"),
])
def test_malformed_tle_is_one_clear_error(tmp_path, mutate, needle):
    p = write(tmp_path, "\n".join(mutate(list(ISS_LINES))) + "\n")
    with pytest.raises(OrbitError) as e:
        o.load_satellites(p)
    msg = str(e.value)
    assert needle in msg and str(p) in msg and "\n" not in msg
    assert isinstance(e.value, OrbitlinkError) and isinstance(e.value, ValueError)


@pytest.mark.parametrize("line,c0,c1,text,needle", [
    (1, 21, 31, "XX.XXXXXXX", "line 1 epoch (columns 19-32) is '18XX.XXXXXXX"),
    (1, 54, 61, "48567-4x", "line 1 BSTAR (columns 54-61)"),
    (2, 27, 33, "0.00040", "line 2 eccentricity (columns 27-33)"),
    (2, 9, 16, "251.6402", "inclination 251.64 is outside [0, 180]"),
    (2, 53, 63, "15.5405918a", "line 2 mean motion (columns 53-63)"),
])
def test_tle_field_garbage_is_reported_by_field(tmp_path, line, c0, c1, text, needle):
    # the C++ parser of sgp4 reads some such fields silently wrong: checked before it
    ls = list(ISS_LINES)
    ls[line] = fix(ls[line][:c0 - 1] + text + ls[line][c1:])
    p = write(tmp_path, "\n".join(ls) + "\n")
    with pytest.raises(OrbitError) as e:
        o.load_satellites(p)
    assert needle in str(e.value) and f"{p} line 2:" in str(e.value)


@pytest.mark.parametrize("edit,needle", [
    (lambda r: [r.pop("EPOCH"), r.pop("BSTAR")], "misses EPOCH, BSTAR"),
    (lambda r: r.update(MEAN_MOTION="fast"), "MEAN_MOTION = 'fast' is not a number"),
    (lambda r: r.update(ECCENTRICITY=1.5), "ECCENTRICITY 1.5 is out of range"),
    (lambda r: r.update(EPOCH="yesterday"), "EPOCH 'yesterday' is not an ISO-8601"),
    (lambda r: r.update(MEAN_ELEMENT_THEORY="SGP4-XP"), "only SGP4"),
])
def test_malformed_omm_is_one_clear_error(tmp_path, edit, needle):
    rec = json.loads((TLE / "mario_2023.json").read_text())[0]
    edit(rec)
    p = write(tmp_path, json.dumps([rec]), "x.json")
    with pytest.raises(OrbitError) as e:
        o.load_satellites(p)
    assert needle in str(e.value) and f"{p} record 1" in str(e.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(OrbitError, match="not valid JSON"):
        o.load_satellites(write(tmp_path, '[{"OBJECT_NAME": ', "x.json"))
    with pytest.raises(OrbitError, match="cannot read the element file"):
        o.load_satellites(tmp_path / "missing.tle")
    (tmp_path / "b.tle").write_bytes(b"\xff\xfe\x00\x81binary")
    with pytest.raises(OrbitError, match="not a text file"):
        o.load_satellites(tmp_path / "b.tle")


@pytest.mark.parametrize("text,needle", [
    ("91,4.37,10", "latitude 91.0 is outside [-90, 90]"),
    ("-90.5,0", "latitude -90.5 is outside"),
    ("52,400", "longitude 400.0 is outside"),
    ("52,4,1e6", "altitude 1000000.0 is outside"),
    ("52", "is not LAT,LON[,ALT]"),
    ("52,4,10,3", "is not LAT,LON[,ALT]"),
    ("52,east", "longitude 'east'"),
    ("nan,4", "latitude nan is outside"),
])
def test_bad_station(text, needle):
    with pytest.raises(OrbitError) as e:
        Station.parse(text)
    assert needle in str(e.value)


def test_station_parse():
    assert Station.parse(" 52.0, 4.37 ,10m") == Station(52.0, 4.37, 10.0)
    assert Station.parse("-33.9,18.4") == Station(-33.9, 18.4, 0.0)
    with pytest.raises(OrbitError):
        Station(0.0, 0.0, float("inf"))


def test_stale_elements_warn():
    sat = o.load_satellite(ISS_FILE)
    t30 = sat.epoch_unix + 30 * 86400.0
    assert o.epoch_check(sat, sat.epoch_unix + 13 * 86400.0) is None
    msg = o.epoch_check(sat, np.array([sat.epoch_unix, t30]))
    assert "30.0 days after their epoch" in msg and "ISS (ZARYA)" in msg
    assert "before" in o.epoch_check(sat, sat.epoch_unix - 20 * 86400.0)
    pred = o.DopplerPredictor(sat, DELFT, 2.2e9)
    with pytest.warns(OrbitWarning, match="30.0 days after"):
        pred(np.array([t30]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pred(np.array([t30 + 1.0]))  # once per predictor
        o.DopplerPredictor(sat, DELFT, 2.2e9)(np.array([sat.epoch_unix]))
    with pytest.warns(OrbitWarning):
        o.passes(sat, DELFT, t30, t30 + 3600.0)


def test_elements_that_no_longer_hold_raise():
    mario = o.load_satellite(TLE / "mario_2023.tle")  # decaying fast (ndot 0.0079)
    with pytest.raises(OrbitError, match=r"MARIO: SGP4 fails at 2023-06-24.*do not hold"):
        o.look(mario, DELFT, mario.epoch_unix + 60 * 86400.0)


def test_parse_time_and_iso():
    t = o.parse_time("2018-05-16T01:28:49Z")
    assert t == o.parse_time("2018-05-16T03:28:49+02:00") == o.parse_time("2018-05-16 01:28:49")
    assert o.iso(t + 0.4567) == "2018-05-16T01:28:49.457Z" and o.iso(t, 0) == "2018-05-16T01:28:49Z"
    assert o.iso(t + 0.9999) == "2018-05-16T01:28:50.000Z"
    assert o.parse_time(o.to_datetime(t)) == t and o.parse_time(t) == t
    with pytest.raises(OrbitError, match="not an ISO-8601"):
        o.parse_time("tomorrow")
    with pytest.raises(OrbitError, match="must be positive"):
        o.DopplerPredictor(o.load_satellite(ISS_FILE), DELFT, -1.0)


# ------------------------------------------------------------------------------------------------
# the acceptance pass the Doppler simulations use


def test_acceptance_pass():
    """ISS (ZARYA), tests/data/tle/iss_flock_2018.tle, from 52.0 N 4.37 E 10 m: the pass of
    2018-05-16 ~01:29-01:35 UTC, 82.5 deg maximum: +-50 kHz and ~0.9 kHz/s at 2.2 GHz."""
    sat = o.load_satellite(ISS_FILE, "ISS (ZARYA)")
    p = o.next_pass(sat, DELFT, o.parse_time("2018-05-16T01:00:00Z"), min_el_deg=10.0)
    assert abs(p.aos - o.parse_time("2018-05-16T01:28:49.4Z")) < 1.0
    assert abs(p.los - o.parse_time("2018-05-16T01:35:22.6Z")) < 1.0
    assert p.max_el_deg == pytest.approx(82.5, abs=0.1)
    pred = o.DopplerPredictor(sat, DELFT, 2.2e9)
    t = np.arange(p.aos, p.los, 0.5)
    assert pred(t).max() == pytest.approx(50.0e3, abs=0.3e3)
    assert -pred.rate(t).min() == pytest.approx(910.0, abs=10.0)


# ------------------------------------------------------------------------------------------------
# CLI


def run(argv, capsys):
    capsys.readouterr()
    rc = cli_orbit.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def one_error(rc, err, *needles):
    assert rc == 2 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("orbitlink: error:"), err
    for n in needles:
        assert n in lines[0], (n, lines[0])


ISS_ARGS = ["--tle", ISS_FILE, "--sat", "iss", "--station", "52.0,4.37,10"]


def test_cli_passes_table_and_json(capsys):
    rc, out, err = run(["passes", *ISS_ARGS, "--start", "2018-05-15T18:00:00Z", "--min-el", "10"],
                       capsys)
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert "ISS (ZARYA)" in lines[0] and "AOS (UTC)" in lines[1]
    rows = [ln.split() for ln in lines[2:]]
    assert len(rows) == 4
    assert rows[1][1] == "2018-05-16T01:28:49Z" and rows[1][4] == "82.5" and rows[1][7] == "6:33"
    rc, out, err = run(["passes", *ISS_ARGS, "--start", "2018-05-15T18:00:00Z", "--min-el", "10",
                        "--json"], capsys)
    recs = [json.loads(ln) for ln in out.splitlines()]
    assert rc == 0 and len(recs) == 4 and recs[1]["pass"] == 2
    assert recs[1]["aos"].startswith("2018-05-16T01:28:49") and recs[1]["norad"] == 25544
    assert recs[1]["max_el_deg"] == pytest.approx(82.5, abs=0.05)


def test_cli_doppler_json_uplink_and_plot(capsys, tmp_path):
    base = ["doppler", *ISS_ARGS, "--start", "2018-05-16T01:00Z", "--freq", "2.2G",
            "--min-el", "10", "--step", "2"]
    rc, out, err = run([*base, "--json"], capsys)
    rows = [json.loads(ln) for ln in out.splitlines()]
    assert rc == 0 and err == "" and 190 < len(rows) < 200
    assert rows[0]["el_deg"] == pytest.approx(10.0, abs=0.01)
    assert rows[0]["doppler_hz"] == pytest.approx(50.0e3, abs=300)
    assert rows[-1]["doppler_hz"] == pytest.approx(-50.0e3, abs=300)
    assert min(r["doppler_rate_hz_s"] for r in rows) == pytest.approx(-910, abs=15)
    assert rows[0]["rx_freq_hz"] == pytest.approx(2.2e9 + rows[0]["doppler_hz"], abs=0.01)
    rc, out, err = run([*base, "--json", "--uplink"], capsys)
    up = [json.loads(ln) for ln in out.splitlines()]
    assert up[0]["doppler_hz"] == pytest.approx(-rows[0]["doppler_hz"], abs=4)
    assert up[0]["tx_freq_hz"] < 2.2e9
    png = tmp_path / "d.png"
    rc, out, err = run([*base, "--plot", png], capsys)
    assert rc == 0 and png.read_bytes()[:8] == PNG_MAGIC and f"plot: {png}" in err
    assert "ISS (ZARYA) pass 1" in out.splitlines()[0] and "Doppler (Hz)" in out.splitlines()[1]


def test_cli_warns_once_on_stale_elements(capsys):
    rc, out, err = run(["passes", *ISS_ARGS, "--start", "2018-06-15T00:00Z", "--hours", "12"],
                       capsys)
    lines = err.splitlines()
    assert rc == 0 and len(lines) == 1
    assert lines[0].startswith("orbitlink: warning:") and "days after their epoch" in lines[0]
    rc, out, err = run(["doppler", *ISS_ARGS, "--start", "2018-06-15T00:00Z", "--freq", "437e6",
                        "--step", "30"], capsys)
    assert rc == 0 and len(err.splitlines()) == 1 and "warning" in err


def test_cli_errors_are_one_sentence(capsys, tmp_path):
    one_error(*run(["passes", "--tle", ISS_FILE, "--station", "91,0,0"], capsys)[::2],
              "latitude 91.0")
    bad = write(tmp_path, ISS_FILE.read_text().replace("0  9998", "0  9997"))
    one_error(*run(["passes", "--tle", bad, "--station", "52,4"], capsys)[::2],
              str(bad), "checksum")
    one_error(*run(["doppler", *ISS_ARGS, "--freq", "-5"], capsys)[::2], "--freq '-5'")
    one_error(*run(["passes", *ISS_ARGS, "--start", "soon"], capsys)[::2], "'soon'")
    one_error(*run(["doppler", *ISS_ARGS, "--start", "2018-05-16T01:00Z", "--freq", "1e9",
                    "--min-el", "89.99"], capsys)[::2], "fewer than 1 pass")
    one_error(*run(["passes", "--tle", tmp_path / "none.tle", "--station", "52,4"], capsys)[::2],
              "none.tle", "cannot read")
