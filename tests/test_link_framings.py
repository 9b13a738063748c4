"""The framings end to end through the PSK link: AX.25/HDLC/G3RUH over BPSK, CCSDS TM frames
with Space Packets over the coded link, and the TC uplink (CLTUs) through encode/decode."""

import json

import numpy as np
import pytest

from orbitlink.flowgraphs.cli import main
from orbitlink.flowgraphs.links import load_link, random_payloads, transmit
from orbitlink.flowgraphs.runner import run_chain
from orbitlink.framing import ax25, ccsds_tc, space_packet
from orbitlink.framing.kiss import read_kiss_file, write_kiss_file
from orbitlink.modem.channel import simulate
from orbitlink.tests.helpers import loopback


def test_ax25_over_bpsk_g3ruh_loopback(capsys):
    r = loopback("ax25-bpsk-g3ruh", 12, ebn0=9.0, cfo=600.0, sro=80.0, seed=4)
    assert r["frames_sent"] == r["frames_found"] == r["frames_ok"] == 12
    assert r["false_frames"] == 0


def test_ccsds_tm_space_packets_in_equal_packets_out():
    """Packets of random sizes, several per frame and spanning frames, through the coded
    link with the full receiver: the same packets come out, in order."""
    link = load_link("ccsds-tm")
    rng = np.random.default_rng(7)
    pkts = [space_packet.build(int(rng.integers(1, 2000)),
                               bytes(rng.integers(0, 256, int(n), dtype=np.uint8)),
                               sequence_count=i)
            for i, n in enumerate(rng.integers(1, 2500, 12))]
    burst = transmit(link, pkts, seed=1)
    assert len(burst.frame_starts) >= 3  # several frames, so packets cross frame boundaries
    rx = simulate(burst.iq, samp_rate=link.samp_rate, sps=link.sps, bits_per_symbol=1,
                  esn0_db=4.0, cfo_hz=900.0, sro_ppm=-60, timing_offset=0.4, seed=2)
    out = [p for frames in run_chain(link.rx_chain(), [rx[i:i + 50000] for i in
                                                       range(0, len(rx), 50000)])
           for p in frames]
    assert [bytes(p.data) for p in out] == pkts
    assert {p.meta["vcid"] for p in out} == {1}


def test_tc_uplink_encode_decode(tmp_path, capsys):
    """`orbitlink encode --link tc-uplink` turns TC frames into CLTUs; decode recovers them."""
    link = load_link("tc-uplink")
    frames = random_payloads(link, np.random.default_rng(3), 5)
    for f in frames:
        ccsds_tc.parse(f, fecf=True)
    src = tmp_path / "tc.txt"
    src.write_text("\n".join(f.hex() for f in frames) + "\n")
    assert main(["encode", "--link", "tc-uplink", "--in", str(src),
                 "--out", str(tmp_path / "up.sigmf-meta")]) == 0
    capsys.readouterr()
    assert main(["decode", str(tmp_path / "up.sigmf-meta"), "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["hex"] for r in rows] == [f.hex() for f in frames]
    assert all(r["crc_ok"] and r["start_errors"] == 0 for r in rows)
    # sample positions are increasing and inside the recording
    assert all(a["sample_index"] < b["sample_index"] for a, b in zip(rows, rows[1:]))


def test_tc_uplink_rejects_a_malformed_tc_frame(tmp_path, capsys):
    src = tmp_path / "bad.txt"
    src.write_text("00\n")
    assert main(["encode", "--link", "tc-uplink", "--in", str(src),
                 "--out", str(tmp_path / "x")]) == 2
    assert "line 1" in capsys.readouterr().err


def test_kiss_file_in_and_out(tmp_path, capsys):
    """AX.25 frames from a KISS file, over the air, back into a KISS file."""
    frames = [ax25.build(ax25.ui_frame("CQ", "N0CALL-1", f"hello {i}".encode()))
              for i in range(4)]
    write_kiss_file(tmp_path / "in.kiss", frames)
    assert main(["encode", "--link", "ax25-bpsk-g3ruh", "--in", str(tmp_path / "in.kiss"),
                 "--out", str(tmp_path / "a.sigmf-meta")]) == 0
    assert main(["decode", str(tmp_path / "a.sigmf-meta"), "--kiss",
                 str(tmp_path / "out.kiss")]) == 0
    capsys.readouterr()
    assert read_kiss_file(tmp_path / "out.kiss") == frames


@pytest.mark.parametrize("link", ["ax25-bpsk-g3ruh", "ccsds-tm", "tc-uplink"])
def test_expand_lists_the_framing_blocks(link, capsys):
    assert main(["expand", "--link", link, "--json"]) == 0
    g = json.loads(capsys.readouterr().out)
    names = [n["type"] for n in g["blocks"].values()]
    expected = {"ax25-bpsk-g3ruh": ["hdlc_deframer"], "ccsds-tm": ["tm_demux"],
                "tc-uplink": ["cltu_decoder", "tc_check"]}[link]
    # the framing's receive blocks end the chain, before the frame metadata and the sink
    assert names[-2 - len(expected):-2] == expected and names[-2:] == ["frame_meta",
                                                                       "frames_sink"]
