"""Hardware profiles (orbitlink.drivers.profiles, hw-profiles/*.yaml) and ``orbitlink profiles``.

- Every packaged profile loads, with the radios' own figures (LIVE-STATION.md section C).
- A bad profile is refused with one sentence naming the file, the key and the reason.
- Transmit safety: no transmit flag, a receive-only radio, a frequency outside the allowed
  ranges, a gain above the maximum: each refused by the pure checks, with SoapySDR and every
  driver module made unimportable (nothing can be opened).
- ``check_device`` refuses a profile that claims more than the device reports.
- ``orbitlink profiles`` and ``orbitlink profiles hackrf --json``.
"""

import ast
import dataclasses
import json
import sys
from pathlib import Path

import pytest
import yaml

from orbitlink.drivers import profiles as P
from orbitlink.drivers.profiles import (DEFAULT_ALLOWED_TX, ConfigRefused, ProfileError,
                                        TransmitRefused, load_profile, profile_names)
from orbitlink.drivers.radio import DROP_DETECTION, RadioConfig, RadioError
from orbitlink.flowgraphs import cli_radio

REPO = Path(__file__).resolve().parents[1]
RADIOS = {"b200": "uhd", "b210": "uhd", "hackrf": "hackrf", "limesdr-mini": "lime",
          "pluto": "plutosdr", "rtlsdr": "rtlsdr", "airspy-r2": "airspy",
          "bladerf2-micro": "bladerf"}
RX_ONLY = ("rtlsdr", "airspy-r2")
TX_RADIOS = sorted(set(RADIOS) - set(RX_ONLY))


def _doc(name: str) -> dict:
    """A packaged profile as a YAML-shaped dict (to mutate into bad profiles)."""
    d = load_profile(name).to_dict()
    for k in ("has_hardware_time", "drop_detection", "source"):
        d.pop(k)
    if d["tx"] is None:
        d.pop("tx")
    return d


def _write(tmp_path, doc, fname="p.yaml") -> Path:
    p = tmp_path / fname
    p.write_text(yaml.safe_dump(doc, sort_keys=False) if not isinstance(doc, str) else doc)
    return p


# ------------------------------------------------------------------------------------------------
# the packaged profiles


def test_the_packaged_profiles():
    assert profile_names() == sorted([*RADIOS, "loopback"])
    for name in profile_names():
        p = load_profile(name)
        assert p.name == name and p.source == f"{name}.yaml"
        assert (REPO / "hw-profiles" / f"{name}.yaml").is_file()
        assert p.drop_detection in DROP_DETECTION
        assert p.rx.freq_ranges and p.sample_rates.highest > 0


@pytest.mark.parametrize("name", sorted(RADIOS))
def test_radio_profiles_are_from_the_drivers(name):
    p = load_profile(name)
    assert p.driver == RADIOS[name]
    text = (REPO / "hw-profiles" / f"{name}.yaml").read_text()
    assert "section C" in text and ".cpp" in text + ".hpp", "figures cite their source"
    if name in RX_ONLY:
        assert p.tx is None and not p.can_transmit
        return
    # the licence default, said in a comment, and a conservative transmit limit
    assert tuple((r.lo, r.hi) for r in p.tx.allowed_freq_ranges) == DEFAULT_ALLOWED_TX
    assert "the station must set its own" in text
    assert p.tx.max_gain < p.tx.gain_range.hi


