"""Graphs (issue 10): link files expand into graph files that validate and run; fan-out and
several sinks; sources (files, standard input, named pipes) and sinks; the registry lets a test
add a frame format without touching orbitlink.flowgraphs."""

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from orbitlink.flowgraphs.cli import main

DATA = Path(__file__).parent / "data" / "recordings"


def _cli(argv, capsys):
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _encode(tmp_path, link, n=3, seed=5, out="x.sigmf-meta"):
    from orbitlink.flowgraphs.links import load_link, random_payloads

    pays = random_payloads(load_link(link), np.random.default_rng(seed), n)
    src = tmp_path / f"{link}-payloads.txt"
    src.write_text("".join(p.hex() + "\n" for p in pays))
    assert main(["encode", "--link", link, "--in", str(src), "--out",
                 str(tmp_path / out)]) == 0
    return tmp_path / out, pays


# ------------------------------------------------------------------------------------------------
# run GRAPH == decode --link L


RECORDINGS = [  # (file, link, --set)
    ("koyo.wav", "ax25-fsk9600", []),
    ("picsat_9k6.wav", "ax25-bpsk-g3ruh", []),
    ("by701.wav", "ccsds-concat-diff", []),
    ("aisat.wav", "u482c", []),
    ("luojia-1.wav", "ax100-asm", ["baud=4800"]),
]


@pytest.mark.parametrize("name,link,sets", RECORDINGS)
def test_run_of_the_expanded_graph_prints_what_decode_prints(tmp_path, capsys, name, link,
                                                              sets):
    rec = DATA / name
    setargs = [a for s in sets for a in ("--set", s)]
    rc, want, err = _cli(["decode", rec, "--link", link, "--json", *setargs], capsys)
    assert rc == 0, err
    assert want.count("\n") >= 1
    g = tmp_path / "g.yaml"
    rc, _, err = _cli(["expand", "--link", link, "--medium", "audio", "--rate", "48k", "-o", g,
                       *setargs], capsys)
    assert rc == 0, err
    rc, got, err = _cli(["run", g, "--input", rec, "--json"], capsys)
    assert rc == 0, err
    assert got == want


@pytest.mark.parametrize("link", ["qpsk", "tc-uplink", "ccsds-tm", "ax25-afsk1200"])
def test_run_equals_decode_on_iq(tmp_path, capsys, link):
    rec, _ = _encode(tmp_path, link)
    rc, want, err = _cli(["decode", rec, "--link", link, "--json"], capsys)
    assert rc == 0 and want, err
    g = tmp_path / "g.yaml"
    assert main(["expand", "--link", link, "--medium", "iq", "-o", str(g)]) == 0
    rc, got, err = _cli(["run", g, "--input", rec, "--json"], capsys)
    assert rc == 0, err
    assert got == want
    # text output too
    rc, want, _ = _cli(["decode", rec, "--link", link], capsys)
    rc, got, _ = _cli(["run", g, "--input", rec], capsys)
    assert got == want and "CRC ok" in got


@pytest.mark.parametrize("link", ["qpsk", "ax25-fsk9600"])
def test_same_graph_at_chunk_sizes_1_7_4096(tmp_path, capsys, link):
    rec, pays = _encode(tmp_path, link, n=2)
    g = tmp_path / "g.yaml"
    assert main(["expand", "--link", link, "--medium", "iq", "-o", str(g)]) == 0
    outs = []
    for chunk in (1, 7, 4096):
        rc, out, err = _cli(["run", g, "--input", rec, "--json", "--chunk", chunk], capsys)
        assert rc == 0, err
        outs.append(out)
    assert outs[0] == outs[1] == outs[2]
    got = [bytes.fromhex(json.loads(x)["hex"]) for x in outs[0].splitlines()]
    assert got == pays


# ------------------------------------------------------------------------------------------------
# fan-out, several sinks


