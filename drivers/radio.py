"""The driver interface: one radio, whatever is behind it (SoapySDR, a recording replayed as a
radio, a ZeroMQ IQ stream).

Lifecycle: ``open()`` -> ``configure(RadioConfig)`` -> ``start()`` -> ``read()`` / ``write()``
(with timestamps and status) -> ``stop()`` -> ``close()``. Every driver keeps
:class:`RadioCounters` and never loses data silently: overflows, timeouts, underflows, late
bursts and dropped samples are counted, and where a driver cannot know that it lost samples it
says so (:attr:`Radio.drop_detection`).

Receive
-------
``read(out, timeout_s)`` fills ``out[:n]`` (complex64, C-contiguous; checked before any driver
call, because the SoapySDR binding does not check and a wrong buffer corrupts memory) and
returns a :class:`ReadResult`:

- ``n`` samples were written to ``out`` (0 after a timeout or an overflow report);
- ``sample_index``: the absolute index of ``out[0]`` in the stream *as the radio produced it*,
  i.e. counting the samples it dropped when it knows how many (hardware time, a sample counter);
- ``gap``: samples lost just before ``out[0]`` (0 when none or unknown);
- ``time_ns``: the hardware time of ``out[0]`` when the radio has it, else None;
- ``event``: ``""``, or what happened (``"overflow"``, ``"timeout"``, ``"end"`` when a finite
  source has no more samples).

Transmit
--------
``write(samples, time_ns=None, end_burst=True, timeout_s)`` writes one burst (or a piece of
one) and returns the number of samples accepted; ``tx_status(timeout_s)`` reports what the radio
said about bursts (end of burst acknowledged, underflow, late).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from orbitlink import OrbitlinkError

__all__ = ["Radio", "RadioConfig", "RadioCounters", "ReadResult", "TxStatus", "RadioError",
           "check_buffer", "DROP_DETECTION", "GapTracker", "GapLog"]

#: how a driver learns that samples were lost
DROP_DETECTION = ("hardware_time", "sample_counter", "overflow_reports", "none")


class RadioError(OrbitlinkError):
    """A radio cannot be opened, configured or streamed as asked (one sentence)."""


@dataclass
class RadioConfig:
    """What to set on a radio. None leaves the driver's (or profile's) default."""

    samp_rate: float | None = None  # Hz
    center_freq: float | None = None  # Hz, the nominal frequency (before ppm correction)
    ppm: float = 0.0  # frequency correction of the radio's reference, parts per million
    bandwidth: float | None = None  # Hz, analog filter
    gain: float | None = None  # dB, overall
    gains: dict = field(default_factory=dict)  # element name -> dB
    agc: bool | None = None
    antenna: str | None = None
    channel: int = 0
    clock_source: str | None = None
    time_source: str | None = None

    def tuned_freq(self) -> float | None:
        """The frequency to ask the radio for, so that its (ppm-off) reference lands on the
        nominal one."""
        if self.center_freq is None:
            return None
        return self.center_freq * (1 + self.ppm * 1e-6)


@dataclass
class RadioCounters:
    """What a stream counted. Never reset while the stream runs."""

    samples: int = 0  # samples delivered (receive) or accepted (transmit)
    reads: int = 0
    overflows: int = 0  # overflow reports (readStream, readStreamStatus)
    dropped_samples: int = 0  # samples known lost (from timestamps / sample counters)
    gaps: int = 0  # discontinuities seen
    timeouts: int = 0
    stream_errors: int = 0  # other negative returns (stream error, corruption, ...)
    underflows: int = 0  # transmit
    late_bursts: int = 0  # transmit: TIME_ERROR, the burst's time had passed
    bursts_sent: int = 0  # transmit: end of burst acknowledged
    malformed: int = 0  # network sources: messages dropped as malformed

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ReadResult:
    n: int
    sample_index: int
    gap: int = 0
    time_ns: int | None = None
    event: str = ""


@dataclass
class TxStatus:
    event: str  # "end_burst", "underflow", "late", "error"
    time_ns: int | None = None
    detail: str = ""


def check_buffer(buf, n: int | None = None, what: str = "buffer") -> np.ndarray:
    """Refuse (``TypeError``, a bug) a buffer a driver must not hand to C: not complex64, not
    C-contiguous, not one-dimensional, or shorter than ``n``."""
    if not isinstance(buf, np.ndarray):
        raise TypeError(f"{what} must be a numpy array, not {type(buf).__name__}")
    if buf.dtype != np.complex64:
        raise TypeError(f"{what} must be complex64, not {buf.dtype}")
    if buf.ndim != 1 or not buf.flags.c_contiguous:
        raise TypeError(f"{what} must be a one-dimensional C-contiguous array")
    if n is not None and len(buf) < n:
        raise TypeError(f"{what} holds {len(buf)} samples, fewer than the {n} asked for")
    if not buf.flags.writeable and what.startswith("receive"):
        raise TypeError(f"{what} must be writeable")
    return buf


class Radio:
    """Base class of the drivers (see the module docstring)."""

    #: how this driver learns of lost samples (one of :data:`DROP_DETECTION`)
    drop_detection: str = "none"
    #: the driver reports overflows itself
    reports_overflow: bool = False
    has_hardware_time: bool = False
    can_transmit: bool = False

    def __init__(self):
        self.counters = RadioCounters()
        self.tx_counters = RadioCounters()
        self.config = RadioConfig()
        self._open = False

    # lifecycle -------------------------------------------------------------------------
    def open(self) -> dict:
        """Open the device; returns what it is (driver, label, serial...)."""
        self._open = True
        return {}

    def configure(self, cfg: RadioConfig) -> RadioConfig:
        """Apply a configuration; returns what the radio actually set."""
        self.config = cfg
        return cfg

    def start(self, rx: bool = True, tx: bool = False) -> None:
        raise NotImplementedError

    def read(self, out: np.ndarray, timeout_s: float = 0.1) -> ReadResult:
        raise NotImplementedError

    def write(self, samples: np.ndarray, time_ns: int | None = None, end_burst: bool = True,
              timeout_s: float = 0.1) -> int:
        raise RadioError(f"{type(self).__name__} cannot transmit")

    def tx_status(self, timeout_s: float = 0.0) -> TxStatus | None:
        return None

    def stop(self) -> None:
        pass

    def close(self) -> None:
        self._open = False

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            self.close()

    # reporting -------------------------------------------------------------------------
    def stats(self) -> dict:
        """Counters and what the driver can and cannot know."""
        return {"rx": self.counters.to_dict(), "tx": self.tx_counters.to_dict(),
                "drop_detection": self.drop_detection,
                "reports_overflow": self.reports_overflow,
                "hardware_time": self.has_hardware_time}


class GapTracker:
    """Sample-index continuity from timestamps: given the hardware time of each read (or a
    sample counter), how many samples were lost before it.

    ``update(time_ns, n)`` returns the gap (in samples, >= 0) before a read of ``n`` samples
    stamped ``time_ns``; times that go backwards or jump by less than half a sample count as
    continuous. ``index`` is the absolute index of the next sample.
    """

    def __init__(self, samp_rate: float, start_index: int = 0):
        self.rate = float(samp_rate)
        self.index = int(start_index)
        self._t0 = None  # (time in ns, sample index) of the first stamped read: integers, so
        # that epoch-sized times (1.7e18 ns) lose no precision

    def update(self, time_ns: int | None, n: int) -> int:
        gap = 0
        if time_ns is not None:
            if self._t0 is None:
                self._t0 = (int(time_ns), self.index)
            t0, i0 = self._t0
            lost = (int(time_ns) - t0) * self.rate / 1e9 - (self.index - i0)
            if lost >= 0.5:
                gap = int(round(lost))
        self.index += gap + int(n)
        return gap


class GapLog:
    """Where a stream lost samples: ``(index, length)`` pairs, ``index`` the absolute sample
    index of the first sample after the gap in the stream as delivered (a source that fills a
    gap with zeros delivers them at ``index - length .. index - 1``). Frames whose samples
    span a gap are flagged from it (:class:`orbitlink.framing._base.FrameMeta`)."""

    def __init__(self, keep: int = 100_000):
        self.gaps: list[tuple[int, int]] = []
        self.keep = int(keep)
        self.total = 0  # samples lost
        self.count = 0  # gaps ever added (the list keeps the last ``keep``)
        self._sorted: list[tuple[int, int]] = []  # the same gaps by index, for between()
        self._longest = 0

    def add(self, index: int, length: int) -> None:
        g = (int(index), int(length))
        self.gaps.append(g)
        bisect.insort(self._sorted, g)
        self._longest = max(self._longest, g[1])
        self.total += g[1]
        self.count += 1
        if len(self.gaps) > self.keep:
            for old in self.gaps[: len(self.gaps) - self.keep]:
                del self._sorted[bisect.bisect_left(self._sorted, old)]
            del self.gaps[: len(self.gaps) - self.keep]

    def between(self, lo: float, hi: float) -> list[tuple[int, int]]:
        """Gaps whose lost samples overlap ``[lo, hi]``, by index (a search, not a scan: a
        live run that falls behind adds a gap per chunk it drops)."""
        s = self._sorted
        k = bisect.bisect_left(s, (math.ceil(lo), -1))  # the first with index >= lo
        hit = []
        stop = hi + self._longest  # past it, no gap starts at or before hi
        while k < len(s) and s[k][0] <= stop:
            if s[k][0] - s[k][1] <= hi:
                hit.append(s[k])
            k += 1
        return hit


# --------------------------------------------------------------------------------------------
# drivers by name


#: driver name -> Radio subclass (each driver module registers itself)
RADIO_DRIVERS: dict[str, type] = {}


def register_driver(name: str):
    """Class decorator: a Radio subclass that ``open_radio(name, args)`` builds as
    ``cls(**args)``."""
    def deco(cls):
        if name in RADIO_DRIVERS and RADIO_DRIVERS[name] is not cls:
            raise ValueError(f"radio driver {name!r} registered twice")
        RADIO_DRIVERS[name] = cls
        cls.driver_name = name
        return cls
    return deco


def parse_device_args(text) -> dict:
    """``"file=x.sigmf-meta,rate=max"`` -> ``{"file": "x.sigmf-meta", "rate": "max"}``."""
    if isinstance(text, dict):
        return dict(text)
    out = {}
    for part in str(text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise RadioError(f"device argument {part!r} is not key=value (e.g. "
                             "file=pass.sigmf-meta,rate=max)")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def all_drivers() -> dict:
    """Import every driver module (they register themselves); name -> class."""
    import importlib
    import pkgutil

    import orbitlink.drivers as pkg

    for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(m.name)
    return RADIO_DRIVERS


def open_radio(driver: str, args=None) -> "Radio":
    """Build (not yet open) the radio of driver ``driver`` with device arguments ``args``."""
    drivers = all_drivers()
    if driver not in drivers:
        raise RadioError(f"unknown radio driver {driver!r} (known: "
                         f"{', '.join(sorted(drivers))})")
    kw = parse_device_args(args)
    try:
        return drivers[driver](**kw)
    except TypeError as e:
        raise RadioError(f"driver {driver!r}: bad device arguments {kw} ({e})") from None


def radio_for_profile(profile, args=None) -> "Radio":
    """The radio a hardware profile names (not yet open): a recording for the ``file`` driver
    (the ``loopback`` profile), else SoapySDR with the profile's driver key and device
    arguments, ``args`` on top."""
    extra = parse_device_args(args)
    if profile.driver == "file":
        return open_radio("replay", extra)
    return open_radio("soapy", {**profile.soapy_args(), **extra})
