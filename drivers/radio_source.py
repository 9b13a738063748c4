"""A radio as a graph's source (``radio_source``): any driver of :mod:`orbitlink.drivers.radio`.

The source reads the radio into chunks and keeps the stream's sample index aligned with the
radio's: a gap the driver knows the length of (from hardware time or a sample counter) is filled
with zeros, up to ``max_fill_s`` seconds, so that absolute time (Doppler correction, frame
times) stays right; every gap goes into :attr:`RadioSource.gap_log`, from which the frames whose
samples span it are flagged (``gaps``, ``gap_samples`` in their metadata). Overflows, timeouts
and dropped samples are the driver's counters; the source adds what it filled.
"""

from __future__ import annotations

import queue
import threading
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
    read_size: int = param(16384, "Samples asked of the radio per read", lo=1, hi=1 << 24)
    gather_s: float = param(0.02, "Gather reads into one chunk until it holds this long of "
                            "signal (at most the runner's chunk): fewer, larger chunks at high "
                            "rates, no added latency at low ones (0: a chunk per read)",
                            unit="s", lo=0.0, hi=10.0)
    max_fill_s: float = param(10.0, "Fill a known gap with zeros up to this long", unit="s",
                              lo=0.0, hi=3600.0)
    duration_s: float = param(0.0, "Stop after this long of signal (0: when the radio ends)",
                              unit="s", lo=0.0)
    timeout_s: float = param(0.5, "Wait this long for samples before counting a timeout",
                             unit="s", lo=0.001, hi=60.0)
    skip_s: float = param(0.0, "Read and discard this long of signal first (a recording "
                          "replayed up to the start of a pass); the stream's sample 0 is the "
                          "first sample after it", unit="s", lo=0.0)
    medium: str = param("iq", "iq: complex samples; audio: the real part, a receiver's audio "
                        "(a recording of FM or SSB audio played by the replay radio)",
                        choices=("iq", "audio"))


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
        if self.params.medium == "audio":
            self.out_type = "f32"
        self.radio = radio
        self.gap_log = GapLog()
        self.stop_requested = False
        self.paused = False  # set by pause(): the radio's stream is stopped until resume()
        self._rebase = False
        self._opened = False
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self.center_freq = None
        self.start_time_ns = None  # the radio's time of the first sample, when it has one

    @property
    def live_policy(self) -> str:
        """The live runner's queue policy: a radio cannot wait, so the oldest samples are
        dropped (and counted) when the blocks fall behind; a recording replayed unpaced
        (``rate=max``) and a ZeroMQ stream (back-pressured) wait instead."""
        from orbitlink.drivers.radio import parse_device_args

        p = self.params
        driver = p.driver
        if p.profile:
            try:
                from orbitlink.drivers.profiles import load_profile

                driver = {"file": "replay"}.get(load_profile(p.profile).driver, "soapy")
            except Exception:  # reported when the source opens
                return "drop"
        try:
            args = parse_device_args(p.device)
        except Exception:
            return "drop"
        if driver == "zmq" or (driver == "replay" and str(args.get("rate", "")) == "max"):
            return "block"
        return "drop"

    # requests from other threads (control): run by the reading thread between two reads ---
    def call(self, fn, timeout_s: float = 2.0):
        """Run ``fn(radio)`` in the thread that reads the radio, between two reads (a radio
        is not asked to retune while it streams into a buffer), and return its result; its
        exception is raised here. :class:`RadioError` when the reader does not get to it in
        ``timeout_s`` (the stream is not running)."""
        done = threading.Event()
        box = {}
        self._calls.put((fn, box, done))
        if not done.wait(timeout_s):
            box["abandoned"] = True
            raise RadioError(f"the radio did not take the request within {timeout_s:g} s "
                             "(is the stream running?)")
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def _run_calls(self) -> None:
        while True:
            try:
                fn, box, done = self._calls.get_nowait()
            except queue.Empty:
                return
            if box.get("abandoned"):
                continue
            try:
                box["result"] = fn(self.radio)
            except Exception as e:  # handed to the caller
                box["error"] = e
            done.set()

    def retune(self, freq: float) -> RadioConfig:
        """Tune to ``freq`` (nominal Hz, the profile's ppm applied); what the radio set."""
        cfg = self.config()

        def do(radio):
            got = radio.configure(RadioConfig(center_freq=float(freq), ppm=cfg.ppm,
                                              channel=cfg.channel))
            self.center_freq = got.center_freq
            return got
        return self.call(do)

    def set_gain(self, gain: float) -> RadioConfig:
        cfg = self.config()
        return self.call(lambda radio: radio.configure(
            RadioConfig(gain=float(gain), channel=cfg.channel)))

    def pause(self) -> None:
        """Stop the radio's stream (the run goes on; nothing is read until resume())."""
        def do(radio):
            if not self.paused:
                radio.stop()
                self.paused = True
        self.call(do)

    def resume(self) -> None:
        def do(radio):
            if self.paused:
                radio.start(rx=True)
                self.paused = False
                self._rebase = True
        self.call(do)

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
        self.profile = None
        if p.profile:
            from orbitlink.drivers.profiles import load_profile

            prof = load_profile(p.profile)
            cfg = prof.config("rx", **{k: v for k, v in vars(cfg).items()
                                       if v not in (None, {}, 0, 0.0) or k == "ppm"})
            self.warnings = prof.check_rx(cfg)  # refused before the device is opened
            self.profile = prof
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
        if p.medium != getattr(self.radio, "medium", "iq"):
            raise RadioError(f"{info.get('label', p.driver)}: the radio delivers "
                             f"{getattr(self.radio, 'medium', 'iq')} samples, the graph expects "
                             f"{p.medium} (radio_source medium)")
        self.center_freq = got.center_freq
        # the stream starts when the samples are first asked for (chunks()): whatever waits
        # between the opening and the first read (sinks waiting for their consumers) does not
        # cost samples
        self._streaming = False
        self.counters = {"samples": 0, "filled_samples": 0, "unfilled_gaps": 0}
        dt = info.get("datetime")
        if dt and p.skip_s:  # the stream starts after the skipped part
            from orbitlink.modem.orbit import iso, parse_time

            dt = iso(parse_time(dt) + round(p.skip_s * self.rate) / self.rate, 6)
        return StreamInfo(samp_rate=self.rate, out_type=self.out_type,
                          name=info.get("label", p.driver), center_freq=got.center_freq,
                          datetime=dt, num_samples=info.get("num_samples"),
                          extra={"drop_detection": self.radio.drop_detection,
                                 "warnings": list(info.get("warnings", []))})

    def chunks(self, n: int) -> Iterator[np.ndarray]:
        p = self.params
        # a radio hands out at most its MTU a read (a few thousand samples): at high rates the
        # reads are gathered into chunks of up to ``n`` samples (``gather_s`` of signal), so
        # that the blocks are called less often; at low rates a read is a chunk, as it comes
        gather = max(1, min(int(n), int(p.gather_s * self.rate)))
        size = max(1, min(int(n), max(p.read_size, gather)))
        per_read = max(1, min(size, p.read_size))
        buf = np.empty(size, np.complex64)
        audio = p.medium == "audio"
        zeros_type = np.float32 if audio else np.complex64

        def take(k):  # the first k samples read, as the graph wants them
            return buf[:k].real.copy() if audio else buf[:k].copy()

        index = 0  # delivered samples so far (== the radio's index while gaps are filled)
        filled = 0  # samples read into buf, not yet delivered (they follow ``index``)
        limit = int(p.duration_s * self.rate) if p.duration_s else None
        max_fill = int(p.max_fill_s * self.rate)
        c = self.counters
        if not self._streaming:
            self.radio.start(rx=True)
            self._streaming = True
        skip = int(round(p.skip_s * self.rate))
        base = 0  # the radio's index of the stream's sample 0
        if skip:
            c["skipped_samples"] = 0
        while skip > 0 and not self.stop_requested:  # before sample 0: not part of the stream
            r = self.radio.read(buf[:min(per_read, skip)], p.timeout_s)
            if r.n:
                base = r.sample_index + r.n
                skip = int(round(p.skip_s * self.rate)) - base
            c["skipped_samples"] += r.n
            if r.event == "end":
                return
        while not self.stop_requested:
            if limit is not None and index + filled >= limit:
                break
            self._run_calls()
            if self.paused:
                if filled:
                    c["samples"] += filled
                    index += filled
                    out, filled = take(filled), 0
                    yield out
                time.sleep(0.02)
                continue
            want = min(per_read, size - filled)
            if limit is not None:
                want = min(want, limit - index - filled)
            r = self.radio.read(buf[filled:filled + want], p.timeout_s)
            at = index + filled  # where this read's samples go when nothing was lost
            si = r.sample_index - base
            if self._rebase and r.n:  # resumed: the time the stream was stopped is not filled
                self._rebase = False
                if si > at:
                    self.gap_log.add(at, si - at)
                    c["paused_samples"] = c.get("paused_samples", 0) + si - at
                    base += si - at
                    si = at
            if self.start_time_ns is None and r.time_ns is not None and r.n:
                self.start_time_ns = r.time_ns - int(round(si * 1e9 / self.rate))
            if r.gap > 0 or (r.n and si > at):
                lost = max(r.gap, si - at) if r.n else r.gap
                if lost:
                    if filled:  # what came before the gap goes first
                        out = take(filled)
                        index += filled
                        c["samples"] += filled
                        buf[:r.n] = buf[filled:filled + r.n].copy()
                        filled = 0
                        yield out
                    fill = min(lost, max_fill)
                    if fill < lost:  # the stream goes on from here: later times shift
                        c["unfilled_gaps"] += 1
                        base += lost - fill
                    self.gap_log.add(index + fill, lost)
                    while fill > 0:
                        k = min(fill, size)
                        yield np.zeros(k, zeros_type)
                        index += k
                        fill -= k
                        c["filled_samples"] += k
            filled += r.n
            if r.event == "end":
                break
            if filled and (filled >= gather or filled == size or r.event == "timeout"):
                out = take(filled)
                index += filled
                c["samples"] += filled
                filled = 0
                yield out
            elif not r.n and r.event == "timeout":
                time.sleep(0)
        if filled:  # the end, the duration or a stop: what was read is delivered
            c["samples"] += filled
            yield take(filled)

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
