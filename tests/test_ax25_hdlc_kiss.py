"""AX.25 (construct), HDLC framer/deframer, KISS and the KISS-over-TCP server.

Bit-exact against the direwolf / gr-satellites vectors copied into ``tests/data/vectors``
(``ax25_hdlc_kiss.json``), round trips of every format, robustness (hypothesis) of every parser
listed in the modules' ``FUZZ_TARGETS``, and a plain-socket client against the server.
"""

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orbitlink.framing import ax25, hdlc, kiss
from orbitlink.framing.errors import FrameParseError
from orbitlink.framing.kiss_server import KissServer
from orbitlink.modem.block import Pdu
from orbitlink.modem.fec.crc import fcs_x25
from orbitlink.modem.fec.line import nrzi_encode
from orbitlink.modem.fec.scramble import g3ruh_scramble

VECTORS = Path(__file__).resolve().parent / "data" / "vectors"
DATA = json.loads((VECTORS / "ax25_hdlc_kiss.json").read_text(encoding="utf-8"))
FRAMES = DATA["frames"]
IDS = [f["tnc2_text"].split(":")[0] for f in FRAMES]
STREAMS = {"hdlc_bits": {}, "nrzi_bits": {"nrzi": True},
           "g3ruh_bits": {"nrzi": True, "g3ruh": True}}
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _bits(s: str) -> np.ndarray:
    return np.frombuffer(s.encode(), np.uint8) - ord("0")


def _frame(f) -> bytes:
    return bytes.fromhex(f["frame_hex"])


# ================================================================================================
# AX.25


@pytest.mark.parametrize("f", FRAMES, ids=IDS)
def test_ax25_vector_parse_build_roundtrip(f):
    b = _frame(f)
    fr = ax25.parse(b)
    assert ax25.build(fr) == b
    assert len(ax25.build(fr)) == len(b)
    assert fr.tnc2() == f["tnc2_text"]
    assert fr.kind == "UI" and fr.frame_type == "U" and fr.pid == 0xF0
    assert fr.dest.reserved == 3 and fr.src.reserved == 3
    assert ax25.parse(ax25.build(fr)) == fr
    assert fcs_x25(b).hex() == f["fcs_bytes_as_sent_hex"]


def test_ax25_direwolf_c_bits_in_both_addresses():
    fr = ax25.parse(_frame(FRAMES[0]))
    assert fr.dest.c and fr.src.c  # E0 / E1: accepted, not a v2 command/response
    assert fr.command is None
    assert fr.digipeaters == (ax25.Ax25Address("WIDE1", 1, False, 3),)
    assert not fr.digipeaters[0].h
    b = ax25.build(fr)
    assert b[6] == 0xE0 and b[13] == 0xE2 and b[20] == 0x63  # C bits set in dest and src
    v2 = ax25.ui_frame("CQ", "N0CALL-1", b"x", ["WIDE1-1"])
    assert v2.command is True and ax25.parse(ax25.build(v2)).command is True
    dw = ax25.ui_frame("CQ", "N0CALL-1", b"Hello orbitlink", ["WIDE1-1"], direwolf_c_bits=True)
    assert ax25.build(dw) == _frame(FRAMES[0])


def test_ax25_construct_formats_size_and_roundtrip():
    assert ax25.SSID_OCTET.sizeof() == 1 and ax25.ADDRESS.sizeof() == 7
    o = ax25.SSID_OCTET.parse(b"\xe1")
    assert (o.c_h, o.reserved, o.ssid, o.extension) == (True, 3, 0, True)
    assert ax25.SSID_OCTET.build(o) == b"\xe1"
    a = ax25.ADDRESS.parse(_frame(FRAMES[0])[7:14])
    assert bytes(c >> 1 for c in a.callsign) == b"N0CALL" and a.ssid.ssid == 1
    assert ax25.ADDRESS.build(a) == _frame(FRAMES[0])[7:14]
    for f in FRAMES:
        b = _frame(f)
        c = ax25.AX25_FRAME.parse(b)
        assert ax25.AX25_FRAME.build(c) == b == ax25.AX25_FRAME_COMPILED.build(c)
        assert ax25.AX25_FRAME_COMPILED.parse(b) == c


def _addr(call, ssid=0, c=False):
    return ax25.Ax25Address(call, ssid, c)


