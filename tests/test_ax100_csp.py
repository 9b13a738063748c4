"""CSP v1 header and GOMspace AX100 frames: round trips, the gr-satellites vectors, the
streaming deframer, and robustness of the parsers (only FrameParseError, never a hang)."""

import json
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orbitlink.framing import ax100, csp
from orbitlink.framing.errors import FrameParseError
from orbitlink.modem.block import Pdu, concat
from orbitlink.modem.fec.crc import crc32c
from orbitlink.tests.helpers import assert_same_output

VECTORS = json.loads((pathlib.Path(__file__).parent / "data" / "vectors"
                      / "ax100_asm_golay.json").read_text())
FRAMES = VECTORS["frames"]
FUZZ = {**csp.FUZZ_TARGETS, **ax100.FUZZ_TARGETS}
FAST = settings(max_examples=60, deadline=None)

# ------------------------------------------------------------------------------------------
# CSP v1

HDR = {"priority": 2, "source": 1, "destination": 10, "destination_port": 10,
       "source_port": 5, "reserved": 0, "hmac": False, "xtea": False, "rdp": False,
       "crc": False}


def test_csp_header_matches_the_vector_layout():
    # gen_ax100.py: (2 << 30) | (1 << 25) | (10 << 20) | (10 << 14) | (5 << 8), big-endian
    raw = ((2 << 30) | (1 << 25) | (10 << 20) | (10 << 14) | (5 << 8)).to_bytes(4, "big")
    assert csp.build_header(HDR) == raw
    assert csp.parse_header(raw) == HDR
    for f in FRAMES:
        assert csp.parse(bytes.fromhex(f["payload_hex"])).header == HDR


@pytest.mark.parametrize("field,value,word", [
    ("priority", 3, 3 << 30), ("source", 31, 31 << 25), ("destination", 31, 31 << 20),
    ("destination_port", 63, 63 << 14), ("source_port", 63, 63 << 8),
    ("reserved", 15, 15 << 4), ("hmac", True, 8), ("xtea", True, 4), ("rdp", True, 2),
    ("crc", True, 1)])
def test_csp_each_field_position(field, value, word):
    raw = word.to_bytes(4, "big")
    assert csp.build_header(**{field: value}) == raw
    assert csp.parse_header(raw)[field] == value


@given(st.binary(min_size=4, max_size=4))
@FAST
def test_csp_header_round_trip(raw):
    assert csp.build_header(csp.parse_header(raw)) == raw
    assert csp.CspHeaderV1.sizeof() == csp.HEADER_SIZE == 4


@pytest.mark.parametrize("includes_header", [False, True])
def test_csp_crc_trailer(includes_header):
    pkt = csp.build(HDR, b"hello", crc=True, crc_includes_header=includes_header)
    assert len(pkt) == csp.size(5, crc=True) == 13
    covered = pkt[:9] if includes_header else pkt[4:9]
    assert pkt[-4:] == crc32c(covered).to_bytes(4, "big")
    p = csp.parse(pkt, crc_includes_header=includes_header)
    assert p.payload == b"hello" and p.header["crc"] and p.crc == crc32c(covered)
    bad = pkt[:-1] + bytes([pkt[-1] ^ 1])
    with pytest.raises(FrameParseError, match="CRC-32C"):
        csp.parse(bad, crc_includes_header=includes_header)
    assert csp.parse(bad, crc="strip").payload == b"hello"
    assert csp.parse(bad, crc="keep").payload == bad[4:]
    with pytest.raises(FrameParseError):
        csp.parse(pkt[:7])


def test_csp_parse_build_size_round_trip():
    pkt = csp.build(HDR, b"abc")
    assert len(pkt) == csp.size(3)
    p = csp.parse(pkt)
    assert (p.header, p.payload, p.crc) == (HDR, b"abc", None)
    assert csp.build(p.header, p.payload) == pkt


