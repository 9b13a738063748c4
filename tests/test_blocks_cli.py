"""`orbitlink blocks`: the registry is the source of the CLI's block help."""

import json

from orbitlink.flowgraphs.cli import main
from orbitlink.flowgraphs.registry import all_blocks
from orbitlink.tests.helpers import import_all


def test_registry_module_list_covers_every_block():
    import_all()
    from orbitlink.modem.block import REGISTRY

    assert set(all_blocks()) == set(REGISTRY)


def test_blocks_lists_every_block_with_types(capsys):
    assert main(["blocks", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["name"] for r in rows} == set(all_blocks())
    fll = next(r for r in rows if r["name"] == "fll")
    assert fll["in"] == "c64" and fll["out"] == "c64"
    assert any(p["name"] == "acq_symbols" and p["unit"] == "symbols" for p in fll["params"])


def test_blocks_shows_one_block_and_rejects_unknown(capsys):
    assert main(["blocks", "symbol_sync"]) == 0
    out = capsys.readouterr().out
    assert "timing_bw" in out and "x symbol rate" in out
    assert main(["blocks", "nope"]) == 2
    assert "unknown block 'nope'" in capsys.readouterr().err


def test_expand_gives_a_valid_explicit_graph_for_every_link(tmp_path, capsys):
    """Every link expands, for both media and both directions, into a graph file that loads
    back (every parameter valid, every connection between ports of the same stream type):
    the receiver from the medium's samples to frames, the transmitter from payloads to the
    medium's samples. (The old expansion was two lists with "each block feeds the next".)"""
    from orbitlink.flowgraphs.graph import load_graph
    from orbitlink.flowgraphs.links import link_names

    ends = {"iq": "c64", "audio": "f32"}
    for name in link_names():
        for medium in ("iq", "audio"):
            for tx in (False, True):
                out = tmp_path / f"{name}-{medium}-{tx}.yaml"
                assert main(["expand", "--link", name, "--medium", medium, "-o", str(out),
                             *(["--tx"] if tx else [])]) == 0
                g = load_graph(str(out))
                assert g.link == name and g.medium == medium
                up = g.upstream()
                chain = [n for n in g.order() if g.nodes[n].kind == "block"]
                if tx:
                    assert g.source.type == "payload_source"
                    assert g.nodes[chain[0]].obj.in_type == "pdu"
                    assert g.nodes[chain[-1]].obj.out_type == ends[medium]
                else:
                    assert g.source.type == "recording_source"
                    assert g.source.out_type == ends[medium]
                    assert g.nodes[chain[-1]].type == "frame_meta"
                # a linear chain from the source to the sinks
                for a, b in zip(chain, chain[1:]):
                    assert up[b] == a
    capsys.readouterr()
