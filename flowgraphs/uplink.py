"""``orbitlink tx`` as a library: payloads -> timed bursts on a transmitting radio.

Each payload is one burst: the link's transmitter (:class:`orbitlink.flowgraphs.links.TxStream`:
preamble, the frame, postamble) at the transmit sample rate, written to the radio with
``Radio.write(samples, time_ns, end_burst=True)``; the radio's status (``tx_status``: end of
burst, underflow, late) decides what the burst became. A late burst is reported late, never
sent.

:class:`Uplink` does the checks, the scheduling and the bookkeeping:

- the hardware profile's checks (:func:`orbitlink.drivers.radio_sink.check_transmit`: the
  transmit flag, a receive-only radio, the allowed frequency ranges, the gain) run in the
  constructor, before any device is opened;
- :meth:`Uplink.submit` checks a payload (the link's payload checker), gives it a transmit time
  (the one asked for, or the first free slot ``lead_s`` from now), refuses it when that time is
  past, overlaps a scheduled burst, or the queue is full, and, with a :class:`DopplerPlan`, when
  the satellite is below the minimum elevation then, or the pre-compensation does not fit the
  sample rate or the allowed ranges; then modulates it (and pre-compensates it for its transmit
  time) and queues it;
- :meth:`Uplink.service` writes the bursts that are due (``lead_s`` ahead of their time, with
  their time, on a radio with a clock; at their time, untimed, on a radio without one) and
  matches the radio's status reports to them; :meth:`Uplink.stop` cancels what is queued and
  waits, bounded, for what is in flight.

UNIX times map to the radio's clock (hardware time, or the replay radio's sample clock) by
reading both clocks just before each burst is written. :func:`transmit_file` and
:func:`serve_bus` drive an :class:`Uplink` from a payload file or the bus's transmit socket.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time as _time
from dataclasses import dataclass, field

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink.flowgraphs.links import Link, TxStream, payload_checker

__all__ = ["UplinkError", "BurstRefused", "BurstResult", "DopplerPlan", "Uplink",
           "transmit_file", "serve_bus", "occupied_bandwidth"]


class UplinkError(OrbitlinkError):
    """The uplink cannot run as asked (one sentence)."""


class BurstRefused(UplinkError):
    """One burst is refused; ``reason`` says why (one phrase)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def occupied_bandwidth(link: Link) -> float:
    """The width (Hz) the link's signal occupies around its carrier: (1 + roll-off) x symbol
    rate for PSK, the FM receiver's IF bandwidth for the FSK family."""
    if link.family == "psk":
        return float((1 + link.rrc_alpha) * link.symbol_rate)
    return float(2 * link.fm_if_half_bandwidth())


@dataclass
class BurstResult:
    """What became of one burst (one JSON line of ``orbitlink tx --json``)."""

    index: int
    bytes: int
    status: str  # sent | late | rejected | unacknowledged | cancelled | error
    requested_time: float | None = None  # UNIX s, as asked (None: as soon as possible)
    scheduled_time: float | None = None  # UNIX s, the time it was given
    tx_time: float | None = None  # UNIX s, the actual time (from the radio's acknowledgement)
    freq_offset_hz: float | None = None  # pre-compensation at the burst's start
    freq_offset_end_hz: float | None = None  # and at its end
    elevation_deg: float | None = None
    duration_s: float | None = None
    underflows: int = 0
    reason: str | None = None
    request_seq: int | None = None  # the bus submission's sequence number

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in (
            "index", "bytes", "status", "requested_time", "scheduled_time", "tx_time",
            "freq_offset_hz", "freq_offset_end_hz", "elevation_deg", "duration_s",
            "underflows", "reason", "request_seq")}
        return {k: v for k, v in d.items() if v is not None or k in (
            "requested_time", "tx_time", "freq_offset_hz")}