@pytest.mark.parametrize("control,kind,pid,ns,nr,pf", [
    (0x00, "I", 0xF0, 0, 0, False), (0xB6, "I", 0xCF, 3, 5, True),
    (0x01, "RR", None, None, 0, False), (0xF5, "RNR", None, None, 7, True),
    (0x49, "REJ", None, None, 2, False), (0x0D, "SREJ", None, None, 0, False),
    (0x3F, "SABM", None, None, None, True), (0x6F, "SABME", None, None, None, False),
    (0x53, "DISC", None, None, None, True), (0x1F, "DM", None, None, None, True),
    (0x73, "UA", None, None, None, True), (0x87, "FRMR", None, None, None, False),
    (0x13, "UI", 0xF0, None, None, True), (0xAF, "XID", None, None, None, False),
    (0xE3, "TEST", None, None, None, False)])
def test_ax25_control_field_modulo8(control, kind, pid, ns, nr, pf):
    fr = ax25.Ax25Frame(_addr("OL1SAT", 0, True), _addr("GS0ABC", 7), (), control, pid,
                        b"payload" if kind in ("I", "UI", "FRMR", "XID", "TEST") else b"")
    b = ax25.build(fr)
    assert len(b) == 14 + 1 + (pid is not None) + len(fr.info)
    got = ax25.parse(b)
    assert got == fr and got.kind == kind
    assert (got.ns, got.nr, got.poll_final) == (ns, nr, pf)
    assert got.command is True


def test_ax25_eight_digipeaters_and_h_bits():
    digis = tuple(_addr(f"DIGI{i}", i, i < 3) for i in range(8))
    fr = ax25.Ax25Frame(_addr("APRS"), _addr("N0CALL", 1), digis, 0x03, 0xF0, b"!")
    b = ax25.build(fr)
    assert len(b) == 70 + 3
    got = ax25.parse(b)
    assert got == fr and [d.h for d in got.digipeaters] == [True] * 3 + [False] * 5
    assert got.tnc2().startswith("N0CALL-1>APRS,DIGI0*,DIGI1-1*,DIGI2-2*,DIGI3-3,")
    with pytest.raises(ax25.Ax25BuildError):
        ax25.build(ax25.Ax25Frame(fr.dest, fr.src, digis + (_addr("X"),), 3, 0xF0))
    # nine repeaters on the air: no extension bit within ten subfields
    nine = bytearray(b[:70]) + ax25.Ax25Address("NINE").encode(last=True) + b[70:]
    nine[69] &= 0xFE
    with pytest.raises(FrameParseError, match="digipeaters"):
        ax25.parse(bytes(nine))


@pytest.mark.parametrize("bad", [
    b"", b"\x86" * 14, bytes(14) + b"\x03",  # too short / no extension bit
    _frame(FRAMES[0])[:22],  # ends after the address field: no control field
    b"\x87" + _frame(FRAMES[0])[1:],  # extension bit in a callsign octet
    _frame(FRAMES[0])[:6] + b"\xe1" + _frame(FRAMES[0])[7:],  # no source subfield
    _frame(FRAMES[0])[:17],  # address field runs past the end
])
def test_ax25_garbage_raises_frame_parse_error(bad):
    with pytest.raises(FrameParseError):
        ax25.parse(bad)


def test_ax25_build_errors():
    ok = ax25.ui_frame("CQ", "N0CALL")
    for kw in ({"dest": _addr("TOOLONGX")}, {"src": _addr("N0CALL", 16)},
               {"src": ax25.Ax25Address("N0CALL", 1, False, 4)}, {"pid": None},
               {"control": 0x01}, {"control": 256}, {"dest": _addr("ÄÖ")}):
        import dataclasses
        with pytest.raises(ax25.Ax25BuildError):
            ax25.build(dataclasses.replace(ok, **kw))
    with pytest.raises(ax25.Ax25BuildError):
        ax25.Ax25Address.from_text("N0CALL-x")
    assert ax25.Ax25Address.from_text("wide2-1*") == ax25.Ax25Address("WIDE2", 1, True)


# ================================================================================================
# HDLC


@pytest.mark.parametrize("f", FRAMES, ids=IDS)
@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_hdlc_framer_bit_exact(f, stream):
    ref = _bits(f[stream])
    assert np.array_equal(hdlc.hdlc_frame(_frame(f), **STREAMS[stream]), ref)
    if stream == "hdlc_bits":
        assert int(ref.size) == 16 + 8 * (len(_frame(f)) + 2) + f["n_stuffed_bits"]
        body = hdlc.stuff_bits(_bits(f["unstuffed_bits_lsb_first"]))
        assert np.array_equal(body, ref[8:-8])


