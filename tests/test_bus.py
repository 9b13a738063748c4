"""The bus (flowgraphs/bus.py): envelope bytes, publisher, slow subscribers, the reference
subscriber, the transmit and control sockets under malformed input, CURVE, and the GNU Radio
PDU bytes. Loopback only; every wait is bounded."""

import json
import os
import random
import struct
import subprocess
import sys
import threading
import time

import pytest
import zmq

from orbitlink import OrbitlinkError
from orbitlink.drivers import pmt
from orbitlink.flowgraphs import bus
from orbitlink.flowgraphs.bus import (BusError, BusPublisher, ControlEndpoint, GrPduBridge,
                                      TxEndpoint, decode_message, encode_message, make_keys)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF_SUB = os.path.join(ROOT, "tools", "reference_subscriber.py")
ANY = "tcp://127.0.0.1:*"


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


# --------------------------------------------------------------------------------------------
# envelope


def test_envelope_exact_bytes_and_round_trip():
    meta = {"sample_index": 1234, "time_s": 0.5, "snr_db": 12.25, "crc_ok": True}
    parts = encode_message("gs1", "ax25-1k2", bus.KIND_FRAME, 7, meta, b"\xde\xad", 1234,
                           1700000000.25, flags=3)
    assert parts[0] == b"gs1/ax25-1k2/frames"
    assert parts[1] == struct.pack("<4sBBHQqd", b"OLNK", 1, 1, 3, 7, 1234, 1700000000.25)
    assert len(parts[1]) == 32
    assert json.loads(parts[2]) == meta
    assert parts[3] == b"\xde\xad"
    m = decode_message(parts)
    assert (m.topic, m.kind, m.flags, m.seq, m.sample_index, m.time, m.meta, m.payload) == (
        "gs1/ax25-1k2/frames", 1, 3, 7, 1234, 1700000000.25, meta, b"\xde\xad")
    assert (m.station, m.link) == ("gs1", "ax25-1k2")
    for kind, name in ((2, "stats"), (3, "events"), (4, "tx-ack")):
        p = encode_message("s", "l", kind, 0, {}, b"", -1, 0.0)
        assert p[0] == f"s/l/{name}".encode() and decode_message(p).kind == kind


def test_envelope_nan_and_numpy_meta():
    import numpy as np

    p = encode_message("s", "l", 1, 0, {"a": np.float32(1.5), "b": np.int64(3),
                                        "c": float("nan"), "d": np.arange(2)}, b"")
    assert json.loads(p[2]) == {"a": 1.5, "b": 3, "c": None, "d": [0, 1]}


@pytest.mark.parametrize("mutate, match", [
    (lambda p: p[:3], "parts"),
    (lambda p: p + [b""], "parts"),
    (lambda p: [p[0], b"XLNK" + p[1][4:], p[2], p[3]], "magic"),
    (lambda p: [p[0], p[1][:4] + b"\x02" + p[1][5:], p[2], p[3]], "version"),
    (lambda p: [p[0], p[1][:5] + b"\x09" + p[1][6:], p[2], p[3]], "kind"),
    (lambda p: [p[0], p[1][:5] + b"\x05" + p[1][6:], p[2], p[3]], "kind"),
    (lambda p: [p[0], p[1][:31], p[2], p[3]], "header"),
    (lambda p: [p[0], p[1] + b"\0", p[2], p[3]], "header"),
    (lambda p: [p[0], p[1], b"[1,2]", p[3]], "object"),
    (lambda p: [p[0], p[1], b"\xff{}", p[3]], "JSON"),
    (lambda p: [p[0], p[1], b"{", p[3]], "JSON"),
    (lambda p: [p[0], p[1], b'{"snr": NaN}', p[3]], "JSON"),
    (lambda p: [p[0], p[1], b'{"snr": -Infinity}', p[3]], "JSON"),
    (lambda p: [p[0], p[1], b"[" * 60000, p[3]], "JSON"),
    (lambda p: [p[0], p[1], b" " * (bus.MAX_META + 1), p[3]], "cap"),
    (lambda p: [p[0], p[1], p[2], b"\0" * (bus.MAX_PAYLOAD + 1)], "cap"),
    (lambda p: [b"x" * (bus.MAX_TOPIC + 1), p[1], p[2], p[3]], "cap"),
    (lambda p: [b"s/l/stats", p[1], p[2], p[3]], "match"),
    (lambda p: [b"s/frames", p[1], p[2], p[3]], "station"),
    (lambda p: [b"\xff/l/frames", p[1], p[2], p[3]], "UTF-8"),
])
def test_decode_refuses(mutate, match):
    p = encode_message("s", "l", 1, 0, {"x": 1}, b"ab")
    with pytest.raises(BusError, match=match):
        decode_message(mutate(p))
    assert issubclass(BusError, OrbitlinkError)


