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


def test_expand_gives_a_valid_explicit_graph_for_every_link(capsys):
    import yaml

    from orbitlink.flowgraphs.links import link_names
    from orbitlink.modem.block import coerce_params

    reg = all_blocks()
    for name in link_names():
        for medium in ("iq", "audio"):
            assert main(["expand", "--link", name, "--medium", medium]) == 0
            g = yaml.safe_load(capsys.readouterr().out)
            assert g["link"] == name and g["tx"] and g["rx"] and g["medium"] == medium
            # the medium's type at both ends
            ends = {"iq": "c64", "audio": "f32"}[medium]
            blocks = {}
            for chain in ("tx", "rx"):
                blocks[chain] = []
                for node in g[chain]:
                    cls = reg[node["block"]]
                    p = coerce_params(cls.Params, node["params"], node["block"])  # all valid
                    blocks[chain].append(cls(p))
            assert blocks["tx"][-1].out_type == ends and blocks["rx"][0].in_type == ends
            # the stream types chain: each block's output type is the next one's input type
            for chain in blocks.values():
                types = [(b.in_type, b.out_type) for b in chain]
                assert all(a[1] == b[0] for a, b in zip(types, types[1:])), (name, types)
