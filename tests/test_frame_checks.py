"""No false frames: a frame is good only if a check passed (issue 13, item 2).

Every received frame carries ``check`` (``crc``, ``fcs``, ``rs``, ``golay+rs``, ``crc+rs``,
``bch``, ... or ``none``); ``crc_ok`` follows from it (a frame with check ``none`` is never
good), ``decode`` prints such frames only with ``--all-frames`` and the sinks do not count them
as good. The two false frames the issue reports are tested here: a U482C frame whose header says
"no Reed-Solomon", and an all-zero Reed-Solomon codeword read as a CCSDS frame.
"""

import json

import numpy as np
import pytest

from orbitlink.drivers.interfaces import StreamInfo
from orbitlink.flowgraphs.cli import main
from orbitlink.flowgraphs.links import load_link
from orbitlink.flowgraphs.sinks import FramesSink
from orbitlink.framing._base import FrameMeta, settle_check
from orbitlink.framing.coded import CodedDeframer, CodedFramer, check_name, CodedFrameParams
from orbitlink.framing.u482c import U482cDeframer, u482c_encode
from orbitlink.modem.block import SYM_DTYPE, Pdu


def _run_cli(capsys, argv):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ----------------------------------------------------------------------------------------------
# FrameMeta: crc_ok derives from check


@pytest.mark.parametrize("meta, check, ok", [
    ({}, "none", False),  # nothing says anything: not good (the old default was True)
    ({"crc_ok": True}, "none", False),  # a verdict without a named check is not a check
    ({"fcs_ok": True}, "fcs", True),  # the HDLC deframer
    ({"fcs_ok": False}, "fcs", False),
    ({"rs_ok": True}, "rs", True),
    ({"fec_ok": False}, "fec", False),
    ({"check": "golay+rs"}, "golay+rs", True),  # named check, deframer emits only passes
    ({"check": "crc", "crc_ok": False}, "crc", False),
    ({"check": "none", "crc_ok": True, "rs_ok": True}, "none", False),
])
def test_crc_ok_follows_the_check(meta, check, ok):
    m = settle_check(dict(meta))
    assert m["check"] == check
    assert m["crc_ok"] is ok
    out = FrameMeta().process([Pdu(b"x", dict(meta, sample_index=5))])[0]
    assert out.meta["check"] == check and out.meta["crc_ok"] is ok


def test_check_names_of_coded_links():
    assert check_name(CodedFrameParams(crc="none", rs_e=16)) == "rs"
    assert check_name(CodedFrameParams(crc="crc16", rs_e=16)) == "crc+rs"
    assert check_name(CodedFrameParams(crc="crc16", rs_e=0)) == "crc"
    assert check_name(CodedFrameParams(crc="none", rs_e=0)) == "none"


# ----------------------------------------------------------------------------------------------
# (a) U482C frame whose header says "no Reed-Solomon"


def _u482c_llr(frames, rng):
    parts = [rng.standard_normal(100)]
    for pay, flags in frames:
        bits = np.unpackbits(np.frombuffer(b"\xaa" * 4 + u482c_encode(pay, **flags), np.uint8))
        parts += [(2.0 * bits - 1.0) * 4.0 + 0.3 * rng.standard_normal(len(bits)),
                  rng.standard_normal(50)]
    return np.concatenate(parts).astype(np.float32)


def test_u482c_frame_without_rs_is_not_good():
    rng = np.random.default_rng(1)
    with_rs, without = b"checked by RS", b"nothing checks this"
    llr = _u482c_llr([(with_rs, {}), (without, dict(rs=False)),
                      (without, dict(rs=False, viterbi=True))], rng)
    link = load_link("u482c")
    pdus = [link.finish(p) for p in U482cDeframer().run(llr)]
    assert [bytes(p.data) for p in pdus] == [with_rs, without, without]
    assert [p.meta["check"] for p in pdus] == ["golay+rs", "none", "none"]
    assert [p.meta["crc_ok"] for p in pdus] == [True, False, False]