class DopplerPlan:
    """Uplink Doppler pre-compensation and elevation mask of one satellite from one station.

    ``offsets(t0, t1)``: the pre-compensation (Hz, to add to the nominal carrier) at the
    burst's first and last sample; ``elevation(t)`` in degrees; ``apply(iq, t0, rate)`` rotates
    a burst whose first sample leaves at ``t0`` (:func:`orbitlink.modem.doppler.
    precompensate_burst`: the offset follows the prediction sample by sample)."""

    def __init__(self, sat, station, freq_hz: float, min_el_deg: float = 0.0):
        from orbitlink.modem import orbit

        self.sat, self.station = sat, station
        self.freq_hz = float(freq_hz)
        self.min_el_deg = float(min_el_deg)
        self.predictor = orbit.DopplerPredictor(sat, station, self.freq_hz, uplink=True)

    @classmethod
    def load(cls, tle, sat_name, station, freq_hz, min_el_deg=0.0) -> "DopplerPlan":
        from orbitlink.modem import orbit

        st = station if isinstance(station, orbit.Station) else orbit.Station.parse(station)
        return cls(orbit.load_satellite(tle, sat_name), st, freq_hz, min_el_deg)

    def offsets(self, t0: float, t1: float) -> tuple[float, float]:
        off = self.predictor(np.array([t0, t1], np.float64))
        return float(off[0]), float(off[1])

    def elevation(self, t: float) -> float:
        from orbitlink.modem import orbit

        return float(orbit.look(self.sat, self.station, np.array([t], np.float64)).el_deg[0])

    def apply(self, iq: np.ndarray, t0: float, rate: float) -> np.ndarray:
        from orbitlink.modem.doppler import precompensate_burst

        return precompensate_burst(iq, rate, t0, self.predictor)


def _radio_now_ns(radio) -> int | None:
    """The radio's clock (ns), or None when it has none: the replay radio's sample clock,
    else the hardware time."""
    f = getattr(radio, "now_ns", None)
    if callable(f):
        return int(f())
    if getattr(radio, "has_hardware_time", False) and callable(
            getattr(radio, "hardware_time", None)):
        return int(radio.hardware_time())
    return None


@dataclass(order=True)
class _Burst:
    t: float  # scheduled UNIX time of the first sample
    order: int
    result: BurstResult = field(compare=False)
    iq: np.ndarray = field(compare=False, repr=False)
    tag: object = field(compare=False, default=None)  # the bus request
    time_ns: int | None = field(compare=False, default=None)  # on the radio's clock
    unix_per_ns: tuple | None = field(compare=False, default=None)  # (u, r) at the write
    written_at: float = field(compare=False, default=0.0)

    @property
    def end(self) -> float:
        return self.t + self.result.duration_s


