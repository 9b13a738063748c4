"""The station's outputs as graph sinks: decoded frames on the ZeroMQ bus, to GNU Radio as PMT
PDUs, and to KISS-over-TCP clients (:mod:`orbitlink.flowgraphs.bus`,
:mod:`orbitlink.framing.kiss_server`).

``bus_sink`` publishes each frame on ``<station>/<link>/frames`` with the meta ``decode
--json`` prints for it and the frame bytes as payload, the events ``start`` (on open) and
``stop`` (on close, with the final counters), and stats at most once per ``stats_interval_s``.
``gr_pdu_sink`` sends each frame as a PMT PDU (GNU Radio's ZMQ SUB Message Source).
``kiss_server_sink`` serves the frames that passed their check to KISS clients.

Each binds (or listens) when the graph opens it and closes at the end of the stream; loopback
addresses only. ``wait_subscribers`` / ``wait_clients`` hold the open for a first consumer, so
that a recording replayed at full speed loses nothing to a consumer that connects late.
"""

from __future__ import annotations

import calendar
import time as _time
from dataclasses import dataclass

from orbitlink import OrbitlinkError
from orbitlink.drivers.interfaces import Sink, StreamInfo, register_sink
from orbitlink.flowgraphs.sinks import frame_record, parse_time
from orbitlink.modem.block import param

__all__ = ["BusSink", "GrPduSink", "KissServerSink"]


class StationSinkError(OrbitlinkError):
    """A station sink cannot open its socket or is misconfigured."""


def _unix(rec_time) -> float | None:
    """A naive UTC datetime as UNIX seconds."""
    if rec_time is None:
        return None
    return calendar.timegm(rec_time.timetuple()) + rec_time.microsecond * 1e-6


# --------------------------------------------------------------------------------------------
# the bus


@dataclass(frozen=True)
class BusSinkParams:
    """Parameters of :class:`BusSink`."""

    endpoint: str = param("tcp://127.0.0.1:5550", "Where the bus's PUB socket binds "
                          "(loopback; tcp://127.0.0.1:* picks a free port)")
    station: str = param("station", "Station name, the first field of the topics")
    link: str = param("link", "Link name, the second field of the topics")
    nodrop: bool = param(False, "XPUB_NODROP: a slow subscriber slows the publisher "
                         "(bounded) instead of losing messages; what still cannot be sent is "
                         "counted in dropped")
    stats_interval_s: float = param(1.0, "Stats published at most this often", unit="s",
                                    lo=0.0)
    wait_subscribers: float = param(0.0, "With nodrop: wait up to this long at open for a "
                                    "first subscriber (0: do not wait)", unit="s", lo=0.0)
    min_subscribers: int = param(1, "With wait_subscribers: how many subscriptions to wait "
                                 "for", lo=1, hi=1000)


