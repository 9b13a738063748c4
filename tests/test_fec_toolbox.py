"""FEC toolbox: CCSDS randomizer, G3RUH scrambler, NRZ-M/NRZI, CRC-16/X.25, CRC-32C,
Golay(24,12) and the CCSDS TC BCH(63,56) code.

Bit-exact against the third-party vectors copied into ``tests/data/vectors`` (GNU Radio,
gr-satellites, libfec, direwolf; see each file's ``.origin``). The streaming blocks are also
covered by ``test_chunk_contract.py`` (every registered block).
"""

import binascii
import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from orbitlink import OrbitlinkError
from orbitlink.modem.block import REGISTRY, ParamError
from orbitlink.modem.fec.bch import BCH_GENERATOR, BchStatus, bch_decode, bch_encode, bch_parity
from orbitlink.modem.fec.crc import (
    FecInputError, check_fcs_x25, crc16_ccitt, crc16_x25, crc32c, fcs_x25,
)
from orbitlink.modem.fec.golay import (
    golay24_decode, golay24_decode_array, golay24_encode, golay24_encode_array,
)
from orbitlink.modem.fec.line import (
    NrziDecoder, nrzi_decode, nrzi_decode_soft, nrzi_encode, nrzm_decode, nrzm_decode_soft,
    nrzm_encode,
)
from orbitlink.modem.fec.scramble import (
    G3ruhDescrambler, G3ruhDescramblerSoft, G3ruhScrambler, ccsds_randomizer, derandomize,
    g3ruh_descramble, g3ruh_descramble_soft, g3ruh_scramble, randomize,
)

VECTORS = Path(__file__).resolve().parent / "data" / "vectors"


def _load(name):
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))


def _bits(s: str) -> np.ndarray:
    return (np.frombuffer(s.encode("ascii"), np.uint8) - ord("0")).astype(np.uint8)


AX25 = _load("ax25_hdlc_kiss")["frames"]
AX100 = _load("ax100_asm_golay")["frames"]
RANDOMIZER = _load("ccsds_randomizer_asm")["randomizer"]


def test_vector_copies_have_an_origin():
    for name in ("ccsds_randomizer_asm", "ax25_hdlc_kiss", "ax100_asm_golay"):
        origin = (VECTORS / f"{name}.json.origin").read_text(encoding="utf-8")
        assert "/work/shared/vectors" in origin and "sha256" in origin


# ================================================================================================
# CCSDS TM pseudo-randomizer


def test_randomizer_sequence_is_bit_exact():
    seq = ccsds_randomizer(1275)
    assert seq.hex() == RANDOMIZER["sequence_1275_bytes_hex"]
    assert seq[:8].hex() == "ff480ec09a0d70bc"
    assert seq[:255] * 5 == seq  # period 255 bytes
    assert ccsds_randomizer(0) == b""
    assert ccsds_randomizer(300)[:17] == seq[:17]


def test_randomize_is_its_own_inverse_and_restarts_per_frame():
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, 600, dtype=np.uint8).tobytes()
    r = randomize(data)
    assert r == bytes(a ^ b for a, b in zip(data, ccsds_randomizer(600)))
    assert derandomize(r) == data and randomize(r) == data
    assert randomize(b"") == b""
    assert randomize(bytes(3)) == bytes.fromhex("ff480e")  # all-ones register at each call
    assert randomize(bytearray(2)) == randomize(memoryview(bytes(2))) == randomize(
        np.zeros(2, np.uint8))


def test_randomizer_matches_ax100_frames():
    """The AX100 vectors XOR the same sequence onto payload + RS parity."""
    for f in AX100:
        block = bytes.fromhex(f["payload_hex"]) + bytes.fromhex(f["rs_parity_hex"])
        assert randomize(block).hex() == f["scrambled_rs_block_hex"]


# ================================================================================================
# NRZI / NRZ-M and the G3RUH scrambler against the AX.25 vectors


