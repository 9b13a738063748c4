"""The station's graph sinks (flowgraphs/station_sinks.py): frames on the bus, to GNU Radio as
PMT PDUs, to KISS-over-TCP clients. Loopback only; every wait is bounded.

The bus is checked by a subscriber that uses only pyzmq and struct (what a client in any
language does), against what ``orbitlink decode --json`` prints for the same recording.
"""

import json
import socket
import struct
import threading
import time

import numpy as np
import pytest
import zmq

from orbitlink.flowgraphs.cli import main

HEADER = struct.Struct("<4sBBHQqd")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _encode(tmp_path, link, n=3, seed=5, out="x.sigmf-meta"):
    from orbitlink.flowgraphs.links import load_link, random_payloads

    pays = random_payloads(load_link(link), np.random.default_rng(seed), n)
    src = tmp_path / f"{link}-payloads.txt"
    src.write_text("".join(p.hex() + "\n" for p in pays))
    assert main(["encode", "--link", link, "--in", str(src), "--out",
                 str(tmp_path / out)]) == 0
    return tmp_path / out, pays


def _decode_json(rec, link, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["decode", str(rec), "--link", link, "--json"]) == 0
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _run(rec, link, sinks):
    from orbitlink.drivers.files import RecordingSource
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.links import load_link
    from orbitlink.flowgraphs.runner import run_graph

    ln = load_link(link)
    g = link_graph(ln, "rx", ln.samp_rate, "iq", source=RecordingSource(path=str(rec)),
                   sinks=sinks)
    return run_graph(g)


def _receive(sub, until, timeout=10.0) -> list:
    """Multipart messages from ``sub`` until ``until(parts)`` is true (bounded)."""
    got = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if sub.poll(100):
            parts = sub.recv_multipart()
            got.append(parts)
            if until(parts):
                return got
    raise AssertionError(f"timed out after {len(got)} messages")


def _is_stop(parts):
    return parts[0].endswith(b"/events") and json.loads(parts[2]).get("event") == "stop"


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


def _sub(ctx, endpoint):
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(endpoint)
    return s


# --------------------------------------------------------------------------------------------
# bus_sink


@pytest.mark.parametrize("link", ["qpsk", "ax25-afsk1200"])
def test_bus_sink_publishes_every_frame_as_decode_prints_it(tmp_path, capsys, ctx, link):
    from orbitlink.flowgraphs.station_sinks import BusSink

    rec, pays = _encode(tmp_path, link, n=4)
    want = _decode_json(rec, link, capsys)
    assert len(want) == 4
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    sub = _sub(ctx, endpoint)  # connects before the sink binds: reconnects when it does
    sink = BusSink(endpoint=endpoint, station="gs1", link=link, nodrop=True,
                   stats_interval_s=0.0, wait_subscribers=5.0)
    t0 = time.time()
    _run(rec, link, [sink])
    msgs = _receive(sub, _is_stop)
    by_topic: dict[bytes, list] = {}
    for topic, header, meta, payload in msgs:
        magic, version, kind, flags, seq, si, t = HEADER.unpack(header)
        assert (magic, version, flags) == (b"OLNK", 1, 0)
        by_topic.setdefault(topic, []).append((kind, seq, si, t, json.loads(meta), payload))
    assert set(by_topic) == {f"gs1/{link}/{k}".encode() for k in ("frames", "stats", "events")}
    for topic, ms in by_topic.items():  # per topic, from 0, no gaps
        assert [m[1] for m in ms] == list(range(len(ms))), topic
    frames = by_topic[f"gs1/{link}/frames".encode()]
    assert len(frames) == len(want)
    for (kind, seq, si, t, meta, payload), w in zip(frames, want):
        assert kind == 1
        assert meta == w
        assert payload == bytes.fromhex(w["hex"])
        assert si == w["sample_index"]
        if "time_utc" not in w:  # no recording time: the wall clock
            assert t0 - 1 <= t <= time.time() + 1
    assert sorted(bytes.fromhex(w["hex"]) for w in want) == sorted(pays)
    events = by_topic[f"gs1/{link}/events".encode()]
    assert [e[0] for e in events] == [3, 3]
    assert [e[4]["event"] for e in events] == ["start", "stop"]
    stop = events[-1][4]
    assert stop["frames"] == 4 and stop["frames_ok"] == 4 and stop["dropped"] == 0
    stats = by_topic[f"gs1/{link}/stats".encode()]
    assert stats and all(s[0] == 2 and s[5] == b"" for s in stats)
    assert {"frames", "frames_ok", "sent", "dropped"} <= set(stats[-1][4])
    assert sink.counters["frames"] == 4 and sink.counters["dropped"] == 0
    assert sink.counters["sent"] == len(msgs)
    sub.close()


