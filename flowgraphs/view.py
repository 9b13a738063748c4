"""The live view: a small web server that subscribes to a station's bus and shows the signal in
a browser (``orbitlink view``, ``orbitlink rx --view PORT``).

It is a bus subscriber like any other: it reads ``<station>/<link>/frames|stats|events|
spectrum|symbols`` and nothing else, so it can stop, lag or crash without touching the receiver
(``rx --view`` runs it as a child process). One aiohttp application serves

- ``/``: the page (``view_static/index.html``, plain JavaScript on canvas, packaged with
  orbitlink: no CDN, no build step);
- ``/static/<file>``: its script and style;
- ``/ws``: one websocket per browser, carrying the protocol below;
- ``/state.json``: what a newly connected browser is sent first, as one JSON object (for
  scripts and tests).

The websocket protocol (server to browser; the browser sends nothing the server needs):

- text messages, JSON objects with a ``type``: ``hello``; ``frame`` (seq, station, link,
  sample_index, time_s, time_utc, length, check, ok, snr_db, freq_offset_hz, hex, text: the
  AX.25 monitor line when the frame is AX.25 with a good FCS); ``stats`` (seq and the station's
  stats object as published); ``event`` (seq, name, info, sample_index); ``symbols`` (form
  ``constellation`` with ``i`` and ``q``, or ``eye`` with ``traces``, ``sps`` and ``of``:
  ``frame`` or ``live``); ``doppler``
  (t: seconds of signal, predicted_hz and elevation_deg from the stats of a pass with a TLE,
  measured_hz from a frame: its carrier offset plus the predicted Doppler that was removed
  before the receiver, when there was one); ``view`` once a second (the view's own counters:
  bus messages, missed by sequence number, malformed, clients, rows, messages dropped to slow
  browsers);
- binary messages: a spectrum row, ``0x01``, a u32 little-endian length ``H``, ``H`` bytes of
  JSON header (seq, sample_index, time_s, center_freq, samp_rate, one_sided, db0, db_step,
  nbins), then ``nbins`` u8 levels, ``dB = db0 + level * db_step``.

A browser that connects is first sent the state (hello, the last 100 frames, the last stats,
the Doppler points, the last symbols, the last 60 rows, the last 20 events), whole. Then each
browser has a bounded queue: a browser that cannot keep up loses messages (counted), never the
server's memory; a browser that disconnects, reloads or reconnects is normal, never an error.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import collections
import json
import logging
import math
import os
import signal
import struct
import sys
import time

from orbitlink import OrbitlinkError

__all__ = ["ViewState", "ViewServer", "ViewChild", "run_view", "add_parsers", "STATIC_DIR"]

log = logging.getLogger("orbitlink.view")

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "view_static")
KEEP_FRAMES = 100
KEEP_ROWS = 60
KEEP_EVENTS = 20
KEEP_DOPPLER = 20_000
CLIENT_QUEUE = 256  # messages queued per browser
ROW_TYPE = 0x01
_U32 = struct.Struct("<I")


class ViewError(OrbitlinkError):
    """The view cannot start as asked (one sentence)."""


def _num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) and \
        math.isfinite(v) else None


class ViewState:
    """What the bus has said, as the browser messages (text: dicts; rows: bytes); fed one
    decoded bus message at a time (:meth:`feed`), which returns the browser messages it
    makes."""

    def __init__(self, bus: str = ""):
        self.bus = bus
        self.frames = collections.deque(maxlen=KEEP_FRAMES)
        self.rows = collections.deque(maxlen=KEEP_ROWS)
        self.events = collections.deque(maxlen=KEEP_EVENTS)
        self.doppler = collections.deque(maxlen=KEEP_DOPPLER)
        self.stats = None
        self.symbols = None
        self._pred_t: list[float] = []  # the pass's predicted Doppler, by seconds of signal
        self._pred_hz: list[float] = []
        self._pending = collections.deque(maxlen=1000)  # frames' offsets awaiting a stats
        self._pass_mode = None  # None: unknown until the first stats
        self._seq: dict[str, int] = {}
        self.counters = {"messages": 0, "missed": 0, "malformed": 0, "rows": 0, "frames": 0,
                         "stats": 0, "events": 0, "symbols": 0}
        self.last_message = 0.0

    # -- bus side ---------------------------------------------------------------------------
    def malformed(self) -> None:
        self.counters["malformed"] += 1

    def feed(self, m) -> list:
        """One :class:`orbitlink.flowgraphs.bus.Message`; returns the browser messages."""
        from orbitlink.flowgraphs import bus

        c = self.counters
        c["messages"] += 1
        self.last_message = time.monotonic()
        last = self._seq.get(m.topic)
        if last is not None and m.seq > last + 1:
            c["missed"] += m.seq - last - 1
        self._seq[m.topic] = m.seq
        if m.kind == bus.KIND_FRAME:
            return self._frame(m)
        if m.kind == bus.KIND_STATS:
            return self._stats(m)
        if m.kind == bus.KIND_EVENT:
            return self._event(m)
        if m.kind == bus.KIND_SPECTRUM:
            return self._row(m)
        if m.kind == bus.KIND_SYMBOLS:
            return self._symbols(m)
        return []

    def _frame(self, m) -> list:
        meta = m.meta
        ax = meta.get("ax25")
        text = ax.get("tnc2") if isinstance(ax, dict) else None
        check = meta.get("check")
        msg = {"type": "frame", "seq": m.seq, "station": m.station, "link": m.link,
               "sample_index": meta.get("sample_index", m.sample_index),
               "time_s": _num(meta.get("time_s")), "time_utc": meta.get("time_utc"),
               "length": len(m.payload), "check": check if isinstance(check, str) else None,
               "ok": bool(meta.get("crc_ok")), "snr_db": _num(meta.get("snr_db")),
               "freq_offset_hz": _num(meta.get("freq_offset_hz")), "hex": m.payload.hex(),
               "text": text if isinstance(text, str) else None}
        self.frames.append(msg)
        self.counters["frames"] += 1
        out = [msg]
        if msg["freq_offset_hz"] is not None and msg["time_s"] is not None:
            self._pending.append((msg["time_s"], msg["freq_offset_hz"]))
            if self._pass_mode is not None:
                out += self._flush_measured()
        return out

    def _predicted(self, t: float) -> float | None:
        n = len(self._pred_t)
        if n == 0:
            return None
        if n == 1:
            return self._pred_hz[0]
        i = bisect.bisect_left(self._pred_t, t)
        i = min(max(i, 1), n - 1)  # interpolate inside, extend the end segments outside
        t0, t1 = self._pred_t[i - 1], self._pred_t[i]
        h0, h1 = self._pred_hz[i - 1], self._pred_hz[i]
        return h0 if t1 == t0 else h0 + (h1 - h0) * (t - t0) / (t1 - t0)

    def _flush_measured(self, final: bool = False) -> list:
        """The frames' measured points whose predicted Doppler is known: in a pass, once a
        prediction at or after their time has arrived (or at the end: the last segment
        extended)."""
        out = []
        while self._pending:
            t, off = self._pending[0]
            if self._pass_mode and not final and (not self._pred_t or t > self._pred_t[-1]):
                break
            self._pending.popleft()
            pred = self._predicted(t) if self._pass_mode else None
            p = {"type": "doppler", "t": t, "predicted_hz": None, "elevation_deg": None,
                 "measured_hz": round(off + (pred or 0.0), 3)}
            self.doppler.append(p)
            out.append(p)
        return out

    def _stats(self, m) -> list:
        self.stats = {"type": "stats", "seq": m.seq, "station": m.station, "link": m.link,
                      "stats": m.meta}
        self.counters["stats"] += 1
        out = [self.stats]
        ps = m.meta.get("pass")
        if isinstance(ps, dict) and _num(ps.get("doppler_hz")) is not None and \
                _num(ps.get("signal_s")) is not None:
            self._pass_mode = True
            t = float(ps["signal_s"])
            if not self._pred_t or t > self._pred_t[-1]:
                self._pred_t.append(t)
                self._pred_hz.append(float(ps["doppler_hz"]))
                p = {"type": "doppler", "t": t, "predicted_hz": float(ps["doppler_hz"]),
                     "elevation_deg": _num(ps.get("elevation_deg")), "measured_hz": None}
                self.doppler.append(p)
                out.append(p)
        elif self._pass_mode is None:
            self._pass_mode = False
        return out + self._flush_measured()

    def _event(self, m) -> list:
        info = {k: v for k, v in m.meta.items() if k not in ("event", "final")}
        msg = {"type": "event", "seq": m.seq, "name": str(m.meta.get("event", "?")),
               "info": info, "sample_index": m.sample_index}
        self.events.append(msg)
        self.counters["events"] += 1
        out = [msg]
        if msg["name"] == "stop":  # the last word: offsets still waiting are shown as they are
            if self._pass_mode is None:
                self._pass_mode = False
            out += self._flush_measured(final=True)
        return out

    def _row(self, m) -> list:
        meta = m.meta
        n = meta.get("nbins")
        if not isinstance(n, int) or n != len(m.payload) or n <= 0:
            self.counters["malformed"] += 1
            return []
        head = {"seq": m.seq, "sample_index": m.sample_index,
                "time_s": _num(meta.get("time_s")),
                "center_freq": _num(meta.get("center_freq")) or 0.0,
                "samp_rate": _num(meta.get("samp_rate")) or 0.0,
                "one_sided": bool(meta.get("one_sided")),
                "db0": _num(meta.get("db0")) or 0.0, "db_step": _num(meta.get("db_step")) or 1.0,
                "nbins": n}
        hb = json.dumps(head, separators=(",", ":")).encode()
        row = bytes([ROW_TYPE]) + _U32.pack(len(hb)) + hb + m.payload
        self.rows.append(row)
        self.counters["rows"] += 1
        return [row]

    def _symbols(self, m) -> list:
        import numpy as np

        meta = m.meta
        if len(m.payload) % 4:
            self.counters["malformed"] += 1
            return []
        v = np.frombuffer(m.payload, "<f4")
        v = np.where(np.isfinite(v), v, 0.0)
        form = meta.get("form")
        if form == "constellation" and len(v) % 2 == 0:
            msg = {"type": "symbols", "seq": m.seq, "form": "constellation",
                   "i": np.round(v[0::2], 4).tolist(), "q": np.round(v[1::2], 4).tolist()}
        elif form == "eye" and isinstance(meta.get("points"), int) and meta["points"] > 0 \
                and len(v) % meta["points"] == 0:
            tr = np.round(v.reshape(-1, meta["points"]), 4)
            msg = {"type": "symbols", "seq": m.seq, "form": "eye",
                   "sps": int(meta.get("sps") or (meta["points"] - 1) // 2),
                   "of": "frame" if meta.get("of") == "frame" else "live",
                   "traces": tr.tolist()}
        else:
            self.counters["malformed"] += 1
            return []
        self.symbols = msg
        self.counters["symbols"] += 1
        return [msg]

    # -- browser side -----------------------------------------------------------------------
    def hello(self) -> dict:
        return {"type": "hello", "version": 1, "bus": self.bus, "server_time": time.time()}

    def snapshot(self) -> list:
        """What a browser that connects now is sent first (text dicts and row bytes)."""
        out = [self.hello()]
        out += list(self.frames)
        if self.stats is not None:
            out.append(self.stats)
        out += list(self.doppler)
        if self.symbols is not None:
            out.append(self.symbols)
        out += list(self.events)
        out += list(self.rows)
        return out

    def status(self, clients: int, client_dropped: int) -> dict:
        age = time.monotonic() - self.last_message if self.last_message else None
        return {"type": "view", "bus": self.bus, "connected": age is not None and age < 3.0,
                "last_message_age_s": None if age is None else round(age, 3),
                "clients": clients, "client_dropped": client_dropped, **self.counters}


class _Client:
    """One browser: its websocket and a bounded queue drained by a task of its own."""

    def __init__(self, ws, backlog=()):
        self.ws = ws
        self.backlog = collections.deque(backlog)  # the state, sent first, whole
        self.queue: asyncio.Queue = asyncio.Queue(CLIENT_QUEUE)
        self.dropped = 0

    def put(self, msg) -> None:
        try:
            self.queue.put_nowait(msg)
        except asyncio.QueueFull:
            self.dropped += 1


class ViewServer:
    """The view's web server and bus subscriber in one asyncio loop (module docstring)."""

    def __init__(self, bus: str = "tcp://127.0.0.1:5550", host: str = "127.0.0.1",
                 port: int = 8080, topic: str = ""):
        from orbitlink.drivers.zmq_iq import normalise_address
        from orbitlink.flowgraphs.bus import BusError

        try:
            self.bus, _ = normalise_address(bus, BusError)
        except BusError as e:
            raise ViewError(f"--bus: {e}") from None
        if not 0 <= int(port) <= 65535:
            raise ViewError(f"--port {port}: a TCP port is 0 to 65535")
        self.host, self.port, self.topic = host, int(port), topic
        self.state = ViewState(self.bus)
        self.clients: set[_Client] = set()
        self.client_dropped = 0
        self._gone_dropped = 0  # of the browsers that have gone
        self.counters = {"connections": 0, "disconnections": 0, "send_errors": 0}
        self._stop = None
        self.url = None
        self.parent = None  # a process whose end ends the view (rx --view)

    # -- the bus ------------------------------------------------------------------------------
    async def _subscribe(self) -> None:
        import zmq
        import zmq.asyncio

        from orbitlink.flowgraphs.bus import BusError, decode_message

        ctx = zmq.asyncio.Context()
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.RCVHWM, 10_000)
        sock.setsockopt(zmq.MAXMSGSIZE, 4 << 20)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt_string(zmq.SUBSCRIBE, self.topic)
        sock.connect(self.bus)
        try:
            while True:
                parts = await sock.recv_multipart()
                try:
                    m = decode_message(parts)
                except BusError as e:
                    self.state.malformed()
                    log.debug("malformed bus message: %s", e)
                    continue
                try:
                    out = self.state.feed(m)
                except Exception as e:  # a message the view cannot show: counted, not fatal
                    self.state.malformed()
                    log.debug("bus message not shown: %s", e)
                    continue
                for msg in out:
                    self._broadcast(msg)
        finally:
            sock.close(0)
            ctx.term()

    def _broadcast(self, msg) -> None:
        for c in list(self.clients):
            c.put(msg)

    async def _status(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self.parent is not None and os.getppid() != self.parent:
                self.stop()  # rx --view: rx is gone however it ended
                return
            self.client_dropped = sum(c.dropped for c in self.clients) + self._gone_dropped
            self._broadcast(self.state.status(len(self.clients), self.client_dropped))

    # -- the browsers ---------------------------------------------------------------------------
    async def _index(self, request):
        from aiohttp import web

        return web.FileResponse(os.path.join(STATIC_DIR, "index.html"),
                                headers={"Cache-Control": "no-cache"})

    async def _state(self, request):
        from aiohttp import web

        snap = [m for m in self.state.snapshot() if isinstance(m, dict)]
        return web.json_response({"messages": snap, "rows": len(self.state.rows),
                                  "view": self.state.status(len(self.clients),
                                                            self.client_dropped)})

    async def _ws(self, request):
        from aiohttp import web

        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=1 << 16)
        await ws.prepare(request)
        c = _Client(ws, self.state.snapshot())
        self.clients.add(c)
        self.counters["connections"] += 1
        sender = asyncio.ensure_future(self._send(c))
        try:
            async for _ in ws:  # the browser has nothing to say; read until it goes
                pass
        except Exception as e:  # a reset connection is a browser going away
            log.debug("websocket read: %s", e)
        finally:
            self.clients.discard(c)
            self._gone_dropped += c.dropped
            self.counters["disconnections"] += 1
            sender.cancel()
            try:
                await sender
            except (asyncio.CancelledError, Exception):
                pass
        return ws

    async def _send(self, c: _Client) -> None:
        try:
            while True:
                msg = c.backlog.popleft() if c.backlog else await c.queue.get()
                if c.ws.closed:
                    return
                if isinstance(msg, bytes):
                    await c.ws.send_bytes(msg)
                else:
                    await c.ws.send_str(json.dumps(msg, separators=(",", ":")))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # closing transport, reset: the browser went away
            self.counters["send_errors"] += 1
            log.debug("websocket send: %s", e)
            try:
                await c.ws.close()
            except Exception:
                pass

    # -- running --------------------------------------------------------------------------------
    def app(self):
        from aiohttp import web

        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/state.json", self._state)
        app.router.add_get("/ws", self._ws)
        app.router.add_static("/static/", STATIC_DIR)
        return app

    async def serve(self, ready=None) -> None:
        """Serve until :meth:`stop` (or SIGINT/SIGTERM when run by :func:`run_view`)."""
        from aiohttp import web

        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app(), handle_signals=False, access_log=None,
                               shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise ViewError(f"cannot listen on {self.host}:{self.port}: "
                            f"{e.strerror or e}") from None
        port = site._server.sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{port}/"
        tasks = [asyncio.ensure_future(self._subscribe()),
                 asyncio.ensure_future(self._status())]
        if ready is not None:
            ready(self.url)
        try:
            stop = asyncio.ensure_future(self._stop.wait())
            done, _ = await asyncio.wait(tasks + [stop], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stop and t.exception() is not None:
                    raise t.exception()
        finally:
            for t in tasks:
                t.cancel()
            for c in list(self.clients):
                try:
                    await c.ws.close()
                except Exception:
                    pass
            await runner.cleanup()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()


def run_view(bus: str, host: str = "127.0.0.1", port: int = 8080, topic: str = "",
             ready=None, parent: int | None = None) -> int:
    """Run the view until SIGINT or SIGTERM; returns 0."""
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        raise ViewError("the view needs aiohttp: pip install 'orbitlink[view]'") from None
    if not os.path.isfile(os.path.join(STATIC_DIR, "index.html")):
        raise ViewError(f"the view's page is missing from {STATIC_DIR} (a broken install)")
    srv = ViewServer(bus, host, port, topic)
    srv.parent = parent

    async def main():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, srv.stop)
            except (NotImplementedError, RuntimeError):
                pass
        await srv.serve(ready)

    asyncio.run(main())
    return 0


