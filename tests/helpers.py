"""Shared test helpers (importable as orbitlink.tests.helpers)."""

import importlib
import pkgutil

import numpy as np



def import_all():
    """Import every orbitlink module so that every block registers itself."""
    import orbitlink.drivers
    import orbitlink.flowgraphs
    import orbitlink.framing
    import orbitlink.modem

    for pkg in (orbitlink.modem, orbitlink.framing, orbitlink.drivers, orbitlink.flowgraphs):
        for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if m.name.endswith("__main__"):
                continue
            importlib.import_module(m.name)
    return orbitlink


def all_blocks():
    """Registered stateful blocks, name -> class."""
    import_all()
    from orbitlink.modem.block import REGISTRY

    return {n: c for n, c in REGISTRY.items() if c.stateful}


def run_split(block, x, sizes):
    """Run a copy of ``block`` (reset) over ``x`` cut into chunks of ``sizes``, then flush;
    the concatenated output (for chunk-contract checks)."""
    from orbitlink.modem.block import concat

    b = block.copy()
    b.reset()
    out, i = [], 0
    for s in sizes:
        out.append(b.process(x[i:i + s]))
        i += s
    out.append(b.flush())
    return concat(b.out_type, out)


def assert_same_output(kind, a, b, what=""):
    if kind == "pdu":
        assert len(a) == len(b), f"{what}: {len(a)} PDUs vs {len(b)}"
        for i, (p, q) in enumerate(zip(a, b)):
            assert p == q, f"{what}: PDU {i} differs: {p} vs {q}"
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} vs {b.dtype}"
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    # bit for bit (NaN payloads included)
    assert a.tobytes() == b.tobytes(), f"{what}: outputs differ (first at {_first_diff(a, b)})"


def _first_diff(a, b):
    av = a.view(np.uint8).reshape(len(a), -1) if len(a) else a
    bv = b.view(np.uint8).reshape(len(b), -1) if len(b) else b
    d = np.nonzero(np.any(av != bv, axis=1))[0]
    return int(d[0]) if len(d) else None


def loopback(link, frames=6, *, sets=None, **kw) -> dict:
    """One loopback through the library (:func:`orbitlink.flowgraphs.loopback.loopback`):
    ``link`` is a link name or file, ``sets`` its ``--set`` overrides, ``kw`` the loopback's
    keyword arguments (``ebn0``, ``esn0``, ``cfo``, ``sro``, ``seed``, ``medium``, ...).
    Returns the result as ``orbitlink loopback --json`` prints it."""
    from orbitlink.flowgraphs.links import load_link
    from orbitlink.flowgraphs.loopback import loopback as run

    return run(load_link(link, sets), frames, **kw).to_dict()


GR_PY = "/usr/bin/python3"


def have_gnuradio() -> bool:
    """GNU Radio's zeromq and blocks modules import with Debian's Python (the interop peer)."""
    import os
    import subprocess

    if not os.path.exists(GR_PY):
        return False
    try:
        r = subprocess.run([GR_PY, "-c", "import gnuradio.zeromq, gnuradio.blocks"],
                           capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def loopback_endpoint() -> str:
    """``tcp://127.0.0.1:PORT`` with a port free now (for a process that binds it later)."""
    return f"tcp://127.0.0.1:{free_port()}"


class RxProcess:
    """``orbitlink rx ARGS`` in a child process, its stdout and stderr into files (a pipe that
    nobody reads while a test talks to the bus would fill up and hold rx back). A
    :class:`subprocess.Popen` with :meth:`communicate` reading the files and :meth:`stop`."""

    def __new__(cls, args, env=None):
        import subprocess
        import sys
        import tempfile
        import time

        class _P(subprocess.Popen):
            def communicate(self, input=None, timeout=None):
                try:
                    self.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.kill()
                    self.wait()
                out = []
                for f in (self.out_f, self.err_f):
                    f.seek(0)
                    out.append(f.read())
                return out[0], out[1]

            finish = communicate

            def stop(self):
                if self.poll() is None:
                    self.kill()
                    self.wait()

        out_f, err_f = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        p = _P([sys.executable, "-m", "orbitlink.flowgraphs.cli", "rx", *args],
               stdout=out_f, stderr=err_f, text=True, env=env)
        p.out_f, p.err_f, p.t_start = out_f, err_f, time.monotonic()
        return p


class BusSub:
    """A SUB socket reading the bus with struct and json only."""

    def __init__(self, endpoint):
        import zmq

        self.ctx = zmq.Context()
        self.s = self.ctx.socket(zmq.SUB)
        self.s.setsockopt(zmq.SUBSCRIBE, b"")
        self.s.setsockopt(zmq.LINGER, 0)
        self.s.connect(endpoint)
        self.msgs = []

    def read_until_stop(self, timeout=30.0, proc=None):
        import json
        import struct
        import time

        HEADER = struct.Struct("<4sBBHQqd")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.s.poll(200):
                continue
            topic, header, meta, payload = self.s.recv_multipart()
            magic, ver, kind, flags, seq, si, t = HEADER.unpack(header)
            assert magic == b"OLNK" and ver == 1
            m = json.loads(meta)
            self.msgs.append((topic.decode(), kind, seq, si, t, m, payload))
            if kind == 3 and m.get("event") == "stop":
                return self.msgs
        why = ""
        if proc is not None:
            proc.kill()
            why = proc.communicate()[1]
        raise AssertionError(f"no stop event within {timeout} s: {self.msgs[-3:]} {why}")

    def close(self):
        self.s.close(0)
        self.ctx.term()


def wait_port(port: int, timeout: float = 20.0) -> None:
    """Until something listens on 127.0.0.1:PORT (AssertionError after ``timeout`` s)."""
    import socket
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def simulated_pass(out_dir, min_el: float = 55.0):
    """A 2.2 GHz ISS pass (the real 2018 TLE of tests/data/tle) from ``min_el`` degrees up,
    through the loopback (QPSK, CCSDS concatenated, Eb/N0 9 dB) as a SigMF recording in
    ``out_dir``; returns (the .sigmf-meta path, the loopback's JSON result)."""
    import contextlib
    import io
    import json
    from pathlib import Path

    from orbitlink.flowgraphs.cli import main

    tle = Path(__file__).resolve().parent / "data" / "tle" / "iss_flock_2018.tle"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["loopback", "--link", "ccsds-concat", "--set", "modulation=qpsk", "--tle",
                   str(tle), "--station", "52.0,4.37,10", "--freq", "2.2G", "--start",
                   "2018-05-16T01:00:00Z", "--min-el", str(min_el), "--ebn0", "9", "--out",
                   str(out_dir), "--json"])
    assert rc == 0
    return next(Path(out_dir).glob("*.sigmf-meta")), json.loads(buf.getvalue())


def start_view(bus: str, port: int):
    """``orbitlink view --bus BUS --port PORT`` in a child process, once it listens."""
    import subprocess
    import sys

    view = subprocess.Popen([sys.executable, "-m", "orbitlink.flowgraphs.cli", "view",
                             "--bus", bus, "--port", str(port)], stderr=subprocess.PIPE,
                            text=True)
    line = view.stderr.readline()
    if "orbitlink view: http" not in line:
        view.kill()
        raise AssertionError(f"orbitlink view did not start: {line}")
    return view

