"""orbitlink.modem.buffer.StreamBuffer: the one sliding buffer with an absolute base."""

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orbitlink.modem.block import SYM_DTYPE
from orbitlink.modem.buffer import StreamBuffer


def test_append_view_base_and_end():
    b = StreamBuffer(np.float32)
    assert len(b) == 0 and b.base == 0 and b.end == 0 and b.view.dtype == np.float32
    b.append(np.arange(5))
    b.append([])
    b.append(np.arange(5, 8, dtype=np.float64))
    assert b.view.tolist() == list(range(8))
    assert b.view.dtype == np.float32 and b.view.flags.c_contiguous
    b.consume(3)
    assert b.base == 3 and b.end == 8 and b.view.tolist() == [3, 4, 5, 6, 7]
    assert b.keep_from(6) == 3 and b.base == 6 and b.view.tolist() == [6, 7]
    assert b.keep_from(2) == 0 and b.base == 6  # before the base: nothing to drop
    assert b.keep_from(100) == 2 and b.base == 8 and len(b) == 0  # clamped to the items held
    b.append([8, 9])
    assert b.base == 8 and b.view.tolist() == [8, 9]


def test_fill_and_negative_base():
    """A filter history of zeros before sample 0."""
    b = StreamBuffer(np.complex64, base=-4, fill=4)
    assert b.base == -4 and b.end == 0 and np.all(b.view == 0)
    b.append(np.ones(3, np.complex64))
    assert b.view.tolist() == [0, 0, 0, 0, 1, 1, 1] and b.end == 3


def test_take_and_clear():
    b = StreamBuffer(np.int64, base=10)
    b.append(np.arange(6))
    t = b.take(4)
    assert t.tolist() == [0, 1, 2, 3] and b.base == 14
    t[:] = -1  # a copy, not a view
    assert b.view.tolist() == [4, 5]
    assert b.take_all().tolist() == [4, 5] and b.base == 16 and len(b) == 0
    b.append([7])
    b.clear()
    assert b.base == 17 and len(b) == 0
    b.clear(base=0)
    assert b.base == 0


def test_consume_checks_its_argument():
    b = StreamBuffer(np.uint8)
    b.append([1, 0, 1])
    with pytest.raises(ValueError):
        b.consume(4)
    with pytest.raises(ValueError):
        b.consume(-1)


def test_reserve_and_extend_zeros():
    b = StreamBuffer(np.float64)
    b.append([1.0, 2.0])
    r = b.reserve(3)
    r[:] = [3.0, 4.0, 5.0]
    b.extend_zeros(2)
    assert b.view.tolist() == [1, 2, 3, 4, 5, 0, 0]


def test_dtype_is_fixed():
    b = StreamBuffer(np.uint8)
    b.append(np.array([1, 0], np.int64))  # integers: cast
    assert b.view.dtype == np.uint8 and b.view.tolist() == [1, 0]
    with pytest.raises(TypeError):
        b.append(np.array([0.5]))  # float -> integer is not a same-kind cast
    f = StreamBuffer(np.float32)
    with pytest.raises(TypeError):
        f.append(np.array([1 + 1j]))  # complex -> real would drop the imaginary part
    c = StreamBuffer(np.complex64)
    c.append(np.array([1 + 1j]))  # complex128 -> complex64: same kind
    assert c.view.dtype == np.complex64


def test_structured_dtype():
    b = StreamBuffer(SYM_DTYPE)
    rec = np.zeros(5, SYM_DTYPE)
    rec["z"] = np.arange(5) + 1j
    rec["t"] = np.arange(5) * 4.25
    rec["f"] = 0.01
    b.append(rec)
    b.append(rec[:2])
    b.consume(4)
    assert b.view.dtype == SYM_DTYPE and b.base == 4
    assert b.view["t"].tolist() == [17.0, 0.0, 4.25]
    assert b.view["z"].tolist() == [4 + 1j, 1j, 1 + 1j]


def test_deepcopy_is_independent():
    b = StreamBuffer(np.float32, base=-2, fill=2)
    b.append(np.arange(300, dtype=np.float32))
    b.consume(250)
    c = copy.deepcopy(b)
    assert c.base == b.base and np.array_equal(c.view, b.view) and c.dtype == b.dtype
    c.append([1.0])
    c.view[0] = -7
    assert len(b) == 52 and b.view[0] == 248.0
    b.consume(10)
    assert c.base == 248 and len(c) == 53
    assert copy.copy(b).view.tolist() == b.view.tolist()


def test_appends_are_amortised():
    """Many one-item appends with a short kept history: few storage moves, bounded storage."""
    b = StreamBuffer(np.float64, capacity=8)
    moves = 0
    data_id = id(b._data)
    starts = []
    for i in range(100_000):
        before = b._start
        b.append([float(i)])
        if id(b._data) != data_id or (b._start == 0 and before != 0):
            moves += 1
            data_id = id(b._data)
        starts.append(b._start)
        b.keep_from(b.end - 20)  # keep a 20-item history
    assert b.view.tolist() == [float(i) for i in range(100_000 - 20, 100_000)]
    assert len(b._data) <= 128
    assert moves < 100_000 / 10


def test_growing_buffer_doubles():
    b = StreamBuffer(np.uint8, capacity=4)
    sizes = set()
    for i in range(10_000):
        b.append([i & 1])
        sizes.add(len(b._data))
    assert len(sizes) <= 13  # 4 .. 16384 by doubling
    assert b.view.sum() == 5000 and b.base == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["append", "consume", "keep_from", "take", "copy"]),
                          st.integers(0, 40)), max_size=60))
def test_matches_a_plain_array_model(ops):
    b = StreamBuffer(np.int32, capacity=4)
    model = np.zeros(0, np.int32)
    base = 0
    counter = 0
    for op, k in ops:
        if op == "append":
            chunk = np.arange(counter, counter + k, dtype=np.int32)
            counter += k
            b.append(chunk)
            model = np.concatenate([model, chunk])
        elif op == "consume":
            k = min(k, len(model))
            b.consume(k)
            model, base = model[k:], base + k
        elif op == "keep_from":
            idx = base + k - 5
            n = min(max(idx - base, 0), len(model))
            assert b.keep_from(idx) == n
            model, base = model[n:], base + n
        elif op == "take":
            k = min(k, len(model))
            assert b.take(k).tolist() == model[:k].tolist()
            model, base = model[k:], base + k
        else:
            b = copy.deepcopy(b)
        assert b.base == base and b.view.tolist() == model.tolist() and b.end == base + len(model)