@pytest.mark.parametrize("i", range(len(AX25)))
def test_ax25_tx_chain_is_bit_exact(i):
    f = AX25[i]
    hdlc, nrzi, g3 = _bits(f["hdlc_bits"]), _bits(f["nrzi_bits"]), _bits(f["g3ruh_bits"])
    assert np.array_equal(nrzi_encode(hdlc), nrzi)
    assert np.array_equal(g3ruh_scramble(nrzi), g3)  # TX order: NRZI, then scramble
    # receive: descramble, then NRZI-decode
    assert np.array_equal(g3ruh_descramble(g3), nrzi)
    assert np.array_equal(nrzi_decode(nrzi), hdlc)
    assert np.array_equal(nrzi_decode(g3ruh_descramble(g3)), hdlc)


@pytest.mark.parametrize("i", range(len(AX25)))
def test_ax25_soft_receive_chain(i):
    f = AX25[i]
    hdlc, g3 = _bits(f["hdlc_bits"]), _bits(f["g3ruh_bits"])
    rng = np.random.default_rng(i)
    mag = rng.uniform(0.1, 5.0, len(g3)).astype(np.float32)
    llr = np.where(g3 == 1, mag, -mag).astype(np.float32)  # positive means 1
    d = g3ruh_descramble_soft(llr)
    assert d.dtype == np.float32
    assert np.array_equal((d > 0).astype(np.uint8), _bits(f["nrzi_bits"]))
    out = nrzi_decode_soft(d)
    assert np.array_equal((out > 0).astype(np.uint8), hdlc)
    assert np.all(out != 0)


def test_streaming_over_chunks_matches_the_vector():
    f = AX25[2]
    nrzi, g3 = _bits(f["nrzi_bits"]), _bits(f["g3ruh_bits"])
    s, d = G3ruhScrambler(), G3ruhDescrambler()
    cuts = [0, 1, 5, 17, 18, 40, 41, 200, len(nrzi)]
    sc = np.concatenate([s.process(nrzi[a:b]) for a, b in zip(cuts, cuts[1:])])
    dc = np.concatenate([d.process(g3[a:b]) for a, b in zip(cuts, cuts[1:])])
    assert np.array_equal(sc, g3) and np.array_equal(dc, nrzi)


def test_g3ruh_recursions():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 2, 500).astype(np.uint8)
    y = g3ruh_scramble(x)
    ref = np.zeros(len(x) + 17, np.uint8)  # direct recursion, zero register
    for n, b in enumerate(x):
        ref[n + 17] = b ^ ref[n + 5] ^ ref[n]
    assert np.array_equal(y, ref[17:])
    # any initial state: the descrambler with the same state inverts the scrambler
    for state in (1, 0x1FFFF, 0x0A5C3):
        assert np.array_equal(g3ruh_descramble(g3ruh_scramble(x, state), state), x)
    # self-synchronising: a descrambler in the wrong state is right after 17 bits
    wrong = g3ruh_descramble(y, state=0x1B00F)
    assert np.array_equal(wrong[17:], x[17:]) and not np.array_equal(wrong[:17], x[:17])


def test_g3ruh_soft_is_min_sum():
    rng = np.random.default_rng(6)
    x = (rng.standard_normal(300) * 3).astype(np.float32)
    x[[3, 50, 51]] = 0.0
    y = g3ruh_descramble_soft(x)
    ext = np.concatenate([np.full(17, -np.inf, np.float32), x])  # zero state, certain
    a, b, c = ext[17:], ext[5:-12], ext[:-17]
    assert np.array_equal(np.abs(y), np.minimum(np.minimum(abs(a), abs(b)), abs(c)))
    nz = y != 0
    hard = g3ruh_descramble((x > 0).astype(np.uint8))
    assert np.array_equal((y[nz] > 0).astype(np.uint8), hard[nz])
    assert np.array_equal(y[:12], x[:12])  # only known zeros behind them
    # erasures propagate to the three outputs that use them
    assert y[3] == 0 and y[15] == 0 and y[20] == 0
    # three confident 1s give a confident 1; two 1s and a 0 give a 0
    blk = G3ruhDescramblerSoft(state=0)
    t = np.full(18, -4.0, np.float32)
    t[[0, 5, 17]] = [2.0, 3.0, 1.5]
    out = blk.run(t)
    assert out[17] == np.float32(1.5)
    t[0] = -2.0
    assert G3ruhDescramblerSoft().run(t)[17] == np.float32(-1.5)


