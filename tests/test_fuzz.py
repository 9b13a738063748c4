"""Every parser survives garbage: only FrameParseError, never another exception, never a hang.

The default run feeds a few thousand mutated inputs; ``-m fuzz`` runs the 1 M-input campaign.
"""

import pytest

from orbitlink.tests.fuzz_tools import run, targets


def test_every_framing_format_has_fuzz_targets():
    names = {n.split(":")[0] for n in targets()}
    assert {"ax100", "csp"} <= names


def _check(r):
    assert not r["failures"], r["failures"][:5]
    assert r["parse_errors"] > 0  # the inputs really were rejected, not silently ignored


def test_fuzz_smoke():
    r = run(6000, seed=1)
    _check(r)


@pytest.mark.fuzz
def test_fuzz_one_million_inputs():
    r = run(1_000_000, seed=2)
    print(f"\nfuzz: {r['inputs']} inputs over {len(r['per_target'])} parsers in {r['seconds']} s: "
          f"{r['parse_errors']} rejected with FrameParseError, {r['accepted']} accepted, "
          f"{len(r['failures'])} failures")
    assert r["inputs"] >= 1_000_000
    _check(r)