def test_csp_bad_arguments():
    with pytest.raises(ValueError, match="source"):
        csp.build_header(source=32)
    with pytest.raises(ValueError, match="unknown"):
        csp.build_header(src=1)
    with pytest.raises(TypeError):
        csp.parse("not bytes")
    with pytest.raises(FrameParseError, match="4 bytes"):
        csp.parse(b"\x01\x02")


# ------------------------------------------------------------------------------------------
# AX100 length field and frames


def test_length_field_round_trip():
    for f in FRAMES:
        word = bytes.fromhex(f["golay_codeword_hex"])
        field = int(f["length_field_12bit"], 16)
        n = int(f["payload_len"]) + 32
        assert ax100.length_field(n) == field
        assert ax100.encode_length(n) == word
        assert ax100.decode_length(word) == (field, 0)
        c = ax100.GolayLengthWord.parse(word)
        assert (c.length, c.rs, c.scrambler, c.viterbi, c.reserved) == (n, True, True, False, 0)
        assert ax100.GolayLengthWord.build(c) == word
        assert ax100.GolayLengthWord.sizeof() == 3
        assert ax100.parse_length_field(field) == {"length": n, "viterbi": False,
                                                   "scrambler": True, "rs": True,
                                                   "reserved": 0}


def test_length_field_golay_corrects_three_and_rejects_four():
    word = int.from_bytes(ax100.encode_length(100), "big")
    rng = np.random.default_rng(5)
    for k in (1, 2, 3):
        pos = rng.choice(24, k, replace=False)
        w = word ^ int(sum(1 << int(p) for p in pos))
        assert ax100.decode_length(w.to_bytes(3, "big")) == (ax100.length_field(100), k)
    w = word ^ 0b1111
    with pytest.raises(FrameParseError, match="Golay"):
        ax100.decode_length(w.to_bytes(3, "big"))


@pytest.mark.parametrize("f", FRAMES, ids=lambda f: f"{f['payload_len']}B")
def test_asm_vectors_bit_exact(f):
    payload = bytes.fromhex(f["payload_hex"])
    frame = bytes.fromhex(f["frame_on_air_hex"])
    assert ax100.ax100_asm_encode(payload) == frame
    d = ax100.decode_asm_frame(frame[4:])
    assert (d.payload, d.rs_corrected, d.golay_corrected) == (payload, 0, 0)
    bad = bytes.fromhex(f["frame_with_8_byte_errors_hex"])
    d = ax100.decode_asm_frame(bad[4:])
    assert (d.payload, d.rs_corrected) == (payload, 8)


def test_asm_flags_off_and_limits():
    payload = bytes(range(50))
    for scr in (False, True):
        for rs in (False, True):
            fr = ax100.ax100_asm_encode(payload, scrambler=scr, rs=rs)
            d = ax100.decode_asm_frame(fr[4:], honor_flags=True)
            assert d.payload == payload
            assert ax100.parse_length_field(d.length_field)["rs"] == rs
            if not (scr and rs):  # by default both are forced on, as in gr-satellites
                with pytest.raises(FrameParseError):
                    ax100.decode_asm_frame(fr[4:])
    big = ax100.ax100_asm_encode(bytes(255), rs=False)[4:]
    assert ax100.decode_asm_frame(big, honor_flags=True).payload == bytes(255)
    for n in (0, 224):
        with pytest.raises(ax100.Ax100Error):
            ax100.ax100_asm_encode(bytes(n))
    viterbi = ax100.encode_length(40, viterbi=True) + bytes(40)
    with pytest.raises(FrameParseError, match="Viterbi"):
        ax100.decode_asm_frame(viterbi, honor_flags=True)
    with pytest.raises(FrameParseError, match="uncorrectable"):
        fr = bytearray(ax100.ax100_asm_encode(bytes(40)))
        fr[10:30] = bytes(20)
        ax100.decode_asm_frame(bytes(fr[4:]))


