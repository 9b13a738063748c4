"""``orbitlink rx``: a link's receiver, live, from a radio (or a recording standing in for one)
to stdout (``decode --json``'s lines), the bus, GNU Radio and KISS clients
(:class:`orbitlink.flowgraphs.station.Station`).

``--hw loopback --device file=REC.sigmf-meta`` replays a recording as the radio, paced at real
time (``,rate=max``: as fast as the receiver goes); a mono WAV (a receiver's audio) feeds the
link's audio receiver. With ``--tle FILE --station LAT,LON[,ALT] --pass next`` (or the pass
number ``orbitlink passes`` lists) rx waits for the pass (a replayed recording is read up to
it), runs from AOS to LOS above ``--min-el`` with the Doppler corrected from the prediction,
and exits.

``--station`` is given for the position (``LAT,LON[,ALT]``, numbers) and for the station's
name on the bus (anything else), once each: ``--station 52.0,4.37,10 --station delft``.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import sys
import threading
import time

from orbitlink import OrbitlinkError

__all__ = ["add_parsers", "main", "cmd_rx"]


class RxError(OrbitlinkError):
    """rx cannot run as asked (one sentence)."""


def _hz(text):
    from orbitlink.flowgraphs.cli_orbit import parse_freq

    return parse_freq(text)


def split_station(values) -> tuple[str | None, str]:
    """``--station`` values -> (position ``LAT,LON[,ALT]`` or None, bus name)."""
    import re

    pos, name = None, None
    for v in values or []:
        if re.fullmatch(r"\s*[-+0-9.eE]+\s*,\s*[-+0-9.eE]+\s*(,\s*[-+0-9.eE]+\s*)?", v):
            if pos is not None:
                raise RxError(f"--station given two positions ({pos} and {v})")
            pos = v
        else:
            if name is not None:
                raise RxError(f"--station given two names ({name!r} and {v!r})")
            if not v or "/" in v or len(v.encode()) > 64:
                raise RxError(f"--station {v!r}: a station name is 1 to 64 bytes without '/'")
            name = v
    return pos, name or "station"


def _endpoint(v):
    return None if v in (None, "", "none", "off") else v


def _recording_facts(profile, device: str) -> dict:
    """For a replay radio: the recording's medium, rate and start time (None otherwise)."""
    from orbitlink.drivers.radio import parse_device_args

    if getattr(profile, "driver", None) not in ("replay", "file"):
        return {}
    args = parse_device_args(device)
    f = args.get("file")
    if not f:
        return {"missing": True}
    from orbitlink.drivers.files import open_input

    rec = open_input(f, args.get("format"), float(args["samp_rate"]) if args.get("samp_rate")
                     else None)
    try:
        return {"medium": "audio" if getattr(rec, "kind", "iq") == "audio" else "iq",
                "samp_rate": float(rec.samp_rate), "datetime": rec.datetime,
                "center_freq": rec.center_freq, "name": rec.name,
                "paced": args.get("rate", "real") not in ("max",)}
    finally:
        close = getattr(rec, "close", None)
        if close is not None:
            close()


def _plan_pass(args, position, clock0: float):
    """The pass to receive: (Pass, satellite, station)."""
    from orbitlink.modem import orbit

    sat = orbit.load_satellite(args.tle, args.sat)
    st = orbit.Station.parse(position)
    which = args.pass_ or "next"
    if which == "next":
        n = 1
    else:
        try:
            n = int(which)
        except ValueError:
            raise RxError(f"--pass {which!r}: give next or a pass number from "
                          "'orbitlink passes'") from None
        if n < 1:
            raise RxError(f"--pass {n}: pass numbers start at 1")
    found = orbit.passes(sat, st, clock0, clock0 + 48 * 3600.0, args.min_el)
    found = [p for p in found if p.los > clock0]
    if len(found) < n:
        raise RxError(f"{sat.name}: {'no' if not found else f'only {len(found)}'} pass(es) "
                      f"above {args.min_el:g} deg in the 48 h from {orbit.iso(clock0)}")
    msg = orbit.epoch_check(sat, [clock0])
    if msg:
        print(f"orbitlink rx: warning: {msg}", file=sys.stderr)
    return found[n - 1], sat, st


