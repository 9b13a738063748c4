"""CCSDS frame formats: Space Packet (133.0-B-2), TM frame (132.0-B-3), TC frame (232.0-B-4),
CLTU (231.0-B-4). Round trips (parse, build, size), packet extraction across TM frames, CLTU
error correction, and property tests: any bytes into any parser raise only FrameParseError.

The property tests run few examples by default; set ``ORBITLINK_FUZZ_EXAMPLES`` for more.
"""

import os
import signal
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orbitlink.framing import ccsds_tc as tc
from orbitlink.framing import ccsds_tm as tm
from orbitlink.framing import cltu
from orbitlink.framing import space_packet as sp
from orbitlink.framing.errors import FrameParseError
from orbitlink.modem.block import ParamError, Pdu
from orbitlink.modem.fec.crc import crc16_ccitt

FUZZ = settings(max_examples=int(os.environ.get("ORBITLINK_FUZZ_EXAMPLES", 40)), deadline=None)
MODULES = (sp, tm, tc, cltu)


def _packets(rng, n, lo=1, hi=3000, apids=None):
    out = []
    for i in range(n):
        apid = int(rng.integers(0, 0x7FF)) if apids is None else int(rng.choice(apids))
        data = rng.integers(0, 256, int(rng.integers(lo, hi))).astype(np.uint8).tobytes()
        out.append(sp.build(apid, data, sequence_count=i))
    return out


def _demux(frames, **kw):
    d = tm.TmFrameDemux(**kw)
    out = d.run([Pdu(f, {"sample_index": 100 * i}) for i, f in enumerate(frames)])
    return out, d.stats


# ------------------------------------------------------------------------------------------------
# Space Packet


def test_space_packet_round_trip():
    p = sp.build(0x123, b"abcdef", sequence_count=0x3FFF, packet_type=1,
                 secondary_header_flag=True, sequence_flags=sp.SEQ_FIRST)
    assert len(p) == sp.size(6) == 12
    assert p[:6] == bytes.fromhex("1923 7FFF 0005")
    c = sp.parse(p)
    h = c.primary_header
    assert (h.packet_version_number, h.packet_type, h.secondary_header_flag,
            h.application_process_identifier, h.sequence_flags, h.packet_sequence_count,
            h.packet_data_length) == (0, 1, True, 0x123, 1, 0x3FFF, 5)
    assert c.packet_data_field == b"abcdef"
    assert sp.SpacePacket.build(c) == p
    assert sp.header_fields(p) == (0, 1, 0x123, 1, 0x3FFF)
    assert sp.packet_length(p) == 12


def test_idle_packet():
    p = sp.idle_packet(20)
    assert len(p) == 20
    assert sp.parse(p).primary_header.application_process_identifier == sp.IDLE_APID
    with pytest.raises(ValueError):
        sp.idle_packet(6)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 5, bytes.fromhex("0000 C000 0001") + b"x",
                                 bytes.fromhex("E000 C000 0000") + b"x",
                                 bytes.fromhex("0000 C000 0000") + b"xy"])
def test_space_packet_rejects(bad):
    with pytest.raises(FrameParseError):
        sp.parse(bad)


# ------------------------------------------------------------------------------------------------
# TM Transfer Frame


def test_fecf_is_crc16_ccitt():
    for data in (b"", b"123456789", bytes(range(256)) * 5):
        assert tm.fecf_of(data) == crc16_ccitt(data)