def test_section_c_figures():
    """Spot checks against LIVE-STATION.md section C."""
    h = load_profile("hackrf")
    assert (h.transmit, h.has_hardware_time, h.overflow_reporting) == \
        ("half_duplex", False, "readStream")
    assert {k: (r.lo, r.hi, r.step) for k, r in h.rx.gains.items()} == \
        {"LNA": (0, 40, 8), "AMP": (0, 14, 14), "VGA": (0, 62, 2)}
    assert {k: (r.lo, r.hi, r.step) for k, r in h.tx.gains.items()} == \
        {"VGA": (0, 47, 1), "AMP": (0, 14, 14)}
    assert (h.buffers.count, h.buffers.samples) == (15, 131072)
    b = load_profile("b210")
    assert (b.tx.gain_range.hi, b.tx.gain_range.step, b.rx.gain_range.hi) == (89.75, 0.25, 76)
    assert b.sample_rates.highest == 61.44e6 and b.rx.channels == 2 and b.has_hardware_time
    assert load_profile("limesdr-mini").overflow_reporting == "readStreamStatus"
    pluto = load_profile("pluto")
    assert pluto.overflow_reporting == "never" and pluto.drop_detection == "none"
    assert pluto.sample_rates.reliable_max == 4e6
    rtl = load_profile("rtlsdr")
    assert [(r.lo, r.hi) for r in rtl.sample_rates.ranges] == [(225001, 300000),
                                                                  (900001, 3.2e6)]
    assert rtl.timestamps == "sample_counter" and rtl.drop_detection == "sample_counter"
    assert load_profile("airspy-r2").sample_rates.list == (2.5e6, 10e6)
    blade = load_profile("bladerf2-micro")
    assert (blade.rx.freq_ranges[0].lo, blade.tx.freq_ranges[0].lo) == (70e6, 47e6)
    assert blade.sample_rates.lowest == 520834 and blade.full_duplex
    loop = load_profile("loopback")
    assert loop.driver == "file" and loop.can_transmit


def test_profiles_are_frozen():
    p = load_profile("hackrf")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "other"
    with pytest.raises(TypeError):
        p.tx.gains["VGA"] = P.Range(0, 99)
    with pytest.raises(TypeError):
        p.device_args["serial"] = "x"


def test_round_trip_through_yaml(tmp_path):
    for name in profile_names():
        path = _write(tmp_path, _doc(name), f"{name}-copy.yaml")
        a, b = load_profile(name).to_dict(), load_profile(path).to_dict()
        a.pop("source"), b.pop("source")
        assert a == b, name


def test_yaml_numbers_and_paths(tmp_path):
    """61.44e6 is a number (YAML 1.2), a path may be a Path or a string; a name is not a
    path."""
    text = (REPO / "hw-profiles" / "b200.yaml").read_text()
    assert "61.44e6" in text
    p = load_profile(REPO / "hw-profiles" / "b200.yaml")
    assert p.sample_rates.highest == 61.44e6 and p.source.endswith("b200.yaml")
    path = _write(tmp_path, _doc("pluto"), "station.yml")
    assert load_profile(str(path)).name == "pluto"
    with pytest.raises(ProfileError, match=r"unknown profile 'usrp'; packaged profiles: .*hackrf"):
        load_profile("usrp")


# ------------------------------------------------------------------------------------------------
# bad profiles: file, key, reason


def _mutate(doc, path, value):
    *parents, last = path
    for k in parents:
        doc = doc[k]
    if value is KeyError:
        del doc[last]
    else:
        doc[last] = value


