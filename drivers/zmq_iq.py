"""IQ over ZeroMQ, wire-compatible with GNU Radio's ZMQ SUB Source and PUB Sink (3.10).

The wire (LIVE-STATION.md A.1-A.3)
----------------------------------
- One ZeroMQ message per chunk: raw interleaved little-endian float32 I, Q (cf32), any length
  that is a multiple of 8 bytes. GNU Radio sends whatever its scheduler hands over (4096, 4095
  or 8191 items here): nothing may be assumed about the length beyond the item size.
- With a ``key``: two parts, ``[key, payload]``; the source subscribes to the key.
- With ``pass_tags=True``: the payload starts with GNU Radio's tag header (little-endian):
  magic ``f0 5f`` (0x5FF0), version ``01``, the absolute index (``nitems``) of the message's
  first item (u64), the number of tags (u64), and per tag its absolute offset (u64) and three
  PMTs (:mod:`orbitlink.drivers.pmt`, big-endian inside): key, value and source id (``#f``
  when unset). Both ends must agree on the mode; nothing in the bytes says which it is.
- GNU Radio 3.10.5's stream sinks **bind** and its sources **connect**: :class:`ZmqIqSource`
  connects (to a GNU Radio ``pub_sink``), :class:`ZmqIqSink` binds (for a GNU Radio
  ``sub_source``). Addresses are ``tcp://HOST:PORT``, ``ipc://PATH`` or ``inproc://NAME``; a
  bare port means ``tcp://127.0.0.1:PORT``. Binding to anything but a loopback address is
  refused unless ``allow_remote=True``.

The source (driver ``zmq``)
---------------------------
:class:`ZmqIqSource` is a :class:`orbitlink.drivers.radio.Radio`: a thread receives the
messages into a queue bounded in samples, ``read()`` fills the caller's buffer from it (a
message may be split across reads; ``sample_index`` runs on without a break). A message that
is malformed (a length that is not a multiple of 8, the wrong number of parts or the wrong
key, a bad tag header: wrong magic or version, truncated, too many tags, a PMT with an absurd
length) is counted in ``counters.malformed`` and dropped; nothing a peer sends stops the thread
(a 7-byte message kills GNU Radio's own SUB Source thread). With tag headers the header's
offset tells what was lost upstream (a publisher's high-water mark, a restart): a jump forward
is a gap (``ReadResult.gap``, ``counters.dropped_samples``, ``counters.gaps``); a jump back
(the publisher restarted) is counted in ``counters.stream_errors`` and the index runs on.
Tags are kept, re-based to the reader's sample index (:meth:`ZmqIqSource.pop_tags`), and an
``rx_time`` tag with ``rx_rate`` (or the configured rate) stamps reads with ``time_ns``. When
the local queue is full (the reader falls behind) the oldest messages are dropped and counted
like an upstream gap (``policy="drop"``, a radio's policy), or the receiving thread waits
(``policy="block"``: back-pressure, for a publisher that blocks at its high-water mark). Without tag headers an upstream loss cannot be seen
(``drop_detection == "none"``; GNU Radio's PUB drops silently at its high-water mark).

Device arguments: ``address``, ``key``, ``pass_tags`` (0/1), ``samp_rate``,
``queue_samples``, ``hwm``, ``policy`` (``drop``: a full queue drops its oldest messages,
counted; ``block``: back-pressure to the publisher).

The sink
--------
:class:`ZmqIqSink` binds an XPUB socket and sends raw cf32 messages of at most 64 KiB
(``max_items`` <= 8192 items, tag header included), ``[key, payload]`` with a key, and GNU
Radio's tag header when ``pass_tags=True`` (``write(x, tags=...)``; :func:`stream_tags` makes
``rx_time``/``rx_rate``/``rx_freq`` tags byte-identical to a GNU Radio source's). Its
high-water mark (``hwm`` messages per subscriber) and its policy are explicit:

- ``policy="drop"`` (default): a message that some subscriber's queue cannot take is dropped
  for every subscriber, and counted (``counters.dropped_messages``/``dropped_samples``); the
  stream offset still advances, so a subscriber with tag headers sees the gap. (A plain PUB
  drops per subscriber at its HWM and tells no one: the socket is an XPUB with
  ``XPUB_NODROP``, so that a full queue is an ``EAGAIN`` we can count.)
- ``policy="block"``: ``write`` waits until every subscriber can take the message (``timeout_s``
  bounds the wait; what was not sent is counted in ``counters.timeouts`` and returned short).

Messages sent while no subscriber is connected are lost by any PUB; they are counted in
``counters.unheard_messages`` (subscriptions are followed through the XPUB). PUB/SUB's slow
joiner: call :meth:`ZmqIqSink.wait_for_subscriber` before the first write.
"""

