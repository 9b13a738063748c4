"""Real satellite recordings: decode what gr-satellites decodes, or more.

tests/data/recordings holds eleven public-domain recordings of real satellites (48 kHz mono WAV:
FM-demodulated audio for the FSK family, SSB audio for BPSK) and, in frames/<file>.hex, the
frames gr-satellites 4.4.0 decodes from each (union of seven runs). For every file we must find
at least as many frames, and every one of theirs byte for byte among ours.

The only per-file settings are what a user passes on the command line: the link name and, where
the link's default differs, the baud rate. Carrier, deviation, clock and polarity are the
receivers' business.
"""

import json
from pathlib import Path

import pytest

from orbitlink.drivers.sigmf import open_recording
from orbitlink.flowgraphs.links import load_link
from orbitlink.flowgraphs.runner import decode_recording

DATA = Path(__file__).parent / "data" / "recordings"

#: file -> (link, --set overrides, family as recordings.tsv names it)
CASES = {
    "swiatowid-ax25.wav": ("ax25-afsk1200", {}, "AX.25 AFSK 1200"),
    "koyo.wav": ("ax25-fsk9600", {}, "AX.25 G3RUH FSK 9600"),
    "us04.wav": ("ax25-fsk9600", {}, "AX.25 G3RUH FSK 9600"),
    "quetzal1.wav": ("ax25-fsk4800", {}, "AX.25 G3RUH FSK 4800"),
    "delphini1.wav": ("ax100-asm", {}, "GOMspace AX100 ASM+Golay (FSK)"),
    "luojia-1.wav": ("ax100-asm", {"baud": "4800"}, "GOMspace AX100 ASM+Golay (FSK)"),
    "ca03_9k6.wav": ("ax100-rs", {}, "GOMspace AX100 Reed-Solomon (FSK)"),
    "by701.wav": ("ccsds-concat-diff", {}, "CCSDS concatenated conv+RS (BPSK)"),
    "ao73.wav": ("funcube", {}, "FUNcube AO-40 (DBPSK)"),
    "aisat.wav": ("u482c", {}, "GOMspace U482C"),
    "picsat_9k6.wav": ("ax25-bpsk-g3ruh", {}, "AX.25 G3RUH BPSK 9600"),
}


def reference_frames(name: str) -> list[bytes]:
    lines = (DATA / "frames" / name.replace(".wav", ".hex")).read_text().split()
    return [bytes.fromhex(s) for s in lines]


def decode_file(name: str) -> list:
    link_name, sets, _ = CASES[name]
    link = load_link(link_name, sets)
    rec = open_recording(DATA / name)
    return list(decode_recording(rec, link))


def test_every_recording_has_a_case():
    wavs = sorted(p.name for p in DATA.glob("*.wav"))
    assert wavs == sorted(CASES)
    tsv = (DATA / "recordings.tsv").read_text().splitlines()[1:]
    assert {row.split("\t")[0] for row in tsv} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_recording_decodes_at_least_what_gr_satellites_decodes(name):
    theirs = reference_frames(name)
    frames = decode_file(name)
    good = [bytes(p.data) for p in frames if p.meta["crc_ok"]]
    missing = [f.hex() for f in theirs if f not in good]
    assert not missing, f"{name}: {len(missing)} of gr-satellites' {len(theirs)} frames not " \
                        f"found (we decoded {len(good)}): {missing[:2]}"
    assert len(good) >= len(theirs)
    # every frame we report as good is in stream order and has a time
    t = [p.meta["time_s"] for p in frames]
    assert t == sorted(t)


def test_decode_cli_on_a_recording(capsys):
    from orbitlink.flowgraphs.cli import main

    rc = main(["decode", str(DATA / "koyo.wav"), "--link", "ax25-fsk9600", "--json"])
    out = capsys.readouterr()
    assert rc == 0
    got = [json.loads(line) for line in out.out.splitlines()]
    hexes = {g["hex"] for g in got if g["crc_ok"]}
    assert {f.hex() for f in reference_frames("koyo.wav")} <= hexes
    assert "of audio" in out.err


