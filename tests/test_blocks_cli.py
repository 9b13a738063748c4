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