def test_fan_out_to_a_recorder_and_a_constellation(tmp_path, capsys):
    """One output feeds several inputs: the source feeds the demodulator and a SigMF recorder,
    the demodulator feeds the deframer and a constellation plot; frames go to two sinks."""
    import yaml

    rec, pays = _encode(tmp_path, "qpsk")
    g = tmp_path / "g.yaml"
    assert main(["expand", "--link", "qpsk", "-o", str(g)]) == 0
    doc = yaml.safe_load(g.read_text())
    doc["blocks"]["copy"] = {"type": "sigmf_sink", "params": {"path": str(tmp_path / "copy")}}
    doc["blocks"]["iq"] = {"type": "constellation_sink",
                           "params": {"path": str(tmp_path / "const.png")}}
    doc["blocks"]["spec"] = {"type": "spectrum_sink",
                             "params": {"path": str(tmp_path / "spec.png")}}
    doc["blocks"]["kiss"] = {"type": "kiss_sink", "params": {"path": str(tmp_path / "f.kiss")}}
    doc["blocks"]["file"] = {"type": "frames_sink",
                             "params": {"format": "json", "path": str(tmp_path / "f.jsonl")}}
    doc["connections"] += ["source -> copy", "psk_demod -> iq", "source -> spec",
                           "frame_meta -> kiss", "frame_meta -> file"]
    g2 = tmp_path / "g2.yaml"
    g2.write_text(yaml.safe_dump(doc, sort_keys=False))
    rc, out, err = _cli(["validate", g2], capsys)
    assert rc == 0 and "valid" in out, err
    rc, out, err = _cli(["run", g2, "--input", rec, "--json"], capsys)
    assert rc == 0, err
    rc, want, _ = _cli(["decode", rec, "--json"], capsys)
    assert out == want  # the taps change nothing
    assert (tmp_path / "f.jsonl").read_text() == want
    from orbitlink.drivers.sigmf import open_recording
    from orbitlink.framing.kiss import read_kiss_file

    a, b = open_recording(str(rec)).read(), open_recording(str(tmp_path / "copy")).read()
    assert a.tobytes() == b.tobytes()  # the recorder saw every input sample
    assert read_kiss_file(tmp_path / "f.kiss") == pays
    for png in ("const.png", "spec.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------------------
# validate: every error names the file and the path inside it


def _graph_doc():
    return {"format": 1, "kind": "graph", "name": "t",
            "blocks": {"src": {"type": "recording_source", "params": {"medium": "iq"}},
                       "demod": {"type": "psk_demod", "params": {"modulation": "bpsk"}},
                       "dfr": {"type": "sync_deframer", "params": {"modulation": "bpsk"}},
                       "out": {"type": "frames_sink"}},
            "connections": ["src -> demod", "demod -> dfr", "dfr -> out"]}


def _edit(doc, fn):
    fn(doc)
    return doc


BAD_GRAPHS = [
    (lambda d: d.update(colour="red"), "unknown key 'colour'"),
    (lambda d: d["blocks"]["demod"].update(type="psk_demodulator"),
     "blocks.demod.type: unknown block type 'psk_demodulator'"),
    (lambda d: d["blocks"]["demod"]["params"].update(carrier_bww=0.1),
     "blocks.demod.params: unknown key 'carrier_bww'"),
    (lambda d: d["blocks"]["demod"]["params"].update(carrier_bw=-1.0),
     "blocks.demod.params.carrier_bw"),
    (lambda d: d.update(connections=["src -> demod", "src -> dfr", "dfr -> out"]),
     "connections[1]: 'src' outputs 'c64' but 'dfr' takes 'sym'"),
    (lambda d: d.update(connections=["src -> demod", "demod -> dfr"]),
     "blocks.out: its input is not connected"),
    (lambda d: d.update(connections=d["connections"] + ["src -> dfr"]),
     "connections[3]: the input of 'dfr' is already connected"),
    (lambda d: d.update(connections=d["connections"] + ["src -> nowhere"]),
     "connections[3]: no block named 'nowhere'"),
    (lambda d: d.update(connections=["src demod"]), "connections[0]: must be 'from -> to'"),
    (lambda d: d["blocks"].update(src2={"type": "recording_source"}),
     "a graph needs exactly one source"),
    (lambda d: d.update(format=2), "format: must be 1"),
]


@pytest.mark.parametrize("edit,msg", BAD_GRAPHS)
def test_validate_names_the_file_and_the_path(tmp_path, capsys, edit, msg):
    import yaml

    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(_edit(_graph_doc(), edit)))
    rc, out, err = _cli(["validate", p], capsys)
    assert rc == 2
    assert err.startswith(f"orbitlink: error: {p}: ") and msg in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    rc, out, err = _cli(["run", p, "--input", "x.wav"], capsys)
    assert rc == 2 and msg in err