@pytest.mark.parametrize("ocf", [None, b"\x01\x02\x03\x04"])
@pytest.mark.parametrize("fecf", [True, False])
@pytest.mark.parametrize("sec", [None, b"\xAA\xBB\xCC"])
def test_tm_frame_round_trip(ocf, fecf, sec):
    n = 64
    dlen = tm.data_field_length(n, ocf=ocf is not None, fecf=fecf,
                                secondary_header_len=0 if sec is None else 1 + len(sec))
    data = bytes(range(dlen))
    f = tm.build(data, n, scid=0x2AB, vcid=5, mc_count=17, vc_count=200,
                 first_header_pointer=0x7FF, ocf=ocf, fecf=fecf, secondary_header=sec)
    assert len(f) == tm.size(n) == n
    c = tm.parse(f, n, fecf=fecf)
    h = c.transfer_frame_primary_header
    assert (h.transfer_frame_version_number, h.spacecraft_identifier,
            h.virtual_channel_identifier, h.operational_control_field_flag,
            h.master_channel_frame_count, h.virtual_channel_frame_count,
            h.transfer_frame_secondary_header_flag, h.synchronization_flag,
            h.packet_order_flag, h.segment_length_identifier, h.first_header_pointer) == \
        (0, 0x2AB, 5, ocf is not None, 17, 200, sec is not None, False, False, 3, 0x7FF)
    assert c.transfer_frame_data_field == data
    assert c.operational_control_field == ocf
    if sec is not None:
        s = c.transfer_frame_secondary_header
        assert s.transfer_frame_secondary_header_data_field == sec
        assert s.transfer_frame_secondary_header_identification \
            .transfer_frame_secondary_header_length == len(sec)
    assert (c.frame_error_control_field is not None) == fecf
    # construct builds the same bytes back
    assert tm.TmTransferFrame.build(c, frame_len=n, fecf=fecf) == f


def test_tm_header_bits():
    f = tm.build(b"\x00" * 10, scid=0x3FF, vcid=7, mc_count=1, vc_count=2,
                 first_header_pointer=0x7FE, fecf=False)
    assert f[:6] == bytes.fromhex("3FFE 01 02 1FFE")


def test_tm_frame_rejects():
    f = tm.build(bytes(56), 64, fecf=True, first_header_pointer=0)
    tm.parse(f, 64)
    with pytest.raises(FrameParseError, match="FECF"):
        tm.parse(f[:-1] + bytes([f[-1] ^ 1]), 64)
    with pytest.raises(FrameParseError, match="octets"):
        tm.parse(f, 65)
    with pytest.raises(FrameParseError, match="OCF"):
        tm.parse(f, 64, ocf=True)
    with pytest.raises(FrameParseError):
        tm.parse(bytes([0x40]) + f[1:], 64, check_fecf=False)  # version 1


# ------------------------------------------------------------------------------------------------
# Packets across TM frames


