"""What a user trips over (issue 13 item 6): ``--set baud=X`` on a recording is checked
against the recording's sample rate; ``--set modulation=gmsk`` on an FSK link changes the
receiver or is refused, never silently ignored."""

import json
from pathlib import Path

import pytest

from orbitlink.flowgraphs.cli import main
from orbitlink.flowgraphs.links import LinkError, load_link

REPO = Path(__file__).resolve().parents[1]


def test_set_baud_uses_the_recordings_sample_rate(tmp_path, capsys):
    payloads = [bytes([i]) * 64 for i in range(5)]
    (tmp_path / "p.txt").write_text("".join(p.hex() + "\n" for p in payloads))
    assert main(["encode", "--link", "qpsk", "--set", "baud=50000", "--set", "samp_rate=250000",
                 "--in", str(tmp_path / "p.txt"), "--out", str(tmp_path / "q")]) == 0
    capsys.readouterr()
    # the link file says 38400 Hz; the recording has 250 kHz: 5 samples a symbol, fine
    assert main(["decode", str(tmp_path / "q.sigmf-meta"), "--set", "baud=50000",
                 "--json"]) == 0
    frames = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [bytes.fromhex(f["hex"]) for f in frames] == payloads
    # an explicit samp_rate still wins (and is checked)
    assert main(["decode", str(tmp_path / "q.sigmf-meta"), "--set", "baud=50000", "--set",
                 "samp_rate=38400"]) == 2
    assert "at least 1.5" in capsys.readouterr().err


def test_modulation_change_on_an_fsk_link_is_refused_or_applied(capsys):
    with pytest.raises(LinkError, match="needs the Gaussian filter's 'bt'"):
        load_link("ax25-fsk9600", {"modulation": "gmsk"})
    with pytest.raises(LinkError, match="modulation index of 1/2"):
        load_link("ax25-fsk9600", {"modulation": "gmsk", "bt": "0.5"})
    with pytest.raises(LinkError, match="'bt' applies to gfsk and gmsk"):
        load_link("ax25-fsk9600", {"bt": "0.5"})
    plain = load_link("ax25-fsk9600")
    g = load_link("ax25-fsk9600", {"modulation": "gfsk", "bt": "0.5"})
    # the receiver really changes: its pulse is the Gaussian one
    assert plain.demodulator(48000, medium="audio").params.bt == 0.0
    assert g.demodulator(48000, medium="audio").params.bt == 0.5
    m = load_link("ax25-fsk9600", {"modulation": "gmsk", "bt": "0.5", "mod_index": "0.5"})
    assert m.modulation == "gmsk" and m.fsk_deviation == 2400.0
    rc = main(["decode", str(REPO / "tests" / "data" / "recordings" / "koyo.wav"), "--link",
               "ax25-fsk9600", "--set", "modulation=gmsk"])
    err = capsys.readouterr().err
    assert rc == 2 and "bt" in err and "Traceback" not in err