def test_decode_cli_baud_override(capsys):
    """``--set baud=4800`` is how a user decodes a 4k8 recording with a 9k6 link."""
    from orbitlink.flowgraphs.cli import main

    rc = main(["decode", str(DATA / "luojia-1.wav"), "--link", "ax100-asm", "--set",
               "baud=4800", "--json"])
    out = capsys.readouterr()
    assert rc == 0
    hexes = {json.loads(line)["hex"] for line in out.out.splitlines()}
    assert {f.hex() for f in reference_frames("luojia-1.wav")} <= hexes


# ------------------------------------------------------------------------------------------------
# other sample rates and the IQ medium, from the same real signals


def _write(tmp_path, name, x, rate, channels):
    from orbitlink.drivers.wav import WavWriter

    p = tmp_path / name
    with WavWriter(p, rate, channels=channels) as w:
        w.write(x)
    return p


def _audio(name):
    import numpy as np

    rec = open_recording(DATA / name)
    return np.concatenate(list(rec.chunks())), rec.samp_rate


@pytest.mark.parametrize("name,rate", [("koyo.wav", 44100), ("koyo.wav", 22050),
                                       ("swiatowid-ax25.wav", 11025),
                                       ("picsat_9k6.wav", 44100), ("aisat.wav", 32000)])
def test_recording_at_another_sample_rate(tmp_path, name, rate):
    """The receivers take any input rate: the recording resampled (44.1 kHz, 22.05 kHz: 2.3
    samples per 9600 Bd symbol, ...) decodes to the same frames."""
    from orbitlink.modem.audio import RealResampler

    x, fs = _audio(name)
    y = RealResampler(in_rate=fs, out_rate=float(rate)).run(x)
    p = _write(tmp_path, "resampled.wav", y, rate, 1)
    link_name, sets, _ = CASES[name]
    got = [bytes(q.data) for q in decode_recording(open_recording(p), load_link(link_name, sets))
           if q.meta["crc_ok"]]
    assert all(f in got for f in reference_frames(name))


@pytest.mark.parametrize("name", ["koyo.wav", "delphini1.wav", "swiatowid-ax25.wav"])
def test_fm_recording_as_iq(tmp_path, name):
    """The FM signal itself (complex baseband, stereo WAV I/Q): the receiver puts an FM
    discriminator in front (AFSK: IF filter, discriminator, then the tone demodulator)."""
    import numpy as np

    from orbitlink.modem.adapters import FmModulator

    x, fs = _audio(name)
    x = x / np.max(np.abs(x))
    link_name, sets, _ = CASES[name]
    link = load_link(link_name, sets)
    iq = FmModulator(samp_rate=fs, deviation=link.fsk_deviation * 2).run(x)
    iq *= np.exp(2j * np.pi * 700.0 / fs * np.arange(len(iq)))  # 700 Hz off tune
    p = _write(tmp_path, "iq.wav", iq, int(fs), 2)
    rec = open_recording(p)
    assert rec.kind == "iq"
    got = [bytes(q.data) for q in decode_recording(rec, link) if q.meta["crc_ok"]]
    assert all(f in got for f in reference_frames(name))


@pytest.mark.parametrize("name", sorted(CASES))
def test_recording_decode_does_not_depend_on_chunking(name):
    """End to end, the chain gives the same frames, metadata included, for 777- and
    4099-sample chunks as for the default 65536. (This found a matched-filter read one sample
    past the end of a chunk when the timing instant rounds up to the next sample.)"""
    link_name, sets, _ = CASES[name]
    ref = list(decode_recording(open_recording(DATA / name), load_link(link_name, sets)))
    assert ref
    for chunk in (777, 4099):
        got = list(decode_recording(open_recording(DATA / name), load_link(link_name, sets),
                                    chunk=chunk))
        assert got == ref, chunk
