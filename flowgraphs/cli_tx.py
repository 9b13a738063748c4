"""``orbitlink tx``: bursts from a payload file or from the bus, on a transmitting radio.

``orbitlink tx --link L --hw PROFILE --freq HZ --gain G --transmit (--in FILE | --from-bus)
[--tle FILE [--sat NAME] --station LAT,LON,ALT [--min-el DEG]] [--station NAME] [--json]``

Each payload (hex lines or a ``.kiss`` file with ``--in``; each transmit submission on the bus's
ROUTER socket ``--tx-endpoint`` with ``--from-bus``) is one burst of the link's transmitter,
written to the radio of the hardware profile with its transmit time; the radio's
acknowledgement (end of burst, late, underflow) is collected, counted and reported: one line
per burst (``--json``: one JSON object: ``index``, ``bytes``, ``status``, ``requested_time``,
``scheduled_time``, ``tx_time``, ``freq_offset_hz``...), then the counters on stderr.

Nothing transmits without ``--transmit``; the profile's checks (receive-only radio, allowed
frequency ranges, maximum gain) refuse before the device is opened. With ``--tle`` and a
station position each burst is pre-compensated for the uplink Doppler at its transmit time
and refused when the satellite is below ``--min-el`` then. ``--station`` is given once or
twice: a value ``LAT,LON[,ALT]`` is the station's position, anything else its name on the bus
(the ``<station>/<link>/tx-ack`` topic).

Exit status: 0 when every burst of ``--in`` was sent (``--from-bus``: when the server ran and
stopped cleanly), 1 when some were late, unacknowledged or failed, 2 for an error a user can
cause (one sentence).

:func:`add_parsers` adds the subcommand; :func:`main` runs it on its own.
"""

from __future__ import annotations

import json
import signal
import sys
import threading

from orbitlink import OrbitlinkError


class UplinkError(OrbitlinkError):
    """tx cannot run as asked (one sentence); the library's own errors are
    :class:`orbitlink.flowgraphs.uplink.UplinkError` (imported late: the CLI starts without
    numba)."""


def _hz(text):
    from orbitlink.flowgraphs.cli import _hz as hz

    return hz(text)


def _note(msg: str) -> None:
    print(f"orbitlink tx: {msg}", file=sys.stderr, flush=True)


def split_stations(values) -> tuple[object, str | None]:
    """``--station`` values -> (position :class:`orbitlink.modem.orbit.Station` or None, bus
    name or None): a value that parses as LAT,LON[,ALT] numbers is the position."""
    from orbitlink.modem.orbit import Station

    pos, name = None, None
    for v in values or []:
        parts = [p.strip() for p in str(v).split(",")]
        looks_numeric = len(parts) in (2, 3) and all(
            _is_number(p[:-1] if i == 2 and p.lower().endswith("m") else p)
            for i, p in enumerate(parts))
        if looks_numeric:
            if pos is not None:
                raise UplinkError(f"--station {v!r}: the station position is given twice")
            pos = Station.parse(v)  # range errors: OrbitError, one sentence
        else:
            if name is not None:
                raise UplinkError(f"--station {v!r}: the station name is given twice "
                                  f"(already {name!r})")
            if not v or "/" in v or len(v) > 100:
                raise UplinkError(f"--station {v!r} is neither LAT,LON[,ALT] nor a station "
                                  "name (no '/', at most 100 characters)")
            name = v
    return pos, name


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _fmt_time(t):
    if t is None:
        return "-"
    from orbitlink.modem.orbit import iso

    return iso(t)


def cmd_tx(args) -> int:
    import warnings

    with warnings.catch_warnings():
        # stale orbital elements are reported once, as an 'orbitlink: warning:' line
        warnings.filterwarnings("ignore", message=r"the elements of .* are used")
        return _cmd_tx(args)


