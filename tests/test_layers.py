"""Architecture rules of DESIGN.md, held by tests.

- The folders install under the ``orbitlink.`` namespace; the bare folder names are never
  imported (``import modem`` would load a second copy of the package).
- Layers: ``flowgraphs`` above ``framing`` and ``drivers``, both above ``modem``; nothing lower
  imports something higher. No layer imports ``orbitlink.tests``; nothing outside
  ``orbitlink.modem`` imports ``orbitlink.modem._kernels`` (framing uses public modem APIs).
  Only ``modem/_kernels`` imports numba. Checked by a static scan of every import statement
  (function-level ones included) and ``importlib.import_module("...")`` call with a literal
  name.
- The CLI starts fast: importing it loads neither numba nor SoapySDR, and ``import orbitlink``
  never needs SoapySDR.
- Every registered block has a frozen params dataclass whose fields all carry a doc.
"""

import ast
import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orbitlink.tests.helpers import import_all

REPO = Path(__file__).resolve().parents[1]

#: folder -> package it installs as (pyproject's package-dir)
LAYER_DIRS = {
    "modem": "orbitlink.modem",
    "framing": "orbitlink.framing",
    "drivers": "orbitlink.drivers",
    "flowgraphs": "orbitlink.flowgraphs",
}
BARE_NAMES = ("modem", "framing", "drivers", "flowgraphs", "hw_profiles")

#: no layer imports the tests (test signals the blocks need live in orbitlink.modem.signals),
#: and outside orbitlink.modem nothing reaches into its numba kernels (public modem modules
#: such as orbitlink.modem.sync and orbitlink.modem.fec.hdlc wrap them)
TESTS = "orbitlink.tests"
KERNELS = "orbitlink.modem._kernels"

#: layer -> orbitlink packages it must not import
FORBIDDEN = {
    "modem": ("orbitlink.framing", "orbitlink.drivers", "orbitlink.flowgraphs", TESTS),
    "framing": ("orbitlink.flowgraphs", TESTS, KERNELS),
    "drivers": ("orbitlink.flowgraphs", TESTS, KERNELS),
    "flowgraphs": (TESTS, KERNELS),
}


def _module_name(path: Path) -> tuple[str, bool]:
    """Dotted module name of a source file, and whether it is a package ``__init__``."""
    rel = path.relative_to(REPO)
    pkg = LAYER_DIRS[rel.parts[0]]
    parts = list(rel.with_suffix("").parts[1:])
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    return ".".join([pkg, *parts]), is_pkg


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a file, relative ones resolved."""
    return _imports_in(path.read_text(encoding="utf-8"), *_module_name(path), str(path))


def _imports_in(text: str, mod: str, is_pkg: bool, filename="<src>") -> list[tuple[int, str]]:
    tree = ast.parse(text, filename)
    package = mod if is_pkg else mod.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            out.append((node.lineno, target))
            # 'from orbitlink import flowgraphs' imports the sub-package
            out += [(node.lineno, f"{target}.{a.name}") for a in node.names]
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name)
                       and node.func.id in ("import_module", "__import__")))):
            out.append((node.lineno, node.args[0].value))
    return out


def _violations(layer: str, imports) -> list[str]:
    return [f"{line}: {name}" for line, name in imports
            if any(_under(name, f) for f in FORBIDDEN[layer])]


def _sources(layer: str) -> list[Path]:
    return sorted(p for p in (REPO / layer).rglob("*.py") if "__pycache__" not in p.parts)


ALL_SOURCES = [p for layer in LAYER_DIRS for p in _sources(layer)]


def _under(name: str, pkg: str) -> bool:
    return name == pkg or name.startswith(pkg + ".")


# ------------------------------------------------------------------------------------------------
# bare folder names


def test_bare_folder_names_never_loaded():
    import_all()
    loaded = [n for n in BARE_NAMES if n in sys.modules]
    assert not loaded, f"bare folder names imported: {loaded}"
    # and the orbitlink.* packages are really loaded from the folders
    for folder, pkg in LAYER_DIRS.items():
        f = Path(sys.modules[pkg].__file__).resolve()
        assert f.parent == REPO / folder, (pkg, f)


def test_no_source_imports_a_bare_folder_name():
    bad = [f"{p.relative_to(REPO)}:{line}: {name}" for p in ALL_SOURCES
           for line, name in _imports(p) if name.split(".")[0] in BARE_NAMES]
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------------------------------------------
# layering


def test_the_scan_sees_sources_and_imports():
    """Guard against a scan that silently finds nothing."""
    assert len(ALL_SOURCES) >= 8
    links = _imports(REPO / "flowgraphs" / "links.py")
    assert any(_under(n, "orbitlink.framing") for _, n in links)
    assert any(_under(n, "orbitlink.modem") for _, n in links)


def test_the_scan_resolves_and_flags():
    """The scanner resolves relative and dynamic imports, and flags a violation."""
    src = ("from ..block import Block\nfrom ... import framing\nfrom . import crc\n"
           "def f():\n    import importlib\n"
           "    importlib.import_module('orbitlink.flowgraphs.cli')\n")
    found = _imports_in(src, "orbitlink.modem.fec.probe", False)
    names = [n for _, n in found]
    assert "orbitlink.modem.block" in names
    assert "orbitlink.framing" in names
    assert "orbitlink.modem.fec.crc" in names
    assert "orbitlink.flowgraphs.cli" in names
    assert [v.split(": ")[1] for v in _violations("modem", found)] == \
        ["orbitlink.framing", "orbitlink.flowgraphs.cli"]
    assert _violations("flowgraphs", found) == []
    assert [n for _, n in _imports_in("from .links import x", "orbitlink.flowgraphs", True)] \
        == ["orbitlink.flowgraphs.links", "orbitlink.flowgraphs.links.x"]


def test_the_scan_flags_tests_and_kernels():
    """An import of the tests or of the numba kernels, in any spelling, is a violation."""
    src = ("from orbitlink.tests.signals import psk_signal\n"
           "def f():\n    from orbitlink import tests\n"
           "    import importlib\n    importlib.import_module('orbitlink.tests.helpers')\n")
    for layer in LAYER_DIRS:
        found = _imports_in(src, f"{LAYER_DIRS[layer]}.probe", False)
        assert {v.split(":")[0] for v in _violations(layer, found)} == {"1", "3", "5"}, layer
    src = ("from orbitlink.modem._kernels.sync import asm_search\n"
           "from ..modem._kernels import hdlc\nfrom orbitlink.modem import _kernels\n")
    for layer in ("framing", "drivers", "flowgraphs"):
        found = _imports_in(src, f"{LAYER_DIRS[layer]}.probe", False)
        assert {v.split(":")[0] for v in _violations(layer, found)} == {"1", "2", "3"}, layer
    # inside orbitlink.modem the kernels are the implementation
    found = _imports_in("from ._kernels import psk as K\n", "orbitlink.modem.psk", False)
    assert _violations("modem", found) == []


@pytest.mark.parametrize("layer", list(LAYER_DIRS))
def test_lower_layers_do_not_import_higher(layer):
    bad = [f"{p.relative_to(REPO)}:{v}" for p in _sources(layer)
           for v in _violations(layer, _imports(p))]
    assert not bad, f"{layer} must not import {FORBIDDEN[layer]}:\n" + "\n".join(bad)


def test_only_kernels_import_numba():
    kernels = REPO / "modem" / "_kernels"
    bad = [f"{p.relative_to(REPO)}:{line}" for p in ALL_SOURCES
           for line, name in _imports(p)
           if name.split(".")[0] == "numba" and kernels not in p.parents]
    assert not bad, "numba imported outside modem/_kernels:\n" + "\n".join(bad)
    assert any(n.split(".")[0] == "numba" for p in _sources("modem/_kernels")
               for _, n in _imports(p))


# ------------------------------------------------------------------------------------------------
# what importing costs


def _fresh_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, cwd=REPO.parent)


def test_cli_import_loads_neither_numba_nor_soapysdr():
    p = _fresh_python("""
        import sys
        import orbitlink.flowgraphs.cli
        cli = orbitlink.flowgraphs.cli
        assert cli.build_parser() is not None
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('numba', 'SoapySDR')))
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]", p.stdout