def test_the_good_graph_validates(tmp_path, capsys):
    import yaml

    p = tmp_path / "good.yaml"
    p.write_text(yaml.safe_dump(_graph_doc()))
    rc, out, err = _cli(["validate", p], capsys)
    assert rc == 0 and "graph 't' is valid: 4 nodes, 3 connections" in out, err


def test_duplicate_yaml_key_is_an_error(tmp_path, capsys):
    p = tmp_path / "dup.yaml"
    text = (Path(__file__).parents[1] / "flowgraphs" / "links" / "qpsk.yaml").read_text()
    p.write_text(text + "symbol_rate: 4800\n")
    rc, _, err = _cli(["validate", p], capsys)
    assert rc == 2 and "duplicate key 'symbol_rate'" in err and str(p) in err, err
    rc, _, err = _cli(["loopback", "--link", p, "--frames", 1], capsys)
    assert rc == 2 and "duplicate key 'symbol_rate'" in err


def test_validate_a_link_file_names_unknown_keys(tmp_path, capsys):
    p = tmp_path / "l.yaml"
    text = (Path(__file__).parents[1] / "flowgraphs" / "links" / "qpsk.yaml").read_text()
    p.write_text(text.replace("  crc: crc16", "  crc: crc16\n  crcc: 1"))
    rc, _, err = _cli(["validate", p], capsys)
    assert rc == 2 and "unknown key 'framing.crcc'" in err and str(p) in err, err
    p.write_text(text.replace("type: sync_crc", "type: nope"))
    rc, _, err = _cli(["validate", p], capsys)
    assert rc == 2 and "'framing.type' must be one of" in err and "'nope'" in err, err
    p.write_text(text.replace("modulation: qpsk", "modulation: qam64"))
    rc, _, err = _cli(["validate", p], capsys)
    assert rc == 2 and "'modulation' must be one of" in err and "qam64" in err, err


def test_run_set_and_rate_mismatch(tmp_path, capsys):
    rec, pays = _encode(tmp_path, "qpsk")
    g = tmp_path / "g.yaml"
    assert main(["expand", "--link", "qpsk", "-o", str(g)]) == 0
    rc, out, err = _cli(["run", g, "--input", rec, "--json", "--set",
                         "psk_demod.carrier_bw=0.01"], capsys)
    assert rc == 0 and len(out.splitlines()) == 3, err
    rc, out, err = _cli(["run", g, "--input", rec, "--set", "psk_demod.carrier_bw=-3"], capsys)
    assert rc == 2 and "blocks.psk_demod.params.carrier_bw" in err
    rc, out, err = _cli(["run", g, "--input", rec, "--set", "nosuch.x=1"], capsys)
    assert rc == 2 and "give NODE.PARAM" in err
    g48 = tmp_path / "g48.yaml"
    assert main(["expand", "--link", "qpsk", "--rate", "48k", "-o", str(g48)]) == 0
    rc, out, err = _cli(["run", g48, "--input", rec], capsys)
    assert rc == 2 and "38400 Hz" in err and "--rate 38400" in err, err
    rc, out, err = _cli(["run", Path(__file__).parents[1] / "flowgraphs" / "links" /
                         "qpsk.yaml", "--input", rec], capsys)
    assert rc == 2 and "not a graph file" in err and "orbitlink expand" in err
    rc, out, err = _cli(["run", DATA / "koyo.wav", "--input", rec], capsys)
    assert rc == 2 and "koyo.wav: the file must be UTF-8 text" in err