from __future__ import annotations

import collections
import ipaddress
import math
import struct
import threading
import time
from dataclasses import asdict, dataclass

import numpy as np
import zmq

from orbitlink.drivers import pmt
from orbitlink.drivers.radio import Radio, RadioConfig, RadioError, ReadResult, check_buffer, \
    register_driver

__all__ = ["ZmqIqSource", "ZmqIqSink", "IqSinkCounters", "Tag", "TagHeaderError",
           "tag_header", "parse_tag_header", "stream_tags", "check_address",
           "DEFAULT_ADDRESS", "TAG_MAGIC", "MAX_TAGS", "MAX_MESSAGE_BYTES"]

DEFAULT_ADDRESS = "tcp://127.0.0.1:5556"
TAG_MAGIC = 0x5FF0
TAG_VERSION = 1
MAX_TAGS = 1024  # tags in one header
MAX_MESSAGE_BYTES = 65536  # what the sink sends (GNU Radio's messages are up to 65 528 B)
_HEAD = struct.Struct("<HBQQ")  # magic, version, offset, ntags
_U64 = struct.Struct("<Q")
_MIN_TAG = 8 + 3  # offset + three one-byte PMTs


class TagHeaderError(ValueError):
    """A message whose tag header cannot be parsed (one sentence)."""


@dataclass(frozen=True)
class Tag:
    """A stream tag: ``offset`` the absolute item index (the publisher's on the wire; the
    reader's sample index in :meth:`ZmqIqSource.pop_tags`), ``key`` a symbol, ``value`` any PMT
    (:mod:`orbitlink.drivers.pmt`), ``srcid`` a symbol or ``False`` (``#f``, unset)."""

    offset: int
    key: str
    value: object
    srcid: object = False


# --------------------------------------------------------------------------------------------
# tag headers


def tag_header(offset: int, tags=()) -> bytes:
    """GNU Radio's tag header (gr-zeromq/lib/tag_headers.cc) for a message whose first item
    has absolute index ``offset``; tags in the order given (GNU Radio sends them by offset)."""
    out = bytearray(_HEAD.pack(TAG_MAGIC, TAG_VERSION, int(offset), len(tags)))
    for t in tags:
        out += _U64.pack(int(t.offset))
        out += pmt.serialize(str(t.key))
        out += pmt.serialize(t.value)
        out += pmt.serialize(t.srcid)
    return bytes(out)