BAD = [
    # (profile, where, new value, key in the message, reason in the message)
    ("hackrf", ["colour"], "red", "colour", "unknown key"),
    ("hackrf", ["rx", "gain_rnage"], [0, 1], "rx.gain_rnage", "unknown key"),
    ("hackrf", ["driver"], KeyError, "driver", "missing"),
    ("hackrf", ["format"], 2, "format", "must be 1, got 2"),
    ("hackrf", ["name"], "Hack RF", "name", "is not a profile name"),
    ("hackrf", ["transmit"], "sometimes", "transmit", "'sometimes' is not one of none, "
                                                      "half_duplex, full_duplex"),
    ("hackrf", ["overflow_reporting"], "often", "overflow_reporting", "is not one of"),
    ("hackrf", ["rx", "freq_ranges"], [[6e9, 1e6]], "rx.freq_ranges[0]",
     "lo 6 GHz is above hi 1 MHz"),
    ("hackrf", ["sample_rates", "ranges"], [[1e6, 5e6], [4e6, 20e6]], "sample_rates.ranges[1]",
     "ranges must be in increasing order without overlap"),
    ("hackrf", ["sample_rates"], {}, "sample_rates", "needs 'ranges' or 'list'"),
    ("hackrf", ["sample_rates", "ranges"], [[0, 20e6]], "sample_rates.ranges[0][0]",
     "0 S/s is not a sample rate (above 0, at most 1 GS/s)"),
    ("hackrf", ["sample_rates", "reliable_max"], 30e6, "sample_rates.reliable_max",
     "is outside the radio's rates"),
    ("hackrf", ["rx", "freq_ranges"], [[1e6, 6e12]], "rx.freq_ranges[0][1]",
     "6000 GHz is outside 0 Hz..100 GHz"),
    ("hackrf", ["rx", "gain_range"], ["0", 116], "rx.gain_range[0]", "'0' is not a number"),
    ("hackrf", ["rx", "gains", "LNA"], [0, 40, 80], "rx.gains.LNA", "step 80 dB must be at least 0 and at most hi - lo (40 dB)"),
    ("hackrf", ["rx", "gains", "LNA"], 40, "rx.gains.LNA", "must be [lo, hi] or [lo, hi, step]"),
    ("hackrf", ["rx", "channels"], 0, "rx.channels", "0 is not a whole number in 1..64"),
    ("hackrf", ["rx", "agc"], "yes", "rx.agc", "must be true or false"),
    ("hackrf", ["rx", "antennas"], ["TX/RX", "TX/RX"], "rx.antennas", "listed twice"),
    ("hackrf", ["tx"], KeyError, "tx", "missing (transmit is half_duplex)"),
    ("rtlsdr", ["tx"], _doc("hackrf")["tx"], "tx", "a receive-only radio (transmit: none) "
                                                   "has no tx section"),
    ("hackrf", ["tx", "max_gain"], 70, "tx.max_gain", "70 dB is above the tx gain range 0..61 dB"),
    ("b210", ["tx", "max_gain"], 95, "tx.max_gain",
     "95 dB is above the tx gain range 0..89.75 dB"),
    ("bladerf2-micro", ["tx", "max_gain"], -30, "tx.max_gain", "is below the tx gain range"),
    ("hackrf", ["tx", "max_gain"], KeyError, "tx.max_gain", "missing"),
    ("hackrf", ["tx", "allowed_freq_ranges"], [], "tx.allowed_freq_ranges",
     "must be a non-empty list"),
    ("limesdr-mini", ["tx", "allowed_freq_ranges"], [[5.6e9, 5.7e9]],
     "tx.allowed_freq_ranges[0]", "5.6-5.7 GHz is outside the tx tuning range (30 MHz-3.5 GHz)"),
    ("hackrf", ["device_args"], {"serial": {"a": 1}}, "device_args.serial",
     "must be a string or number"),
    ("hackrf", ["buffers"], {"count": 15}, "buffers.samples", "missing"),
    ("hackrf", ["rx", "defaults"], {"antenna": "ANT9"}, "rx.defaults",
     "the radio has no rx antenna 'ANT9'"),
    ("hackrf", ["rx", "defaults"], {"center_freq": 437e6}, "rx.defaults.center_freq",
     "unknown key"),
    ("hackrf", ["tx", "defaults"], {"gain": 50}, "tx.defaults",
     "a transmit gain of 50 dB is above the maximum of profile hackrf, 40 dB"),
    ("rtlsdr", ["rx", "defaults"], {"samp_rate": 500e3}, "rx.defaults",
     "sample rate 500 kS/s is not one of the radio's rates"),
]


@pytest.mark.parametrize("name, where, value, key, reason", BAD,
                         ids=[f"{b[0]}:{'.'.join(b[1])}" for b in BAD])
def test_bad_profile_names_file_key_reason(tmp_path, name, where, value, key, reason):
    doc = _doc(name)
    _mutate(doc, where, value)
    path = _write(tmp_path, doc, f"{name}.yaml")
    with pytest.raises(ProfileError) as e:
        load_profile(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: {key}: "), msg
    assert reason in msg, msg
    assert "\n" not in msg


def test_the_issue_example(tmp_path):
    doc = _doc("b210")
    doc["tx"]["max_gain"] = 95
    path = _write(tmp_path, doc, "b210.yaml")
    with pytest.raises(ProfileError) as e:
        load_profile(path)
    assert str(e.value) == f"{path}: tx.max_gain: 95 dB is above the tx gain range 0..89.75 dB"
    assert isinstance(e.value, RadioError)


@pytest.mark.parametrize("text, needle", [
    ("format: 1\nname: a\nname: b\n", "line 3: duplicate key 'name' (first on line 2)"),
    ("format: 1\nrx:\n  agc: true\n  agc: false\n", "line 4: duplicate key 'agc'"),
    ("format: 1\nname: [unclosed\n", "not valid YAML"),
    ("- a\n- b\n", "a profile must be a YAML mapping, not a list"),
    ("", "a profile must be a YAML mapping, not nothing"),
])
def test_bad_yaml(tmp_path, text, needle):
    path = _write(tmp_path, text)
    with pytest.raises(ProfileError) as e:
        load_profile(path)
    assert str(e.value).startswith(f"{path}:") and needle in str(e.value), str(e.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(ProfileError, match="file not found"):
        load_profile(tmp_path / "none.yaml")
    with pytest.raises(ProfileError, match="is a directory"):
        load_profile(tmp_path)
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (P.MAX_FILE_BYTES + 1))
    with pytest.raises(ProfileError, match="too large for a profile"):
        load_profile(big)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ProfileError, match="must be UTF-8"):
        load_profile(binary)


