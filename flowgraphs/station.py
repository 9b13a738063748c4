"""The station: a link's receiver run live from a radio (or a recording standing in for one),
its frames on stdout, on the bus, to GNU Radio and to KISS clients, with the bus's stats,
events, control and transmit sockets around it (``orbitlink rx``).

One :class:`Station` owns:

- the receive graph: ``radio_source`` -> [Doppler correction] -> the link's receiver -> frame
  metadata -> sinks (``frames_sink`` JSON lines on stdout, ``bus_sink``, optionally
  ``gr_pdu_sink``, ``kiss_server_sink``, and ``sigmf_sink`` on the source for ``--record``),
  run by the live runner (:mod:`orbitlink.flowgraphs.live`) in the caller's thread, the radio
  read in a thread of its own;
- the bus publisher (:class:`orbitlink.flowgraphs.bus.BusPublisher`), shared by the frames
  sink and the station's service thread;
- the service thread: stats on ``<station>/<link>/stats`` every ``stats_interval_s``; events
  ``overflow``, ``gap``, ``retune``, ``gain``, ``paused``, ``resumed``, ``error`` on
  ``<station>/<link>/events`` (``start`` and ``stop`` come from the frames sink: ``stop``
  carries the final counters); the control socket (``status``, ``retune``, ``set_gain``,
  ``start``, ``stop``) and the transmit socket.

The radio is only touched from the thread that reads it: a retune or a gain change is handed
to that thread and done between two reads (:meth:`RadioSource.call`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from dataclasses import dataclass

from orbitlink import OrbitlinkError

__all__ = ["Station", "StationConfig", "StationError", "StationTransmitter"]

log = logging.getLogger("orbitlink.station")

#: most gap events published per stats interval (the rest are counted in the stats)
MAX_GAP_EVENTS = 20


class StationError(OrbitlinkError):
    """The station cannot start as asked (one sentence)."""


@dataclass
class StationConfig:
    """How the station is wired."""

    station: str = "station"
    bus: str = "tcp://127.0.0.1:5550"
    nodrop: bool = False
    wait_subscribers: float = 0.0
    min_subscribers: int = 1
    tx_endpoint: str | None = "tcp://127.0.0.1:5551"
    control_endpoint: str | None = "tcp://127.0.0.1:5552"
    gr_pdu: str | None = None
    kiss_port: int | None = None
    kiss_host: str = "127.0.0.1"
    record: str | None = None
    json_frames: bool = True
    frames_path: str = "-"
    stats_interval_s: float = 1.0
    chunk: int = 1 << 14
    queue_s: float = 2.0
    server_keys: str | None = None  # CURVE for non-loopback transmit/control sockets
    authorized_keys: str | None = None
    allow_remote: bool = False
    #: pass mode: (predictor of the downlink Doppler and elevation, UNIX time of sample 0)
    pass_info: dict | None = None
    #: spectrum rows per second on ``<station>/<link>/spectrum`` (and symbol sets on
    #: ``.../symbols``, two a second); 0: neither is computed nor published
    monitor_rows_per_s: float = 10.0
    monitor_bins: int = 1024


@dataclass
class _Latency:
    """Latency from sample to bus over one stats interval, and over the run."""

    n: int = 0
    total: float = 0.0
    max: float = 0.0
    last: float = 0.0
    run_max: float = 0.0
    run_n: int = 0

    def add(self, v: float) -> None:
        self.n += 1
        self.total += v
        self.max = max(self.max, v)
        self.last = v
        self.run_max = max(self.run_max, v)
        self.run_n += 1

    def take(self) -> dict:
        d = {"frames": self.n, "last_ms": round(self.last * 1e3, 3),
             "mean_ms": round(self.total / self.n * 1e3, 3) if self.n else None,
             "max_ms": round(self.max * 1e3, 3), "run_max_ms": round(self.run_max * 1e3, 3)}
        self.n, self.total, self.max = 0, 0.0, 0.0
        return d


class Station:
    """A link's receiver, live, with the bus around it (see the module docstring).

    Parameters
    ----------
    link : orbitlink.flowgraphs.links.Link
    source : orbitlink.drivers.radio_source.RadioSource
        The radio (its ``medium`` says whether the link's IQ or audio receiver is used).
    samp_rate : float
        The rate the graph is built for (the radio's).
    cfg : StationConfig
    front : list
        Blocks before the receiver (Doppler correction in pass mode).
    transmitter : optional
        Something with ``submit(request, endpoint)`` and ``poll(endpoint)`` that transmits bus
        submissions (``orbitlink rx --transmit``); None: every submission is rejected.
    """

    def __init__(self, link, source, samp_rate: float, cfg: StationConfig | None = None,
                 front=(), transmitter=None, frames_stream=None):
        from orbitlink.flowgraphs.graph import link_graph
        from orbitlink.flowgraphs.sinks import FramesSink
        from orbitlink.flowgraphs.station_sinks import BusSink, GrPduSink, KissServerSink

        self.link = link
        self.source = source
        self.cfg = cfg = cfg or StationConfig()
        self.transmitter = transmitter
        self.pub = None
        self.ctrl = None
        self.txep = None
        self.live = None
        self.latency = _Latency()
        self.counters = {"control_requests": 0, "tx_submissions": 0, "tx_rejected": 0,
                         "gap_events": 0, "gap_events_suppressed": 0, "events": 0,
                         "kiss_tx_frames": 0}
        self._stop = threading.Event()
        self._final_sent = False
        self._frame_span = None
        medium = source.params.medium
        self.frames = FramesSink(format="json" if cfg.json_frames else "text",
                                 path=cfg.frames_path)
        if frames_stream is not None:
            self.frames.stream = frames_stream
        self.bus = BusSink(station=cfg.station, link=link.name, nodrop=cfg.nodrop,
                           stats_interval_s=1e9)  # the station publishes the stats
        self.bus.on_published = self._on_published
        self.bus.final_info = self._final_info
        sinks = [self.frames, self.bus]
        self.gr = None
        if cfg.gr_pdu:
            self.gr = GrPduSink(endpoint=cfg.gr_pdu, nodrop=cfg.nodrop,
                                wait_subscribers=cfg.wait_subscribers if cfg.nodrop else 0.0)
            sinks.append(self.gr)
        self.kiss = None
        if cfg.kiss_port is not None:
            self.kiss = KissServerSink(host=cfg.kiss_host, port=int(cfg.kiss_port))
            sinks.append(self.kiss)
        self.graph = link_graph(link, "rx", samp_rate, medium, front=list(front),
                                source=source, sinks=sinks)
        self.recorder = None
        if cfg.record:
            if medium != "iq":
                raise StationError("--record keeps IQ as SigMF; this radio delivers audio "
                                   "(the recording it replays is already one)")
            from orbitlink.drivers.files import SigmfSink

            path = cfg.record
            if path.endswith(".sigmf-meta"):
                path = path[: -len(".sigmf-meta")]
            self.recorder = SigmfSink(path=path)
            self.graph.connect("source", self.graph.add("record", self.recorder, "sink"))
            self.graph.validate()
        self.monitors = []
        if cfg.monitor_rows_per_s > 0:
            from orbitlink.flowgraphs.graph import demod_node
            from orbitlink.flowgraphs.monitor import SpectrumMonitor, SymbolsMonitor

            who = {"station": cfg.station, "link": link.name}
            spec = SpectrumMonitor(nbins=cfg.monitor_bins,
                                   rows_per_s=cfg.monitor_rows_per_s, **who)
            self.graph.connect(self.graph.source.name,
                               self.graph.add("monitor_spectrum", spec, "sink"))
            dn = demod_node(self.graph, link, samp_rate, medium, len(front))
            sym = SymbolsMonitor(demod=self.graph.nodes[dn].obj, **who)
            self.graph.connect(dn, self.graph.add("monitor_symbols", sym, "sink"))
            self.graph.validate()
            self.monitors = [spec, sym]
        fm = [n.obj for n in self.graph.nodes.values() if n.obj.name == "frame_meta"]
        if fm:
            p = fm[0].params
            self._frame_span = (p.air_bits_per_byte / p.bits_per_symbol * p.samp_rate
                                / p.symbol_rate, p.index == "sample")

    # ------------------------------------------------------------------------------------
    # hooks of the frames sink (processing thread)

    def _on_published(self, pdu) -> None:
        self._remember(pdu)
        if self.live is None:
            return
        s = float(pdu.meta.get("sample_index", 0))
        if self._frame_span is not None and self._frame_span[1]:
            s += len(pdu.data) * self._frame_span[0]
        t = self.live.arrival_time(s)
        if t is not None:
            self.latency.add(max(0.0, time.monotonic() - t))

    def _final_info(self) -> dict:
        """Called by the frames sink as it closes, before its ``stop`` event: stop the service
        thread, publish the last stats, and hand over the final counters."""
        self._stop_service()
        if self.live is not None and self.live._error is not None and \
                not isinstance(self.live._error, KeyboardInterrupt):
            self._event("error", {"error": str(self.live._error)})
        stats = self.stats()
        self._publish_stats(stats)
        self._final_sent = True
        self._final_stats = stats
        return {"final": stats}

    # ------------------------------------------------------------------------------------
    # stats and events

    def _radio(self):
        return getattr(self.source, "radio", None)

    def stats(self) -> dict:
        """Everything counted so far (the stats message's meta)."""
        radio = self._radio()
        rc = radio.counters if radio is not None else None
        lv = self.live.counters if self.live is not None else None
        fr = self.bus.counters
        drops = {"radio": rc.dropped_samples if rc else 0,
                 "queue": lv.dropped_samples if lv else 0,
                 "bus": fr.get("dropped", 0)}
        if self.gr is not None:
            drops["gr_pdu"] = self.gr.counters.get("dropped", 0)
        if self.kiss is not None:
            drops["kiss"] = sum(v for k, v in self.kiss.counters.items()
                                if k.startswith("dropped"))
        d = {
            "samp_rate": getattr(self.source, "rate", None),
            "center_freq": self.source.center_freq,
            "samples_in": lv.samples_in if lv else 0,
            "samples_processed": lv.samples_processed if lv else 0,
            "overflows": rc.overflows if rc else 0,
            "dropped_samples": (rc.dropped_samples if rc else 0) + (lv.dropped_samples
                                                                     if lv else 0),
            "drop_detection": getattr(radio, "drop_detection", None),
            "drops": drops,
            "queue": {"fill": round(self.live.queue_fill, 4) if self.live else 0.0,
                      "max_fill": round(lv.queue_max_samples / lv.queue_capacity_samples, 4)
                      if lv and lv.queue_capacity_samples else 0.0,
                      "capacity_s": self.cfg.queue_s,
                      "dropped_chunks": lv.dropped_chunks if lv else 0},
            "gaps": rc.gaps if rc else 0,
            "timeouts": rc.timeouts if rc else 0,
            "frames": fr.get("frames", 0),
            "frames_good": fr.get("frames_ok", 0),
            "frames_failed": fr.get("frames", 0) - fr.get("frames_ok", 0),
            "snr_db": self._last.get("snr_db"),
            "freq_offset_hz": self._last.get("freq_offset_hz"),
            "latency": self.latency.take(),
            "bus": {"sent": fr.get("sent", 0), "dropped": fr.get("dropped", 0),
                    "malformed": self.pub.malformed if self.pub is not None else 0,
                    "subscriptions": self.pub.subscriptions if self.pub is not None else 0,
                    "monitor_dropped": self.pub.monitor_dropped if self.pub is not None
                    else 0},
            "paused": bool(getattr(self.source, "paused", False)),
            "uptime_s": round(time.monotonic() - self._t_start, 3),
            "station": dict(self.counters),
        }
        if self.ctrl is not None:
            d["control"] = dict(self.ctrl.counters)
        if self.txep is not None:
            d["transmit"] = dict(self.txep.counters)
        if self.kiss is not None:
            d["kiss"] = dict(self.kiss.counters)
        if self.transmitter is not None:
            d["uplink"] = self.transmitter.counters
        pi = self.cfg.pass_info
        if pi is not None and lv is not None:
            rate = getattr(self.source, "rate", None) or 1.0
            t = pi["t0"] + lv.samples_processed / rate
            try:
                el, dop = pi["predict"](t)
                d["pass"] = {"time": t, "signal_s": round(lv.samples_processed / rate, 6),
                             "elevation_deg": round(float(el), 3),
                             "doppler_hz": round(float(dop), 3), "aos": pi.get("aos"),
                             "los": pi.get("los")}
            except Exception as e:  # a prediction failure is reported, not fatal
                d["pass"] = {"time": t, "error": str(e)}
        return d

    def _publish_stats(self, stats=None) -> None:
        if self.pub is None:
            return
        stats = stats if stats is not None else self.stats()
        self.pub.publish_stats(self.cfg.station, self.link.name, stats,
                               self.bus._last_sample if hasattr(self.bus, "_last_sample")
                               else 0)

    def _event(self, name: str, info: dict) -> None:
        if self.pub is None:
            return
        self.counters["events"] += 1
        self.pub.publish_event(self.cfg.station, self.link.name, name, info,
                               getattr(self.bus, "_last_sample", 0))

    def _watch(self) -> None:
        """Publish overflow and gap events for what the radio and the queue lost since the
        last look."""
        radio = self._radio()
        if radio is not None:
            c = radio.counters
            if c.overflows > self._seen["overflows"]:
                self._event("overflow", {"where": "radio", "overflows": c.overflows,
                                         "new": c.overflows - self._seen["overflows"],
                                         "dropped_samples": c.dropped_samples})
                self._seen["overflows"] = c.overflows
        lv = self.live.counters if self.live is not None else None
        if lv is not None and lv.dropped_samples > self._seen["queue"]:
            self._event("overflow", {"where": "queue", "dropped_samples": lv.dropped_samples,
                                     "new": lv.dropped_samples - self._seen["queue"],
                                     "dropped_chunks": lv.dropped_chunks})
            self._seen["queue"] = lv.dropped_samples
        gl = getattr(self.source, "gap_log", None)
        if gl is not None:
            total = gl.count
            new = total - self._seen["gaps"]
            if new > 0:
                shown = gl.gaps[-min(new, len(gl.gaps)):][:MAX_GAP_EVENTS]
                for idx, n in shown:  # (index of the first sample after it, length)
                    self.counters["gap_events"] += 1
                    self._event("gap", {"sample_index": int(idx), "samples": int(n)})
                self.counters["gap_events_suppressed"] += new - len(shown)
                self._seen["gaps"] = total

    # ------------------------------------------------------------------------------------
    # control and transmit (service thread)

    def _control(self, req) -> dict:
        self.counters["control_requests"] += 1
        a = req.args
        if req.request == "status":
            return {"status": self.stats(), "link": self.link.name,
                    "station": self.cfg.station}
        if req.request == "retune":
            f = _number(a.get("freq"), "freq")
            if not f > 0:
                raise StationError(f"retune: freq {f:g} Hz is not a positive frequency")
            prof = getattr(self.source, "profile", None)
            if prof is not None:
                from orbitlink.drivers.radio import RadioConfig

                prof.check_rx(RadioConfig(samp_rate=self.source.rate, center_freq=f))
            got = self.source.retune(f)
            if self.monitors:
                self.monitors[0].retuned(got.center_freq)
            self._event("retune", {"freq": f, "center_freq": got.center_freq})
            return {"center_freq": got.center_freq}
        if req.request == "set_gain":
            g = _number(a.get("gain"), "gain")
            got = self.source.set_gain(g)
            self._event("gain", {"gain": g, "set": got.gain})
            return {"gain": got.gain}
        if req.request == "stop":
            if a.get("exit"):
                self._event("stopping", {"by": "control"})
                self.live.stop("control")
                return {"stopping": True}
            self.source.pause()
            self._event("paused", {})
            return {"paused": True}
        if req.request == "start":
            self.source.resume()
            self._event("resumed", {})
            return {"paused": False}
        raise StationError(f"unknown request {req.request!r}")

    def _serve_control(self) -> None:
        if self.ctrl is None:
            return
        for req in self.ctrl.poll(0.0):
            try:
                answer = self._control(req)
            except OrbitlinkError as e:
                self.ctrl.reply(req, {"ok": False, "error": str(e)})
                continue
            except Exception as e:  # a request never kills the station
                log.exception("control request %s failed", req.request)
                self.ctrl.reply(req, {"ok": False, "error": f"{type(e).__name__}: {e}"})
                continue
            self.ctrl.reply(req, answer)

    def _serve_transmit(self) -> None:
        if self.txep is not None:
            for req in self.txep.poll(0.0):
                self.counters["tx_submissions"] += 1
                if self.transmitter is None:
                    self.counters["tx_rejected"] += 1
                    self.txep.reply(req, "rejected", reason="this station only receives (rx "
                                    "was started without --transmit)")
                else:
                    self.transmitter.submit(req, self.txep)
        if self.transmitter is not None:
            self.transmitter.poll(self.txep)
        if self.kiss is not None and self.kiss.server is not None:
            import queue as _queue

            q = self.kiss.server.tx_queue  # frames KISS clients sent to transmit
            while True:
                try:
                    item = q.get_nowait()
                except _queue.Empty:
                    break
                self.counters["kiss_tx_frames"] += 1
                if self.transmitter is not None and hasattr(self.transmitter, "submit_bytes"):
                    self.transmitter.submit_bytes(bytes(item.data))
                else:
                    self.counters["tx_rejected"] += 1
                    log.warning("a KISS client sent a frame to transmit; this station only "
                                "receives (rx without --transmit): not sent")

    def _service(self) -> None:
        next_stats = time.monotonic() + self.cfg.stats_interval_s
        while not self._stop.is_set():
            try:
                self._serve_control()
                self._serve_transmit()
                self._watch()
                now = time.monotonic()
                if now >= next_stats:
                    next_stats = now + self.cfg.stats_interval_s
                    self._publish_stats()
            except Exception as e:  # the service thread must not die
                log.exception("station service thread")
                self.counters["service_errors"] = self.counters.get("service_errors", 0) + 1
                try:
                    self._event("error", {"error": f"{type(e).__name__}: {e}"})
                except Exception:
                    pass
            # sleep on the sockets rather than spin
            if self.ctrl is not None:
                self.ctrl._sock.poll(20)
            else:
                self._stop.wait(0.02)

    def _stop_service(self) -> None:
        self._stop.set()
        t = getattr(self, "_thread", None)
        if t is not None and t is not threading.current_thread():
            t.join(5.0)

    # ------------------------------------------------------------------------------------

    def _open_sockets(self) -> None:
        from orbitlink.flowgraphs.bus import BusError, BusPublisher, ControlEndpoint, TxEndpoint

        cfg = self.cfg
        try:
            self.pub = BusPublisher(cfg.bus, nodrop=cfg.nodrop)
            kw = {}
            if cfg.server_keys or cfg.authorized_keys:  # CURVE, on loopback too
                kw = {"server_keys": cfg.server_keys, "authorized_keys": cfg.authorized_keys,
                      "curve": True}
            if cfg.control_endpoint:
                self.ctrl = ControlEndpoint(cfg.control_endpoint, **kw)
            if cfg.tx_endpoint:
                self.txep = TxEndpoint(cfg.tx_endpoint, station=cfg.station,
                                       link=self.link.name, **kw)
        except BusError as e:
            self._close_sockets()
            raise StationError(str(e)) from None
        self.bus.publisher = self.pub
        self.bus._own = False
        for m in self.monitors:
            m.publisher = self.pub
        if cfg.wait_subscribers:
            self.bus.params = dataclasses.replace(self.bus.params,
                                                  wait_subscribers=cfg.wait_subscribers,
                                                  min_subscribers=cfg.min_subscribers)

    def _close_sockets(self) -> None:
        for s in (self.txep, self.ctrl, self.pub):
            if s is not None:
                try:
                    s.close()
                except Exception:
                    pass
        self.txep = self.ctrl = self.pub = None

    @property
    def endpoints(self) -> dict:
        d = {"bus": self.pub.endpoint if self.pub else None,
             "control": self.ctrl.endpoint if self.ctrl else None,
             "transmit": self.txep.endpoint if self.txep else None}
        if self.gr is not None:
            d["gr_pdu"] = getattr(self.gr, "endpoint", None)
        if self.kiss is not None:
            d["kiss"] = getattr(self.kiss, "address", None)
        return d

    def run(self, on_open=None):
        """Run until the radio ends, a stop (SIGINT, SIGTERM, control ``stop`` with
        ``exit``), or an error; returns the live run's result with ``counters["station"]``
        (the final stats)."""
        from orbitlink.flowgraphs.live import LiveRun

        self._t_start = time.monotonic()
        self._last: dict = {}
        self._seen = {"overflows": 0, "queue": 0, "gaps": 0}
        self._open_sockets()
        if self.transmitter is not None:
            try:
                self.transmitter.open()
            except BaseException:
                self._close_sockets()
                raise
        self.live = LiveRun(self.graph, self.cfg.chunk, self.cfg.queue_s,
                            on_open=lambda info: self._opened(info, on_open))
        self._thread = None
        try:
            res = self.live.run()
        finally:
            self._stop_service()
            if self.transmitter is not None:
                try:  # queued bursts are cancelled (and answered), those in flight waited for
                    self.transmitter.close()
                except Exception as e:
                    log.warning("closing the transmitter: %s", e)
            if not self._final_sent and self.pub is not None:
                try:  # the graph failed to open: still say so on the bus
                    err = getattr(self.live, "_error", None)
                    self._event("error", {"error": str(err) if err else "did not start"})
                except Exception:
                    pass
            self._close_sockets()
        res.counters["station"] = self._final
        return res

    def _opened(self, info, on_open) -> None:
        self._thread = threading.Thread(target=self._service, name="station", daemon=True)
        self._thread.start()
        if on_open is not None:
            on_open(info)

    @property
    def _final(self) -> dict:
        return self.__dict__.get("_final_stats") or {}

    def _remember(self, pdu) -> None:
        m = pdu.meta
        for k in ("snr_db", "freq_offset_hz"):
            if k in m:
                self._last[k] = m[k]


class StationTransmitter:
    """What ``rx --transmit`` sends: bus submissions (answered accepted / rejected, then sent
    with the actual transmit time) and frames from KISS clients, as timed bursts through an
    :class:`orbitlink.flowgraphs.uplink.Uplink`, serviced by the station's service thread."""

    def __init__(self, uplink):
        self.up = uplink
        self._ep = None
        uplink.on_result = self._result

    def open(self) -> None:
        self.up.open()

    def _result(self, res, req) -> None:
        if req is None or self._ep is None:
            return
        if res.status == "sent":
            self._ep.reply(req, "sent", tx_time=res.tx_time, burst=res.index,
                           freq_offset_hz=res.freq_offset_hz)
        else:
            self._ep.reply(req, "rejected", reason=res.reason or res.status, burst=res.index)

    def submit(self, req, ep) -> None:
        from orbitlink.flowgraphs.uplink import BurstRefused

        self._ep = ep
        try:
            res = self.up.submit(req.payload, req.meta.get("tx_time"), tag=req,
                                 request_seq=req.seq)
        except BurstRefused:
            return  # answered through _result
        ep.reply(req, "accepted", burst=res.index, scheduled_time=res.scheduled_time,
                 freq_offset_hz=res.freq_offset_hz)

    def submit_bytes(self, payload: bytes) -> None:
        from orbitlink.flowgraphs.uplink import BurstRefused

        try:
            self.up.submit(payload)
        except BurstRefused as e:
            log.warning("a KISS frame was not sent: %s", e.reason)

    def poll(self, ep) -> None:
        self._ep = ep if ep is not None else self._ep
        if self.up._inflight:
            self.up._collect(0.0)
        self.up.service()

    def close(self) -> None:
        try:
            self.up.stop()
        finally:
            self.up.close()

    @property
    def counters(self) -> dict:
        return dict(self.up.counters)


def _number(v, name: str) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise StationError(f"{name} must be a number, got {v!r}") from None
    if not math.isfinite(f):
        raise StationError(f"{name} must be finite, got {v!r}")
    return f