def test_expanded_graphs_are_stable_and_valid(tmp_path, capsys):
    """expand -> file -> load -> to_dict gives the same document (every parameter written)."""
    import yaml

    from orbitlink.flowgraphs.graph import load_graph

    for link in ("ccsds-concat", "ccsds-tm", "ax25-afsk1200", "u482c", "funcube"):
        for tx in ([], ["--tx"]):
            p = tmp_path / f"{link}{len(tx)}.yaml"
            assert main(["expand", "--link", link, "-o", str(p), *tx]) == 0
            assert load_graph(str(p)).to_dict() == yaml.safe_load(p.read_text())
    capsys.readouterr()


def test_transmit_graph_runs(tmp_path, capsys):
    """The transmitter's graph of a link runs: payload file -> framer, modulator -> SigMF;
    the recording decodes to the payloads."""
    import yaml

    from orbitlink.flowgraphs.links import load_link, random_payloads

    pays = random_payloads(load_link("qpsk"), np.random.default_rng(1), 4)
    src = tmp_path / "p.txt"
    src.write_text("".join(p.hex() + "\n" for p in pays))
    g = tmp_path / "tx.yaml"
    assert main(["expand", "--link", "qpsk", "--tx", "-o", str(g)]) == 0
    doc = yaml.safe_load(g.read_text())
    doc["blocks"]["sigmf_sink"]["params"]["path"] = str(tmp_path / "tx")
    g.write_text(yaml.safe_dump(doc))
    rc, out, err = _cli(["run", g, "--input", src], capsys)
    assert rc == 0, err
    rc, out, err = _cli(["decode", tmp_path / "tx.sigmf-meta", "--link", "qpsk", "--json"],
                        capsys)
    assert [bytes.fromhex(json.loads(x)["hex"]) for x in out.splitlines()] == pays


# ------------------------------------------------------------------------------------------------
# sources: standard input and pipes


def _as_cu8(iq):
    v = np.empty(2 * len(iq), np.float32)
    v[0::2], v[1::2] = iq.real, iq.imag
    return np.clip(np.round(v * 127.5 + 127.5), 0, 255).astype(np.uint8).tobytes()


def test_decode_from_standard_input_through_a_real_pipe(tmp_path):
    """``producer | orbitlink decode - --format cu8 --rate R --link L`` (as rtl_sdr ... -)."""
    from orbitlink.drivers.sigmf import open_recording

    rec, pays = _encode(tmp_path, "qpsk", n=4)
    raw = _as_cu8(open_recording(str(rec)).read() * 0.8)
    (tmp_path / "x.cu8").write_bytes(raw)
    exe = Path(sys.executable).with_name("orbitlink")
    # a producer that writes in small pieces, as a radio does
    prod = subprocess.Popen([sys.executable, "-c",
                             "import sys,time;d=open(sys.argv[1],'rb').read()\n"
                             "for i in range(0,len(d),5000):\n"
                             " sys.stdout.buffer.write(d[i:i+5000]);sys.stdout.flush()",
                             str(tmp_path / "x.cu8")], stdout=subprocess.PIPE)
    out = subprocess.run([str(exe), "decode", "-", "--format", "cu8", "--rate", "38.4k",
                          "--link", "qpsk", "--json"], stdin=prod.stdout, capture_output=True,
                         text=True, timeout=120)
    prod.stdout.close()
    prod.wait()
    assert out.returncode == 0, out.stderr
    got = [bytes.fromhex(json.loads(x)["hex"]) for x in out.stdout.splitlines()]
    assert got == pays
    assert "orbitlink decode: 4 frames (4 with a good CRC)" in out.stderr
    # without the format: one sentence, exit 2
    bad = subprocess.run([str(exe), "decode", "-", "--link", "qpsk"], input=raw[:1000],
                         capture_output=True, timeout=60)
    assert bad.returncode == 2 and b"--format" in bad.stderr
    assert bad.stderr.count(b"\n") == 1 and b"Traceback" not in bad.stderr