def test_u482c_no_rs_frame_hidden_unless_all_frames(tmp_path, capsys):
    pay = tmp_path / "pay.txt"
    pay.write_text(b"no RS here".hex() + "\n")
    wav = tmp_path / "norss.wav"
    rc, _, _ = _run_cli(capsys, ["encode", "--link", "u482c", "--set", "framing.rs=false",
                                 "--in", str(pay), "--out", str(wav)])
    assert rc == 0
    rc, out, err = _run_cli(capsys, ["decode", str(wav), "--link", "u482c", "--json"])
    assert rc == 0 and out.strip() == ""  # the false frame of the issue is gone
    assert "0 frames (0 with a good CRC)" in err and "--all-frames" in err
    rc, out, err = _run_cli(capsys, ["decode", str(wav), "--link", "u482c", "--json",
                                     "--all-frames"])
    got = _json_lines(out)
    assert rc == 0 and len(got) == 1
    assert got[0]["hex"] == b"no RS here".hex()
    assert got[0]["check"] == "none" and got[0]["crc_ok"] is False
    assert "1 frames (0 with a good CRC)" in err
    # text output says so too
    rc, out, _ = _run_cli(capsys, ["decode", str(wav), "--link", "u482c", "--all-frames"])
    assert "NOCHECK" in out and "CRC ok" not in out


# ----------------------------------------------------------------------------------------------
# (b) an all-zero Reed-Solomon codeword as a CCSDS frame


def _coded_symbols(payloads, rng, **kw):
    fr = CodedFramer(**kw)
    bits = np.concatenate([rng.integers(0, 2, 64).astype(np.uint8), fr.run(
        [Pdu(p) for p in payloads]), rng.integers(0, 2, 64).astype(np.uint8)])
    z = 1.0 - 2.0 * bits + 0.1 * (rng.standard_normal(len(bits))
                                  + 1j * rng.standard_normal(len(bits)))
    rec = np.zeros(len(z), SYM_DTYPE)
    rec["z"] = z
    rec["t"] = 4.0 * np.arange(len(z))
    return rec


@pytest.mark.parametrize("randomizer", [True, False])
def test_all_zero_rs_codeword_is_not_a_frame(randomizer):
    rng = np.random.default_rng(2)
    kw = dict(payload_len=40, rs_e=16, rs_interleave=1, rs_fill=183, conv="none", crc="none",
              randomizer=randomizer)
    data = bytes(rng.integers(0, 256, 40, dtype=np.uint8))
    zero = bytes(40)
    sym = _coded_symbols([data, zero, data], rng, **kw)
    d = CodedDeframer(**kw)
    got = d.run(sym)
    assert [bytes(p.data) for p in got] == [data, data]
    assert all(p.meta["check"] == "rs" and p.meta["crc_ok"] for p in got)
    assert d.stats["idle_dropped"] == 1
    # a link that says idle frames are expected gets it
    got = CodedDeframer(**kw, idle_frames=True).run(sym)
    assert [bytes(p.data) for p in got] == [data, zero, data]


def test_constant_codeblock_is_not_a_frame_even_when_failed_frames_are_emitted():
    rng = np.random.default_rng(3)
    kw = dict(payload_len=40, rs_e=16, rs_interleave=1, rs_fill=183, conv="none", crc="none",
              randomizer=True)
    fr = CodedFramer(**kw)
    asm = fr.asm_bits
    dead = np.concatenate([rng.integers(0, 2, 40).astype(np.uint8), asm,
                           np.zeros(8 * fr.frame_bytes, np.uint8),
                           rng.integers(0, 2, 40).astype(np.uint8)])
    z = (1.0 - 2.0 * dead).astype(np.complex128)
    rec = np.zeros(len(z), SYM_DTYPE)
    rec["z"], rec["t"] = z, np.arange(len(z), dtype=float)
    assert CodedDeframer(**kw, emit_failed=True).run(rec) == []


def test_ccsds_link_idle_frames_option(tmp_path, capsys):
    """The link says whether idle frames are expected (``framing.idle_frames``)."""
    link = load_link("ccsds-rs")
    assert "idle_frames" in link.framing_spec.options()
    rng = np.random.default_rng(4)
    data = bytes(rng.integers(0, 256, 1115, dtype=np.uint8))
    pay = tmp_path / "pay.txt"
    pay.write_text(f"{data.hex()}\n{bytes(1115).hex()}\n{data.hex()}\n")
    rec = tmp_path / "rs.sigmf-meta"
    rc, _, _ = _run_cli(capsys, ["encode", "--link", "ccsds-rs", "--in", str(pay),
                                 "--out", str(rec)])
    assert rc == 0
    rc, out, _ = _run_cli(capsys, ["decode", str(rec), "--json"])
    got = _json_lines(out)
    assert rc == 0 and [g["hex"] for g in got] == [data.hex(), data.hex()]
    assert all(g["check"] == "rs" and g["crc_ok"] for g in got)
    rc, out, _ = _run_cli(capsys, ["decode", str(rec), "--json", "--set",
                                   "framing.idle_frames=true"])
    assert [g["hex"] for g in _json_lines(out)] == [data.hex(), bytes(1115).hex(), data.hex()]