@pytest.mark.parametrize("f", FRAMES, ids=IDS)
@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_hdlc_deframer_recovers_vectors(f, stream):
    pdus = hdlc.hdlc_deframe(_bits(f[stream]), **STREAMS[stream])
    assert pdus == [Pdu(_frame(f), {"sample_index": 0, "fcs_ok": True})]
    assert ax25.parse(pdus[0].data).tnc2() == f["tnc2_text"]


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_hdlc_deframer_random_bits_around_and_chunks(stream):
    """All four frames between random bits, through the channel coding, in random chunks."""
    rng = np.random.default_rng(7)
    parts, starts, pos = [], [], 0
    for f in FRAMES:
        noise = rng.integers(0, 2, int(rng.integers(50, 400))).astype(np.uint8)
        parts += [noise, _bits(f["hdlc_bits"])]
        starts.append(pos + len(noise))
        pos += len(noise) + len(f["hdlc_bits"])
    parts.append(rng.integers(0, 2, 300).astype(np.uint8))
    x = np.concatenate(parts)
    kw = STREAMS[stream]
    if kw.get("nrzi"):
        x = nrzi_encode(x)
    if kw.get("g3ruh"):
        x = g3ruh_scramble(x)
    want = [Pdu(_frame(f), {"sample_index": s, "fcs_ok": True}) for f, s in zip(FRAMES, starts)]
    assert hdlc.hdlc_deframe(x, **kw) == want
    d = hdlc.HdlcDeframer(**kw)
    got, i = [], 0
    for n in rng.integers(0, 97, 10000):
        got += d.process(x[i:i + n])
        i += n
        if i >= len(x):
            break
    got += d.process(x[i:]) + d.flush()
    assert got == want


def test_hdlc_deframer_bad_fcs_abort_and_lengths():
    f = _frame(FRAMES[1])
    good = hdlc.hdlc_frame(f)
    bad = good.copy()
    bad[100] ^= 1
    x = np.concatenate([bad, good])
    d = hdlc.HdlcDeframer()
    assert [p.data for p in d.run(x)] == [f]
    assert d.stats == {"frames": 2, "fcs_errors": 1}
    both = hdlc.hdlc_deframe(x, emit_bad_fcs=True)
    assert [p.meta["fcs_ok"] for p in both] == [False, True]
    assert both[1].meta["sample_index"] == len(bad)
    # an abort (seven 1s) in the middle kills the frame
    ab = np.concatenate([good[:120], np.ones(8, np.uint8), good[120:]])
    assert hdlc.hdlc_deframe(ab, emit_bad_fcs=True) == []
    # length limits, FCS excluded
    assert hdlc.hdlc_deframe(good, max_length=len(f) - 1) == []
    assert len(hdlc.hdlc_deframe(good, max_length=len(f))) == 1
    assert hdlc.hdlc_deframe(good, min_length=len(f) + 1) == []
    # back-to-back frames sharing flags, many preamble flags
    many = hdlc.hdlc_frame([f, f, f], preamble_flags=20, postamble_flags=3)
    assert [p.data for p in hdlc.hdlc_deframe(many)] == [f, f, f]


def test_stuff_bits_matches_reference():
    rng = np.random.default_rng(3)
    for _ in range(50):
        b = (rng.random(int(rng.integers(0, 300))) < 0.8).astype(np.uint8)
        ref, ones = [], 0
        for v in b:
            ref.append(v)
            ones = ones + 1 if v else 0
            if ones == 5:
                ref.append(0)
                ones = 0
        assert hdlc.stuff_bits(b).tolist() == ref


def test_hdlc_framer_deframer_loopback_stream_state():
    rng = np.random.default_rng(11)
    frames = [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in (15, 200, 17, 99)]
    tx = hdlc.HdlcFramer(preamble_flags=4, nrzi=True, g3ruh=True)
    x = np.concatenate([tx.process([Pdu(fr)]) for fr in frames] + [tx.flush()])
    assert [p.data for p in hdlc.hdlc_deframe(x, nrzi=True, g3ruh=True)] == frames


# ================================================================================================
# KISS