def test_nrzm_and_nrzi_conventions():
    bits = np.array([1, 0, 1, 1, 0, 0], np.uint8)
    assert nrzm_encode(bits).tolist() == [1, 1, 0, 1, 1, 1]  # a 1 toggles (CCSDS NRZ-M)
    assert nrzi_encode(bits).tolist() == [0, 1, 1, 1, 0, 1]  # a 0 toggles (AX.25 NRZI)
    assert nrzm_encode(bits, initial_level=1).tolist() == [0, 0, 1, 0, 0, 0]
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2, 400).astype(np.uint8)
    for enc, dec in ((nrzm_encode, nrzm_decode), (nrzi_encode, nrzi_decode)):
        for lvl in (0, 1):
            assert np.array_equal(dec(enc(x, lvl), lvl), x)
        # inverted levels (180 degree ambiguity) decode the same except the first bit
        inv = enc(x) ^ 1
        assert np.array_equal(dec(inv)[1:], x[1:])
    assert np.array_equal(nrzi_encode(x), nrzm_encode(x ^ 1))


def test_soft_line_decoders():
    rng = np.random.default_rng(8)
    x = rng.integers(0, 2, 400).astype(np.uint8)
    for enc, dec, soft, sign in ((nrzm_encode, nrzm_decode, nrzm_decode_soft, -1),
                                 (nrzi_encode, nrzi_decode, nrzi_decode_soft, 1)):
        lv = enc(x)
        mag = rng.uniform(0.2, 4, len(x)).astype(np.float32)
        llr = np.where(lv == 1, mag, -mag).astype(np.float32)
        y = soft(llr)
        assert y.dtype == np.float32
        assert np.array_equal((y > 0).astype(np.uint8), dec(lv))
        prev = np.concatenate([[np.float32(-np.inf)], llr[:-1]])
        assert np.array_equal(y, sign * np.sign(llr) * np.sign(prev)
                              * np.minimum(abs(llr), abs(prev)))
        assert abs(y[0]) == abs(llr[0])  # initial level is certain
    assert nrzm_decode_soft(np.array([0.0, 2.0], np.float32)).tolist() == [0.0, 0.0]


def test_blocks_are_registered_and_validate_params():
    for name in ("g3ruh_scrambler", "g3ruh_descrambler", "g3ruh_descrambler_soft",
                 "nrzi_encoder", "nrzi_decoder", "nrzi_decoder_soft",
                 "nrzm_encoder", "nrzm_decoder", "nrzm_decoder_soft"):
        assert name in REGISTRY
    assert REGISTRY["g3ruh_descrambler_soft"].in_type == "f32"
    with pytest.raises(ParamError, match="state"):
        G3ruhScrambler(state=1 << 17)
    with pytest.raises(ParamError, match="initial_level"):
        NrziDecoder(initial_level=2)


@pytest.mark.parametrize("bad", [np.array([0, 1, 2], np.uint8), np.array([0, -1]),
                                 np.zeros((2, 3), np.uint8)])
def test_bit_blocks_reject_non_bits(bad):
    for blk in (G3ruhScrambler(), G3ruhDescrambler(), NrziDecoder()):
        with pytest.raises(FecInputError, match=blk.name):
            blk.process(bad)


# ================================================================================================
# CRCs


def test_crc_check_values():
    assert crc16_x25(b"123456789") == 0x906E
    assert crc32c(b"123456789") == 0xE3069283
    assert crc16_ccitt(b"123456789") == 0x29B1  # unchanged
    assert crc16_x25(b"") == 0 and crc32c(b"") == 0
    # RFC 3720 appendix B.4 (iSCSI CRC-32C examples)
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C


def test_crc16_x25_matches_every_ax25_fcs():
    for f in AX25:
        frame = bytes.fromhex(f["frame_hex"])
        assert crc16_x25(frame) == int(f["fcs_value"], 16)
        assert fcs_x25(frame).hex() == f["fcs_bytes_as_sent_hex"]
        whole = bytes.fromhex(f["frame_with_fcs_hex"])
        assert check_fcs_x25(whole)
        assert not check_fcs_x25(whole[:-1] + bytes([whole[-1] ^ 0x01]))


def _reverse8(b):
    return int(f"{b:08b}"[::-1], 2)