def test_rs_mode_round_trip():
    for n in (1, 100, 222):
        payload = bytes(np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8))
        fr = ax100.ax100_rs_encode(payload)
        assert fr[:4] == bytes.fromhex("930B51DE") and fr[4] == n + 33 and len(fr) == n + 37
        assert ax100.decode_rs_frame(fr[4:]).payload == payload
        bad = bytearray(fr)
        for i in range(16):
            bad[5 + 3 * i % (n + 32)] ^= 0x5A
        d = ax100.decode_rs_frame(bytes(bad[4:]))
        assert d.payload == payload and d.rs_corrected > 0
    for n in (0, 223):
        with pytest.raises(ax100.Ax100Error):
            ax100.ax100_rs_encode(bytes(n))


# ------------------------------------------------------------------------------------------
# Deframer on streams


def _stream(frames_hex, rng, gap=(300, 900)):
    parts, starts, pos = [], [], 0
    for h in frames_hex:
        noise = rng.integers(0, 2, int(rng.integers(*gap)), dtype=np.uint8)
        parts.append(noise)
        pos += len(noise)
        starts.append(pos)
        b = np.unpackbits(np.frombuffer(bytes.fromhex(h), np.uint8))
        parts.append(b)
        pos += len(b)
    parts.append(rng.integers(0, 2, 500, dtype=np.uint8))
    return np.concatenate(parts), starts


@pytest.mark.parametrize("key,corrected", [("frame_on_air_hex", 0),
                                           ("frame_with_8_byte_errors_hex", 8)])
def test_deframer_finds_every_vector_frame(key, corrected):
    rng = np.random.default_rng(7)
    bits, starts = _stream([f[key] for f in FRAMES], rng)
    # plus 3 bit errors in each ASM (threshold 4) and 2 in each Golay word
    for s in starts:
        bits[s + np.array([0, 9, 30, 33, 50])] ^= 1
    got = ax100.Ax100Deframer().run(bits)
    assert [p.data.hex() for p in got] == [f["payload_hex"] for f in FRAMES]
    assert [p.meta["bit_index"] for p in got] == starts
    assert all(p.meta["rs_corrected"] == corrected for p in got)
    assert all(p.meta["golay_corrected"] == 2 and p.meta["asm_errors"] == 3 for p in got)
    # chunked identically, and the soft version on LLRs
    chunks = np.array_split(bits, 37)
    d = ax100.Ax100Deframer()
    assert_same_output("pdu", got, concat("pdu", [d.process(c) for c in chunks] + [d.flush()]))
    llr = ((2.0 * bits - 1.0) * rng.uniform(0.1, 3.0, len(bits))).astype(np.float32)
    assert_same_output("pdu", got, ax100.Ax100DeframerSoft().run(llr))


def test_deframer_no_frames_from_noise():
    x = np.random.default_rng(0).integers(0, 2, 2_000_000, dtype=np.uint8)
    assert ax100.Ax100Deframer().run(x) == []  # honor_flags=True gives 4 here


def test_deframer_inverted_and_truncated():
    rng = np.random.default_rng(3)
    bits, _ = _stream([FRAMES[1]["frame_on_air_hex"]], rng)
    assert ax100.Ax100Deframer().run(bits ^ 1) == []
    got = ax100.Ax100Deframer(allow_inverted=True).run(bits ^ 1)
    assert [p.data.hex() for p in got] == [FRAMES[1]["payload_hex"]]
    assert got[0].meta["inverted"] is True
    # cut in the middle of the frame: nothing, no error
    assert ax100.Ax100Deframer().run(bits[:-600]) == []


@pytest.mark.parametrize("mode", ["asm", "rs"])
def test_framer_deframer_loopback(mode):
    rng = np.random.default_rng(11)
    pdus = [Pdu(rng.integers(0, 256, int(n), dtype=np.uint8).tobytes())
            for n in (4, 222, 37, 1, 150)]
    fr = ax100.Ax100Framer(mode=mode, preamble_len=8, postamble_len=3)
    bits = concat("u8", [fr.process(pdus[:2]), fr.process([]), fr.process(pdus[2:]),
                         fr.flush()])
    lead = rng.integers(0, 2, 333, dtype=np.uint8)
    x = np.concatenate([lead, bits, rng.integers(0, 2, 100, dtype=np.uint8)])
    got = ax100.Ax100Deframer(mode=mode).run(x)
    assert [p.data for p in got] == [p.data for p in pdus]
    if mode == "asm":
        one = ax100.Ax100Framer(preamble_len=8, postamble_len=3).frame_bytes(pdus[0].data)
        assert one[:8] == b"\xaa" * 8 and one[-3:] == b"\xaa" * 3
        assert one[8:-3] == ax100.ax100_asm_encode(pdus[0].data)