def cmd_rx(args) -> int:
    from orbitlink.drivers.profiles import load_profile
    from orbitlink.drivers.radio_source import RadioSource
    from orbitlink.flowgraphs.links import load_link
    from orbitlink.flowgraphs.station import Station, StationConfig

    position, name = split_station(args.station)
    if args.tle and not position:
        raise RxError("--tle needs the station's position: --station LAT,LON[,ALT]")
    if args.pass_ and not args.tle:
        raise RxError("--pass needs --tle FILE and --station LAT,LON[,ALT]")
    if args.duration is not None and not (args.duration > 0 and math.isfinite(args.duration)):
        raise RxError(f"--duration {args.duration:g} s is not a positive number of seconds")
    if not 1 <= args.min_subscribers <= 1000:
        raise RxError(f"--min-subscribers {args.min_subscribers}: give 1 to 1000")
    if args.wait_subscribers and not args.nodrop:
        raise RxError("--wait-subscribers needs --nodrop (an XPUB socket sees its "
                      "subscribers)")
    if args.kiss is not None and not 0 <= args.kiss <= 65535:
        raise RxError(f"--kiss {args.kiss}: a TCP port is 0 to 65535")
    if args.chunk is not None and not 1 <= args.chunk <= 1 << 24:
        raise RxError(f"--chunk {args.chunk}: give 1 to 16777216 samples")
    if not (args.stats_interval > 0 and math.isfinite(args.stats_interval)):
        raise RxError(f"--stats-interval {args.stats_interval:g}: a positive number of "
                      "seconds")
    if not (args.monitor == 0 or 0.1 <= args.monitor <= 100):
        raise RxError(f"--monitor {args.monitor:g}: give 0.1 to 100 spectrum rows a second, "
                      "or 0 for none")
    if args.view is not None and not 1 <= args.view <= 65535:
        raise RxError(f"--view {args.view}: a TCP port is 1 to 65535")
    if args.view is not None and not args.monitor:
        raise RxError("--view shows the spectrum and the symbols the bus carries: it needs "
                      "--monitor above 0")
    if not (args.queue > 0 and math.isfinite(args.queue) and args.queue <= 60):
        raise RxError(f"--queue {args.queue:g} s: the queue holds 0 to 60 s of signal")
    prof = load_profile(args.hw)
    facts = _recording_facts(prof, args.device or "")
    from orbitlink.flowgraphs.cli import _with_rate

    link = load_link(args.link, _with_rate(_overrides(args.set),
                                           args.rate or facts.get("samp_rate")))
    if facts.get("missing"):
        raise RxError(f"--hw {prof.name}: give the recording that stands in for the radio: "
                      "--device file=REC.sigmf-meta[,rate=max]")
    medium = facts.get("medium", "iq")
    rate = args.rate or facts.get("samp_rate") or link.samp_rate
    freq = args.freq or facts.get("center_freq") or 0.0

    front, pass_info, skip_s, duration = [], None, 0.0, args.duration or 0.0
    if args.tle:
        if medium != "iq":
            raise RxError("Doppler correction from the prediction works on IQ; this recording "
                          "is a receiver's audio")
        if not freq:
            raise RxError("--tle needs the carrier frequency: --freq HZ")
        from orbitlink.flowgraphs import passes
        from orbitlink.modem import orbit

        if facts:  # a replayed recording: its own clock
            if not facts.get("datetime"):
                raise RxError(f"{facts['name']}: the recording has no core:datetime, so the "
                              "time of the pass in it is unknown")
            clock0 = orbit.parse_time(facts["datetime"])
        else:
            clock0 = time.time()
        ps, sat, st = _plan_pass(args, position, clock0)
        pred = orbit.DopplerPredictor(sat, st, freq)
        start = max(ps.aos, clock0)
        print(f"orbitlink rx: pass of {sat.name}: AOS {orbit.iso(ps.aos)}, LOS "
              f"{orbit.iso(ps.los)}, max elevation {ps.max_el_deg:.1f} deg", file=sys.stderr)
        if facts:
            skip_s = start - clock0
        else:
            _wait_until(start)
            start = time.time()
        span = ps.los - start
        duration = min(duration, span) if duration else span
        front = passes.doppler_front(link, rate, "predicted", predictor=pred, t0=start)

        def predict(t, _sat=sat, _st=st, _pred=pred):
            return orbit.look(_sat, _st, t).el_deg, _pred(t)

        pass_info = {"t0": start, "predict": predict, "aos": orbit.iso(ps.aos),
                     "los": orbit.iso(ps.los), "max_el_deg": ps.max_el_deg}

    # reads of about 50 ms of signal (at most 2^14 samples): a frame is not held back long
    # by a read or a chunk filling up at low rates
    chunk = args.chunk or int(min(1 << 14, max(256, rate * 0.05)))
    if args.freq_offset is not None or args.doppler_file:
        from orbitlink.flowgraphs import freqknow

        if args.doppler_file and args.tle:
            raise RxError("--doppler-file and --tle are two sources of Doppler; give one")
        t0 = None
        if args.doppler_file:
            from orbitlink.modem import orbit

            if facts:
                if not facts.get("datetime"):
                    raise RxError(f"{facts['name']}: the recording has no core:datetime, so "
                                  "where it sits in the Doppler table is unknown")
                t0 = orbit.parse_time(facts["datetime"]) + skip_s
            else:
                t0 = time.time()
        front = freqknow.front(link, rate, medium, freq_offset=args.freq_offset,
                               doppler_file=args.doppler_file, t0=t0,
                               name=facts.get("name", args.hw)) + front
    src = RadioSource(profile=args.hw, device=args.device or "", read_size=chunk,
                      samp_rate=0.0 if facts else rate, freq=0.0 if facts and not args.freq
                      else freq, gain=-1000.0 if args.gain is None else args.gain,
                      ppm=args.ppm, duration_s=duration, skip_s=skip_s, medium=medium)
    cfg = StationConfig(station=name, bus=args.bus, nodrop=args.nodrop,
                        wait_subscribers=args.wait_subscribers,
                        min_subscribers=args.min_subscribers,
                        tx_endpoint=_endpoint(args.tx_endpoint),
                        control_endpoint=_endpoint(args.control_endpoint),
                        gr_pdu=_endpoint(args.gr_pdu), kiss_port=args.kiss,
                        record=args.record, json_frames=not args.text,
                        stats_interval_s=args.stats_interval, chunk=chunk,
                        queue_s=args.queue, server_keys=args.server_keys,
                        authorized_keys=args.authorized_keys, pass_info=pass_info,
                        monitor_rows_per_s=args.monitor)
    transmitter = None
    if args.transmit or args.tx_freq is not None:
        from orbitlink.flowgraphs.station import StationTransmitter
        from orbitlink.flowgraphs.uplink import Uplink

        if not args.transmit:
            from orbitlink.drivers.radio_sink import TRANSMIT_FLAG_REFUSAL

            raise RxError(f"{TRANSMIT_FLAG_REFUSAL}: add --transmit to send the bus's "
                          "submissions")
        tx_freq = args.tx_freq or freq
        if not tx_freq:
            raise RxError("--transmit needs the transmit frequency: --tx-freq HZ (or --freq)")
        if cfg.tx_endpoint is None and args.kiss is None:
            raise RxError("--transmit needs somewhere the frames to send come from: "
                          "--tx-endpoint or --kiss")
        transmitter = StationTransmitter(Uplink(
            link, args.hw, freq=tx_freq, rate=args.tx_rate or link.samp_rate,
            gain=args.tx_gain, ppm=args.ppm, device=args.tx_device or args.device or "",
            transmit=True))
    st = Station(link, src, rate, cfg, front=front, transmitter=transmitter)
    st.frames.params = dataclasses.replace(st.frames.params, all_frames=args.all_frames)

    def opened(info):
        for w in info.extra.get("warnings", []):
            print(f"orbitlink rx: warning: {w}", file=sys.stderr)
        eps = ", ".join(f"{k} {v}" for k, v in st.endpoints.items() if v)
        print(f"orbitlink rx: {info.name} at {info.samp_rate:g} Hz -> link {link.name}; "
              f"{eps}", file=sys.stderr)

    view = None
    if args.view is not None:
        from orbitlink.flowgraphs.view import ViewChild

        view = ViewChild(cfg.bus, args.view_host, args.view)
        print(f"orbitlink rx: view on {view.url}", file=sys.stderr, flush=True)
    error = None
    try:
        res = st.run(on_open=opened)
    except OrbitlinkError as e:
        if getattr(e, "result", None) is None:
            raise
        error, res = e, e.result
    finally:
        if view is not None:
            view.stop()
    s = res.counters.get("station") or {}
    print(f"orbitlink rx: {s.get('frames', 0)} frames ({s.get('frames_good', 0)} good) from "
          f"{s.get('samples_in', 0) / rate:.3f} s of signal in {res.seconds:.2f} s; "
          f"overflows {s.get('overflows', 0)}, dropped samples {s.get('dropped_samples', 0)} "
          f"(radio {s.get('drops', {}).get('radio', 0)}, queue "
          f"{s.get('drops', {}).get('queue', 0)}), bus sent {s.get('bus', {}).get('sent', 0)} "
          f"dropped {s.get('bus', {}).get('dropped', 0)}; stopped by "
          f"{res.counters.get('live', {}).get('stopped_by', '?')}", file=sys.stderr)
    if error is not None:
        print(f"orbitlink: error: {error}", file=sys.stderr)
        return 2
    return 0