def test_crc16_x25_is_the_reflected_ccitt_crc():
    """Independent check: X.25 = bit-reversed CRC-CCITT (binascii.crc_hqx) of reversed bytes."""
    rng = np.random.default_rng(9)
    for n in (1, 7, 64, 300):
        d = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        msb = binascii.crc_hqx(bytes(_reverse8(b) for b in d), 0xFFFF) ^ 0xFFFF
        assert crc16_x25(d) == int(f"{msb:016b}"[::-1], 2)


def test_crc_running_value():
    data = bytes(range(200))
    for f in (crc16_x25, crc32c):
        assert f(data[77:], f(data[:77])) == f(data)
        assert f(np.frombuffer(data, np.uint8)) == f(bytearray(data)) == f(data)


# ================================================================================================
# Golay(24,12)


def test_golay_matches_ax100_frames():
    for f in AX100:
        length = int(f["length_field_12bit"], 16)
        word = int(f["golay_codeword_hex"], 16)
        assert golay24_encode(length) == word
        on_air = bytes.fromhex(f["frame_on_air_hex"])
        assert golay24_encode(length).to_bytes(3, "big") == on_air[4:7]  # after the ASM
        assert golay24_decode(word) == (length, 0)
        assert length & 0xFF == len(f["scrambled_rs_block_hex"]) // 2  # byte count field


def test_golay_is_the_extended_golay_code():
    cw = golay24_encode_array(np.arange(4096))
    w = np.array([bin(int(c)).count("1") for c in cw])
    assert np.bincount(w, minlength=25)[[0, 8, 12, 16, 24]].tolist() == [1, 759, 2576, 759, 1]
    assert np.bincount(w, minlength=25).sum() == 4096  # no other weights: minimum distance 8
    assert [golay24_encode(int(d)) for d in (0, 1, 0xFFF, 0x628)] == \
        [int(c) for c in cw[[0, 1, 0xFFF, 0x628]]]


def _patterns(weight):
    return np.array([sum(1 << p for p in pos) for pos in combinations(range(24), weight)],
                    np.uint32)


@pytest.mark.parametrize("data", [0x000, 0x628, 0x6DF, 0xA5C, 0xFFF])
def test_golay_exhaustive_errors(data):
    word = golay24_encode(data)
    for weight in (0, 1, 2, 3):
        e = _patterns(weight)
        dec, n = golay24_decode_array(word ^ e)
        assert np.all(dec == data) and np.all(n == weight), weight
    e4 = _patterns(4)  # 10626 patterns: every one detected, none miscorrected
    dec, n = golay24_decode_array(word ^ e4)
    assert np.all(n == -1)
    assert np.array_equal(dec, (word ^ e4) & 0xFFF)  # failure leaves the data as received
    # the scalar decoder agrees
    for err in list(_patterns(3)[::97]) + list(e4[::997]):
        d1, n1 = golay24_decode(int(word ^ err))
        d2, n2 = golay24_decode_array(np.array([word ^ err]))
        assert (d1, n1) == (int(d2[0]), int(n2[0]))


# ================================================================================================
# BCH(63,56), CCSDS TC codeblocks

# Codeblocks from the BCH encoder unit test of Yamcs (an operational mission control system):
# yamcs/yamcs yamcs-core/src/test/java/org/yamcs/tctm/ccsds/BchEncoderTest.java. No CCSDS 231.0-B
# worked example was found; these plus the algebraic checks below stand in for one.
YAMCS_CODEBLOCKS = ["22f600ff00421a12", "8cc00e010d19065a", "301b000900820054",
                    "10e4c1555555553e"]


def _gf2_mod(a: int, g: int) -> int:
    while a.bit_length() >= g.bit_length():
        a ^= g << (a.bit_length() - g.bit_length())
    return a


def test_bch_known_codeblocks():
    for h in YAMCS_CODEBLOCKS:
        cb = bytes.fromhex(h)
        assert bch_encode(cb[:7]) == cb
        assert bch_parity(cb[:7]) == cb[7]
        assert bch_decode(cb) == (cb[:7], BchStatus.CLEAN)
    assert bch_encode(bytes(7)) == bytes(7) + b"\xfe"  # parity 0 complemented, filler 0
    # the CLTU tail sequence is built to fail decoding
    assert bch_decode(bytes.fromhex("c5c5c5c5c5c5c579"))[1] == BchStatus.UNCORRECTABLE


