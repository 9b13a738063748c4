"""``orbitlink passes`` and ``orbitlink doppler``: pass prediction and Doppler from TLE/OMM.

:func:`add_parsers` adds both subcommands to the ``orbitlink`` parser's subparsers; the handlers
return exit codes and raise :class:`orbitlink.OrbitlinkError` subclasses (one sentence) for
errors a user can cause. :func:`main` runs them on their own (same conventions as
``orbitlink.flowgraphs.cli.main``).

What a user can ask for is bounded, and checked before anything is computed: ``passes
--hours`` at most :data:`MAX_HOURS` (SGP4 elements are meaningless weeks from their epoch),
``doppler --step`` at least :data:`MIN_STEP_S` and at most :data:`MAX_ROWS` rows over the pass.
The Doppler table is computed and printed in blocks of :data:`_BLOCK` rows, so its memory does
not grow with the length of the pass.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import warnings

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}
#: longest ``passes --hours`` (31 days)
MAX_HOURS = 744.0
#: shortest ``doppler --step``, seconds
MIN_STEP_S = 1e-3
#: most rows of a ``doppler`` table
MAX_ROWS = 1_000_000
_BLOCK = 8192  # rows computed and printed at a time


def parse_freq(text: str) -> float:
    """Hz from ``2.2e9``, ``2.2G``, ``437.5M``, ``437500k`` (an optional trailing ``Hz``).

    Raises :class:`~orbitlink.modem.orbit.OrbitError` for anything but a positive finite
    frequency (negative, zero, nan, inf, or not a number).
    """
    from orbitlink.modem.orbit import OrbitError

    m = re.fullmatch(r"\s*([0-9.eE+-]+)\s*([kKmMgG]?)(?:[hH][zZ])?\s*", str(text))
    try:
        f = float(m.group(1)) * _SUFFIX[m.group(2).lower()] if m else float("nan")
    except ValueError:
        f = float("nan")
    if not (f > 0 and math.isfinite(f)):
        raise OrbitError(f"--freq {text!r} is not a positive frequency (e.g. 2.2e9 or 437.5M)")
    return f


def _check_common(args) -> None:
    """Refuse --min-el and --dut1 values no prediction can use (before any work is done)."""
    from orbitlink.modem.orbit import MAX_DUT1_S, OrbitError

    if not (math.isfinite(args.min_el) and -90.0 <= args.min_el < 90.0):
        raise OrbitError(f"--min-el {args.min_el:g} deg is outside [-90, 90)")
    if not (math.isfinite(args.dut1) and abs(args.dut1) <= MAX_DUT1_S):
        raise OrbitError(f"--dut1 {args.dut1:g} s is outside [-{MAX_DUT1_S:g}, {MAX_DUT1_S:g}] "
                         "(UT1 - UTC stays within 0.9 s)")


def _setup(args):
    """(satellite, station, start unix) from the common options."""
    from orbitlink.modem.orbit import Station, load_satellite, parse_time

    _check_common(args)
    sat = load_satellite(args.tle, args.sat)
    station = Station.parse(args.station)
    start = parse_time(args.start)
    return sat, station, start


def _warn_epoch(sat, times) -> None:
    from orbitlink.modem.orbit import epoch_check

    msg = epoch_check(sat, times)
    if msg:
        print(f"orbitlink: warning: {msg}", file=sys.stderr)


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60:d}:{s % 60:02d}"


# ------------------------------------------------------------------------------------------------
# passes


def cmd_passes(args) -> int:
    from orbitlink.modem.orbit import OrbitError, OrbitWarning, iso, passes

    if not (args.hours > 0 and math.isfinite(args.hours)):
        raise OrbitError(f"--hours {args.hours:g} must be a positive number of hours")
    if args.hours > MAX_HOURS:
        raise OrbitError(f"--hours {args.hours:g} is more than {MAX_HOURS:g} h (31 days): SGP4 "
                         "elements are meaningless that far from their epoch, so search from a "
                         "later --start with fresh elements")
    sat, station, start = _setup(args)
    end = start + args.hours * 3600.0
    _warn_epoch(sat, [start, end])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OrbitWarning)
        found = passes(sat, station, start, end, args.min_el, dut1_s=args.dut1)
    if args.json:
        for i, p in enumerate(found):
            d = {"pass": i + 1, "satellite": sat.name, "norad": sat.norad,
                 "station": str(station), **p.to_dict()}
            print(json.dumps(d))
        return 0
    print(f"{sat.name} (NORAD {sat.norad}, elements of {iso(sat.epoch_unix, 0)}) from "
          f"{station}: passes above {args.min_el:g} deg, {iso(start, 0)} + {args.hours:g} h")
    print(f"{'#':>3}  {'AOS (UTC)':<20}  {'TCA (UTC)':<20}  {'LOS (UTC)':<20}  {'max el':>6}  "
          f"{'AOS az':>6}  {'LOS az':>6}  {'duration':>8}")
    for i, p in enumerate(found):
        print(f"{i + 1:>3}  {iso(p.aos, 0):<20}  {iso(p.tca, 0):<20}  {iso(p.los, 0):<20}  "
              f"{p.max_el_deg:6.1f}  {p.aos_az_deg:6.1f}  {p.los_az_deg:6.1f}  "
              f"{_hms(p.duration_s):>8}" + ("  (cut by the window)" if p.clipped else ""))
    if not found:
        print(f"(no pass above {args.min_el:g} deg)")
    return 0


# ------------------------------------------------------------------------------------------------
# doppler


def cmd_doppler(args) -> int:
    import numpy as np

    from orbitlink.modem.orbit import (DopplerPredictor, OrbitError, OrbitWarning, iso, look,
                                       next_pass)

    freq = parse_freq(args.freq)
    if not (math.isfinite(args.step) and args.step >= MIN_STEP_S):
        raise OrbitError(f"--step {args.step:g} s must be a number of seconds of at least "
                         f"{MIN_STEP_S:g}")
    if args.pass_ < 1:
        raise OrbitError(f"--pass {args.pass_} must be at least 1")
    sat, station, start = _setup(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OrbitWarning)
        p = next_pass(sat, station, start, args.min_el, index=args.pass_, dut1_s=args.dut1)
    # the table's times: AOS, AOS + step, ... before LOS, then LOS
    n = max(1, math.ceil((p.los - p.aos) / args.step))
    if n + 1 > MAX_ROWS:
        raise OrbitError(f"--step {args.step:g} s over the {p.los - p.aos:.0f} s pass makes "
                         f"more than {MAX_ROWS} rows; use a larger --step")
    _warn_epoch(sat, [p.aos, p.los])
    pred = DopplerPredictor(sat, station, freq, uplink=args.uplink, dut1_s=args.dut1)
    what = "uplink pre-compensation" if args.uplink else "downlink Doppler"
    fkey = "tx_freq_hz" if args.uplink else "rx_freq_hz"
    if not args.json:
        print(f"{sat.name} pass {args.pass_}: AOS {iso(p.aos, 0)}, TCA {iso(p.tca, 0)}, "
              f"LOS {iso(p.los, 0)}, max elevation {p.max_el_deg:.1f} deg, from {station}; "
              f"{what} at {freq:.6g} Hz")
        head = "offset (Hz)" if args.uplink else "Doppler (Hz)"
        print(f"{'time (UTC)':<24} {'el (deg)':>8} {'az (deg)':>8} {'range (km)':>10} "
              f"{'rate (m/s)':>10} {head:>12} {'d/dt (Hz/s)':>11}")
    for k0 in range(0, n, _BLOCK):
        t = p.aos + np.arange(k0, min(k0 + _BLOCK, n)) * args.step
        if k0 + _BLOCK >= n and p.los - t[-1] > 1e-6:
            t = np.append(t, p.los)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OrbitWarning)
            lk = look(sat, station, t, args.dut1)
            dop = pred(t)
            rate = pred.rate(t)
        lines = []
        for k in range(len(t)):
            if args.json:
                lines.append(json.dumps({
                    "time_utc": iso(t[k]), "t_unix": round(float(t[k]), 3),
                    "el_deg": round(float(lk.el_deg[k]), 4),
                    "az_deg": round(float(lk.az_deg[k]), 4),
                    "range_m": round(float(lk.range_m[k]), 1),
                    "range_rate_mps": round(float(lk.range_rate_mps[k]), 3),
                    "doppler_hz": round(float(dop[k]), 2),
                    "doppler_rate_hz_s": round(float(rate[k]), 3),
                    fkey: round(freq + float(dop[k]), 2)}))
            else:
                lines.append(f"{iso(t[k]):<24} {lk.el_deg[k]:8.2f} {lk.az_deg[k]:8.2f} "
                             f"{lk.range_m[k] / 1e3:10.3f} {lk.range_rate_mps[k]:10.2f} "
                             f"{dop[k]:12.1f} {rate[k]:11.2f}")
        print("\n".join(lines))
    if args.plot:
        # the curves every second whatever the table's step (at most 100000 points)
        dt = max(1.0, (p.los - p.aos) / 100_000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OrbitWarning)
            t = np.append(np.arange(p.aos, p.los, dt), p.los)
            lk, dop, rate = look(sat, station, t, args.dut1), pred(t), pred.rate(t)
        _plot(args.plot, sat, p, t, lk, dop, rate, freq, args.uplink)
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0


def _plot(path, sat, p, t, lk, dop, rate, freq, uplink) -> None:
    from orbitlink import OrbitlinkError
    from orbitlink.modem.orbit import iso

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise OrbitlinkError("--plot needs matplotlib (pip install 'orbitlink[plot]')") from None
    x = (t - p.aos) / 60.0
    fig, ax = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    what = "uplink offset" if uplink else "Doppler"
    ax[0].plot(x, dop / 1e3)
    ax[0].set_ylabel(f"{what} (kHz)")
    ax[1].plot(x, rate, color="C1")
    ax[1].set_ylabel(f"{what} rate (Hz/s)")
    ax[2].plot(x, lk.el_deg, color="C2")
    ax[2].set_ylabel("elevation (deg)")
    ax[2].set_xlabel(f"minutes from AOS {iso(p.aos, 0)}")
    for a in ax:
        a.grid(True, alpha=0.3)
        a.axvline((p.tca - p.aos) / 60.0, color="0.5", lw=0.8, ls="--")
    ax[0].set_title(f"{sat.name}: pass of {iso(p.aos, 0)}, max elevation {p.max_el_deg:.1f} deg, "
                    f"{freq / 1e6:.3f} MHz")
    try:
        fig.savefig(path, dpi=100, bbox_inches="tight")
    except OSError as e:
        raise OrbitlinkError(f"{path}: cannot write the plot ({e.strerror or e})") from None
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------------------------


def add_parsers(sub) -> None:
    """Add the ``passes`` and ``doppler`` subcommands to an argparse subparsers object."""

    def common(p):
        p.add_argument("--tle", required=True, metavar="FILE",
                       help="orbital elements: TLE (2- or 3-line, several satellites) or OMM "
                            "JSON/XML")
        p.add_argument("--sat", default=None, metavar="NAME",
                       help="satellite name or catalog number in the file (default: the first)")
        p.add_argument("--station", required=True, metavar="LAT,LON[,ALT]",
                       help="ground station: latitude and longitude (degrees, north/east "
                            "positive), height above the WGS-84 ellipsoid (m)")
        p.add_argument("--start", default="now", metavar="ISO",
                       help="start of the search, ISO-8601 UTC (default: now)")
        p.add_argument("--min-el", type=float, default=0.0, metavar="DEG",
                       help="elevation mask (default 0)")
        p.add_argument("--dut1", type=float, default=0.0, metavar="S",
                       help="UT1 - UTC in seconds (IERS Bulletin A; default 0)")
        p.add_argument("--json", action="store_true", help="one JSON object per line")

    p = sub.add_parser("passes", help="list the upcoming passes of a satellite over a station")
    common(p)
    p.add_argument("--hours", type=float, default=24.0, help="search window (default 24 h)")
    p.set_defaults(func=cmd_passes)

    p = sub.add_parser("doppler", help="Doppler, Doppler rate and elevation over a pass")
    common(p)
    p.add_argument("--freq", required=True, metavar="HZ",
                   help="carrier frequency, e.g. 2.2e9 or 437.5M")
    p.add_argument("--pass", dest="pass_", type=int, default=1, metavar="N",
                   help="the N-th pass from --start (default 1: the next, or the one under way)")
    p.add_argument("--step", type=float, default=1.0, metavar="S",
                   help="time step of the table (default 1 s)")
    p.add_argument("--uplink", action="store_true",
                   help="the uplink pre-compensation (what to add to the nominal frequency "
                        "when transmitting) instead of the downlink shift")
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="also plot Doppler, Doppler rate and elevation (needs matplotlib)")
    p.set_defaults(func=cmd_doppler)


def main(argv=None) -> int:
    """``passes``/``doppler`` on their own: errors a user can cause exit 2 with one sentence."""
    from orbitlink.flowgraphs.cli import standalone_main

    return standalone_main(add_parsers, "Orbit prediction and Doppler.", argv)


if __name__ == "__main__":
    raise SystemExit(main())
