"""The chunk contract and the copy test, run over every registered stateful block.

For any split of the input into chunks (empty and 1-item chunks included), the concatenated
output must equal the whole-input output bit for bit, PDUs and metadata included. The copy test
processes half the input, copies the block, continues both and compares.
"""

import numpy as np
import pytest

from orbitlink.modem.block import REGISTRY, concat
from orbitlink.tests.helpers import all_blocks, assert_same_output, run_split

BLOCKS = all_blocks()


def _splits(n, rng):
    yield "whole", [n]
    yield "with-empty", [0, n // 3, 0, n - n // 3, 0]
    small = min(n, 40)
    yield "ones", [1] * small + [n - small]
    cuts = np.sort(rng.integers(0, n + 1, 12))
    yield "random", list(np.diff(np.concatenate([[0], cuts, [n]])))




def test_registry_is_not_empty():
    assert len(REGISTRY) >= 5
    assert set(BLOCKS) == {n for n, c in REGISTRY.items() if c.stateful}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_chunk_contract(name):
    rng = np.random.default_rng(1234)
    block, x = REGISTRY[name].example(rng)
    ref = run_split(block, x, [len(x)])
    assert len(ref) > 0, f"{name}: example produced no output, the test would prove nothing"
    for label, sizes in _splits(len(x), rng):
        got = run_split(block, x, sizes)
        assert_same_output(block.out_type, ref, got, f"{name} split {label}")


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_copy_continues_identically(name):
    rng = np.random.default_rng(99)
    block, x = REGISTRY[name].example(rng)
    block.reset()
    h = len(x) // 2
    first = block.process(x[:h])
    twin = block.copy()
    a = concat(block.out_type, [first, block.process(x[h:]), block.flush()])
    b = concat(block.out_type, [first, twin.process(x[h:]), twin.flush()])
    assert_same_output(block.out_type, a, b, f"{name} copy")
    # reset really resets
    block.reset()
    c = concat(block.out_type, [block.process(x), block.flush()])
    assert_same_output(block.out_type, a, c, f"{name} reset")
