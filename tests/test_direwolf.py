"""direwolf interoperability: its AFSK WAVs decode here at least as well as its own ``atest``
decodes them, and (marker ``interop``, direwolf installed) ``atest`` decodes every frame of the
WAVs our AFSK 1200 and G3RUH FSK 9600 transmitters write.

Vectors (tests/data/vectors, origins beside them): ``afsk1200_3pk_44k1.wav`` (3 clean packets at
44.1 kHz, atest 3/3) and ``afsk1200_noise100_48k.wav`` (``gen_packets -n 100``: 100 packets
with linearly growing noise; atest decodes 71, ``atest -F 1`` 75).
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from orbitlink.drivers.sigmf import open_recording
from orbitlink.flowgraphs.links import load_link
from orbitlink.flowgraphs.runner import decode_recording

VEC = Path(__file__).parent / "data" / "vectors"


def _decode(path, link="ax25-afsk1200", **sets):
    rec = open_recording(path)
    return [bytes(p.data) for p in decode_recording(rec, load_link(link, sets))
            if p.meta["crc_ok"]]


def test_direwolf_three_packets_all_decoded():
    ref = json.loads((VEC / "afsk1200.json").read_text())["files"]["afsk1200_3pk_44k1"]
    got = _decode(VEC / "afsk1200_3pk_44k1.wav")
    want = [bytes.fromhex(h) for h in ref["atest_frames_hex_without_fcs"]]
    assert got == want  # 44.1 kHz input: 36.75 samples per symbol


def test_direwolf_noise100_at_least_atest():
    got = _decode(VEC / "afsk1200_noise100_48k.wav")
    msg = re.compile(rb"The quick brown fox jumps over the lazy dog!  (\d{4}) of 0100$")
    numbers = sorted({int(m.group(1)) for f in got if (m := msg.search(f))})
    assert len(numbers) == len(got)  # nothing else came out
    # atest decodes 71 (packets 1-59, 61-66, 68-70, 79, 83, 84)
    assert len(numbers) >= 71, numbers
    assert set(range(1, 60)) <= set(numbers)


# ------------------------------------------------------------------------------------------------
# direwolf decodes ours

ATEST = shutil.which("atest")


def _atest(path, *opts) -> list[bytes]:
    out = subprocess.run([ATEST, "-h", *opts, str(path)], capture_output=True,
                         timeout=120).stdout.decode("latin-1")
    out = re.sub(r"\x1b\[[0-9;]*m", "", out)
    frames, cur = [], None
    for line in out.splitlines():
        m = re.match(r"\s+([0-9a-f]{3}):\s+((?:[0-9a-f]{2} )+)", line)
        if m:
            if m.group(1) == "000":
                cur = []
                frames.append(cur)
            cur += m.group(2).split()
    return [bytes.fromhex("".join(f)) for f in frames]


def _payload_file(tmp_path, n, seed):
    from orbitlink.framing import ax25

    rng = np.random.default_rng(seed)
    frames = [ax25.build(ax25.ui_frame("CQ", f"N0CALL-{i % 16}",
                                       rng.integers(0, 256, int(rng.integers(1, 200)),
                                                    dtype=np.uint8).tobytes()))
              for i in range(n)]
    p = tmp_path / "payloads.txt"
    p.write_text("\n".join(f.hex() for f in frames) + "\n")
    return p, frames


@pytest.mark.interop
@pytest.mark.skipif(ATEST is None, reason="direwolf (atest) not installed")
@pytest.mark.parametrize("link,opts", [("ax25-afsk1200", ()), ("ax25-fsk9600", ("-B", "9600"))])
def test_atest_decodes_our_wav(tmp_path, link, opts):
    from orbitlink.flowgraphs.cli import main

    pay, frames = _payload_file(tmp_path, 20, 7)
    wav = tmp_path / "ours.wav"
    assert main(["encode", "--link", link, "--in", str(pay), "--out", str(wav)]) == 0
    got = _atest(wav, *opts)
    assert got == frames
    # and our own receiver reads the same file back
    assert _decode(wav, link) == frames