def _cmd_tx(args) -> int:
    from orbitlink.drivers.profiles import fmt_hz
    from orbitlink.flowgraphs.cli import _overrides
    from orbitlink.flowgraphs.links import iter_payload_file, load_link
    from orbitlink.flowgraphs.uplink import DopplerPlan, Uplink, serve_bus, transmit_file

    if bool(args.inp) == bool(args.from_bus):
        raise UplinkError("give the bursts with --in FILE or --from-bus (one of them)")
    for opt, v, lo in (("--lead", args.lead, 0.0), ("--ack-timeout", args.ack_timeout, 0.0),
                       ("--duration", args.duration, 0.0)):
        if v is not None and not (v >= lo and v < 1e7):
            raise UplinkError(f"{opt} {v:g} must be a number of seconds >= {lo:g}")
    if args.queue < 1 or args.queue > 100000:
        raise UplinkError(f"--queue {args.queue} must be between 1 and 100000 bursts")
    position, name = split_stations(args.station)
    link = load_link(args.link, _overrides(args.set))
    rate = float(args.rate or link.samp_rate)
    plan = None
    if args.tle:
        if position is None:
            raise UplinkError("uplink pre-compensation (--tle) needs the station position: "
                              "--station LAT,LON,ALT")
        plan = DopplerPlan.load(args.tle, args.sat, position, args.freq, args.min_el)
        import time

        import numpy as np

        from orbitlink.modem.orbit import epoch_check

        msg = epoch_check(plan.sat, np.array([time.time()]))
        if msg:
            print(f"orbitlink: warning: {msg}", file=sys.stderr)
    elif args.sat:
        raise UplinkError("--sat goes with --tle")
    results = []

    def on_result(res, tag):
        results.append(res)
        if args.json:
            print(json.dumps(res.to_dict()), flush=True)
        else:
            off = "" if res.freq_offset_hz is None else f", {res.freq_offset_hz:+.1f} Hz"
            why = f" ({res.reason})" if res.reason and res.status != "sent" else ""
            print(f"burst {res.index}: {res.bytes} B {res.status} at "
                  f"{_fmt_time(res.tx_time or res.scheduled_time)}{off}{why}", flush=True)

    # every check before the device is opened: the profile's (Uplink), the payloads, and for a
    # file the satellite at the first burst's time
    up = Uplink(link, args.hw, freq=args.freq, rate=rate, gain=args.gain, ppm=args.ppm,
                device=args.device or "", transmit=args.transmit, doppler=plan,
                seed=args.seed, lead_s=args.lead, ack_timeout_s=args.ack_timeout,
                queue=args.queue, on_result=on_result)
    for w in up.warnings:
        print(f"orbitlink: warning: {w}", file=sys.stderr)
    if args.inp:
        n = sum(1 for _ in iter_payload_file(args.inp, link))  # checks every payload
        if plan is not None:
            from orbitlink.flowgraphs.links import transmit

            from orbitlink.flowgraphs.uplink import BurstResult, BurstRefused

            first = next(iter_payload_file(args.inp, link))
            dur = len(transmit(link, [first], samp_rate=rate).iq) / rate
            try:
                up.check_doppler(BurstResult(0, len(first), "check", duration_s=dur),
                                  up.earliest())
            except BurstRefused as e:
                raise UplinkError(f"the first burst cannot go: {e.reason}") from None

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    old = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, on_signal)
    bus_counters = {}
    try:
        try:
            if args.inp:
                up.open()
                _note(f"{n} bursts of link {link.name} at {fmt_hz(up.freq)}, "
                      f"{fmt_hz(rate, 'S/s')} "
                      f"({'timed on the radio clock' if up.timed else 'host-timed'})")
                from orbitlink.flowgraphs.uplink import BurstRefused

                try:
                    transmit_file(up, iter_payload_file(args.inp, link), stop=stop)
                except BurstRefused as e:
                    raise UplinkError(f"burst {len(results)} refused: {e.reason}") from None
            else:
                bus_counters = serve_bus(
                    up, args.tx_endpoint, station=name or "station", stop=stop,
                    duration=args.duration,
                    on_listen=lambda ep: _note(f"transmit submissions on {ep} (link "
                                               f"{link.name}, {fmt_hz(up.freq)}, "
                                               f"{'timed' if up.timed else 'host-timed'})"))
        finally:
            up.close()
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
        c = dict(up.counters)
        if bus_counters:
            c["malformed"] = bus_counters.get("malformed", 0)
            c["received"] = bus_counters.get("received", 0)
        if up.was_opened:  # else an error came first and is all there is to say
            c.update({f"radio_{k}": v for k, v in up.radio.tx_counters.to_dict().items() if v})
            print(f"orbitlink tx: {json.dumps(c)}", file=sys.stderr, flush=True)
    if args.inp:
        return 0 if c["sent"] == n else 1
    return 0 if not (c["errors"]) else 1


