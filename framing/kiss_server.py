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
  server. Full queues drop and count instead of blocking; a client that does not read is
  disconnected once its output buffer passes ``client_buffer`` bytes.

One background thread runs a ``selectors`` loop; :meth:`stop` (or leaving the ``with`` block)
closes every socket and joins it. Binds to loopback by default: open it wider only behind
something that authenticates, since clients can make the station transmit.
"""

from __future__ import annotations

import operator
import queue
import selectors
import socket
import threading

from orbitlink import OrbitlinkError
from orbitlink.framing import ax25, kiss
from orbitlink.framing.errors import FrameParseError
from orbitlink.modem.block import Pdu

__all__ = ["KissServer", "KissServerError", "DEFAULT_HOST", "DEFAULT_PORT"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001


class KissServerError(OrbitlinkError, OSError):
    """The server cannot listen where it was asked to (bad port, address in use, unknown
    host); the message is one sentence naming the address."""


class _Client:
    __slots__ = ("sock", "name", "decoder", "out")

    def __init__(self, sock, name, max_frame):
        self.sock = sock
        self.name = name
        self.decoder = kiss.KissDecoder(max_frame=max_frame)
        self.out = bytearray()


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
        Connections beyond this are accepted and closed at once (counted ``rejected``).
    tx_queue_size : int
        Bound of :attr:`tx_queue`; frames arriving when it is full are dropped (``tx_dropped``).
    broadcast_queue_size : int
        Bound of the queue between :meth:`broadcast` and the server thread (``rx_dropped``).
    client_buffer : int
        Bytes of pending output per client before it is disconnected as too slow.
    max_frame : int
        Longest KISS frame accepted from a client, escaped bytes (``oversize``).
    validate_ax25 : bool
        Drop (and count as ``malformed``) client data frames that do not parse as AX.25.
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                 max_clients: int = 16, tx_queue_size: int = 256,
                 broadcast_queue_size: int = 1024, client_buffer: int = 1 << 20,
                 max_frame: int = 4096, validate_ax25: bool = True):
        port = _int_arg("port", port, 0, 65535)
        self.host, self.port = str(host), port
        self.max_clients = _int_arg("max_clients", max_clients, 1)
        self.client_buffer = _int_arg("client_buffer", client_buffer, 1)
        self.max_frame = _int_arg("max_frame", max_frame, 1)
        tx_queue_size = _int_arg("tx_queue_size", tx_queue_size, 1)
        broadcast_queue_size = _int_arg("broadcast_queue_size", broadcast_queue_size, 1)
        self.validate_ax25 = bool(validate_ax25)
        self.tx_queue: queue.Queue = queue.Queue(maxsize=int(tx_queue_size))
        self._bcast: queue.Queue = queue.Queue(maxsize=int(broadcast_queue_size))
        self._lock = threading.Lock()
        self.stats = dict.fromkeys(
            ("connections", "rejected", "disconnects", "slow_clients", "rx_frames",
             "rx_dropped", "tx_frames", "tx_dropped", "malformed", "oversize", "commands"), 0)
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
            ls.listen(8)
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
            while not self._stop.is_set():
                for key, ev in sel.select(timeout=0.5):
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
                self._count("rejected")
                s.close()
                continue
            s.setblocking(False)
            c = _Client(s, f"{addr[0]}:{addr[1]}", self.max_frame)
            self._clients[s] = c
            sel.register(s, selectors.EVENT_READ, c)
            self._count("connections")

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
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sel, c)
            return
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
            try:
                self.tx_queue.put_nowait(Pdu(f.data, {"port": f.port, "client": c.name}))
                self._count("tx_frames")
            except queue.Full:
                self._count("tx_dropped")

    def _write(self, sel, c):
        try:
            n = c.sock.send(c.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(sel, c)
            return
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
                    self._count("slow_clients")
                    self._drop(sel, c)
                    continue
                was_empty = not c.out
                c.out += k
                if was_empty:
                    sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        return sent
