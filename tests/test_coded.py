"""Frame codec stages and the coded (CCSDS) framer/deframer."""

import numpy as np
import pytest

from orbitlink import OrbitlinkError
from orbitlink.framing.coded import CodedDeframer, CodedFramer
from orbitlink.modem.block import SYM_DTYPE, Pdu
from orbitlink.modem.fec.codec import (AsmStage, ConvStage, CrcStage, FrameCodec,
                                       RandomizerStage, RsStage)
from orbitlink.modem.fec.scramble import ccsds_randomizer
from orbitlink.modem.modulation import Modulation


def test_codec_runs_stages_in_order_and_back():
    rng = np.random.default_rng(0)
    payload = bytes(rng.integers(0, 256, 1115).astype(np.uint8))
    codec = FrameCodec([RsStage(e=16, interleave=5), RandomizerStage(), AsmStage()])
    block = codec.encode(payload)
    assert len(block) == codec.encoded_length(1115) == 4 + 1275
    assert block[:4] == bytes.fromhex("1ACFFC1D")  # the ASM is not randomized
    rs_only = FrameCodec([RsStage(e=16, interleave=5)]).encode(payload)
    assert bytes(a ^ b for a, b in zip(block[4:], rs_only)) == ccsds_randomizer(1275)
    out, info = codec.decode(block)
    assert out == payload and info["ok"] and info["rs_corrected"] == 0
    assert info["asm_errors"] == 0


def test_codec_corrects_and_reports_failure_as_result():
    rng = np.random.default_rng(1)
    payload = bytes(rng.integers(0, 256, 223 * 2).astype(np.uint8))
    codec = FrameCodec([RsStage(e=16, interleave=2), RandomizerStage()])
    block = bytearray(codec.encode(payload))
    for i in range(0, 32):  # 16 errors in each of the two interleaved codewords
        block[3 * i] ^= 0x5A
    out, info = codec.decode(bytes(block))
    assert out == payload and info["ok"] and info["rs_corrected"] == 32
    for i in range(0, 40):
        block[3 * i + 1] ^= 0xA5
    out, info = codec.decode(bytes(block))
    assert not info["ok"] and not info["rs_ok"]


def test_crc_stage_detects_corruption():
    codec = FrameCodec([CrcStage(), RandomizerStage()])
    block = bytearray(codec.encode(b"hello world"))
    assert codec.decode(bytes(block)) == (b"hello world", {"ok": True, "crc_ok": True})
    block[3] ^= 1
    _, info = codec.decode(bytes(block))
    assert info == {"ok": False, "crc_ok": False}
    with pytest.raises(OrbitlinkError, match="bytes"):
        codec.encode("text")


def test_conv_stage_terminated_round_trip():
    rng = np.random.default_rng(2)
    data = bytes(rng.integers(0, 256, 64).astype(np.uint8))
    st = ConvStage()
    coded = st.encode(data)
    assert len(coded) == st.encoded_length(64) == 2 * (8 * 64 + 6)
    llr = (2.0 * coded - 1.0) * 4 + rng.standard_normal(len(coded))
    assert st.decode(llr.astype(np.float32), {}) == data


def _records(z):
    rec = np.zeros(len(z), SYM_DTYPE)
    rec["z"] = z
    rec["t"] = 4.0 * np.arange(len(z))
    rec["f"] = 0.0
    return rec


@pytest.mark.parametrize("mod,conv", [("bpsk", "none"), ("qpsk", "none"), ("bpsk", "CCSDS"),
                                      ("qpsk", "CCSDS")])
def test_deframer_resolves_every_rotation(mod, conv):
    """Each carrier rotation, with and without the convolutional code, and RS + randomizer."""
    from orbitlink.modem.fec.conv import ConvEncoder

    rng = np.random.default_rng(3)
    kw = dict(modulation=mod, payload_len=223, rs_e=16, rs_interleave=1, conv=conv)
    fr = CodedFramer(**kw)
    m = Modulation(mod)
    for rot in range(m.order):
        pays = [bytes(rng.integers(0, 256, 223).astype(np.uint8)) for _ in range(3)]
        bits = np.concatenate([rng.integers(0, 2, 200).astype(np.uint8),
                               fr.run([Pdu(p) for p in pays]),
                               rng.integers(0, 2, 200).astype(np.uint8)])
        if conv != "none":
            bits = ConvEncoder(variant=conv).run(bits)
        if len(bits) % m.bits_per_symbol:
            bits = np.concatenate([bits, [0]]).astype(np.uint8)
        z = m.modulate_bits(bits) * np.exp(2j * np.pi * rot / m.order)
        sigma = 0.3 if conv != "none" else 0.15  # Es/N0 7.4 dB coded, 13.5 dB RS only
        z = z + sigma * (rng.standard_normal(len(z)) + 1j * rng.standard_normal(len(z)))
        out = CodedDeframer(**kw).run(_records(z.astype(np.complex64)))
        assert [p.data for p in out] == pays, (mod, conv, rot)
        assert all(p.meta["crc_ok"] and p.meta["rs_ok"] for p in out)


def test_deframer_skips_failed_frames_unless_asked():
    rng = np.random.default_rng(4)
    kw = dict(modulation="bpsk", payload_len=100, rs_e=0, crc="crc16", conv="none")
    pays = [bytes(rng.integers(0, 256, 100).astype(np.uint8)) for _ in range(3)]
    bits = CodedFramer(**kw).run([Pdu(p) for p in pays])
    bits[32 + 8 * 150 + 5] ^= 1  # a bit of the second frame's payload
    z = Modulation("bpsk").modulate_bits(bits)
    out = CodedDeframer(**kw).run(_records(z))
    assert [p.data for p in out] == [pays[0], pays[2]]
    out = CodedDeframer(emit_failed=True, **kw).run(_records(z))
    assert len(out) == 3 and [p.meta["crc_ok"] for p in out] == [True, False, True]


