"""Radios through SoapySDR (driver ``soapy``): :class:`SoapyRadio`, :func:`list_devices`,
:func:`device_report`.

SoapySDR's Python binding (Debian ``python3-soapysdr``, not on PyPI) is imported only when a
device is opened or listed: ``import orbitlink.drivers.soapy`` works without it, and opening a
device without it raises a :class:`~orbitlink.drivers.radio.RadioError` saying how to get it
(``make setup`` as root installs it and links it into the venv through a ``.pth`` file).

What the driver does about lost samples (LIVE-STATION.md B.1, C; never silent):

- ``readStream`` returns are all counted: OVERFLOW (``counters.overflows``, event
  ``"overflow"``), TIMEOUT (``timeouts``), any other negative code (``stream_errors``);
- ``readStreamStatus`` is polled without waiting after every read on the receive stream too,
  because LimeSDR reports dropped packets only there (TIME_ERROR) and overruns as OVERFLOW: both
  count as ``overflows``; a driver that answers NOT_SUPPORTED is not asked again;
- where the radio stamps its samples (HAS_TIME) the timestamps are checked for continuity
  (:class:`~orbitlink.drivers.radio.GapTracker`): a jump is ``gap`` samples lost before the
  read, counted in ``dropped_samples`` and ``gaps``, and the read's ``sample_index`` counts them;
- :attr:`SoapyRadio.drop_detection` says which of these the radio allows: ``hardware_time``
  (UHD, bladeRF, LimeSDR), ``sample_counter`` (RTL-SDR's HAS_TIME is a sample counter),
  ``overflow_reports`` (HackRF, Airspy: overflows counted, their length unknown) or ``none``
  (PlutoSDR reports nothing; a device whose hardware info says ``reports_overflow=0``).

Every buffer is checked (complex64, one-dimensional, C-contiguous, long enough) before it is
handed to ``readStream`` / ``writeStream``: the binding passes the raw pointer on unchecked.

Threads: a stream handle must not be used from two threads at once (SoapySDR). Call
:meth:`SoapyRadio.read` from one reader thread; :meth:`SoapyRadio.stop` from another thread
waits for the read in progress (at most its timeout) before it deactivates the stream.
Ctrl-C: the binding releases the GIL inside ``readStream``, so a KeyboardInterrupt is raised
at the latest when the current read's timeout expires; ``with radio:`` and
:meth:`SoapyRadio.stream` then stop the streams and close the device.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator

import numpy as np

from orbitlink.drivers.radio import (GapTracker, Radio, RadioConfig, RadioError, ReadResult,
                                     TxStatus, check_buffer, parse_device_args,
                                     register_driver)

__all__ = ["SoapyRadio", "list_devices", "device_report", "device_facts", "binding"]

# SoapySDR constants (Constants.h, Errors.h; part of the ABI)
TX, RX = 0, 1
END_BURST, HAS_TIME, END_ABRUPT = 1 << 1, 1 << 2, 1 << 3
TIMEOUT, STREAM_ERROR, CORRUPTION, OVERFLOW = -1, -2, -3, -4
NOT_SUPPORTED, TIME_ERROR, UNDERFLOW = -5, -6, -7
ERRORS = {TIMEOUT: "TIMEOUT", STREAM_ERROR: "STREAM_ERROR", CORRUPTION: "CORRUPTION",
          OVERFLOW: "OVERFLOW", NOT_SUPPORTED: "NOT_SUPPORTED", TIME_ERROR: "TIME_ERROR",
          UNDERFLOW: "UNDERFLOW"}
DIRECTIONS = {"rx": RX, "tx": TX}

#: drivers that never report lost samples (SoapyPlutoSDR: no OVERFLOW anywhere)
NO_OVERFLOW_REPORTS = frozenset({"plutosdr"})
#: drivers whose HAS_TIME is a sample counter rather than a clock (SoapyRTLSDR)
SAMPLE_COUNTER_TIME = frozenset({"rtlsdr"})

_binding = None


def binding():
    """The SoapySDR Python module; RadioError (one sentence, what to do) when it is missing."""
    global _binding
    if _binding is None:
        try:
            import SoapySDR
        except ImportError as e:
            raise RadioError(
                f"the SoapySDR Python binding cannot be imported ({e}); install Debian's "
                "python3-soapysdr and link it into the venv (`make setup` as root does both)"
            ) from None
        _binding = SoapySDR
    return _binding


def _args_text(args: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in args.items())


def _kwargs(kw) -> dict:
    """A SoapySDR Kwargs proxy as a dict."""
    return {str(k): str(kw[k]) for k in kw.keys()}


def _ranges(rl) -> list[tuple[float, float]]:
    return [(float(r.minimum()), float(r.maximum())) for r in rl]


def _range3(r) -> tuple[float, float, float]:
    return (float(r.minimum()), float(r.maximum()), float(r.step()))


def _fmt(v: float, unit: str) -> str:
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if unit and abs(v) >= scale:
            return f"{v / scale:g} {prefix}{unit}"
    return f"{v:g} {unit}".strip()


def _fmt_ranges(ranges, unit: str) -> str:
    return ", ".join(_fmt(lo, unit) if lo == hi else f"{_fmt(lo, unit)} to {_fmt(hi, unit)}"
                     for lo, hi in ranges)


def _within(v: float, ranges) -> bool:
    return any(lo - 1e-9 * abs(lo) - 1e-9 <= v <= hi + 1e-9 * abs(hi) + 1e-9
               for lo, hi in ranges)


@register_driver("soapy")
class SoapyRadio(Radio):
    """A SoapySDR device as a :class:`~orbitlink.drivers.radio.Radio`.

    Parameters
    ----------
    args : str or dict, optional
        Device arguments, ``"driver=rtlsdr,serial=00000001"`` or a dict; keyword arguments are
        added to them (``SoapyRadio(driver="uhd", type="b200")``; :func:`open_radio` passes the
        parsed device string this way). Empty: the first device SoapySDR finds.

    Notes
    -----
    Streams are CF32 (complex64) on one channel (:attr:`RadioConfig.channel`). After
    :meth:`open`, :attr:`driver_key`, :attr:`has_hardware_time`, :attr:`reports_overflow`,
    :attr:`drop_detection` and :attr:`can_transmit` describe the device.
    """

    def __init__(self, args=None, **device_args):
        super().__init__()
        self.device_args = parse_device_args(args or "")
        self.device_args.update({str(k): str(v) for k, v in device_args.items()})
        self.dev = None
        self.label = f"SoapySDR device '{_args_text(self.device_args)}'"
        self.driver_key = ""
        self.tx_config = RadioConfig()
        self.samp_rate = None
        self._rx = self._tx = None
        self._rx_ptr_cache = (None, 0)
        self._rx_lock = threading.Lock()
        self._tx_lock = threading.Lock()
        self._stopping = False
        self._reset_rx()
        self._tx_in_burst = False
        self._tx_status_ok = True

    def _reset_rx(self):
        self._gaps = None
        self._t_first = None
        self._rx_ended = False
        self._rx_status_ok = True

    # lifecycle -------------------------------------------------------------------------
    def open(self) -> dict:
        if self.dev is not None:
            return self.info
        S = binding()
        try:
            dev = S.Device(dict(self.device_args))
        except Exception as e:  # SWIG: RuntimeError("no match"), ValueError, ...
            why = " ".join(str(e).split())  # drivers' messages span lines (UHD's does)
            raise RadioError(f"no SoapySDR device could be opened with "
                             f"'{_args_text(self.device_args)}' ({why})") from None
        self.dev = dev
        self._open = True
        self.driver_key = str(dev.getDriverKey())
        hw = self._try(lambda: _kwargs(dev.getHardwareInfo()), {})
        serial = hw.get("serial") or self.device_args.get("serial", "")
        self.label = f"{self.driver_key} {serial}".strip()
        self.has_hardware_time = bool(self._try(lambda: dev.hasHardwareTime(), False))
        self.reports_overflow = (self.driver_key not in NO_OVERFLOW_REPORTS
                                 and hw.get("reports_overflow", "1").lower()
                                 not in ("0", "false", "no"))
        if self.driver_key in SAMPLE_COUNTER_TIME:
            self.drop_detection = "sample_counter"
        elif self.has_hardware_time:
            self.drop_detection = "hardware_time"
        elif self.reports_overflow:
            self.drop_detection = "overflow_reports"
        else:
            self.drop_detection = "none"
        self.can_transmit = self._try(lambda: dev.getNumChannels(TX), 0) > 0
        self.samp_rate = self._try(lambda: float(dev.getSampleRate(RX, 0)), None)
        self.info = {"driver": self.driver_key, "hardware": str(dev.getHardwareKey()),
                     "label": self.label, "serial": serial, "hardware_info": hw,
                     "args": dict(self.device_args)}
        return self.info

    def _dev(self):
        if self.dev is None:
            raise RadioError(f"{self.label}: the device is not open (call open() first)")
        return self.dev

    @staticmethod
    def _try(f, default):
        try:
            return f()
        except Exception:
            return default

    def _call(self, what: str, f, *a):
        """A device call whose C++ exception becomes a RadioError naming what was asked."""
        try:
            return f(*a)
        except Exception as e:
            raise RadioError(f"{self.label}: the device refused {what} ({e})") from None

    def configure(self, cfg: RadioConfig, direction: str = "rx") -> RadioConfig:
        """Apply ``cfg`` to the receive (``direction="rx"``) or transmit chain; everything is
        checked against what the device reports before anything is set. Returns what the
        device actually set (read back); ``center_freq`` is the nominal frequency, the device
        being tuned to :meth:`RadioConfig.tuned_freq` (ppm correction)."""
        dev = self._dev()
        if direction not in DIRECTIONS:
            raise RadioError(f"direction must be rx or tx, not {direction!r}")
        d, ch, name = DIRECTIONS[direction], int(cfg.channel), direction.upper()
        nch = dev.getNumChannels(d)
        if not 0 <= ch < nch:
            raise RadioError(f"{self.label}: no {name} channel {ch} (the device has {nch})")
        steps = []  # (what, call, args), applied after every check passed

        def choose(what, value, options, setter):
            if value is None:
                return
            options = list(options)
            if value not in options:
                raise RadioError(f"{self.label}: no {what} {value!r} (the device has "
                                 f"{', '.join(options) or 'none'})")
            steps.append((f"{what} {value!r}", setter, value))

        choose("clock source", cfg.clock_source, self._try(dev.listClockSources, []),
               dev.setClockSource)
        choose("time source", cfg.time_source, self._try(dev.listTimeSources, []),
               dev.setTimeSource)
        choose(f"{name} antenna", cfg.antenna, dev.listAntennas(d, ch),
               lambda a: dev.setAntenna(d, ch, a))

        def ranged(what, value, ranges, unit, setter):
            if value is None:
                return
            value = float(value)
            if ranges and not _within(value, ranges):
                raise RadioError(f"{self.label}: {what} {_fmt(value, unit)} is outside what "
                                 f"the device supports ({_fmt_ranges(ranges, unit)})")
            steps.append((f"{what} {_fmt(value, unit)}", setter, value))

        rates = _ranges(dev.getSampleRateRange(d, ch)) or \
            [(r, r) for r in self._try(lambda: dev.listSampleRates(d, ch), [])]
        ranged(f"{name} sample rate", cfg.samp_rate, rates, "Hz",
               lambda v: dev.setSampleRate(d, ch, v))
        bws = _ranges(self._try(lambda: dev.getBandwidthRange(d, ch), [])) or \
            [(b, b) for b in self._try(lambda: dev.listBandwidths(d, ch), [])]
        ranged(f"{name} bandwidth", cfg.bandwidth, bws, "Hz",
               lambda v: dev.setBandwidth(d, ch, v))
        ranged(f"{name} frequency (with {cfg.ppm:g} ppm)", cfg.tuned_freq(),
               _ranges(dev.getFrequencyRange(d, ch)), "Hz",
               lambda v: dev.setFrequency(d, ch, v))
        if cfg.agc is not None:
            if not dev.hasGainMode(d, ch):
                if cfg.agc:
                    raise RadioError(f"{self.label}: no {name} AGC")
            else:
                steps.append((f"{name} AGC {'on' if cfg.agc else 'off'}",
                              lambda v: dev.setGainMode(d, ch, v), bool(cfg.agc)))
        if cfg.gain is not None:
            g = dev.getGainRange(d, ch)
            ranged(f"{name} gain", cfg.gain, [_range3(g)[:2]], "dB",
                   lambda v: dev.setGain(d, ch, v))
        elements = list(dev.listGains(d, ch))
        for el, value in (cfg.gains or {}).items():
            if el not in elements:
                raise RadioError(f"{self.label}: no {name} gain element {el!r} (the device "
                                 f"has {', '.join(elements) or 'none'})")
            r = _range3(dev.getGainRange(d, ch, el))
            ranged(f"{name} gain {el}", value, [r[:2]], "dB",
                   lambda v, el=el: dev.setGain(d, ch, el, v))
        for what, setter, value in steps:
            self._call(what, setter, value)

        got = RadioConfig(channel=ch, ppm=cfg.ppm)
        got.samp_rate = float(dev.getSampleRate(d, ch))
        got.bandwidth = self._try(lambda: float(dev.getBandwidth(d, ch)), None)
        f = self._try(lambda: float(dev.getFrequency(d, ch)), None)
        got.center_freq = None if f is None else f / (1 + cfg.ppm * 1e-6)
        got.gain = self._try(lambda: float(dev.getGain(d, ch)), None)
        got.gains = {el: float(dev.getGain(d, ch, el)) for el in elements}
        got.agc = bool(dev.getGainMode(d, ch)) if self._try(
            lambda: dev.hasGainMode(d, ch), False) else None
        got.antenna = self._try(lambda: str(dev.getAntenna(d, ch)), None)
        got.clock_source = self._try(lambda: str(dev.getClockSource()), None) or None
        got.time_source = self._try(lambda: str(dev.getTimeSource()), None) or None
        if direction == "rx":
            self.config = got
            self.samp_rate = got.samp_rate
        else:
            self.tx_config = got
        return got

    def _open_stream(self, dev, direction, ch: int, name: str):
        """Set up and activate a CF32 stream on channel ``ch``; closed again, with one
        sentence, when it does not start."""
        s = self._call(f"a CF32 {name} stream", dev.setupStream, direction, "CF32", [ch])
        try:
            ret = dev.activateStream(s)
        except Exception as e:
            ret = str(e)
        if ret != 0:
            self._try(lambda: dev.closeStream(s), None)
            raise RadioError(f"{self.label}: the {name} stream did not start "
                             f"({ERRORS.get(ret, ret)})")
        return s

    def start(self, rx: bool = True, tx: bool = False) -> None:
        """Set up and activate the CF32 receive and/or transmit stream."""
        dev = self._dev()
        self._stopping = False
        if tx and not self.can_transmit:
            raise RadioError(f"{self.label}: the device cannot transmit (no TX channel)")
        if rx and self._rx is None:
            ch = self.config.channel
            s = self._open_stream(dev, RX, ch, "RX")
            self.samp_rate = float(dev.getSampleRate(RX, ch))
            self._reset_rx()
            self._gaps = GapTracker(self.samp_rate, start_index=self.counters.samples
                                    + self.counters.dropped_samples)
            self.rx_mtu = int(self._try(lambda: dev.getStreamMTU(s), 0))
            self._rx = s
        if tx and self._tx is None:
            s = self._open_stream(dev, TX, self.tx_config.channel, "TX")
            self.tx_mtu = int(self._try(lambda: dev.getStreamMTU(s), 0)) or 4096
            self._tx_in_burst = False
            self._tx_status_ok = True
            self._tx = s

    def stop(self) -> None:
        """Deactivate and close the streams (waits for a read in progress on another thread,
        at most its timeout). Safe to call twice."""
        self._stopping = True
        dev = self.dev
        if dev is None:
            return
        with self._rx_lock:
            s, self._rx = self._rx, None
            if s is not None:
                self._try(lambda: dev.deactivateStream(s), None)
                self._try(lambda: dev.closeStream(s), None)
        with self._tx_lock:
            s, self._tx = self._tx, None
            if s is not None:
                self._try(lambda: dev.deactivateStream(s), None)
                self._try(lambda: dev.closeStream(s), None)

    def close(self) -> None:
        """Stop the streams and release the device. Safe to call twice."""
        try:
            self.stop()
        finally:
            dev, self.dev = self.dev, None
            if dev is not None:
                dev.close()
            self._open = False

    # receive ---------------------------------------------------------------------------
    def read(self, out: np.ndarray, timeout_s: float = 0.1) -> ReadResult:
        """Read up to ``len(out)`` samples into ``out`` (see
        :class:`~orbitlink.drivers.radio.ReadResult`); waits at most ``timeout_s``.

        Event ``"end"``: the device ended the stream (END_BURST on receive, e.g. the test
        device's file ran out) or the radio was stopped; ``"error"``: another negative return,
        counted in ``stream_errors``."""
        check_buffer(out, what="receive buffer")
        c = self.counters
        with self._rx_lock:
            s = self._rx
            if s is None:
                if self._stopping or self._rx_ended:
                    return ReadResult(0, self._index(), event="end")
                raise RadioError(f"{self.label}: the RX stream is not started (start(rx=True))")
            if self._rx_ended:
                return ReadResult(0, self._index(), event="end")
            sr = self.dev.readStream__(s, [out.__array_interface__["data"][0]], len(out), 0,
                                       int(timeout_s * 1e6))
            ret, flags, t_ns = sr.ret, sr.flags, sr.timeNs
            if self._rx_status_ok:
                self._poll_rx_status(s)
        c.reads += 1
        if ret >= 0:
            t = int(t_ns) if flags & HAS_TIME else None
            gap = self._gaps.update(self._rel(t), ret)
            if gap:
                c.gaps += 1
                c.dropped_samples += gap
            c.samples += ret
            event = ""
            if flags & END_BURST:
                self._rx_ended = True
                event = "end"
            return ReadResult(ret, self._gaps.index - ret, gap, t, event)
        if ret == TIMEOUT:
            c.timeouts += 1
            return ReadResult(0, self._index(), event="timeout")
        if ret == OVERFLOW:
            c.overflows += 1
            return ReadResult(0, self._index(), event="overflow")
        c.stream_errors += 1
        return ReadResult(0, self._index(), event="error")

    def _index(self) -> int:
        return self._gaps.index if self._gaps is not None else 0

    def _rel(self, t: int | None) -> int | None:
        """Times relative to the first one, so that GapTracker's float arithmetic stays exact
        to the nanosecond with epoch-sized hardware times."""
        if t is None:
            return None
        if self._t_first is None:
            self._t_first = t
        return t - self._t_first

    def _poll_rx_status(self, s) -> None:
        """Drain the receive stream's status without waiting (LimeSDR reports dropped
        packets only here)."""
        c = self.counters
        for _ in range(64):
            st = self.dev.readStreamStatus__(s, 0)
            ret = st.ret
            if ret == TIMEOUT:
                return
            if ret == NOT_SUPPORTED:
                self._rx_status_ok = False
                return
            if ret in (TIME_ERROR, OVERFLOW):
                c.overflows += 1
            elif ret != 0:
                c.stream_errors += 1

    def stream(self, n: int = 4096, stop_event: threading.Event | None = None,
               timeout_s: float = 0.1) -> Iterator[tuple[ReadResult, np.ndarray]]:
        """Receive until the stream ends or ``stop_event`` is set: yields ``(ReadResult,
        samples)`` for every read (``samples`` a new array of ``result.n`` samples; also the
        overflow and timeout results, with no samples). Starts the receive stream if needed.
        Whatever ends the loop (the end, the event, Ctrl-C inside a read, an exception, the
        consumer closing the generator) stops the streams and closes the device."""
        if self._rx is None:
            self.start(rx=True)
        buf = np.empty(int(n), np.complex64)
        try:
            while stop_event is None or not stop_event.is_set():
                r = self.read(buf, timeout_s)
                yield r, buf[:r.n].copy()
                if r.event == "end":
                    return
        finally:
            self.close()

    # transmit --------------------------------------------------------------------------
    def write(self, samples: np.ndarray, time_ns: int | None = None, end_burst: bool = True,
              timeout_s: float = 0.1) -> int:
        """Write one burst (or a piece of one): HAS_TIME with ``time_ns`` on its first
        samples, END_BURST on its last when ``end_burst``; pieces of at most the stream MTU.
        Returns the samples accepted (fewer after a timeout, counted in ``tx_counters``);
        another error is counted and raised."""
        check_buffer(samples, what="transmit buffer")
        c = self.tx_counters
        n = len(samples)
        ptr = samples.__array_interface__["data"][0]
        deadline = time.monotonic() + timeout_s
        done = 0
        with self._tx_lock:
            s = self._tx
            if s is None:
                raise RadioError(f"{self.label}: the TX stream is not started (start(tx=True))")
            first = not self._tx_in_burst
            while True:
                k = min(n - done, self.tx_mtu)
                flags = 0
                if first and done == 0 and time_ns is not None:
                    flags |= HAS_TIME
                if end_burst and done + k == n:
                    flags |= END_BURST
                left = max(deadline - time.monotonic(), 0.0)
                sr = self.dev.writeStream__(s, [ptr + 8 * done], k, flags,
                                            int(time_ns or 0), int(left * 1e6))
                ret = sr.ret
                if ret > 0 or (ret == 0 and k == 0):  # k == 0: an empty END_BURST
                    done += ret
                    self._tx_in_burst = True
                elif ret == TIMEOUT or ret == 0:
                    if time.monotonic() >= deadline:
                        c.timeouts += 1
                        break
                    continue
                elif ret == UNDERFLOW:
                    c.underflows += 1
                    continue
                else:
                    c.stream_errors += 1
                    raise RadioError(f"{self.label}: writeStream failed "
                                     f"({ERRORS.get(ret, ret)})")
                if done >= n:
                    break
            if end_burst and done == n:
                self._tx_in_burst = False
        c.samples += done
        return done

    def tx_status(self, timeout_s: float = 0.0) -> TxStatus | None:
        """What the device said about bursts, waiting up to ``timeout_s``: ``end_burst`` (an
        END_BURST acknowledgement, counted in ``tx_counters.bursts_sent``), ``late``
        (TIME_ERROR: the burst's time had passed; ``late_bursts``), ``underflow``
        (``underflows``), ``error`` (anything else, ``stream_errors``); None when nothing came
        or the driver does not report transmit status."""
        c = self.tx_counters
        with self._tx_lock:
            s = self._tx
            if s is None or not self._tx_status_ok:
                return None
            st = self.dev.readStreamStatus__(s, int(timeout_s * 1e6))
        ret, flags = st.ret, st.flags
        t = int(st.timeNs) if flags & HAS_TIME else None
        if ret == TIMEOUT:
            return None
        if ret == NOT_SUPPORTED:
            self._tx_status_ok = False
            return None
        if ret == 0 and flags & END_BURST:
            c.bursts_sent += 1
            return TxStatus("end_burst", t)
        if ret == TIME_ERROR:
            c.late_bursts += 1
            return TxStatus("late", t, "the burst's time had passed")
        if ret == UNDERFLOW:
            c.underflows += 1
            return TxStatus("underflow", t)
        c.stream_errors += 1
        return TxStatus("error", t, f"readStreamStatus {ERRORS.get(ret, ret)} flags {flags:#x}")

    # time ------------------------------------------------------------------------------
    def hardware_time(self) -> int:
        """The device's time in nanoseconds (RadioError without hardware time)."""
        dev = self._dev()
        if not self.has_hardware_time:
            raise RadioError(f"{self.label}: the device has no hardware time")
        return int(self._call("getHardwareTime", dev.getHardwareTime))

    def set_hardware_time(self, time_ns: int) -> None:
        dev = self._dev()
        if not self.has_hardware_time:
            raise RadioError(f"{self.label}: the device has no hardware time")
        self._call("setHardwareTime", dev.setHardwareTime, int(time_ns))

    def read_sensor(self, key: str) -> str:
        return str(self._call(f"sensor {key!r}", self._dev().readSensor, key))


# ------------------------------------------------------------------------------------------------
# what a device is


def device_report(radio: SoapyRadio, channel: int = 0) -> dict:
    """What an open device reports, in the shape
    :meth:`orbitlink.drivers.profiles.Profile.check_device` takes (and nothing else)::

        {"channels": {"rx": n, "tx": n},
         "samp_rate_ranges": {"rx": [(lo, hi), ...], "tx": [...]},
         "samp_rates": [r, ...],                    # listSampleRates (receive, else transmit)
         "freq_ranges": {"rx": [(lo, hi), ...], "tx": [...]},
         "gain_ranges": {"rx": (lo, hi), "tx": (lo, hi)},
         "gain_elements": {"rx": {name: (lo, hi, step)}, "tx": {...}},
         "antennas": {"rx": [...], "tx": [...]},
         "agc": {"rx": bool, "tx": bool},
         "full_duplex": bool, "has_hardware_time": bool}

    A direction the device does not have (no channel ``channel``) is left out of the
    per-direction entries; ``channels`` always has both."""
    dev = radio._dev()
    t = SoapyRadio._try
    rep = {"channels": {}, "samp_rate_ranges": {}, "samp_rates": [], "freq_ranges": {},
           "gain_ranges": {}, "gain_elements": {}, "antennas": {}, "agc": {},
           "full_duplex": False, "has_hardware_time": bool(radio.has_hardware_time)}
    for name, d in (("rx", RX), ("tx", TX)):
        n = int(t(lambda: dev.getNumChannels(d), 0))
        rep["channels"][name] = n
        if channel >= n:
            continue
        rep["samp_rate_ranges"][name] = _ranges(t(lambda: dev.getSampleRateRange(d, channel),
                                                  []))
        if not rep["samp_rates"]:
            rep["samp_rates"] = [float(r) for r in t(lambda: dev.listSampleRates(d, channel),
                                                     [])]
        rep["freq_ranges"][name] = _ranges(dev.getFrequencyRange(d, channel))
        rep["gain_ranges"][name] = _range3(dev.getGainRange(d, channel))[:2]
        rep["gain_elements"][name] = {str(el): _range3(dev.getGainRange(d, channel, el))
                                      for el in dev.listGains(d, channel)}
        rep["antennas"][name] = [str(a) for a in dev.listAntennas(d, channel)]
        rep["agc"][name] = bool(t(lambda: dev.hasGainMode(d, channel), False))
        rep["full_duplex"] = rep["full_duplex"] or bool(
            t(lambda: dev.getFullDuplex(d, channel), False))
    return rep


def device_facts(radio: SoapyRadio, channel: int = 0) -> dict:
    """What :func:`device_report` leaves out: ``driver``, ``hardware``, ``label``,
    ``can_transmit``, ``drop_detection``, ``reports_overflow``, ``bandwidth_ranges``
    {"rx": [(lo, hi)], ...}, ``clock_sources``, ``time_sources``."""
    dev = radio._dev()
    t = SoapyRadio._try
    bws = {}
    for name, d in (("rx", RX), ("tx", TX)):
        if channel < int(t(lambda: dev.getNumChannels(d), 0)):
            bws[name] = _ranges(t(lambda: dev.getBandwidthRange(d, channel), []))
    return {"driver": radio.driver_key, "hardware": str(t(dev.getHardwareKey, "")),
            "label": radio.label, "can_transmit": bool(radio.can_transmit),
            "drop_detection": radio.drop_detection, "reports_overflow": radio.reports_overflow,
            "bandwidth_ranges": bws,
            "clock_sources": [str(x) for x in t(dev.listClockSources, [])],
            "time_sources": [str(x) for x in t(dev.listTimeSources, [])]}


def list_devices(args="", probe: bool = True) -> list[dict]:
    """What SoapySDR enumerates for ``args`` (e.g. ``"driver=rtlsdr"``; empty: every module,
    which for SoapyRemote means a network discovery): one dict per device with ``args`` (what
    to open it with) and, when ``probe``, the device opened and described by
    :func:`device_report` and :func:`device_facts` (or ``error`` when it cannot be opened)."""
    S = binding()
    text = _args_text(parse_device_args(args)) if not isinstance(args, str) else args
    try:
        found = S.Device.enumerate(text)
    except Exception as e:
        raise RadioError(f"SoapySDR could not enumerate devices for '{text}' ({e})") from None
    out = []
    for kw in found:
        a = _kwargs(kw)
        entry = {"args": a, "driver": a.get("driver", ""), "label": a.get("label", "")}
        if probe:
            radio = SoapyRadio(a)
            try:
                radio.open()
                entry.update(device_report(radio))
                entry.update(device_facts(radio))
            except RadioError as e:
                entry["error"] = str(e)
            finally:
                radio.close()
        out.append(entry)
    return out