def test_encode_refuses():
    with pytest.raises(BusError):
        encode_message("a/b", "l", 1, 0)
    with pytest.raises(BusError):
        encode_message("s", "l", 5, 0)  # tx-submit has no topic
    with pytest.raises(BusError):
        encode_message("s", "l", 1, -1)
    with pytest.raises(BusError):
        encode_message("s", "l", 1, 0, payload=b"\0" * (bus.MAX_PAYLOAD + 1))


def test_check_endpoint():
    assert bus.check_endpoint(5550) == ("tcp://127.0.0.1:5550", True)
    assert bus.check_endpoint("tcp://localhost:1") == ("tcp://127.0.0.1:1", True)
    assert bus.check_endpoint("tcp://[::1]:1")[1]
    with pytest.raises(BusError, match="refusing"):
        bus.check_endpoint("tcp://0.0.0.0:5550")
    assert bus.check_endpoint("tcp://0.0.0.0:5550", allow_remote=True)[1] is False
    with pytest.raises(BusError):
        bus.check_endpoint("udp://x")
    with pytest.raises(BusError, match="refusing"):
        BusPublisher("tcp://0.0.0.0:*")


# --------------------------------------------------------------------------------------------
# publisher and subscribers


def _sub(ctx, endpoint, rcvhwm=1000, rcvbuf=None):
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.RCVHWM, rcvhwm)
    if rcvbuf:
        s.setsockopt(zmq.RCVBUF, rcvbuf)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(endpoint)
    return s