def test_decode_from_a_named_pipe(tmp_path, capsys):
    from orbitlink.drivers.sigmf import open_recording

    rec, pays = _encode(tmp_path, "bpsk", n=3)
    iq = open_recording(str(rec)).read()
    fifo = tmp_path / "iq.fifo"
    os.mkfifo(fifo)

    def writer():
        with open(fifo, "wb") as fh:
            fh.write(iq.astype(np.complex64).tobytes())

    t = threading.Thread(target=writer)
    t.start()
    rc, out, err = _cli(["decode", fifo, "--format", "cf32", "--rate", 38400, "--link",
                         "bpsk", "--json"], capsys)
    t.join(10)
    assert rc == 0, err
    assert [bytes.fromhex(json.loads(x)["hex"]) for x in out.splitlines()] == pays


def test_stream_sources_keep_what_came_before_a_partial_sample():
    import io

    from orbitlink.drivers.files import StreamRecording
    from orbitlink.drivers.sigmf import RecordingError

    data = np.arange(10, dtype=np.float32).view(np.complex64).tobytes() + b"\x01\x02\x03"
    rec = StreamRecording(io.BytesIO(data), "standard input", "cf32_le", 1000.0)
    got = []
    with pytest.raises(RecordingError, match="partial sample"):
        for x in rec.chunks(2):
            got.append(x)
    assert np.concatenate(got).tobytes() == data[:40]
    rec = StreamRecording(io.BytesIO(b""), "standard input", "cu8", 1000.0)
    with pytest.raises(RecordingError, match="no samples"):
        list(rec.chunks(4))


# ------------------------------------------------------------------------------------------------
# the registry: a frame format added by a test alone


def test_a_framing_registered_in_the_test_runs_through_encode_and_decode(tmp_path, capsys):
    """A toy frame format (sync word, length byte, payload, CRC-16) is declared here, with its
    framer and deframer blocks and one registration; a link file names it; `orbitlink encode`
    and `orbitlink decode` carry payloads through it. Nothing under orbitlink.flowgraphs
    knows it."""
    from orbitlink.framing._base import BitFramer
    from orbitlink.framing.registry import Framing, register_framing, unregister_framing
    from orbitlink.modem.block import REGISTRY, Block, Pdu, Rate, param, register
    from orbitlink.modem.fec.crc import crc16_ccitt

    sync = np.unpackbits(np.frombuffer(bytes.fromhex("35 2E F8 53"), np.uint8))

    @dataclass(frozen=True)
    class ToyParams:
        max_len: int = param(64, "longest payload", lo=1, hi=255)

    class ToyFramer(BitFramer):
        """Toy framer.

        Input
        -----
        pdu : payloads.

        Output
        ------
        u8 : bits.
        """

        name = "toy_framer"
        Params = ToyParams

        def frame_bits(self, payload):
            if len(payload) > self.params.max_len:
                from orbitlink.framing.errors import FrameBuildError

                raise FrameBuildError(f"toy: payload longer than {self.params.max_len} bytes")
            body = bytes([len(payload)]) + payload
            body += crc16_ccitt(body).to_bytes(2, "big")
            return np.concatenate([sync, np.unpackbits(np.frombuffer(body, np.uint8))])

    class ToyDeframer(Block):
        """Toy deframer.

        Input
        -----
        u8 : bits.

        Output
        ------
        pdu : frames.
        """

        name = "toy_deframer"
        Params = ToyParams
        rate = Rate.STREAM_TO_PDU
        in_type = "u8"
        out_type = "pdu"

        def _reset(self):
            self.buf = np.zeros(0, np.uint8)
            self.base = 0

        def _process(self, bits):
            self.buf = np.concatenate([self.buf, bits])
            out, i = [], 0
            n = len(self.buf)
            while i + 32 + 8 <= n:
                w = self.buf[i:i + 32]
                inv = bool(np.all(w != sync))
                if not (np.array_equal(w, sync) or inv):
                    i += 1
                    continue
                b = self.buf[i + 32:] ^ np.uint8(inv)
                ln = int(np.packbits(b[:8])[0])
                need = 8 * (ln + 3)
                if len(b) < need:
                    break
                body = np.packbits(b[:need]).tobytes()
                if crc16_ccitt(body[:-2]).to_bytes(2, "big") == body[-2:]:
                    # a deframer names the check that vouches for its frames (issue 13)
                    out.append(Pdu(body[1:-2], {"sample_index": self.base + i,
                                                "check": "crc"}))
                    i += 32 + need
                else:
                    i += 1
            self.buf = self.buf[i:]
            self.base += i
            return out

    register(ToyFramer)
    register(ToyDeframer)
    register_framing(Framing(name="toy", doc="a test's frame format", framer=ToyFramer,
                             deframer=ToyDeframer, presets={"max_len": 100}, index="bit"))
    try:
        link = tmp_path / "toy.yaml"
        link.write_text("format: 1\nname: toy\nmodulation: bpsk\nsymbol_rate: 4800\n"
                        "samp_rate: 19200\nframing:\n  type: toy\n")
        pays = [b"hello", b"orbitlink" * 10, bytes(range(37))]
        src = tmp_path / "p.txt"
        src.write_text("".join(p.hex() + "\n" for p in pays))
        rc, _, err = _cli(["encode", "--link", link, "--in", src, "--out",
                           tmp_path / "t.sigmf-meta"], capsys)
        assert rc == 0, err
        rc, out, err = _cli(["decode", tmp_path / "t.sigmf-meta", "--link", link, "--json"],
                            capsys)
        assert rc == 0, err
        got = [json.loads(x) for x in out.splitlines()]
        assert [bytes.fromhex(g["hex"]) for g in got] == pays
        assert all(g["crc_ok"] for g in got)
        # the preset (max_len 100) reaches the framer: a 101-byte payload is refused
        src.write_text(bytes(101).hex() + "\n")
        rc, _, err = _cli(["encode", "--link", link, "--in", src, "--out",
                           tmp_path / "u.sigmf-meta"], capsys)
        assert rc == 2 and "line 1: toy: payload longer than 100 bytes" in err, err
        # an unknown option of the toy framing is an error naming the file and key
        link.write_text(link.read_text() + "  max_lenn: 3\n")
        rc, _, err = _cli(["validate", link], capsys)
        assert rc == 2 and "unknown key 'framing.max_lenn'" in err
    finally:
        unregister_framing("toy")
        REGISTRY.pop("toy_framer", None)
        REGISTRY.pop("toy_deframer", None)
    rc, _, err = _cli(["validate", link], capsys)
    assert rc == 2 and "'framing.type' must be one of" in err


