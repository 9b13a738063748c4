"""``orbitlink profiles``: the hardware profiles (``orbitlink.drivers.profiles``).

``orbitlink profiles`` prints a table of the packaged profiles (driver, sample rates, tuning,
transmit capability, allowed transmit ranges, maximum transmit gain, hardware time, overflow
reporting); ``orbitlink profiles NAME`` every field of one profile, where NAME is a packaged
profile or the path of a profile file (which is validated: a bad file is one sentence, exit 2);
``--json`` prints JSON instead (one object per line for the table).

:func:`add_parsers` adds the subcommand to the ``orbitlink`` parser's subparsers; the handler
returns an exit code and raises :class:`orbitlink.OrbitlinkError` subclasses (one sentence) for
errors a user can cause. :func:`main` runs it on its own (the conventions of
``orbitlink.flowgraphs.cli.main``). Nothing here opens or imports a radio driver.
"""

from __future__ import annotations

import argparse
import json

_TRANSMIT = {"none": "rx only", "half_duplex": "half duplex", "full_duplex": "full duplex"}


def _rows(profiles) -> list[dict]:
    from orbitlink.drivers.profiles import fmt_spans

    rows = []
    for p in profiles:
        tx = p.tx
        rows.append({
            "profile": p.name,
            "driver": p.driver,
            "sample rates": p.sample_rates.text(),
            "tuning": _tuning(p),
            "tx": _TRANSMIT[p.transmit],
            "allowed tx": fmt_spans(tx.allowed_freq_ranges) if tx else "-",
            "max tx gain": f"{tx.max_gain:g} dB" if tx else "-",
            "hw time": "yes" if p.has_hardware_time else "no",
            "overflows": p.overflow_reporting,
        })
    return rows


def _tuning(p) -> str:
    from orbitlink.drivers.profiles import fmt_spans

    rx = fmt_spans(p.rx.freq_ranges)
    if p.tx is None or p.tx.freq_ranges == p.rx.freq_ranges:
        return rx
    return f"rx {rx}; tx {fmt_spans(p.tx.freq_ranges)}"


def _table(rows) -> None:
    cols = list(rows[0])
    w = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    print("  ".join(f"{c:<{w[c]}}" for c in cols).rstrip())
    for r in rows:
        print("  ".join(f"{r[c]:<{w[c]}}" for c in cols).rstrip())


def _detail(p) -> None:
    from orbitlink.drivers.profiles import fmt_spans, fmt_hz

    print(f"name:               {p.name}")
    print(f"description:        {p.description}")
    print(f"file:               {p.source}")
    args = ", ".join(f"{k}={v}" for k, v in p.soapy_args().items())
    print(f"driver:             {p.driver}  (device args: {args})")
    print(f"transmit:           {_TRANSMIT[p.transmit]}")
    print(f"timestamps:         {p.timestamps}  (hardware time: "
          f"{'yes' if p.has_hardware_time else 'no'}; lost samples found by: "
          f"{p.drop_detection.replace('_', ' ')})")
    print(f"overflow reporting: {p.overflow_reporting}")
    rates = p.sample_rates
    print(f"sample rates:       {rates.text()}")
    if rates.reliable_max is not None:
        print(f"  reliable up to:   {fmt_hz(rates.reliable_max, 'S/s')}")
    if p.buffers:
        print(f"buffers:            {p.buffers.count} x {p.buffers.samples} samples")
    for d in (p.rx, p.tx):
        if d is None:
            print("tx:                 none (receive only)")
            continue
        print(f"{d.name}:")
        print(f"  channels:         {d.channels}")
        print(f"  tuning:           {fmt_spans(d.freq_ranges)}")
        print(f"  gain (overall):   {d.gain_range.text('dB')}")
        for name, r in d.gains.items():
            print(f"  gain {name + ':':<12} {r.text('dB')}")
        print(f"  antennas:         {', '.join(d.antennas) or '(the device reports them)'}")
        print(f"  agc:              {'yes' if d.agc else 'no'}")
        for k, v in d.defaults.items():
            print(f"  default {k + ':':<9} {dict(v) if k == 'gains' else v}")
        if d.name == "tx":
            print(f"  allowed tx:       {fmt_spans(d.allowed_freq_ranges)}")
            print(f"  max gain:         {d.max_gain:g} dB")