def _join(pub, sub, timeout=5.0):
    """Slow joiner: ping events until the subscriber sees one; drain the pings."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pub.publish_event("gs", "l", "ping")
        if sub.poll(50):
            break
    else:
        raise AssertionError("subscriber never joined")
    while sub.poll(100):
        sub.recv_multipart()


class _Gaps:
    def __init__(self):
        self.last = {}
        self.missing = {}
        self.count = {}

    def add(self, m):
        t = m.topic
        if t in self.last and m.seq != self.last[t] + 1:
            self.missing[t] = self.missing.get(t, 0) + m.seq - self.last[t] - 1
        self.last[t] = m.seq
        self.count[t] = self.count.get(t, 0) + 1


def test_publisher_sequences_per_topic(ctx):
    with BusPublisher(ANY, context=ctx) as pub:
        sub = _sub(ctx, pub.endpoint)
        _join(pub, sub)
        pub.publish_frame("gs", "l", {"a": 1}, b"x", 10, 1.0)
        pub.publish_stats("gs", "l", {"frames_good": 1}, 11, 2.0)
        pub.publish_frame("gs", "l", {"a": 2}, b"y", 12, 3.0)
        pub.publish_event("gs", "l", "stop", {"frames": 2}, 13, 4.0)
        got = [decode_message(sub.recv_multipart()) for _ in range(4)]
        assert [(m.topic, m.seq) for m in got[:3]] == [
            ("gs/l/frames", 0), ("gs/l/stats", 0), ("gs/l/frames", 1)]
        assert got[3].topic == "gs/l/events" and got[3].meta == {"event": "stop", "frames": 2}
        assert got[3].seq == pub.next_seq(b"gs/l/events") - 1
        assert got[2].payload == b"y" and got[2].sample_index == 12 and got[2].time == 3.0
        assert pub.counters["dropped"] == 0
        sub.close()


def test_slow_subscriber_drops_counted_exactly(ctx):
    n, size = 400, 32768
    with BusPublisher(ANY, context=ctx, sndhwm=20, sndbuf=65536) as pub:
        sub = _sub(ctx, pub.endpoint, rcvhwm=20, rcvbuf=65536)
        _join(pub, sub)
        for i in range(n):  # a PUB never blocks: the burst outruns the subscriber
            pub.publish_frame("gs", "l", {"i": i}, bytes(size), i, float(i))
        gaps = _Gaps()
        while sub.poll(500):
            gaps.add(decode_message(sub.recv_multipart()))
            time.sleep(0.0005)
        pub.publish_frame("gs", "l", {"i": n}, b"", n, 0.0)  # the last one arrives
        assert sub.poll(5000)
        gaps.add(decode_message(sub.recv_multipart()))
        t = "gs/l/frames"
        assert gaps.last[t] == n
        assert gaps.missing.get(t, 0) > 0, "the burst should have overflowed the queues"
        assert gaps.count[t] + gaps.missing[t] == n + 1  # every message accounted for
        sub.close()


def test_nodrop_publisher_slows_instead_of_dropping(ctx):
    n, size = 400, 32768
    with BusPublisher(ANY, context=ctx, nodrop=True, sndhwm=20, sndbuf=65536,
                      retry_timeout=30) as pub:
        sub = _sub(ctx, pub.endpoint, rcvhwm=20, rcvbuf=65536)
        assert pub.wait_subscribers(1, 5.0)
        gaps = _Gaps()

        def reader():
            while gaps.count.get("gs/l/frames", 0) < n and sub.poll(5000):
                gaps.add(decode_message(sub.recv_multipart()))
                time.sleep(0.0005)

        th = threading.Thread(target=reader)
        th.start()
        t0 = time.monotonic()
        for i in range(n):
            pub.publish_frame("gs", "l", {"i": i}, bytes(size), i, float(i))
        th.join(30)
        assert not th.is_alive()
        assert pub.dropped == 0 and pub.sent == n
        assert gaps.count["gs/l/frames"] == n and gaps.missing == {}
        assert time.monotonic() - t0 > n * 0.0005 * 0.5  # it waited for the reader
        sub.close()


def test_nodrop_publisher_counts_what_it_cannot_send(ctx):
    with BusPublisher(ANY, context=ctx, nodrop=True, sndhwm=5, sndbuf=8192,
                      retry_timeout=0.02) as pub:
        sub = _sub(ctx, pub.endpoint, rcvhwm=5, rcvbuf=8192)
        assert pub.wait_subscribers(1, 5.0)
        for i in range(60):  # nobody reads
            pub.publish_frame("gs", "l", {}, bytes(8192), i, 0.0)
        assert pub.dropped > 0 and pub.sent + pub.dropped == 60
        got = _Gaps()
        while sub.poll(300):
            got.add(decode_message(sub.recv_multipart()))
        t = "gs/l/frames"
        # what the subscriber saw plus the gaps it counted accounts for every message up to
        # the last one it received
        assert got.count[t] + got.missing.get(t, 0) == got.last[t] + 1
        sub.close()


def _reader(proc, lines):
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))


def test_reference_subscriber_sees_every_frame(ctx):
    n = 500
    with BusPublisher(ANY, context=ctx) as pub:
        p = subprocess.Popen([sys.executable, REF_SUB, pub.endpoint, "--timeout", "20",
                              "--stop-on-event", "stop"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        lines: list = []
        th = threading.Thread(target=_reader, args=(p, lines), daemon=True)
        th.start()
        try:
            end = time.monotonic() + 20
            while not lines and time.monotonic() < end:  # slow joiner
                pub.publish_event("gs", "l", "ping")
                time.sleep(0.05)
            assert lines, p.stderr.read() if p.poll() is not None else "no output"
            pub.publish_stats("gs", "l", {"samples_in": 1})
            for i in range(n):
                pub.publish_frame("gs", "l", {"sample_index": i, "snr_db": 10.0}, bytes([i % 256]) * 40,
                                  i * 1000, 1700000000.0 + i)
            pub.publish_event("gs", "l", "stop", {"frames": n})
            assert p.wait(30) == 0
        finally:
            if p.poll() is None:
                p.kill()
        th.join(5)
    summary = {ln.split()[1]: ln for ln in lines if ln.startswith("summary:")}
    assert summary["topic=gs/l/frames"].endswith(
        f"messages={n} first_seq=0 last_seq={n - 1} gaps=0 missing=0")
    assert "messages=1 first_seq=0 last_seq=0 gaps=0" in summary["topic=gs/l/stats"]
    frames = [ln for ln in lines if ln.startswith("gs/l/frames frame ")]
    assert len(frames) == n
    assert frames[3].startswith("gs/l/frames frame seq=3 sample=3000 time=1700000003.000000")
    assert frames[3].endswith("payload=40 B")
    assert any(ln.startswith("gs/l/stats stats seq=0") for ln in lines)
    assert any(ln.startswith("gs/l/events event") and "event=\"stop\"" in ln for ln in lines)
    assert lines[-1].startswith("total: ") and "missing=0 malformed=0" in lines[-1]


def test_reference_subscriber_uses_no_orbitlink():
    src = open(REF_SUB).read()
    imports = {ln.split()[1] for ln in src.splitlines() if ln.startswith(("import ", "from "))}
    assert imports == {"json", "struct", "sys", "zmq"}


# --------------------------------------------------------------------------------------------
# transmit and control sockets


def _submission(seq=0, meta=None, payload=b"\x01\x02"):
    return [bus.encode_header(bus.KIND_TX_SUBMIT, seq, 0, 0.0), bus.encode_meta(meta or {}),
            payload]


def _dealer(ctx, endpoint, keys=None, server_public=None):
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    if keys is not None:
        d.curve_publickey, d.curve_secretkey = keys
        d.curve_serverkey = server_public
    d.connect(endpoint)
    return d


def _ask(ep, dealer, parts, timeout=5.0):
    dealer.send_multipart(parts)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        reqs = ep.poll(0.05)
        if reqs or ep.counters["malformed"]:
            return reqs
    return []


def test_tx_endpoint_acks(ctx):
    with TxEndpoint(ANY, context=ctx, station="gs", link="l") as ep:
        d = _dealer(ctx, ep.endpoint)
        reqs = _ask(ep, d, _submission(4, {"freq": 437.5e6}, b"hello"))
        assert len(reqs) == 1
        r = reqs[0]
        assert (r.seq, r.meta, r.payload) == (4, {"freq": 437.5e6}, b"hello")
        ep.reply(r, "accepted")
        ep.reply(r, "sent", tx_time=1700000000.5)
        ep.reply(r, "rejected", reason="outside the allowed band")
        acks = [decode_message(d.recv_multipart()) for _ in range(3) if d.poll(5000)]
        assert [a.meta["status"] for a in acks] == ["accepted", "sent", "rejected"]
        assert all(a.topic == "gs/l/tx-ack" and a.kind == bus.KIND_TX_ACK for a in acks)
        assert [a.seq for a in acks] == [0, 1, 2]
        assert acks[1].meta["tx_time"] == 1700000000.5 and acks[1].time == 1700000000.5
        assert acks[2].meta["reason"] == "outside the allowed band"
        assert all(a.meta["request_seq"] == 4 for a in acks)
        # a REQ client: the empty delimiter is accepted and echoed
        q = ctx.socket(zmq.REQ)
        q.setsockopt(zmq.LINGER, 0)
        q.connect(ep.endpoint)
        reqs = _ask(ep, q, _submission(9))
        assert reqs and reqs[0].delimiter
        ep.reply(reqs[0], "accepted")
        assert q.poll(5000) and decode_message(q.recv_multipart()).meta["request_seq"] == 9
        # malformed: answered with a rejection
        d.send_multipart([b"junk"])
        end = time.monotonic() + 5
        while ep.counters["malformed"] < 1 and time.monotonic() < end:
            ep.poll(0.05)
        assert d.poll(5000)
        a = decode_message(d.recv_multipart())
        assert a.meta["status"] == "rejected" and a.meta["reason"].startswith("malformed")
        d.close()
        q.close()


def test_control_endpoint(ctx):
    with ControlEndpoint(ANY, context=ctx) as ep:
        d = _dealer(ctx, ep.endpoint)
        reqs = _ask(ep, d, [json.dumps({"request": "retune", "freq": 145.8e6}).encode()])
        assert reqs[0].request == "retune" and reqs[0].args == {"freq": 145.8e6}
        ep.reply(reqs[0], {"freq": 145.8e6})
        assert d.poll(5000)
        assert json.loads(d.recv()) == {"ok": True, "request": "retune", "freq": 145.8e6}
        d.send(b'{"request": "reboot"}')
        end = time.monotonic() + 5
        while ep.counters["malformed"] < 1 and time.monotonic() < end:
            ep.poll(0.05)
        assert d.poll(5000)
        ans = json.loads(d.recv())
        assert ans["ok"] is False and "reboot" in ans["error"]
        d.close()


def _bad_tx(rng: random.Random, i: int) -> list:
    """A transmit message that is malformed by construction."""
    good = _submission(i, {"i": i}, rng.randbytes(rng.randrange(0, 64)))
    c = i % 11
    if c == 0:
        return [rng.randbytes(rng.randrange(0, 80))]
    if c == 1:  # magic
        h = bytearray(good[0])
        j = rng.randrange(4)
        h[j] = (h[j] + rng.randrange(1, 256)) % 256
        return [bytes(h), *good[1:]]
    if c == 2:  # version
        return [good[0][:4] + bytes([rng.choice([0, 2, 3, 255])]) + good[0][5:], *good[1:]]
    if c == 3:  # kind
        return [good[0][:5] + bytes([rng.choice([0, 1, 2, 3, 4, 6, 200])]) + good[0][6:],
                *good[1:]]
    if c == 4:  # header length
        n = rng.choice([0, 1, 31, 33, 64])
        return [(good[0] * 3)[:n] or b"x", *good[1:]]
    if c == 5:  # part count
        k = rng.choice([1, 2, 4, 5, 9, 12])
        return (good * 5)[:k]
    if c == 6:  # meta not UTF-8 JSON
        return [good[0], b"\xff" + rng.randbytes(rng.randrange(0, 20)), good[2]]
    if c == 7:  # meta JSON but not an object
        return [good[0], rng.choice([b"[]", b"3", b'"x"', b"null", b"true"]), good[2]]
    if c == 8:  # truncated meta
        return [good[0], b'{"i": ' + str(i).encode(), good[2]]
    if c == 9:  # random parts
        return [rng.randbytes(rng.randrange(1, 40)) for _ in range(rng.randrange(2, 6))]
    # oversize (a few: each is a megabyte)
    if i < 110:
        return [good[0], good[1], bytes(bus.MAX_PAYLOAD + 1)]
    return [good[0], b" " * (bus.MAX_META + 1), good[2]]


def _bad_control(rng: random.Random, i: int) -> list:
    c = i % 8
    if c == 0:
        return [bytes([rng.randrange(0x80, 0x100)]) + rng.randbytes(rng.randrange(0, 60))]
    if c == 1:
        return [rng.choice([b"[1,2]", b"3", b'"status"', b"null", b""])]
    if c == 2:
        return [json.dumps(rng.choice([{"request": "reboot"}, {"req": "status"},
                                       {"request": 5}, {"request": None}])).encode()]
    if c == 3:
        k = rng.choice([2, 3, 5, 9])
        return [b'{"request":"status"}'] * k
    if c == 4:
        return [b'{"request": "stat']
    if c == 5:
        return [b" " * (bus.MAX_META + 1)]
    if c == 6:
        return [b'{"request": "status"' + b"," * rng.randrange(1, 5) + b"}"]
    return [b"[" * 100000]  # deep nesting


def _flood(ctx, ep, make, n, good, check_good):
    rng = random.Random(12)
    d = _dealer(ctx, ep.endpoint)
    sent = 0
    t0 = time.monotonic()
    while sent < n:
        batch = min(500, n - sent)
        for _ in range(batch):
            d.send_multipart(make(rng, sent))
            sent += 1
        end = time.monotonic() + 30
        while ep.counters["received"] < sent and time.monotonic() < end:
            assert ep.poll(0.05) == []
            while d.poll(0):
                d.recv_multipart()
        assert ep.counters["received"] == sent
    assert ep.counters["malformed"] == n and ep.counters["valid"] == 0
    reqs = _ask(ep, d, good)
    assert len(reqs) == 1
    check_good(ep, d, reqs[0])
    d.close()
    return time.monotonic() - t0


def _check_tx(ep, d, r):
    ep.reply(r, "accepted")
    end = time.monotonic() + 5
    while time.monotonic() < end:
        assert d.poll(5000)
        a = decode_message(d.recv_multipart())
        if a.meta["status"] == "accepted":
            assert a.meta["request_seq"] == 77
            return
    raise AssertionError("no ack")


def _check_control(ep, d, r):
    ep.reply(r, {"state": "running"})
    end = time.monotonic() + 5
    while time.monotonic() < end:
        assert d.poll(5000)
        ans = json.loads(d.recv())
        if ans.get("ok"):
            assert ans == {"ok": True, "request": "status", "state": "running"}
            return
    raise AssertionError("no answer")


N_FUZZ = 20000


@pytest.mark.parametrize("n", [N_FUZZ, pytest.param(1_000_000, marks=pytest.mark.fuzz)])
def test_tx_endpoint_survives_malformed(ctx, n):
    with TxEndpoint(ANY, context=ctx) as ep:
        _flood(ctx, ep, _bad_tx, n, _submission(77), _check_tx)


@pytest.mark.parametrize("n", [N_FUZZ, pytest.param(1_000_000, marks=pytest.mark.fuzz)])
def test_control_endpoint_survives_malformed(ctx, n):
    with ControlEndpoint(ANY, context=ctx) as ep:
        _flood(ctx, ep, _bad_control, n, [b'{"request": "status"}'], _check_control)


def test_oversize_beyond_maxmsgsize_is_refused_by_libzmq(ctx):
    with TxEndpoint(ANY, context=ctx) as ep:
        d = _dealer(ctx, ep.endpoint)
        d.send_multipart([bus.encode_header(5, 0), b"{}", bytes(bus._MAXMSGSIZE + 1)])
        time.sleep(0.3)
        assert ep.poll(0.2) == [] and ep.counters["received"] == 0
        d.close()
        d = _dealer(ctx, ep.endpoint)  # the endpoint goes on
        assert len(_ask(ep, d, _submission(1))) == 1
        d.close()


# --------------------------------------------------------------------------------------------
# CURVE


def test_remote_bind_needs_curve_keys():
    with pytest.raises(BusError, match="CURVE"):
        TxEndpoint("tcp://0.0.0.0:*")
    with pytest.raises(BusError, match="CURVE"):
        ControlEndpoint("tcp://0.0.0.0:*")
    with pytest.raises(BusError, match="CURVE"):
        TxEndpoint(ANY, curve=True)


@pytest.mark.parametrize("as_dir", [False, True])
def test_curve_refuses_unauthorised_clients(ctx, tmp_path, as_dir):
    import zmq.auth

    pub_path, sec_path = make_keys(tmp_path / "server", "server")
    assert oct(os.stat(sec_path).st_mode & 0o777) == "0o600"
    server_public, _ = zmq.auth.load_certificate(pub_path)
    cpub, csec = make_keys(tmp_path / "clients", "client")
    good_keys = zmq.auth.load_certificate(csec)
    bad_keys = zmq.curve_keypair()
    authorized = str(tmp_path / "clients") if as_dir else [good_keys[0].decode()]
    if as_dir:
        os.remove(csec)  # only public keys in the authorised directory
    with TxEndpoint(ANY, curve=True, server_keys=sec_path, authorized_keys=authorized) as ep:
        assert ep.curve and ep.public_key == server_public.decode()
        bad = _dealer(ctx, ep.endpoint, bad_keys, server_public)
        bad.send_multipart(_submission(1))
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            assert ep.poll(0.05) == []
        assert ep.counters["received"] == 0 and not bad.poll(100)
        assert ep.counters["auth_failures"] >= 1
        plain = _dealer(ctx, ep.endpoint)  # no CURVE at all
        plain.send_multipart(_submission(2))
        assert ep.poll(0.5) == [] and ep.counters["received"] == 0
        good = _dealer(ctx, ep.endpoint, good_keys, server_public)
        reqs = _ask(ep, good, _submission(3))
        assert len(reqs) == 1 and reqs[0].seq == 3
        ep.reply(reqs[0], "accepted")
        assert good.poll(5000)
        assert decode_message(good.recv_multipart()).meta["status"] == "accepted"
        assert not bad.poll(100)
        for s in (bad, plain, good):
            s.close()


# --------------------------------------------------------------------------------------------
# GNU Radio PDU bytes


def test_pdu_golden_bytes():
    # LIVE-STATION.md A.3: message_strobe -> pub_msg_sink, meta {snr: 12.5}, payload deadbeef
    golden = bytes.fromhex("07 09 07 02 00 03 73 6e 72 04 40 29 00 00 00 00"
                           "00 00 06 0a 00 00 00 00 04 01 00 de ad be ef")
    assert bus.pdu_bytes({"snr": 12.5}, bytes.fromhex("deadbeef")) == golden
    # {snr_db: 11.5, seq: uint64 7}: the A.3 prefix, integers as uint64
    b = bus.pdu_bytes({"snr_db": 11.5, "seq": 7}, bytes.fromhex("deadbeef"))
    assert b.hex().startswith("070907020006736e725f646204" + struct.pack(">d", 11.5).hex()
                              + "0907020003736571" + "0b0000000000000007" + "06")
    assert b.endswith(bytes.fromhex("0a00000000040100deadbeef"))
    assert bus.pdu_bytes({}, b"\x01") == bytes.fromhex("07060a00000000010100" "01")
    v, end = pmt.deserialize(bus.pdu_bytes({"n": -3, "s": "ok", "t": True, "hex": "ff"}, b"x"))
    assert v == pmt.Pair({"n": -3.0, "s": "ok", "t": True}, b"x")


def test_gr_bridge_sends_single_part_pdus(ctx):
    with GrPduBridge(ANY, context=ctx) as br:
        s = _sub(ctx, br.endpoint)
        end = time.monotonic() + 5
        while time.monotonic() < end:
            br.publish_frame({"snr": 12.5}, bytes.fromhex("deadbeef"))
            if s.poll(50):
                break
        parts = s.recv_multipart()
        assert len(parts) == 1 and parts[0][:2] == b"\x07\x09"
        assert parts[0] == bus.pdu_bytes({"snr": 12.5}, bytes.fromhex("deadbeef"))
        s.close()
    with pytest.raises(BusError, match="refusing"):
        GrPduBridge("tcp://0.0.0.0:*")