def parse_tag_header(buf) -> tuple[int, list[Tag], int]:
    """Parse a tag header at the start of ``buf``; returns ``(offset, tags, header_length)``.

    Raises :class:`TagHeaderError` for a wrong magic or version, a truncated header, more than
    :data:`MAX_TAGS` tags (or more than the bytes can hold) and any bad PMT; nothing is
    allocated from a length before it is checked against the bytes that are there.
    """
    if len(buf) < _HEAD.size:
        raise TagHeaderError(f"tag header truncated ({len(buf)} of {_HEAD.size} bytes)")
    magic, version, offset, ntags = _HEAD.unpack_from(buf, 0)
    if magic != TAG_MAGIC:
        raise TagHeaderError(f"tag header magic {magic:#06x} is not {TAG_MAGIC:#06x}")
    if version != TAG_VERSION:
        raise TagHeaderError(f"tag header version {version} is not {TAG_VERSION}")
    pos = _HEAD.size
    if ntags > MAX_TAGS or ntags * _MIN_TAG > len(buf) - pos:
        raise TagHeaderError(f"tag header claims {ntags} tags in {len(buf) - pos} bytes "
                             f"(at most {MAX_TAGS})")
    tags = []
    try:
        for _ in range(ntags):
            if pos + 8 > len(buf):
                raise TagHeaderError("tag header truncated in a tag offset")
            (toff,) = _U64.unpack_from(buf, pos)
            key, pos = pmt.deserialize(buf, pos + 8)
            value, pos = pmt.deserialize(buf, pos)
            srcid, pos = pmt.deserialize(buf, pos)
            if not isinstance(key, str):
                raise TagHeaderError("a tag key is not a symbol")
            tags.append(Tag(toff, key, value, srcid))
    except pmt.PmtError as e:
        raise TagHeaderError(f"bad tag: {e}") from None
    return offset, tags, pos


def stream_tags(offset: int = 0, time_ns: int | None = None, rate: float | None = None,
                freq: float | None = None, srcid=False) -> list[Tag]:
    """The tags a GNU Radio radio source puts on a stream: ``rx_time`` (a tuple of uint64
    whole seconds and double fractional seconds), ``rx_rate`` and ``rx_freq`` (doubles), all at
    ``offset``, in that order."""
    tags = []
    if time_ns is not None:
        secs, frac = divmod(int(time_ns), 1_000_000_000)
        tags.append(Tag(offset, "rx_time", (pmt.U64(secs), frac / 1e9), srcid))
    if rate is not None:
        tags.append(Tag(offset, "rx_rate", float(rate), srcid))
    if freq is not None:
        tags.append(Tag(offset, "rx_freq", float(freq), srcid))
    return tags


def _rx_time_ns(value) -> int | None:
    """``rx_time`` (uint64 seconds, double fraction) -> ns, None when it is not that."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], int) \
            and isinstance(value[1], (int, float)) and math.isfinite(value[1]):
        return int(value[0]) * 1_000_000_000 + int(round(float(value[1]) * 1e9))
    return None


# --------------------------------------------------------------------------------------------
# addresses


def normalise_address(address, error=RadioError) -> tuple[str, bool]:
    """A ZeroMQ address normalised (a bare port means ``tcp://127.0.0.1:PORT``, ``localhost``
    means 127.0.0.1) and whether it is loopback-only (ipc and inproc count as local); raises
    ``error`` (one sentence) for anything else than tcp://HOST:PORT, ipc://PATH or
    inproc://NAME."""
    if isinstance(address, int) or (isinstance(address, str) and address.isdigit()):
        address = f"tcp://127.0.0.1:{int(address)}"
    address = str(address)
    scheme, sep, rest = address.partition("://")
    if not sep or scheme not in ("tcp", "ipc", "inproc") or not rest:
        raise error(f"ZeroMQ address {address!r} is not tcp://HOST:PORT, ipc://PATH or "
                    "inproc://NAME")
    if scheme != "tcp":
        return address, True
    host, colon, port = rest.rpartition(":")
    if not colon or not host or not (port == "*" or port.isdigit() and int(port) < 65536):
        raise error(f"ZeroMQ address {address!r} needs a host and a port "
                    "(tcp://127.0.0.1:5556, or port * to bind any free one)")
    h = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if h == "localhost":
        h, host = "127.0.0.1", "127.0.0.1"
    try:
        loop = ipaddress.ip_address(h).is_loopback
    except ValueError:
        loop = False
    return f"tcp://{host}:{port}", loop


