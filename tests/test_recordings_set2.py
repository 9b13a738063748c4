"""Set 2: recordings of satellites nobody tuned the receivers for.

tests/data/recordings/set2 holds 23 public-domain recordings (48 kHz mono WAV: FM-demodulated
audio for the FSK family, SSB audio for BPSK) of satellites the receivers were not developed on,
and in frames/<file>.hex the frames gr-satellites 4.4.0 decodes from each (recordings.tsv gives
the options gr-satellites needed: on several files hand-tuned ones).

Per file the test gives only what a user knows from the satellite's published parameters: the
link (family), the baud rate, the framing variant (AX.25 with or without the G3RUH scrambler)
and the frame length. No receiver settings. Every frame gr-satellites lists must be found byte
for byte among the frames whose check (CRC, FCS, Reed-Solomon) passed.

Not here: smog_p.wav and smog_p_5k.wav (SMOG-P signalling and AO-40 FEC short frames, framings
added separately) and tanusha3_pm.wav (gr-satellites finds no frame in it).
"""

from pathlib import Path

import pytest

from orbitlink.drivers.sigmf import open_recording
from orbitlink.flowgraphs.links import load_link
from orbitlink.flowgraphs.runner import decode_recording

DATA = Path(__file__).parent / "data" / "recordings" / "set2"

#: files not in the table, and why
EXCLUDED = {
    "smog_p.wav": "SMOG-P signalling / AO-40 FEC short framings (another change)",
    "smog_p_5k.wav": "SMOG-P signalling / AO-40 FEC short / RA framings (another change)",
    "tanusha3_pm.wav": "gr-satellites decodes 0 frames from it",
}

#: file -> (link, --set overrides, family as recordings.tsv names it): link from the family,
#: baud from the baud column, framing variant and frame length from the framing/fec columns
CASES = {
    "1kuns_pf.wav": ("ax100-asm", {"baud": "1200"}, "GOMspace AX100 ASM+Golay (FSK)"),
    "innosat_2.wav": ("ax100-asm", {"baud": "4800"}, "GOMspace AX100 ASM+Golay (FSK)"),
    "spooqy_1.wav": ("ax100-asm", {}, "GOMspace AX100 ASM+Golay (FSK)"),
    "ty_2.wav": ("ax100-asm", {}, "GOMspace AX100 ASM+Golay (FSK)"),
    "ca03.wav": ("ax100-rs", {"baud": "4800"}, "GOMspace AX100 Reed-Solomon (FSK)"),
    "tw_1b.wav": ("ax100-rs", {"baud": "4800"}, "GOMspace AX100 Reed-Solomon (FSK)"),
    "au03.wav": ("u482c", {}, "GOMspace U482C (4k8 audio-frequency GMSK/AFSK)"),
    "cz02.wav": ("u482c", {}, "GOMspace U482C (4k8 audio-frequency GMSK/AFSK)"),
    "dsat.wav": ("u482c", {}, "GOMspace U482C (4k8 audio-frequency GMSK/AFSK)"),
    "aalto1.wav": ("ax25-fsk9600", {}, "AX.25 G3RUH FSK 9600"),
    "irazu.wav": ("ax25-fsk9600", {}, "AX.25 G3RUH FSK 9600"),
    "tigrisat.wav": ("ax25-fsk9600", {}, "AX.25 G3RUH FSK 9600"),
    "upmsat_2.wav": ("ax25-fsk9600", {"baud": "1200", "framing.g3ruh": "false"},
                     "AX.25 FSK 1200 (NRZI, no scrambler)"),
    "duchifat_3.wav": ("ax25-bpsk-g3ruh", {}, "AX.25 G3RUH BPSK 9600"),
    "il01.wav": ("ax25-bpsk-g3ruh", {}, "AX.25 G3RUH BPSK 9600"),
    "zhou_enlai.wav": ("ax25-bpsk-g3ruh", {}, "AX.25 G3RUH BPSK 9600"),
    "gr01.wav": ("ax25-bpsk1200-g3ruh", {}, "AX.25 G3RUH BPSK 1200"),
    "kr01.wav": ("ax25-bpsk1200-g3ruh", {}, "AX.25 G3RUH BPSK 1200"),
    "sat_3cat_2.wav": ("ax25-bpsk-g3ruh", {"framing.g3ruh": "false"},
                       "AX.25 BPSK (NRZI, no scrambler)"),
    "astrocast_9k6.wav": ("ccsds-rs-fsk", {"framing.rs_interleave": "5",
                                           "framing.payload_len": "1115"},
                          "CCSDS Reed-Solomon only (FSK)"),
}

def reference_frames(name: str) -> list[bytes]:
    lines = (DATA / "frames" / name.replace(".wav", ".hex")).read_text().split()
    return [bytes.fromhex(s) for s in lines]


def decode_file(name: str) -> list:
    link_name, sets, _ = CASES[name]
    return list(decode_recording(open_recording(DATA / name), load_link(link_name, sets)))


def good_frames(frames) -> list[bytes]:
    return [bytes(p.data) for p in frames if p.meta["crc_ok"]]


def test_every_recording_has_a_case_or_is_excluded():
    wavs = sorted(p.name for p in DATA.glob("*.wav"))
    assert wavs == sorted(set(CASES) | set(EXCLUDED))
    assert not set(CASES) & set(EXCLUDED)
    rows = [r.split("\t") for r in (DATA / "recordings.tsv").read_text().splitlines()[1:]]
    family = {r[0]: r[9] for r in rows}
    assert set(family) == set(CASES) | set(EXCLUDED)
    for name, (_, _, fam) in CASES.items():
        assert family[name] == fam, name


@pytest.mark.parametrize("name", sorted(CASES))
def test_set2_recording_every_gr_satellites_frame(name):
    theirs = reference_frames(name)
    frames = decode_file(name)
    good = good_frames(frames)
    missing = [f.hex() for f in theirs if f not in good]
    assert not missing, f"{name}: {len(missing)} of gr-satellites' {len(theirs)} frames not " \
                        f"found (we decoded {len(good)}): {missing[:2]}"
    t = [p.meta["time_s"] for p in frames]
    assert t == sorted(t)


@pytest.mark.parametrize("name", sorted(CASES))
def test_set2_decode_does_not_depend_on_chunking(name):
    """The receivers' burst logic (lock detectors, gear shifts, re-acquisition) carries its state
    across chunks: the frames (bytes, check, position) are the same for 777-sample chunks."""
    link_name, sets, _ = CASES[name]

    def key(frames):
        return [(bytes(p.data), p.meta["crc_ok"], p.meta["time_s"]) for p in frames]

    ref = key(decode_file(name))
    got = key(decode_recording(open_recording(DATA / name), load_link(link_name, sets),
                               chunk=777))
    assert got == ref
