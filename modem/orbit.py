"""Orbit prediction, passes and Doppler for a ground station (SGP4 from TLE or OMM elements).

Times are unix seconds UTC (float64 ``t_unix``; leap seconds are not counted, as in POSIX);
:func:`parse_time` and :func:`iso` convert from and to ISO-8601 strings and datetimes.

Model
-----
- Propagation: the ``sgp4`` library (Vallado's SGP4/SDP4, WGS-72 constants, as the elements
  are fitted) gives TEME position and velocity, vectorised with ``Satrec.sgp4_array``.
- TEME -> Earth-fixed: rotation by the GMST 1982 angle about z (AIAA 2006-6753 appendix C) at
  UT1 = UTC + ``dut1_s`` (default 0; |DUT1| < 0.9 s, < 0.1 s in 2019-2027: see :func:`look`
  for what leaving it out costs), polar motion neglected (< 0.5"). The Earth-fixed velocity
  includes -omega x r.
- Station: WGS-84 geodetic latitude, longitude and height above the ellipsoid; azimuth is from
  true north through east, elevation from the ellipsoid normal, geometric (no refraction).
- Range, range rate (positive = receding) and look angles are geometric at one instant, as
  skyfield's ``(satellite - station).at(t)``; with skyfield's DUT1 they agree to mm and mm/s,
  with the default DUT1 = 0 to < 1 m/s and < 0.05 deg while |DUT1| < 0.15 s (tests).

Doppler
-------
Sign convention: a shift is received minus transmitted frequency; it is negative when the
satellite recedes (range rate > 0). With beta = range_rate / c, the formulas are the classical
ones in the Earth-fixed frame: the ground receives ``f / (1 + beta)`` from a satellite sending
``f`` (:func:`doppler_hz`), and a satellite receives ``f_tx * (1 - beta)`` from the ground, so
transmitting ``f / (1 - beta)`` lands on its nominal ``f`` (:func:`uplink_frequency_hz`). They
are exact to first order in v/c; the neglected terms (relativistic time dilation, the Earth's
rotation and gravity) are of order (v/c)^2 f: < 1.5 Hz at 2.2 GHz for v = 7.5 km/s.
:class:`DopplerPredictor` also corrects for light time (the downlink received at t left the
satellite at t - range/c; the uplink sent at t reaches it at t + range/c), worth up to ~0.2 m/s
of range rate (~1.5 Hz at 2.2 GHz) near the closest approach of a low pass.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from sgp4.api import SGP4_ERRORS, WGS72, Satrec

from orbitlink import OrbitlinkError

C = 299_792_458.0
EPOCH_WARN_DAYS = 14.0
#: longest pass search window: SGP4 elements are meaningless weeks from their epoch
MAX_WINDOW_DAYS = 31.0
#: most elevation samples one pass search takes (bounds the memory of :func:`passes`)
MAX_SEARCH_SAMPLES = 2_000_000
#: |UT1 - UTC| accepted, seconds (IERS keeps it under 0.9 s)
MAX_DUT1_S = 1.0
_LOOK_BLOCK = 65536  # times per block in look(): bounds its temporaries

_WGS84_A = 6378137.0
_WGS84_F = 1 / 298.257223563
_WGS84_E2 = _WGS84_F * (2 - _WGS84_F)
_J2000_UNIX = 946728000.0  # 2000-01-01T12:00:00 UTC (JD 2451545.0, UT1 ~ UTC)
_UNIX_JD = 2440587.5


class OrbitError(OrbitlinkError, ValueError):
    """A TLE/OMM file, a station or a time that orbit prediction cannot use."""


class OrbitWarning(UserWarning):
    """A prediction that runs but may be wrong (elements too old or too new for the time)."""


# ------------------------------------------------------------------------------------------------
# time


def parse_time(value) -> float:
    """Unix seconds UTC from an ISO-8601 string (``2018-05-15T18:00:00Z``, an offset, or none:
    UTC), ``"now"``, a datetime (naive = UTC) or a number (already unix seconds)."""
    if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        t = float(value)
        if not math.isfinite(t):
            raise OrbitError(f"time {value!r} is not a finite number of unix seconds")
        return t
    if isinstance(value, _dt.datetime):
        d = value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
        return d.timestamp()
    if isinstance(value, str):
        s = value.strip()
        if s.lower() == "now":
            return _dt.datetime.now(_dt.timezone.utc).timestamp()
        try:
            d = _dt.datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", s))
        except ValueError:
            raise OrbitError(f"time {value!r} is not an ISO-8601 date and time "
                             "(e.g. 2018-05-15T18:00:00Z)") from None
        return parse_time(d)
    raise OrbitError(f"time {value!r} is neither an ISO-8601 string, a datetime nor a number")


def to_datetime(t_unix: float) -> _dt.datetime:
    """An aware UTC datetime from unix seconds."""
    try:
        return _dt.datetime.fromtimestamp(float(t_unix), _dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise OrbitError(f"time {float(t_unix)!r} unix seconds is not a time in the years "
                         "1..9999") from None


def _check_dut1(dut1_s) -> float:
    try:
        d = float(dut1_s)
    except (TypeError, ValueError):
        d = math.nan
    if not (math.isfinite(d) and abs(d) <= MAX_DUT1_S):
        raise OrbitError(f"DUT1 (UT1 - UTC) {dut1_s!r} s is outside [-{MAX_DUT1_S:g}, "
                         f"{MAX_DUT1_S:g}] s (IERS keeps it within 0.9 s)")
    return d


def iso(t_unix: float, digits: int = 3) -> str:
    """``YYYY-MM-DDTHH:MM:SS[.fff]Z`` for unix seconds (rounded to ``digits`` decimals)."""
    t = round(float(t_unix), digits)
    d = to_datetime(math.floor(t) if math.isfinite(t) else t)
    s = d.strftime("%Y-%m-%dT%H:%M:%S")
    if digits > 0:
        frac = f"{t - math.floor(t):.{digits}f}"
        s += frac[1:] if not frac.startswith("1") else "." + "9" * digits
    return s + "Z"


# ------------------------------------------------------------------------------------------------
# station


@dataclass(frozen=True)
class Station:
    """A ground station: WGS-84 geodetic latitude and longitude (degrees, north and east
    positive) and height above the ellipsoid (metres)."""

    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0

    LAT_RANGE = (-90.0, 90.0)
    LON_RANGE = (-180.0, 360.0)
    ALT_RANGE = (-500.0, 50_000.0)

    def __post_init__(self):
        for field, val, (lo, hi), unit in (
                ("latitude", self.lat_deg, self.LAT_RANGE, "degrees"),
                ("longitude", self.lon_deg, self.LON_RANGE, "degrees"),
                ("altitude", self.alt_m, self.ALT_RANGE, "m")):
            try:
                v = float(val)
            except (TypeError, ValueError):
                raise OrbitError(f"station {field} {val!r} is not a number") from None
            if not (math.isfinite(v) and lo <= v <= hi):
                raise OrbitError(f"station {field} {val!r} is outside [{lo:g}, {hi:g}] {unit}")
            object.__setattr__(self, {"latitude": "lat_deg", "longitude": "lon_deg",
                                      "altitude": "alt_m"}[field], v)

    @classmethod
    def parse(cls, text: str) -> "Station":
        """``"LAT,LON[,ALT]"``: degrees north, degrees east, metres (a trailing ``m`` is
        accepted), e.g. ``"52.0,4.37,10"``."""
        parts = [p.strip() for p in str(text).split(",")]
        if len(parts) not in (2, 3) or not all(parts):
            raise OrbitError(f"station {text!r} is not LAT,LON[,ALT] (degrees, degrees, metres), "
                             "e.g. 52.0,4.37,10")
        if len(parts) == 3 and parts[2].lower().endswith("m"):
            parts[2] = parts[2][:-1].strip()
        vals = []
        for name, p in zip(("latitude", "longitude", "altitude"), parts):
            try:
                vals.append(float(p))
            except ValueError:
                raise OrbitError(f"station {name} {p!r} in {text!r} is not a number") from None
        return cls(*vals)

    @property
    def ecef_m(self) -> np.ndarray:
        """Earth-fixed (WGS-84) position in metres."""
        lat, lon = math.radians(self.lat_deg), math.radians(self.lon_deg)
        n = _WGS84_A / math.sqrt(1 - _WGS84_E2 * math.sin(lat) ** 2)
        return np.array([(n + self.alt_m) * math.cos(lat) * math.cos(lon),
                         (n + self.alt_m) * math.cos(lat) * math.sin(lon),
                         (n * (1 - _WGS84_E2) + self.alt_m) * math.sin(lat)])

    @property
    def enu(self) -> np.ndarray:
        """Rows: the east, north and up unit vectors in Earth-fixed coordinates."""
        lat, lon = math.radians(self.lat_deg), math.radians(self.lon_deg)
        sl, cl, so, co = math.sin(lat), math.cos(lat), math.sin(lon), math.cos(lon)
        return np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])

    def __str__(self) -> str:
        return f"{self.lat_deg:.4f},{self.lon_deg:.4f},{self.alt_m:g}"


# ------------------------------------------------------------------------------------------------
# satellites and element files


class Satellite:
    """SGP4 elements of one satellite, from a TLE or an OMM record.

    Attributes: ``name``, ``norad`` (catalog number), ``epoch`` (aware UTC datetime),
    ``epoch_unix``, ``source`` (file and line or record it came from), ``satrec`` (the sgp4
    ``Satrec``). Immutable: copies share it.
    """

    def __init__(self, satrec: Satrec, name: str, source: str = "", _origin=None):
        self.satrec = satrec
        self.name = name
        self.norad = int(satrec.satnum)
        self.epoch_unix = round((satrec.jdsatepoch - _UNIX_JD) * 86400.0
                                + satrec.jdsatepochF * 86400.0, 6)
        self.epoch = to_datetime(self.epoch_unix)
        self.source = source
        self._origin = _origin  # ("tle", l1, l2) or ("omm", fields): to pickle

    @property
    def period_s(self) -> float:
        return 2 * math.pi / self.satrec.no_kozai * 60.0

    def __repr__(self) -> str:
        return (f"Satellite({self.name!r}, norad={self.norad}, epoch={iso(self.epoch_unix, 0)}, "
                f"period={self.period_s / 60:.1f} min)")

    def __deepcopy__(self, memo):
        return self  # immutable (the sgp4 Satrec cannot be deep-copied)

    def __reduce__(self):
        kind, *rest = self._origin
        if kind == "tle":
            return _sat_from_tle, (*rest, self.name, self.source)
        return _sat_from_omm, (rest[0], self.source)


def _sat_from_tle(l1, l2, name, source):
    return _tle_satellite(l1, l2, name, source)


def _sat_from_omm(fields, source):
    return _omm_satellite(fields, source)


def _checksum(line: str) -> int:
    return sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68]) % 10


def _check_tle_line(line: str, num: int, where: str) -> None:
    if not line.isascii():
        raise OrbitError(f"{where}: TLE line {num} has non-ASCII characters")
    if not line.startswith(f"{num} "):
        raise OrbitError(f"{where}: TLE line {num} must start with '{num} ', got {line[:20]!r}")
    if len(line) != 69:
        raise OrbitError(f"{where}: TLE line {num} has {len(line)} characters, not 69")
    if not line[68].isdigit():
        raise OrbitError(f"{where}: TLE line {num} does not end with a checksum digit")
    if int(line[68]) != _checksum(line):
        raise OrbitError(f"{where}: TLE line {num} has a bad checksum (the last digit is "
                         f"{line[68]}, the line sums to {_checksum(line)})")


_NUM = r"[+-]?(\d+\.?\d*|\.\d+)"
_EXP = r"[+-]?\d{1,5}[+-]\d"  # implied decimal point and exponent: 48567-4 = 0.48567e-4
_SATNUM = r"[0-9A-HJ-NP-Z ][0-9 ]{3}\d"  # with Alpha-5
# (line, first column, last column (1-based, inclusive), field, pattern)
_TLE_FIELDS = (
    (1, 3, 7, "catalog number", _SATNUM),
    (1, 19, 32, "epoch", r"\d{2}[0-9 ]{2}\d\.\d+"),
    (1, 34, 43, "mean motion derivative", _NUM),
    (1, 45, 52, "mean motion second derivative", _EXP),
    (1, 54, 61, "BSTAR", _EXP),
    (2, 3, 7, "catalog number", _SATNUM),
    (2, 9, 16, "inclination", _NUM),
    (2, 18, 25, "right ascension of the node", _NUM),
    (2, 27, 33, "eccentricity", r"\d{7}"),
    (2, 35, 42, "argument of perigee", _NUM),
    (2, 44, 51, "mean anomaly", _NUM),
    (2, 53, 63, "mean motion", _NUM),
)


def _check_tle_fields(l1: str, l2: str, where: str) -> None:
    for num, c0, c1, field, pat in _TLE_FIELDS:
        text = (l1, l2)[num - 1][c0 - 1:c1]
        if not re.fullmatch(pat, text.strip() if field != "catalog number" else text):
            raise OrbitError(f"{where}: TLE line {num} {field} (columns {c0}-{c1}) is "
                             f"{text!r}, not a valid number")
    day = float(l1[20:32])
    if not 1.0 <= day < 367.0:
        raise OrbitError(f"{where}: TLE epoch day of year {day} is outside [1, 367)")
    for field, c0, c1, hi in (("inclination", 9, 16, 180.0),
                              ("right ascension of the node", 18, 25, 360.0),
                              ("argument of perigee", 35, 42, 360.0),
                              ("mean anomaly", 44, 51, 360.0),
                              ("mean motion", 53, 63, 20.0)):
        v = float(l2[c0 - 1:c1])
        if not 0.0 <= v <= hi:
            raise OrbitError(f"{where}: TLE line 2 {field} {v:g} is outside [0, {hi:g}]")


def _tle_satellite(l1: str, l2: str, name: str | None, where: str) -> Satellite:
    _check_tle_line(l1, 1, where)
    _check_tle_line(l2, 2, where)
    if l1[2:7] != l2[2:7]:
        raise OrbitError(f"{where}: the TLE lines are of different satellites "
                         f"({l1[2:7].strip()} and {l2[2:7].strip()})")
    _check_tle_fields(l1, l2, where)
    try:
        sat = Satrec.twoline2rv(l1, l2, WGS72)
    except ValueError as e:
        first = str(e).strip().splitlines()[0].rstrip(":")
        raise OrbitError(f"{where}: malformed TLE ({first})") from None
    if sat.error:
        raise OrbitError(f"{where}: the TLE elements are invalid "
                         f"({SGP4_ERRORS.get(sat.error, sat.error)})")
    name = (name or "").strip() or f"NORAD {int(sat.satnum)}"
    return Satellite(sat, name, where, ("tle", l1, l2))


_OMM_REQUIRED = ("EPOCH", "MEAN_MOTION", "ECCENTRICITY", "INCLINATION", "RA_OF_ASC_NODE",
                 "ARG_OF_PERICENTER", "MEAN_ANOMALY", "NORAD_CAT_ID", "BSTAR")
_EPOCH_1949 = _dt.datetime(1949, 12, 31, tzinfo=_dt.timezone.utc)


def _omm_satellite(fields: dict, where: str) -> Satellite:
    if not isinstance(fields, dict):
        raise OrbitError(f"{where}: an OMM record must be a JSON object, got {type(fields).__name__}")
    missing = [k for k in _OMM_REQUIRED if fields.get(k) in (None, "")]
    if missing:
        raise OrbitError(f"{where}: the OMM record misses {', '.join(missing)}")
    theory = str(fields.get("MEAN_ELEMENT_THEORY", "SGP4")).strip().upper()
    if theory not in ("SGP4", "SGP/SGP4", "SDP4"):
        raise OrbitError(f"{where}: MEAN_ELEMENT_THEORY is {theory}; only SGP4 elements are "
                         "supported")
    frame = str(fields.get("REF_FRAME", "TEME")).strip().upper()
    if frame != "TEME":
        raise OrbitError(f"{where}: REF_FRAME is {frame}; SGP4 elements are in TEME")

    def num(key, default=None):
        v = fields.get(key, default)
        if v in (None, ""):
            v = default
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise OrbitError(f"{where}: OMM field {key} = {v!r} is not a number") from None
        if not math.isfinite(x):
            raise OrbitError(f"{where}: OMM field {key} = {v!r} is not finite")
        return x

    ep = str(fields["EPOCH"]).strip().replace(" ", "T")
    try:
        epoch = _dt.datetime.fromisoformat(re.sub(r"[zZ]$", "", ep))
    except ValueError:
        raise OrbitError(f"{where}: OMM EPOCH {fields['EPOCH']!r} is not an ISO-8601 time") from None
    if epoch.tzinfo is None:
        epoch = epoch.replace(tzinfo=_dt.timezone.utc)
    if "EPOCH_MICROSECONDS" in fields and epoch.microsecond == 0:  # Space-Track's old layout
        us = num("EPOCH_MICROSECONDS")
        if not 0 <= us < 1e6:
            raise OrbitError(f"{where}: OMM field EPOCH_MICROSECONDS = {us:g} is outside "
                             "[0, 999999]")
        epoch = epoch.replace(microsecond=int(us))
    norad = num("NORAD_CAT_ID")
    if norad != int(norad) or not 0 <= norad < 340000:
        raise OrbitError(f"{where}: NORAD_CAT_ID {fields['NORAD_CAT_ID']!r} is not a catalog "
                         "number (0 to 339999)")
    mm = num("MEAN_MOTION")
    ecc = num("ECCENTRICITY")
    if not 0 < mm < 20:
        raise OrbitError(f"{where}: MEAN_MOTION {mm:g} rev/day is out of range (0, 20)")
    if not 0 <= ecc < 1:
        raise OrbitError(f"{where}: ECCENTRICITY {ecc:g} is out of range [0, 1)")
    deg = math.pi / 180
    sat = Satrec()
    try:
        sat.sgp4init(WGS72, "i", int(norad),
                     (epoch - _EPOCH_1949).total_seconds() / 86400.0,
                     num("BSTAR"),
                     num("MEAN_MOTION_DOT", 0.0) / (1036800.0 / math.pi),
                     num("MEAN_MOTION_DDOT", 0.0) / (2985984000.0 / 2.0 / math.pi),
                     ecc, num("ARG_OF_PERICENTER") * deg, num("INCLINATION") * deg,
                     num("MEAN_ANOMALY") * deg, mm / 720.0 * math.pi,
                     num("RA_OF_ASC_NODE") * deg)
    except (ValueError, TypeError) as e:
        raise OrbitError(f"{where}: invalid OMM elements ({e})") from None
    if sat.error:
        raise OrbitError(f"{where}: the OMM elements are invalid "
                         f"({SGP4_ERRORS.get(sat.error, sat.error)})")
    name = str(fields.get("OBJECT_NAME") or "").strip() or f"NORAD {int(norad)}"
    return Satellite(sat, name, where, ("omm", dict(fields)))


def _parse_tle_text(text: str, path: str) -> list[Satellite]:
    lines = [(i + 1, ln.rstrip()) for i, ln in enumerate(text.splitlines())]
    lines = [(n, ln) for n, ln in lines if ln.strip()]
    sats = []
    i = 0
    while i < len(lines):
        n, ln = lines[i]
        if ln.startswith("1 ") and len(ln) > 60:
            name, n1 = None, n
        else:
            if ln.startswith("2 ") and len(ln) > 60:
                raise OrbitError(f"{path} line {n}: TLE line 2 without its line 1")
            name = ln[2:] if ln.startswith("0 ") else ln
            if len(name.strip()) > 40 or not name.isprintable():
                raise OrbitError(f"{path} line {n}: {ln[:30]!r} is neither a satellite name "
                                 "nor a TLE line")
            i += 1
            if i >= len(lines):
                raise OrbitError(f"{path} line {n}: the name {name.strip()!r} is not followed "
                                 "by TLE lines")
            n1, ln = lines[i]
            if not ln.startswith("1 "):
                raise OrbitError(f"{path} line {n1}: expected TLE line 1 (starting '1 ') after "
                                 f"the name {name.strip()!r}, got {ln[:30]!r}")
        if i + 1 >= len(lines):
            raise OrbitError(f"{path} line {n1}: TLE line 1 is not followed by line 2")
        n2, l2 = lines[i + 1]
        sats.append(_tle_satellite(ln, l2, name, f"{path} line {n1}"))
        i += 2
    return sats


def _parse_omm_json(text: str, path: str) -> list[Satellite]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise OrbitError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except RecursionError:
        raise OrbitError(f"{path}: JSON nested too deeply to be an OMM file") from None
    recs = doc if isinstance(doc, list) else [doc]
    return [_omm_satellite(r, f"{path} record {k + 1}") for k, r in enumerate(recs)]


def _parse_omm_xml(text: str, path: str) -> list[Satellite]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text.encode())
    except ET.ParseError as e:
        raise OrbitError(f"{path}: not valid XML ({e})") from None
    sats = []
    for k, seg in enumerate(root.iter("segment")):
        fields = {}
        for part in ("metadata", "data/meanElements", "data/tleParameters"):
            el = seg.find(part)
            if el is not None:
                fields.update((f.tag, (f.text or "").strip()) for f in el)
        sats.append(_omm_satellite(fields, f"{path} segment {k + 1}"))
    return sats


def load_satellites(path) -> list[Satellite]:
    """Every satellite in a file: TLEs (2-line, 3-line with names, or both, ``0 NAME`` lines
    accepted), OMM JSON (one object or a list, CelesTrak or Space-Track layout) or OMM XML.

    Raises :class:`OrbitError` naming the file (and line or record) for anything malformed:
    bad checksum, wrong line length, mismatched catalog numbers, missing OMM fields...
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise OrbitError(f"{path}: cannot read the element file ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OrbitError(f"{path}: not a text file (TLE or OMM JSON/XML expected)") from None
    head = text.lstrip()[:1]
    if head in ("[", "{"):
        sats = _parse_omm_json(text, path)
    elif head == "<":
        sats = _parse_omm_xml(text, path)
    else:
        sats = _parse_tle_text(text, path)
    if not sats:
        raise OrbitError(f"{path}: no satellite elements in the file")
    return sats


def load_satellite(path, name: str | None = None) -> Satellite:
    """The satellite called ``name`` in the file (case-insensitive name, catalog number, or a
    unique part of a name), or the first one when ``name`` is None."""
    sats = load_satellites(path)
    if name is None:
        return sats[0]
    key = str(name).strip().lower()
    for test in (lambda s: s.name.lower() == key,
                 lambda s: key.isdecimal() and s.norad == int(key)):
        hit = [s for s in sats if test(s)]
        if hit:
            return hit[0]
    hit = [s for s in sats if key in s.name.lower()]
    if len(hit) == 1:
        return hit[0]
    names = ", ".join(s.name for s in sats[:10]) + (", ..." if len(sats) > 10 else "")
    what = "matches several satellites" if hit else "is not"
    raise OrbitError(f"{path}: satellite {name!r} {what} in the file (it has: {names})")


# ------------------------------------------------------------------------------------------------
# geometry


class Look(NamedTuple):
    """Topocentric geometry, float64 arrays shaped like the times."""

    range_m: np.ndarray
    range_rate_mps: np.ndarray  # positive = receding
    az_deg: np.ndarray  # from true north through east, [0, 360)
    el_deg: np.ndarray  # geometric, above the ellipsoid's tangent plane


def _gmst(t: np.ndarray):
    """GMST 1982 angle (rad) and rate (rad/s) at unix times t (UT1 = UTC)."""
    d = t - _J2000_UNIX
    T = d / (86400.0 * 36525.0)
    sec = (np.mod(d, 86400.0) + 67310.54841
           + (8640184.812866 + (0.093104 - 6.2e-6 * T) * T) * T)
    theta = np.mod(sec, 86400.0) * (2 * math.pi / 86400.0)
    dg = 8640184.812866 + (2 * 0.093104 - 3 * 6.2e-6 * T) * T
    rate = (1.0 + dg / (86400.0 * 36525.0)) * (2 * math.pi / 86400.0)
    return theta, rate


def _teme(sat: Satellite, t: np.ndarray):
    """TEME position and velocity (metres, m/s), shape (n, 3)."""
    day = np.floor(t / 86400.0)
    jd = _UNIX_JD + day
    fr = (t - day * 86400.0) / 86400.0
    err, r, v = sat.satrec.sgp4_array(jd, fr)
    if np.any(err):
        k = int(np.flatnonzero(err)[0])
        raise OrbitError(f"{sat.name}: SGP4 fails at {iso(t[k], 0)} "
                         f"({SGP4_ERRORS.get(int(err[k]), err[k])}); the elements of epoch "
                         f"{iso(sat.epoch_unix, 0)} do not hold that far")
    return r * 1e3, v * 1e3


def _ecef(sat: Satellite, t: np.ndarray, dut1_s: float = 0.0):
    r, v = _teme(sat, t)
    th, w = _gmst(t + dut1_s if dut1_s else t)
    c, s = np.cos(th), np.sin(th)
    x = c * r[:, 0] + s * r[:, 1]
    y = -s * r[:, 0] + c * r[:, 1]
    vx = c * v[:, 0] + s * v[:, 1] + w * y
    vy = -s * v[:, 0] + c * v[:, 1] - w * x
    return np.stack([x, y, r[:, 2]], 1), np.stack([vx, vy, v[:, 2]], 1)


def look(sat: Satellite, station: Station, t_unix, dut1_s: float = 0.0) -> Look:
    """Range (m), range rate (m/s, positive receding), azimuth and elevation (degrees) of the
    satellite from the station at each time (unix seconds UTC; array or scalar).

    ``dut1_s``: UT1 - UTC (IERS Bulletin A, |DUT1| < 0.9 s), for the Earth's rotation angle;
    0 by default. Each 0.1 s of DUT1 left out turns the Earth by 1.5" (~45 m east-west at
    the satellite): ~0.005 deg, ~30 m of range and up to ~0.7 m/s of range rate on a LEO pass.
    With it, the result matches skyfield's (IERS UT1) to mm and mm/s.
    """
    t = np.asarray(t_unix, dtype=np.float64)
    shape = t.shape
    t = t.reshape(-1)
    if t.size > _LOOK_BLOCK:  # in blocks: the temporaries stay small for long time arrays
        out = [np.empty(t.size) for _ in range(4)]
        for i in range(0, t.size, _LOOK_BLOCK):
            part = look(sat, station, t[i:i + _LOOK_BLOCK], dut1_s)
            for o, a in zip(out, part):
                o[i:i + _LOOK_BLOCK] = a
        return Look(*(a.reshape(shape) for a in out))
    p, v = _ecef(sat, t, float(dut1_s))
    rho = p - station.ecef_m
    rng = np.sqrt(np.einsum("ij,ij->i", rho, rho))
    rate = np.einsum("ij,ij->i", rho, v) / rng
    enu = rho @ station.enu.T
    az = np.mod(np.degrees(np.arctan2(enu[:, 0], enu[:, 1])), 360.0)
    el = np.degrees(np.arcsin(np.clip(enu[:, 2] / rng, -1.0, 1.0)))
    return Look(*(a.reshape(shape) for a in (rng, rate, az, el)))


def epoch_check(sat: Satellite, t_unix, max_days: float = EPOCH_WARN_DAYS) -> str | None:
    """A warning sentence when a time is more than ``max_days`` from the element epoch (SGP4
    errors grow by km per day), else None."""
    t = np.asarray(t_unix, dtype=np.float64).reshape(-1)
    if t.size == 0:
        return None
    dt = t - sat.epoch_unix
    worst = float(dt[np.argmax(np.abs(dt))])
    if abs(worst) <= max_days * 86400.0:
        return None
    when = "after" if worst > 0 else "before"
    return (f"the elements of {sat.name} (epoch {iso(sat.epoch_unix, 0)}) are used "
            f"{abs(worst) / 86400:.1f} days {when} their epoch (more than {max_days:g}); "
            "predictions may be off by many km: get fresh elements")


# ------------------------------------------------------------------------------------------------
# passes


@dataclass(frozen=True)
class Pass:
    """One pass above the elevation mask. Times are unix seconds UTC, refined to < 0.1 s.

    ``tca`` is the time of closest approach (range rate crosses zero: zero Doppler),
    ``t_max_el`` the time of maximum elevation (the two differ by at most seconds).
    ``aos``/``los`` clipped to the search window are flagged by ``clipped``.
    """

    aos: float
    tca: float
    los: float
    max_el_deg: float
    t_max_el: float
    aos_az_deg: float
    los_az_deg: float
    min_el_deg: float
    clipped: bool = False

    @property
    def duration_s(self) -> float:
        return self.los - self.aos

    def to_dict(self) -> dict:
        return {"aos": iso(self.aos), "tca": iso(self.tca), "los": iso(self.los),
                "max_el_deg": round(self.max_el_deg, 3), "t_max_el": iso(self.t_max_el),
                "duration_s": round(self.duration_s, 2), "aos_az_deg": round(self.aos_az_deg, 2),
                "los_az_deg": round(self.los_az_deg, 2), "min_el_deg": self.min_el_deg,
                "aos_unix": self.aos, "tca_unix": self.tca, "los_unix": self.los,
                "clipped": self.clipped}


def _bisect(f, a: np.ndarray, b: np.ndarray, tol: float = 0.01) -> np.ndarray:
    """Vectorised bisection for roots of f (sign change on each [a, b]), to ``tol`` s."""
    a = np.array(a, dtype=np.float64)
    b = np.array(b, dtype=np.float64)
    if a.size == 0:
        return a
    fa = f(a)
    while np.max(b - a) > tol:
        m = 0.5 * (a + b)
        fm = f(m)
        left = np.sign(fm) == np.sign(fa)
        a = np.where(left, m, a)
        fa = np.where(left, fm, fa)
        b = np.where(left, b, m)
    return 0.5 * (a + b)


def _golden_max(f, a: np.ndarray, b: np.ndarray, tol: float = 0.01) -> np.ndarray:
    """Vectorised golden-section search for the maximum of f on each [a, b]."""
    a = np.array(a, dtype=np.float64)
    b = np.array(b, dtype=np.float64)
    if a.size == 0:
        return a
    g = (math.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    while np.max(b - a) > tol:
        up = fc > fd  # the maximum is in [a, d]: d becomes the new b, c the new d
        a, b = np.where(up, a, c), np.where(up, d, b)
        c_new = np.where(up, b - g * (b - a), d)
        d_new = np.where(up, c, a + g * (b - a))
        fn = f(np.where(up, c_new, d_new))
        fc, fd = np.where(up, fn, fd), np.where(up, fc, fn)
        c, d = c_new, d_new
    return 0.5 * (a + b)


def passes(sat: Satellite, station: Station, start_unix: float, end_unix: float,
           min_el_deg: float = 0.0, step_s: float | None = None, *,
           dut1_s: float = 0.0) -> list[Pass]:
    """Passes with some time above ``min_el_deg`` between ``start_unix`` and ``end_unix``.

    A pass under way at ``start`` (or still up at ``end``) has its true AOS (LOS) when it lies
    within a few hours of the window; otherwise it is clipped to the window (``clipped``).
    Elevation is sampled every ``step_s`` (default: period / 500, at most 10 s) and AOS, LOS,
    TCA and maximum elevation are refined to 0.01 s, so passes shorter than a step are found too
    (from a refined elevation peak just under the mask).

    The window is at most :data:`MAX_WINDOW_DAYS` long (SGP4 elements do not hold longer) and
    takes at most :data:`MAX_SEARCH_SAMPLES` elevation samples; the memory used is bounded.
    """
    start, end = float(start_unix), float(end_unix)
    if not (math.isfinite(start) and math.isfinite(end)):
        raise OrbitError("the pass search window must start and end at finite times")
    if not end > start:
        raise OrbitError("the pass search window must end after it starts")
    if end - start > MAX_WINDOW_DAYS * 86400.0:
        raise OrbitError(f"the pass search window of {(end - start) / 3600:.6g} h is longer "
                         f"than {MAX_WINDOW_DAYS * 24:g} h ({MAX_WINDOW_DAYS:g} days): SGP4 "
                         "elements are meaningless that far from their epoch")
    if not -90.0 <= min_el_deg < 90.0:
        raise OrbitError(f"elevation mask {min_el_deg} deg is outside [-90, 90)")
    dut1_s = _check_dut1(dut1_s)
    if step_s is not None and not (math.isfinite(step_s) and step_s > 0):
        raise OrbitError(f"pass search step {step_s!r} s must be a positive number of seconds")
    h = float(step_s) if step_s else min(10.0, sat.period_s / 500.0)
    pad = min(3 * 3600.0, sat.period_s)
    if (end - start + 2 * pad) / h > MAX_SEARCH_SAMPLES:
        raise OrbitError(f"a pass search step of {h:g} s over {(end - start) / 3600:g} h takes "
                         f"more than {MAX_SEARCH_SAMPLES} samples; use a larger step")
    msg = epoch_check(sat, np.array([start, end]))
    if msg:
        warnings.warn(msg, OrbitWarning, stacklevel=2)

    def lk(t):
        return look(sat, station, t, dut1_s)

    def el(t):
        return lk(t).el_deg - min_el_deg

    lo, hi = start - pad, end + pad
    t = np.arange(lo, hi + h, h)
    g = el(t)
    # refine sampled local maxima just under the mask: short passes between two samples
    k = np.flatnonzero((g[1:-1] <= 0) & (g[1:-1] > -5) & (g[1:-1] >= g[:-2]) & (g[1:-1] >= g[2:])) + 1
    if k.size:
        tm = _golden_max(el, t[k - 1], t[k + 1])
        gm = el(tm)
        keep = gm > 0
        if np.any(keep):
            t = np.concatenate([t, tm[keep]])
            g = np.concatenate([g, gm[keep]])
            order = np.argsort(t, kind="stable")
            t, g = t[order], g[order]
    up = g > 0
    rise = np.flatnonzero(~up[:-1] & up[1:])
    fall = np.flatnonzero(up[:-1] & ~up[1:])
    t_rise = _bisect(el, t[rise], t[rise + 1])
    t_fall = _bisect(el, t[fall], t[fall + 1])
    # pair each rise with the next fall; up at the first (last) sample: clipped
    rises, falls = list(t_rise), list(t_fall)
    if up[0]:
        rises.insert(0, lo)
    intervals = []
    for a in rises:
        while falls and falls[0] <= a:
            falls.pop(0)
        if falls:
            intervals.append((a, falls.pop(0), a == lo))
        else:
            intervals.append((a, hi, True))
    result = []
    for a, b, clipped in intervals:
        if b <= start or a >= end:
            continue
        if clipped:
            a, b = max(a, start), min(b, end)
        # maximum elevation: golden section around the best sample
        tt = np.linspace(a, b, max(3, int((b - a) / h) + 2))
        j = int(np.argmax(el(tt)))
        tmax = float(_golden_max(el, np.array([tt[max(j - 1, 0)]]),
                                 np.array([tt[min(j + 1, len(tt) - 1)]]))[0])
        ends = lk(np.array([a, tmax, b]))
        # closest approach: range rate from negative to positive
        rr = lk(tt).range_rate_mps
        s = np.flatnonzero((rr[:-1] < 0) & (rr[1:] >= 0))
        if s.size:
            tca = float(_bisect(lambda x: lk(x).range_rate_mps,
                                tt[s[:1]], tt[s[:1] + 1])[0])
        else:
            tca = tmax
        result.append(Pass(aos=float(a), tca=tca, los=float(b),
                           max_el_deg=float(ends.el_deg[1]), t_max_el=tmax,
                           aos_az_deg=float(ends.az_deg[0]), los_az_deg=float(ends.az_deg[2]),
                           min_el_deg=float(min_el_deg), clipped=bool(clipped)))
    return result


def next_pass(sat: Satellite, station: Station, start_unix: float, min_el_deg: float = 0.0,
              index: int = 1, max_days: float = 7.0, *, dut1_s: float = 0.0) -> Pass:
    """The ``index``-th pass (1 = the next one, or the one under way) after ``start_unix``,
    searched for ``max_days`` (at most :data:`MAX_WINDOW_DAYS`)."""
    if index < 1:
        raise OrbitError(f"pass number {index} must be at least 1")
    if not 0 < max_days <= MAX_WINDOW_DAYS:
        raise OrbitError(f"the pass search of {max_days!r} days must be longer than 0 and at "
                         f"most {MAX_WINDOW_DAYS:g} days (SGP4 elements do not hold longer)")
    if not math.isfinite(float(start_unix)):
        raise OrbitError(f"the pass search start {start_unix!r} is not a finite time")
    dut1_s = _check_dut1(dut1_s)
    found: list[Pass] = []
    t0 = float(start_unix)
    span = 86400.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OrbitWarning)
        while t0 < start_unix + max_days * 86400.0:
            t1 = min(t0 + span, start_unix + max_days * 86400.0)
            for p in passes(sat, station, t0, t1, min_el_deg, dut1_s=dut1_s):
                if p.los > start_unix and not any(abs(p.aos - q.aos) < 1 for q in found):
                    if p.clipped and p.los >= t1 - 1:
                        continue  # cut at the window's end: found whole in the next window
                    found.append(p)
            if len(found) >= index:
                return found[index - 1]
            t0 = t1 - 3600.0 if t1 < start_unix + max_days * 86400.0 else t1
    raise OrbitError(f"{sat.name}: fewer than {index} pass(es) above {min_el_deg:g} deg from "
                     f"{station} within {max_days:g} days of {iso(start_unix, 0)}")


# ------------------------------------------------------------------------------------------------
# Doppler


def doppler_hz(range_rate_mps, freq_hz):
    """Downlink Doppler shift (Hz): received minus transmitted frequency for a carrier
    ``freq_hz`` sent by the satellite, ``f / (1 + v/c) - f`` with ``v`` the range rate
    (positive receding, so the shift is negative when the satellite recedes). Classical
    formula in the Earth-fixed frame; the neglected (v/c)^2 terms are < 1.5 Hz at 2.2 GHz."""
    beta = np.asarray(range_rate_mps, dtype=np.float64) / C
    return -np.asarray(freq_hz, dtype=np.float64) * beta / (1.0 + beta)


def uplink_frequency_hz(range_rate_mps, freq_hz):
    """The frequency to transmit from the ground so that the satellite receives ``freq_hz``:
    it receives ``f_tx (1 - v/c)``, so ``f_tx = f / (1 - v/c)`` (higher than ``f`` when the
    satellite recedes, v > 0). Same approximations as :func:`doppler_hz`."""
    beta = np.asarray(range_rate_mps, dtype=np.float64) / C
    return np.asarray(freq_hz, dtype=np.float64) / (1.0 - beta)


class DopplerPredictor:
    """Predicted Doppler of one satellite seen from one station at a carrier frequency.

    ``pred(t_unix)`` -> float64 array (Hz), shaped like ``t_unix``:

    - ``uplink=False``: the downlink shift, received minus transmitted (negative when the
      satellite recedes): a receiver at ``f + pred(t)`` hears the carrier ``f``; correct by
      multiplying the IQ by ``exp(-j 2 pi integral pred dt)``.
    - ``uplink=True``: the pre-compensation offset, what to add to the nominal ``f`` when
      transmitting at ``t`` so that the satellite receives ``f`` (positive when it recedes).

    ``dut1_s``: UT1 - UTC, see :func:`look`. ``light_time`` (default True): the downlink received at t left the satellite at
    t - range/c (the uplink sent at t arrives at t + range/c); the range rate is taken there.
    ``rate(t)`` is the derivative in Hz/s (central difference over +-0.5 s; its error is
    < 0.05 Hz/s). The value at a time does not depend on the other times in the array.
    Warns (:class:`OrbitWarning`, once) when used more than 14 days from the element epoch.
    """

    def __init__(self, sat: Satellite, station: Station, freq_hz: float, *, uplink: bool = False,
                 light_time: bool = True, dut1_s: float = 0.0):
        f = float(freq_hz)
        if not (math.isfinite(f) and f > 0):
            raise OrbitError(f"carrier frequency {freq_hz!r} Hz must be positive")
        self.sat = sat
        self.station = station
        self.freq_hz = f
        self.uplink = bool(uplink)
        self.light_time = bool(light_time)
        self.dut1_s = _check_dut1(dut1_s)
        self._warned = False

    def __repr__(self) -> str:
        return (f"DopplerPredictor({self.sat.name!r}, station {self.station}, "
                f"{self.freq_hz:g} Hz, {'uplink' if self.uplink else 'downlink'})")

    def __deepcopy__(self, memo):
        return self  # stateless apart from the one-time warning

    def range_rate(self, t_unix) -> np.ndarray:
        """Range rate (m/s) used for the Doppler at t (light time included if enabled)."""
        t = np.asarray(t_unix, dtype=np.float64)
        if not self._warned:
            msg = epoch_check(self.sat, t)
            if msg:
                self._warned = True
                warnings.warn(msg, OrbitWarning, stacklevel=3)
        if self.light_time:
            tau = look(self.sat, self.station, t, self.dut1_s).range_m / C
            t = t + tau if self.uplink else t - tau
        return look(self.sat, self.station, t, self.dut1_s).range_rate_mps

    def __call__(self, t_unix) -> np.ndarray:
        v = self.range_rate(t_unix)
        if self.uplink:
            return uplink_frequency_hz(v, self.freq_hz) - self.freq_hz
        return doppler_hz(v, self.freq_hz)

    def rate(self, t_unix) -> np.ndarray:
        """Doppler rate (Hz/s)."""
        t = np.asarray(t_unix, dtype=np.float64)
        h = 0.5
        return (self(t + h) - self(t - h)) / (2 * h)