@pytest.mark.parametrize("frame_len", [1115, 223, 64])
def test_packets_in_equal_packets_out(frame_len):
    rng = np.random.default_rng(frame_len)
    pkts = _packets(rng, 40, hi=2 * frame_len)
    frames = tm_frames = sp.packets_to_frames(pkts, frame_len, scid=42, vcid=3)
    assert all(len(f) == frame_len for f in frames)
    # some packets span frames, some frames hold several packets
    fhps = [tm.parse(f).transfer_frame_primary_header.first_header_pointer for f in tm_frames]
    assert 0x7FF in fhps or frame_len == 1115
    out, stats = _demux(frames, frame_len=frame_len)
    assert [p.data for p in out] == pkts
    assert stats["idle_packets"] == 1 and stats["gaps"] == 0
    assert [p.meta["sequence_count"] for p in out] == list(range(40))
    assert all(p.meta["vcid"] == 3 and p.meta["scid"] == 42 for p in out)
    # meta: the frame where the packet starts
    dlen = tm.data_field_length(frame_len)
    starts = np.cumsum([0] + [len(p) for p in pkts])[:-1]
    assert [p.meta["sample_index"] for p in out] == [100 * int(s // dlen) for s in starts]


def test_idle_fill_exact_and_short():
    dlen = tm.data_field_length(64)
    for total in (dlen, 2 * dlen - 3, 2 * dlen - 7, 2 * dlen - 8):
        pkt = sp.build(5, bytes(total - 6))
        frames = sp.packets_to_frames([pkt], 64)
        out, stats = _demux(frames, frame_len=64)
        assert [p.data for p in out] == [pkt]
        assert stats["idle_packets"] == (len(frames) * dlen > total)


def test_dropped_frame_loses_only_affected_packets():
    rng = np.random.default_rng(7)
    n = 223
    dlen = tm.data_field_length(n)
    pkts = _packets(rng, 60, hi=400)
    frames = sp.packets_to_frames(pkts, n, vcid=1)
    starts = np.cumsum([0] + [len(p) for p in pkts])
    for k in (0, 3, 10, len(frames) // 2):
        lo, hi = k * dlen, (k + 1) * dlen
        expect = [p for i, p in enumerate(pkts) if starts[i + 1] <= lo or starts[i] >= hi]
        out, stats = _demux(frames[:k] + frames[k + 1:], frame_len=n)
        assert [p.data for p in out] == expect
        assert stats["gaps"] == (k > 0)
        # the same with the frame corrupted instead of missing (FECF catches it)
        bad = bytearray(frames[k])
        bad[20] ^= 0x10
        out2, stats2 = _demux(frames[:k] + [bytes(bad)] + frames[k + 1:], frame_len=n)
        assert [p.data for p in out2] == expect and stats2["fecf_errors"] == 1


def test_demux_virtual_channels_idle_frames_and_filters():
    rng = np.random.default_rng(3)
    a = _packets(rng, 10, hi=150)
    b = _packets(rng, 10, hi=150)
    fa = sp.packets_to_frames(a, 128, scid=9, vcid=1)
    fb = sp.packets_to_frames(b, 128, scid=9, vcid=2, ocf=b"OCF!")
    idle = tm.build(bytes(tm.data_field_length(128)), 128, scid=9, vcid=7,
                    first_header_pointer=tm.FHP_IDLE)
    other_sc = sp.packets_to_frames(a[:2], 128, scid=10, vcid=1)
    mixed = []
    for i in range(max(len(fa), len(fb))):
        mixed += fa[i:i + 1] + [idle] + fb[i:i + 1]
    out, stats = _demux(mixed, frame_len=128)
    assert [p.data for p in out if p.meta["vcid"] == 1] == a
    assert [p.data for p in out if p.meta["vcid"] == 2] == b
    assert stats["idle_frames"] == max(len(fa), len(fb))
    out, stats = _demux(mixed, frame_len=128, vcids=(2,))
    assert [p.data for p in out] == b and stats["other_vc"] > 0
    out, stats = _demux(other_sc + fa, frame_len=128, scid=9)
    assert [p.data for p in out] == a and stats["other_scid"] == len(other_sc)
    with pytest.raises(ParamError):
        tm.TmFrameDemux(vcids=(8,))


def test_demux_keeps_idle_packets_when_asked_and_rejects_bad_frames():
    pkts = [sp.build(1, b"x" * 10)]
    frames = sp.packets_to_frames(pkts, 64)
    out, _ = _demux(frames, frame_len=64, drop_idle=False)
    assert out[0].data == pkts[0] and out[1].meta["apid"] == sp.IDLE_APID
    out, stats = _demux([frames[0][:-1]], frame_len=64)
    assert out == [] and stats["bad_frames"] == 1
    d = tm.TmFrameDemux(frame_len=64)
    assert d.run([Pdu(frames[0], {"rs_ok": False})]) == []


def test_demux_resyncs_on_bad_header_pointer():
    rng = np.random.default_rng(11)
    pkts = _packets(rng, 20, hi=100)
    frames = sp.packets_to_frames(pkts, 64)
    # corrupt the first header pointer of frame 2 (FECF recomputed: a buggy sender)
    c = tm.parse(frames[2])
    h = c.transfer_frame_primary_header
    fhp = h.first_header_pointer
    bad = tm.build(c.transfer_frame_data_field, 64, vc_count=2, mc_count=2,
                   first_header_pointer=(fhp + 1) % 40 if fhp != 0x7FF else 3)
    out, stats = _demux(frames[:2] + [bad] + frames[3:], frame_len=64)
    got = [p.data for p in out]
    assert all(p in pkts for p in got)  # here the mismatch is caught: no bogus packet
    assert stats["resyncs"] >= 2
    assert got[-5:] == pkts[-5:]  # and extraction is back in step


# ------------------------------------------------------------------------------------------------
# TC Transfer Frame


@pytest.mark.parametrize("fecf", [True, False])
def test_tc_frame_round_trip(fecf):
    f = tc.build(b"telecommand", scid=0x3A5, vcid=0x2B, sequence_number=0x1FF, bypass=True,
                 control_command=False, fecf=fecf)
    assert len(f) == tc.size(11, fecf) == tc.frame_length(f)
    c = tc.parse(f, fecf=fecf)
    h = c.transfer_frame_primary_header
    assert (h.transfer_frame_version_number, h.bypass_flag, h.control_command_flag,
            h.reserved_spare, h.spacecraft_identifier, h.virtual_channel_identifier,
            h.frame_length, h.frame_sequence_number) == \
        (0, True, False, 0, 0x3A5, 0x2B, len(f) - 1, 0xFF)
    assert c.transfer_frame_data_field == b"telecommand"
    assert tc.TcTransferFrame.build(c, fecf=fecf) == f
    assert f[:5] == bytes([0x23, 0xA5, 0xAC | ((len(f) - 1) >> 8), (len(f) - 1) & 0xFF, 0xFF])


def test_tc_frame_rejects():
    f = tc.build(b"abc")
    with pytest.raises(FrameParseError, match="FECF"):
        tc.parse(f[:-1] + bytes([f[-1] ^ 4]))
    with pytest.raises(FrameParseError):
        tc.parse(f + b"\x00")
    with pytest.raises(FrameParseError):
        tc.parse(bytes([f[0] | 0x0C]) + f[1:], check_fecf=False)  # spare bits
    with pytest.raises(ValueError):
        tc.build(bytes(1018))


# ------------------------------------------------------------------------------------------------
# CLTU


def test_randomizer_sequence_starts_as_in_the_standard():
    assert cltu.randomizer_sequence(5) == bytes.fromhex("FF399E5A68")
    seq = cltu.randomizer_sequence(600)
    assert seq[:255] == seq[255:510]
    assert cltu.randomize(cltu.randomize(b"hello")) == b"hello"


@pytest.mark.parametrize("randomize", [False, True])
@pytest.mark.parametrize("nbytes", [1, 2, 7, 8, 100, 1017])
def test_cltu_round_trip(randomize, nbytes):
    rng = np.random.default_rng(nbytes)
    frame = tc.build(rng.integers(0, 256, nbytes).astype(np.uint8).tobytes(), scid=1)
    c = cltu.build_cltu(frame, randomize=randomize)
    ncb = -(-len(frame) // 7)
    assert len(c) == 2 + 8 * ncb + 8
    assert c[:2] == bytes.fromhex("EB90") and c[-8:] == bytes.fromhex("C5C5C5C5C5C5C579")
    if not randomize and len(frame) % 7:
        assert c[-16:-9].endswith(b"\x55" * (-len(frame) % 7))
    assert cltu.parse_cltu(c, randomize=randomize) == (frame, 0)
    # stream decoder, bit offset and noise around it
    bits = np.concatenate([rng.integers(0, 2, 13).astype(np.uint8),
                           np.unpackbits(np.frombuffer(c, np.uint8)),
                           rng.integers(0, 2, 21).astype(np.uint8)])
    out = cltu.CltuDecoder(randomize=randomize).run(bits)
    assert [p.data for p in out] == [frame]
    assert out[0].meta == {"sample_index": 13, "start_errors": 0, "codeblocks": ncb,
                           "corrected": 0, "tail": True, "fill_removed": True}
    tc.parse(out[0].data)


def test_cltu_corrects_one_bit_error_per_codeblock():
    rng = np.random.default_rng(5)
    frame = tc.build(bytes(rng.integers(0, 256, 200).astype(np.uint8)), vcid=2)
    c = cltu.build_cltu(frame, randomize=True)
    bits = np.unpackbits(np.frombuffer(c, np.uint8))
    ncb = (len(c) - 10) // 8
    for k in range(ncb):
        bits[16 + 64 * k + int(rng.integers(0, 63))] ^= 1  # any of the 63 code bits
    noisy = np.packbits(bits).tobytes()
    assert cltu.parse_cltu(noisy, randomize=True) == (frame, ncb)
    out = cltu.CltuDecoder(randomize=True).run(bits)
    assert [p.data for p in out] == [frame] and out[0].meta["corrected"] == ncb
    # two errors in one codeblock: decoding stops there (no tail), what came before is kept
    bits[16 + 64 * 3 + 5] ^= 1
    out = cltu.CltuDecoder(randomize=True).run(bits)
    assert out[0].meta["codeblocks"] < ncb and not out[0].meta["tail"]
    with pytest.raises(FrameParseError):
        cltu.parse_cltu(np.packbits(bits).tobytes(), randomize=True)


def test_cltu_start_sequence_threshold_and_several_cltus():
    frames = [tc.build(bytes([k]) * (5 + 9 * k), vcid=k) for k in range(4)]
    bits = []
    for f in frames:
        b = np.unpackbits(np.frombuffer(cltu.build_cltu(f), np.uint8))
        b[3] ^= 1  # one error in the start sequence
        bits += [np.tile(np.array([0, 1], np.uint8), 20), b]
    bits = np.concatenate(bits)
    assert cltu.CltuDecoder(max_errors=0).run(bits) == []
    out = cltu.CltuDecoder(max_errors=1).run(bits)
    assert [p.data for p in out] == frames
    assert all(p.meta["start_errors"] == 1 for p in out)


def test_cltu_decoder_flushes_a_cltu_without_tail():
    f = tc.build(b"x" * 30)
    c = cltu.build_cltu(f)[:-8]
    out = cltu.CltuDecoder().run(np.unpackbits(np.frombuffer(c, np.uint8)))
    assert [p.data for p in out] == [f] and out[0].meta["tail"] is False


# ------------------------------------------------------------------------------------------------
# Property tests: parsers raise only FrameParseError, on any bytes, and return


ALL_TARGETS = {f"{m.__name__.rsplit('.', 1)[1]}.{k}": v for m in MODULES
               for k, v in m.FUZZ_TARGETS.items()}


def _valid_samples():
    rng = np.random.default_rng(0)
    pkts = _packets(rng, 3, hi=90)
    return {
        "space_packet": pkts[0],
        "ccsds_tm": sp.packets_to_frames(pkts, 64, ocf=b"abcd")[0],
        "ccsds_tc": tc.build(b"some command"),
        "cltu": cltu.build_cltu(tc.build(b"some command")),
    }


VALID = _valid_samples()


@contextmanager
def _time_limit(seconds=2):
    def boom(*_):
        raise TimeoutError("parser did not return")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _call(fn, data):
    with _time_limit():
        try:
            fn(data)
        except FrameParseError:
            pass


def test_every_module_exposes_fuzz_targets():
    assert {n.split(".")[0] for n in ALL_TARGETS} == {"space_packet", "ccsds_tm", "ccsds_tc",
                                                       "cltu"}
    assert all(callable(v) for v in ALL_TARGETS.values())


@pytest.mark.parametrize("name", sorted(ALL_TARGETS))
@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_raise_only_frame_parse_error(name, data):
    _call(ALL_TARGETS[name], data)


@pytest.mark.parametrize("name", sorted(ALL_TARGETS))
@FUZZ
@given(cut=st.integers(0, 2000), flips=st.lists(st.integers(0, 16000), max_size=4))
def test_mutated_valid_frames_raise_only_frame_parse_error(name, cut, flips):
    good = bytearray(VALID[name.split(".")[0]])
    for f in flips:
        if good:
            good[(f // 8) % len(good)] ^= 1 << (f % 8)
    _call(ALL_TARGETS[name], bytes(good[:cut]))
    _call(ALL_TARGETS[name], bytes(good))


@FUZZ
@given(frames=st.lists(st.binary(min_size=64, max_size=64), max_size=8),
       seed=st.integers(0, 2**16))
def test_demux_survives_garbage_frames(frames, seed):
    """Random frames, and valid frames with random bytes flipped and FECF recomputed."""
    rng = np.random.default_rng(seed)
    good = sp.packets_to_frames(_packets(rng, 6, hi=120), 64)
    mixed = []
    for f in good:
        b = bytearray(f[:-2])
        b[int(rng.integers(0, len(b)))] ^= int(rng.integers(1, 256))
        b += tm.fecf_of(bytes(b)).to_bytes(2, "big")
        mixed += [bytes(b), *frames[:1]]
        frames = frames[1:]
    with _time_limit(5):
        tm.TmFrameDemux(frame_len=64).run([Pdu(f) for f in mixed])
        tm.TmFrameDemux(frame_len=64, fecf=False).run([Pdu(f) for f in good + mixed])


@FUZZ
@given(data=st.binary(max_size=200))
def test_cltu_decoder_survives_random_bits(data):
    bits = np.unpackbits(np.frombuffer(bytes.fromhex("EB90") + data, np.uint8))
    with _time_limit(5):
        for p in cltu.CltuDecoder(max_errors=2, randomize=True).run(bits):
            assert isinstance(p.data, bytes)