def test_bus_sink_time_is_the_recording_time_plus_time_s(tmp_path, capsys, ctx):
    import calendar
    import datetime as dt

    from orbitlink.flowgraphs.station_sinks import BusSink

    rec, _ = _encode(tmp_path, "qpsk", n=2)
    meta = json.loads(rec.read_text())  # a recording that knows when it started
    meta["captures"][0]["core:datetime"] = "2026-03-01T12:34:56.250000Z"
    rec.write_text(json.dumps(meta))
    want = _decode_json(rec, "qpsk", capsys)
    assert len(want) == 2 and all("time_utc" in w for w in want)
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    sub = _sub(ctx, endpoint)
    _run(rec, "qpsk", [BusSink(endpoint=endpoint, nodrop=True, wait_subscribers=5.0)])
    frames = [m for m in _receive(sub, _is_stop) if m[0].endswith(b"/frames")]
    assert [json.loads(m[2]) for m in frames] == want
    start = calendar.timegm(dt.datetime(2026, 3, 1, 12, 34, 56).timetuple()) + 0.25
    for m, w in zip(frames, want):
        t = HEADER.unpack(m[1])[6]
        d = dt.datetime.strptime(w["time_utc"], "%Y-%m-%dT%H:%M:%S.%fZ")
        assert t == pytest.approx(calendar.timegm(d.timetuple()) + d.microsecond * 1e-6,
                                  abs=1e-5)
        assert t == pytest.approx(start + w["time_s"], abs=1e-6)
    sub.close()


def test_bus_sink_stats_are_rate_limited(tmp_path):
    from orbitlink.flowgraphs.station_sinks import BusSink
    from orbitlink.drivers.interfaces import StreamInfo

    s = BusSink(endpoint="tcp://127.0.0.1:*", stats_interval_s=3600.0)
    s.open(StreamInfo(samp_rate=1.0, out_type="c64"))
    try:
        for _ in range(50):
            s.write([])
        assert s.publisher.next_seq(b"station/link/stats") == 0
        assert s.publisher.next_seq(b"station/link/events") == 1  # start
    finally:
        s.close()
    s.close()  # twice: nothing more
    assert s.counters["sent"] == 2


def test_bus_sink_wait_needs_nodrop_and_refuses_a_remote_address():
    from orbitlink import OrbitlinkError
    from orbitlink.drivers.interfaces import StreamInfo
    from orbitlink.flowgraphs.station_sinks import BusSink

    info = StreamInfo(samp_rate=1.0, out_type="c64")
    with pytest.raises(OrbitlinkError, match="nodrop"):
        BusSink(endpoint="tcp://127.0.0.1:*", wait_subscribers=1.0).open(info)
    with pytest.raises(OrbitlinkError, match="loopback"):
        BusSink(endpoint="tcp://0.0.0.0:*").open(info)


# --------------------------------------------------------------------------------------------
# gr_pdu_sink


def test_gr_pdu_sink_sends_each_frame_as_a_pmt_pdu(tmp_path, capsys, ctx):
    from orbitlink.flowgraphs.bus import pdu_bytes
    from orbitlink.flowgraphs.station_sinks import GrPduSink

    rec, _ = _encode(tmp_path, "qpsk", n=3)
    want = _decode_json(rec, "qpsk", capsys)
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    sub = _sub(ctx, endpoint)
    sink = GrPduSink(endpoint=endpoint, nodrop=True, wait_subscribers=5.0)
    _run(rec, "qpsk", [sink])
    got = []
    end = time.monotonic() + 10
    while len(got) < len(want) and time.monotonic() < end:
        if sub.poll(100):
            got.append(sub.recv_multipart())
    assert all(len(m) == 1 for m in got)  # single-part, no topic
    assert [m[0] for m in got] == [pdu_bytes(w, bytes.fromhex(w["hex"])) for w in want]
    assert sink.counters == {"frames": 3, "sent": 3, "dropped": 0}
    sub.close()


# --------------------------------------------------------------------------------------------
# kiss_server_sink


def test_kiss_server_sink_serves_the_good_frames(tmp_path, capsys):
    from orbitlink.framing.kiss import KissDecoder
    from orbitlink.flowgraphs.station_sinks import KissServerSink

    link = "ax25-afsk1200"
    rec, pays = _encode(tmp_path, link, n=3)
    want = _decode_json(rec, link, capsys)
    good = [bytes.fromhex(w["hex"]) for w in want if w["crc_ok"]]
    assert len(good) == 3
    port = _free_port()
    sink = KissServerSink(port=port, wait_clients=5.0, idle_timeout=30.0)
    received = []

    def client():
        dec = KissDecoder()
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                c = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                time.sleep(0.02)
        else:
            return
        with c:
            c.settimeout(0.2)
            while len(received) < len(good) and time.monotonic() < end:
                try:
                    data = c.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                received.extend(f.data for f in dec.feed(data) if f.is_data)

    th = threading.Thread(target=client, daemon=True)
    th.start()
    _run(rec, link, [sink])
    th.join(12)
    assert received == good
    assert sink.counters["frames"] == 3 and sink.counters["rx_frames"] == 3
    assert sink.server is None  # stopped on close
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))


