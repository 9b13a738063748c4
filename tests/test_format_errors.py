"""Errors a user can cause in the framing layer are OrbitlinkErrors with one sentence.

Bad bytes raise :class:`FrameParseError`; arguments a frame cannot be built from (a field out
of range, a data field of the wrong length, an unknown option) raise :class:`FrameBuildError`.
Neither is ever a bare ``ValueError`` (the CLI catches only OrbitlinkError), nor a construct,
struct or index error leaking from inside.
"""

import pytest

from orbitlink import OrbitlinkError
from orbitlink.framing import ccsds_tc, ccsds_tm, cltu, csp, kiss, space_packet
from orbitlink.framing.errors import FrameBuildError, FrameParseError
from orbitlink.framing.kiss_server import KissServer, KissServerError


def user_error(fn, *args, cls=OrbitlinkError, **kw):
    """Call fn, which must raise an OrbitlinkError (of ``cls``) that is not a bare ValueError,
    with a one-line message; returns the message."""
    with pytest.raises(Exception) as ei:
        fn(*args, **kw)
    e = ei.value
    assert type(e) is not ValueError, repr(e)
    assert isinstance(e, OrbitlinkError), repr(e)
    assert isinstance(e, cls), repr(e)
    msg = str(e)
    assert msg and "\n" not in msg, msg
    return msg


SP = space_packet.build(0x10, b"hello", sequence_count=3)
TC = ccsds_tc.build(b"command", scid=3, vcid=1)
TM = ccsds_tm.build(bytes(56), 64, scid=5, vcid=1)


# ------------------------------------------------------------------------------------------------
# bad bytes -> FrameParseError


@pytest.mark.parametrize("data", [b"", SP[:5], SP[:-1], SP + b"x", b"\xe0" + SP[1:]])
def test_space_packet_bad_bytes(data):
    user_error(space_packet.parse, data, cls=FrameParseError)


def test_space_packet_header_fields_short():
    assert space_packet.header_fields(SP)[2] == 0x10
    user_error(space_packet.header_fields, SP[:3], cls=FrameParseError)


@pytest.mark.parametrize("data", [b"", TC[:3], TC[:-1], TC + b"\0", b"\xc0" + TC[1:],
                                  TC[:-2] + bytes([TC[-2] ^ 1, TC[-1]])])
def test_tc_frame_bad_bytes(data):
    user_error(ccsds_tc.parse, data, cls=FrameParseError)


@pytest.mark.parametrize("data,kw", [(b"", {}), (TM[:5], {}), (TM, {"frame_len": 65}),
                                     (b"\xc0" + TM[1:], {}), (TM[:-1] + b"\0", {}),
                                     (TM, {"ocf": True})])
def test_tm_frame_bad_bytes(data, kw):
    user_error(ccsds_tm.parse, data, cls=FrameParseError, **kw)


@pytest.mark.parametrize("data", [b"", b"\x01\x02", csp.build(payload=b"x", crc=True)[:6],
                                  csp.build(payload=b"abc", crc=True)[:-1] + b"\0"])
def test_csp_bad_bytes(data):
    user_error(csp.parse, data, cls=FrameParseError)


GOOD_CLTU = cltu.build_cltu(TC)
TWO_ERRORS = bytearray(GOOD_CLTU)
TWO_ERRORS[3] ^= 0x81  # two bit errors in codeblock 0: detected, not correctable


@pytest.mark.parametrize("data", [b"", b"\xeb", GOOD_CLTU[:-1], GOOD_CLTU[:-8],
                                  b"\x00" + GOOD_CLTU[1:], bytes(TWO_ERRORS)])
def test_cltu_bad_bytes(data):
    user_error(cltu.parse_cltu, data, cls=FrameParseError)


@pytest.mark.parametrize("data", [b"", b"\xc0\xc0", b"\xc0\x00ab\xdb\xc0", b"\xc0\x00a\xdbx\xc0",
                                  b"\xc0\x00a\xc0\x00b\xc0", b"\xc0\xdb\xdc\xc0", "text"])
def test_kiss_bad_bytes(data):
    user_error(kiss.decode, data, cls=FrameParseError)


# ------------------------------------------------------------------------------------------------
# bad arguments -> FrameBuildError


@pytest.mark.parametrize("args,kw", [((0x10, b""), {}), ((0x10, bytes(65537)), {}),
                                     ((0x800, b"x"), {}), ((-1, b"x"), {}),
                                     ((1, b"x"), {"packet_type": 2}),
                                     ((1, b"x"), {"sequence_flags": 4}),
                                     ((1, b"x"), {"sequence_count": "3"})])
def test_space_packet_build_errors(args, kw):
    user_error(space_packet.build, *args, cls=FrameBuildError, **kw)


def test_space_packet_idle_and_packetiser_errors():
    user_error(space_packet.idle_packet, 6, cls=FrameBuildError)
    user_error(space_packet.idle_packet, 10, 256, cls=FrameBuildError)
    msg = user_error(space_packet.packets_to_frames, [SP], 8, cls=FrameBuildError)
    assert "no data field" in msg
    user_error(space_packet.packets_to_frames, [SP], 64, scid=1024, cls=FrameBuildError)


@pytest.mark.parametrize("kw", [{"data": b""}, {"data": bytes(1018)}, {"data": b"x", "scid": 1024},
                                {"data": b"x", "vcid": 64}, {"data": b"x", "vcid": -1},
                                {"data": b"x", "sequence_number": 1.5}])