def cmd_profiles(args) -> int:
    from orbitlink.drivers.profiles import load_profile, profile_names

    if args.name:
        p = load_profile(args.name)
        if args.json:
            print(json.dumps(p.to_dict()))
        else:
            _detail(p)
        return 0
    profiles = [load_profile(n) for n in profile_names()]
    if args.json:
        for p in profiles:
            print(json.dumps(p.to_dict()))
        return 0
    _table(_rows(profiles))
    return 0


def _span_text(ranges, unit="Hz") -> str:
    from orbitlink.drivers.profiles import fmt_span

    return ", ".join(fmt_span(r[0], r[1], unit) for r in ranges or []) or "-"


def cmd_devices(args) -> int:
    """What SoapySDR finds: each device with its rates, tuning ranges, gains and antennas."""
    from orbitlink.drivers.soapy import list_devices

    found = list_devices(args.args or "", probe=not args.no_probe)
    if args.json:
        for d in found:
            print(json.dumps(d, default=list))
        return 0
    if not found:
        print(f"no SoapySDR device found{' for ' + args.args if args.args else ''} "
              "(a module for the radio must be installed, e.g. soapysdr-module-rtlsdr)")
        return 0
    for i, d in enumerate(found):
        a = ",".join(f"{k}={v}" for k, v in d["args"].items())
        print(f"[{i}] {d.get('label') or d.get('driver')}  ({a})")
        if "error" in d:
            print(f"    cannot be opened: {d['error']}")
            continue
        rates = d.get("samp_rate_ranges") or []
        if isinstance(rates, dict):
            rates = rates.get("rx", [])
        print(f"    sample rates   {_span_text(rates, 'S/s')}")
        for direction in ("rx", "tx"):
            fr = (d.get("freq_ranges") or {}).get(direction)
            if not fr:
                continue
            gains = (d.get("gain_elements") or {}).get(direction, {})
            g = ", ".join(f"{n} {lo:g}..{hi:g} dB" for n, (lo, hi, *_) in gains.items())
            ant = ", ".join((d.get("antennas") or {}).get(direction, []))
            print(f"    {direction} tuning      {_span_text(fr)}")
            print(f"    {direction} gains       {g or '-'}")
            print(f"    {direction} antennas    {ant or '-'}")
        print(f"    hardware time  {'yes' if d.get('has_hardware_time') else 'no'}")
    return 0


def add_parsers(sub) -> None:
    """Add ``profiles`` and ``devices`` to the ``orbitlink`` subparsers."""
    p = sub.add_parser("profiles", help="the hardware profiles (radios and their limits)",
                       description="List the hardware profiles, or show one (a packaged name "
                                   "or the path of a profile YAML file, which is validated).")
    p.add_argument("name", nargs="?", default=None, metavar="NAME",
                   help="a profile name or the path of a profile file: show every field")
    p.add_argument("--json", action="store_true",
                   help="JSON: one object per profile and line")
    p.set_defaults(func=cmd_profiles)

    p = sub.add_parser("devices", help="the radios SoapySDR finds, with ranges, gains and "
                       "antennas")
    p.add_argument("args", nargs="?", default="", metavar="ARGS",
                   help="device arguments to narrow the search, e.g. driver=rtlsdr")
    p.add_argument("--no-probe", action="store_true",
                   help="list what is found without opening each device")
    p.add_argument("--json", action="store_true", help="one JSON object per device")
    p.set_defaults(func=cmd_devices)


def main(argv=None) -> int:
    """``profiles`` on its own: errors a user can cause exit 2 with one sentence."""
    from orbitlink.flowgraphs.cli import standalone_main

    return standalone_main(add_parsers, "Hardware profiles.", argv)


if __name__ == "__main__":
    raise SystemExit(main())