# --------------------------------------------------------------------------------------------
# graph files


def test_a_graph_file_naming_bus_sink_validates_and_runs(tmp_path, capsys, ctx):
    import yaml

    rec, _ = _encode(tmp_path, "qpsk", n=2)
    want = _decode_json(rec, "qpsk", capsys)
    g = tmp_path / "g.yaml"
    assert main(["expand", "--link", "qpsk", "--medium", "iq", "-o", str(g)]) == 0
    doc = yaml.safe_load(g.read_text())
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    doc["blocks"]["bus"] = {"type": "bus_sink",
                            "params": {"endpoint": endpoint, "station": "gs", "link": "qpsk",
                                       "nodrop": True, "wait_subscribers": 5.0}}
    doc["connections"].append("frame_meta -> bus")
    g.write_text(yaml.safe_dump(doc, sort_keys=False))
    capsys.readouterr()
    assert main(["validate", str(g)]) == 0
    assert "is valid" in capsys.readouterr().out
    sub = _sub(ctx, endpoint)
    assert main(["run", str(g), "--input", str(rec), "--json"]) == 0
    printed = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    assert printed == want
    frames = [json.loads(m[2]) for m in _receive(sub, _is_stop) if m[0] == b"gs/qpsk/frames"]
    assert frames == want
    sub.close()


def test_a_bad_bus_sink_param_is_named_by_validate(tmp_path, capsys):
    import yaml

    g = tmp_path / "g.yaml"
    assert main(["expand", "--link", "qpsk", "--medium", "iq", "-o", str(g)]) == 0
    doc = yaml.safe_load(g.read_text())
    doc["blocks"]["bus"] = {"type": "bus_sink", "params": {"stats_interval_s": -1.0}}
    doc["connections"].append("frame_meta -> bus")
    g.write_text(yaml.safe_dump(doc, sort_keys=False))
    capsys.readouterr()
    assert main(["validate", str(g)]) == 2
    assert "blocks.bus.params.stats_interval_s" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# orbitlink keys


def test_keys_makes_a_pair_the_transmit_socket_accepts(tmp_path, capsys):
    import os
    import stat

    import zmq.auth

    from orbitlink.flowgraphs.bus import TxEndpoint
    from orbitlink.flowgraphs.cli_keys import main as keys_main

    d = tmp_path / "keys"
    assert keys_main(["keys", str(d), "--name", "server"]) == 0
    out = capsys.readouterr().out
    assert str(d / "server.key") in out and str(d / "server.key_secret") in out
    assert stat.S_IMODE(os.stat(d / "server.key_secret").st_mode) == 0o600
    public, secret = zmq.auth.load_certificate(str(d / "server.key_secret"))
    assert len(public) == 40 and len(secret) == 40 and public.decode() in out
    pub_only, none = zmq.auth.load_certificate(str(d / "server.key"))
    assert pub_only == public and none is None
    assert keys_main(["keys", str(tmp_path / "clients")]) == 0  # default name orbitlink
    assert (tmp_path / "clients" / "orbitlink.key").exists()
    capsys.readouterr()
    # the pair works: a CURVE transmit socket with the client's public key authorised
    ep = TxEndpoint("tcp://127.0.0.1:*", curve=True, server_keys=str(d / "server.key_secret"),
                    authorized_keys=str(tmp_path / "clients"))
    try:
        assert ep.public_key == public.decode()
    finally:
        ep.close()


def test_keys_refuses_to_overwrite_and_bad_names(tmp_path, capsys):
    from orbitlink.flowgraphs.cli_keys import main as keys_main

    assert keys_main(["keys", str(tmp_path)]) == 0
    first = (tmp_path / "orbitlink.key_secret").read_text()
    capsys.readouterr()
    assert keys_main(["keys", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and err.count("\n") == 1
    assert (tmp_path / "orbitlink.key_secret").read_text() == first
    assert keys_main(["keys", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "orbitlink.key_secret").read_text() != first
    capsys.readouterr()
    assert keys_main(["keys", str(tmp_path), "--name", "../x"]) == 2
    assert "key name" in capsys.readouterr().err
    f = tmp_path / "file"
    f.write_text("")
    assert keys_main(["keys", str(f)]) == 2
    assert "not a directory" in capsys.readouterr().err