class Uplink:
    """Bursts of ``link`` on the radio of hardware profile ``profile`` (see the module
    docstring). The checks run here; :meth:`open` opens the device.

    ``doppler``: a :class:`DopplerPlan` (or None); ``clock``: UNIX time (default
    ``time.time``); ``on_result(BurstResult, tag)``: called for every burst's final status
    (``tag`` is what :meth:`submit` was given: the bus request)."""

    def __init__(self, link: Link, profile, *, freq: float, rate: float | None = None,
                 gain: float | None = None, ppm: float = 0.0, device: str = "",
                 transmit: bool = False, doppler: DopplerPlan | None = None, seed: int = 0,
                 lead_s: float = 0.25, guard_s: float = 0.02, ack_timeout_s: float = 1.0,
                 queue: int = 32, clock=None, radio=None, on_result=None):
        from orbitlink.drivers.profiles import Profile, TransmitRefused, load_profile
        from orbitlink.drivers.radio_sink import TRANSMIT_FLAG_REFUSAL, check_transmit

        self.link = link
        self.rate = float(rate or link.samp_rate)
        self.freq = float(freq or 0.0)
        self.doppler = doppler
        self.seed = int(seed)
        self.lead_s, self.guard_s = float(lead_s), float(guard_s)
        self.ack_timeout_s = float(ack_timeout_s)
        if queue < 1:
            raise UplinkError(f"the transmit queue must hold at least one burst, not {queue}")
        self.queue_max = int(queue)
        self.clock = clock or _time.time
        self.on_result = on_result
        self.occupied_bw = occupied_bandwidth(link)
        self.device = device
        prof = profile if isinstance(profile, Profile) else load_profile(profile)
        if prof.tx is not None and transmit is not True:
            raise TransmitRefused(f"{TRANSMIT_FLAG_REFUSAL}: add --transmit to send on "
                                  f"{prof.name}")
        self.profile, self.config, self.warnings = check_transmit(
            prof, samp_rate=self.rate, freq=self.freq, gain=gain, ppm=ppm,
            occupied_bw=self.occupied_bw, transmit=transmit, freq_hint="--freq")
        self._check = payload_checker(link)
        self.radio = radio
        self._opened = False
        self.was_opened = False  # the device was opened (and the counters mean something)
        self.resync_s = 10.0  # how long a reading of the two clocks is used
        self._map = None
        self.timed = False
        self._queue: list[_Burst] = []
        self._inflight: list[_Burst] = []
        self._order = itertools.count()
        self._index = itertools.count()
        self._lock = threading.Lock()
        self.counters = {"submitted": 0, "accepted": 0, "rejected": 0, "written": 0,
                         "sent": 0, "late": 0, "underflows": 0, "unacknowledged": 0,
                         "cancelled": 0, "errors": 0, "samples": 0}

    # device ----------------------------------------------------------------------------------
    def open(self) -> None:
        """Open, check, configure and start the radio (transmit only)."""
        from orbitlink.drivers.radio_sink import open_transmitter

        radio, self.radio = self.radio, None
        self.radio = open_transmitter(self.profile, self.config, self.device, radio)
        self._opened = self.was_opened = True
        self._map = None
        self.timed = _radio_now_ns(self.radio) is not None

    def close(self) -> None:
        if self.radio is None or not self._opened:
            return
        self._opened = False
        try:
            self.radio.stop()
        finally:
            self.radio.close()

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    # scheduling ------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Bursts queued or in flight."""
        return len(self._queue) + len(self._inflight)

    def earliest(self) -> float:
        """The earliest time a burst submitted now can go out."""
        return self.clock() + self.lead_s

    def _slot(self, t_req: float | None, duration: float) -> float:
        busy = sorted((b.t - self.guard_s, b.end + self.guard_s)
                      for b in [*self._queue, *self._inflight])
        if t_req is not None:
            for lo, hi in busy:
                if t_req < hi and t_req + duration > lo:
                    raise BurstRefused(f"tx_time {t_req:.3f} overlaps a burst already "
                                       f"scheduled for {lo + self.guard_s:.3f}")
            return t_req
        t = self.earliest()
        for lo, hi in busy:
            if t + duration > lo and t < hi:
                t = hi
        return t

    def submit(self, payload: bytes, tx_time: float | None = None, *, tag=None,
               request_seq: int | None = None, index: int | None = None) -> BurstResult:
        """Check, schedule, modulate and queue one burst; returns its (accepted) result, or
        raises :class:`BurstRefused` (counted as rejected; also reported to ``on_result``
        when ``tag`` is given)."""
        payload = bytes(payload)
        idx = next(self._index) if index is None else index
        res = BurstResult(idx, len(payload), "accepted", requested_time=tx_time,
                          request_seq=request_seq)
        self.counters["submitted"] += 1
        try:
            self._accept(payload, tx_time, res, tag)
        except BurstRefused as e:
            self.counters["rejected"] += 1
            res.status, res.reason = "rejected", e.reason
            if tag is not None:
                self._report(res, tag)
            raise
        return res

    def _accept(self, payload, tx_time, res, tag):
        why = self._check(payload)
        if why:
            raise BurstRefused(f"payload refused by link {self.link.name}: {why}")
        if tx_time is not None:
            if isinstance(tx_time, bool) or not isinstance(tx_time, (int, float)) or \
                    not math.isfinite(tx_time):
                raise BurstRefused(f"tx_time {tx_time!r} is not a UNIX time in seconds")
            now = self.clock()
            if tx_time < now:
                raise BurstRefused(f"tx_time {tx_time:.3f} is {now - tx_time:.3f} s in the past")
            if self.timed and tx_time < now + 0.5 * self.lead_s:
                raise BurstRefused(f"tx_time {tx_time:.3f} is too soon: the radio needs the "
                                   f"burst at least {0.5 * self.lead_s:g} s ahead")
        if len(self._queue) >= self.queue_max:
            raise BurstRefused(f"the transmit queue is full ({self.queue_max} bursts)")
        parts = list(TxStream(self.link, [payload], seed=self.seed, samp_rate=self.rate))
        iq = np.ascontiguousarray(np.concatenate(parts) if parts else
                                  np.zeros(0, np.complex64), np.complex64)
        res.duration_s = len(iq) / self.rate
        t = self._slot(tx_time, res.duration_s)
        res.scheduled_time = t
        if self.doppler is not None:
            self.check_doppler(res, t)
            iq = self.doppler.apply(iq, t, self.rate)
        b = _Burst(t, next(self._order), res, iq, tag)
        with self._lock:
            heapq.heappush(self._queue, b)
        res.status = "accepted"
        self.counters["accepted"] += 1

    def check_doppler(self, res: BurstResult, t0: float) -> None:
        """With a :class:`DopplerPlan`: refuse (:class:`BurstRefused`) a burst of
        ``res.duration_s`` seconds from ``t0`` when the satellite is below the mask then, or
        its pre-compensation does not fit the sample rate or the allowed transmit ranges;
        else record the elevation and the offsets at both ends in ``res``."""
        from orbitlink.drivers.profiles import TransmitRefused, fmt_hz
        from orbitlink.flowgraphs.passes import samp_rate_for

        d = self.doppler
        el = d.elevation(t0)
        res.elevation_deg = round(el, 3)
        if el < d.min_el_deg:
            raise BurstRefused(f"{d.sat.name} is at {el:.1f} deg elevation at the transmit "
                               f"time, below the minimum of {d.min_el_deg:g} deg")
        t1 = t0 + res.duration_s
        off0, off1 = d.offsets(t0, t1)
        res.freq_offset_hz, res.freq_offset_end_hz = round(off0, 3), round(off1, 3)
        worst = max(abs(off0), abs(off1))
        need = samp_rate_for(self.link, worst)
        if need > self.rate:
            raise BurstRefused(f"the uplink pre-compensation reaches {worst / 1e3:.1f} kHz, "
                               f"more than a {fmt_hz(self.rate)} sample rate holds with the "
                               f"signal; give --rate {need:g} or more")
        lo, hi = min(off0, off1), max(off0, off1)
        try:
            self.profile.check_tx_freq(self.freq + (lo + hi) / 2,
                                       self.occupied_bw + (hi - lo))
        except TransmitRefused as e:
            raise BurstRefused(f"with the pre-compensation: {e}") from None

    # the radio -------------------------------------------------------------------------------
    def next_due(self) -> float | None:
        """Seconds until the next burst must be written (None: nothing queued)."""
        if not self._queue:
            return None
        ahead = self.lead_s if self.timed else 0.0
        return max(0.0, self._queue[0].t - ahead - self.clock())

    def service(self) -> None:
        """Write the bursts that are due, read the radio's status reports, time out the
        acknowledgements that did not come."""
        ahead = self.lead_s if self.timed else 0.0
        while True:
            with self._lock:
                if not self._queue or self._queue[0].t - ahead > self.clock():
                    break
                b = heapq.heappop(self._queue)
            self._write(b)
        self._collect(0.0)
        self._expire(force=False)

    def _write(self, b: _Burst) -> None:
        from orbitlink.drivers.radio import RadioError

        u = self.clock()
        if self.timed:
            b.unix_per_ns = self._clock_map(u)
            u0, r0 = b.unix_per_ns
            b.time_ns = r0 + int(round((b.t - u0) * 1e9))
        b.written_at = u
        x, n = b.iq, 0
        try:
            while n < len(x):
                k = self.radio.write(x[n:], time_ns=b.time_ns if n == 0 else None,
                                     end_burst=True, timeout_s=1.0)
                if k <= 0:
                    raise RadioError(f"{self.profile.name}: the radio accepted no samples of "
                                     f"burst {b.result.index} ({n} of {len(x)} written)")
                n += k
        except RadioError as e:
            self.counters["errors"] += 1
            b.result.status, b.result.reason = "error", str(e)
            self._report(b.result, b.tag)
            return
        self.counters["written"] += 1
        self.counters["samples"] += len(x)
        b.iq = np.zeros(0, np.complex64)  # not needed any more
        self._inflight.append(b)

    def _clock_map(self, now: float) -> tuple[float, int]:
        """(UNIX time, radio time in ns) read together: the tightest of three brackets,
        kept for ``resync_s`` so that bursts scheduled apart go out exactly as far apart."""
        if self._map is not None and now - self._map[0] < self.resync_s:
            return self._map
        best = None
        for _ in range(3):
            u1 = self.clock()
            r = _radio_now_ns(self.radio)
            u2 = self.clock()
            if best is None or u2 - u1 < best[0]:
                best = (u2 - u1, (u1 + u2) / 2, r)
            if u2 - u1 < 1e-4:
                break
        self._map = (best[1], best[2])
        return self._map

    def _unix(self, b: _Burst, time_ns: int | None) -> float:
        if b.unix_per_ns is None:  # no radio clock: when it was written
            return b.written_at if time_ns is None else b.t
        if time_ns is None:
            return b.t
        u, r = b.unix_per_ns
        return u + (int(time_ns) - r) / 1e9

    def _collect(self, timeout: float) -> None:
        while self._inflight:
            st = self.radio.tx_status(timeout)
            if st is None:
                return
            timeout = 0.0
            b = self._inflight[0]
            if st.time_ns is not None:  # a report that says which burst it is about
                b = next((c for c in self._inflight if c.time_ns == st.time_ns), b)
            if st.event == "underflow":
                b.result.underflows += 1
                self.counters["underflows"] += 1
                continue
            self._inflight.remove(b)
            res = b.result
            if st.event == "end_burst":
                res.status, res.tx_time = "sent", self._unix(b, st.time_ns)
                self.counters["sent"] += 1
            elif st.event == "late":
                res.status = "late"
                res.reason = "late: the radio's time had passed the burst's" + (
                    f" ({st.detail})" if st.detail else "")
                self.counters["late"] += 1
            else:
                res.status, res.reason = "error", f"the radio reported {st.event}: {st.detail}"
                self.counters["errors"] += 1
            self._report(res, b.tag)

    def _expire(self, force: bool) -> None:
        now = self.clock()
        for b in list(self._inflight):
            if force or now > max(b.t, b.written_at) + b.result.duration_s + \
                    self.ack_timeout_s:
                self._inflight.remove(b)
                b.result.status = "unacknowledged"
                b.result.reason = (f"unacknowledged: the radio did not confirm the burst "
                                   f"within {self.ack_timeout_s:g} s of its end (it may have "
                                   "gone out)")
                self.counters["unacknowledged"] += 1
                self._report(b.result, b.tag)

    def _report(self, res: BurstResult, tag) -> None:
        if self.on_result is not None:
            self.on_result(res, tag)

    def step(self, stop: threading.Event | None = None, collect_s: float = 0.05) -> None:
        """One turn of the scheduler: wait for an acknowledgement (at most ``collect_s``, or
        until the next burst is due) while bursts are in flight, else until the next one is
        due (at most 0.05 s, or until ``stop``); then hand over what is due."""
        due = self.next_due()
        if self._inflight:
            self._collect(min(collect_s, due) if due is not None else 0.05)
        elif due:
            (stop.wait if stop is not None else _time.sleep)(min(0.05, due))
        self.service()

    def wait_idle(self, stop: threading.Event | None = None) -> None:
        """Transmit everything queued and wait for the acknowledgements (until ``stop``)."""
        while self.pending and not (stop is not None and stop.is_set()):
            self.step(stop)

    def stop(self, reason: str = "stopped before its transmit time",
             wait_s: float = 1.5) -> None:
        """Cancel the queued bursts; wait up to ``wait_s`` for the acknowledgements of those
        in flight, then give them up (unacknowledged)."""
        with self._lock:
            queued, self._queue = sorted(self._queue), []
        for b in queued:
            self.counters["cancelled"] += 1
            b.result.status, b.result.reason = "cancelled", reason
            self._report(b.result, b.tag)
        t_end = _time.monotonic() + wait_s
        while self._inflight and _time.monotonic() < t_end:
            self._collect(0.05)
        self._expire(force=True)


