"""What ``decode --json`` says about every frame (issue 13, item 6).

* every family carries ``snr_db``, ``freq_offset_hz``, ``check`` and, where the framing has a
  sync marker, ``sync_errors``; for the FSK family (FSK, AFSK, AX100 over FSK) the first two come
  from the demodulator's eye (orbitlink.modem.quality), checked here against signals of known
  Es/N0 and carrier offset made by the channel simulator (the loopback), with a tolerance;
* AX.25 frames are printed decoded (``ax25`` object) and as TNC2 lines (``--format tnc2``);
* a WAV written by ``encode`` names its link (LIST/INFO chunk), so ``decode`` needs no --link.
"""

import json

import numpy as np
import pytest

from orbitlink.drivers.sigmf import open_recording
from orbitlink.drivers.wav import WavWriter, info_chunk, open_wav, parse_info
from orbitlink.flowgraphs.cli import main
from orbitlink.flowgraphs.links import load_link
from orbitlink.flowgraphs.loopback import loopback
from orbitlink.flowgraphs.runner import decode_recording
from orbitlink.framing import ax25


def _cli(capsys, argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _frames(link_name, tmp_path, *, esn0, cfo=0.0, medium=None, n=4, seed=3):
    """Frames (PDUs) decoded from a loopback recording: AWGN at ``esn0`` and a carrier offset
    of ``cfo`` Hz from the channel simulator."""
    link = load_link(link_name)
    r = loopback(link, n, esn0=esn0, cfo=cfo, medium=medium or link.medium,
                 out_dir=str(tmp_path), seed=seed)
    assert r.frames_ok == n
    got = [p for p in decode_recording(open_recording(r.recording), link) if p.meta["crc_ok"]]
    assert len(got) == n
    return got


# ----------------------------------------------------------------------------------------------
# the FSK family's estimates against the channel simulator


@pytest.mark.parametrize("cfo", [1500.0, -2000.0])
def test_fsk_iq_snr_and_offset_from_the_eye(tmp_path, cfo):
    """2-FSK 9600 Bd on IQ: the eye's SNR follows the channel's Es/N0 (measured: 12.7 dB at
    12 dB, 15.4 at 16; the eye saturates near 18.5 dB from ISI) and the discriminator's DC is
    the carrier offset."""
    got = _frames("ax25-fsk9600", tmp_path, esn0=14.0, cfo=cfo, medium="iq")
    for p in got:
        assert abs(p.meta["snr_db"] - 14.0) < 2.0, p.meta
        assert abs(p.meta["freq_offset_hz"] - cfo) < 40.0, p.meta
        assert p.meta["check"] == "fcs"


def test_fsk_audio_snr_and_offset_of_ax100_frames(tmp_path):
    """AX100 (ASM+Golay) over FSK as FM audio: SNR within 2 dB of Es/N0, and the offset (the
    audio's DC scaled by the eye and the link's deviation) within 5 %; sync_errors and check
    as for every family."""
    got = _frames("ax100-asm", tmp_path, esn0=16.0, cfo=1500.0)
    for p in got:
        assert abs(p.meta["snr_db"] - 16.0) < 2.0, p.meta
        assert abs(p.meta["freq_offset_hz"] - 1500.0) < 75.0, p.meta
        assert p.meta["sync_errors"] == p.meta["asm_errors"] == 0
        assert p.meta["check"] == "golay+rs"
    lo = _frames("ax100-asm", tmp_path / "lo", esn0=12.0)
    assert np.mean([p.meta["snr_db"] for p in lo]) < np.mean([p.meta["snr_db"] for p in got])
    assert all(abs(p.meta["freq_offset_hz"]) < 40.0 for p in lo)


def test_afsk_snr_rises_with_esn0_and_tone_offset_in_hz(tmp_path, capsys):
    """AFSK 1200: the eye's SNR rises with the channel's Es/N0 (FM-demodulated audio: within
    5 dB of it below the ISI limit); a transmitter whose tones sit 50 Hz high is reported
    +50 Hz (the AFSK discriminator's DC in Hz)."""
    a = _frames("ax25-afsk1200", tmp_path / "a", esn0=20.0, n=3)
    b = _frames("ax25-afsk1200", tmp_path / "b", esn0=30.0, n=3)
    sa, sb = (np.mean([p.meta["snr_db"] for p in x]) for x in (a, b))
    assert abs(sa - 20.0) < 5.0 and sb > sa + 1.0
    pays = tmp_path / "p.txt"
    pays.write_text(ax25.build(ax25.ui_frame("CQ", "N0CALL", b"tones high")).hex() + "\n")
    wav = tmp_path / "high.wav"
    rc, _, err = _cli(capsys, ["encode", "--link", "ax25-afsk1200", "--set", "mark=1250",
                               "--set", "space=2250", "--in", pays, "--out", wav])
    assert rc == 0, err
    rc, out, err = _cli(capsys, ["decode", wav, "--link", "ax25-afsk1200", "--json"])
    (g,) = [json.loads(x) for x in out.splitlines()]
    assert abs(g["freq_offset_hz"] - 50.0) < 10.0, g
    assert g["snr_db"] > 12.0


# ----------------------------------------------------------------------------------------------
# the same fields for every family


@pytest.mark.parametrize("link_name, sync", [
    ("ax25-afsk1200", False), ("ax25-fsk9600", False), ("ax100-asm", True),
    ("ax100-rs", True), ("u482c", True), ("bpsk", True), ("ccsds-rs", True),
])
def test_every_family_has_the_same_fields(link_name, sync, tmp_path, capsys):
    link = load_link(link_name)
    rng = np.random.default_rng(7)
    pays = [link.framing_spec.random_payload(link.framing_opts, rng, i) for i in range(2)]
    src = tmp_path / "p.txt"
    src.write_text("".join(p.hex() + "\n" for p in pays))
    out = tmp_path / ("s.wav" if link.medium == "audio" else "s.sigmf-meta")
    rc, _, err = _cli(capsys, ["encode", "--link", link_name, "--in", src, "--out", out])
    assert rc == 0, err
    rc, text, err = _cli(capsys, ["decode", out, "--json"])  # the link from the file
    assert rc == 0, err
    got = [json.loads(x) for x in text.splitlines()]
    assert [bytes.fromhex(g["hex"]) for g in got] == pays
    for g in got:
        assert isinstance(g["snr_db"], float) and g["snr_db"] > 10.0, g
        assert isinstance(g["freq_offset_hz"], float) and abs(g["freq_offset_hz"]) < 100.0, g
        assert g["check"] != "none" and g["crc_ok"] is True
        assert ("sync_errors" in g) == sync and g.get("sync_errors", 0) == 0
        # what was there before is still there
        assert {"sample_index", "time_s", "hex", "crc_ok"} <= set(g)


# ----------------------------------------------------------------------------------------------
# AX.25 decoded


def test_ax25_frames_decoded_in_json_and_as_tnc2(tmp_path, capsys):
    frames = [ax25.build(ax25.ui_frame("CQ", "N0CALL-7", b"Hello >world\x01",
                                       digipeaters=("WIDE1-1", "RELAY"))),
              ax25.build(ax25.ui_frame("APRS", "OK1ABC", b"!4903.50N/07201.75W-",
                                       pid=0xF0))]
    src = tmp_path / "p.txt"
    src.write_text("".join(f.hex() + "\n" for f in frames))
    wav = tmp_path / "ax.wav"
    assert _cli(capsys, ["encode", "--link", "ax25-afsk1200", "--in", src, "--out", wav])[0] == 0
    rc, out, _ = _cli(capsys, ["decode", wav, "--json"])
    got = [json.loads(x) for x in out.splitlines()]
    assert rc == 0 and len(got) == 2
    a = got[0]["ax25"]
    assert a["source"] == "N0CALL-7" and a["destination"] == "CQ"
    assert a["digipeaters"] == ["WIDE1-1", "RELAY"]
    assert a["pid"] == 0xF0 and a["type"] == "UI" and a["control"] == 3
    assert a["text"] == "Hello >world<0x01>"
    assert a["tnc2"] == "N0CALL-7>CQ,WIDE1-1,RELAY:Hello >world<0x01>"
    assert got[0]["fcs_ok"] is True and got[0]["check"] == "fcs"  # the old fields stay
    rc, out, _ = _cli(capsys, ["decode", wav, "--format", "tnc2"])
    assert rc == 0
    assert out.splitlines() == ["N0CALL-7>CQ,WIDE1-1,RELAY:Hello >world<0x01>",
                                "OK1ABC>APRS:!4903.50N/07201.75W-"]


def test_non_ax25_frames_have_no_ax25_object_and_print_as_text_in_tnc2(tmp_path, capsys):
    out = tmp_path / "u.wav"
    pays = tmp_path / "q.txt"
    pays.write_text(bytes(range(20)).hex() + "\n")
    assert _cli(capsys, ["encode", "--link", "ax100-asm", "--in", pays, "--out", out])[0] == 0
    rc, text, _ = _cli(capsys, ["decode", out, "--json"])
    (g,) = [json.loads(x) for x in text.splitlines()]
    assert "ax25" not in g
    rc, text, _ = _cli(capsys, ["decode", out, "--format", "tnc2"])
    assert rc == 0 and "CRC ok" in text and bytes(range(20)).hex() in text


def test_decode_format_sample_format_and_tnc2_together(tmp_path, capsys):
    """``--format`` keeps naming a raw file's sample format; ``tnc2`` can ride along."""
    from orbitlink.flowgraphs.cli import UsageError, _split_format

    assert _split_format("cf32_le") == ("cf32_le", None)
    assert _split_format("tnc2") == (None, "tnc2")
    assert _split_format("cu8,tnc2") == ("cu8", "tnc2")
    with pytest.raises(UsageError):
        _split_format("tnc2,json")


# ----------------------------------------------------------------------------------------------
# WAV files name their link


def test_wav_info_chunk_round_trip(tmp_path):
    info = {"ISFT": "orbitlink", "ICMT": "orbitlink:link=u482c\nother=1"}
    assert parse_info(info_chunk(info)[8:]) == info
    p = tmp_path / "x.wav"
    with WavWriter(p, 48000, sample_format="int16", info=info) as w:
        w.write(np.zeros(101))
    rec = open_wav(p)
    assert rec.info == info and rec.num_samples == 101
    assert rec.meta == {"global": {"orbitlink:link": "u482c"}}
    # the data chunk still follows the fmt chunk (direwolf's atest wants it there)
    raw = p.read_bytes()
    assert raw[36:40] == b"data" and raw.endswith(info_chunk(info))
    # a WAV without the chunk names nothing
    q = tmp_path / "y.wav"
    with WavWriter(q, 48000) as w:
        w.write(np.zeros(10))
    assert open_wav(q).meta == {} and open_wav(q).info == {}


def test_encoded_wav_names_its_link_for_decode(tmp_path, capsys):
    pays = tmp_path / "p.txt"
    pays.write_text(bytes(range(30)).hex() + "\n")
    wav = tmp_path / "u.wav"
    assert _cli(capsys, ["encode", "--link", "u482c", "--in", pays, "--out", wav])[0] == 0
    assert open_wav(wav).meta["global"]["orbitlink:link"] == "u482c"
    rc, out, err = _cli(capsys, ["decode", wav, "--json"])
    assert rc == 0, err
    assert [json.loads(x)["hex"] for x in out.splitlines()] == [bytes(range(30)).hex()]
    assert "link u482c" in err
    # --link still wins over what the file says
    rc, out, err = _cli(capsys, ["decode", wav, "--link", "ax25-afsk1200", "--json"])
    assert rc == 0 and "link ax25-afsk1200" in err
