"""Every registered block documents its streams: numpydoc ``Input`` and ``Output`` sections.

Each section lists the stream as ``<type> : <container>`` followed by an indented description
(shape, dtype, units, conventions); the first entry must name the block's declared stream type
(``cls.in_type`` / ``cls.out_type``: c64, f32, u8, sym or pdu). Blocks whose stream type
follows a parameter list the alternative type as a further entry.
"""

import inspect
import re

import pytest

from orbitlink.flowgraphs.registry import all_blocks
from orbitlink.modem.block import STREAM_DTYPES, Block

STREAM_TYPES = (*STREAM_DTYPES, "pdu")
_ENTRY = re.compile(r"^(\S+)\s*:\s*(.*)$")


def io_sections(doc: str) -> dict[str, list[tuple[str, str]]]:
    """The numpydoc sections of a docstring: title -> entries ``(name, text)``, ``text`` being
    the entry's type line and indented description joined."""
    lines = inspect.cleandoc(doc or "").splitlines()
    heads = [i for i in range(len(lines) - 1)
             if lines[i].strip() and set(lines[i + 1].strip()) == {"-"}
             and len(lines[i + 1].strip()) == len(lines[i].strip())]
    out = {}
    for k, i in enumerate(heads):
        stop = heads[k + 1] if k + 1 < len(heads) else len(lines)
        entries = []
        for line in lines[i + 2:stop]:
            m = _ENTRY.match(line) if line[:1].strip() else None
            if m:
                entries.append([m.group(1), m.group(2)])
            elif entries and line.strip():
                entries[-1][1] += " " + line.strip()
        out[lines[i].strip()] = [tuple(e) for e in entries]
    return out


def io_problems(cls) -> list[str]:
    """What is wrong with a block class's Input / Output sections (empty when nothing)."""
    sections = io_sections(cls.__dict__.get("__doc__") or "")
    problems = []
    for title, attr in (("Input", "in_type"), ("Output", "out_type")):
        declared = getattr(cls, attr)
        entries = sections.get(title)
        if entries is None:
            problems.append(f"no '{title}' section")
            continue
        if not entries:
            problems.append(f"the '{title}' section names no stream ('<type> : ...')")
            continue
        names = [n for n, _ in entries]
        unknown = [n for n in names if n not in STREAM_TYPES]
        if unknown:
            problems.append(f"'{title}' names {unknown}, not stream types {STREAM_TYPES}")
        if names[0] != declared:
            problems.append(f"'{title}' names {names[0]!r} but the block's {attr} is "
                            f"{declared!r}")
        for n, text in entries:
            if len(text.split()) < 4:
                problems.append(f"'{title}' entry {n!r} says too little: {text!r}")
    return problems


BLOCKS = all_blocks()


def test_the_registry_is_complete():
    assert len(BLOCKS) >= 50, sorted(BLOCKS)


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_block_documents_its_input_and_output(name):
    cls = BLOCKS[name]
    problems = io_problems(cls)
    assert not problems, f"{name} ({cls.__module__}.{cls.__name__}): " + "; ".join(problems)


def _fake(doc, in_type="c64", out_type="f32"):
    return type("Fake", (Block,), {"__doc__": doc, "in_type": in_type, "out_type": out_type})


GOOD = """Does something.

    Input
    -----
    c64 : ndarray of complex64, shape (n,)
        IQ samples at samp_rate.

    Output
    ------
    f32 : ndarray of float32, shape (n,)
        Soft bits, positive means 1.
    """


def test_the_check_accepts_a_good_docstring():
    assert io_problems(_fake(GOOD)) == []
    assert io_sections(GOOD)["Output"] == [
        ("f32", "ndarray of float32, shape (n,) Soft bits, positive means 1.")]


def test_the_check_finds_a_missing_section():
    doc = GOOD.split("    Output")[0]
    assert io_problems(_fake(doc)) == ["no 'Output' section"]
    assert io_problems(_fake("Does something.")) == ["no 'Input' section", "no 'Output' section"]


def test_the_check_finds_a_wrong_or_unknown_type():
    p = io_problems(_fake(GOOD, in_type="f32"))
    assert len(p) == 1 and "'Input' names 'c64' but the block's in_type is 'f32'" in p[0]
    p = io_problems(_fake(GOOD.replace("f32 : ndarray", "llr : ndarray")))
    assert any("not stream types" in x for x in p) and any("out_type is 'f32'" in x for x in p)


def test_the_check_finds_an_empty_section():
    doc = GOOD.replace("    c64 : ndarray of complex64, shape (n,)\n        IQ samples at "
                       "samp_rate.\n", "    The samples.\n")
    assert io_problems(_fake(doc)) == ["the 'Input' section names no stream ('<type> : ...')"]
    doc = GOOD.replace("f32 : ndarray of float32, shape (n,)\n        Soft bits, positive "
                       "means 1.", "f32 : f32")
    assert any("says too little" in x for x in io_problems(_fake(doc)))


def test_the_check_reads_only_the_class_own_docstring():
    parent = _fake(GOOD)
    child = type("Child", (parent,), {})  # no docstring of its own
    assert io_problems(child) == ["no 'Input' section", "no 'Output' section"]
