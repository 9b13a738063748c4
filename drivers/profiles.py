"""Hardware profiles: what a radio can do and what the station allows it to do.

A profile is a YAML file (``hw-profiles/*.yaml``, installed as ``orbitlink.hw_profiles``, or
any file a station writes). :func:`load_profile` reads and validates one into a frozen
:class:`Profile`; :func:`profile_names` lists the packaged ones. The checks
(:meth:`Profile.check_rx`, :meth:`Profile.check_tx`, :meth:`Profile.check_tx_freq`) are pure
functions of the profile and a :class:`~orbitlink.drivers.radio.RadioConfig`: they open
nothing, import no driver, and a driver calls them *before* it opens a device.
:meth:`Profile.check_device` then compares the profile with what the opened device reports.

Format 1
--------
::

    format: 1                       # required, this format
    name: hackrf                    # [a-z0-9][a-z0-9_-]*; a packaged profile's file stem
    description: HackRF One ...     # one line
    driver: hackrf                  # SoapySDR driver key ('file': a recording, no SoapySDR)
    device_args: {}                 # default device args (strings), e.g. {type: b200}
    transmit: half_duplex           # none | half_duplex | full_duplex
    timestamps: none                # hardware | sample_counter | none  (SOAPY_SDR_HAS_TIME)
    overflow_reporting: readStream  # readStream | readStreamStatus | never
    sample_rates:                   # S/s; 'ranges' and/or 'list', at least one
      ranges: [[1e6, 20e6]]         #   [lo, hi] or [lo, hi, step] (step: only lo + k*step)
      list: [2.5e6, 10e6]           #   discrete rates (a device list)
      reliable_max: 4e6             #   optional: above it the radio is known to lose samples
    rx:                             # required (every radio receives)
      channels: 1
      freq_ranges: [[1e6, 6e9]]     # Hz, the tuning range(s), increasing, not overlapping
      gain_range: [0, 116]          # dB, the overall gain (SoapySDR setGain without a name)
      gains:                        # gain elements: [lo, hi] or [lo, hi, step], dB
        LNA: [0, 40, 8]
      antennas: [TX/RX]             # [] = not known offline (the device's list is used)
      agc: false                    # automatic gain available (hasGainMode)
      defaults: {samp_rate: 2e6}    # optional: RadioConfig fields (not center_freq)
    tx:                             # required unless transmit is none, refused then
      channels: 1
      freq_ranges: [[1e6, 6e9]]
      gain_range: [0, 61]
      gains: {VGA: [0, 47, 1], AMP: [0, 14, 14]}
      antennas: [TX/RX]
      agc: false
      allowed_freq_ranges:          # where the station may transmit (its licence), Hz
        - [144.0e6, 146.0e6]
      max_gain: 40                  # dB, overall; a profile limit within gain_range
    buffers: {count: 15, samples: 131072}   # optional: the driver's default stream buffers

Numbers may be written ``61.44e6`` (YAML 1.2 floats). Unknown keys, duplicate keys, missing
keys, wrong types, ranges out of order or overlapping, values outside sanity bounds
(frequencies up to :data:`MAX_FREQ_HZ`, rates up to :data:`MAX_RATE_HZ`, gains within
+-:data:`MAX_ABS_GAIN_DB`), a ``max_gain`` outside the tx gain range, an allowed transmit range
outside the tx tuning range and defaults the profile itself refuses are errors
(:class:`ProfileError`) naming the file, the key and the reason::

    b210.yaml: tx.max_gain: 95 dB is above the tx gain range 0..89.75 dB

Safety rules (:meth:`Profile.check_tx`, raising :class:`TransmitRefused`)
-------------------------------------------------------------------------
Nothing transmits without the explicit transmit flag (``--transmit``); a receive-only radio
(``transmit: none``) never transmits; the nominal frequency (and, given ``occupied_bw``, the
whole occupied band) must lie inside one of ``tx.allowed_freq_ranges``; the transmit gain is
the overall gain, given explicitly, at most ``tx.max_gain`` (element gains are refused for
transmit: the limit is on the overall gain, and on some radios an element is an attenuator
whose maximum is full power). Then the checks every direction gets (:class:`ConfigRefused`):
sample rate among the radio's rates, tuned frequency (``RadioConfig.tuned_freq``, ppm applied)
inside the tuning range, overall and element gains inside their ranges, a known gain element,
antenna and channel, AGC only where the radio has it, ``|ppm| <= 1000``.

What a device reports (:meth:`Profile.check_device`)
----------------------------------------------------
A dict; every key optional (what is not reported is not compared), an unknown key is a
``ValueError`` (a bug in the caller). Ranges are ``(lo, hi)`` or ``(lo, hi, step)`` tuples;
"rx"/"tx" are the directions::

    {
        "channels": {"rx": 1, "tx": 1},                      # getNumChannels
        "samp_rate_ranges": [(lo, hi), ...],                 # getSampleRateRange(RX, ch); or
                                                             #   {"rx": [...], "tx": [...]}
        "samp_rates": [r, ...],                              # listSampleRates (optional)
        "freq_ranges": {"rx": [(lo, hi), ...], "tx": [...]}, # getFrequencyRange (RF)
        "gain_ranges": {"rx": (lo, hi), "tx": (lo, hi)},     # getGainRange, overall
        "gain_elements": {"rx": {"LNA": (lo, hi, step)}, "tx": {...}},  # listGains + ranges
        "antennas": {"rx": [...], "tx": [...]},              # listAntennas
        "agc": {"rx": bool, "tx": bool},                     # hasGainMode
        "full_duplex": bool,                                 # getFullDuplex
        "has_hardware_time": bool,                           # hasHardwareTime()
    }

The profile contradicts the device (:class:`ProfileError`, file, key, reason) when it claims
more than the device reports: a rate or frequency beyond the extremes the device reports, a
channel, gain element or antenna the device does not have, a gain range wider than the
device's, AGC, full duplex, hardware time or transmit where the device has none. A profile may
claim less (it is a limit).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from orbitlink.drivers.radio import RadioConfig, RadioError

__all__ = ["Profile", "Direction", "Range", "SampleRates", "Buffers", "ProfileError",
           "ConfigRefused", "TransmitRefused", "load_profile", "profile_names", "FORMAT",
           "DEFAULT_ALLOWED_TX", "fmt_hz", "fmt_span", "fmt_spans"]

#: the profile format this module reads
FORMAT = 1
#: the package holding the profiles
PACKAGE = "orbitlink.hw_profiles"
#: a profile file larger than this is refused before it is parsed
MAX_FILE_BYTES = 1 << 20
MAX_FREQ_HZ = 100e9
MAX_RATE_HZ = 1e9
MAX_ABS_GAIN_DB = 200.0
MAX_PPM = 1000.0
TRANSMIT = ("none", "half_duplex", "full_duplex")
TIMESTAMPS = ("hardware", "sample_counter", "none")
OVERFLOW_REPORTING = ("readStream", "readStreamStatus", "never")
#: the amateur-satellite sub-bands the packaged profiles allow (Hz); a station sets its own
DEFAULT_ALLOWED_TX = ((144.0e6, 146.0e6), (435.0e6, 438.0e6), (2400.0e6, 2450.0e6))

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
_TOP_KEYS = ("format", "name", "description", "driver", "device_args", "transmit", "timestamps",
             "overflow_reporting", "sample_rates", "rx", "tx", "buffers")
_TOP_REQUIRED = ("format", "name", "description", "driver", "transmit", "timestamps",
                 "overflow_reporting", "sample_rates", "rx")
_DIR_KEYS = ("channels", "freq_ranges", "gain_range", "gains", "antennas", "agc", "defaults")
_TX_KEYS = ("allowed_freq_ranges", "max_gain")
_DIR_REQUIRED = ("channels", "freq_ranges", "gain_range", "gains", "antennas", "agc")
#: RadioConfig fields a profile's defaults may set (the frequency belongs to a pass)
DEFAULT_KEYS = ("samp_rate", "bandwidth", "gain", "gains", "agc", "antenna", "channel", "ppm",
                "clock_source", "time_source")
_REPORT_KEYS = ("channels", "samp_rate_ranges", "samp_rates", "freq_ranges", "gain_ranges",
                "gain_elements", "antennas", "agc", "full_duplex", "has_hardware_time")


class ProfileError(RadioError):
    """A profile file is malformed, or contradicts the device it describes (one sentence
    naming the file, the key and the reason)."""


class ConfigRefused(RadioError):
    """A radio configuration the profile does not allow (refused before any device is
    opened)."""


class TransmitRefused(ConfigRefused):
    """A transmission the profile or the station's rules do not allow."""


