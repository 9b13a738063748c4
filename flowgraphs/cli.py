"""The ``orbitlink`` command line.

Commands: ``links``, ``encode``, ``decode``, ``loopback``. Errors a user can cause print one
sentence on stderr and exit with status 2 (never a traceback); frames decoded before a damaged
part of a recording are printed first.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

from orbitlink import OrbitlinkError

EXIT_USAGE = 2


class UsageError(OrbitlinkError):
    """A command line asks for something that cannot be done (one sentence)."""


def _err(msg: str) -> int:
    print(f"orbitlink: error: {msg}", file=sys.stderr)
    return EXIT_USAGE


def _overrides(pairs) -> dict:
    out = {}
    for item in pairs or []:
        if "=" not in item:
            raise UsageError(f"--set takes key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


# ------------------------------------------------------------------------------------------------
# links


def payload(r) -> str:
    return f"{r['payload_len']} B" if r["payload_len"] is not None else "variable"


def cmd_links(args) -> int:
    from orbitlink.flowgraphs.links import link_names, load_link

    rows = [load_link(n).summary() for n in link_names()]
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    w = max(len(r["name"]) for r in rows)
    print(f"{'link':<{w}} {'modulation':<11} {'symbol rate':>12} {'samp rate':>11} {'sps':>7} "
          f"{'medium':<6} {'payload':>8}  description")
    for r in rows:
        mod = r["modulation"] + ("+diff" if r["differential"] else "")
        print(f"{r['name']:<{w}} {mod:<11} {r['symbol_rate']:>9.0f} Bd {r['samp_rate']:>8.0f} Hz "
              f"{r['sps']:>7.3f} {r['medium']:<6} {payload(r):>8}  {r['description']}")
    return 0


# ------------------------------------------------------------------------------------------------
# expand


def cmd_expand(args) -> int:
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.links import load_link

    link = load_link(args.link, _overrides(args.set))
    g = link_graph(link, "tx" if args.tx else "rx", samp_rate=args.rate,
                   medium=args.medium or link.medium)
    text = json.dumps(g.to_dict(), indent=2) + "\n" if args.json else g.dumps()
    if args.output:
        try:
            with open(args.output, "w") as fh:
                fh.write(text)
        except OSError as e:
            raise UsageError(f"{args.output}: cannot write ({e.strerror or e})") from None
        print(f"orbitlink expand: {g.name}: {len(g.nodes)} nodes -> {args.output}",
              file=sys.stderr)
    else:
        print(text, end="")
    return 0


# ------------------------------------------------------------------------------------------------
# blocks


def cmd_blocks(args) -> int:
    from orbitlink.flowgraphs.registry import all_blocks
    from orbitlink.modem.block import describe_params

    reg = all_blocks()
    names = [args.name] if args.name else sorted(reg)
    if args.name and args.name not in reg:
        return _err(f"unknown block '{args.name}'; known blocks: {', '.join(sorted(reg))}")
    for n in names:
        cls = reg[n]
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        params = describe_params(cls.Params)
        if args.json:
            print(json.dumps({"name": n, "rate": cls.rate.value, "in": cls.in_type,
                              "out": cls.out_type, "doc": doc, "params": params}, default=str))
            continue
        print(f"{n}  ({cls.in_type} -> {cls.out_type}, {cls.rate.value})  {doc}")
        if args.name:
            for q in params:
                rng = ""
                if q["choices"]:
                    rng = "one of " + ", ".join(map(str, q["choices"]))
                elif q["lo"] is not None or q["hi"] is not None:
                    rng = f"[{'' if q['lo'] is None else q['lo']}, {'' if q['hi'] is None else q['hi']}]"
                unit = f" {q['unit']}" if q["unit"] else ""
                print(f"    {q['name']:<14} {q['type']:<6} default {q['default']!r}{unit}  {rng}")
                print(f"        {q['doc']}")
    return 0


# ------------------------------------------------------------------------------------------------
# encode


def _medium(args, link, out_path=None) -> str:
    """The medium asked for (--medium), else what the output file implies, else the link's."""
    m = getattr(args, "medium", None)
    if m:
        return m
    if out_path is not None and not out_path.lower().endswith(".wav"):
        return "iq"  # SigMF holds complex samples
    return link.medium