# ------------------------------------------------------------------------------------------------
# transmit safety: pure checks, nothing can be opened


@pytest.fixture
def no_hardware(monkeypatch):
    """SoapySDR and every orbitlink radio driver module cannot be imported during the test:
    a check that tried to open (or even reach) a device would fail."""

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "SoapySDR" or name in (
                    "orbitlink.drivers.soapy", "orbitlink.drivers.replay",
                    "orbitlink.drivers.zmq_iq"):
                raise ImportError(f"{name} blocked: the checks must not open a device")
            return None

    for m in ("SoapySDR", "orbitlink.drivers.soapy", "orbitlink.drivers.replay",
              "orbitlink.drivers.zmq_iq"):
        monkeypatch.delitem(sys.modules, m, raising=False)
    monkeypatch.setattr(sys, "meta_path", [Block(), *sys.meta_path])
    yield
    assert "SoapySDR" not in sys.modules


def test_profiles_module_imports_no_driver():
    """The checks are pure: drivers/profiles.py imports the standard library, the project's
    YAML reader and the driver interface (RadioConfig, RadioError), nothing that talks to a
    device."""
    tree = ast.parse((REPO / "drivers" / "profiles.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
    assert names <= {"__future__", "math", "os", "re", "dataclasses", "importlib", "pathlib",
                     "types", "typing", "orbitlink.yamlio", "orbitlink.drivers.radio"}, names


GOOD_TX = RadioConfig(center_freq=437.5e6, gain=30.0, samp_rate=2e6)


def test_transmit_without_the_flag_is_refused(no_hardware):
    for name in TX_RADIOS + ["loopback"]:
        p = load_profile(name)
        assert p.check_tx(GOOD_TX, transmit=True) == []
        for flag in (False, None, 1, "yes"):
            with pytest.raises(TransmitRefused, match="nothing transmits without --transmit"):
                p.check_tx(GOOD_TX, transmit=flag)


@pytest.mark.parametrize("name", RX_ONLY)
def test_receive_only_radio_refuses_transmit(no_hardware, name):
    p = load_profile(name)
    with pytest.raises(TransmitRefused, match=f"{name} is a receive-only radio: it cannot "
                                              "transmit"):
        p.check_tx(GOOD_TX, transmit=True)
    with pytest.raises(TransmitRefused, match="receive-only"):
        p.check_tx_freq(437.5e6)
    with pytest.raises(TransmitRefused, match="receive-only"):
        p.config("tx")
    assert p.check_rx(RadioConfig(center_freq=437.5e6, samp_rate=2.5e6 if name == "airspy-r2"
                                  else 2.4e6)) == []


def test_frequency_outside_the_allowed_ranges_is_refused(no_hardware):
    p = load_profile("hackrf")
    cfg = dataclasses.replace(GOOD_TX, center_freq=150e6)  # tunable, not allowed
    with pytest.raises(TransmitRefused) as e:
        p.check_tx(cfg, transmit=True)
    msg = str(e.value)
    assert msg.startswith("150 MHz is outside the allowed transmit ranges of profile hackrf "
                          "(144-146 MHz, 435-438 MHz, 2.4-2.45 GHz)"), msg
    assert "\n" not in msg and msg.count(". ") == 0
    # the edges belong to the ranges; the whole occupied band must fit
    for f in (144e6, 146e6, 435e6, 438e6, 2.4e9, 2.45e9):
        p.check_tx_freq(f)
    for f in (143.999e6, 146.001e6, 434.99e6, 1e9, 2.46e9):
        with pytest.raises(TransmitRefused, match="outside the allowed transmit ranges"):
            p.check_tx_freq(f)
    p.check_tx(dataclasses.replace(GOOD_TX, center_freq=437.97e6), transmit=True,
               occupied_bw=50e3)
    with pytest.raises(TransmitRefused, match=r"437.99 MHz \(occupying 437.965-438.015 MHz\)"):
        p.check_tx(dataclasses.replace(GOOD_TX, center_freq=437.99e6), transmit=True,
                   occupied_bw=50e3)
    # the nominal frequency is what is checked, not the ppm-corrected tuning
    p.check_tx(dataclasses.replace(GOOD_TX, center_freq=438e6, ppm=20), transmit=True)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(TransmitRefused):
            p.check_tx_freq(bad)
    with pytest.raises(TransmitRefused, match="transmit needs a frequency"):
        p.check_tx(dataclasses.replace(GOOD_TX, center_freq=None), transmit=True)


def test_gain_above_the_maximum_is_refused(no_hardware):
    for name in TX_RADIOS:
        p = load_profile(name)
        p.check_tx(dataclasses.replace(GOOD_TX, gain=p.tx.max_gain), transmit=True)
        over = dataclasses.replace(GOOD_TX, gain=p.tx.max_gain + 0.25)
        with pytest.raises(TransmitRefused) as e:
            p.check_tx(over, transmit=True)
        assert str(e.value) == (f"a transmit gain of {p.tx.max_gain + 0.25:g} dB is above the "
                                f"maximum of profile {name}, {p.tx.max_gain:g} dB "
                                f"(tx.max_gain in {name}.yaml)")


def test_transmit_gain_must_be_explicit_and_overall(no_hardware):
    p = load_profile("hackrf")
    with pytest.raises(TransmitRefused, match="transmit needs an explicit gain"):
        p.check_tx(dataclasses.replace(GOOD_TX, gain=None), transmit=True)
    # element gains are refused: on the bladeRF the tx element is an attenuator (0 = full)
    with pytest.raises(TransmitRefused, match="not element gains"):
        p.check_tx(dataclasses.replace(GOOD_TX, gain=None, gains={"VGA": 10, "AMP": 0}),
                   transmit=True)
    blade = load_profile("bladerf2-micro")
    with pytest.raises(TransmitRefused, match="not element gains"):
        blade.check_tx(dataclasses.replace(GOOD_TX, gain=None, gains={"dsa": 0}), transmit=True)
    with pytest.raises(TransmitRefused, match="no automatic gain"):
        p.check_tx(dataclasses.replace(GOOD_TX, agc=True), transmit=True)


def test_transmit_also_gets_the_radio_checks(no_hardware):
    lime = load_profile("limesdr-mini")
    with pytest.raises(ConfigRefused, match="sample rate 40 MS/s is not one of the radio's"):
        lime.check_tx(dataclasses.replace(GOOD_TX, samp_rate=40e6), transmit=True)
    with pytest.raises(ConfigRefused, match="no tx antenna 'LNAW'"):
        lime.check_tx(dataclasses.replace(GOOD_TX, antenna="LNAW"), transmit=True)
    lime.check_tx(dataclasses.replace(GOOD_TX, antenna="BAND2"), transmit=True)
    b = load_profile("b200")
    with pytest.raises(ConfigRefused, match="tx channel 1 does not exist"):
        b.check_tx(dataclasses.replace(GOOD_TX, channel=1), transmit=True)
    load_profile("b210").check_tx(dataclasses.replace(GOOD_TX, channel=1), transmit=True)
    # a station's wider allowed range still stops at the radio's tuning range
    doc = _doc("limesdr-mini")
    doc["tx"]["allowed_freq_ranges"] = [[30e6, 3.5e9]]
    station = P.parse_profile(yaml.safe_dump(doc), "station.yaml")
    with pytest.raises(ConfigRefused, match=r"3.5007 GHz \(3.5 GHz with 200 ppm\) is outside "
                                            r"the tx tuning range"):
        station.check_tx(dataclasses.replace(GOOD_TX, center_freq=3.5e9, ppm=200),
                         transmit=True)


def test_the_loopback_transmits_anywhere_with_the_flag(no_hardware):
    p = load_profile("loopback")
    p.check_tx(dataclasses.replace(GOOD_TX, center_freq=2.2e9, samp_rate=128000),
               transmit=True)
    with pytest.raises(TransmitRefused, match="without --transmit"):
        p.check_tx(GOOD_TX, transmit=False)


def test_receive_checks(no_hardware):
    rtl = load_profile("rtlsdr")
    assert rtl.check_rx(RadioConfig(center_freq=145.8e6, samp_rate=2.4e6, gain=40,
                                    gains={"TUNER": 30}, agc=True, antenna="RX", ppm=-3)) == []
    warn = rtl.check_rx(RadioConfig(samp_rate=3.2e6))
    assert len(warn) == 1 and "above the 2.4 MS/s this radio streams reliably" in warn[0]
    refusals = [
        (RadioConfig(samp_rate=500e3), "sample rate 500 kS/s is not one of the radio's rates "
                                       "(225.001-300 kS/s, 900.001 kS/s-3.2 MS/s)"),
        (RadioConfig(center_freq=2.2e9), "2.2 GHz is outside the rx tuning range"),
        (RadioConfig(gain=60), "rx gain 60 dB is outside the radio's rx gain range 0..49.6 dB"),
        (RadioConfig(gains={"LNA": 10}), "no rx gain element 'LNA' (its rx elements: TUNER)"),
        (RadioConfig(gains={"TUNER": 50}), "TUNER at 50 dB is outside its range"),
        (RadioConfig(antenna="RX2"), "no rx antenna 'RX2'"),
        (RadioConfig(channel=1), "rx channel 1 does not exist"),
        (RadioConfig(ppm=2000), "ppm correction of 2000 is outside +-1000 ppm"),
        (RadioConfig(samp_rate=float("nan")), "is not a finite number"),
        (RadioConfig(bandwidth=-1.0), "bandwidth -1 Hz is not positive"),
    ]
    for cfg, needle in refusals:
        with pytest.raises(ConfigRefused) as e:
            rtl.check_rx(cfg)
        assert needle in str(e.value) and not isinstance(e.value, TransmitRefused), str(e.value)
    with pytest.raises(ConfigRefused, match="no rx automatic gain control"):
        load_profile("hackrf").check_rx(RadioConfig(agc=True))
    air = load_profile("airspy-r2")
    air.check_rx(RadioConfig(samp_rate=10e6))
    with pytest.raises(ConfigRefused, match="sample rate 6 MS/s"):
        air.check_rx(RadioConfig(samp_rate=6e6))


def test_defaults_and_config(tmp_path):
    doc = _doc("rtlsdr")
    doc["rx"]["defaults"] = {"samp_rate": 2.4e6, "gains": {"TUNER": 30}, "antenna": "RX",
                             "ppm": 1.5}
    p = load_profile(_write(tmp_path, doc))
    cfg = p.config("rx", center_freq=145.8e6)
    assert (cfg.samp_rate, cfg.gains, cfg.antenna, cfg.ppm, cfg.center_freq) == \
        (2.4e6, {"TUNER": 30}, "RX", 1.5, 145.8e6)
    cfg.gains["TUNER"] = 10  # a copy: the profile is unchanged
    assert p.config().gains == {"TUNER": 30}
    assert p.check_rx(cfg) == []
    assert p.soapy_args(serial="0001") == {"driver": "rtlsdr", "serial": "0001"}
    assert load_profile("b200").soapy_args() == {"driver": "uhd", "type": "b200"}


# ------------------------------------------------------------------------------------------------
# the device report


def _report(p) -> dict:
    """What a device exactly matching the profile would report."""
    dirs = [d for d in (p.rx, p.tx) if d]
    rates = [(r.lo, r.hi) for r in p.sample_rates.ranges] + \
        [(x, x) for x in p.sample_rates.list]
    return {
        "channels": {"rx": p.rx.channels, "tx": p.tx.channels if p.tx else 0},
        "samp_rate_ranges": rates,
        "freq_ranges": {d.name: [(r.lo, r.hi) for r in d.freq_ranges] for d in dirs},
        "gain_ranges": {d.name: (d.gain_range.lo, d.gain_range.hi) for d in dirs},
        "gain_elements": {d.name: {k: (r.lo, r.hi, r.step) for k, r in d.gains.items()}
                          for d in dirs},
        "antennas": {d.name: list(d.antennas) for d in dirs},
        "agc": {d.name: d.agc for d in dirs},
        "full_duplex": p.full_duplex,
        "has_hardware_time": p.has_hardware_time,
    }


def test_check_device_accepts_a_matching_or_wider_device():
    for name in profile_names():
        p = load_profile(name)
        p.check_device(_report(p))
        p.check_device({})  # nothing reported, nothing compared
    h = load_profile("hackrf")
    rep = _report(h)
    rep["freq_ranges"] = {"rx": [(0, 7.25e9)], "tx": [(0, 7.25e9)]}  # what the module reports
    rep["samp_rate_ranges"] = [(x * 1e6, x * 1e6) for x in range(1, 21)]  # its 1 MHz list
    rep["antennas"]["rx"] = ["TX/RX", "other"]
    rep["has_hardware_time"] = True
    h.check_device(rep)


def test_check_device_refuses_a_contradicting_device():
    b = load_profile("b210")
    rep = _report(b)
    rep["samp_rate_ranges"] = [(200e3, 20e6)]
    with pytest.raises(ProfileError) as e:
        b.check_device(rep)
    assert str(e.value) == ("b210.yaml: sample_rates: the profile's highest rate 61.44 MS/s is "
                            "above the device's highest rx rate, 20 MS/s")
    h = load_profile("hackrf")
    cases = [
        (("gain_elements", "rx"), {"LNA": (0, 40, 8), "VGA": (0, 62, 2)},
         "hackrf.yaml: rx.gains.AMP: the device has no rx gain element 'AMP' (it has: LNA, VGA)"),
        (("gain_elements", "tx"), {"VGA": (0, 30, 1), "AMP": (0, 14, 14)},
         "hackrf.yaml: tx.gains.VGA: the profile's 0..47 dB is wider than the device's 0..30 dB"),
        (("gain_ranges", "tx"), (0, 47), "hackrf.yaml: tx.gain_range: the profile's 0..61 dB is "
                                         "wider than the device's tx gain range 0..47 dB"),
        (("freq_ranges", "tx"), [(1e6, 3e9)], "hackrf.yaml: tx.freq_ranges: the profile tunes up "
                                              "to 6 GHz, the device's tx range ends at 3 GHz"),
        (("freq_ranges", "rx"), [(10e6, 6e9)], "the profile tunes down to 1 MHz"),
        (("antennas", "tx"), ["ANT"], "hackrf.yaml: tx.antennas: the device has no tx antenna "
                                      "'TX/RX' (it has: ANT)"),
        (("channels", "tx"), 0, "hackrf.yaml: transmit: the profile says half_duplex but the "
                                "device reports no tx channels"),
        (("samp_rate_ranges",), [(2e6, 20e6)], "the profile's lowest rate 1 MS/s is below"),
    ]
    for path, value, needle in cases:
        rep = _report(h)
        if len(path) == 1:
            rep[path[0]] = value
        else:
            rep[path[0]][path[1]] = value
        with pytest.raises(ProfileError) as e:
            h.check_device(rep)
        assert needle in str(e.value), (needle, str(e.value))
    with pytest.raises(ProfileError, match="bladerf2-micro.yaml: timestamps: the profile says "
                                           "hardware, the device reports no hardware time"):
        load_profile("bladerf2-micro").check_device({"has_hardware_time": False})
    with pytest.raises(ProfileError, match="pluto.yaml: transmit: the profile says full_duplex"):
        load_profile("pluto").check_device({"full_duplex": False})
    with pytest.raises(ProfileError, match="pluto.yaml: rx.agc"):
        load_profile("pluto").check_device({"agc": {"rx": False}})
    with pytest.raises(ProfileError, match="b210.yaml: rx.channels: the profile has 2 rx "
                                           "channels, the device reports 1"):
        b.check_device({"channels": {"rx": 1, "tx": 1}})
    rtl = load_profile("rtlsdr")  # an E4000 dongle: not this profile's tuner
    with pytest.raises(ProfileError, match="rtlsdr.yaml: rx.freq_ranges: the profile tunes "
                                           "down to 24 MHz"):
        rtl.check_device({"freq_ranges": {"rx": [(52e6, 2.2e9)]}})


def test_check_device_report_shape_is_checked():
    h = load_profile("hackrf")
    with pytest.raises(ValueError, match="unknown keys"):
        h.check_device({"sample_rate_ranges": []})
    with pytest.raises(ValueError, match="must map 'rx'/'tx'"):
        h.check_device({"antennas": ["TX/RX"]})
    h.check_device({"samp_rate_ranges": {"rx": [(1e6, 20e6)], "tx": [(1e6, 20e6)]}})


# ------------------------------------------------------------------------------------------------
# orbitlink profiles


def test_cli_profiles_table(capsys):
    assert cli_radio.main(["profiles"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["profile", "driver", "sample", "rates", "tuning", "tx", "allowed",
                              "tx", "max", "tx", "gain", "hw", "time", "overflows"]
    rows = {ln.split()[0]: ln for ln in out[1:]}
    assert sorted(rows) == profile_names()
    assert "readStreamStatus" in rows["limesdr-mini"]
    assert "rx only" in rows["rtlsdr"] and "rx only" in rows["airspy-r2"]
    assert "half duplex" in rows["hackrf"] and "40 dB" in rows["hackrf"]
    assert "144-146 MHz, 435-438 MHz, 2.4-2.45 GHz" in rows["pluto"]
    assert rows["pluto"].rstrip().endswith("never")
    assert "rx 70 MHz-6 GHz; tx 47 MHz-6 GHz" in rows["bladerf2-micro"]


def test_cli_profiles_hackrf_json(capsys):
    assert cli_radio.main(["profiles", "hackrf", "--json"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    d = json.loads(out)
    assert d == load_profile("hackrf").to_dict()
    assert (d["name"], d["driver"], d["transmit"], d["timestamps"], d["overflow_reporting"]) == \
        ("hackrf", "hackrf", "half_duplex", "none", "readStream")
    assert d["tx"]["max_gain"] == 40 and d["has_hardware_time"] is False
    assert d["tx"]["allowed_freq_ranges"] == [list(r) for r in DEFAULT_ALLOWED_TX]
    assert d["rx"]["gains"]["LNA"] == [0, 40, 8]
    assert d["sample_rates"] == {"ranges": [[1e6, 20e6]]}


def test_cli_profiles_json_and_detail(capsys):
    assert cli_radio.main(["profiles", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(ln)["name"] for ln in lines] == profile_names()
    assert cli_radio.main(["profiles", "rtlsdr"]) == 0
    out = capsys.readouterr().out
    for needle in ("driver:             rtlsdr", "tx:                 none (receive only)",
                   "reliable up to:   2.4 MS/s", "gain TUNER:       0..49.6 dB",
                   "lost samples found by: sample counter"):
        assert needle in out, needle
    assert cli_radio.main(["profiles", "hackrf"]) == 0
    out = capsys.readouterr().out
    assert "allowed tx:       144-146 MHz, 435-438 MHz, 2.4-2.45 GHz" in out
    assert "max gain:         40 dB" in out


def test_cli_profiles_bad_file_is_one_sentence(capsys, tmp_path):
    doc = _doc("b210")
    doc["tx"]["max_gain"] = 95
    path = _write(tmp_path, doc, "b210.yaml")
    for arg, needle in ((str(path), f"{path}: tx.max_gain: 95 dB is above"),
                        (str(tmp_path / "missing.yaml"), "missing.yaml: file not found"),
                        ("nosuchradio", "unknown profile 'nosuchradio'")):
        assert cli_radio.main(["profiles", arg]) == 2
        out, err = capsys.readouterr()
        lines = err.splitlines()
        assert out == "" and len(lines) == 1 and "Traceback" not in err
        assert lines[0].startswith("orbitlink: error: ") and needle in lines[0], lines[0]
    # a good station file is shown
    good = _write(tmp_path, _doc("pluto"), "station.yaml")
    assert cli_radio.main(["profiles", str(good)]) == 0
    assert f"file:               {good}" in capsys.readouterr().out