# ------------------------------------------------------------------------------------------------
# formatting


def fmt_hz(f: float, unit: str = "Hz") -> str:
    """``437.5 MHz``, ``2.4 GHz``, ``250 kHz``; with ``unit="S/s"``: ``2.4 MS/s``."""
    a = abs(f)
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= scale:
            return f"{f / scale:.10g} {prefix}{unit}"
    return f"{f:.10g} {unit}"


def fmt_span(lo: float, hi: float, unit: str = "Hz") -> str:
    """``144-146 MHz`` (one prefix when both ends share it), else ``24 MHz-1.764 GHz``."""
    a, b = fmt_hz(lo, unit), fmt_hz(hi, unit)
    ua, ub = a.split(" ", 1)[1], b.split(" ", 1)[1]
    if ua == ub and lo != 0:
        return f"{a.split(' ')[0]}-{b}"
    return f"{a}-{b}"


def _db(x: float) -> str:
    return f"{x:.10g}"


# ------------------------------------------------------------------------------------------------
# the profile


@dataclass(frozen=True)
class Range:
    """``lo..hi`` inclusive; with ``step > 0`` only ``lo + k * step``."""

    lo: float
    hi: float
    step: float = 0.0

    def contains(self, x: float, tol: float = 0.0) -> bool:
        if not (self.lo - tol <= x <= self.hi + tol):
            return False
        if self.step > 0:
            k = (x - self.lo) / self.step
            return abs(k - round(k)) * self.step <= max(tol, 1e-9 * max(abs(x), 1.0))
        return True

    def within(self, other: "Range", tol: float = 0.0) -> bool:
        return other.lo - tol <= self.lo and self.hi <= other.hi + tol

    def to_list(self) -> list:
        return [self.lo, self.hi] + ([self.step] if self.step else [])

    def text(self, unit: str = "Hz") -> str:
        if unit == "dB":
            s = f"{_db(self.lo)}..{_db(self.hi)} dB"
            return s + (f" step {_db(self.step)}" if self.step else "")
        s = fmt_span(self.lo, self.hi, unit)
        return s + (f" step {fmt_hz(self.step, unit)}" if self.step else "")


def fmt_spans(ranges, unit="Hz") -> str:
    """``144-146 MHz, 435-438 MHz``: a list of :class:`Range` as text."""
    return ", ".join(r.text(unit) for r in ranges)