def test_rs_mode_deframer_chunk_contract():
    rng = np.random.default_rng(4)
    x = ax100.Ax100Deframer._example_bits(rng, "rs")
    block = ax100.Ax100Deframer(mode="rs")
    ref = block.copy().run(x)
    assert len(ref) == 3
    for sizes in ([1] * 50 + [len(x) - 50], [0, 17, 0, 400, len(x) - 417]):
        b, out, i = block.copy(), [], 0
        for s in sizes:
            out.append(b.process(x[i:i + s]))
            i += s
        out.append(b.flush())
        assert_same_output("pdu", ref, concat("pdu", out))


# ------------------------------------------------------------------------------------------
# Robustness: random bytes, truncations, bit flips raise only FrameParseError


def _only_frame_errors(fn, data):
    try:
        fn(data)
    except FrameParseError:
        pass


@pytest.mark.parametrize("name", sorted(FUZZ))
@given(data=st.binary(max_size=300))
@FAST
def test_fuzz_random_bytes(name, data):
    _only_frame_errors(FUZZ[name], data)


def _valid_inputs():
    f = bytes.fromhex(FRAMES[1]["frame_on_air_hex"])
    return {"csp": csp.build(HDR, b"payload!", crc=True),
            "csp_header": csp.build_header(HDR),
            "ax100_frame": f[4:],
            "ax100_frame_flags": f[4:],
            "ax100_rs_frame": ax100.ax100_rs_encode(bytes(range(40)))[4:],
            "ax100_length": f[4:7]}


@pytest.mark.parametrize("name", sorted(FUZZ))
@given(data=st.data())
@FAST
def test_fuzz_truncations_and_bit_flips(name, data):
    valid = _valid_inputs()[name]
    cut = data.draw(st.integers(0, len(valid)))
    _only_frame_errors(FUZZ[name], valid[:cut])
    flips = data.draw(st.lists(st.integers(0, 8 * len(valid) - 1), max_size=40))
    b = bytearray(valid)
    for k in flips:
        b[k // 8] ^= 0x80 >> (k % 8)
    _only_frame_errors(FUZZ[name], bytes(b))


def test_fuzz_targets_exposed():
    assert set(csp.FUZZ_TARGETS) >= {"csp"}
    assert set(ax100.FUZZ_TARGETS) >= {"ax100_frame"}
    assert set(_valid_inputs()) == set(FUZZ)
    for name, fn in FUZZ.items():
        fn(_valid_inputs()[name])  # the valid input parses


# ------------------------------------------------------------------------------------------
# a real recording: the Reed-Solomon mode's only check against the satellite itself


def test_ca03_recording_rs_mode():
    """CA03 (AX100 Reed-Solomon mode, 9600 Bd FSK, FM audio): every one of the 9 frames
    gr-satellites 4.4 decodes, byte for byte (G3RUH scrambler, length byte, conventional RS)."""
    from scipy.io import wavfile

    from orbitlink.modem.fsk import FskDemodulator

    d = pathlib.Path(__file__).parent / "data" / "recordings"
    fs, a = wavfile.read(d / "ca03_9k6.wav")
    a = (a / np.max(np.abs(a))).astype(np.float32)
    llr = FskDemodulator(symbol_rate=9600.0, samp_rate=float(fs), input="audio").run(a)
    out = ax100.Ax100DeframerSoft(mode="rs", allow_inverted=True).run(llr)
    ref = (d / "frames" / "ca03_9k6.hex").read_text().split()
    assert sorted(p.data.hex() for p in out) == sorted(ref)
    assert all(p.meta["frame_length"] == len(p.data) + 33 for p in out)