def test_tc_build_errors(kw):
    user_error(ccsds_tc.build, cls=FrameBuildError, **kw)


@pytest.mark.parametrize("kw", [{"frame_len": 64, "data_field": bytes(55)},
                                {"frame_len": 8, "data_field": b""},
                                {"data_field": b"x", "secondary_header": b""},
                                {"data_field": b"x", "ocf": b"abc"},
                                {"data_field": b"x", "scid": 1024},
                                {"data_field": b"x", "vcid": 8},
                                {"data_field": b"x", "mc_count": 256},
                                {"data_field": b"x", "vc_count": -1},
                                {"data_field": b"x", "first_header_pointer": 0x800},
                                {"data_field": b"x", "segment_length_identifier": 4}])
def test_tm_build_errors(kw):
    user_error(ccsds_tm.build, cls=FrameBuildError, **kw)


@pytest.mark.parametrize("kw", [{"source": 32}, {"priority": -1}, {"destination_port": "1"},
                                {"colour": 1}])
def test_csp_build_errors(kw):
    user_error(csp.build_header, cls=FrameBuildError, **kw)
    user_error(csp.build, payload=b"x", cls=FrameBuildError, **kw)


def test_csp_parse_option_error():
    user_error(csp.parse, csp.build(payload=b"x"), crc="verify", cls=FrameBuildError)


def test_cltu_argument_errors():
    user_error(cltu.build_cltu, b"", cls=FrameBuildError)
    user_error(cltu.parse_cltu, GOOD_CLTU, mode="dec", cls=FrameBuildError)


@pytest.mark.parametrize("port,command", [(16, 0), (-1, 0), (0, 16), (0, -1), ("1", 0)])
def test_kiss_encode_errors(port, command):
    user_error(kiss.encode, b"x", port, command, cls=FrameBuildError)


def test_kiss_file_errors(tmp_path):
    msg = user_error(kiss.read_kiss_file, tmp_path / "none.kiss", cls=kiss.KissFileError)
    assert "none.kiss" in msg
    user_error(kiss.read_kiss_file, tmp_path, cls=kiss.KissFileError)
    user_error(kiss.write_kiss_file, tmp_path / "no" / "dir.kiss", [b"x"],
               cls=kiss.KissFileError)
    assert isinstance(kiss.KissFileError("x"), OSError)  # still an OSError for old callers


def test_kiss_server_argument_and_bind_errors():
    for kw in ({"port": 65536}, {"port": -1}, {"port": "8001x"}, {"max_clients": 0},
               {"max_frame": 1.5}, {"tx_queue_size": 0}):
        user_error(KissServer, cls=KissServerError, **kw)
    with KissServer(port=0) as srv:
        msg = user_error(KissServer(port=srv.address[1]).start, cls=KissServerError)
        assert str(srv.address[1]) in msg
        user_error(srv.broadcast, b"x", port=16, cls=FrameBuildError)


# ------------------------------------------------------------------------------------------------
# the other framing modules keep the same rule


def test_other_modules_build_errors_are_frame_build_errors():
    from orbitlink.framing import ao40, ax25, ax100, u482c

    for cls in (ax25.Ax25BuildError, ax100.Ax100Error, u482c.U482cError, ao40.Ao40Error):
        assert issubclass(cls, FrameBuildError) and issubclass(cls, OrbitlinkError)
    user_error(ax25.Ax25Address.from_text, "N0CALL-x", cls=ax25.Ax25BuildError)
    user_error(ax25.build, ax25.ui_frame("N0CALL-16", "N0CALL"), cls=ax25.Ax25BuildError)
    user_error(ax25.parse, b"\x01\x02", cls=FrameParseError)
    user_error(ax100.ax100_asm_encode, bytes(300), cls=ax100.Ax100Error)
    user_error(ax100.decode_asm_frame, b"\x00", cls=FrameParseError)
    user_error(u482c.u482c_encode, bytes(300), cls=u482c.U482cError)
    user_error(u482c.decode_frame, b"\x00", cls=FrameParseError)
    user_error(ao40.ao40_encode, bytes(10), cls=ao40.Ao40Error)
    user_error(ao40.decode_rs_block, bytes(10), cls=FrameParseError)


def test_mutated_frames_give_one_line_format_errors():
    """Mutations of valid frames of the six formats: whatever is rejected is rejected with a
    FrameParseError of one line (the fuzzer in test_fuzz.py checks the type on many more)."""
    import numpy as np

    from orbitlink.tests.fuzz_tools import mutate, seeds, targets

    tg, sd = targets(), seeds()
    mods = ("space_packet", "ccsds_tc", "ccsds_tm", "csp", "cltu", "kiss")
    names = [n for n in tg if n.split(":")[0] in mods]
    assert {n.split(":")[0] for n in names} == set(mods)
    rng = np.random.default_rng(7)
    rejected = 0
    for name in names:
        pool = sd.get(name) or [b""]
        for _ in range(300):
            data = mutate(rng, pool[int(rng.integers(0, len(pool)))])
            try:
                tg[name](data)
            except FrameParseError as e:
                rejected += 1
                assert type(e) is not ValueError and isinstance(e, OrbitlinkError)
                assert str(e) and "\n" not in str(e), (name, data.hex(), str(e))
    assert rejected > 1000