@dataclass(frozen=True)
class SampleRates:
    """The rates a radio takes: any in ``ranges`` (on their step grid) or in ``list``."""

    ranges: tuple[Range, ...] = ()
    list: tuple[float, ...] = ()
    reliable_max: float | None = None

    def allows(self, rate: float) -> bool:
        tol = 1e-9 * rate + 1e-6
        return (any(r.contains(rate, tol) for r in self.ranges)
                or any(abs(rate - x) <= tol for x in self.list))

    @property
    def lowest(self) -> float:
        return min([r.lo for r in self.ranges] + list(self.list))

    @property
    def highest(self) -> float:
        return max([r.hi for r in self.ranges] + list(self.list))

    def text(self) -> str:
        parts = [r.text("S/s") for r in self.ranges]
        if self.list:
            parts.append(", ".join(fmt_hz(x, "S/s") for x in self.list))
        return ", ".join(parts)

    def to_dict(self) -> dict:
        d = {}
        if self.ranges:
            d["ranges"] = [r.to_list() for r in self.ranges]
        if self.list:
            d["list"] = list(self.list)
        if self.reliable_max is not None:
            d["reliable_max"] = self.reliable_max
        return d


@dataclass(frozen=True)
class Direction:
    """One direction (``rx`` or ``tx``) of a radio. ``max_gain`` and
    ``allowed_freq_ranges`` belong to ``tx`` only."""

    name: str
    channels: int
    freq_ranges: tuple[Range, ...]
    gain_range: Range
    gains: Mapping[str, Range]
    antennas: tuple[str, ...]
    agc: bool
    defaults: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    max_gain: float | None = None
    allowed_freq_ranges: tuple[Range, ...] = ()

    def tunes(self, f: float) -> bool:
        return any(r.contains(f, 1e-6) for r in self.freq_ranges)

    def to_dict(self) -> dict:
        d = {"channels": self.channels,
             "freq_ranges": [r.to_list() for r in self.freq_ranges],
             "gain_range": self.gain_range.to_list(),
             "gains": {k: r.to_list() for k, r in self.gains.items()},
             "antennas": list(self.antennas),
             "agc": self.agc}
        if self.defaults:
            d["defaults"] = {k: (dict(v) if isinstance(v, Mapping) else v)
                             for k, v in self.defaults.items()}
        if self.name == "tx":
            d["allowed_freq_ranges"] = [r.to_list() for r in self.allowed_freq_ranges]
            d["max_gain"] = self.max_gain
        return d


@dataclass(frozen=True)
class Buffers:
    count: int
    samples: int  # per buffer


@dataclass(frozen=True)
class Profile:
    """A validated hardware profile (see the module docstring for the format and the
    rules). ``source`` is the file it came from, as errors name it."""

    name: str
    description: str
    driver: str
    device_args: Mapping[str, str]
    transmit: str
    timestamps: str
    overflow_reporting: str
    sample_rates: SampleRates
    rx: Direction
    tx: Direction | None
    buffers: Buffers | None
    source: str

    # facts ------------------------------------------------------------------------------------
    @property
    def can_transmit(self) -> bool:
        return self.transmit != "none"

    @property
    def full_duplex(self) -> bool:
        return self.transmit == "full_duplex"

    @property
    def has_hardware_time(self) -> bool:
        return self.timestamps == "hardware"

    @property
    def reports_overflow(self) -> bool:
        return self.overflow_reporting != "never"

    @property
    def drop_detection(self) -> str:
        """How a driver of this radio learns of lost samples (one of
        :data:`orbitlink.drivers.radio.DROP_DETECTION`)."""
        if self.timestamps == "hardware":
            return "hardware_time"
        if self.timestamps == "sample_counter":
            return "sample_counter"
        return "overflow_reports" if self.reports_overflow else "none"

    def direction(self, which: str) -> Direction:
        if which == "rx":
            return self.rx
        if which == "tx":
            if self.tx is None:
                raise TransmitRefused(f"{self.name} is a receive-only radio: it cannot transmit")
            return self.tx
        raise ValueError(f"direction must be 'rx' or 'tx', not {which!r}")

    def soapy_args(self, **extra) -> dict:
        """Device args for ``SoapySDR.Device``: the driver key, the profile's args, then
        ``extra`` (e.g. ``serial=...``), all strings."""
        args = {"driver": self.driver, **self.device_args}
        args.update({k: str(v) for k, v in extra.items()})
        return args

    def config(self, direction: str = "rx", **overrides) -> RadioConfig:
        """A :class:`RadioConfig` from the direction's defaults, then ``overrides`` (None
        values leave the default). Not checked: call :meth:`check_rx`/:meth:`check_tx`."""
        d = self.direction(direction)
        kw = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in d.defaults.items()}
        kw.update({k: v for k, v in overrides.items() if v is not None})
        return RadioConfig(**kw)

    def to_dict(self) -> dict:
        """Every field, JSON-ready (the shape of the YAML file, plus ``source`` and the
        derived ``drop_detection``)."""
        d = {"format": FORMAT, "name": self.name, "description": self.description,
             "driver": self.driver, "device_args": dict(self.device_args),
             "transmit": self.transmit, "timestamps": self.timestamps,
             "has_hardware_time": self.has_hardware_time,
             "overflow_reporting": self.overflow_reporting,
             "drop_detection": self.drop_detection,
             "sample_rates": self.sample_rates.to_dict(), "rx": self.rx.to_dict(),
             "tx": self.tx.to_dict() if self.tx else None}
        if self.buffers:
            d["buffers"] = {"count": self.buffers.count, "samples": self.buffers.samples}
        d["source"] = self.source
        return d

    # checks (pure: the profile and a RadioConfig, nothing opened) -----------------------------
    def check_rx(self, cfg: RadioConfig) -> list[str]:
        """Refuse (:class:`ConfigRefused`) a receive configuration the radio cannot take;
        return warnings (e.g. a rate above what the radio streams reliably)."""
        return _check_direction(self, self.rx, cfg)

    def check_tx(self, cfg: RadioConfig, transmit: bool, occupied_bw: float = 0.0) -> list[str]:
        """Refuse (:class:`TransmitRefused`, :class:`ConfigRefused`) a transmission: see
        the module docstring. ``transmit`` is the user's explicit flag (``--transmit``);
        ``occupied_bw`` (Hz) the signal's width around the frequency, all of which must lie
        in an allowed range. Returns warnings."""
        if self.tx is None:
            raise TransmitRefused(f"{self.name} is a receive-only radio: it cannot transmit "
                                  f"(profile {self.source})")
        if transmit is not True:
            raise TransmitRefused(f"nothing transmits without --transmit: the transmit flag "
                                  f"was not given for {self.name}")
        if cfg.center_freq is None:
            raise TransmitRefused(f"{self.name}: transmit needs a frequency (none was given)")
        self.check_tx_freq(cfg.center_freq, occupied_bw)
        _check_tx_gain(self, cfg)
        return _check_direction(self, self.tx, cfg)

    def check_tx_freq(self, freq: float, occupied_bw: float = 0.0) -> None:
        """Refuse (:class:`TransmitRefused`) a transmit frequency (Hz, nominal) whose band
        ``freq +- occupied_bw / 2`` is not inside one allowed range. Call it for every
        frequency a transmission will use (e.g. both ends of a Doppler pre-compensation)."""
        if self.tx is None:
            raise TransmitRefused(f"{self.name} is a receive-only radio: it cannot transmit "
                                  f"(profile {self.source})")
        f, bw = float(freq), float(occupied_bw)
        if not (math.isfinite(f) and math.isfinite(bw) and bw >= 0):
            raise TransmitRefused(f"{self.name}: transmit frequency {freq!r} with occupied "
                                  f"bandwidth {occupied_bw!r} is not a frequency")
        lo, hi = f - bw / 2, f + bw / 2
        if any(r.lo <= lo and hi <= r.hi for r in self.tx.allowed_freq_ranges):
            return
        band = f" (occupying {fmt_span(lo, hi)})" if bw > 0 else ""
        raise TransmitRefused(
            f"{fmt_hz(f)}{band} is outside the allowed transmit ranges of profile {self.name} "
            f"({fmt_spans(self.tx.allowed_freq_ranges)}); the station sets its own in "
            f"tx.allowed_freq_ranges of {self.source}")

    def check_device(self, reported: dict) -> None:
        """Refuse (:class:`ProfileError`) this profile when it claims more than the opened
        device reports (see the module docstring for the shape of ``reported``)."""
        _check_device(self, reported)


