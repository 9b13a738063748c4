"""KISS over TCP: serve decoded AX.25 frames to clients and take frames to transmit from them.

The de-facto "network KISS" interface of direwolf (port 8001), Xastir, APRSIS32, kissutil and
many satellite decoders: a TCP byte stream of KISS frames (:mod:`orbitlink.framing.kiss`) in
both directions.

* Every decoded frame handed to :meth:`KissServer.broadcast` is sent to every connected client.
* Data frames received from any client are queued in :attr:`KissServer.tx_queue` (a bounded
  ``queue.Queue`` of :class:`~orbitlink.modem.block.Pdu`, meta ``port`` and ``client``) that
  the caller drains to transmit.
* Malformed input (bad KISS escapes, oversize frames, data frames that are not AX.25 when
  ``validate_ax25``) is counted in :attr:`KissServer.stats` and dropped; it never stops the
  server. Full queues drop and count instead of blocking.

Fairness and limits (every one counted, see :meth:`KissServer.counters`):

* each poll round reads at most ``read_budget`` bytes from each ready client, round-robin;
* :attr:`KissServer.tx_queue` is a :class:`FairQueue`: it hands frames out round-robin by
  client, and when it is full a frame from a client holding less than the biggest holder
  replaces that holder's newest frame, so one flooding client cannot starve the others
  (``tx_dropped``);
* each client has a bounded output buffer (``client_buffer`` bytes): a slow reader's excess
  frames are dropped for it alone (``out_dropped``), never blocking the others;
* a client that sends nothing and reads nothing for ``idle_timeout`` seconds is closed
  (``idle_closed``);
* at ``max_clients`` connections, a new connection evicts the longest-idle client if that one
  has been idle for ``evict_idle`` seconds (``evicted``), else it is closed at once
  (``rejected``): idle connections cannot lock active clients out.

One background thread runs a ``selectors`` loop; :meth:`stop` (or leaving the ``with`` block)
closes every socket and joins it. Binds to loopback by default: open it wider only behind
something that authenticates, since clients can make the station transmit.
"""

from __future__ import annotations

import collections
import operator
import queue
import selectors
import socket
import threading
import time

from orbitlink import OrbitlinkError
from orbitlink.framing import ax25, kiss
from orbitlink.framing.errors import FrameParseError
from orbitlink.modem.block import Pdu