def check_address(address, bind: bool, allow_remote: bool = False) -> str:
    """Normalise a ZeroMQ address (:func:`normalise_address`) and refuse to bind to a
    non-loopback address unless ``allow_remote``; raises :class:`RadioError`."""
    address, loop = normalise_address(address)
    if bind and not allow_remote and not loop:
        raise RadioError(f"refusing to bind {address}: only loopback addresses "
                         "(127.0.0.1, [::1]) unless allow_remote is set")
    return address


def _setup(sock, hwm, send: bool):
    if hwm is not None and int(hwm) >= 0:
        sock.setsockopt(zmq.SNDHWM if send else zmq.RCVHWM, int(hwm))


def _flag(v) -> bool:
    if isinstance(v, bool):
        return v
    return str(v).strip().lower() in ("1", "true", "yes", "on")


# --------------------------------------------------------------------------------------------
# the source


#: a good message without samples or tags: nothing to queue
_SKIP = object()


class _Msg:
    __slots__ = ("index", "x", "tags")

    def __init__(self, index, x, tags):
        self.index, self.x, self.tags = index, x, tags


@register_driver("zmq")
class ZmqIqSource(Radio):
    """Receive IQ from a GNU Radio ZMQ PUB Sink (or any publisher of the same wire).

    Parameters
    ----------
    address : str
        Where the publisher binds (``tcp://127.0.0.1:PORT``, ``ipc://PATH``); the source
        connects.
    key : str or bytes
        The publisher's key (``[key, payload]`` messages); empty: single-part messages.
    pass_tags : bool
        The publisher sends GNU Radio tag headers (``pass_tags=True`` on its side).
    samp_rate : float, optional
        The stream's sample rate (for ``time_ns`` and the queue size; an ``rx_rate`` tag
        overrides it for ``time_ns``).
    queue_samples : int, optional
        Samples the receive queue holds before the oldest messages are dropped (and counted);
        default 2 s at ``samp_rate``, else 2^23.
    hwm : int, optional
        ZeroMQ receive high-water mark in messages (None: libzmq's 1000).
    policy : str
        When the queue is full: ``"drop"`` the oldest messages and count them (a radio's
        policy, the default), or ``"block"`` the receiving thread until the reader takes
        samples, so that ZeroMQ's queues fill and a publisher that blocks at its high-water
        mark (GNU Radio's ``drop_on_hwm=False``, :class:`ZmqIqSink` ``policy="block"``) waits:
        nothing is lost, end to end.
    max_message_bytes : int
        Larger messages make libzmq drop the connection (bounded memory); default 64 MiB.
    """

    reports_overflow = False

    def __init__(self, address=DEFAULT_ADDRESS, key="", pass_tags=False, samp_rate=None,
                 queue_samples=None, hwm=None, policy="drop", max_message_bytes=64 << 20,
                 context=None, **unknown):
        super().__init__()
        if unknown:
            raise RadioError(f"zmq: unknown device argument(s) {', '.join(sorted(unknown))} "
                             "(known: address, key, pass_tags, samp_rate, queue_samples, hwm, "
                             "policy)")
        if policy not in ("drop", "block"):
            raise RadioError(f"zmq: policy={policy!r} is not drop or block")
        self.policy = policy
        self.address = check_address(address, bind=False)
        self.key = key.encode() if isinstance(key, str) else bytes(key or b"")
        self.pass_tags = _flag(pass_tags)
        self.drop_detection = "sample_counter" if self.pass_tags else "none"
        self.has_hardware_time = self.pass_tags
        self.samp_rate = float(samp_rate) if samp_rate not in (None, "", 0, "0") else None
        self.queue_samples = int(float(queue_samples)) if queue_samples not in (None, "") \
            else None
        self.hwm = None if hwm in (None, "") else int(hwm)
        self.max_message_bytes = int(max_message_bytes)
        self._ctx = context
        self._own_ctx = False
        self._sock = None
        self._thread = None
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._queue: collections.deque = collections.deque()
        self._queued = 0
        self._cur = None
        self._pos = 0
        self._expect = 0  # index of the next sample to deliver (the first message is 0)
        self._tags: collections.deque = collections.deque(maxlen=100_000)
        self._time_ref = None  # (index, ns)
        self._tag_rate = None
        # receiver thread state
        self._next_index = 0
        self._wire_next = None
        self._delta = 0
        #: publisher's offset of the first message (tag headers), None until one came
        self.first_offset = None
        self.messages = 0  # good messages received
        self.queue_dropped_messages = 0
        self.thread_error = None

    # lifecycle -------------------------------------------------------------------------
    def open(self) -> dict:
        if self._sock is None:
            if self._ctx is None:  # a context of its own, ended by close()
                self._ctx, self._own_ctx = zmq.Context(1), True
            s = self._ctx.socket(zmq.SUB)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.RCVTIMEO, 100)
            s.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
            _setup(s, self.hwm, send=False)
            s.setsockopt(zmq.SUBSCRIBE, self.key)
            try:
                s.connect(self.address)
            except zmq.ZMQError as e:
                s.close(0)
                raise RadioError(f"zmq: cannot connect to {self.address} ({e})") from None
            self._sock = s
        self._open = True
        return {"driver": "zmq", "label": self.address, "samp_rate": self.samp_rate,
                "pass_tags": self.pass_tags}

    def configure(self, cfg: RadioConfig) -> RadioConfig:
        if cfg.samp_rate is not None:
            self.samp_rate = float(cfg.samp_rate)
        got = RadioConfig(**{**vars(cfg), "gains": dict(cfg.gains)})
        got.samp_rate = self.samp_rate
        self.config = got
        return got

    def start(self, rx: bool = True, tx: bool = False) -> None:
        if tx:
            raise RadioError("zmq: the IQ source cannot transmit (use ZmqIqSink)")
        if self._sock is None:
            self.open()
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"zmq-iq {self.address}",
                                            daemon=True)
            self._thread.start()

    @property
    def alive(self) -> bool:
        """The receiver thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        self.stop()
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
        if self._own_ctx:
            self._ctx.term()
            self._ctx, self._own_ctx = None, False
        self._open = False

    # receiver thread -------------------------------------------------------------------
    def _cap(self) -> int:
        if self.queue_samples:
            return self.queue_samples
        if self.samp_rate:
            return max(1 << 16, int(2 * self.samp_rate))
        return 1 << 23

    def _run(self) -> None:
        sock = self._sock
        while not self._stop.is_set():
            try:
                parts = sock.recv_multipart(copy=False)
            except zmq.Again:
                continue
            except zmq.ZMQError as e:  # the socket was closed under us
                self.thread_error = str(e)
                if self._stop.is_set():
                    return
                time.sleep(0.01)
                continue
            try:
                msg = self._decode(parts)
            except (TagHeaderError, ValueError, TypeError):
                msg = None
            except Exception as e:  # noqa: BLE001 - nothing a peer sends stops the thread
                self.thread_error = f"{type(e).__name__}: {e}"
                msg = None
            if msg is None:
                with self._cond:
                    self.counters.malformed += 1
                continue
            self._push(msg)

    def _decode(self, parts) -> _Msg | None:
        if self.key:
            if len(parts) != 2 or parts[0].bytes != self.key:
                return None
            frame = parts[1]
        else:
            if len(parts) != 1:
                return None
            frame = parts[0]
        buf = frame.buffer
        tags = []
        if self.pass_tags:
            offset, tags, hlen = parse_tag_header(buf)
            body = buf[hlen:]
        else:
            offset, body = None, buf
        if len(body) % 8:
            return None
        x = np.frombuffer(body, dtype="<c8")
        n = len(x)
        if offset is not None:
            if self.first_offset is None:
                self.first_offset = offset
                self._delta = -offset
            elif offset < self._wire_next:  # the publisher went back (restarted)
                self._delta = self._next_index - offset
                with self._cond:
                    self.counters.stream_errors += 1
            self._wire_next = offset + n
            index = offset + self._delta
            tags = [Tag(t.offset + self._delta, t.key, t.value, t.srcid) for t in tags]
        else:
            index = self._next_index
        self._next_index = index + n
        self.messages += 1
        if n == 0 and not tags:
            return _SKIP
        return _Msg(index, x, tags)

    def _push(self, msg) -> None:
        if msg is _SKIP:
            return
        n = len(msg.x)
        cap = self._cap()
        with self._cond:
            if self.policy == "block":  # wait for the reader: ZeroMQ's queues fill, then the
                while self._queue and self._queued + n > cap and not self._stop.is_set():
                    self._cond.wait(0.1)  # publisher's (XPUB_NODROP) send blocks
            while self._queue and self._queued + n > cap:  # drop the oldest; counted on read
                old = self._queue.popleft()
                self._queued -= len(old.x)
                self.queue_dropped_messages += 1
            self._queue.append(msg)
            self._queued += n
            self._cond.notify()

    # receive ---------------------------------------------------------------------------
    def read(self, out: np.ndarray, timeout_s: float = 0.1) -> ReadResult:
        check_buffer(out, what="receive buffer")
        if self._thread is None:
            raise RadioError("zmq: read() before start()")
        want = len(out)
        filled = 0
        gap = 0
        start = None
        with self._cond:
            self.counters.reads += 1
            if self._cur is not None:  # the rest of a message read in part
                start = self._expect
            elif not self._queue:
                self._cond.wait_for(lambda: self._queue or self._stop.is_set(),
                                    max(0.0, float(timeout_s)))
            while filled < want or (self._cur is None and self._queue
                                    and len(self._queue[0].x) == 0):
                if self._cur is None:
                    if not self._queue:
                        break
                    m = self._queue.popleft()
                    self._queued -= len(m.x)
                    if self._expect is not None and m.index > self._expect:
                        if filled:  # a gap is reported at out[0] of the next read
                            self._queue.appendleft(m)
                            self._queued += len(m.x)
                            break
                        jump = m.index - self._expect
                        gap += jump
                        self.counters.dropped_samples += jump
                        self.counters.gaps += 1
                    self._expect = m.index
                    if start is None:
                        start = m.index
                    if m.tags:
                        self._take_tags(m.tags)
                    self._cur, self._pos = m, 0
                cur = self._cur
                k = min(want - filled, len(cur.x) - self._pos)
                if k:
                    out[filled:filled + k] = cur.x[self._pos:self._pos + k]
                    filled += k
                    self._pos += k
                    self._expect += k
                if self._pos >= len(cur.x):
                    self._cur = None
            if self.policy == "block":
                self._cond.notify_all()
            if start is None:
                start = self._expect if self._expect is not None else 0
            if filled == 0 and gap == 0:
                self.counters.timeouts += 1
                return ReadResult(0, start, event="timeout")
            self.counters.samples += filled
        return ReadResult(filled, start, gap=gap, time_ns=self._time_of(start))

    def _take_tags(self, tags) -> None:
        for t in tags:
            self._tags.append(t)
            if t.key == "rx_time":
                ns = _rx_time_ns(t.value)
                if ns is not None:
                    self._time_ref = (t.offset, ns)
            elif t.key == "rx_rate" and isinstance(t.value, (int, float)) and t.value > 0 \
                    and math.isfinite(t.value):
                self._tag_rate = float(t.value)

    def _time_of(self, index: int) -> int | None:
        rate = self._tag_rate or self.samp_rate
        if self._time_ref is None or not rate:
            return None
        i0, ns = self._time_ref
        return ns + int(round((index - i0) * 1e9 / rate))

    def pop_tags(self) -> list[Tag]:
        """The tags of the messages read so far (offsets are sample indices of ``read``),
        oldest first; the list is emptied."""
        with self._cond:
            out = list(self._tags)
            self._tags.clear()
        return out

    def stats(self) -> dict:
        d = super().stats()
        d.update({"messages": self.messages, "queue_dropped_messages":
                  self.queue_dropped_messages, "thread_alive": self.alive})
        return d


# --------------------------------------------------------------------------------------------
# the sink


@dataclass
class IqSinkCounters:
    """What a :class:`ZmqIqSink` counted."""

    messages: int = 0  # messages sent
    samples: int = 0  # samples sent
    dropped_messages: int = 0  # policy "drop": a subscriber's queue was full
    dropped_samples: int = 0
    timeouts: int = 0  # policy "block": writes that gave up
    unheard_messages: int = 0  # sent while no subscriber was connected
    subscriptions: int = 0  # subscribe notifications seen
    unsubscriptions: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class ZmqIqSink:
    """Publish IQ the way GNU Radio's ZMQ PUB Sink does (see the module docstring).

    Parameters
    ----------
    address : str
        Where to bind (``tcp://127.0.0.1:PORT``, ``tcp://127.0.0.1:*`` for a free port,
        ``ipc://PATH``); :attr:`address` is the endpoint bound.
    key : str or bytes
        Send ``[key, payload]`` (a GNU Radio ``sub_source`` with the same key).
    pass_tags : bool
        Start every message with GNU Radio's tag header.
    policy : str
        ``"drop"`` or ``"block"`` when a subscriber's queue is full.
    hwm : int
        Send high-water mark, messages per subscriber (1000 = libzmq's and GNU Radio's).
    max_items : int
        Items per message, at most 8192 (64 KiB, tag header included).
    allow_remote : bool
        Allow binding to a non-loopback address.
    start_offset : int
        Absolute index of the first item (tag headers).
    """

    def __init__(self, address=DEFAULT_ADDRESS, key="", pass_tags=False, policy="drop",
                 hwm=1000, max_items=8192, allow_remote=False, start_offset=0,
                 linger_ms=1000, context=None):
        if policy not in ("drop", "block"):
            raise RadioError(f"zmq sink: policy {policy!r} is not drop or block")
        if not 1 <= int(max_items) <= MAX_MESSAGE_BYTES // 8:
            raise RadioError(f"zmq sink: max_items must be 1..{MAX_MESSAGE_BYTES // 8}")
        self.address = check_address(address, bind=True, allow_remote=allow_remote)
        self.key = key.encode() if isinstance(key, str) else bytes(key or b"")
        self.pass_tags = bool(pass_tags)
        self.policy = policy
        self.hwm = int(hwm)
        self.max_items = int(max_items)
        self.linger_ms = int(linger_ms)
        self.offset = int(start_offset)  # absolute index of the next item
        self.counters = IqSinkCounters()
        self._ctx = context
        self._own_ctx = False
        self._sock = None

    def open(self) -> str:
        """Bind; returns the endpoint (the port chosen for ``:*``)."""
        if self._sock is None:
            if self._ctx is None:  # a context of its own: close() waits for the queue
                self._ctx, self._own_ctx = zmq.Context(1), True
            s = self._ctx.socket(zmq.XPUB)
            s.setsockopt(zmq.LINGER, self.linger_ms)
            s.setsockopt(zmq.SNDHWM, self.hwm)
            s.setsockopt(zmq.XPUB_NODROP, 1)
            s.setsockopt(zmq.XPUB_VERBOSER, 1)  # every (un)subscription is reported
            try:
                s.bind(self.address)
            except zmq.ZMQError as e:
                s.close(0)
                raise RadioError(f"zmq sink: cannot bind {self.address} ({e})") from None
            self._sock = s
            self.address = s.getsockopt_string(zmq.LAST_ENDPOINT)
        return self.address

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def subscribers(self) -> int:
        """Subscriptions minus unsubscriptions seen (a subscriber that vanished without
        unsubscribing may still count)."""
        self._drain()
        return self.counters.subscriptions - self.counters.unsubscriptions

    def _drain(self) -> None:
        s = self._sock
        while s is not None and s.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            m = s.recv()
            if m[:1] == b"\x01":
                self.counters.subscriptions += 1
            elif m[:1] == b"\x00":
                self.counters.unsubscriptions += 1

    def wait_for_subscriber(self, timeout_s: float = 5.0, count: int = 1) -> bool:
        """Wait until ``count`` subscribers have subscribed (PUB/SUB's slow joiner); False
        after ``timeout_s``."""
        self.open()
        deadline = time.monotonic() + float(timeout_s)
        while True:
            if self.subscribers >= count:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._sock.poll(max(1, int(min(left, 0.1) * 1000)), zmq.POLLIN)

    def write(self, samples, tags=None, timeout_s: float | None = None) -> int:
        """Send ``samples`` (complex64) in messages of at most 64 KiB.

        ``tags``: :class:`Tag` s with absolute offsets inside this write (``self.offset`` ..
        ``self.offset + len(samples) - 1``), only with ``pass_tags``. Returns the number of
        samples consumed: all of them with ``policy="drop"`` (sent or counted as dropped);
        with ``policy="block"``, fewer when ``timeout_s`` ran out.
        """
        self.open()
        x = np.ascontiguousarray(samples, dtype="<c8").reshape(-1)
        tags = sorted(tags or (), key=lambda t: t.offset)
        if tags and not self.pass_tags:
            raise ValueError("zmq sink: tags need pass_tags=True")
        for t in tags:
            if not self.offset <= t.offset < self.offset + max(len(x), 1):
                raise ValueError(f"zmq sink: tag {t.key!r} at {t.offset} is outside the "
                                 f"samples written ({self.offset}..{self.offset + len(x) - 1})")
        deadline = None if timeout_s is None else time.monotonic() + float(timeout_s)
        self._drain()
        done = 0
        ti = 0
        while done < len(x) or (done == 0 and len(x) == 0 and tags):
            n = min(self.max_items, len(x) - done)
            head = b""
            if self.pass_tags:
                while True:
                    tj = ti
                    while tj < len(tags) and tags[tj].offset < self.offset + max(n, 1):
                        tj += 1
                    head = tag_header(self.offset, tags[ti:tj])
                    if len(head) + 8 * n <= MAX_MESSAGE_BYTES or n <= 1:
                        break
                    n = max(1, (MAX_MESSAGE_BYTES - len(head)) // 8)
                ti = tj
            body = x[done:done + n]
            payload = head + body.tobytes() if head else memoryview(body).cast("B")
            parts = [self.key, payload] if self.key else [payload]
            if not self._send(parts, deadline):
                if self.policy == "block":
                    self.counters.timeouts += 1
                    return done
                self.counters.dropped_messages += 1
                self.counters.dropped_samples += n
            else:
                self.counters.messages += 1
                self.counters.samples += n
                if self.counters.subscriptions <= self.counters.unsubscriptions:
                    self.counters.unheard_messages += 1
            done += n
            self.offset += n
            if n == 0:
                break
        return done

    def _send(self, parts, deadline) -> bool:
        s = self._sock
        wait = 0.0002
        while True:
            try:
                s.send_multipart(parts, flags=zmq.NOBLOCK, copy=True)
                return True
            except zmq.Again:
                if self.policy == "drop":
                    return False
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False
            # XPUB reports POLLOUT even when a subscriber's queue is full: back off
            time.sleep(wait if deadline is None else min(wait, max(0.0, deadline - now)))
            wait = min(wait * 2, 0.01)
            self._drain()

    def close(self) -> None:
        """Close the socket; with the sink's own context, wait up to ``linger_ms`` for the
        messages still queued to go out (a process that exits right after would lose them)."""
        if self._sock is not None:
            self._sock.close(self.linger_ms)
            self._sock = None
        if self._own_ctx:
            self._ctx.term()
            self._ctx, self._own_ctx = None, False