def _precompensation(args, link, rate: float, medium: str):
    """Uplink pre-compensation of an encoded burst (``encode --tle``): the burst's sample 0
    leaves the antenna at ``--datetime``; each sample gets the offset that makes the satellite
    receive the nominal carrier at that moment. Returns ``(t0, predictor, check)`` for
    :func:`orbitlink.flowgraphs.encode.encode` and what is recorded in the metadata."""
    import numpy as np

    from orbitlink.flowgraphs.passes import PassError, samp_rate_for
    from orbitlink.modem import orbit

    if medium != "iq":
        raise PassError("uplink pre-compensation (--tle) applies to IQ, not to audio")
    if not (args.station and args.freq and args.datetime):
        raise PassError("uplink pre-compensation (--tle) needs --station LAT,LON,ALT, --freq HZ "
                        "(the uplink carrier) and --datetime ISO (when the first sample is "
                        "transmitted)")
    sat = orbit.load_satellite(args.tle, args.sat)
    station = orbit.Station.parse(args.station)
    t0 = orbit.parse_time(args.datetime)
    msg = orbit.epoch_check(sat, np.array([t0]))
    if msg:
        print(f"orbitlink: warning: {msg}", file=sys.stderr)
    pred = orbit.DopplerPredictor(sat, station, args.freq, uplink=True)

    def check(t, off):
        worst = float(np.max(np.abs(off)))
        need = samp_rate_for(link, worst)
        if need > rate:
            raise PassError(f"the uplink pre-compensation reaches {worst / 1e3:.1f} kHz, more "
                            f"than a {rate:g} Hz sample rate holds with the signal; give --rate "
                            f"{need:g} or more")

    return (t0, pred, check, {"satellite": sat.name, "station": args.station,
                              "freq_hz": args.freq})