def test_framer_rejects_wrong_payload_length():
    with pytest.raises(OrbitlinkError, match="carries 223-byte"):
        CodedFramer(payload_len=223, rs_interleave=1).frame_bits(b"short")


@pytest.mark.parametrize("link,ebn0", [("ccsds-concat", 3.5), ("ccsds-conv", 5.0),
                                       ("ccsds-rs", 7.0)])
def test_ccsds_links_loop_back_through_the_psk_receiver(link, ebn0, capsys):
    """The coded links end to end: TX, channel (offset, clock error, noise), SigMF file, the
    full PSK receiver (no genie), Viterbi / RS / derandomizer, frames compared."""
    import json

    from orbitlink.flowgraphs.cli import main

    assert main(["loopback", "--link", link, "--frames", "4", "--ebn0", str(ebn0),
                 "--cfo", "1800", "--sro", "-120", "--json", "--seed", "3"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["frames_sent"] == r["frames_found"] == r["frames_ok"] == 4
    assert r["bit_errors"] == 0 and r["bits"] == 4 * 8 * (1113 if link == "ccsds-conv" else 1115)
    assert abs(r["freq_offset_hz"] - 1800) < 5


def test_coded_decode_cli_reports_rs_corrections(tmp_path, capsys):
    import json

    from orbitlink.flowgraphs.cli import main

    rng = np.random.default_rng(5)
    pays = tmp_path / "p.txt"
    pays.write_text("\n".join(bytes(rng.integers(0, 256, 1115).astype(np.uint8)).hex()
                              for _ in range(2)))
    assert main(["encode", "--link", "ccsds-concat", "--in", str(pays),
                 "--out", str(tmp_path / "c.sigmf-meta")]) == 0
    capsys.readouterr()
    assert main(["decode", str(tmp_path / "c.sigmf-meta"), "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["hex"] for r in rows] == pays.read_text().splitlines()
    assert all(r["rs_ok"] and r["rs_corrected"] == 0 and r["crc_ok"] for r in rows)


def _rs_stream(rng, n, asm_damage=None):
    kw = dict(modulation="bpsk", payload_len=223, rs_e=16, rs_interleave=1, conv="none")
    pays = [bytes(rng.integers(0, 256, 223).astype(np.uint8)) for _ in range(n)]
    bits = CodedFramer(**kw).run([Pdu(p) for p in pays])
    flen = len(bits) // n
    for i, nerr in (asm_damage or {}).items():
        idx = rng.choice(32, nerr, replace=False)
        bits[i * flen + idx] ^= 1
    bits = np.concatenate([rng.integers(0, 2, 300).astype(np.uint8), bits,
                           rng.integers(0, 2, 300).astype(np.uint8)])
    return kw, pays, _records(Modulation("bpsk").modulate_bits(bits))


def test_flywheel_decodes_frames_whose_marker_is_damaged():
    """Frames follow each other: once locked, a frame is decoded where it must be, even with a
    marker the search would reject; the first frame, before any lock, is found backwards from
    the second."""
    rng = np.random.default_rng(8)
    kw, pays, rec = _rs_stream(rng, 4, {0: 9, 2: 12})
    out = CodedDeframer(**kw).run(rec)
    assert [p.data for p in out] == pays
    assert [p.meta["asm_errors"] for p in out] == [9, 0, 12, 0]


def test_flywheel_does_not_flip_polarity_on_a_mostly_inverted_marker():
    """The complement of an RS codeblock is a codeblock: a marker with 25 bit errors (7 from
    the inverted marker: not within the search threshold) must not make the deframer
    deliver the complemented payload."""
    rng = np.random.default_rng(9)
    kw, pays, rec = _rs_stream(rng, 3, {1: 22})
    out = CodedDeframer(**kw).run(rec)
    assert [p.data for p in out] == pays
    assert not any(p.meta["inverted"] for p in out)


def test_flywheel_takes_the_marker_after_a_gap_not_a_shifted_codeword():
    """Frames separated by idle gaps of whole bytes: the window where the flywheel expects the
    next frame is then a cyclic shift of a full-length RS(255,223) codeword plus a few wrong
    bytes, which RS "corrects". The deframer must take the clean marker after the gap."""
    rng = np.random.default_rng(12)
    kw = dict(modulation="bpsk", payload_len=223, rs_e=16, rs_interleave=1, conv="none")
    pays = [bytes(rng.integers(0, 256, 223).astype(np.uint8)) for _ in range(5)]
    fr = CodedFramer(**kw)
    parts = [rng.integers(0, 2, 300).astype(np.uint8)]
    for p in pays:
        parts += [fr.frame_bits(p), rng.integers(0, 2, 64).astype(np.uint8)]
    rec = _records(Modulation("bpsk").modulate_bits(np.concatenate(parts)))
    for sizes in ([len(rec)], [700] * (len(rec) // 700 + 1)):
        d = CodedDeframer(**kw)
        out, i = [], 0
        for s in sizes:
            out += d.process(rec[i:i + s])
            i += s
        out += d.flush()
        assert [p.data for p in out] == pays
        assert all(p.meta["asm_errors"] == 0 for p in out)
