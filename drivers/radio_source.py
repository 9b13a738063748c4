"""A radio as a graph's source (``radio_source``): any driver of :mod:`orbitlink.drivers.radio`.

The source reads the radio into chunks and keeps the stream's sample index aligned with the
radio's: a gap the driver knows the length of (from hardware time or a sample counter) is filled
with zeros, up to ``max_fill_s`` seconds, so that absolute time (Doppler correction, frame
times) stays right; every gap goes into :attr:`RadioSource.gap_log`, from which the frames whose
samples span it are flagged (``gaps``, ``gap_samples`` in their metadata). Overflows, timeouts
and dropped samples are the driver's counters; the source adds what it filled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from orbitlink.drivers.interfaces import Source, StreamInfo, register_source
from orbitlink.drivers.radio import GapLog, RadioConfig, RadioError, open_radio
from orbitlink.modem.block import param

__all__ = ["RadioSource"]


@dataclass(frozen=True)
class RadioSourceParams:
    """Parameters of :class:`RadioSource`."""

    profile: str = param("", "Hardware profile (a name of 'orbitlink profiles' or a file): "
                         "its driver, its checks of the settings before the device is opened, "
                         "and of the device once it is ('' : driver and device only)")
    driver: str = param("replay", "Radio driver without a profile: soapy, replay (a recording "
                        "as a radio), zmq (GNU Radio-compatible IQ over ZeroMQ)")
    device: str = param("", "Device arguments, key=value,... (e.g. driver=rtlsdr,serial=1 for "
                        "soapy; file=pass.sigmf-meta,rate=max for replay)")
    samp_rate: float = param(0.0, "Sample rate (0: the device's)", unit="Hz", lo=0.0)
    freq: float = param(0.0, "Centre frequency (0: leave)", unit="Hz", lo=0.0)
    ppm: float = param(0.0, "Reference frequency correction", unit="ppm", lo=-1000.0,
                       hi=1000.0)
    gain: float = param(-1000.0, "Overall gain (-1000: leave)", unit="dB", lo=-1000.0,
                        hi=200.0)
    bandwidth: float = param(0.0, "Analog bandwidth (0: leave)", unit="Hz", lo=0.0)
    antenna: str = param("", "Antenna ('' : the default)")
    channel: int = param(0, "Channel", lo=0, hi=64)
    read_size: int = param(16384, "Samples per read", lo=1, hi=1 << 24)
    max_fill_s: float = param(10.0, "Fill a known gap with zeros up to this long", unit="s",
                              lo=0.0, hi=3600.0)
    duration_s: float = param(0.0, "Stop after this long of signal (0: when the radio ends)",
                              unit="s", lo=0.0)
    timeout_s: float = param(0.5, "Wait this long for samples before counting a timeout",
                             unit="s", lo=0.001, hi=60.0)


@register_source
class RadioSource(Source):
    """IQ samples from a radio.

    Output
    ------
    c64 IQ samples at the radio's sample rate; gaps of known length filled with zeros.
    """

    name = "radio_source"
    Params = RadioSourceParams
    out_type = "c64"

    def __init__(self, params=None, radio=None, **kw):
        super().__init__(params, **kw)
        self.radio = radio
        self.gap_log = GapLog()
        self.stop_requested = False
        self._opened = False

    def config(self) -> RadioConfig:
        p = self.params
        return RadioConfig(samp_rate=p.samp_rate or None, center_freq=p.freq or None,
                           ppm=p.ppm, bandwidth=p.bandwidth or None,
                           gain=None if p.gain <= -1000 else p.gain,
                           antenna=p.antenna or None, channel=p.channel)

    def open(self) -> StreamInfo:
        p = self.params
        cfg = self.config()
        prof = None
        if p.profile:
            from orbitlink.drivers.profiles import load_profile

            prof = load_profile(p.profile)
            cfg = prof.config("rx", **{k: v for k, v in vars(cfg).items()
                                       if v not in (None, {}, 0, 0.0) or k == "ppm"})
            self.warnings = prof.check_rx(cfg)  # refused before the device is opened
        if self.radio is None:
            if prof is not None:
                from orbitlink.drivers.radio import radio_for_profile

                self.radio = radio_for_profile(prof, p.device)
            else:
                self.radio = open_radio(p.driver, p.device)
        info = self.radio.open() or {}
        self._opened = True
        if prof is not None and getattr(self.radio, "driver_name", "") == "soapy":
            from orbitlink.drivers.soapy import device_report

            prof.check_device(device_report(self.radio))
        got = self.radio.configure(cfg)
        rate = got.samp_rate or getattr(self.radio, "samp_rate", None)
        if not rate:
            raise RadioError(f"{p.driver}: the radio did not say its sample rate; give one")
        self.rate = float(rate)
        self.radio.start(rx=True)
        self.counters = {"samples": 0, "filled_samples": 0, "unfilled_gaps": 0}
        return StreamInfo(samp_rate=self.rate, out_type="c64",
                          name=info.get("label", p.driver), center_freq=got.center_freq,
                          datetime=info.get("datetime"), num_samples=info.get("num_samples"),
                          extra={"drop_detection": self.radio.drop_detection,
                                 "warnings": list(info.get("warnings", []))})

    def chunks(self, n: int) -> Iterator[np.ndarray]:
        p = self.params
        size = max(1, min(int(n), p.read_size))
        buf = np.empty(size, np.complex64)
        index = 0  # delivered samples so far (== the radio's index while gaps are filled)
        limit = int(p.duration_s * self.rate) if p.duration_s else None
        max_fill = int(p.max_fill_s * self.rate)
        while not self.stop_requested:
            if limit is not None and index >= limit:
                return
            want = size if limit is None else min(size, limit - index)
            r = self.radio.read(buf[:want], p.timeout_s)
            if r.gap > 0 or (r.n and r.sample_index > index):
                lost = max(r.gap, r.sample_index - index) if r.n else r.gap
                if lost:
                    fill = min(lost, max_fill)
                    if fill < lost:
                        self.counters["unfilled_gaps"] += 1
                    self.gap_log.add(index + fill, lost)
                    while fill > 0:
                        k = min(fill, size)
                        yield np.zeros(k, np.complex64)
                        index += k
                        fill -= k
                        self.counters["filled_samples"] += k
            if r.event == "end":
                if r.n:
                    yield buf[:r.n].copy()
                    index += r.n
                    self.counters["samples"] += r.n
                return
            if r.n:
                out = buf[:r.n].copy()
                index += r.n
                self.counters["samples"] += r.n
                yield out
            elif r.event == "timeout":
                time.sleep(0)

    def close(self) -> None:
        if self.radio is not None and self._opened:
            try:
                self.radio.stop()
            finally:
                self.radio.close()
                self._opened = False
        if self.radio is not None:
            self.counters.update({f"radio_{k}": v for k, v in
                                  self.radio.counters.to_dict().items()})
            self.counters["drop_detection"] = self.radio.drop_detection
