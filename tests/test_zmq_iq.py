"""ZeroMQ IQ (drivers/zmq_iq.py) and PMT (drivers/pmt.py): GNU Radio's wire, byte for byte, and
a source that nothing a peer sends can stop.

Loopback addresses and ipc:// in temporary folders only, ephemeral ports, every wait bounded.
The GNU Radio interop tests are in test_zmq_iq_gnuradio.py (marker ``interop``).
"""

import random
import struct
import threading
import time

import numpy as np
import pytest
import zmq

from orbitlink.drivers import pmt
from orbitlink.drivers.radio import RadioConfig, RadioError, open_radio
from orbitlink.drivers.zmq_iq import MAX_TAGS, Tag, TagHeaderError, ZmqIqSink, ZmqIqSource, \
    check_address, parse_tag_header, stream_tags, tag_header

#: LIVE-STATION.md A.1: GNU Radio 3.10.5 vector_source_c of k + 1j*(k+100), k = 0..7, tags
#: rx_time@0 = (uint64 1700000000, double 0.25) srcid #f and rx_freq@2 = 437.5e6 srcid 'src',
#: throttle, pub_sink(pass_tags=True), captured by a pyzmq SUB: 94-byte header + 64 bytes
GR_TAGGED_MESSAGE = bytes.fromhex(
    "f05f0100000000000000000200000000"
    "00000000000000000000000200077278"
    "5f74696d650c000000020b0000000065"
    "53f100043fd000000000000001020000"
    "000000000002000772785f6672657104"
    "41ba13b8600000000200037372630000"
    "00000000c8420000803f0000ca420000"
    "00400000cc42000040400000ce420000"
    "80400000d0420000a0400000d2420000"
    "c0400000d4420000e0400000d642")
GR_SAMPLES = (np.arange(8) + 1j * (np.arange(8) + 100)).astype(np.complex64)
GR_TAGS = [Tag(0, "rx_time", (pmt.U64(1700000000), 0.25), False),
           Tag(2, "rx_freq", 437.5e6, "src")]

WAIT = 5.0  # seconds: the bound of every wait for the network


def ramp(n, start=0):
    i = np.arange(start, start + n, dtype=np.float64)
    return (i + 1j * (i % 1000)).astype(np.complex64)


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


def publisher(ctx, addr="tcp://127.0.0.1:*"):
    """A pyzmq XPUB (a PUB that sees its subscribers) bound to ``addr``."""
    s = ctx.socket(zmq.XPUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDHWM, 100_000)
    s.bind(addr)
    return s, s.getsockopt_string(zmq.LAST_ENDPOINT)


def wait_subscribed(pub):
    assert pub.poll(int(WAIT * 1000)), "the source never subscribed"
    assert pub.recv()[:1] == b"\x01"


def read_all(src, n, size=5000, wait=WAIT):
    """Read until ``n`` samples came (bounded); the results and the samples."""
    buf = np.empty(size, np.complex64)
    results, parts, got = [], [], 0
    deadline = time.monotonic() + wait
    while got < n and time.monotonic() < deadline:
        r = src.read(buf, 0.05)
        if r.n or r.gap:
            results.append(r)
            parts.append(buf[:r.n].copy())
            got += r.n
    return results, (np.concatenate(parts) if parts else np.zeros(0, np.complex64))


def assert_continuous(results):
    nxt = 0
    for r in results:
        assert r.sample_index == nxt + r.gap, (r, nxt)
        nxt = r.sample_index + r.n


# --------------------------------------------------------------------------------------------
# PMT