# ------------------------------------------------------------------------------------------------
# the checks


def _check_direction(p: Profile, d: Direction, cfg: RadioConfig) -> list[str]:
    warnings = []
    dn = d.name
    if not isinstance(cfg.channel, int) or isinstance(cfg.channel, bool) \
            or not 0 <= cfg.channel < d.channels:
        raise ConfigRefused(f"{p.name}: {dn} channel {cfg.channel!r} does not exist (the radio "
                            f"has {d.channels} {dn} channel{'s' if d.channels > 1 else ''})")
    if cfg.samp_rate is not None:
        r = _finite(p, cfg.samp_rate, "sample rate")
        if not p.sample_rates.allows(r):
            raise ConfigRefused(f"{p.name}: sample rate {fmt_hz(r, 'S/s')} is not one of the "
                                f"radio's rates ({p.sample_rates.text()})")
        rel = p.sample_rates.reliable_max
        if rel is not None and r > rel:
            warnings.append(f"{p.name}: {fmt_hz(r, 'S/s')} is above the "
                            f"{fmt_hz(rel, 'S/s')} this radio streams reliably (profile "
                            f"sample_rates.reliable_max); samples may be lost")
    ppm = _finite(p, cfg.ppm, "ppm correction")
    if abs(ppm) > MAX_PPM:
        raise ConfigRefused(f"{p.name}: a ppm correction of {ppm:g} is outside "
                            f"+-{MAX_PPM:g} ppm")
    if cfg.center_freq is not None:
        _finite(p, cfg.center_freq, "frequency")
        f = cfg.tuned_freq()
        if not d.tunes(f):
            ppm_note = f" ({fmt_hz(cfg.center_freq)} with {ppm:g} ppm)" if ppm else ""
            raise ConfigRefused(f"{p.name}: {fmt_hz(f)}{ppm_note} is outside the {dn} tuning "
                                f"range of the radio ({fmt_spans(d.freq_ranges)})")
    if cfg.bandwidth is not None:
        bw = _finite(p, cfg.bandwidth, "bandwidth")
        if bw <= 0:
            raise ConfigRefused(f"{p.name}: bandwidth {bw:g} Hz is not positive")
    if cfg.gain is not None:
        g = _finite(p, cfg.gain, "gain")
        if not d.gain_range.lo <= g <= d.gain_range.hi:
            raise ConfigRefused(f"{p.name}: {dn} gain {_db(g)} dB is outside the radio's "
                                f"{dn} gain range {d.gain_range.text('dB')}")
    gains = cfg.gains or {}
    if not isinstance(gains, Mapping):
        raise ConfigRefused(f"{p.name}: {dn} gains must map element names to dB")
    for name, value in gains.items():
        if name not in d.gains:
            known = ", ".join(d.gains) or "none"
            raise ConfigRefused(f"{p.name}: the radio has no {dn} gain element {name!r} "
                                f"(its {dn} elements: {known})")
        g = _finite(p, value, f"{name} gain")
        r = d.gains[name]
        if not r.lo <= g <= r.hi:
            raise ConfigRefused(f"{p.name}: {dn} gain element {name} at {_db(g)} dB is outside "
                                f"its range {r.text('dB')}")
    if cfg.agc and not d.agc:
        raise ConfigRefused(f"{p.name}: the radio has no {dn} automatic gain control")
    if cfg.antenna is not None and d.antennas and cfg.antenna not in d.antennas:
        raise ConfigRefused(f"{p.name}: the radio has no {dn} antenna {cfg.antenna!r} (its {dn} "
                            f"antennas: {', '.join(d.antennas)})")
    return warnings