@register_sink
class BusSink(Sink):
    """Received frames on the orbitlink bus (README "The bus"), with stats and events.

    Frames go to ``<station>/<link>/frames`` (meta: ``decode --json``'s object, payload: the
    frame, header time: the source's start time plus ``time_s`` when the source knows it, else
    the wall clock); ``start`` and ``stop`` (with the final counters) to
    ``<station>/<link>/events``; ``frames``, ``frames_ok``, ``sent`` and ``dropped`` to
    ``<station>/<link>/stats``.

    Input
    -----
    pdu : frames with ``sample_index``, ``time_s`` and ``crc_ok`` in their metadata (after
    ``frame_meta``).
    """

    name = "bus_sink"
    Params = BusSinkParams
    in_types = ("pdu",)

    def __init__(self, params=None, publisher=None, **kw):
        super().__init__(params, **kw)
        self.publisher = publisher  # a BusPublisher shared with others (not closed here)
        self._own = publisher is None
        #: called with each frame once it is published (the station measures latency)
        self.on_published = None
        #: called at close, before the stop event: a dict merged into the event's meta
        self.final_info = None
        self.counters = {"frames": 0, "frames_ok": 0, "sent": 0, "dropped": 0}

    def open(self, info: StreamInfo) -> None:
        from orbitlink.flowgraphs.bus import BusError, BusPublisher

        super().open(info)
        p = self.params
        if p.wait_subscribers and not p.nodrop:
            raise StationSinkError("bus_sink: wait_subscribers needs nodrop (an XPUB socket "
                                   "sees its subscribers)")
        self._rec_time = parse_time(info.datetime)
        self._t0 = _unix(self._rec_time)
        self._last_sample = 0
        if self.publisher is None:
            try:
                self.publisher = BusPublisher(p.endpoint, nodrop=p.nodrop)
            except BusError as e:
                raise StationSinkError(f"bus_sink: {e}") from None
            self._own = True
        self.endpoint = self.publisher.endpoint
        self._sent0 = (self.publisher.sent, self.publisher.dropped)
        try:
            if p.wait_subscribers:
                self.publisher.wait_subscribers(p.min_subscribers, p.wait_subscribers)
            self._publish_event("start", {"source": info.name, "samp_rate": info.samp_rate,
                                          "center_freq": info.center_freq,
                                          "datetime": info.datetime})
        except BaseException:
            if self._own:
                self.publisher.close()
                self.publisher = None
            raise
        self._last_stats = _time.monotonic()
        self._closed = False

    def _count(self):
        self.counters["sent"] = self.publisher.sent - self._sent0[0]
        self.counters["dropped"] = self.publisher.dropped - self._sent0[1]

    def _publish_event(self, name, info):
        p = self.params
        self.publisher.publish_event(p.station, p.link, name, info, self._last_sample)
        self._count()

    def write(self, items) -> None:
        p = self.params
        pub = self.publisher
        for pdu in items:
            self.counters["frames"] += 1
            self.counters["frames_ok"] += bool(pdu.meta.get("crc_ok"))
            rec = frame_record(pdu, self._rec_time)
            si = int(pdu.meta["sample_index"])
            self._last_sample = si
            t = self._t0 + float(pdu.meta["time_s"]) if self._t0 is not None else None
            pub.publish_frame(p.station, p.link, rec, bytes(pdu.data), si, t)
            if self.on_published is not None:
                self.on_published(pdu)
        self._count()
        now = _time.monotonic()
        if now - self._last_stats >= p.stats_interval_s:
            self._last_stats = now
            pub.publish_stats(p.station, p.link, dict(self.counters), self._last_sample)
            self._count()

    def close(self) -> None:
        if self.publisher is None or getattr(self, "_closed", True):
            return
        self._closed = True
        self._count()
        info = dict(self.counters)
        if self.final_info is not None:
            info.update(self.final_info())
            self._count()
            info.update(self.counters)
        self._publish_event("stop", info)
        if self._own:
            self.publisher.close()
            self.publisher = None


# --------------------------------------------------------------------------------------------
# GNU Radio


@dataclass(frozen=True)
class GrPduSinkParams:
    """Parameters of :class:`GrPduSink`."""

    endpoint: str = param("tcp://127.0.0.1:5560", "Where the PUB socket binds (loopback); "
                          "GNU Radio's ZMQ SUB Message Source connects to it")
    nodrop: bool = param(False, "XPUB_NODROP: a slow subscriber slows the sender (bounded) "
                         "instead of losing frames; what still cannot be sent is counted in "
                         "dropped")
    wait_subscribers: float = param(0.0, "With nodrop: wait up to this long at open for a "
                                    "first subscriber (0: do not wait)", unit="s", lo=0.0)


