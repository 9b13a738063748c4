"""The block model (orbitlink.modem.block): parameter declaration and validation, coercion from
YAML-like dicts, PDUs, the block lifecycle (copy/reset/run) and the stream helpers."""

import dataclasses
import math

import numpy as np
import pytest

from orbitlink import OrbitlinkError
from orbitlink.modem import block as bm
from orbitlink.modem.block import (
    SYM_DTYPE, Block, ParamError, Pdu, Rate, coerce_params, concat, describe_params, empty,
    param, validate_params,
)


@dataclasses.dataclass(frozen=True)
class P:
    gain: float = param(1.0, "Gain", unit="dB", lo=-10.0, hi=10.0)
    rate: float = param(1.0, "Rate", unit="Hz", lo=0.0, lo_open=True)
    taps: int = param(8, "Taps", lo=1, hi=64)
    mode: str = param("a", "Mode", choices=("a", "b"))
    on: bool = param(True, "Switch")
    label: str = param("x", "Free text")
    shape: tuple = param((1, 2), "A tuple")


def _err(**kw) -> str:
    with pytest.raises(ParamError) as info:
        validate_params(P(**kw), "myblock")
    msg = str(info.value)
    assert msg.startswith("myblock: "), msg
    return msg


# ------------------------------------------------------------------------------------------------
# validate_params


def test_defaults_are_valid():
    validate_params(P())
    validate_params(P(gain=-10.0, taps=64, mode="b", on=False, rate=1e-12))  # edges included


def test_param_error_is_a_user_error():
    assert issubclass(ParamError, OrbitlinkError) and issubclass(ParamError, ValueError)


@pytest.mark.parametrize("kw,needles", [
    ({"gain": "3"}, ["'gain'", "number"]),
    ({"gain": True}, ["'gain'", "number"]),
    ({"gain": None}, ["'gain'", "number"]),
    ({"taps": 2.5}, ["'taps'", "integer"]),
    ({"taps": False}, ["'taps'", "number"]),
    ({"gain": math.nan}, ["'gain'", "finite"]),
    ({"gain": math.inf}, ["'gain'", "finite"]),
    ({"on": 1}, ["'on'", "true or false"]),
    ({"label": 3}, ["'label'", "string"]),
], ids=["str-for-float", "bool-for-float", "none", "frac-int", "bool-for-int", "nan", "inf",
        "int-for-bool", "int-for-str"])
def test_type_errors_name_the_parameter(kw, needles):
    msg = _err(**kw)
    for n in needles:
        assert n in msg, msg


@pytest.mark.parametrize("kw,needles", [
    ({"gain": 10.5}, ["'gain'", "10.5", "<= 10.0"]),
    ({"gain": -11.0}, ["'gain'", ">= -10.0"]),
    ({"taps": 0}, ["'taps'", ">= 1"]),
    ({"taps": 65}, ["'taps'", "<= 64"]),
    ({"rate": 0.0}, ["'rate'", "> 0.0"]),  # open lower bound
    ({"rate": -1.0}, ["'rate'", "> 0.0"]),
], ids=["above-hi", "below-lo", "int-below", "int-above", "open-lo", "below-open-lo"])
def test_range_errors_name_the_parameter(kw, needles):
    msg = _err(**kw)
    for n in needles:
        assert n in msg, msg


def test_choice_errors_list_the_choices():
    msg = _err(mode="c")
    assert "'mode'" in msg and "'c'" in msg and "a, b" in msg


def test_no_owner_no_prefix():
    with pytest.raises(ParamError) as info:
        validate_params(P(taps=0))
    assert str(info.value).startswith("parameter 'taps'")


def test_mutable_default_rejected():
    with pytest.raises(TypeError):
        param([1, 2], "a list")


def test_describe_params():
    rows = {r["name"]: r for r in describe_params(P)}
    assert list(rows) == [f.name for f in dataclasses.fields(P)]
    assert rows["gain"] == {"name": "gain", "type": "float", "default": 1.0, "unit": "dB",
                            "lo": -10.0, "hi": 10.0, "choices": None, "doc": "Gain"}
    assert rows["mode"]["choices"] == ("a", "b")


# ------------------------------------------------------------------------------------------------
# coerce_params


