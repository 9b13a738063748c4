"""The orbitlink bus: its wire format and its sockets, as a library (pyzmq).

Wire format (README "The bus"; a client in any language reads it with its struct module):

- a multipart message ``[topic, header, meta, payload]``;
- topic: UTF-8 ``<station>/<link>/<kind>`` with kind ``frames``, ``stats``, ``events``,
  ``tx-ack``, ``spectrum`` or ``symbols``;
- header: 32 bytes little-endian, ``struct`` format ``<4sBBHQqd``: magic ``b"OLNK"``, version 1
  (u8), kind (u8: 1 frame, 2 stats, 3 event, 4 tx-ack, 5 tx-submit, 6 spectrum, 7 symbols),
  flags (u16), sequence number (u64, per topic, from 0, no gaps), absolute sample index (i64),
  time (f64, UNIX seconds UTC);
- meta: a UTF-8 JSON object;
- payload: raw bytes (the frame; empty for stats and events; for ``spectrum`` one row of
  ``nbins`` u8 levels, dB = ``db0 + level * db_step``; for ``symbols`` little-endian f32: I, Q
  pairs of a constellation, or the traces of an eye diagram, ``traces x points``).

The monitor kinds (``spectrum``, ``symbols``) are rate-limited by the publisher (about ten rows
and two symbol sets a second) and best effort: with ``XPUB_NODROP`` they are never waited for,
a row that cannot be sent at once is dropped and counted (``monitor_dropped``), and its
sequence number is still used, so a subscriber sees the gap.

Sockets:

- :class:`BusPublisher`: PUB (or XPUB with ``XPUB_NODROP`` for consumers that must not lose
  anything: the publisher then waits, bounded, and counts what it could not send) bound at
  ``tcp://127.0.0.1:5550`` by default;
- :class:`TxEndpoint`: ROUTER at ``tcp://127.0.0.1:5551``; a submission is ``[header kind=5,
  meta, payload]`` after the ROUTER identity (a REQ client's empty delimiter is accepted and
  echoed), answered with tx-ack envelopes ``[topic, header kind=4, meta, b""]`` whose meta has
  ``status`` accepted / rejected (with ``reason``) / sent (with ``tx_time``);
- :class:`ControlEndpoint`: ROUTER at ``tcp://127.0.0.1:5552``; one-part JSON requests
  ``{"request": "status"|"retune"|"set_gain"|"start"|"stop", ...}`` answered in JSON.

Every socket binds to loopback unless told otherwise. The transmit and control sockets bound
to any other address require CURVE: a server key pair (:func:`make_keys`) and the public keys
of the authorised clients; a client without one of them never completes the handshake (libzmq
drops it) and the refusal is counted (``auth_failures``) and logged. Malformed messages on the
transmit and control sockets are counted and answered with an error (or dropped when they do
not even carry an identity), never fatal; every part has a length cap, and libzmq refuses a
part longer than ``MAXMSGSIZE`` before allocating it (the peer is disconnected).

:class:`GrPduBridge` sends frames to GNU Radio as PMT PDUs (``drivers/pmt.py``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import struct
import threading
import time as _time
from dataclasses import dataclass, field

import numpy as np
import zmq
import zmq.auth

from orbitlink import OrbitlinkError
from orbitlink.drivers import pmt as _pmt

__all__ = ["BusError", "Message", "HEADER", "MAGIC", "VERSION", "KIND_FRAME", "KIND_STATS",
           "KIND_EVENT", "KIND_TX_ACK", "KIND_TX_SUBMIT", "KIND_SPECTRUM", "KIND_SYMBOLS",
           "MONITOR_KINDS", "TOPIC_KINDS", "encode_header",
           "encode_message", "decode_message", "decode_submission", "check_endpoint",
           "BusPublisher", "TxEndpoint", "TxRequest", "ControlEndpoint", "ControlRequest",
           "make_keys", "GrPduBridge", "pdu_bytes", "DEFAULT_BUS", "DEFAULT_TX",
           "DEFAULT_CONTROL", "MAX_TOPIC", "MAX_META", "MAX_PAYLOAD", "CONTROL_REQUESTS"]

log = logging.getLogger("orbitlink.bus")

HEADER = struct.Struct("<4sBBHQqd")
MAGIC = b"OLNK"
VERSION = 1
KIND_FRAME, KIND_STATS, KIND_EVENT, KIND_TX_ACK, KIND_TX_SUBMIT = 1, 2, 3, 4, 5
KIND_SPECTRUM, KIND_SYMBOLS = 6, 7  # the monitor kinds: best effort, rate-limited
#: header kind -> topic kind (tx-submit has no topic: it only travels to the transmit socket)
TOPIC_KINDS = {KIND_FRAME: "frames", KIND_STATS: "stats", KIND_EVENT: "events",
               KIND_TX_ACK: "tx-ack", KIND_SPECTRUM: "spectrum", KIND_SYMBOLS: "symbols"}
MONITOR_KINDS = (KIND_SPECTRUM, KIND_SYMBOLS)
_KIND_OF_TOPIC = {v: k for k, v in TOPIC_KINDS.items()}

DEFAULT_BUS = "tcp://127.0.0.1:5550"
DEFAULT_TX = "tcp://127.0.0.1:5551"
DEFAULT_CONTROL = "tcp://127.0.0.1:5552"

MAX_TOPIC = 256  # bytes
MAX_META = 64 * 1024  # bytes of JSON
MAX_PAYLOAD = 1 << 20  # bytes of a frame
MAX_PARTS = 8  # parts of a received message looked at (more: malformed)
_MAXMSGSIZE = 4 << 20  # libzmq refuses any longer part before allocating it
_U64 = (1 << 64) - 1

CONTROL_REQUESTS = ("status", "retune", "set_gain", "start", "stop")


class BusError(OrbitlinkError):
    """A bus message that is not in the wire format, or a socket that cannot be opened."""


# --------------------------------------------------------------------------------------------
# envelope


@dataclass
class Message:
    """One decoded bus message."""

    topic: str
    kind: int
    flags: int
    seq: int
    sample_index: int
    time: float
    meta: dict = field(default_factory=dict)
    payload: bytes = b""

    @property
    def station(self) -> str:
        return self.topic.split("/")[0]

    @property
    def link(self) -> str:
        return self.topic.split("/")[1]


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (bytes, bytearray, memoryview)):
        return bytes(o).hex()
    raise TypeError(f"{type(o).__name__} is not JSON")


def _finite(o):
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {str(k): _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def encode_meta(meta) -> bytes:
    """``meta`` as compact UTF-8 JSON (numpy values converted, NaN and infinities as null)."""
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise BusError(f"bus meta must be a dict, not {type(meta).__name__}")
    try:
        b = json.dumps(meta, separators=(",", ":"), default=_json_default,
                       allow_nan=False).encode("utf-8")
    except ValueError:
        b = json.dumps(_finite(json.loads(json.dumps(meta, default=_json_default))),
                       separators=(",", ":")).encode("utf-8")
    except TypeError as e:
        raise BusError(f"bus meta is not JSON: {e}") from None
    if len(b) > MAX_META:
        raise BusError(f"bus meta of {len(b)} bytes is over the cap of {MAX_META}")
    return b


def encode_header(kind: int, seq: int, sample_index: int = 0, time: float = 0.0,
                  flags: int = 0) -> bytes:
    """The 32-byte header."""
    try:
        return HEADER.pack(MAGIC, VERSION, int(kind), int(flags), int(seq), int(sample_index),
                           float(time))
    except struct.error as e:
        raise BusError(f"bus header field out of range: {e}") from None


def make_topic(station: str, link: str, kind: int) -> bytes:
    """``<station>/<link>/<kind>`` as UTF-8 (station and link without ``/``)."""
    for what, s in (("station", station), ("link", link)):
        if not isinstance(s, str) or not s or "/" in s:
            raise BusError(f"bus {what} name {s!r} must be a non-empty string without '/'")
    if kind not in TOPIC_KINDS:
        raise BusError(f"bus message kind {kind} has no topic")
    t = f"{station}/{link}/{TOPIC_KINDS[kind]}".encode("utf-8")
    if len(t) > MAX_TOPIC:
        raise BusError(f"bus topic of {len(t)} bytes is over the cap of {MAX_TOPIC}")
    return t


def encode_message(station: str, link: str, kind: int, seq: int, meta=None,
                   payload: bytes = b"", sample_index: int = 0, time: float = 0.0,
                   flags: int = 0) -> list[bytes]:
    """``[topic, header, meta, payload]`` of one bus message."""
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise BusError(f"bus payload of {len(payload)} bytes is over the cap of {MAX_PAYLOAD}")
    return [make_topic(station, link, kind), encode_header(kind, seq, sample_index, time, flags),
            encode_meta(meta), payload]


def _b(part) -> bytes:
    return part.bytes if isinstance(part, zmq.Frame) else bytes(part)


def _decode_header(h: bytes, kinds) -> tuple:
    if len(h) != HEADER.size:
        raise BusError(f"bus header of {len(h)} bytes, not {HEADER.size}")
    magic, version, kind, flags, seq, sample_index, t = HEADER.unpack(h)
    if magic != MAGIC:
        raise BusError(f"bus header magic {magic!r} is not {MAGIC!r}")
    if version != VERSION:
        raise BusError(f"bus header version {version} is not {VERSION}")
    if kind not in kinds:
        raise BusError(f"bus header kind {kind} is not one of {sorted(kinds)}")
    return kind, flags, seq, sample_index, t


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _decode_meta(m: bytes) -> dict:
    if len(m) > MAX_META:
        raise BusError(f"bus meta of {len(m)} bytes is over the cap of {MAX_META}")
    try:
        meta = json.loads(m.decode("utf-8"), parse_constant=_no_constant) if m else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BusError("bus meta is not UTF-8 JSON") from None
    if not isinstance(meta, dict):
        raise BusError("bus meta is not a JSON object")
    return meta


def decode_message(parts) -> Message:
    """Parse ``[topic, header, meta, payload]``; raises :class:`BusError` for anything that is
    not exactly that (the lengths are checked before anything is decoded)."""
    if len(parts) != 4:
        raise BusError(f"bus message of {len(parts)} parts, not 4")
    sizes = [len(p) for p in parts]
    if sizes[0] > MAX_TOPIC:
        raise BusError(f"bus topic of {sizes[0]} bytes is over the cap of {MAX_TOPIC}")
    if sizes[3] > MAX_PAYLOAD:
        raise BusError(f"bus payload of {sizes[3]} bytes is over the cap of {MAX_PAYLOAD}")
    topic_b, h, m, payload = (_b(p) for p in parts)
    kind, flags, seq, sample_index, t = _decode_header(h, TOPIC_KINDS)
    try:
        topic = topic_b.decode("utf-8")
    except UnicodeDecodeError:
        raise BusError("bus topic is not UTF-8") from None
    fields = topic.split("/")
    if len(fields) != 3 or not fields[0] or not fields[1]:
        raise BusError(f"bus topic {topic!r} is not <station>/<link>/<kind>")
    if _KIND_OF_TOPIC.get(fields[2]) != kind:
        raise BusError(f"bus topic kind {fields[2]!r} does not match header kind {kind}")
    return Message(topic, kind, flags, seq, sample_index, t, _decode_meta(m), payload)


def decode_submission(parts) -> Message:
    """Parse a transmit submission ``[header kind=5, meta, payload]`` (topic ``""``)."""
    if len(parts) != 3:
        raise BusError(f"transmit submission of {len(parts)} parts, not 3 "
                       "(header, meta, payload)")
    if len(parts[2]) > MAX_PAYLOAD:
        raise BusError(f"bus payload of {len(parts[2])} bytes is over the cap of {MAX_PAYLOAD}")
    h, m, payload = (_b(p) for p in parts)
    kind, flags, seq, sample_index, t = _decode_header(h, (KIND_TX_SUBMIT,))
    return Message("", kind, flags, seq, sample_index, t, _decode_meta(m), payload)


# --------------------------------------------------------------------------------------------
# addresses and keys


def check_endpoint(address, allow_remote: bool = False) -> tuple[str, bool]:
    """Normalise a bind address (a bare port means ``tcp://127.0.0.1:PORT``); returns it and
    whether it is loopback-only (ipc and inproc count as local). Raises :class:`BusError` for
    a non-loopback address unless ``allow_remote``."""
    from orbitlink.drivers.zmq_iq import normalise_address

    address, loop = normalise_address(address, BusError)
    if not loop and not allow_remote:
        raise BusError(f"refusing to bind {address}: only loopback addresses (127.0.0.1, "
                       "[::1]) unless allowed explicitly")
    return address, loop


_CERT = """#   ****  Generated on {date} by orbitlink  ****
#   ZeroMQ CURVE {what} Certificate
#   Exchange securely, or use a secure mechanism to verify the contents
#   of this file after exchange.

metadata
curve
    public-key = "{public}"
"""


def make_keys(directory, name: str = "orbitlink") -> tuple[str, str]:
    """Make a CURVE key pair (``zmq.curve_keypair``) and write ``NAME.key`` (public: give it to
    the other side) and ``NAME.key_secret`` (mode 0600) in ``directory``, in the certificate
    format ``zmq.auth.load_certificate`` reads. Returns the paths (public, secret)."""
    public, secret = zmq.curve_keypair()
    os.makedirs(directory, exist_ok=True)
    date = _time.strftime("%Y-%m-%d %H:%M:%S")
    pub_path = os.path.join(directory, f"{name}.key")
    sec_path = os.path.join(directory, f"{name}.key_secret")
    with open(pub_path, "w") as f:
        f.write(_CERT.format(date=date, what="Public", public=public.decode()))
    fd = os.open(sec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(_CERT.format(date=date, what="Secret", public=public.decode())
                + f'    secret-key = "{secret.decode()}"\n')
    return pub_path, sec_path


def _load_pair(keys) -> tuple[bytes, bytes]:
    """A server key pair from a ``.key_secret`` path or a (public, secret) pair of Z85 keys."""

    if isinstance(keys, (str, os.PathLike)):
        try:
            public, secret = zmq.auth.load_certificate(os.fspath(keys))
        except (OSError, ValueError) as e:
            raise BusError(f"{keys}: cannot read a CURVE key pair ({e})") from None
        if not secret:
            raise BusError(f"{keys}: no secret key (give the .key_secret file)")
        return public, secret
    try:
        public, secret = keys
    except (TypeError, ValueError):
        raise BusError("a CURVE server key pair is a .key_secret path or (public, "
                       "secret)") from None
    return (public.encode() if isinstance(public, str) else bytes(public),
            secret.encode() if isinstance(secret, str) else bytes(secret))


class _KeyList:
    """CURVE credentials provider for ``configure_curve_callback``."""

    def __init__(self, keys):
        self.keys = {k.encode() if isinstance(k, str) else bytes(k) for k in keys}

    def callback(self, domain, key):
        return bytes(key) in self.keys  # pyzmq passes the Z85 form


# --------------------------------------------------------------------------------------------
# publisher


class _XpubSubscriptions:
    """For a publisher on an XPUB socket (``nodrop``): the subscriptions it has seen; and the
    closing both publishers share."""

    def _bind(self, address: str, nodrop: bool, sndhwm: int, context, what: str,
              sndbuf: int | None = None) -> None:
        """Make and bind the PUB (or, with ``nodrop``, XPUB with ``XPUB_NODROP`` and
        ``XPUB_VERBOSE``: every subscriber's subscription is passed up, not only a topic's
        first, so that the publisher can wait for N consumers) socket."""
        self.nodrop = bool(nodrop)
        # nodrop: a context of its own, so that closing can wait for the queues to empty
        self._own_ctx = context is None and self.nodrop
        self._ctx = context or (zmq.Context() if self._own_ctx else zmq.Context.instance())
        self._sock = self._ctx.socket(zmq.XPUB if self.nodrop else zmq.PUB)
        self._sock.setsockopt(zmq.LINGER, 1000)
        self._sock.setsockopt(zmq.SNDHWM, int(sndhwm))
        if sndbuf:
            self._sock.setsockopt(zmq.SNDBUF, int(sndbuf))
        if self.nodrop:
            self._sock.setsockopt(zmq.XPUB_NODROP, 1)
            self._sock.setsockopt(zmq.XPUB_VERBOSE, 1)
        try:
            self._sock.bind(address)
        except zmq.ZMQError as e:
            self._sock.close(0)
            if self._own_ctx:
                self._ctx.term()
            raise BusError(f"cannot bind {what} at {address}: {e}") from None
        self.endpoint = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.sent = 0
        self.dropped = 0
        self.subscriptions = 0
        self.malformed = 0  # XPUB: messages from subscribers that are not (un)subscriptions

    #: most messages read from subscribers per drain: a peer that floods the XPUB with
    #: garbage costs the publisher a bounded amount of work between two frames
    DRAIN_MAX = 256

    def close(self):
        """Close the socket. A ``nodrop`` publisher with a context of its own waits (at most
        ``retry_timeout``) for its slow subscribers to take what is still queued, the stop
        event included, before it returns: the messages counted as sent go out."""
        own = getattr(self, "_own_ctx", False)
        if own:
            self._sock.setsockopt(zmq.LINGER, int(self.retry_timeout * 1000))
        self._sock.close()
        if own:
            self._ctx.term()  # returns when the queues are empty or the linger has passed
            self._own_ctx = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _drain(self):
        """Read the subscription messages an XPUB receives (at most :attr:`DRAIN_MAX`)."""
        for _ in range(self.DRAIN_MAX):
            if not self._sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                break
            try:
                m = self._sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            if m[:1] == b"\x01":
                self.subscriptions += 1
            elif m[:1] != b"\x00":  # not a (un)subscription: counted, ignored
                self.malformed += 1

    def wait_subscribers(self, n: int = 1, timeout: float = 5.0) -> bool:
        """XPUB only (``nodrop``): wait until ``n`` subscriptions have arrived (bounded)."""
        if not self.nodrop:
            raise BusError("wait_subscribers needs nodrop=True (XPUB)")
        end = _time.monotonic() + timeout
        while self.subscriptions < n:
            left = end - _time.monotonic()
            if left <= 0:
                return False
            if self._sock.poll(int(min(left, 0.05) * 1000) + 1, zmq.POLLIN):
                self._drain()
        return True


class BusPublisher(_XpubSubscriptions):
    """Publishes frames, stats and events on the bus.

    Parameters
    ----------
    endpoint
        Where to bind (default ``tcp://127.0.0.1:5550``; ``tcp://127.0.0.1:*`` picks a free
        port, see :attr:`endpoint`).
    nodrop
        XPUB with ``XPUB_NODROP``: at the high-water mark the publisher retries for up to
        ``retry_timeout`` seconds instead of letting libzmq drop, then counts the message in
        ``dropped``. Without it (PUB), a slow subscriber's losses are invisible here and are
        counted by the subscriber from the sequence numbers.
    sndhwm
        Messages queued per subscriber (libzmq's default 1000).
    allow_remote
        Allow binding a non-loopback address (the bus carries no commands).
    """

    def __init__(self, endpoint=DEFAULT_BUS, *, nodrop: bool = False, sndhwm: int = 1000,
                 retry_timeout: float = 5.0, allow_remote: bool = False, context=None,
                 sndbuf: int | None = None):
        address, _ = check_endpoint(endpoint, allow_remote)
        self.retry_timeout = float(retry_timeout)
        self._bind(address, nodrop, sndhwm, context, "the bus", sndbuf)
        self._seq: dict[bytes, int] = {}
        self._topics: dict[tuple, bytes] = {}
        self._n = 0
        self._lock = threading.Lock()  # one socket, several publishing threads
        self.monitor_dropped = 0  # spectrum rows and symbol sets not sent (nodrop: never waited)

    @property
    def counters(self) -> dict:
        return {"sent": self.sent, "dropped": self.dropped, "malformed": self.malformed,
                "monitor_dropped": self.monitor_dropped}

    def next_seq(self, topic: bytes) -> int:
        return self._seq.get(topic, 0)

    def _topic(self, station, link, kind) -> bytes:
        key = (station, link, kind)
        t = self._topics.get(key)
        if t is None:
            t = self._topics[key] = make_topic(station, link, kind)
        return t

    def publish(self, station: str, link: str, kind: int, meta=None, payload: bytes = b"",
                sample_index: int = 0, time: float | None = None, flags: int = 0) -> bool:
        """Send one message; returns whether it was handed to libzmq (False: counted in
        ``dropped``). The topic's sequence number advances either way, so that subscribers
        see the loss as a gap. Thread-safe (the frames and the stats come from different
        threads)."""
        with self._lock:
            return self._publish(station, link, kind, meta, payload, sample_index, time, flags)

    def _publish(self, station, link, kind, meta, payload, sample_index, time, flags) -> bool:
        topic = self._topic(station, link, kind)
        seq = self._seq.get(topic, 0)
        if len(payload) > MAX_PAYLOAD:
            raise BusError(f"bus payload of {len(payload)} bytes is over the cap of "
                           f"{MAX_PAYLOAD}")
        parts = [topic, encode_header(kind, seq, sample_index,
                                      _time.time() if time is None else time, flags),
                 encode_meta(meta), payload]
        self._seq[topic] = seq + 1
        if not self.nodrop:
            self._sock.send_multipart(parts, copy=len(payload) < 65536)
            self.sent += 1
            return True
        self._n += 1
        if self._n & 63 == 0:
            self._drain()
        if kind in MONITOR_KINDS:  # best effort: never waited for
            try:
                self._sock.send_multipart(parts, flags=zmq.NOBLOCK)
                self.sent += 1
                return True
            except zmq.Again:
                self.monitor_dropped += 1
                return False
        deadline = None
        while True:
            try:
                self._sock.send_multipart(parts, flags=zmq.NOBLOCK)
                self.sent += 1
                return True
            except zmq.Again:
                now = _time.monotonic()
                if deadline is None:
                    deadline = now + self.retry_timeout
                elif now >= deadline:
                    self.dropped += 1
                    return False
                self._drain()
                self._sock.poll(5, zmq.POLLOUT)

    def publish_frame(self, station: str, link: str, pdu_meta, payload: bytes,
                      sample_index: int, time: float | None = None, flags: int = 0) -> bool:
        """A received frame on ``<station>/<link>/frames`` (meta: ``decode --json``'s fields)."""
        return self.publish(station, link, KIND_FRAME, pdu_meta, payload, sample_index, time,
                            flags)

    def publish_stats(self, station: str, link: str, stats: dict, sample_index: int = 0,
                      time: float | None = None) -> bool:
        """Counters on ``<station>/<link>/stats``."""
        return self.publish(station, link, KIND_STATS, stats, b"", sample_index, time)

    def publish_spectrum(self, station: str, link: str, meta: dict, levels: bytes,
                         sample_index: int = 0, time: float | None = None) -> bool:
        """A spectrum row on ``<station>/<link>/spectrum``: ``levels`` u8 per bin (meta
        ``nbins``, ``db0``, ``db_step``, ``center_freq``, ``samp_rate``, ``one_sided``)."""
        return self.publish(station, link, KIND_SPECTRUM, meta, levels, sample_index, time)

    def publish_symbols(self, station: str, link: str, meta: dict, values: bytes,
                        sample_index: int = 0, time: float | None = None) -> bool:
        """Symbols on ``<station>/<link>/symbols``: f32 I, Q pairs (meta ``form``
        ``constellation``) or eye traces (``eye``, ``traces`` x ``points``)."""
        return self.publish(station, link, KIND_SYMBOLS, meta, values, sample_index, time)

    def publish_event(self, station: str, link: str, name: str, info: dict | None = None,
                      sample_index: int = 0, time: float | None = None) -> bool:
        """An event (start, stop, overflow, gap, retune, error) on ``<station>/<link>/events``;
        meta ``{"event": name, **info}``."""
        return self.publish(station, link, KIND_EVENT, {"event": str(name), **(info or {})},
                            b"", sample_index, time)



# --------------------------------------------------------------------------------------------
# ROUTER endpoints


@dataclass
class TxRequest:
    """A valid transmit submission."""

    identity: bytes
    seq: int
    flags: int
    sample_index: int
    time: float
    meta: dict
    payload: bytes
    delimiter: bool = False  # a REQ client: replies carry an empty delimiter


@dataclass
class ControlRequest:
    """A valid control request."""

    identity: bytes
    request: str
    args: dict
    delimiter: bool = False


class _RouterEndpoint:
    kind_name = "router"

    def __init__(self, endpoint, *, curve: bool | None = None, server_keys=None,
                 authorized_keys=None, allow_remote: bool = False, context=None,
                 rcvhwm: int = 1000):
        address, loop = check_endpoint(endpoint, allow_remote=True)
        if not loop and not (allow_remote or curve or server_keys):
            raise BusError(f"refusing to bind the {self.kind_name} socket at {address}: a "
                           "non-loopback address needs CURVE keys (server_keys and "
                           "authorized_keys)")
        self.curve = (not loop) if curve is None else bool(curve)
        self.counters = {"received": 0, "valid": 0, "malformed": 0, "replies": 0,
                         "auth_failures": 0}
        self.last_error = ""
        self._auth = None
        self._monitor = None
        if self.curve:
            if server_keys is None or authorized_keys is None:
                raise BusError(f"the {self.kind_name} socket at {address} needs CURVE: give "
                               "server_keys (a .key_secret file or (public, secret)) and "
                               "authorized_keys (client public keys or a directory of .key)")
            public, secret = _load_pair(server_keys)
            from zmq.auth.thread import ThreadAuthenticator

            self._ctx = zmq.Context()  # the authenticator applies to the whole context
            self._own_ctx = True
            self._auth = ThreadAuthenticator(self._ctx, log=log)
            self._auth.start()
            if isinstance(authorized_keys, (str, os.PathLike)):
                if not os.path.isdir(authorized_keys):
                    self._auth.stop()
                    raise BusError(f"{authorized_keys}: not a directory of public keys")
                self._auth.configure_curve(domain="*", location=os.fspath(authorized_keys))
            else:
                self._auth.configure_curve_callback(domain="*",
                                                    credentials_provider=_KeyList(
                                                        authorized_keys))
        else:
            self._ctx = context or zmq.Context.instance()
            self._own_ctx = False
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, _MAXMSGSIZE)
        self._sock.setsockopt(zmq.RCVHWM, int(rcvhwm))
        if self.curve:
            self._sock.curve_server = True
            self._sock.curve_publickey = public
            self._sock.curve_secretkey = secret
            self._monitor = self._sock.get_monitor_socket(
                zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        try:
            self._sock.bind(address)
        except zmq.ZMQError as e:
            self.close()
            raise BusError(f"cannot bind the {self.kind_name} socket at {address}: "
                           f"{e}") from None
        self.endpoint = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.public_key = public.decode() if self.curve else None

    def _check_monitor(self):
        if self._monitor is None:
            return
        from zmq.utils.monitor import recv_monitor_message

        while self._monitor.poll(0):
            try:
                ev = recv_monitor_message(self._monitor, zmq.NOBLOCK)
            except (zmq.Again, ValueError):
                break
            self.counters["auth_failures"] += 1
            log.warning("%s socket %s: refused an unauthenticated client (%s)",
                        self.kind_name, self.endpoint, ev.get("event"))

    def poll(self, timeout: float = 0.0, max_messages: int = 1000) -> list:
        """Wait up to ``timeout`` seconds for a message, then read what is waiting (at most
        ``max_messages``); returns the valid requests. Malformed messages are counted
        (``counters["malformed"]``, :attr:`last_error`) and answered with an error."""
        self._check_monitor()
        out = []
        if not self._sock.poll(max(0, int(timeout * 1000)), zmq.POLLIN):
            self._check_monitor()
            return out
        for _ in range(max_messages):
            try:
                parts = self._sock.recv_multipart(zmq.NOBLOCK, copy=True)
            except zmq.Again:
                break
            self.counters["received"] += 1
            ident = parts[0]
            body = parts[1:]
            delim = False
            if len(body) >= 2 and not body[0]:  # a REQ client's empty delimiter
                body, delim = body[1:], True
            try:
                if len(body) > MAX_PARTS:
                    raise BusError(f"message of {len(body)} parts")
                req = self._parse(ident, body, delim)
            except BusError as e:
                self.counters["malformed"] += 1
                self.last_error = str(e)
                self._reject(ident, str(e), delim)
                continue
            self.counters["valid"] += 1
            out.append(req)
        return out

    def _send(self, identity: bytes, parts: list, delimiter: bool):
        try:
            self._sock.send_multipart([identity, *([b""] if delimiter else []), *parts],
                                      zmq.NOBLOCK)
            self.counters["replies"] += 1
        except zmq.ZMQError:  # the peer's queue is full or it is gone: its loss
            pass

    def close(self):
        if self._monitor is not None:
            self._sock.disable_monitor()
            self._monitor.close(0)
            self._monitor = None
        self._sock.close(0)
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        if self._own_ctx:
            self._ctx.term()
            self._own_ctx = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TxEndpoint(_RouterEndpoint):
    """The transmit-submission socket (ROUTER, default ``tcp://127.0.0.1:5551``).

    :meth:`poll` returns :class:`TxRequest` objects; answer each with :meth:`reply`
    (``accepted``, ``rejected`` with a reason, later ``sent`` with the transmit time).
    Acknowledgements are bus envelopes ``[<station>/<link>/tx-ack, header kind=4, meta, b""]``
    with meta ``{"status", "request_seq", ["reason"], ["tx_time"], ...}``.
    """

    kind_name = "transmit"

    def __init__(self, endpoint=DEFAULT_TX, *, station: str = "station", link: str = "link",
                 **kw):
        self._topic = make_topic(station, link, KIND_TX_ACK)
        self._ack_seq = 0
        super().__init__(endpoint, **kw)

    def _parse(self, ident, body, delim):
        m = decode_submission(body)
        return TxRequest(ident, m.seq, m.flags, m.sample_index, m.time, m.meta, m.payload,
                         delim)

    def _ack(self, identity, meta, sample_index, t, delimiter):
        parts = [self._topic, encode_header(KIND_TX_ACK, self._ack_seq, sample_index, t),
                 encode_meta(meta), b""]
        self._ack_seq += 1
        self._send(identity, parts, delimiter)

    def _reject(self, identity, reason, delimiter):
        self._ack(identity, {"status": "rejected", "reason": f"malformed: {reason}"}, 0,
                  _time.time(), delimiter)

    def reply(self, request: TxRequest, status: str, *, reason: str | None = None,
              tx_time: float | None = None, sample_index: int = 0, **extra):
        """Acknowledge ``request``: ``status`` is ``accepted``, ``rejected`` (give ``reason``)
        or ``sent`` (give ``tx_time``, the actual transmit time, also the header's time)."""
        if status not in ("accepted", "rejected", "sent"):
            raise BusError(f"tx-ack status {status!r} is not accepted, rejected or sent")
        meta = {"status": status, "request_seq": request.seq, **extra}
        if reason is not None:
            meta["reason"] = str(reason)
        if tx_time is not None:
            meta["tx_time"] = float(tx_time)
        self._ack(request.identity, meta, sample_index,
                  _time.time() if tx_time is None else tx_time, request.delimiter)


class ControlEndpoint(_RouterEndpoint):
    """The control socket (ROUTER, default ``tcp://127.0.0.1:5552``): one-part JSON requests
    ``{"request": "status"|"retune"|"set_gain"|"start"|"stop", ...}``; :meth:`poll` returns
    :class:`ControlRequest` objects, :meth:`reply` answers with a JSON object. A malformed
    request is answered ``{"ok": false, "error": ...}``."""

    kind_name = "control"

    def __init__(self, endpoint=DEFAULT_CONTROL, **kw):
        super().__init__(endpoint, **kw)

    def _parse(self, ident, body, delim):
        if len(body) != 1:
            raise BusError(f"control request of {len(body)} parts, not 1")
        d = _decode_meta(body[0])
        req = d.get("request")
        if req not in CONTROL_REQUESTS:
            raise BusError(f"control request {req!r} is not one of "
                           f"{', '.join(CONTROL_REQUESTS)}")
        return ControlRequest(ident, req, {k: v for k, v in d.items() if k != "request"},
                              delim)

    def _reject(self, identity, reason, delimiter):
        self._send(identity, [encode_meta({"ok": False, "error": reason})], delimiter)

    def reply(self, request: ControlRequest, answer: dict):
        """Answer ``request`` with a JSON object (``ok`` defaults to true)."""
        self._send(request.identity, [encode_meta({"ok": True, "request": request.request,
                                                   **answer})], request.delimiter)


# --------------------------------------------------------------------------------------------
# GNU Radio bridge


def _pmt_value(v):
    """A JSON-like value as the PMT GNU Radio users expect (LIVE-STATION A.6): numbers as
    double or uint64 (int64 only for negative integers beyond a double), strings as symbols."""
    if v is None or isinstance(v, (bool, np.bool_)):
        return None if v is None else bool(v)
    if isinstance(v, (int, np.integer)):
        i = int(v)
        if 0 <= i <= _U64:
            return _pmt.U64(i)
        return float(i) if -(1 << 53) <= i else i
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, str):
        b = v.encode("utf-8")
        return v if len(b) <= _pmt.MAX_SYMBOL else b[:_pmt.MAX_SYMBOL].decode("utf-8",
                                                                                "ignore")
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, dict):
        return {str(k): _pmt_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_pmt_value(x) for x in v]
    return str(v)


def pdu_bytes(meta: dict | None, payload: bytes) -> bytes:
    """The PMT PDU ``(meta-dict . u8vector)`` as ``pmt::serialize`` writes it; meta keys are
    symbols (a frame's ``hex`` field is left out: the payload is the frame)."""
    d = {str(k): _pmt_value(v) for k, v in (meta or {}).items() if k != "hex"}
    return _pmt.serialize(_pmt.Pair(d if d else None, bytes(payload)))


class GrPduBridge(_XpubSubscriptions):
    """Frames for GNU Radio: a PUB bound at ``endpoint`` sending each frame as one single-part
    PMT PDU with no topic (GNU Radio's ZMQ SUB Message Source subscribes to ``""`` and would
    take a topic frame for a PMT). Loopback only unless ``allow_remote``; ``nodrop`` as in
    :class:`BusPublisher` (counted in ``dropped``)."""

    def __init__(self, endpoint="tcp://127.0.0.1:5560", *, nodrop: bool = False,
                 sndhwm: int = 1000, retry_timeout: float = 5.0, allow_remote: bool = False,
                 context=None):
        address, _ = check_endpoint(endpoint, allow_remote)
        self.retry_timeout = float(retry_timeout)
        self._bind(address, nodrop, sndhwm, context, "the GNU Radio PDU bridge")

    def publish_frame(self, pdu_meta: dict | None, payload: bytes) -> bool:
        """Send one frame; returns whether it was handed to libzmq."""
        msg = pdu_bytes(pdu_meta, payload)
        if not self.nodrop:
            self._sock.send(msg)
            self.sent += 1
            return True
        end = _time.monotonic() + self.retry_timeout
        while True:
            try:
                self._sock.send(msg, zmq.NOBLOCK)
                self.sent += 1
                return True
            except zmq.Again:
                self._drain()
                if _time.monotonic() >= end:
                    self.dropped += 1
                    return False
                self._sock.poll(5, zmq.POLLOUT)