def test_no_flowgraphs_module_names_a_framing():
    """links.py keeps no table of framing names: no framing type appears in flowgraphs/."""
    from orbitlink.flowgraphs.registry import all_framings

    root = Path(__file__).parents[1] / "flowgraphs"
    text = "\n".join(p.read_text() for p in root.glob("*.py"))
    for name in all_framings():
        for q in (f'"{name}"', f"'{name}'"):
            assert q not in text, (name, "named in flowgraphs/")


def test_encode_annotates_each_frame_with_its_own_length(tmp_path, capsys):
    """Frames of varied length (AX.25): each annotation covers its own frame, back to back
    with the idle gap between them, and the decoder finds each frame inside its annotation."""
    rec, pays = _encode(tmp_path, "ax25-fsk9600", n=5, seed=9, out="v.sigmf-meta")
    meta = json.loads(rec.read_text())
    anns = meta["annotations"]
    assert len(anns) == 5
    lens = [len(p) for p in pays]
    counts = [a["core:sample_count"] for a in anns]
    # longer payloads, longer annotations (48000 / 9600 = 5 samples per bit, stuffing aside)
    order = np.argsort(lens)
    assert np.all(np.diff(np.array(counts)[order]) >= 0)
    for a, p in zip(anns, pays):
        assert 5 * 8 * len(p) <= a["core:sample_count"] <= 5 * (8 * len(p) * 1.25 + 400)
    for a, b in zip(anns, anns[1:]):
        assert a["core:sample_start"] + a["core:sample_count"] <= b["core:sample_start"]
    rc, out, err = _cli(["decode", rec, "--json"], capsys)
    got = [json.loads(x) for x in out.splitlines()]
    assert [bytes.fromhex(g["hex"]) for g in got] == pays
    for g, a in zip(got, anns):
        assert a["core:sample_start"] <= g["sample_index"] <= (a["core:sample_start"]
                                                             + a["core:sample_count"])