class ViewChild:
    """``rx --view``: the view in a child process of its own (it can lag or die without
    touching the receiver), started before the radio and stopped after the bus's last
    message."""

    def __init__(self, bus: str, host: str = "127.0.0.1", port: int = 8080,
                 timeout: float = 20.0):
        import subprocess
        import threading

        if bus.rsplit(":", 1)[-1] in ("*", "0"):
            raise ViewError("--view subscribes to the bus, so the bus needs a fixed port, "
                            f"not {bus}")
        cmd = [sys.executable, "-m", "orbitlink.flowgraphs.view", "view", "--bus", bus,
               "--host", host, "--port", str(int(port)), "--exit-with", str(os.getpid())]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)  # SIGINT is ours to pass on
        first: list[str] = []
        got = threading.Event()

        def pump():
            for line in self.proc.stderr:
                if not got.is_set():
                    first.append(line.rstrip("\n"))
                    if line.startswith("orbitlink view: http"):
                        got.set()
                    continue
                sys.stderr.write(line)  # later warnings of the view, passed on
            got.set()

        threading.Thread(target=pump, name="view-stderr", daemon=True).start()
        got.wait(timeout)
        ok = first and first[-1].startswith("orbitlink view: http")
        if not ok:
            self.stop()
            why = "; ".join(x for x in first if x) or f"it did not start within {timeout:g} s"
            for prefix in ("orbitlink: error: ", "orbitlink view: "):
                why = why.replace(prefix, "")
            raise ViewError(f"the view did not start: {why}")
        for line in first[:-1]:
            print(line, file=sys.stderr)
        self.url = first[-1].split()[2]

    def stop(self, grace: float = 0.5) -> None:
        """Let the view take the bus's last messages, then stop it (SIGTERM, then SIGKILL)."""
        import subprocess

        if self.proc.poll() is not None:
            return
        time.sleep(grace)
        self.proc.terminate()
        try:
            self.proc.wait(5.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5.0)


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_view(args) -> int:
    if not _is_loopback(args.host):
        print(f"orbitlink view: warning: listening on {args.host}, not loopback: anyone who "
              "reaches it sees the station (the view has no authentication)", file=sys.stderr)

    def ready(url):
        print(f"orbitlink view: {url} (bus {args.bus})", file=sys.stderr, flush=True)

    return run_view(args.bus, args.host, args.port, args.topic, ready, args.exit_with)


def add_parsers(sub) -> None:
    p = sub.add_parser("view", help="the live view in a browser: spectrum, waterfall, "
                       "constellation or eye, Doppler, frames and counters from a bus",
                       description="Serve the live view of a station's bus on "
                       "http://HOST:PORT/ (a subscriber like any other: it can stop "
                       "without touching the receiver).")
    p.add_argument("--bus", default="tcp://127.0.0.1:5550", metavar="ENDPOINT",
                   help="the bus to subscribe to (default tcp://127.0.0.1:5550)")
    p.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080; 0: any "
                   "free port, printed)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1)")
    p.add_argument("--topic", default="", metavar="PREFIX",
                   help="only the topics that start with PREFIX, e.g. STATION/ (default: all)")
    p.add_argument("--exit-with", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_view)


def main(argv=None) -> int:
    """``view`` on its own (``python -m orbitlink.flowgraphs.view view ...``, what rx --view
    runs): errors a user can cause exit 2 with one sentence."""
    from orbitlink.flowgraphs.cli import standalone_main

    return standalone_main(add_parsers, "The live view of a station's bus.", argv)


if __name__ == "__main__":
    raise SystemExit(main())
