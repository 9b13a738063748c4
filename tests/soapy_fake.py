"""The test-only SoapySDR device module ``orbitfake`` (``tests/soapy/OrbitFake.cpp``): build it,
load it, and say why it cannot be used.

``python -m orbitlink.tests.soapy_fake`` builds it (``make soapy`` does) into
``build/soapy/libOrbitFake.so``; :func:`build` rebuilds it only when the source is newer. The
module is loaded into a process with :func:`load` (``SoapySDR.loadModule``), or into a child
process through ``SOAPY_SDR_PLUGIN_PATH`` (:func:`plugin_env`), which SoapySDR reads before its
first enumeration. See the source's header for the device arguments (file=, rate=, txfile=, the
injections).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "tests" / "soapy" / "OrbitFake.cpp"
BUILD_DIR = REPO / "build" / "soapy"
LIBRARY = BUILD_DIR / "libOrbitFake.so"
HEADER = Path("/usr/include/SoapySDR/Device.hpp")

SETUP_HINT = ("run `make setup` as root (apt installs python3-soapysdr, libsoapysdr-dev and g++, "
              "links the binding into .venv and builds the module)")


def binding_problem() -> str | None:
    """None when ``import SoapySDR`` works in this interpreter, else why not."""
    try:
        import SoapySDR  # noqa: F401
    except ImportError as e:
        return (f"the SoapySDR Python binding is not importable in {sys.executable} ({e}); "
                + SETUP_HINT)
    return None


def build_problem() -> str | None:
    """None when the module can be built here, else why not."""
    if not HEADER.exists():
        return f"the SoapySDR headers ({HEADER}, Debian libsoapysdr-dev) are missing; " + SETUP_HINT
    if shutil.which("g++") is None:
        return "g++ is not installed; " + SETUP_HINT
    return None


def build(force: bool = False) -> Path:
    """Compile the module if it is missing or older than its source; its path. Raises
    RuntimeError with the compiler's output when the build fails."""
    if not force and LIBRARY.exists() and LIBRARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return LIBRARY
    why = build_problem()
    if why:
        raise RuntimeError(why)
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so.tmp", dir=BUILD_DIR)  # not *.so: not a plugin yet
    os.close(fd)
    cmd = ["g++", "-std=c++17", "-O2", "-Wall", "-shared", "-fPIC", str(SOURCE), "-o", tmp,
           "-lSoapySDR"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        os.unlink(tmp)
        raise RuntimeError(f"building {SOURCE.name} failed:\n{' '.join(cmd)}\n{r.stderr}")
    os.replace(tmp, LIBRARY)  # atomic: a concurrent loader sees the old or the new file
    return LIBRARY


_loaded: str | None = None


def load() -> str:
    """Build if needed and load the module into this process (once); its path."""
    global _loaded
    if _loaded is None:
        import SoapySDR

        path = str(build())
        err = SoapySDR.loadModule(path)
        if err and "already loaded" not in err:
            raise RuntimeError(f"SoapySDR.loadModule({path}): {err}")
        _loaded = path
    return _loaded


def plugin_env(env: dict | None = None) -> dict:
    """An environment for a child process that loads the module (SOAPY_SDR_PLUGIN_PATH)."""
    env = dict(os.environ if env is None else env)
    path = str(build().parent)
    old = env.get("SOAPY_SDR_PLUGIN_PATH")
    env["SOAPY_SDR_PLUGIN_PATH"] = path if not old else f"{path}:{old}"
    return env


def main(argv=None) -> int:
    """Build the module; exit 0 with a note when this machine cannot (no headers or g++)."""
    why = build_problem()
    if why:
        print(f"orbitfake SoapySDR test module not built: {why}", file=sys.stderr)
        return 0
    try:
        path = build(force="--force" in (argv or sys.argv[1:]))
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"orbitfake SoapySDR test module: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def require():
    """Build and load the module for a test; skip the test when it cannot be, or fail it where
    it must run (``ORBITLINK_REQUIRE_SOAPY`` set, as ``.ci/run`` does). Returns its path."""
    import pytest

    why = binding_problem() or build_problem()
    if why is None:
        try:
            return load()
        except RuntimeError as e:
            why = str(e)
    if os.environ.get("ORBITLINK_REQUIRE_SOAPY"):
        pytest.fail(f"ORBITLINK_REQUIRE_SOAPY is set but {why}")
    pytest.skip(why)


def orbitfake_profile(directory) -> Path:
    """A hardware profile for the module (written into ``directory``): HackRF's, with
    hardware time, overflows reported by readStream, full duplex, 1 kHz to 10 MHz, 50 MHz to
    6 GHz, gains 0 to 40 dB (transmit at most 30)."""
    import yaml

    prof = yaml.safe_load(open(REPO / "hw-profiles" / "hackrf.yaml"))
    prof.update(name="orbitfake", driver="orbitfake", timestamps="hardware",
                overflow_reporting="readStream", transmit="full_duplex")
    prof["sample_rates"] = {"ranges": [[1.0e3, 10.0e6]]}
    for d in ("rx", "tx"):
        prof[d]["gains"] = {}
        prof[d]["antennas"] = []
        prof[d]["freq_ranges"] = [[50.0e6, 6.0e9]]
        prof[d]["gain_range"] = [0, 40]
    prof["tx"]["max_gain"] = 30
    pf = Path(directory) / "orbitfake.yaml"
    pf.write_text(yaml.safe_dump(prof))
    return pf
