"""The installed distribution: the wheel carries the packages and their data, no test data.

The tests read ``tests/data`` from the source tree (through ``__file__``); the wheel has the
``orbitlink.tests`` modules but none of the recordings, vectors or element sets.
"""

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: suffixes of test data (recordings, IQ, vectors, element sets, their provenance notes)
TEST_DATA_SUFFIXES = (".wav", ".sigmf-data", ".sigmf-meta", ".cf32", ".cs16", ".ci16", ".cu8",
                      ".ci8", ".raw", ".iq", ".tle", ".omm", ".origin", ".tsv", ".hex", ".kiss",
                      ".json", ".xml")


def _build_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the sources (so no build/ lands in the work tree)."""
    import importlib.util

    assert (importlib.util.find_spec("wheel") is not None
            or importlib.util.find_spec("setuptools.command.bdist_wheel") is not None), \
        "building a wheel needs the 'wheel' package (in the test extra) or setuptools >= 70.1"
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    for folder in sorted(set(cfg["tool"]["setuptools"]["package-dir"].values())):
        top = folder.split("/")[0]
        if not (src / top).exists():
            shutil.copytree(REPO / top, src / top, ignore=ignore)
    dist = tmp_path / "dist"
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "--no-index", "--disable-pip-version-check", "-q", "-w", str(dist),
                        str(src)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    wheels = sorted(dist.glob("orbitlink-*.whl"))
    assert len(wheels) == 1, sorted(dist.iterdir())
    return wheels[0]


def test_wheel_carries_no_test_data(tmp_path):
    with zipfile.ZipFile(_build_wheel(tmp_path)) as z:
        names = z.namelist()
    # a real wheel: the layers, the link files and the radio profiles are in it
    for must in ("orbitlink/__init__.py", "orbitlink/modem/block.py",
                 "orbitlink/modem/_kernels/psk.py", "orbitlink/framing/hdlc.py",
                 "orbitlink/drivers/sigmf.py", "orbitlink/flowgraphs/cli.py",
                 "orbitlink/flowgraphs/links/qpsk.yaml",
                 # the view's page travels with orbitlink (no CDN, no build step)
                 "orbitlink/flowgraphs/view_static/index.html",
                 "orbitlink/flowgraphs/view_static/view.js",
                 "orbitlink/flowgraphs/view_static/view.css"):
        assert must in names, must
    files = [n for n in names if ".dist-info/" not in n]
    data = [n for n in files if n.startswith("orbitlink/tests/data/")]
    assert not data, f"test data in the wheel: {data[:5]} ..."
    bad = [n for n in files if n.lower().endswith(TEST_DATA_SUFFIXES)]
    assert not bad, f"test files in the wheel: {bad[:5]} ..."
    # of the tests package only the modules ship
    assert all(n.endswith(".py") for n in files if n.startswith("orbitlink/tests/")), \
        [n for n in files if n.startswith("orbitlink/tests/") and not n.endswith(".py")]