def _wait_until(t_unix: float) -> None:
    """Wait for the pass (SIGINT ends the wait: KeyboardInterrupt)."""
    left = t_unix - time.time()
    if left <= 0:
        return
    print(f"orbitlink rx: waiting {left:.0f} s for the pass", file=sys.stderr)
    stop = threading.Event()
    old = None
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGTERM, lambda s, f: stop.set())
    try:
        while not stop.is_set():
            left = t_unix - time.time()
            if left <= 0:
                return
            stop.wait(min(left, 1.0))
        raise KeyboardInterrupt
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _overrides(items):
    from orbitlink.flowgraphs.cli import _overrides as o

    return o(items)


def add_parsers(sub) -> None:
    from orbitlink.flowgraphs.bus import DEFAULT_BUS, DEFAULT_CONTROL, DEFAULT_TX

    p = sub.add_parser("rx", help="receive live from a radio (or a recording standing in for "
                                  "one): frames to stdout and the bus")
    p.add_argument("--link", required=True, help="the link (see 'orbitlink links')")
    p.add_argument("--all-frames", action="store_true", help="also print unchecked frames")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the link file (repeatable)")
    p.add_argument("--hw", required=True, metavar="PROFILE",
                   help="hardware profile (see 'orbitlink profiles'); loopback: a recording "
                        "stands in for the radio (--device file=REC.sigmf-meta[,rate=max])")
    p.add_argument("--device", default="", metavar="ARGS",
                   help="device arguments on top of the profile's (key=value,...)")
    p.add_argument("--freq", type=_hz, default=None, metavar="HZ", help="centre frequency")
    p.add_argument("--rate", type=_hz, default=None, metavar="HZ",
                   help="sample rate (default: the link's; a recording's own)")
    p.add_argument("--gain", type=float, default=None, metavar="DB", help="receive gain")
    p.add_argument("--ppm", type=float, default=0.0, help="reference correction, ppm")
    p.add_argument("--tle", default=None, metavar="FILE",
                   help="orbital elements: correct the Doppler from the prediction")
    p.add_argument("--sat", default=None, metavar="NAME", help="satellite in the TLE file")
    p.add_argument("--station", action="append", default=[], metavar="LAT,LON[,ALT]|NAME",
                   help="the station's position (with --tle) and its name on the bus "
                        "(default 'station'); give each once")
    p.add_argument("--pass", dest="pass_", default=None, metavar="next|N",
                   help="wait for this pass and receive it from AOS to LOS")
    p.add_argument("--min-el", type=float, default=0.0, metavar="DEG",
                   help="elevation mask of the pass (default 0)")
    from orbitlink.flowgraphs.cli import add_freq_knowledge

    add_freq_knowledge(p)
    p.add_argument("--bus", default=DEFAULT_BUS, metavar="ENDPOINT",
                   help=f"the bus's PUB socket (default {DEFAULT_BUS})")
    p.add_argument("--nodrop", action="store_true",
                   help="XPUB_NODROP on the bus and the GNU Radio bridge: a slow subscriber "
                        "slows rx (bounded) instead of losing frames")
    p.add_argument("--wait-subscribers", type=float, default=0.0, metavar="S",
                   help="with --nodrop: wait up to S seconds for a first subscriber")
    p.add_argument("--min-subscribers", type=int, default=1, metavar="N",
                   help="with --wait-subscribers: wait for N subscribers (default 1)")
    p.add_argument("--tx-endpoint", default=DEFAULT_TX, metavar="ENDPOINT",
                   help=f"transmit submissions, ROUTER (default {DEFAULT_TX}; none: off)")
    p.add_argument("--control-endpoint", default=DEFAULT_CONTROL, metavar="ENDPOINT",
                   help=f"control requests, ROUTER (default {DEFAULT_CONTROL}; none: off)")
    p.add_argument("--server-keys", default=None, metavar="FILE.key_secret",
                   help="CURVE key pair of the transmit and control sockets (needed to bind "
                        "them to a non-loopback address; see 'orbitlink keys')")
    p.add_argument("--authorized-keys", default=None, metavar="DIR",
                   help="directory of the public keys of the clients allowed in")
    p.add_argument("--transmit", action="store_true",
                   help="send what comes in on the transmit socket (and from KISS clients) "
                        "as bursts; nothing transmits without it")
    p.add_argument("--tx-freq", type=_hz, default=None, metavar="HZ",
                   help="transmit frequency (default: --freq)")
    p.add_argument("--tx-rate", type=_hz, default=None, metavar="HZ",
                   help="transmit sample rate (default: the link's)")
    p.add_argument("--tx-gain", type=float, default=None, metavar="DB",
                   help="transmit gain (the profile says whether it is required)")
    p.add_argument("--tx-device", default=None, metavar="ARGS",
                   help="device arguments of the transmitter (default: --device; the "
                        "loopback profile transmits into a recording: tx_file=BASE)")
    p.add_argument("--gr-pdu", default=None, metavar="ENDPOINT",
                   help="also send each frame as a PMT PDU for GNU Radio (PUB, e.g. "
                        "tcp://127.0.0.1:5560)")
    p.add_argument("--kiss", type=int, default=None, metavar="PORT",
                   help="serve the AX.25 frames to KISS-over-TCP clients on this port")
    p.add_argument("--record", default=None, metavar="FILE.sigmf-meta",
                   help="also record the IQ as SigMF")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="stop after S seconds of signal")
    p.add_argument("--text", action="store_true",
                   help="frames on stdout as text lines (default: JSON lines)")
    p.add_argument("--stats-interval", type=float, default=1.0, metavar="S",
                   help="stats on the bus every S seconds (default 1)")
    p.add_argument("--monitor", type=float, default=10.0, metavar="ROWS",
                   help="spectrum rows per second on the bus's spectrum topic, and two "
                        "symbol sets a second on its symbols topic, for the live view "
                        "(default 10; 0: off)")
    p.add_argument("--view", type=int, default=None, metavar="PORT",
                   help="also serve the live view (orbitlink view) of this station's bus on "
                        "http://127.0.0.1:PORT/")
    p.add_argument("--view-host", default="127.0.0.1", metavar="HOST",
                   help="the view's address (default 127.0.0.1; another address shows the "
                        "station to the network: no authentication)")
    p.add_argument("--queue", type=float, default=2.0, metavar="S",
                   help="seconds of signal the queue after the radio holds (default 2)")
    p.add_argument("--chunk", type=int, default=None,
                   help="samples per read and chunk (default: 50 ms of signal, at most 16384)")
    p.set_defaults(func=cmd_rx)


def main(argv=None) -> int:
    from orbitlink.flowgraphs.cli import standalone_main

    return standalone_main(add_parsers, "Receive live.", argv)


if __name__ == "__main__":
    raise SystemExit(main())