def add_parsers(sub) -> None:
    """Add ``tx`` to the ``orbitlink`` subparsers."""
    from orbitlink.flowgraphs.bus import DEFAULT_TX

    p = sub.add_parser("tx", help="transmit bursts from a payload file or the bus",
                       description="Transmit each payload (--in FILE: hex lines or .kiss; "
                                   "--from-bus: the bus's transmit submissions) as one timed "
                                   "burst on the radio of a hardware profile, pre-compensated "
                                   "for the uplink Doppler with --tle. Nothing transmits "
                                   "without --transmit.")
    p.add_argument("--link", "-l", required=True, help="link name or YAML file "
                   "('orbitlink links')")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a link parameter")
    p.add_argument("--hw", required=True, metavar="PROFILE",
                   help="hardware profile: a name of 'orbitlink profiles' or a file")
    p.add_argument("--device", default="", metavar="ARGS",
                   help="device arguments on top of the profile's (key=value,...; loopback: "
                        "tx_file=BASE, the SigMF recording the bursts go to)")
    p.add_argument("--freq", type=_hz, required=True, help="nominal transmit frequency (Hz)")
    p.add_argument("--rate", type=_hz, default=None,
                   help="transmit sample rate (Hz; default: the link's)")
    p.add_argument("--gain", type=float, default=None,
                   help="overall transmit gain (dB; at most the profile's tx.max_gain)")
    p.add_argument("--ppm", type=float, default=0.0, help="reference frequency correction")
    p.add_argument("--transmit", action="store_true",
                   help="allow the radio to transmit (nothing transmits without it)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--in", dest="inp", metavar="FILE",
                     help="payload file: hex lines or a .kiss file, one burst each")
    src.add_argument("--from-bus", action="store_true",
                     help="serve transmit submissions on --tx-endpoint")
    p.add_argument("--tx-endpoint", default=DEFAULT_TX, metavar="E",
                   help=f"the ROUTER socket for submissions (default {DEFAULT_TX})")
    p.add_argument("--station", action="append", metavar="LAT,LON,ALT|NAME",
                   help="the station's position (LAT,LON[,ALT]: degrees, metres; for --tle) "
                        "or its bus name (the tx-ack topic <station>/<link>/tx-ack); "
                        "give it twice for both")
    p.add_argument("--tle", default=None, metavar="FILE",
                   help="TLE or OMM file: pre-compensate each burst for the uplink Doppler "
                        "at its transmit time")
    p.add_argument("--sat", default=None, help="satellite name in the --tle file")
    p.add_argument("--min-el", type=float, default=0.0, metavar="DEG",
                   help="refuse bursts when the satellite is lower (with --tle; default 0)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="with --from-bus: stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--lead", type=float, default=0.25, metavar="S",
                   help="how long before its time a burst is handed to the radio, and the "
                        "earliest a burst submitted now goes out (default 0.25)")
    p.add_argument("--ack-timeout", type=float, default=1.0, metavar="S",
                   help="wait this long after a burst's end for the radio's acknowledgement")
    p.add_argument("--queue", type=int, default=32, metavar="N",
                   help="bursts scheduled ahead at most (more are rejected: queue full)")
    p.add_argument("--seed", type=int, default=0, help="seed of the idle symbols")
    p.add_argument("--json", action="store_true", help="one JSON object per burst on stdout")
    p.set_defaults(func=cmd_tx)


def main(argv=None) -> int:
    """``tx`` on its own: errors a user can cause exit 2 with one sentence."""
    from orbitlink.flowgraphs.cli import standalone_main

    return standalone_main(add_parsers, "Transmit bursts.", argv)


if __name__ == "__main__":
    raise SystemExit(main())