__all__ = ["KissServer", "KissServerError", "FairQueue", "DEFAULT_HOST", "DEFAULT_PORT"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001


class KissServerError(OrbitlinkError, OSError):
    """The server cannot listen where it was asked to (bad port, address in use, unknown
    host); the message is one sentence naming the address."""


class FairQueue(queue.Queue):
    """A bounded ``queue.Queue`` of :class:`Pdu` served round-robin by ``meta["client"]``.

    ``get`` takes the oldest frame of the next client in turn. :meth:`offer` adds without
    blocking; when the queue is full it makes room by dropping the newest frame of the client
    holding the most, if that client holds at least two more than the offering one, and
    otherwise refuses the new frame. ``put``/``put_nowait`` keep their usual behaviour.
    """

    def _init(self, maxsize):
        self._by_client: collections.OrderedDict = collections.OrderedDict()
        self._n = 0

    def _qsize(self):
        return self._n

    def _put(self, item):
        key = item.meta.get("client") if isinstance(item, Pdu) else None
        d = self._by_client.get(key)
        if d is None:
            d = self._by_client[key] = collections.deque()
        d.append(item)
        self._n += 1

    def _get(self):
        key, d = next(iter(self._by_client.items()))
        item = d.popleft()
        self._n -= 1
        del self._by_client[key]
        if d:
            self._by_client[key] = d  # to the back of the round
        return item

    def offer(self, item) -> tuple[bool, int]:
        """Queue ``item`` without blocking: (queued, frames of other clients dropped)."""
        with self.mutex:
            dropped = 0
            if 0 < self.maxsize <= self._n:
                key = item.meta.get("client") if isinstance(item, Pdu) else None
                mine = len(self._by_client.get(key, ()))
                big = max(self._by_client, key=lambda k: len(self._by_client[k]))
                if len(self._by_client[big]) < mine + 2:
                    return False, 0
                self._by_client[big].pop()
                self._n -= 1
                dropped = 1
            self._put(item)
            self.unfinished_tasks += 1
            self.not_empty.notify()
            return True, dropped


class _Client:
    __slots__ = ("sock", "name", "decoder", "out", "last_active", "dropping", "sent")

    def __init__(self, sock, name, max_frame):
        self.sock = sock
        self.name = name
        self.decoder = kiss.KissDecoder(max_frame=max_frame)
        self.out = bytearray()
        self.last_active = time.monotonic()
        self.dropping = False
        self.sent = 0


def _float_arg(what: str, v) -> float:
    try:
        if isinstance(v, bool):
            raise TypeError
        x = float(v)
    except (TypeError, ValueError):
        x = float("nan")
    if not 0.0 <= x < float("inf"):
        raise KissServerError(f"KISS server {what} must be a number of seconds, at least 0, "
                              f"got {v!r}")
    return x


def _int_arg(what: str, v, lo: int, hi: int | None = None) -> int:
    try:
        if isinstance(v, bool):
            raise TypeError
        n = operator.index(v)
    except TypeError:
        n = None
    if n is None or n < lo or (hi is not None and n > hi):
        rng = f"{lo}..{hi}" if hi is not None else f"at least {lo}"
        raise KissServerError(f"KISS server {what} must be an integer {rng}, got {v!r}")
    return n


class KissServer:
    """KISS-over-TCP server in a background thread.

    Parameters
    ----------
    host, port : str, int
        Address to listen on (default 127.0.0.1:8001; port 0 picks a free port, see
        :attr:`address`).
    max_clients : int
        At this many connections, a new one evicts the longest-idle client when that one has
        been idle ``evict_idle`` seconds (``evicted``), else it is closed at once
        (``rejected``).
    tx_queue_size : int
        Bound of :attr:`tx_queue` (a :class:`FairQueue`); frames that do not fit are dropped
        (``tx_dropped``), the flooding client's first.
    broadcast_queue_size : int
        Bound of the queue between :meth:`broadcast` and the server thread (``rx_dropped``).
    client_buffer : int
        Bytes of pending output per client; frames beyond it are dropped for that client
        (``out_dropped``; ``slow_clients`` counts the times a client starts dropping).
    idle_timeout : float or None
        Seconds after which a client that has sent nothing and read nothing is closed
        (``idle_closed``; default 300; None or 0: never).
    evict_idle : float
        Idle seconds that make a client evictable by a new connection when the server is full.
    read_budget : int
        Bytes read from one client per poll round (round-robin fairness).
    max_frame : int
        Longest KISS frame accepted from a client, escaped bytes (``oversize``).
    validate_ax25 : bool
        Drop (and count as ``malformed``) client data frames that do not parse as AX.25.
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                 max_clients: int = 16, tx_queue_size: int = 256,
                 broadcast_queue_size: int = 1024, client_buffer: int = 1 << 20,
                 max_frame: int = 4096, validate_ax25: bool = True,
                 idle_timeout: float | None = 300.0, evict_idle: float = 1.0,
                 read_budget: int = 16384):
        port = _int_arg("port", port, 0, 65535)
        self.host, self.port = str(host), port
        self.max_clients = _int_arg("max_clients", max_clients, 1)
        self.client_buffer = _int_arg("client_buffer", client_buffer, 1)
        self.max_frame = _int_arg("max_frame", max_frame, 1)
        tx_queue_size = _int_arg("tx_queue_size", tx_queue_size, 1)
        broadcast_queue_size = _int_arg("broadcast_queue_size", broadcast_queue_size, 1)
        self.validate_ax25 = bool(validate_ax25)
        self.idle_timeout = _float_arg("idle_timeout", idle_timeout or 0.0) or None
        self.evict_idle = _float_arg("evict_idle", evict_idle)
        self.read_budget = _int_arg("read_budget", read_budget, 1)
        self.tx_queue: FairQueue = FairQueue(maxsize=int(tx_queue_size))
        self._bcast: queue.Queue = queue.Queue(maxsize=int(broadcast_queue_size))
        self._lock = threading.Lock()
        self.stats = dict.fromkeys(
            ("connections", "rejected", "evicted", "idle_closed", "disconnects", "slow_clients",
             "rx_frames", "rx_dropped", "out_frames", "out_dropped", "tx_frames", "tx_dropped",
             "malformed", "oversize", "commands"), 0)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._clients: dict[socket.socket, _Client] = {}
        self._wake_r = self._wake_w = None
        self.address: tuple[str, int] | None = None

    # ---------------------------------------------------------------------------------------
    def start(self) -> "KissServer":
        """Bind, listen and start the server thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("KissServer already started")
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            ls.bind((self.host, self.port))
            ls.listen(64)
        except (OSError, OverflowError, UnicodeError) as e:
            ls.close()
            raise KissServerError(f"KISS server cannot listen on {self.host}:{self.port} "
                                  f"({getattr(e, 'strerror', None) or e})") from None
        ls.setblocking(False)
        self._listener = ls
        self.address = ls.getsockname()[:2]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kiss-server", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection and the listener, and join the thread."""
        if self._thread is None:
            return
        self._stop.set()
        self._wake()
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self):
        return self.start() if self._thread is None else self

    def __exit__(self, *exc):
        self.stop()

    @property
    def n_clients(self) -> int:
        return len(self._clients)

    def flush(self, timeout: float = 1.0) -> bool:
        """Wait (at most ``timeout`` s) until every broadcast frame has left for the clients'
        sockets; True when it has (frames dropped for a slow reader do not wait)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and self._thread is not None:
            if self._bcast.empty() and not any(c.out for c in list(self._clients.values())):
                return True
            time.sleep(0.01)
        return self._bcast.empty() and not any(c.out for c in list(self._clients.values()))

    def counters(self) -> dict:
        """A copy of :attr:`stats` with ``clients`` (connected now) and ``tx_queued``.

        ``connections`` accepted, ``rejected`` (server full, nobody evictable), ``evicted``
        (longest-idle client closed for a new one), ``idle_closed``, ``disconnects`` (client
        closed), ``rx_frames`` frames broadcast, ``rx_dropped`` (broadcast queue full),
        ``out_frames`` frames queued to clients, ``out_dropped`` (a slow reader's output buffer
        full), ``slow_clients``, ``tx_frames`` frames from clients queued to transmit,
        ``tx_dropped``, ``malformed``, ``oversize``, ``commands`` (KISS parameter frames).
        """
        with self._lock:
            d = dict(self.stats)
        d["clients"] = len(self._clients)
        d["tx_queued"] = self.tx_queue.qsize()
        return d

    def broadcast(self, frame, port: int = 0) -> bool:
        """Queue a decoded frame (bytes or Pdu, without FCS) for every client.

        Returns False (and counts ``rx_dropped``) when the queue is full. Thread-safe.
        """
        data = frame.data if isinstance(frame, Pdu) else frame
        try:
            self._bcast.put_nowait(kiss.encode(bytes(data), port))
        except queue.Full:
            self._count("rx_dropped")
            return False
        self._wake()
        return True

    # ---------------------------------------------------------------------------------------
    def _count(self, key, n=1):
        with self._lock:
            self.stats[key] += n

    def _wake(self):
        try:
            if self._wake_w is not None:
                self._wake_w.send(b"\0")
        except OSError:
            pass

    def _run(self):
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ, "listen")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            tick = 0.5 if not self.idle_timeout else min(0.5, self.idle_timeout / 4)
            while not self._stop.is_set():
                for key, ev in sel.select(timeout=tick):
                    if key.data == "listen":
                        self._accept(sel)
                    elif key.data == "wake":
                        try:
                            while self._wake_r.recv(4096):
                                pass
                        except (BlockingIOError, InterruptedError):
                            pass
                    else:
                        c = key.data
                        if ev & selectors.EVENT_READ:
                            self._read(sel, c)
                        if ev & selectors.EVENT_WRITE and c.sock in self._clients:
                            self._write(sel, c)
                self._drain_broadcast(sel)
                if self.idle_timeout:
                    self._close_idle(sel)
        finally:
            for c in list(self._clients.values()):
                self._drop(sel, c, count=False)
            sel.close()
            for s in (self._listener, self._wake_r, self._wake_w):
                try:
                    s.close()
                except OSError:
                    pass
            self._listener = self._wake_r = self._wake_w = None

    def _accept(self, sel):
        while True:
            try:
                s, addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(self._clients) >= self.max_clients:
                old = min(self._clients.values(), key=lambda c: c.last_active)
                if time.monotonic() - old.last_active < self.evict_idle:
                    self._count("rejected")
                    s.close()
                    continue
                self._drop(sel, old, count=False)
                self._count("evicted")
            s.setblocking(False)
            c = _Client(s, f"{addr[0]}:{addr[1]}", self.max_frame)
            self._clients[s] = c
            sel.register(s, selectors.EVENT_READ, c)
            self._count("connections")

    def _close_idle(self, sel):
        limit = time.monotonic() - self.idle_timeout
        for c in [c for c in self._clients.values() if c.last_active < limit]:
            self._drop(sel, c, count=False)
            self._count("idle_closed")

    def _drop(self, sel, c, count=True):
        self._clients.pop(c.sock, None)
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        try:
            c.sock.close()
        except OSError:
            pass
        if count:
            self._count("disconnects")

    def _read(self, sel, c):
        try:
            data = c.sock.recv(self.read_budget)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sel, c)
            return
        c.last_active = time.monotonic()
        e0, o0 = c.decoder.errors, c.decoder.overflows
        frames = c.decoder.feed(data)
        if c.decoder.errors != e0:
            self._count("malformed", c.decoder.errors - e0)
        if c.decoder.overflows != o0:
            self._count("oversize", c.decoder.overflows - o0)
        for f in frames:
            if not f.is_data:
                self._count("commands")
                continue
            if self.validate_ax25:
                try:
                    ax25.parse(f.data)
                except FrameParseError:
                    self._count("malformed")
                    continue
            ok, dropped = self.tx_queue.offer(Pdu(f.data, {"port": f.port, "client": c.name}))
            if ok:
                self._count("tx_frames")
            if dropped or not ok:
                self._count("tx_dropped", dropped + (not ok))

    def _write(self, sel, c):
        try:
            n = c.sock.send(c.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(sel, c)
            return
        if n:
            c.last_active = time.monotonic()
        del c.out[:n]
        if not c.out:
            sel.modify(c.sock, selectors.EVENT_READ, c)

    def _drain_broadcast(self, sel):
        sent = False
        while True:
            try:
                k = self._bcast.get_nowait()
            except queue.Empty:
                break
            sent = True
            self._count("rx_frames")
            for c in list(self._clients.values()):
                if len(c.out) + len(k) > self.client_buffer:
                    if not c.dropping:
                        c.dropping = True
                        self._count("slow_clients")
                    self._count("out_dropped")
                    continue
                c.dropping = False
                was_empty = not c.out
                c.out += k
                c.sent += 1
                self._count("out_frames")
                if was_empty:
                    sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        return sent