def cmd_encode(args) -> int:
    import numpy as np

    from orbitlink.flowgraphs.encode import encode
    from orbitlink.flowgraphs.links import load_link

    link = load_link(args.link, _overrides(args.set))
    medium = _medium(args, link, args.out)
    rate = float(args.rate or link.samp_rate)
    precomp = _precompensation(args, link, rate, medium) if args.tle else None
    res = encode(link, args.inp, args.out, samp_rate=rate, medium=medium, seed=args.seed,
                 center_freq=args.center_freq, datetime=args.datetime, precomp=precomp)
    if precomp is not None:
        t0, pred, _, meta = precomp
        off = pred(np.array([t0, t0 + res.samples / rate]))
        print(f"orbitlink encode: uplink pre-compensation for {meta['satellite']} at "
              f"{args.freq:g} Hz: {off[0]:+.1f} Hz at the start, {off[1]:+.1f} Hz at the end",
              file=sys.stderr)
    print(f"orbitlink encode: {res.frames} frames, {res.samples} {medium} samples "
          f"({res.samples / rate:.3f} s at {rate:g} Hz) -> {res.path}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------------------
# decode


def _with_rate(overrides: dict, samp_rate) -> dict:
    """The link's sample rate is the recording's (so that ``--set baud=X`` is checked against
    the rate the signal has, not the link file's), unless ``--set samp_rate`` says otherwise."""
    o = dict(overrides or {})
    if samp_rate and not any(k.split(".")[-1] == "samp_rate" for k in o):
        o["samp_rate"] = repr(float(samp_rate))
    return o


def add_all_frames(p) -> None:
    """``--all-frames`` (decode, run)."""
    p.add_argument("--all-frames", action="store_true",
                   help="also print frames that no check vouches for (check 'none', e.g. a "
                        "U482C frame without Reed-Solomon); never counted as good")


def add_freq_knowledge(p) -> None:
    """``--freq-offset`` and ``--doppler-file`` (decode, rx)."""
    p.add_argument("--freq-offset", type=float, default=None, metavar="HZ",
                   help="the carrier is this far from nominal (measured elsewhere): removed "
                        "before the receiver (IQ)")
    p.add_argument("--doppler-file", default=None, metavar="FILE",
                   help="a Doppler table from another tool, one 'UNIX-time frequency-Hz' pair "
                        "a line (gr-satellites' format): removed before the receiver (IQ)")


def _outside_freq_front(args, rec, link, medium, doppler_too: bool) -> list:
    """``--freq-offset`` / ``--doppler-file``: frequency knowledge from outside."""
    from orbitlink.flowgraphs import freqknow

    if args.doppler_file and doppler_too:
        raise freqknow.FreqKnowledgeError("--doppler-file and --tle/--doppler are two sources "
                                          "of Doppler; give one")
    if args.freq_offset is None and args.doppler_file is None:
        return []
    t0 = None
    if args.doppler_file:
        from orbitlink.modem import orbit

        t0 = orbit.parse_time(args.start) if args.start else (
            orbit.parse_time(rec.datetime) if rec.datetime else None)
    dur = rec.num_samples / rec.samp_rate if rec.num_samples else None
    return freqknow.front(link, rec.samp_rate, medium, freq_offset=args.freq_offset,
                          doppler_file=args.doppler_file, t0=t0, name=rec.name,
                          duration_s=dur)


def _decode_doppler_front(args, rec, link, medium) -> list:
    """The Doppler blocks ``decode`` puts before the receiver (``--tle``/``--doppler``)."""
    from orbitlink.flowgraphs import passes

    mode = args.doppler or ("predicted" if args.tle else "off")
    if mode == "off":
        return []
    if medium != "iq":
        raise passes.PassError(f"{rec.name}: Doppler correction works on IQ recordings, not "
                               "on a receiver's audio")
    if mode == "blind":
        return passes.doppler_front(link, rec.samp_rate, "blind")
    if not (args.tle and args.station and args.freq):
        raise passes.PassError("--doppler predicted needs --tle FILE, --station LAT,LON,ALT and "
                               "--freq HZ")
    import numpy as np

    from orbitlink.modem import orbit

    sat = orbit.load_satellite(args.tle, args.sat)
    station = orbit.Station.parse(args.station)
    if args.start is not None:
        t0 = orbit.parse_time(args.start)
    elif rec.datetime:
        t0 = orbit.parse_time(rec.datetime)
    else:
        raise passes.PassError(f"{rec.name}: the recording has no core:datetime, and predicted "
                               "Doppler needs the time of its first sample; give --start "
                               "ISO_TIME or use --doppler blind")
    msg = orbit.epoch_check(sat, np.array([t0]))
    if msg:
        print(f"orbitlink: warning: {msg}", file=sys.stderr)
    pred = orbit.DopplerPredictor(sat, station, args.freq)
    return passes.doppler_front(link, rec.samp_rate, "predicted", predictor=pred, t0=t0,
                                time_offset_s=args.time_offset)


def _run_frames_graph(graph, args, what: str, link_name: str, live: bool = False) -> int:
    """Run a receive graph whose frames go to the frames sinks on stdout: progress on a
    terminal, a summary line on stderr, and a source error reported after the frames decoded
    before it."""
    from orbitlink import OrbitlinkError
    from orbitlink.flowgraphs.runner import Progress, run_graph
    from orbitlink.flowgraphs.sinks import FramesSink

    state = {"progress": None}

    def opened(info):
        for w in info.extra.get("warnings", []):
            print(f"orbitlink: warning: {w}", file=sys.stderr)
        state["progress"] = Progress(info.num_samples or 0, "decoding",
                                     enabled=bool(info.num_samples))

    def update(n):
        if state["progress"] is not None:
            state["progress"].update(n)

    def clear():
        if state["progress"] is not None and state["progress"].enabled:
            state["progress"].close()

    for s in graph.sinks("frames_sink"):
        s.before_line = clear
    error = None
    try:
        if live:
            from orbitlink.flowgraphs.live import run_live

            res = run_live(graph, args.chunk, queue_s=getattr(args, "queue", 2.0),
                           on_open=opened, on_chunk=update)
        else:
            res = run_graph(graph, args.chunk, on_chunk=update, on_open=opened)
    except OrbitlinkError as e:
        if getattr(e, "result", None) is None:
            raise
        error, res = e, e.result
    finally:
        clear()
    info = res.info
    if info.out_type == "pdu":  # a transmitter's graph: what went where
        sent = ", ".join(f"{n}: {c.get('samples', 0)} samples" for n, c in res.counters.items()
                         if n != graph.source.name)
        print(f"orbitlink {what}: {res.items} payloads -> {sent}, {link_name}", file=sys.stderr)
        return _err(str(error)) if error is not None else 0
    frames = sum(s.counters.get("frames", 0) for s in graph.sinks("frames_sink"))
    ok = sum(s.counters.get("frames_ok", 0) for s in graph.sinks("frames_sink"))
    kind = "audio" if info.out_type == "f32" else "IQ"
    unchecked = sum(s.counters.get("frames_unchecked", 0) for s in graph.sinks("frames_sink")
                    if not s.params.all_frames)
    if unchecked:
        print(f"orbitlink {what}: {unchecked} frames that no check vouches for are not shown "
              f"(--all-frames shows them)", file=sys.stderr)
    print(f"orbitlink {what}: {frames} frames ({ok} with a good CRC) from "
          f"{res.items / info.samp_rate:.3f} s of {kind} in {res.seconds:.2f} s, "
          f"{link_name}", file=sys.stderr)
    if live:
        lv = res.counters["live"]
        src = res.counters.get(graph.source.name, {})
        print(f"orbitlink {what}: live, queue {lv['queue_capacity_samples']} samples (max "
              f"{lv['queue_max_samples']}), {lv['dropped_samples']} samples dropped from the "
              f"queue in {lv['dropped_chunks']} chunks; source {json.dumps(src)}; "
              f"stopped by {lv['stopped_by']}", file=sys.stderr)
    if error is not None:
        return _err(str(error))
    return 0


#: what ``decode --format`` may name besides a raw file's sample format: the frames' output
FRAME_FORMATS = ("text", "json", "tnc2")


def _split_format(value):
    """``decode --format``: ``tnc2`` (or ``text``/``json``) is the frames' output format, any
    other value a raw file's sample format; both as ``cf32_le,tnc2``. Returns
    ``(sample_format or None, frames_format or None)``."""
    if not value:
        return None, None
    parts = [x.strip() for x in str(value).split(",") if x.strip()]
    out = [x for x in parts if x.lower() in FRAME_FORMATS]
    rest = [x for x in parts if x.lower() not in FRAME_FORMATS]
    if len(out) > 1 or len(rest) > 1:
        raise UsageError(f"--format {value}: give at most one sample format and one of "
                         f"{', '.join(FRAME_FORMATS)}")
    return (rest[0] if rest else None), (out[0].lower() if out else None)


def _frame_sinks(args) -> list:
    from orbitlink.flowgraphs.sinks import FramesSink, KissSink

    fmt = "json" if args.json else (getattr(args, "frames_format", None) or "text")
    sinks = [FramesSink(format=fmt, all_frames=bool(getattr(args, "all_frames", False)))]
    if getattr(args, "kiss", None):
        sinks.append(KissSink(path=args.kiss))
    return sinks


def cmd_decode(args) -> int:
    from orbitlink.drivers.files import RecordingSource, open_input
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.links import load_link

    args.format, args.frames_format = _split_format(args.format)
    rec = open_input(args.file, fmt=args.format, samp_rate=args.rate, strict=args.strict)
    name = args.link or rec.meta.get("global", {}).get("orbitlink:link")
    if not name:
        return _err(f"{rec.name}: the recording does not say which link it carries; "
                    f"give --link (see 'orbitlink links')")
    link = load_link(name, _with_rate(_overrides(args.set), rec.samp_rate))
    medium = getattr(rec, "kind", "iq")
    front = _decode_doppler_front(args, rec, link, medium)
    front = _outside_freq_front(args, rec, link, medium, bool(front)) + front
    g = link_graph(link, "rx", rec.samp_rate, medium, front=front,
                   source=RecordingSource(medium=medium, rec=rec), sinks=_frame_sinks(args))
    plots = _attach_plots(g, link, rec, medium, front, args.plot) if args.plot else []
    rc = _run_frames_graph(g, args, "decode", f"link {link.name}")
    for path in plots:
        if os.path.exists(path):
            print(f"orbitlink decode: plot {path}", file=sys.stderr)
    return rc


def _attach_plots(g, link, rec, medium, front, out_dir) -> list:
    """``decode --plot DIR``: the recording's spectrum and waterfall, the demodulator's
    constellation (PSK) or the eye diagram of the frames (FSK family), and the frames on the
    time axis, as PNGs in ``DIR`` named after the recording."""
    from orbitlink.flowgraphs.sinks import ConstellationSink, FramesPlotSink, SpectrumSink, \
        WaterfallSink, _pyplot

    _pyplot()  # matplotlib missing: one sentence before any work
    stem = os.path.basename(rec.name)
    for ext in (".sigmf-meta", ".sigmf-data", ".wav", ".cf32", ".cu8"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    paths = {k: os.path.join(out_dir, f"{stem}-{k}.png")
             for k in ("spectrum", "waterfall", "symbols", "frames")}
    from orbitlink.flowgraphs.graph import demod_node

    chain = [n for n in g.order() if g.nodes[n].kind == "block"]
    demod = demod_node(g, link, rec.samp_rate, medium, len(front))
    title = f"{stem} ({link.name})"
    g.connect(g.source.name, g.add("plot_spectrum", SpectrumSink(path=paths["spectrum"],
                                                                  title=title), "sink"))
    g.connect(g.source.name, g.add("plot_waterfall", WaterfallSink(path=paths["waterfall"],
                                                                    title=title), "sink"))
    g.connect(demod, g.add("plot_symbols", ConstellationSink(path=paths["symbols"],
                                                              title=title,
                                                              demod=g.nodes[demod].obj),
                           "sink"))
    g.connect(chain[-1], g.add("plot_frames", FramesPlotSink(path=paths["frames"],
                                                              title=title), "sink"))
    g.validate()
    return list(paths.values())


# ------------------------------------------------------------------------------------------------
# graphs: validate, run


def cmd_validate(args) -> int:
    from orbitlink.flowgraphs.graph import is_graph_file, load_graph
    from orbitlink.flowgraphs.links import load_link

    for path in args.files:
        if is_graph_file(path):
            g = load_graph(path)
            print(f"{path}: graph '{g.name}' is valid: {len(g.nodes)} nodes, "
                  f"{len(g.edges)} connections")
        else:
            link = load_link(path)
            print(f"{path}: link '{link.name}' is valid ({link.modulation}, "
                  f"{link.framing_type} framing)")
    return 0


def cmd_run(args) -> int:
    from orbitlink import OrbitlinkError
    from orbitlink.flowgraphs.graph import parse_graph, set_param
    from orbitlink.yamlio import loads, read_text

    doc = loads(read_text(args.graph), args.graph)
    if not (isinstance(doc, dict) and doc.get("kind") == "graph"):
        raise OrbitlinkError(f"{args.graph}: not a graph file (kind: graph); expand a link "
                             "into one first: orbitlink expand --link L -o graph.yaml")
    for k, v in _overrides(args.set).items():
        set_param(doc, k, v, args.graph)
    blocks = doc.get("blocks") if isinstance(doc.get("blocks"), dict) else {}
    sources = [n for n, b in blocks.items() if isinstance(b, dict)
               and b.get("type") in ("recording_source", "payload_source")]
    given = {"path": args.input, "format": args.format, "rate": args.rate,
             "strict": args.strict or None}
    for name in sources:
        params = dict(blocks[name].get("params") or {})
        params.update({k: v for k, v in given.items() if v is not None
                       and (k == "path" or blocks[name]["type"] == "recording_source")})
        blocks[name]["params"] = params
    for b in blocks.values():
        if isinstance(b, dict) and b.get("type") == "frames_sink":
            if args.json:
                b["params"] = dict(b.get("params") or {}, format="json")
            if args.all_frames:
                b["params"] = dict(b.get("params") or {}, all_frames=True)
    g = parse_graph(doc, args.graph)
    for s in g.sinks("radio_sink"):  # only the command line allows a transmission
        s.transmit_allowed = bool(args.transmit)
    if g.source.type == "recording_source" and g.samp_rate:
        _check_rate(g)
    from orbitlink.flowgraphs.live import is_live_source

    live = args.mode == "live" or (args.mode is None and is_live_source(g.source.obj))
    return _run_frames_graph(g, args, "run", f"graph {g.name or args.graph}", live=live)


def _check_rate(g):
    """A graph expanded for one sample rate cannot run a recording at another."""
    from orbitlink import OrbitlinkError

    src = g.source.obj
    info = src.open()
    src.open = lambda: info  # opened once
    if abs(info.samp_rate - float(g.samp_rate)) > 1e-6 * float(g.samp_rate):
        raise OrbitlinkError(f"{info.name}: the recording is at {info.samp_rate:g} Hz but the "
                             f"graph was made for {float(g.samp_rate):g} Hz; expand it again "
                             f"with --rate {info.samp_rate:g}")


# ------------------------------------------------------------------------------------------------
# loopback


def _hz(text: str) -> float:
    """argparse type for a frequency: :func:`orbitlink.flowgraphs.cli_orbit.parse_freq`."""
    from orbitlink.flowgraphs.cli_orbit import parse_freq

    try:
        return parse_freq(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_loopback(args) -> int:
    from orbitlink.flowgraphs.links import load_link
    from orbitlink.flowgraphs.loopback import loopback

    link = load_link(args.link, _overrides(args.set))
    plan = None
    if args.tle:
        from orbitlink.flowgraphs import passes

        if args.medium == "audio":
            return _err("a pass (--tle) is simulated on IQ only, not with --medium audio")
        if not args.station or args.freq is None:
            return _err("--tle needs --station LAT,LON,ALT and --freq HZ")
        plan = passes.plan_pass(args.tle, args.station, args.freq, start=args.start,
                                sat_name=args.sat, min_el_deg=args.min_el)
    elif args.doppler not in (None, "off") or args.station or args.freq is not None:
        return _err("--doppler, --station and --freq go with --tle FILE (a pass to simulate)")
    # a pass is simulated on IQ (the Doppler lives there); otherwise the link's medium
    medium = args.medium or ("iq" if plan is not None else link.medium)
    r = loopback(link, args.frames, ebn0=args.ebn0, esn0=args.esn0, cfo=args.cfo, sro=args.sro,
                 seed=args.seed, medium=medium, out_dir=args.out, plot=args.plot,
                 center_freq=args.center_freq, chunk=args.chunk, plan=plan,
                 doppler=args.doppler, timestamp_error=args.timestamp_error)
    if args.json:
        print(json.dumps(r.to_dict()))
        return 0
    print(f"link {r.link}: {r.frames_sent} frames sent, {r.frames_found} found, "
          f"{r.frames_ok} with a good CRC")
    ber = f"{r.ber:.3g}" if r.ber is not None else "n/a"
    print(f"BER {ber} ({r.bit_errors} errors in {r.bits} payload bits), FER {r.fer:.3g}")
    if r.snr_db is not None:
        print(f"estimated Es/N0 {r.snr_db:.2f} dB (channel {r.esn0_db:.2f} dB), "
              f"frequency offset {r.freq_offset_hz:+.1f} Hz (channel {r.cfo_hz:+.1f} Hz)")
    if r.recording:
        print(f"recording: {r.recording}")
    for pth in r.plots:
        print(f"plot: {pth}")
    return 0


def _count(text: str) -> int:
    """argparse type for a count: a whole number, also written as 1e6."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(v) and v.is_integer()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(v)


# ------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="orbitlink", description="Software modem and packet link "
                                 "for satellite ground stations.")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("links", help="list the link definitions")
    p.add_argument("--json", action="store_true", help="one JSON object per link")
    p.set_defaults(func=cmd_links)

    def link_opts(p, required):
        p.add_argument("--link", "-l", required=required, default=None if required else "qpsk",
                       help="link name (see 'orbitlink links') or a link YAML file")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a link parameter, e.g. --set baud=4800 "
                            "or --set receiver.carrier_bw=0.02 (repeatable)")

    p = sub.add_parser("expand", help="write the graph (blocks, parameters, connections) a "
                       "link stands for")
    link_opts(p, True)
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="write the graph file here (default: standard output)")
    p.add_argument("--tx", action="store_true",
                   help="the transmitter's graph (default: the receiver's)")
    p.add_argument("--rate", type=_hz, default=None, metavar="HZ",
                   help="sample rate of the graph (default: the link's)")
    p.add_argument("--json", action="store_true", help="JSON instead of YAML")
    p.add_argument("--medium", choices=("iq", "audio"), default=None,
                   help="the graph for complex IQ or for a receiver's audio (default: the "
                        "link's medium)")
    p.set_defaults(func=cmd_expand)

    p = sub.add_parser("validate", help="check link or graph files")
    p.add_argument("files", nargs="+", metavar="FILE", help="link or graph YAML files")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="run a graph file (file mode)")
    p.add_argument("graph", metavar="GRAPH", help="graph YAML file (orbitlink expand -o)")
    p.add_argument("--input", "-i", default=None, metavar="REC",
                   help="the source's file: a recording ('-': standard input) or payloads")
    p.add_argument("--format", default=None, help="sample format of a raw input")
    p.add_argument("--rate", type=_hz, default=None, help="sample rate of a raw input (Hz)")
    p.add_argument("--set", action="append", metavar="NODE.PARAM=VALUE",
                   help="override a parameter of a node of the graph (repeatable)")
    p.add_argument("--json", action="store_true", help="frames as JSON objects")
    add_all_frames(p)
    p.add_argument("--strict", action="store_true",
                   help="a recording that does not match its metadata is an error")
    p.add_argument("--chunk", type=int, default=1 << 16, help="samples per chunk")
    p.add_argument("--transmit", action="store_true",
                   help="allow the graph's radio sinks to transmit (nothing transmits without "
                        "it; the hardware profile's limits apply)")
    p.add_argument("--mode", choices=("file", "live"), default=None,
                   help="file: deterministic, one thread; live: the source in a thread of its "
                        "own with a queue bounded in seconds (default: live for a radio "
                        "source, file otherwise)")
    p.add_argument("--queue", type=float, default=2.0, metavar="S",
                   help="live mode: seconds of signal the queue holds (default 2)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("blocks", help="list the registered blocks and their parameters")
    p.add_argument("name", nargs="?", help="show one block's parameters")
    p.add_argument("--json", action="store_true", help="one JSON object per block")
    p.set_defaults(func=cmd_blocks)

    p = sub.add_parser("encode", help="modulate payloads into a SigMF recording or a WAV file")
    link_opts(p, True)
    p.add_argument("--in", dest="inp", required=True, metavar="PAYLOADS",
                   help="text file, one payload per line in hex, or a .kiss file")
    p.add_argument("--out", required=True, metavar="FILE.sigmf-meta|FILE.wav")
    p.add_argument("--rate", type=_hz, default=None, help="sample rate (default: the link's)")
    p.add_argument("--center-freq", type=_hz, default=None, metavar="HZ",
                   help="centre frequency for the metadata (e.g. 437.5M, 2.2G)")
    p.add_argument("--datetime", default=None, metavar="ISO",
                   help="time of the first sample (core:datetime)")
    p.add_argument("--seed", type=int, default=0, help="seed of the idle symbols")
    p.add_argument("--medium", choices=("iq", "audio"), default=None,
                   help="write complex IQ or a receiver's audio (default: IQ for SigMF, the "
                        "link's medium for a .wav)")
    p.add_argument("--tle", default=None, metavar="FILE",
                   help="pre-compensate the uplink Doppler of this satellite (TLE or OMM); "
                        "needs --station, --freq and --datetime (the transmit time)")
    p.add_argument("--sat", default=None, metavar="NAME", help="satellite in the TLE file")
    p.add_argument("--station", default=None, metavar="LAT,LON,ALT")
    p.add_argument("--freq", type=_hz, default=None, metavar="HZ", help="uplink carrier")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("decode", help="decode the frames in a recording")
    p.add_argument("file", help="SigMF recording (.sigmf-meta/.sigmf-data), WAV (mono: a "
                   "receiver's audio; stereo: IQ), raw file, named pipe, or '-' for standard "
                   "input (raw: give --format and --rate)")
    p.add_argument("--link", "-l", default=None,
                   help="link name or YAML file (default: the one named in the SigMF metadata)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a link parameter")
    p.add_argument("--json", action="store_true", help="one JSON object per frame on stdout")
    p.add_argument("--format", default=None, help="sample format of a raw file: cf32_le, "
                   "ci16_le, ci8, cu8; or 'tnc2': AX.25 frames as TNC2 monitor lines (both: "
                   "cf32_le,tnc2)")
    add_all_frames(p)
    p.add_argument("--rate", type=_hz, default=None, help="sample rate of a raw file (Hz)")
    p.add_argument("--chunk", type=int, default=1 << 16, help="samples per chunk")
    p.add_argument("--tle", default=None, metavar="FILE",
                   help="correct the predicted Doppler of this satellite (TLE or OMM file)")
    p.add_argument("--sat", default=None, metavar="NAME", help="satellite in the TLE file")
    p.add_argument("--station", default=None, metavar="LAT,LON,ALT")
    p.add_argument("--freq", type=_hz, default=None, metavar="HZ", help="carrier frequency")
    p.add_argument("--doppler", choices=("predicted", "blind", "off"), default=None,
                   help="Doppler mode (default: predicted with --tle, else off)")
    p.add_argument("--start", default=None, metavar="ISO_TIME",
                   help="time of the first sample (default: the recording's core:datetime)")
    p.add_argument("--time-offset", type=float, default=0.0, metavar="S",
                   help="add this to the recording's timestamps (a known clock error)")
    add_freq_knowledge(p)
    p.add_argument("--plot", default=None, metavar="DIR",
                   help="also write PNGs: spectrum, waterfall, constellation (PSK) or eye "
                        "diagram (FSK), and the frames on the time axis (needs matplotlib)")
    p.add_argument("--kiss", default=None, metavar="FILE.kiss",
                   help="also write the frames that pass their check to a KISS file")
    p.add_argument("--strict", action="store_true",
                   help="a recording that does not match its metadata (SigMF core:sha512, "
                        "annotations past the end) is an error, not a warning")
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("loopback", help="transmitter -> channel -> SigMF file -> receiver")
    link_opts(p, False)
    p.add_argument("--frames", type=_count, default=None,
                   help="frames to send (default 50; with --tle as many as the pass holds)")
    p.add_argument("--tle", default=None, metavar="FILE",
                   help="simulate a pass: TLE (2- or 3-line) or OMM JSON file")
    p.add_argument("--sat", default=None, metavar="NAME", help="satellite in the TLE file")
    p.add_argument("--station", default=None, metavar="LAT,LON,ALT",
                   help="ground station: degrees, degrees, metres")
    p.add_argument("--freq", type=_hz, default=None, metavar="HZ",
                   help="carrier frequency of the pass (e.g. 2.2e9 or 2.2G)")
    p.add_argument("--start", default=None, metavar="ISO_TIME",
                   help="simulate the first pass after this time (default: the TLE epoch)")
    p.add_argument("--min-el", type=float, default=10.0, metavar="DEG",
                   help="the pass runs from this elevation up and back down (default 10)")
    p.add_argument("--doppler", choices=("predicted", "blind", "off"), default=None,
                   help="receiver Doppler mode with --tle (default predicted)")
    p.add_argument("--timestamp-error", type=float, default=0.0, metavar="S",
                   help="write the recording's core:datetime off by this many seconds")
    p.add_argument("--ebn0", type=float, default=10.0, metavar="DB",
                   help="Eb/N0 per information bit, the code rate included (default 10 dB)")
    p.add_argument("--esn0", type=float, default=None, metavar="DB",
                   help="Es/N0 instead of --ebn0")
    p.add_argument("--cfo", type=float, default=0.0, metavar="HZ", help="carrier offset")
    p.add_argument("--sro", type=float, default=0.0, metavar="PPM", help="sample-rate offset")
    p.add_argument("--center-freq", type=_hz, default=None, metavar="HZ",
                   help="centre frequency for the metadata (e.g. 437.5M, 2.2G)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=None, metavar="DIR",
                   help="keep the recording (and plots) in DIR")
    p.add_argument("--plot", action="store_true",
                   help="write constellation and spectrum PNGs (needs matplotlib)")
    p.add_argument("--medium", choices=("iq", "audio"), default=None,
                   help="the recording between TX and RX: complex IQ (SigMF) or a receiver's "
                        "audio (WAV: SSB audio for PSK, FM audio for FSK/AFSK); default: the "
                        "link's medium")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--chunk", type=int, default=1 << 16, help="samples per chunk")
    p.set_defaults(func=cmd_loopback)

    from orbitlink.flowgraphs.cli_orbit import add_parsers

    add_parsers(sub)  # passes, doppler
    from orbitlink.flowgraphs.cli_radio import add_parsers as add_radio_parsers

    add_radio_parsers(sub)  # profiles, devices
    from orbitlink.flowgraphs.cli_kiss import add_parsers as add_kiss_parsers

    add_kiss_parsers(sub)  # kiss-server
    from orbitlink.flowgraphs.cli_keys import add_parsers as add_keys_parsers

    add_keys_parsers(sub)  # keys
    from orbitlink.flowgraphs.cli_rx import add_parsers as add_rx_parsers

    add_rx_parsers(sub)  # rx
    from orbitlink.flowgraphs.cli_tx import add_parsers as add_tx_parsers

    add_tx_parsers(sub)  # tx
    from orbitlink.flowgraphs.cli_batch import add_parsers as add_batch_parsers

    add_batch_parsers(sub)  # batch
    from orbitlink.flowgraphs.view import add_parsers as add_view_parsers

    add_view_parsers(sub)  # view
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if getattr(args, "chunk", 1) is not None and getattr(args, "chunk", 1) < 1:
        return _err("--chunk must be at least 1")
    import warnings

    try:
        with warnings.catch_warnings():
            # stale orbital elements are reported once, as an 'orbitlink: warning:' line
            warnings.filterwarnings("ignore", message=r"the elements of .* are used")
            return args.func(args)
    except BrokenPipeError:  # stdout closed early (e.g. '| head'); before OSError, its base
        _quiet_stdout()
        return 0
    except OrbitlinkError as e:
        return _err(str(e))
    except OSError as e:
        return _err(f"{getattr(e, 'filename', '') or ''}: {e.strerror or e}".lstrip(": "))
    except KeyboardInterrupt:
        print("orbitlink: interrupted", file=sys.stderr)
        return 130


def standalone_main(add_parsers, description: str, argv=None) -> int:
    """Run the subcommands that ``add_parsers`` adds, on their own (``cli_orbit.main``,
    ``cli_radio.main``): errors a user can cause exit 2 with one sentence; anything else is a
    bug and shows its traceback."""
    ap = argparse.ArgumentParser(prog="orbitlink", description=description)
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND")
    sub.required = True
    add_parsers(sub)
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except OrbitlinkError as e:
        return _err(str(e))


def _quiet_stdout():
    """Point stdout at /dev/null so that the flush at exit does not fail again."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (e.g. captured)
        pass


if __name__ == "__main__":
    raise SystemExit(main())