# --------------------------------------------------------------------------------------------
# drivers


def transmit_file(up: Uplink, payloads, *, stop: threading.Event | None = None) -> None:
    """One burst per payload of the iterable ``payloads`` (already checked), back to back
    (``guard_s`` apart) from ``lead_s`` after now; at most the queue's size are modulated
    ahead. A refused burst (below the elevation mask, Doppler beyond the sample rate) stops
    the transmission: :class:`BurstRefused` is raised after what is in flight is
    acknowledged."""
    it = iter(payloads)
    more = True
    while more or up.pending:
        if stop is not None and stop.is_set():
            up.stop()
            return
        while more and len(up._queue) < up.queue_max:
            p = next(it, None)
            if p is None:
                more = False
                break
            try:
                up.submit(p)
            except BurstRefused:
                up.stop(reason="not sent: an earlier burst was refused")
                raise
        up.step(stop, collect_s=0.02)


def serve_bus(up: Uplink, endpoint, *, station: str = "station",
              stop: threading.Event | None = None, duration: float | None = None,
              on_listen=None, endpoint_kw: dict | None = None) -> dict:
    """Serve transmit submissions on the bus's transmit socket (ROUTER, :class:`orbitlink.
    flowgraphs.bus.TxEndpoint`) until ``stop`` is set or ``duration`` seconds have passed:
    each valid submission ``[header kind=5, meta, payload]`` (meta ``tx_time``: UNIX s, else
    as soon as possible) is answered ``accepted`` or ``rejected`` (with the reason), then
    ``sent`` with the actual transmit time when the radio acknowledged it (or ``rejected``:
    late, cancelled at the stop, unacknowledged). Malformed messages are answered by the
    endpoint and counted. Binds the socket, then opens the radio if it is not open yet.
    Returns the endpoint's counters."""
    from orbitlink.flowgraphs.bus import TxEndpoint

    stop = stop or threading.Event()
    ep = TxEndpoint(endpoint, station=station, link=up.link.name, **(endpoint_kw or {}))
    user_cb = up.on_result

    def on_result(res: BurstResult, req):
        if req is not None:
            if res.status == "sent":
                ep.reply(req, "sent", tx_time=res.tx_time, burst=res.index,
                         freq_offset_hz=res.freq_offset_hz)
            else:
                ep.reply(req, "rejected", reason=res.reason or res.status,
                         burst=res.index)
        if user_cb is not None:
            user_cb(res, req)

    up.on_result = on_result
    t_end = None if duration is None else _time.monotonic() + float(duration)
    try:
        if not up._opened:  # the socket first: a port in use is refused before the radio
            up.open()
        if on_listen is not None:
            on_listen(ep.endpoint)
        while not stop.is_set() and (t_end is None or _time.monotonic() < t_end):
            due = up.next_due()
            wait = 0.05 if due is None else min(0.05, due)
            if up._inflight:
                up._collect(min(wait, 0.02))
                wait = 0.0
            for req in ep.poll(wait):
                t = req.meta.get("tx_time")
                try:
                    res = up.submit(req.payload, t, tag=req, request_seq=req.seq)
                except BurstRefused:
                    continue  # answered 'rejected' through on_result
                ep.reply(req, "accepted", burst=res.index, scheduled_time=res.scheduled_time,
                         freq_offset_hz=res.freq_offset_hz)
            up.service()
        up.stop()
    finally:
        up.on_result = user_cb
        counters = dict(ep.counters)
        ep.close()
    return counters