@register_sink
class GrPduSink(Sink):
    """Received frames for GNU Radio: each one a single-part PMT PDU (a pair of a metadata
    dict, ``decode --json``'s fields without ``hex``, and a u8vector of the frame), with no
    topic, as ``pmt::serialize`` writes it.

    Input
    -----
    pdu : frames with ``sample_index`` and ``time_s`` in their metadata (after
    ``frame_meta``).
    """

    name = "gr_pdu_sink"
    Params = GrPduSinkParams
    in_types = ("pdu",)

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        self.bridge = None
        self.counters = {"frames": 0, "sent": 0, "dropped": 0}

    def open(self, info: StreamInfo) -> None:
        from orbitlink.flowgraphs.bus import BusError, GrPduBridge

        super().open(info)
        p = self.params
        if p.wait_subscribers and not p.nodrop:
            raise StationSinkError("gr_pdu_sink: wait_subscribers needs nodrop (an XPUB "
                                   "socket sees its subscribers)")
        self._rec_time = parse_time(info.datetime)
        try:
            self.bridge = GrPduBridge(p.endpoint, nodrop=p.nodrop)
        except BusError as e:
            raise StationSinkError(f"gr_pdu_sink: {e}") from None
        self.endpoint = self.bridge.endpoint
        if p.wait_subscribers:
            self.bridge.wait_subscribers(1, p.wait_subscribers)

    def write(self, items) -> None:
        for pdu in items:
            self.counters["frames"] += 1
            self.bridge.publish_frame(frame_record(pdu, self._rec_time), bytes(pdu.data))
        self.counters["sent"] = self.bridge.sent
        self.counters["dropped"] = self.bridge.dropped

    def close(self) -> None:
        if self.bridge is not None:
            self.counters["sent"] = self.bridge.sent
            self.counters["dropped"] = self.bridge.dropped
            self.bridge.close()
            self.bridge = None


# --------------------------------------------------------------------------------------------
# KISS over TCP


@dataclass(frozen=True)
class KissServerSinkParams:
    """Parameters of :class:`KissServerSink`."""

    host: str = param("127.0.0.1", "Address to listen on (loopback by default)")
    port: int = param(8001, "TCP port to listen on (0: a free port)", lo=0, hi=65535)
    max_clients: int = param(16, "Connections at once (a new one evicts the longest-idle "
                             "client)", lo=1)
    idle_timeout: float = param(300.0, "Close a client silent this long in both directions "
                                "(0: never)", unit="s", lo=0.0)
    all_frames: bool = param(False, "Also serve frames that failed their check")
    wait_clients: float = param(0.0, "Wait up to this long at open for a first client "
                                "(0: do not wait)", unit="s", lo=0.0)


@register_sink
class KissServerSink(Sink):
    """Frames that pass their check, to KISS-over-TCP clients (direwolf's port 8001
    convention: KISS data frames on port 0); the server runs while the graph does. Frames the
    clients send are queued in ``server.tx_queue`` for whoever transmits.

    Input
    -----
    pdu : frames with ``crc_ok`` in their metadata.
    """

    name = "kiss_server_sink"
    Params = KissServerSinkParams
    in_types = ("pdu",)

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        self.server = None
        self.counters = {"frames": 0}

    def open(self, info: StreamInfo) -> None:
        from orbitlink.framing.kiss_server import KissServer

        super().open(info)
        p = self.params
        self.server = KissServer(p.host, p.port, max_clients=p.max_clients,
                                 idle_timeout=p.idle_timeout or None)
        try:
            self.server.start()  # KissServerError (an OrbitlinkError) names the address
        except Exception:
            self.server = None
            raise
        self.address = self.server.address
        if p.wait_clients:
            end = _time.monotonic() + p.wait_clients
            while self.server.n_clients < 1 and _time.monotonic() < end:
                _time.sleep(0.01)

    def write(self, items) -> None:
        for pdu in items:
            if pdu.meta.get("crc_ok") or self.params.all_frames:
                self.server.broadcast(bytes(pdu.data))
                self.counters["frames"] += 1
        self.counters.update(self.server.counters())

    def close(self) -> None:
        if self.server is None:
            return
        self.server.flush(2.0)
        self.server.stop()
        self.counters.update(self.server.counters())
        self.server = None