def _check_tx_gain(p: Profile, cfg: RadioConfig) -> None:
    tx = p.tx
    if cfg.gains:
        raise TransmitRefused(f"{p.name}: transmit takes an overall gain (at most "
                              f"{_db(tx.max_gain)} dB), not element gains "
                              f"({', '.join(cfg.gains)}): the limit is on the overall gain")
    if cfg.gain is None:
        raise TransmitRefused(f"{p.name}: transmit needs an explicit gain (at most "
                              f"{_db(tx.max_gain)} dB for profile {p.name})")
    g = _finite(p, cfg.gain, "gain")
    if g > tx.max_gain:
        raise TransmitRefused(f"a transmit gain of {_db(g)} dB is above the maximum of profile "
                              f"{p.name}, {_db(tx.max_gain)} dB (tx.max_gain in {p.source})")
    if cfg.agc:
        raise TransmitRefused(f"{p.name}: transmit has no automatic gain")


def _finite(p: Profile, x, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ConfigRefused(f"{p.name}: {what} {x!r} is not a finite number")
    return float(x)


def _as_range(v, what: str) -> Range:
    try:
        t = tuple(float(x) for x in v)
    except (TypeError, ValueError):
        raise ValueError(f"device report: {what}: {v!r} is not a (lo, hi[, step]) range") from None
    if len(t) not in (2, 3):
        raise ValueError(f"device report: {what}: {v!r} is not a (lo, hi[, step]) range")
    return Range(*t)


def _check_device(p: Profile, rep: dict) -> None:
    if not isinstance(rep, Mapping):
        raise ValueError("device report must be a dict")
    unknown = sorted(set(rep) - set(_REPORT_KEYS))
    if unknown:
        raise ValueError(f"device report: unknown keys {unknown} (known: {list(_REPORT_KEYS)})")
    where = p.source
    dirs = [d for d in (p.rx, p.tx) if d is not None]

    def bad(key, reason):
        raise ProfileError(f"{where}: {key}: {reason}")

    def per_dir(key):
        v = rep.get(key)
        if v is None:
            return {}
        if not isinstance(v, Mapping) or set(v) - {"rx", "tx"}:
            raise ValueError(f"device report: {key} must map 'rx'/'tx' to values")
        return v

    # channels and transmit
    ch = per_dir("channels")
    for d in dirs:
        if d.name in ch and int(ch[d.name]) < d.channels:
            n = int(ch[d.name])
            if d.name == "tx" and n == 0:
                bad("transmit", f"the profile says {p.transmit} but the device reports no "
                                "tx channels")
            bad(f"{d.name}.channels", f"the profile has {d.channels} {d.name} channels, the "
                                      f"device reports {n}")
    if rep.get("full_duplex") is False and p.full_duplex:
        bad("transmit", "the profile says full_duplex, the device reports half duplex")
    if rep.get("has_hardware_time") is False and p.has_hardware_time:
        bad("timestamps", "the profile says hardware, the device reports no hardware time")

    # sample rates: compared with the extremes the device reports, per direction
    sr = rep.get("samp_rate_ranges")
    if sr is not None or rep.get("samp_rates") is not None:
        if isinstance(sr, Mapping):
            by_dir = {k: v for k, v in per_dir("samp_rate_ranges").items()}
        else:
            by_dir = {"rx": sr or [], "tx": sr or []}
        extra = [float(x) for x in rep.get("samp_rates") or []]
        for d in dirs:
            rs = [_as_range(r, "samp_rate_ranges") for r in by_dir.get(d.name) or []]
            pts = [x for r in rs for x in (r.lo, r.hi)] + extra
            if not pts:
                continue
            dev_lo, dev_hi = min(pts), max(pts)
            tol = 1e-6 * dev_hi + 1e-3
            if p.sample_rates.highest > dev_hi + tol:
                bad("sample_rates", f"the profile's highest rate "
                    f"{fmt_hz(p.sample_rates.highest, 'S/s')} is above the device's highest "
                    f"{d.name} rate, {fmt_hz(dev_hi, 'S/s')}")
            if p.sample_rates.lowest < dev_lo - tol:
                bad("sample_rates", f"the profile's lowest rate "
                    f"{fmt_hz(p.sample_rates.lowest, 'S/s')} is below the device's lowest "
                    f"{d.name} rate, {fmt_hz(dev_lo, 'S/s')}")

    # tuning
    fr = per_dir("freq_ranges")
    for d in dirs:
        if not fr.get(d.name):
            continue
        rs = [_as_range(r, f"freq_ranges.{d.name}") for r in fr[d.name]]
        dev_lo, dev_hi = min(r.lo for r in rs), max(r.hi for r in rs)
        lo, hi = d.freq_ranges[0].lo, d.freq_ranges[-1].hi
        if hi > dev_hi + 1.0:
            bad(f"{d.name}.freq_ranges", f"the profile tunes up to {fmt_hz(hi)}, the device's "
                                         f"{d.name} range ends at {fmt_hz(dev_hi)}")
        if lo < dev_lo - 1.0:
            bad(f"{d.name}.freq_ranges", f"the profile tunes down to {fmt_hz(lo)}, the device's "
                                         f"{d.name} range starts at {fmt_hz(dev_lo)}")

    # gains
    gr = per_dir("gain_ranges")
    for d in dirs:
        if gr.get(d.name) is not None:
            r = _as_range(gr[d.name], f"gain_ranges.{d.name}")
            if not d.gain_range.within(r, 0.01):
                bad(f"{d.name}.gain_range", f"the profile's {d.gain_range.text('dB')} is wider "
                                            f"than the device's {d.name} gain range "
                                            f"{Range(r.lo, r.hi).text('dB')}")
    ge = per_dir("gain_elements")
    for d in dirs:
        if ge.get(d.name) is None:
            continue
        dev = {str(k): _as_range(v, f"gain_elements.{d.name}.{k}")
               for k, v in ge[d.name].items()}
        for name, r in d.gains.items():
            if name not in dev:
                bad(f"{d.name}.gains.{name}", f"the device has no {d.name} gain element "
                                              f"{name!r} (it has: {', '.join(dev) or 'none'})")
            if not r.within(dev[name], 0.01):
                bad(f"{d.name}.gains.{name}", f"the profile's {Range(r.lo, r.hi).text('dB')} "
                                              f"is wider than the device's "
                                              f"{Range(dev[name].lo, dev[name].hi).text('dB')}")

    # antennas, AGC
    an = per_dir("antennas")
    for d in dirs:
        if an.get(d.name) is None:
            continue
        dev = [str(a) for a in an[d.name]]
        for a in d.antennas:
            if a not in dev:
                bad(f"{d.name}.antennas", f"the device has no {d.name} antenna {a!r} (it has: "
                                          f"{', '.join(dev) or 'none'})")
    agc = per_dir("agc")
    for d in dirs:
        if agc.get(d.name) is False and d.agc:
            bad(f"{d.name}.agc", f"the profile says true, the device has no {d.name} "
                                 "automatic gain control")


# ------------------------------------------------------------------------------------------------
# loading


def _parse_yaml(text: str, where: str):
    from orbitlink.yamlio import loads

    return loads(text, where, ProfileError)


def profile_names() -> list[str]:
    """The packaged profiles' names, sorted."""
    root = resources.files(PACKAGE)
    return sorted(p.name[:-5] for p in root.iterdir()
                  if p.name.endswith(".yaml") and _NAME.match(p.name[:-5]))


def load_profile(name_or_path) -> Profile:
    """A packaged profile by name (``"hackrf"``) or a profile file by path (``str`` or
    ``os.PathLike``; a string is a path when it names a ``.yaml``/``.yml`` file or holds a
    directory separator). Raises :class:`ProfileError` (file, key, reason)."""
    if isinstance(name_or_path, str) and name_or_path in profile_names():
        where = f"{name_or_path}.yaml"
        text = resources.files(PACKAGE).joinpath(where).read_text(encoding="utf-8")
        return parse_profile(text, where)
    s = os.fspath(name_or_path)
    if not isinstance(name_or_path, os.PathLike) and not (
            s.endswith((".yaml", ".yml")) or "/" in s or os.sep in s):
        raise ProfileError(f"unknown profile {s!r}; packaged profiles: "
                           f"{', '.join(profile_names())} (or give the path of a profile "
                           f"YAML file)")
    return parse_profile(_read(Path(s), s), s)


def _read(path: Path, where: str) -> str:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise ProfileError(f"{where}: is a directory, not a profile file")
        if size > MAX_FILE_BYTES:
            raise ProfileError(f"{where}: {size} bytes is too large for a profile "
                               f"(at most {MAX_FILE_BYTES})")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{where}: file not found") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{where}: the file must be UTF-8 text") from None
    except OSError as e:
        raise ProfileError(f"{where}: cannot read ({e.strerror or e})") from None