@pytest.mark.parametrize("f", FRAMES, ids=IDS)
def test_kiss_vectors(f):
    b, k = _frame(f), bytes.fromhex(f["kiss_hex"])
    assert kiss.encode(b) == k
    assert kiss.decode(k) == kiss.KissFrame(0, 0, b)
    assert kiss.unescape(kiss.escape(b)) == b


def test_kiss_streaming_split_everywhere():
    stream = b"junk" + b"".join(bytes.fromhex(f["kiss_hex"]) for f in FRAMES) + b"\xc0\xc0"
    want = [_frame(f) for f in FRAMES]
    for cut in range(len(stream) + 1):
        d = kiss.KissDecoder()
        got = d.feed(stream[:cut]) + d.feed(stream[cut:])
        assert [g.data for g in got] == want
    d = kiss.KissDecoder()
    assert [g.data for i in range(len(stream)) for g in d.feed(stream[i:i + 1])] == want


def test_kiss_ports_commands_and_malformed():
    k = kiss.encode(b"\x05", port=3, command=1)
    assert k == b"\xc0\x31\x05\xc0" and kiss.decode(k) == kiss.KissFrame(3, 1, b"\x05")
    d = kiss.KissDecoder(max_frame=50)
    out = d.feed(b"\xc0\x00\xdb\x41\xc0" + b"\xc0\xdb\xdc\xc0" + b"\xc0\x00" + b"A" * 60 +
                 b"\xc0" + kiss.encode(b"ok"))
    assert [o.data for o in out] == [b"ok"]
    assert (d.errors, d.overflows) == (2, 1)
    for bad in (b"", b"\xc0\xc0", b"\xc0\x00a\xc0\xc0\x00b\xc0", b"\xc0\x00\xdb\xc0",
                b"\xc0\x00ab\xdb"):
        with pytest.raises(FrameParseError):
            kiss.decode(bad)
    with pytest.raises(ValueError):
        kiss.encode(b"", port=16)


def test_kiss_file_roundtrip(tmp_path):
    p = tmp_path / "frames.kiss"
    kiss.write_kiss_file(p, [_frame(f) for f in FRAMES])
    assert p.read_bytes() == b"".join(bytes.fromhex(f["kiss_hex"]) for f in FRAMES)
    assert kiss.read_kiss_file(p) == [_frame(f) for f in FRAMES]
    assert len(kiss.read_kiss_file(p, data_only=False)) == 4


# ================================================================================================
# robustness: every FUZZ_TARGETS parser raises FrameParseError or nothing, and terminates


ALL_TARGETS = {**ax25.FUZZ_TARGETS, **kiss.FUZZ_TARGETS, **hdlc.FUZZ_TARGETS}


def _only_frame_parse_error(fn, data):
    try:
        fn(data)
    except FrameParseError:
        pass


def test_fuzz_targets_exposed():
    assert set(ALL_TARGETS) >= {"ax25", "kiss", "kiss_stream", "hdlc_deframer"}
    assert all(callable(v) for v in ALL_TARGETS.values())


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data):
    for fn in ALL_TARGETS.values():
        _only_frame_parse_error(fn, data)


_SEEDS = [_frame(f) for f in FRAMES] + [bytes.fromhex(f["kiss_hex"]) for f in FRAMES]


@FUZZ
@given(st.sampled_from(_SEEDS), st.integers(0, 400), st.lists(st.integers(0, 8 * 80), max_size=6))
def test_fuzz_truncations_and_bit_flips(seed, cut, flips):
    b = bytearray(seed[:cut])
    for k in flips:
        if k // 8 < len(b):
            b[k // 8] ^= 1 << (k % 8)
    for fn in ALL_TARGETS.values():
        _only_frame_parse_error(fn, bytes(b))
    try:
        fr = ax25.parse(bytes(b))
    except FrameParseError:
        return
    assert ax25.build(fr) == bytes(b)  # whatever parses, builds back identically


@FUZZ
@given(st.sampled_from(FRAMES), st.sampled_from(sorted(STREAMS)),
       st.lists(st.integers(0, 2000), max_size=5), st.integers(0, 2000))
def test_fuzz_deframer_bit_flips_and_truncation(f, stream, flips, cut):
    x = _bits(f[stream]).copy()
    for k in flips:
        if k < len(x):
            x[k] ^= 1
    pdus = hdlc.hdlc_deframe(x[:cut], emit_bad_fcs=True, min_length=1, **STREAMS[stream])
    for p in pdus:
        assert isinstance(p.data, bytes)
        if p.meta["fcs_ok"] and not flips and cut >= len(x):
            assert p.data == _frame(f)


# ================================================================================================
# KISS over TCP


def _recv_frames(sock, n, timeout=3.0):
    d, out, end = kiss.KissDecoder(), [], time.monotonic() + timeout
    sock.settimeout(0.2)
    while len(out) < n and time.monotonic() < end:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            break
        out += d.feed(chunk)
    return out


def _wait(cond, timeout=3.0):
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.01)
    return cond()


