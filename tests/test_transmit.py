"""Transmit that cannot go wrong (issue 11 item 5), through the graph's ``radio_sink``: nothing
transmits without --transmit on the command line; a frequency outside the profile's allowed
ranges, a gain above its maximum, or a receive-only radio is refused before the device is
opened, with one sentence and exit 2. And with the permission, the burst goes out: into a file
through the loopback profile, into the SoapySDR test module through a profile of its own."""

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from orbitlink.flowgraphs.cli import main

PROFILES = Path(__file__).resolve().parents[1] / "hw-profiles"
PAYLOADS = ["11" * 64, "22" * 64, "33" * 64]


def _tx_graph(tmp_path, capsys, **sink):
    g = tmp_path / "tx.yaml"
    assert main(["expand", "--link", "qpsk", "--tx", "-o", str(g)]) == 0
    capsys.readouterr()
    doc = yaml.safe_load(g.read_text())
    del doc["blocks"]["sigmf_sink"]
    doc["blocks"]["radio"] = {"type": "radio_sink", "params": sink}
    doc["connections"] = [c.replace("sigmf_sink", "radio") for c in doc["connections"]]
    g.write_text(yaml.safe_dump(doc, sort_keys=False))
    p = tmp_path / "p.txt"
    p.write_text("\n".join(PAYLOADS) + "\n")
    return g, p


def _refused(capsys, argv, *words):
    t0 = time.perf_counter()
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("orbitlink: error: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, err
    assert time.perf_counter() - t0 < 2.0
    return err


def _soapy():
    """The SoapySDR test module, loaded (fails where it must run: ORBITLINK_REQUIRE_SOAPY)."""
    from orbitlink.tests import soapy_fake

    soapy_fake.require()


@pytest.fixture
def no_device(monkeypatch):
    """Opening any radio fails the test: the refusals must come first."""
    import orbitlink.drivers.radio_sink as rs

    def opened(*a, **k):
        raise AssertionError("a device was opened before the checks refused")

    monkeypatch.setattr(rs, "radio_for_profile", opened)


def test_nothing_transmits_without_the_flag(tmp_path, capsys, no_device):
    g, p = _tx_graph(tmp_path, capsys, profile="loopback", device=f"tx_file={tmp_path}/out",
                     freq=437.5e6, gain=0)
    _refused(capsys, ["run", g, "--input", p], "without --transmit")
    assert not list(tmp_path.glob("out*"))


@pytest.mark.parametrize("profile,freq,gain,words", [
    ("hackrf", 433.0e6, 10, ["433 MHz is outside the allowed transmit ranges", "hackrf"]),
    ("b210", 146.5e6, 10, ["146.5 MHz is outside the allowed transmit ranges"]),
    ("hackrf", 437.0e6, 45, ["45 dB is above the maximum", "40 dB"]),
    ("pluto", 437.0e6, 61, ["above the maximum"]),
    ("rtlsdr", 437.0e6, 10, ["receive-only"]),
    ("airspy-r2", 145.9e6, 0, ["receive-only"]),
])
def test_refused_before_the_device_is_opened(tmp_path, capsys, no_device, profile, freq, gain,
                                             words):
    g, p = _tx_graph(tmp_path, capsys, profile=profile, freq=freq, gain=gain)
    _refused(capsys, ["run", g, "--input", p, "--transmit"], *words)
    # and without the flag it is refused all the same (a receive-only radio says so first)
    _refused(capsys, ["run", g, "--input", p],
             "receive-only" if profile in ("rtlsdr", "airspy-r2") else "without --transmit")


def test_the_loopback_profile_transmits_into_a_file(tmp_path, capsys):
    g, p = _tx_graph(tmp_path, capsys, profile="loopback", device=f"tx_file={tmp_path}/out",
                     freq=437.5e6, gain=0)
    assert main(["run", str(g), "--input", str(p), "--transmit"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["decode", str(tmp_path / "out.sigmf-meta"), "--link", "qpsk", "--json"]) == 0
    got = [json.loads(x)["hex"] for x in capsys.readouterr().out.splitlines()]
    assert got == PAYLOADS
    # byte for byte what `encode` writes for the same payloads
    assert main(["encode", "--link", "qpsk", "--in", str(p), "--out",
                 str(tmp_path / "ref.sigmf-meta")]) == 0
    a = np.fromfile(tmp_path / "out.sigmf-data", np.complex64)
    b = np.fromfile(tmp_path / "ref.sigmf-data", np.complex64)
    assert a.tobytes() == b.tobytes()


@pytest.mark.soapy
def test_a_burst_through_soapysdr_at_its_time(tmp_path, capsys):
    """A profile for the test module (driver orbitfake); the graph's radio sink sends the
    burst at the requested time; the module captures the samples encode writes, byte for byte."""
    _soapy()
    from orbitlink.tests.soapy_fake import orbitfake_profile

    pf = orbitfake_profile(tmp_path)
    cap = tmp_path / "cap.cf32"
    g, p = _tx_graph(tmp_path, capsys, profile=str(pf), freq=437.5e6, gain=20,
                     device=f"serial=tx{os.getpid()},txfile={cap}", start_time=0.0, lead_s=0.3)
    assert main(["run", str(g), "--input", str(p), "--transmit"]) == 0, capsys.readouterr().err
    assert main(["encode", "--link", "qpsk", "--in", str(p), "--out",
                 str(tmp_path / "ref.sigmf-meta")]) == 0
    ref = (tmp_path / "ref.sigmf-data").read_bytes()
    assert cap.read_bytes() == ref
    bursts = [json.loads(x) for x in open(str(cap) + ".bursts")]
    assert len(bursts) >= 1 and not any(b.get("late") for b in bursts)


@pytest.mark.soapy
def test_orbitlink_devices_lists_what_soapysdr_finds(capsys):
    _soapy()
    assert main(["devices", f"driver=orbitfake,serial=dev{os.getpid()}", "--json"]) == 0
    (d,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert d["driver"] == "orbitfake" and "error" not in d
    assert d["freq_ranges"]["rx"] and d["gain_elements"]["rx"] and d["antennas"]["rx"]
    assert d["has_hardware_time"] is True
    assert main(["devices", f"driver=orbitfake,serial=dev{os.getpid()}"]) == 0
    out = capsys.readouterr().out
    for words in ("sample rates", "rx tuning", "rx gains", "rx antennas", "tx gains",
                  "hardware time  yes"):
        assert words in out, out