def parse_profile(text: str, where: str = "<profile>") -> Profile:
    """Parse and validate the text of a profile; errors name ``where``."""
    doc = _parse_yaml(text, where)
    return _Parser(where).profile(doc)


class _Parser:
    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, reason: str):
        raise ProfileError(f"{self.where}: {key}: {reason}" if key else f"{self.where}: {reason}")

    # primitives -------------------------------------------------------------------------------
    def mapping(self, v, key, allowed, required=()):
        if not isinstance(v, dict):
            self.fail(key, f"must be a mapping, not {_kind(v)}")
        for k in v:
            if k not in allowed:
                self.fail(_join(key, k), f"unknown key (known: {', '.join(allowed)})")
        for k in required:
            if k not in v:
                self.fail(_join(key, k), "missing")
        return v

    def string(self, v, key, pattern=None, what="") -> str:
        if not isinstance(v, str) or not v.strip():
            self.fail(key, f"must be a non-empty string, not {_kind(v)}")
        if pattern is not None and not pattern.match(v):
            self.fail(key, f"{v!r} is not {what}")
        return v

    def choice(self, v, key, choices) -> str:
        if v not in choices:
            self.fail(key, f"{v!r} is not one of {', '.join(choices)}")
        return v

    def boolean(self, v, key) -> bool:
        if not isinstance(v, bool):
            self.fail(key, f"must be true or false, not {v!r}")
        return v

    def integer(self, v, key, lo, hi) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            self.fail(key, f"{v!r} is not a whole number in {lo}..{hi}")
        return v

    def number(self, v, key) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(key, f"{v!r} is not a number")
        if not math.isfinite(v):
            self.fail(key, f"{v!r} is not a finite number")
        return float(v)

    def bounded(self, v, key, kind) -> float:
        x = self.number(v, key)
        if kind == "freq" and not 0 <= x <= MAX_FREQ_HZ:
            self.fail(key, f"{fmt_hz(x)} is outside 0 Hz..{fmt_hz(MAX_FREQ_HZ)}")
        if kind == "rate" and not 0 < x <= MAX_RATE_HZ:
            self.fail(key, f"{fmt_hz(x, 'S/s')} is not a sample rate (above 0, at most "
                           f"{fmt_hz(MAX_RATE_HZ, 'S/s')})")
        if kind == "gain" and not abs(x) <= MAX_ABS_GAIN_DB:
            self.fail(key, f"{_db(x)} dB is outside +-{MAX_ABS_GAIN_DB:g} dB")
        return x

    @staticmethod
    def _text(x, kind) -> str:
        return f"{_db(x)} dB" if kind == "gain" else fmt_hz(x, "S/s" if kind == "rate" else "Hz")

    def range(self, v, key, kind) -> Range:
        if not isinstance(v, list) or len(v) not in (2, 3):
            self.fail(key, f"must be [lo, hi] or [lo, hi, step], not {v!r}")
        lo = self.bounded(v[0], f"{key}[0]", kind)
        hi = self.bounded(v[1], f"{key}[1]", kind)
        if lo > hi:
            self.fail(key, f"lo {self._text(lo, kind)} is above hi {self._text(hi, kind)}")
        step = 0.0
        if len(v) == 3:
            step = self.number(v[2], f"{key}[2]")
            if step < 0 or (step > 0 and step > (hi - lo) and hi > lo):
                self.fail(key, f"step {self._text(step, kind)} must be at least 0 and at most "
                               f"hi - lo ({self._text(hi - lo, kind)})")
        return Range(lo, hi, step)

    def ranges(self, v, key, kind, allow_empty=False) -> tuple[Range, ...]:
        if not isinstance(v, list) or (not v and not allow_empty):
            self.fail(key, f"must be a non-empty list of [lo, hi] ranges, not {v!r}")
        out = tuple(self.range(x, f"{key}[{i}]", kind) for i, x in enumerate(v))
        for i in range(1, len(out)):
            if out[i].lo <= out[i - 1].hi:
                self.fail(f"{key}[{i}]", "ranges must be in increasing order without overlap")
        return out

    # sections ---------------------------------------------------------------------------------
    def profile(self, doc) -> Profile:
        if not isinstance(doc, dict):
            self.fail("", f"a profile must be a YAML mapping, not {_kind(doc)}")
        self.mapping(doc, "", _TOP_KEYS, _TOP_REQUIRED)
        if doc["format"] != FORMAT or isinstance(doc["format"], bool):
            self.fail("format", f"must be {FORMAT}, got {doc['format']!r}")
        name = self.string(doc["name"], "name", _NAME, "a profile name ([a-z0-9][a-z0-9_-]*)")
        desc = self.string(doc["description"], "description")
        driver = self.string(doc["driver"], "driver", re.compile(r"[A-Za-z0-9_]+\Z"),
                             "a driver key")
        args = doc.get("device_args") or {}
        if not isinstance(args, dict):
            self.fail("device_args", f"must be a mapping, not {_kind(args)}")
        dev_args = {}
        for k, v in args.items():
            if not isinstance(k, str) or k == "driver":
                self.fail(_join("device_args", k), "not a device argument ('driver' is the "
                                                   "driver key)")
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                self.fail(_join("device_args", k), f"must be a string or number, not {_kind(v)}")
            dev_args[k] = str(v)
        transmit = self.choice(doc["transmit"], "transmit", TRANSMIT)
        timestamps = self.choice(doc["timestamps"], "timestamps", TIMESTAMPS)
        overflow = self.choice(doc["overflow_reporting"], "overflow_reporting",
                               OVERFLOW_REPORTING)
        rates = self.sample_rates(doc["sample_rates"])
        rx = self.direction(doc["rx"], "rx")
        tx = None
        if transmit == "none":
            if doc.get("tx") is not None:
                self.fail("tx", "a receive-only radio (transmit: none) has no tx section")
        else:
            if doc.get("tx") is None:
                self.fail("tx", f"missing (transmit is {transmit})")
            tx = self.direction(doc["tx"], "tx")
        buffers = None
        if doc.get("buffers") is not None:
            b = self.mapping(doc["buffers"], "buffers", ("count", "samples"), ("count", "samples"))
            buffers = Buffers(self.integer(b["count"], "buffers.count", 1, 1 << 16),
                              self.integer(b["samples"], "buffers.samples", 1, 1 << 30))
        p = Profile(name=name, description=desc, driver=driver,
                    device_args=MappingProxyType(dev_args), transmit=transmit,
                    timestamps=timestamps, overflow_reporting=overflow, sample_rates=rates,
                    rx=rx, tx=tx, buffers=buffers, source=self.where)
        # the defaults must pass the profile's own checks
        for d in (rx, tx):
            if d is None or not d.defaults:
                continue
            cfg = RadioConfig(**{k: (dict(v) if isinstance(v, Mapping) else v)
                                 for k, v in d.defaults.items()})
            try:
                _check_direction(p, d, cfg)
                if d.name == "tx" and (cfg.gain is not None or cfg.gains):
                    _check_tx_gain(p, cfg)
            except ConfigRefused as e:
                self.fail(f"{d.name}.defaults", str(e).removeprefix(f"{name}: "))
        return p

    def sample_rates(self, v) -> SampleRates:
        key = "sample_rates"
        self.mapping(v, key, ("ranges", "list", "reliable_max"))
        ranges = self.ranges(v["ranges"], f"{key}.ranges", "rate") if "ranges" in v else ()
        lst = ()
        if "list" in v:
            if not isinstance(v["list"], list) or not v["list"]:
                self.fail(f"{key}.list", f"must be a non-empty list of rates, not {v['list']!r}")
            lst = tuple(self.bounded(x, f"{key}.list[{i}]", "rate")
                        for i, x in enumerate(v["list"]))
            if any(b <= a for a, b in zip(lst, lst[1:])):
                self.fail(f"{key}.list", "rates must be in increasing order without repeats")
        if not ranges and not lst:
            self.fail(key, "needs 'ranges' or 'list' (the rates the radio takes)")
        rel = None
        if v.get("reliable_max") is not None:
            rel = self.bounded(v["reliable_max"], f"{key}.reliable_max", "rate")
            top = max([r.hi for r in ranges] + list(lst))
            bottom = min([r.lo for r in ranges] + list(lst))
            if not bottom <= rel <= top:
                self.fail(f"{key}.reliable_max", f"{fmt_hz(rel, 'S/s')} is outside the radio's "
                                                 f"rates ({fmt_span(bottom, top, 'S/s')})")
        return SampleRates(ranges, lst, rel)

    def direction(self, v, dn) -> Direction:
        allowed = _DIR_KEYS + (_TX_KEYS if dn == "tx" else ())
        required = _DIR_REQUIRED + (_TX_KEYS if dn == "tx" else ())
        self.mapping(v, dn, allowed, required)
        channels = self.integer(v["channels"], f"{dn}.channels", 1, 64)
        freqs = self.ranges(v["freq_ranges"], f"{dn}.freq_ranges", "freq")
        gain_range = self.range(v["gain_range"], f"{dn}.gain_range", "gain")
        gains = v["gains"] if v["gains"] is not None else {}
        if not isinstance(gains, dict):
            self.fail(f"{dn}.gains", f"must map element names to [lo, hi] ranges, not "
                                     f"{_kind(gains)}")
        elements = {}
        for k, r in gains.items():
            if not isinstance(k, str) or not k:
                self.fail(_join(f"{dn}.gains", k), "a gain element name must be a string")
            elements[k] = self.range(r, f"{dn}.gains.{k}", "gain")
        antennas = v["antennas"] if v["antennas"] is not None else []
        if not isinstance(antennas, list) or not all(isinstance(a, str) and a for a in antennas):
            self.fail(f"{dn}.antennas", f"must be a list of antenna names, not {antennas!r}")
        if len(set(antennas)) != len(antennas):
            self.fail(f"{dn}.antennas", "an antenna is listed twice")
        agc = self.boolean(v["agc"], f"{dn}.agc")
        defaults = self.defaults(v.get("defaults"), f"{dn}.defaults")
        max_gain, allowed_tx = None, ()
        if dn == "tx":
            allowed_tx = self.ranges(v["allowed_freq_ranges"], "tx.allowed_freq_ranges", "freq")
            for i, r in enumerate(allowed_tx):
                if not any(r.within(t) for t in freqs):
                    self.fail(f"tx.allowed_freq_ranges[{i}]",
                              f"{r.text()} is outside the tx tuning range ({fmt_spans(freqs)})")
            max_gain = self.bounded(v["max_gain"], "tx.max_gain", "gain")
            if max_gain > gain_range.hi:
                self.fail("tx.max_gain", f"{_db(max_gain)} dB is above the tx gain range "
                                         f"{_db(gain_range.lo)}..{_db(gain_range.hi)} dB")
            if max_gain < gain_range.lo:
                self.fail("tx.max_gain", f"{_db(max_gain)} dB is below the tx gain range "
                                         f"{_db(gain_range.lo)}..{_db(gain_range.hi)} dB")
        return Direction(name=dn, channels=channels, freq_ranges=freqs, gain_range=gain_range,
                         gains=MappingProxyType(elements), antennas=tuple(antennas), agc=agc,
                         defaults=defaults, max_gain=max_gain, allowed_freq_ranges=allowed_tx)

    def defaults(self, v, key) -> Mapping:
        if v is None:
            return MappingProxyType({})
        self.mapping(v, key, DEFAULT_KEYS)
        out = {}
        for k, x in v.items():
            kk = f"{key}.{k}"
            if k in ("samp_rate", "bandwidth", "gain", "ppm"):
                out[k] = self.number(x, kk)
            elif k == "gains":
                if not isinstance(x, dict):
                    self.fail(kk, f"must map element names to dB, not {_kind(x)}")
                out[k] = MappingProxyType({str(e): self.number(g, f"{kk}.{e}")
                                           for e, g in x.items()})
            elif k == "agc":
                out[k] = self.boolean(x, kk)
            elif k == "channel":
                out[k] = self.integer(x, kk, 0, 63)
            else:
                out[k] = self.string(x, kk)
        return MappingProxyType(out)


def _join(key: str, k) -> str:
    return f"{key}.{k}" if key else str(k)


def _kind(v) -> str:
    if v is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(v), type(v).__name__)