# ----------------------------------------------------------------------------------------------
# every framing names its check


@pytest.mark.parametrize("link_name, check", [
    ("ax25-fsk9600", "fcs"), ("ax25-afsk1200", "fcs"), ("ax100-asm", "golay+rs"),
    ("ax100-rs", "rs"), ("ccsds-rs", "rs"), ("ccsds-concat", "rs"), ("bpsk", "crc"),
    ("u482c", "golay+rs"), ("tc-uplink", "crc"),
])
def test_every_family_names_its_check(link_name, check, tmp_path):
    from orbitlink.drivers.sigmf import open_recording
    from orbitlink.flowgraphs.encode import encode
    from orbitlink.flowgraphs.runner import decode_recording

    link = load_link(link_name)
    rng = np.random.default_rng(5)
    pays = [link.framing_spec.random_payload(link.framing_opts, rng, i) for i in range(2)]
    (tmp_path / "pay.txt").write_text("".join(p.hex() + "\n" for p in pays))
    out = tmp_path / ("sig.wav" if link.medium == "audio" else "sig.sigmf-meta")
    encode(link, str(tmp_path / "pay.txt"), str(out), samp_rate=link.samp_rate,
           medium=link.medium)
    frames = list(decode_recording(open_recording(out), link))
    assert sorted(bytes(p.data) for p in frames) == sorted(pays)
    assert all(p.meta["check"] == check and p.meta["crc_ok"] for p in frames)


# ----------------------------------------------------------------------------------------------
# sinks count only checked frames


def test_frames_sink_counts_and_hides_unchecked(capsys):
    good = Pdu(b"\x01", {"sample_index": 0, "time_s": 0.0, "check": "crc", "crc_ok": True})
    bad = Pdu(b"\x02", {"sample_index": 1, "time_s": 0.1, "check": "crc", "crc_ok": False})
    none = Pdu(b"\x03", {"sample_index": 2, "time_s": 0.2, "check": "none", "crc_ok": False})
    s = FramesSink(format="json")
    s.open(StreamInfo(48000.0, "f32"))
    s.write([good, bad, none])
    lines = _json_lines(capsys.readouterr().out)
    assert [g["hex"] for g in lines] == ["01", "02"]
    assert s.counters == {"frames": 2, "frames_ok": 1, "frames_unchecked": 1}
    s = FramesSink(format="json", all_frames=True)
    s.open(StreamInfo(48000.0, "f32"))
    s.write([good, bad, none])
    assert [g["hex"] for g in _json_lines(capsys.readouterr().out)] == ["01", "02", "03"]
    assert s.counters == {"frames": 3, "frames_ok": 1, "frames_unchecked": 1}


def test_bus_sink_does_not_count_unchecked_frames():
    from orbitlink.flowgraphs.station_sinks import BusSink

    class _Pub:
        sent = dropped = 0
        endpoint = "inproc://x"
        records = []

        def publish_frame(self, station, link, rec, data, *a):
            self.records.append(rec)
            self.sent += 1

        def __getattr__(self, name):
            return lambda *a, **k: None

    s = BusSink(publisher=_Pub())
    none = Pdu(b"\x03", {"sample_index": 2, "time_s": 0.2, "check": "none", "crc_ok": False})
    good = Pdu(b"\x01", {"sample_index": 0, "time_s": 0.0, "check": "fcs", "crc_ok": True})
    s.counters["frames"] = s.counters["frames_ok"] = 0
    s._rec_time = None
    s._t0 = None
    s._last_sample = 0
    s._last_stats = 0.0
    s._closed = False
    s._sent0 = (0, 0)
    s.write([good, none])
    assert s.counters["frames_ok"] == 1 and s.counters["frames"] == 2
    assert [r["check"] for r in s.publisher.records] == ["fcs", "none"]