def test_coerce_builds_and_converts():
    p = coerce_params(P, {"gain": 3, "shape": [4, 5], "mode": "b"}, "owner")
    assert p == P(gain=3.0, shape=(4, 5), mode="b")
    assert type(p.gain) is float and type(p.shape) is tuple


def test_coerce_rejects_unknown_keys_naming_them():
    with pytest.raises(ParamError) as info:
        coerce_params(P, {"gain": 1.0, "gian": 2.0, "zzz": 1}, "link.yaml: receiver")
    msg = str(info.value)
    assert msg.startswith("link.yaml: receiver: ")
    assert "gian" in msg and "zzz" in msg
    assert "gain" in msg.split("known:")[1]  # lists what is known


def test_coerce_validates():
    with pytest.raises(ParamError, match="'taps'"):
        coerce_params(P, {"taps": 100}, "x")
    with pytest.raises(ParamError, match="'gain'"):
        coerce_params(P, {"gain": True}, "x")  # a bool is not turned into a float


def test_coerce_whole_float_for_int_becomes_int():
    p = coerce_params(P, {"taps": 8.0})
    assert type(p.taps) is int


# ------------------------------------------------------------------------------------------------
# Pdu


def test_pdu_equality_compares_data_and_meta():
    assert Pdu(b"ab", {"x": 1}) == Pdu(bytearray(b"ab"), {"x": 1})
    assert Pdu(b"ab") == Pdu(b"ab", {})
    assert Pdu(b"ab", {"x": 1}) != Pdu(b"ac", {"x": 1})
    assert Pdu(b"ab", {"x": 1}) != Pdu(b"ab", {"x": 2})
    assert Pdu(b"ab", {"x": 1}) != Pdu(b"ab", {"x": 1, "y": 0})
    assert Pdu(b"ab", {"x": [1, 2]}) != Pdu(b"ab", {"x": [1, 2, 3]})
    assert Pdu(b"ab") != b"ab"


def test_pdu_equality_is_nan_safe():
    nan = float("nan")
    assert Pdu(b"", {"snr": nan}) == Pdu(b"", {"snr": nan})
    assert Pdu(b"", {"a": {"b": [1.0, nan]}}) == Pdu(b"", {"a": {"b": [1.0, nan]}})
    a = np.array([1.0, np.nan])
    assert Pdu(b"", {"v": a}) == Pdu(b"", {"v": a.copy()})
    assert Pdu(b"", {"v": a}) != Pdu(b"", {"v": np.array([1.0, 2.0])})
    assert Pdu(b"", {"snr": nan}) != Pdu(b"", {"snr": 1.0})