def test_kiss_server_broadcast_and_tx_queue():
    with KissServer(port=0, tx_queue_size=2) as srv:
        assert srv.address[0] == "127.0.0.1" and srv.address[1] > 0
        a = socket.create_connection(srv.address, timeout=3)
        b = socket.create_connection(srv.address, timeout=3)
        assert _wait(lambda: srv.n_clients == 2)
        for f in FRAMES:
            assert srv.broadcast(Pdu(_frame(f), {"fcs_ok": True}))
        for c in (a, b):
            assert [k.data for k in _recv_frames(c, 4)] == [_frame(f) for f in FRAMES]
        # client -> tx queue, split across writes; malformed input counted and dropped
        k = bytes.fromhex(FRAMES[3]["kiss_hex"])
        a.sendall(k[:10])
        time.sleep(0.05)
        a.sendall(k[10:] + b"\xc0\x00\xdb\x00\xc0" + kiss.encode(b"not ax25") +
                  kiss.encode(b"\x01", command=1))
        got = srv.tx_queue.get(timeout=3)
        assert got.data == _frame(FRAMES[3]) and got.meta["port"] == 0
        assert _wait(lambda: srv.stats["malformed"] == 2 and srv.stats["commands"] == 1)
        # bounded tx queue: the third frame of three is dropped while nobody drains
        b.sendall(k * 3)
        assert _wait(lambda: srv.stats["tx_dropped"] == 1)
        assert srv.tx_queue.qsize() == 2
        # a client disconnecting is handled; the other still gets frames
        a.close()
        assert _wait(lambda: srv.n_clients == 1)
        srv.broadcast(_frame(FRAMES[0]))
        assert [x.data for x in _recv_frames(b, 1)] == [_frame(FRAMES[0])]
        b.close()
    assert srv._thread is None and srv._listener is None


def test_kiss_server_max_clients_and_garbage():
    with KissServer(port=0, max_clients=1, max_frame=64) as srv:
        a = socket.create_connection(srv.address, timeout=3)
        assert _wait(lambda: srv.n_clients == 1)
        b = socket.create_connection(srv.address, timeout=3)
        assert _wait(lambda: srv.stats["rejected"] == 1)
        b.settimeout(3)
        assert b.recv(10) == b""  # closed by the server
        rng = np.random.default_rng(5)
        a.sendall(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
        a.sendall(b"\xc0" + bytes.fromhex(FRAMES[0]["kiss_hex"]))
        assert srv.tx_queue.get(timeout=3).data == _frame(FRAMES[0])
        assert srv.stats["oversize"] + srv.stats["malformed"] > 0
        a.close()
        b.close()


@pytest.mark.interop
def test_kiss_server_with_direwolf_kissutil(tmp_path):
    """direwolf's kissutil sends a frame to our server and prints the frames we broadcast."""
    exe = shutil.which("kissutil")
    if exe is None:
        pytest.skip("direwolf kissutil is not installed")
    xmit = tmp_path / "xmit"
    xmit.mkdir()
    with KissServer(port=0) as srv:
        proc = subprocess.Popen([exe, "-h", "127.0.0.1", "-p", str(srv.address[1]),
                                 "-f", str(xmit)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            assert _wait(lambda: srv.n_clients == 1, 10)
            (xmit / "a.txt").write_text("N0CALL-1>CQ,WIDE1-1:Hello orbitlink\n")
            got = srv.tx_queue.get(timeout=10)
            fr = ax25.parse(got.data)
            assert fr.tnc2() == "N0CALL-1>CQ,WIDE1-1:Hello orbitlink"
            srv.broadcast(_frame(FRAMES[1]))
            time.sleep(1.0)
        finally:
            proc.terminate()
            out = proc.communicate(timeout=10)[0].decode(errors="replace")
    assert FRAMES[1]["tnc2_text"] in out, out