def test_orbitlink_never_requires_soapysdr():
    """With SoapySDR made unimportable, the packages and the CLI still import and run."""
    p = _fresh_python("""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] == 'SoapySDR':
                    raise ImportError('SoapySDR blocked by the test')
                return None

        sys.meta_path.insert(0, Block())
        import orbitlink
        import orbitlink.modem, orbitlink.framing, orbitlink.drivers, orbitlink.flowgraphs
        import orbitlink.drivers.sigmf, orbitlink.flowgraphs.links, orbitlink.flowgraphs.runner
        from orbitlink.flowgraphs.cli import main
        assert main(['links', '--json']) == 0
        assert 'SoapySDR' not in sys.modules
    """)
    assert p.returncode == 0, p.stderr
    assert '"qpsk"' in p.stdout


# ------------------------------------------------------------------------------------------------
# the registry


def _registry():
    import_all()
    from orbitlink.modem.block import REGISTRY

    return REGISTRY


def test_registry_is_populated():
    reg = _registry()
    assert {"sync_framer", "sync_deframer"} <= set(reg), sorted(reg)
    assert len(reg) >= 5


@pytest.mark.parametrize("name", sorted(_registry()))
def test_block_params_are_documented(name):
    from orbitlink.modem.block import Block

    cls = _registry()[name]
    assert issubclass(cls, Block) and cls.name == name
    doc = cls.__dict__.get("__doc__")  # its own, not inherited from Block
    assert doc and doc.strip(), f"{cls.__name__} has no docstring"
    P = cls.Params
    assert dataclasses.is_dataclass(P), f"{name}: Params is not a dataclass"
    assert P.__dataclass_params__.frozen, f"{name}: {P.__name__} is not frozen"
    fields = dataclasses.fields(P)
    assert fields, f"{name}: no parameters"
    for f in fields:
        doc = f.metadata.get("doc")
        assert isinstance(doc, str) and doc.strip(), f"{name}.{f.name} has no doc"
        assert f.default is not dataclasses.MISSING or \
            f.default_factory is not dataclasses.MISSING, f"{name}.{f.name} has no default"
    # the defaults are a valid configuration, and the params really are frozen
    p = P()
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(p, fields[0].name, getattr(p, fields[0].name))
