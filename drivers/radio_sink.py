"""A radio as a graph's sink (``radio_sink``): the stream is transmitted as one burst.

Transmitting cannot go wrong by accident:

- nothing transmits unless the command line said so: :attr:`RadioSink.transmit_allowed` is set
  only by ``orbitlink run --transmit`` (a graph file cannot set it);
- the hardware profile is required, and its checks run before any device is opened: a
  receive-only radio, a frequency outside the profile's allowed transmit ranges, a gain above
  its maximum, a rate the radio cannot do are refused with one sentence
  (:class:`orbitlink.drivers.profiles.TransmitRefused`);
- once the device is open, a profile that contradicts what the device reports is refused.

The burst starts at ``start_time`` (UNIX seconds; 0: ``lead_s`` after the radio is started, on
its clock) and ends with END_BURST when the stream ends; the radio's acknowledgement (end of
burst, underflow, late) is waited for and counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from orbitlink.drivers.interfaces import Sink, StreamInfo, register_sink
from orbitlink.drivers.radio import RadioError, radio_for_profile
from orbitlink.modem.block import param

__all__ = ["RadioSink", "TRANSMIT_FLAG_REFUSAL", "check_transmit", "open_transmitter"]

TRANSMIT_FLAG_REFUSAL = ("nothing transmits without --transmit on the command line")


def check_transmit(profile, *, samp_rate: float, freq: float, gain: float | None,
                   ppm: float = 0.0, occupied_bw: float = 0.0, transmit: bool,
                   freq_hint: str = "radio_sink freq"):
    """The profile's transmit checks, pure (nothing is opened): ``profile`` a name, a file or a
    :class:`~orbitlink.drivers.profiles.Profile`. Returns ``(profile, RadioConfig, warnings)``;
    refuses with :class:`~orbitlink.drivers.profiles.TransmitRefused` or ``ConfigRefused``
    (one sentence). ``freq_hint`` names where the frequency is given."""
    from orbitlink.drivers.profiles import Profile, TransmitRefused, load_profile

    if not profile:
        raise RadioError("a hardware profile is required to transmit (see 'orbitlink profiles')")
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    cfg = prof.config("tx", samp_rate=float(samp_rate), center_freq=freq or None,
                      gain=gain, ppm=ppm)
    if not freq:
        raise TransmitRefused(f"{prof.name}: give the transmit frequency ({freq_hint})")
    warnings = prof.check_tx(cfg, transmit=transmit, occupied_bw=occupied_bw)
    return prof, cfg, warnings


def open_transmitter(prof, cfg, device: str = "", radio=None):
    """Open, check against the profile, configure and start (transmit only) the radio of a
    checked profile and configuration (:func:`check_transmit`); returns the radio. A radio
    that fails on the way is closed."""
    if radio is None:
        radio = radio_for_profile(prof, device)
    radio.open()
    try:
        if getattr(radio, "driver_name", "") == "soapy":
            from orbitlink.drivers.soapy import device_report

            prof.check_device(device_report(radio))
        try:
            radio.configure(cfg, "tx")
        except TypeError:  # drivers with one direction
            radio.configure(cfg)
        radio.start(rx=False, tx=True)
    except BaseException:
        radio.close()
        raise
    return radio


@dataclass(frozen=True)
class RadioSinkParams:
    """Parameters of :class:`RadioSink`."""

    profile: str = param("", "Hardware profile (a name of 'orbitlink profiles' or a file)")
    device: str = param("", "Device arguments on top of the profile's (key=value,...; for "
                        "the loopback profile tx_file=BASE, the recording the burst goes to)")
    freq: float = param(0.0, "Transmit frequency (nominal)", unit="Hz", lo=0.0)
    gain: float = param(-1000.0, "Overall transmit gain (required)", unit="dB", lo=-1000.0,
                        hi=200.0)
    ppm: float = param(0.0, "Reference frequency correction", unit="ppm", lo=-1000.0,
                       hi=1000.0)
    occupied_bw: float = param(0.0, "Bandwidth the signal occupies (checked against the "
                               "allowed ranges)", unit="Hz", lo=0.0)
    start_time: float = param(0.0, "UNIX time of the first sample (0: lead_s after start)",
                              unit="s", lo=0.0)
    lead_s: float = param(0.2, "How long after the start the burst goes out", unit="s",
                          lo=0.0, hi=60.0)
    ack_timeout_s: float = param(1.0, "Wait this long for the end-of-burst acknowledgement",
                                 unit="s", lo=0.0, hi=60.0)


@register_sink
class RadioSink(Sink):
    """Transmits its input as one burst.

    Input
    -----
    c64 IQ samples at the stream's rate (full scale +-1).
    """

    name = "radio_sink"
    Params = RadioSinkParams
    in_types = ("c64",)

    def __init__(self, params=None, radio=None, **kw):
        super().__init__(params, **kw)
        self.radio = radio
        self.transmit_allowed = False  # only the command line sets it (--transmit)
        self._time_ns = None
        self._pending = None

    def check(self, samp_rate: float):
        """The profile's checks (raise before anything is opened); returns (profile, config)."""
        p = self.params
        if not p.profile:
            raise RadioError("radio_sink: a hardware profile is required to transmit "
                             "(see 'orbitlink profiles')")
        prof, cfg, self.warnings = check_transmit(
            p.profile, samp_rate=samp_rate, freq=p.freq,
            gain=None if p.gain <= -1000 else p.gain, ppm=p.ppm, occupied_bw=p.occupied_bw,
            transmit=self.transmit_allowed)
        return prof, cfg

    def open(self, info: StreamInfo) -> None:
        super().open(info)
        prof, cfg = self.check(info.samp_rate)  # nothing is opened before this passes
        self.counters = {"samples": 0, "bursts": 0, "late": 0, "underflows": 0, "acks": 0}
        radio, self.radio = self.radio, None  # closed by open_transmitter if it fails
        self.radio = open_transmitter(prof, cfg, self.params.device, radio)
        p = self.params
        if p.start_time:
            self._time_ns = int(round(p.start_time * 1e9))
        else:
            now = getattr(self.radio, "hardware_time", None)
            t = now() if callable(now) else None
            self._time_ns = None if t is None else int(t + p.lead_s * 1e9)

    def write(self, items) -> None:
        x = np.ascontiguousarray(items, np.complex64)
        if not len(x):
            return
        # hold one chunk back so that the last one carries END_BURST
        if self._pending is not None:
            self._send(self._pending, end=False)
        self._pending = x

    def _send(self, x, end: bool):
        n = 0
        while n < len(x):
            k = self.radio.write(x[n:], time_ns=self._time_ns if self.counters["samples"] == 0
                                 and n == 0 else None, end_burst=end, timeout_s=1.0)
            if k <= 0:
                raise RadioError(f"{self.params.profile}: the radio accepted no samples "
                                 f"({self.counters['samples'] + n} sent)")
            n += k
        self.counters["samples"] += len(x)

    def close(self) -> None:
        if self.radio is None:
            return
        try:
            if self._pending is not None:
                self._send(self._pending, end=True)
                self._pending = None
                self.counters["bursts"] += 1
                t_end = time.monotonic() + self.params.ack_timeout_s
                while time.monotonic() < t_end:
                    st = self.radio.tx_status(0.05)
                    if st is None:
                        continue
                    if st.event == "late":
                        self.counters["late"] += 1
                    elif st.event == "underflow":
                        self.counters["underflows"] += 1
                    elif st.event == "end_burst":
                        self.counters["acks"] += 1
                        break
        finally:
            try:
                self.radio.stop()
            finally:
                self.radio.close()
                self.counters.update({f"radio_{k}": v for k, v in
                                      self.radio.tx_counters.to_dict().items() if v})