def test_pdu_type_and_hash():
    with pytest.raises(TypeError):
        Pdu("text")
    with pytest.raises(TypeError):
        hash(Pdu(b"x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        Pdu(b"x").data = b"y"


# ------------------------------------------------------------------------------------------------
# Block lifecycle


@dataclasses.dataclass(frozen=True)
class AccParams:
    scale: float = param(1.0, "Scale", lo=0.0)


class Accumulator(Block):
    """Running sum of the input (f32 -> f32), a tiny stateful block for these tests."""

    name = "test_accumulator"  # not registered: the registry stays the package's own
    Params = AccParams
    rate = Rate.SYNC
    in_type = "f32"
    out_type = "f32"

    def _reset(self):
        self.state = np.zeros(1)
        self.seen = []

    def _process(self, x):
        y = (np.cumsum(x, dtype=np.float64) + self.state[0]) * self.params.scale
        if len(x):
            self.state[0] += float(np.sum(x, dtype=np.float64))
        self.seen.append(len(x))
        return y.astype(np.float32)


def test_block_params_and_validation():
    b = Accumulator(scale=2.0)
    assert b.params == AccParams(scale=2.0)
    b2 = Accumulator(AccParams(scale=1.0), scale=3.0)  # keyword overrides a params object
    assert b2.params.scale == 3.0
    with pytest.raises(ParamError, match="test_accumulator: parameter 'scale'"):
        Accumulator(scale=-1.0)
    with pytest.raises(TypeError):
        Accumulator(P())


def test_block_process_converts_dtype():
    b = Accumulator()
    y = b.process([1, 2, 3])
    assert y.dtype == np.float32 and y.tolist() == [1.0, 3.0, 6.0]


def test_copy_is_independent():
    a = Accumulator()
    a.process(np.ones(5, np.float32))
    b = a.copy()
    assert b is not a and b.state is not a.state and b.params == a.params
    ya = a.process(np.ones(2, np.float32))
    assert a.state[0] == 7.0 and b.state[0] == 5.0  # b unaffected by a
    yb = b.process(np.ones(2, np.float32))
    assert ya.tolist() == yb.tolist() == [6.0, 7.0]  # same state at the copy -> same output
    b.process(np.full(3, 10, np.float32))
    assert a.state[0] == 7.0 and a.seen == [5, 2] and b.seen == [5, 2, 3]


def test_reset_returns_to_the_initial_state():
    a = Accumulator()
    first = a.run(np.arange(4, dtype=np.float32))
    a.process(np.ones(3, np.float32))
    a.reset()
    assert a.run(np.arange(4, dtype=np.float32)).tolist() == first.tolist()


def test_run_concatenates_process_and_flush():
    y = Accumulator(scale=0.5).run(np.array([2, 2], np.float32))
    assert y.dtype == np.float32 and y.tolist() == [1.0, 2.0]


def test_copy_of_a_real_block_is_independent():
    from orbitlink.modem.psk import PskDemodulator

    rng = np.random.default_rng(3)
    blk, x = PskDemodulator.example(rng)
    n = len(x) // 2
    blk.process(x[:n])
    c = blk.copy()
    # the copy runs to the end first: if it shared state, the original would have moved on
    rest_c = concat("sym", [c.process(x[n:]), c.flush()])
    rest_a = concat("sym", [blk.process(x[n:]), blk.flush()])
    assert len(rest_a) > 10
    assert rest_a.tobytes() == rest_c.tobytes()


def test_register_rejects_a_second_class_under_one_name(monkeypatch):
    monkeypatch.setattr(bm, "REGISTRY", {})
    bm.register(Accumulator)
    bm.register(Accumulator)  # idempotent for the same class

    class Other(Accumulator):
        """Same name, another class."""

    with pytest.raises(ValueError, match="test_accumulator"):
        bm.register(Other)
    assert bm.REGISTRY == {"test_accumulator": Accumulator}


# ------------------------------------------------------------------------------------------------
# stream helpers


@pytest.mark.parametrize("kind,dtype", [("c64", np.complex64), ("f32", np.float32),
                                        ("u8", np.uint8), ("sym", SYM_DTYPE)])
def test_empty(kind, dtype):
    e = empty(kind)
    assert isinstance(e, np.ndarray) and e.shape == (0,) and e.dtype == np.dtype(dtype)


def test_empty_pdu_and_unknown():
    assert empty("pdu") == []
    with pytest.raises(KeyError):
        empty("int64")


def test_concat_arrays():
    y = concat("f32", [np.array([1, 2], np.float64), [], np.array([3], np.float32)])
    assert y.dtype == np.float32 and y.tolist() == [1.0, 2.0, 3.0]
    z = concat("c64", [np.array([1 + 1j], np.complex64), np.zeros(0, np.complex64)])
    assert z.dtype == np.complex64 and z.tolist() == [1 + 1j]
    assert concat("u8", []).dtype == np.uint8 and len(concat("u8", [])) == 0
    assert concat("u8", iter([np.array([1], np.uint8), np.array([0], np.uint8)])).tolist() == [1, 0]


def test_concat_sym_keeps_fields():
    a = np.zeros(2, SYM_DTYPE)
    a["t"] = [1.5, 2.5]
    b = np.zeros(1, SYM_DTYPE)
    b["z"] = 1j
    y = concat("sym", [a, empty("sym"), b])
    assert y.dtype == SYM_DTYPE and y["t"].tolist() == [1.5, 2.5, 0.0] and y["z"][2] == 1j


def test_concat_pdus():
    p, q = Pdu(b"a", {"i": 0}), Pdu(b"b", {"i": 1})
    assert concat("pdu", [[p], [], [q]]) == [p, q]
    assert concat("pdu", []) == []