#: GNU Radio 3.10.5's pmt.serialize_str of each value (measured on this machine)
GR_PMT = [
    (5, "0300000005"),
    (-1, "03ffffffff"),
    (1 << 40, "0d0000010000000000"),
    (pmt.U64(7), "0b0000000000000007"),
    (0.25, "043fd0000000000000"),
    (1 + 2j, "053ff00000000000004000000000000000"),
    (None, "06"), (True, "00"), (False, "01"),
    ((1, "a"), "0c00000002030000000102000161"),
    ([3, 3], "08000000020300000003030000000 3".replace(" ", "")),
    ({"b": 2.0, "a": 1}, "0907020001620440000000000000000907020001610300000001" "06"),
    (pmt.Pair("x", 1), "07020001780300000001"),
    (np.array([1, 2], np.float32), "0a080000000201003f80000040000000"),
    (np.array([1 + 2j], np.complex64), "0a0a0000000101003f80000040000000"),
    (np.array([1, -2], np.int16), "0a030000000201000001fffe"),
    (np.array([1.5], np.float64), "0a090000000101003ff8000000000000"),
    (np.array([1 + 2j], np.complex128),
     "0a0b0000000101003ff00000000000004000000000000000"),
    (np.array([5], np.uint64), "0a060000000101000000000000000005"),
    # LIVE-STATION.md A.3: the PDU ({snr: 12.5} . u8vector de ad be ef) of pub_msg_sink
    (pmt.Pair({"snr": 12.5}, b"\xde\xad\xbe\xef"),
     "070907020003736e7204402900000000000006 0a0000000004 0100deadbeef".replace(" ", "")),
]


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, (tuple, list)) and not isinstance(a, (str, bytes)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("value, hexbytes", GR_PMT, ids=[h[:12] for _, h in GR_PMT])
def test_pmt_bytes_equal_gnuradio(value, hexbytes):
    b = pmt.serialize(value)
    assert b.hex() == hexbytes
    back, end = pmt.deserialize(b)
    assert end == len(b)
    assert _same(back, value), (back, value)


@pytest.mark.parametrize("data, msg", [
    ("08fffffff0", "items"),  # a vector of 4 G items (aborts GNU Radio's sub_msg_source)
    ("08000010000300000001", "items"),  # 4096 < n and few bytes
    ("02ffff" + "41" * 10, "symbol length 65535"),
    ("020500" + "41" * 10, "symbol length 1280"),
    ("0c00000002 0b00000000 6553".replace(" ", ""), "truncated"),  # a truncated tuple
    ("0709", "truncated"),
    ("ff0001", "unknown PMT tag"),
    ("0a00ffffffff0100", "uniform vector"),
    ("0a0c000000010100", "subtype"),
    ("09070200016103000000010 5".replace(" ", ""), "dict continues"),
    ("0903000000010 6".replace(" ", ""), "pair"),
    ("07" * 100 + "06", "deeper"),
    ("0d000000", "truncated"),
    ("", "truncated"),
])
def test_pmt_malformed_is_an_error_not_an_allocation(data, msg):
    t = time.perf_counter()
    with pytest.raises(pmt.PmtError, match=msg):
        pmt.deserialize(bytes.fromhex(data))
    assert time.perf_counter() - t < 0.1


def test_pmt_refuses_what_it_cannot_write():
    for bad in (object(), "x" * 1025, 1 << 70, np.zeros((2, 2)), [None] * 0 + [set()]):
        with pytest.raises(pmt.PmtError):
            pmt.serialize(bad)


# --------------------------------------------------------------------------------------------
# tag headers


def test_gnuradio_tagged_message_parsed():
    offset, tags, hlen = parse_tag_header(GR_TAGGED_MESSAGE)
    assert (offset, hlen, len(GR_TAGGED_MESSAGE)) == (0, 94, 158)
    assert tags == GR_TAGS
    x = np.frombuffer(GR_TAGGED_MESSAGE[hlen:], "<c8")
    assert np.array_equal(x, GR_SAMPLES)


def test_our_tag_header_equals_gnuradios():
    assert tag_header(0, GR_TAGS) == GR_TAGGED_MESSAGE[:94]
    t = stream_tags(0, time_ns=1_700_000_000_250_000_000, freq=437.5e6)
    assert [x.key for x in t] == ["rx_time", "rx_freq"]
    assert tag_header(0, [t[0], Tag(2, "rx_freq", 437.5e6, "src")]) == GR_TAGGED_MESSAGE[:94]
    # no tags: 19 bytes
    assert tag_header(12345) == bytes.fromhex("f05f01") + struct.pack("<QQ", 12345, 0)


def test_sink_sends_gnuradios_bytes(ctx):
    with ZmqIqSink("tcp://127.0.0.1:*", pass_tags=True, context=ctx) as snk:
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.subscribe(b"")
        sub.connect(snk.address)
        assert snk.wait_for_subscriber(WAIT)
        snk.write(GR_SAMPLES, tags=[Tag(0, "rx_time", (pmt.U64(1700000000), 0.25)),
                                    Tag(2, "rx_freq", 437.5e6, "src")])
        assert sub.poll(int(WAIT * 1000))
        assert sub.recv_multipart() == [GR_TAGGED_MESSAGE]


@pytest.mark.parametrize("data, msg", [
    (b"\0" * 30, "magic"),
    (GR_TAGGED_MESSAGE[:10], "truncated"),
    (GR_TAGGED_MESSAGE[:60], "truncated"),
    (bytes.fromhex("f05f02") + bytes(16), "version"),
    (bytes.fromhex("f05f01") + struct.pack("<QQ", 0, 1 << 63) + bytes(64), "claims"),
    (bytes.fromhex("f05f01") + struct.pack("<QQ", 0, MAX_TAGS + 1) + bytes(20000), "claims"),
    (bytes.fromhex("f05f01") + struct.pack("<QQQ", 0, 1, 0) + bytes.fromhex("02ffff")
     + b"k" * 40, "65535"),
    (bytes.fromhex("f05f01") + struct.pack("<QQQ", 0, 1, 0) + bytes.fromhex("0200016b")
     + bytes.fromhex("0c000000020b00000000"), "truncated"),
    (bytes.fromhex("f05f01") + struct.pack("<QQQ", 0, 1, 0) + bytes.fromhex("0200016b")
     + bytes.fromhex("08fffffff0") + bytes(8), "items"),
    (bytes.fromhex("f05f01") + struct.pack("<QQQ", 0, 1, 0) + bytes.fromhex("030000000104")
     + bytes(8) + b"\x01", "symbol"),
])
def test_bad_tag_headers(data, msg):
    with pytest.raises(TagHeaderError, match=msg):
        parse_tag_header(data)


def test_tag_header_parser_fuzz():
    """20 000 mutations of GNU Radio's message: a TagHeaderError or a parse, nothing else."""
    rng = random.Random(11)
    base = bytearray(GR_TAGGED_MESSAGE)
    ok = bad = 0
    t = time.perf_counter()
    for i in range(20_000):
        m = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            if not m:
                break
            op = rng.random()
            if op < 0.5:
                m[rng.randrange(len(m))] = rng.randrange(256)
            elif op < 0.7:
                del m[rng.randrange(len(m)):]
            elif op < 0.85:
                j = rng.randrange(len(m))
                m[j:j] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            elif len(m) > 4:
                j = rng.randrange(len(m) - 4)
                m[j:j + 4] = b"\xff\xff\xff\xf0"
        try:
            parse_tag_header(bytes(m))
            ok += 1
        except TagHeaderError:
            bad += 1
    assert ok + bad == 20_000 and bad > 5000 and ok > 100
    assert time.perf_counter() - t < 20


# --------------------------------------------------------------------------------------------
# the source


def test_source_survives_malformed_messages(ctx):
    """Messages of varied lengths (any multiple of 8, unaligned to anything else) with
    malformed ones between them: every good sample in order, every bad message counted, the
    thread alive."""
    pub, addr = publisher(ctx)
    src = ZmqIqSource(addr, context=ctx)
    src.start()
    try:
        wait_subscribed(pub)
        sizes = [0, 1, 100, 4095, 4096, 8191, 3, 7777, 8192, 5]
        bad = [b"\x01" * 7, b"\x02" * 9, b"\x03" * 65535, [b"two", bytes(16)], b"\x04" * 30]
        want, pos, sent_bad = [], 0, 0
        for i, n in enumerate(sizes):
            x = ramp(n, pos)
            pos += n
            want.append(x)
            pub.send(x.tobytes())
            if i < len(bad):
                b = bad[i]
                pub.send_multipart(b) if isinstance(b, list) else pub.send(b)
                sent_bad += 1
        results, got = read_all(src, pos)
        assert np.array_equal(got, np.concatenate(want))
        assert_continuous(results)
        assert src.counters.malformed == sent_bad
        assert src.counters.gaps == 0 and src.counters.dropped_samples == 0
        assert src.alive
        # and it keeps delivering
        pub.send(ramp(10, pos).tobytes())
        results, got = read_all(src, 10)
        assert np.array_equal(got, ramp(10, pos)) and results[0].sample_index == pos
        assert src.stats()["thread_alive"]
    finally:
        src.close()
    assert not src.alive


def _tagged(offset, x, tags=()):
    return tag_header(offset, tags) + x.tobytes()


def test_tagged_source_malformed_gaps_and_restarts(ctx):
    pub, addr = publisher(ctx)
    src = ZmqIqSource(addr, pass_tags=True, samp_rate=1e6, context=ctx)
    assert src.drop_detection == "sample_counter" and src.has_hardware_time
    src.start()
    try:
        wait_subscribed(pub)
        first = 1_000_000  # the subscriber joined a running stream
        t0 = 1_700_000_000_000_000_000
        malformed = [
            b"\0" * 30,  # kills GNU Radio's sub_source thread
            b"\x05" * 7,
            bytes.fromhex("f05f01") + struct.pack("<QQ", first, 1 << 62) + bytes(100),
            bytes.fromhex("f05f01") + struct.pack("<QQQ", first, 1, first)
            + bytes.fromhex("02ffff") + b"A" * 100,  # a PMT symbol of 65535 bytes
            bytes.fromhex("f05f01") + struct.pack("<QQQ", first, 1, first)
            + bytes.fromhex("020001740c00000003") + bytes.fromhex("04") + bytes(8),  # tuple
            tag_header(first, []) + bytes(12),  # samples not a multiple of 8
            bytes.fromhex("f05f09") + bytes(16),
        ]
        good = [(0, 4096), (4096, 100), (4196, 8191), (12387, 1)]
        want = []
        for i, (off, n) in enumerate(good):
            x = ramp(n, off)
            want.append(x)
            tags = stream_tags(first + off, time_ns=t0, rate=2e6, freq=145.8e6) if i == 0 \
                else [Tag(first + off + n - 1, "last", i, "me")]
            pub.send(_tagged(first + off, x, tags))
            for m in malformed[2 * i:2 * i + 2]:
                pub.send(m)
        total = sum(n for _, n in good)
        results, got = read_all(src, total, size=3000)
        assert np.array_equal(got, np.concatenate(want))
        assert_continuous(results)
        assert results[0].sample_index == 0 and src.first_offset == first
        assert src.counters.malformed == len(malformed)
        assert src.counters.gaps == 0
        # rx_time + rx_rate stamp every read
        for r in results:
            assert r.time_ns == t0 + r.sample_index * 500
        tags = src.pop_tags()
        assert [(t.offset, t.key) for t in tags] == \
            [(0, "rx_time"), (0, "rx_rate"), (0, "rx_freq"), (4195, "last"), (12386, "last"),
             (12387, "last")]
        assert tags[0].value == (1_700_000_000, 0.0) and tags[3].srcid == "me"
        assert src.pop_tags() == []
        # the publisher lost 500 items: a gap of exactly 500
        pub.send(_tagged(first + total + 500, ramp(300, total + 500)))
        results, got = read_all(src, 300)
        assert results[0].gap == 500 and results[0].sample_index == total + 500
        assert src.counters.gaps == 1 and src.counters.dropped_samples == 500
        # the publisher restarted at offset 0: counted, the index runs on
        pub.send(_tagged(0, ramp(50)))
        results, got = read_all(src, 50)
        assert results[0].sample_index == total + 800 and results[0].gap == 0
        assert src.counters.stream_errors == 1
        assert src.alive
    finally:
        src.close()


def test_keyed_messages(ctx):
    pub, addr = publisher(ctx)
    src = open_radio("zmq", f"address={addr},key=iq")
    src._ctx = ctx
    src.start()
    try:
        wait_subscribed(pub)
        pub.send_multipart([b"iq", ramp(10).tobytes()])
        pub.send_multipart([b"iqx", ramp(10).tobytes()])  # passes the SUB's prefix filter
        pub.send(b"iq" + ramp(10).tobytes())  # one part
        pub.send_multipart([b"iq", ramp(10).tobytes(), b"more"])
        pub.send_multipart([b"other", ramp(10).tobytes()])  # filtered by the subscription
        pub.send_multipart([b"iq", ramp(5, 10).tobytes()])
        results, got = read_all(src, 15)
        assert np.array_equal(got, ramp(15))
        assert src.counters.malformed == 3
    finally:
        src.close()


def test_local_queue_overflow_is_a_counted_gap(ctx):
    pub, addr = publisher(ctx)
    src = ZmqIqSource(addr, queue_samples=10_000, context=ctx)
    src.start()
    try:
        wait_subscribed(pub)
        for i in range(20):
            pub.send(ramp(1000, 1000 * i).tobytes())
        deadline = time.monotonic() + WAIT
        while src.messages < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert src.messages == 20
        results, got = read_all(src, 10_000)
        assert results[0].gap == 10_000 and results[0].sample_index == 10_000
        assert np.array_equal(got, ramp(10_000, 10_000))
        assert src.counters.dropped_samples == 10_000 and src.counters.gaps == 1
        assert src.queue_dropped_messages == 10
    finally:
        src.close()


def test_source_as_a_radio(ctx):
    src = open_radio("zmq", "address=tcp://127.0.0.1:1,pass_tags=1,samp_rate=48000")
    assert src.pass_tags and src.samp_rate == 48000 and src.drop_detection == "sample_counter"
    assert open_radio("zmq", "address=6000").address == "tcp://127.0.0.1:6000"
    assert open_radio("zmq", "").drop_detection == "none"
    with pytest.raises(RadioError, match="unknown device argument"):
        open_radio("zmq", "address=6000,gain=3")
    with pytest.raises(RadioError, match="before start"):
        src.read(np.empty(4, np.complex64))
    got = src.configure(RadioConfig(samp_rate=96000, center_freq=1e6))
    assert got.samp_rate == 96000 and src.samp_rate == 96000
    with pytest.raises(RadioError, match="cannot transmit"):
        src.start(tx=True)
    src._ctx = ctx
    src.start()
    try:
        with pytest.raises(TypeError):
            src.read(np.empty(4, np.complex128))
        t = time.monotonic()
        r = src.read(np.empty(4, np.complex64), 0.05)
        assert r.event == "timeout" and r.n == 0 and time.monotonic() - t < 1
        assert src.counters.timeouts == 1
    finally:
        src.close()
    t = time.monotonic()
    src.close()  # twice is fine
    assert time.monotonic() - t < 1


def test_random_messages_never_stop_the_source(ctx, tmp_path):
    """3000 random and mutated messages over ipc: counted, good ones delivered, alive."""
    pub, addr = publisher(ctx, f"ipc://{tmp_path}/iq")
    src = ZmqIqSource(addr, pass_tags=True, context=ctx)
    src.start()
    rng = random.Random(5)
    try:
        wait_subscribed(pub)
        sent_good = 0
        for i in range(3000):
            if i % 3 == 0:
                pub.send(_tagged(sent_good, ramp(10, sent_good)))
                sent_good += 10
                continue
            m = bytearray(_tagged(0, ramp(rng.randint(0, 40)), GR_TAGS))
            for _ in range(rng.randint(1, 3)):
                j = rng.randrange(len(m))
                if rng.random() < 0.5:
                    m[j] = rng.randrange(256)
                else:
                    del m[j:]
                    if not m:
                        break
            pub.send(bytes(m) if rng.random() < 0.9 else bytes(rng.randrange(256) for _ in
                                                              range(rng.randint(0, 64))))
        pub.send(_tagged(sent_good, ramp(10, sent_good)))
        sent_good += 10
        deadline = time.monotonic() + WAIT
        while src.messages + src.counters.malformed < 3001 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert src.messages + src.counters.malformed == 3001
        assert src.counters.malformed > 1000
        assert src.alive and src.thread_error is None
    finally:
        src.close()


# --------------------------------------------------------------------------------------------
# the sink


def _subscriber(ctx, addr, key=b"", hwm=None):
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    if hwm is not None:
        s.setsockopt(zmq.RCVHWM, hwm)
    s.subscribe(key)
    s.connect(addr)
    return s


def _recv_all(sub, quiet_ms=300):
    out = []
    while sub.poll(quiet_ms):
        out.append(sub.recv_multipart())
    return out


def test_sink_raw_messages_at_most_64k(ctx):
    x = ramp(100_000)
    with ZmqIqSink("tcp://127.0.0.1:*", context=ctx) as snk:
        sub = _subscriber(ctx, snk.address)
        assert snk.wait_for_subscriber(WAIT)
        assert snk.write(x) == len(x)
        msgs = _recv_all(sub)
    assert all(len(m) == 1 for m in msgs)
    sizes = [len(m[0]) for m in msgs]
    assert max(sizes) == 65536 and all(s % 8 == 0 for s in sizes)
    assert np.array_equal(np.frombuffer(b"".join(m[0] for m in msgs), "<c8"), x)
    assert snk.counters.messages == len(msgs) == 13 and snk.counters.samples == len(x)
    assert snk.counters.dropped_messages == 0 and snk.counters.unheard_messages == 0


def test_sink_key_and_tags_into_our_source(ctx):
    x = ramp(30_000)
    with ZmqIqSink("tcp://127.0.0.1:*", key="iq", pass_tags=True, max_items=4096,
                   context=ctx) as snk:
        sub = _subscriber(ctx, snk.address, b"iq")
        src = ZmqIqSource(snk.address, key="iq", pass_tags=True, context=ctx)
        src.start()
        try:
            assert snk.wait_for_subscriber(WAIT, count=2)
            tags = stream_tags(0, time_ns=5_000_000_000, rate=1e6, freq=2.2e9) + \
                [Tag(12_345, "burst", {"n": 3}, "x")]
            snk.write(x[:20_000], tags=tags)
            snk.offset += 777  # as if 777 were dropped on the way
            snk.write(x[20_777:])
            results, got = read_all(src, 30_000 - 777)
            assert np.array_equal(got, np.concatenate([x[:20_000], x[20_777:]]))
            assert results[-1].sample_index + results[-1].n == 30_000
            assert src.counters.dropped_samples == 777 and src.counters.gaps == 1
            assert [t.key for t in src.pop_tags()] == ["rx_time", "rx_rate", "rx_freq", "burst"]
            assert all(r.time_ns == 5_000_000_000 + r.sample_index * 1000 for r in results)
        finally:
            src.close()
        msgs = _recv_all(sub)
    assert all(len(m) == 2 and m[0] == b"iq" and len(m[1]) <= 65536 for m in msgs)
    offs = [parse_tag_header(m[1])[0] for m in msgs]
    assert offs[:5] == [0, 4096, 8192, 12288, 16384] and offs[5] == 20_777


def test_sink_tags_checked(ctx):
    with ZmqIqSink("tcp://127.0.0.1:*", context=ctx) as snk:
        with pytest.raises(ValueError, match="pass_tags"):
            snk.write(ramp(10), tags=[Tag(0, "a", 1)])
    with ZmqIqSink("tcp://127.0.0.1:*", pass_tags=True, context=ctx) as snk:
        with pytest.raises(ValueError, match="outside"):
            snk.write(ramp(10), tags=[Tag(10, "a", 1)])


def test_sink_drop_policy_counts_exactly(ctx, tmp_path):
    """A subscriber that does not read: what the sink could not queue is dropped and
    counted; what arrives, with tag headers, says where it belongs."""
    x = ramp(2000 * 1024)
    with ZmqIqSink(f"ipc://{tmp_path}/s", pass_tags=True, hwm=4, max_items=1024,
                   context=ctx) as snk:
        sub = _subscriber(ctx, snk.address, hwm=4)
        assert snk.wait_for_subscriber(WAIT)
        t = time.monotonic()
        assert snk.write(x) == len(x)  # never blocks
        assert time.monotonic() - t < 2
        c = snk.counters
        assert c.dropped_messages > 0 and c.messages + c.dropped_messages == 2000
        msgs = _recv_all(sub)
    got = 0
    for (m,) in msgs:
        off, _, h = parse_tag_header(m)
        y = np.frombuffer(m[h:], "<c8")
        assert np.array_equal(y, x[off:off + len(y)])
        got += len(y)
    assert len(msgs) == c.messages
    assert got == c.samples and got + c.dropped_samples == len(x)


def test_sink_block_policy_loses_nothing(ctx, tmp_path):
    x = ramp(300 * 1024)
    with ZmqIqSink(f"ipc://{tmp_path}/s", policy="block", hwm=4, max_items=1024,
                   context=ctx) as snk:
        sub = _subscriber(ctx, snk.address, hwm=4)
        assert snk.wait_for_subscriber(WAIT)
        got = []

        def slow():
            while sub.poll(1000):
                got.append(sub.recv())
                time.sleep(0.0005)

        th = threading.Thread(target=slow, daemon=True)
        th.start()
        assert snk.write(x, timeout_s=30) == len(x)
        th.join(10)
        assert not th.is_alive()
        assert snk.counters.dropped_messages == 0 and snk.counters.messages == 300
    assert np.array_equal(np.frombuffer(b"".join(got), "<c8"), x)


def test_sink_block_policy_times_out(ctx, tmp_path):
    with ZmqIqSink(f"ipc://{tmp_path}/s", policy="block", hwm=2, max_items=1024,
                   context=ctx) as snk:
        sub = _subscriber(ctx, snk.address, hwm=2)  # never reads
        assert snk.wait_for_subscriber(WAIT)
        t = time.monotonic()
        n = snk.write(ramp(2000 * 1024), timeout_s=0.3)
        assert 0.25 < time.monotonic() - t < 2
        assert 0 < n < 2000 * 1024 and n % 1024 == 0
        assert snk.counters.timeouts == 1 and snk.counters.samples == n
        assert snk.counters.dropped_messages == 0
        sub.close(0)


def test_sink_without_subscribers_counts_unheard(ctx):
    with ZmqIqSink("tcp://127.0.0.1:*", context=ctx) as snk:
        assert not snk.wait_for_subscriber(0.05)
        snk.write(ramp(3 * 8192))
        assert snk.counters.unheard_messages == 3 and snk.subscribers == 0


def test_addresses():
    assert check_address(5556, bind=True) == "tcp://127.0.0.1:5556"
    assert check_address("tcp://localhost:7", bind=True) == "tcp://127.0.0.1:7"
    assert check_address("tcp://[::1]:7", bind=True) == "tcp://[::1]:7"
    assert check_address("tcp://127.0.0.2:*", bind=True) == "tcp://127.0.0.2:*"
    assert check_address("ipc:///tmp/x", bind=True) == "ipc:///tmp/x"
    assert check_address("tcp://10.0.0.5:5556", bind=False) == "tcp://10.0.0.5:5556"
    for addr in ("tcp://0.0.0.0:5556", "tcp://*:5556", "tcp://eth0:5556",
                 "tcp://192.168.1.2:5556"):
        with pytest.raises(RadioError, match="refusing to bind"):
            check_address(addr, bind=True)
        assert check_address(addr, bind=True, allow_remote=True)
    for addr in ("udp://127.0.0.1:1", "tcp://127.0.0.1", "tcp://127.0.0.1:99999", "x"):
        with pytest.raises(RadioError):
            check_address(addr, bind=False)
    with pytest.raises(RadioError, match="refusing"):
        ZmqIqSink("tcp://0.0.0.0:5556")
    with pytest.raises(RadioError, match="policy"):
        ZmqIqSink(policy="maybe")


def test_source_block_policy_holds_the_publisher_back(ctx, tmp_path):
    """A reader slower than the publisher, a small queue: with policy="block" on both ends
    nothing is lost (back-pressure through ZeroMQ's queues to the sink's XPUB_NODROP)."""
    x = ramp(400 * 1024)
    with ZmqIqSink(f"ipc://{tmp_path}/s", policy="block", hwm=2, max_items=1024,
                   context=ctx) as snk:
        src = ZmqIqSource(snk.address, queue_samples=4096, policy="block", hwm=2, context=ctx)
        src.start()
        try:
            assert snk.wait_for_subscriber(WAIT)
            th = threading.Thread(target=snk.write, args=(x,), kwargs={"timeout_s": 30},
                                  daemon=True)
            th.start()
            buf = np.empty(700, np.complex64)
            parts, got = [], 0
            deadline = time.monotonic() + 30
            while got < len(x) and time.monotonic() < deadline:
                r = src.read(buf, 0.1)
                parts.append(buf[:r.n].copy())
                got += r.n
                if len(parts) % 50 == 0:
                    time.sleep(0.002)  # slower than the publisher
            th.join(10)
            assert np.array_equal(np.concatenate(parts), x)
            assert src.counters.gaps == 0 and src.queue_dropped_messages == 0
            assert snk.counters.dropped_messages == 0 and snk.counters.messages == 400
        finally:
            src.close()
    with pytest.raises(RadioError, match="policy"):
        ZmqIqSource(policy="sometimes")


def test_sink_flushes_before_its_process_exits():
    """A sender process that writes and exits at once: close() waits (up to linger_ms) for the
    queued messages, so the subscriber gets them all (with a shared context the end of the
    stream was lost about every other run)."""
    import subprocess
    import sys

    n = 48 << 19  # 3072 messages of 8192 samples
    script = (
        "import sys, numpy as np\n"
        "from orbitlink.drivers.zmq_iq import ZmqIqSink\n"
        "x = (np.arange(1 << 19) % 1000).astype(np.complex64)\n"
        "with ZmqIqSink('tcp://127.0.0.1:*', policy='block') as snk:\n"
        "    print(snk.address, flush=True)\n"
        "    assert snk.wait_for_subscriber(10)\n"
        f"    for _ in range({n} // len(x)):\n"
        "        snk.write(x)\n")
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        addr = p.stdout.readline().strip()
        src = ZmqIqSource(addr, policy="block", queue_samples=1 << 20)
        src.start()
        buf = np.empty(1 << 16, np.complex64)
        got, last = 0, None
        stall = time.monotonic() + 20
        try:
            while got < n and time.monotonic() < stall:
                r = src.read(buf, 0.1)
                if r.n:
                    assert r.sample_index == got
                    got += r.n
                    last = buf[r.n - 1]
                    stall = time.monotonic() + 5
        finally:
            src.close()
        assert got == n and last == ((1 << 19) - 1) % 1000
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