def test_bch_codewords_are_multiples_of_g():
    rng = np.random.default_rng(10)
    for _ in range(200):
        cb = bch_encode(rng.integers(0, 256, 7, dtype=np.uint8).tobytes())
        assert cb[7] & 1 == 0  # filler bit
        word = int.from_bytes(cb, "big") >> 1  # 63 code bits, I0 = x^62
        assert _gf2_mod(word ^ 0x7F, BCH_GENERATOR) == 0  # un-complement the parity


def test_bch_single_errors_corrected_double_detected():
    rng = np.random.default_rng(11)
    for _ in range(4):
        info = rng.integers(0, 256, 7, dtype=np.uint8).tobytes()
        cb = int.from_bytes(bch_encode(info), "big")
        flip = lambda *ks: (cb ^ sum(1 << k for k in ks)).to_bytes(8, "big")  # noqa: E731
        for k in range(1, 64):
            assert bch_decode(flip(k)) == (info, BchStatus.CORRECTED), k
            assert bch_decode(flip(k), mode="ted") == (flip(k)[:7], BchStatus.UNCORRECTABLE)
        assert bch_decode(flip(0)) == (info, BchStatus.CLEAN)  # filler bit is ignored
        for k1, k2 in combinations(range(1, 64), 2):
            assert bch_decode(flip(k1, k2))[1] == BchStatus.UNCORRECTABLE, (k1, k2)
    assert BchStatus.CLEAN == 0 and BchStatus.CORRECTED == 1 and BchStatus.UNCORRECTABLE == -1


def test_bch_ted_detects_every_triple_error():
    info = bytes.fromhex("22f600ff00421a")
    cb = int.from_bytes(bch_encode(info), "big")
    for ks in combinations(range(1, 64), 3):
        bad = (cb ^ (1 << ks[0]) ^ (1 << ks[1]) ^ (1 << ks[2])).to_bytes(8, "big")
        assert bch_decode(bad, mode="ted")[1] == BchStatus.UNCORRECTABLE


# ================================================================================================
# bad input: one clear sentence, a user error where the type is right


@pytest.mark.parametrize("call,exc,needle", [
    (lambda: bch_encode(bytes(6)), FecInputError, "7 information bytes, got 6"),
    (lambda: bch_encode("abcdefg"), TypeError, "needs bytes"),
    (lambda: bch_decode(bytes(9)), FecInputError, "8-byte codeblock, got 9"),
    (lambda: bch_decode(bytes(8), mode="dec"), FecInputError, "'sec' or 'ted'"),
    (lambda: bch_parity([0] * 7), TypeError, "not list"),
    (lambda: golay24_encode(0x1000), FecInputError, "12-bit value"),
    (lambda: golay24_encode(-1), FecInputError, "12-bit value"),
    (lambda: golay24_encode(1.0), TypeError, "needs an int"),
    (lambda: golay24_encode(True), TypeError, "needs an int"),
    (lambda: golay24_decode(1 << 24), FecInputError, "24-bit value"),
    (lambda: golay24_decode_array(np.array([1 << 24])), FecInputError, "24-bit values"),
    (lambda: golay24_encode_array(np.array([0.5])), TypeError, "integer array"),
    (lambda: crc32c("123"), TypeError, "crc32c needs bytes"),
    (lambda: crc16_x25(b"1", value=0x10000), FecInputError, "outside"),
    (lambda: crc16_x25(np.zeros(3, np.int32)), TypeError, "needs bytes"),
    (lambda: check_fcs_x25(b"\x01"), FecInputError, "2 FCS bytes"),
    (lambda: randomize("text"), TypeError, "randomize needs bytes"),
    (lambda: ccsds_randomizer(-1), FecInputError, ">= 0"),
    (lambda: ccsds_randomizer(2.0), TypeError, "int byte count"),
    (lambda: nrzi_encode(np.array([0, 3])), FecInputError, "0 or 1"),
])
def test_bad_input_is_one_clear_sentence(call, exc, needle):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert needle in msg, msg
    assert "\n" not in msg
    if exc is FecInputError:
        assert isinstance(info.value, OrbitlinkError) and isinstance(info.value, ValueError)
