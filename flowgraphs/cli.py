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


def _precompensate(args, burst, rate: float, medium: str) -> dict:
    """Uplink pre-compensation of an encoded burst (``encode --tle``): the burst's sample 0
    leaves the antenna at ``--datetime``; each sample gets the offset that makes the satellite
    receive the nominal carrier at that moment. Returns what is recorded in the metadata."""
    import numpy as np

    from orbitlink.flowgraphs.links import load_link
    from orbitlink.flowgraphs.passes import PassError
    from orbitlink.modem import orbit
    from orbitlink.modem.doppler import precompensate_burst

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
    t_end = t0 + len(burst.iq) / rate
    worst = float(np.max(np.abs(pred(np.linspace(t0, t_end, 64)))))
    link = load_link(args.link, _overrides(args.set))
    from orbitlink.flowgraphs.passes import samp_rate_for

    need = samp_rate_for(link, worst)
    if need > rate:
        raise PassError(f"the uplink pre-compensation reaches {worst / 1e3:.1f} kHz, more than "
                        f"a {rate:g} Hz sample rate holds with the signal; give --rate {need:g} "
                        "or more")
    burst.iq = precompensate_burst(burst.iq, rate, t0, pred)
    off = pred(np.array([t0, t_end]))
    print(f"orbitlink encode: uplink pre-compensation for {sat.name} at {args.freq:g} Hz: "
          f"{off[0]:+.1f} Hz at the start, {off[1]:+.1f} Hz at the end", file=sys.stderr)
    return {"satellite": sat.name, "station": args.station, "freq_hz": args.freq,
            "offset_start_hz": round(float(off[0]), 3), "offset_end_hz": round(float(off[1]), 3)}


def cmd_encode(args) -> int:
    from orbitlink import OrbitlinkError
    from orbitlink.flowgraphs.links import frames_from_payload_file, load_link, transmit

    link = load_link(args.link, _overrides(args.set))
    payloads = frames_from_payload_file(args.inp, link)
    wav = args.out.lower().endswith(".wav")
    medium = _medium(args, link, args.out)
    if medium == "audio" and not wav:
        raise OrbitlinkError(f"{args.out}: audio is written to a .wav file; give an --out "
                             "ending in .wav, or --medium iq for SigMF")
    burst = transmit(link, payloads, seed=args.seed, samp_rate=args.rate, medium=medium)
    rate = float(args.rate or link.samp_rate)
    precomp = None
    if args.tle:
        precomp = _precompensate(args, burst, rate, medium)
    if wav:
        from orbitlink.drivers.wav import WavWriter

        # 16-bit PCM: what recordings are, and what every tool reads (direwolf's atest
        # wants the data chunk right after fmt, no 'fact' chunk as float WAVs carry)
        with WavWriter(args.out, rate, channels=1 if medium == "audio" else 2,
                       sample_format="int16") as w:
            w.write(burst.iq)
        dest = args.out
    else:
        from orbitlink.drivers.sigmf import SigmfWriter

        with SigmfWriter(args.out, rate, center_freq=args.center_freq, datetime=args.datetime,
                         description=f"orbitlink {link.name}: {len(payloads)} frames") as w:
            w.global_extra["orbitlink:link"] = link.name
            if precomp is not None:
                w.global_extra["orbitlink:uplink_precompensation"] = precomp
            w.write(burst.iq)
            fixed = link.payload_len is not None
            for i, s in enumerate(burst.frame_starts):
                w.annotate(int(round(s)), int(round(burst.frame_len)), f"frame {i}",
                           comment=payloads[i].hex() if fixed else None, frame=i)
        dest = w.meta_path
    print(f"orbitlink encode: {len(payloads)} frames, {len(burst.iq)} {medium} samples "
          f"({len(burst.iq) / rate:.3f} s at {rate:g} Hz) -> {dest}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------------------
# decode


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


def _run_frames_graph(graph, args, what: str, link_name: str) -> int:
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
        res = run_graph(graph, args.chunk, on_chunk=update, on_open=opened)
    except OrbitlinkError as e:
        if getattr(e, "result", None) is None:
            raise
        error, res = e, e.result
    finally:
        clear()
    frames = sum(s.counters.get("frames", 0) for s in graph.sinks("frames_sink"))
    ok = sum(s.counters.get("frames_ok", 0) for s in graph.sinks("frames_sink"))
    info = res.info
    kind = "audio" if info.out_type == "f32" else "IQ"
    print(f"orbitlink {what}: {frames} frames ({ok} with a good CRC) from "
          f"{res.items / info.samp_rate:.3f} s of {kind} in {res.seconds:.2f} s, "
          f"{link_name}", file=sys.stderr)
    if error is not None:
        return _err(str(error))
    return 0


def _frame_sinks(args) -> list:
    from orbitlink.flowgraphs.sinks import FramesSink, KissSink

    sinks = [FramesSink(format="json" if args.json else "text")]
    if getattr(args, "kiss", None):
        sinks.append(KissSink(path=args.kiss))
    return sinks


def cmd_decode(args) -> int:
    from orbitlink.drivers.files import RecordingSource, open_input
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.links import load_link

    rec = open_input(args.file, fmt=args.format, samp_rate=args.rate, strict=args.strict)
    name = args.link or rec.meta.get("global", {}).get("orbitlink:link")
    if not name:
        return _err(f"{rec.name}: the recording does not say which link it carries; "
                    f"give --link (see 'orbitlink links')")
    link = load_link(name, _overrides(args.set))
    medium = getattr(rec, "kind", "iq")
    front = _decode_doppler_front(args, rec, link, medium)
    g = link_graph(link, "rx", rec.samp_rate, medium, front=front,
                   source=RecordingSource(medium=medium, rec=rec), sinks=_frame_sinks(args))
    return _run_frames_graph(g, args, "decode", f"link {link.name}")


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
    from orbitlink.flowgraphs.yamlio import loads, read_text

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
    if args.json:
        for b in blocks.values():
            if isinstance(b, dict) and b.get("type") == "frames_sink":
                b["params"] = dict(b.get("params") or {}, format="json")
    g = parse_graph(doc, args.graph)
    if g.source.type == "recording_source" and g.samp_rate:
        _check_rate(g)
    return _run_frames_graph(g, args, "run", f"graph {g.name or args.graph}")


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
    import tempfile

    import numpy as np

    from orbitlink.drivers.sigmf import SigmfWriter, open_recording
    from orbitlink.flowgraphs.links import load_link, random_payloads, transmit
    from orbitlink.flowgraphs.runner import run_chain
    from orbitlink.modem.channel import simulate

    link = load_link(args.link, _overrides(args.set))
    if args.frames is not None and args.frames < 1:
        return _err("--frames must be at least 1")
    # a pass is simulated on IQ (the Doppler lives there); otherwise the link's medium
    medium = "iq" if args.tle and not args.medium else _medium(args, link)
    rng = np.random.default_rng(args.seed)
    plan = None
    if args.tle:
        from orbitlink.flowgraphs import passes

        if medium != "iq":
            return _err("a pass (--tle) is simulated on IQ only, not with --medium audio")
        if not args.station or args.freq is None:
            return _err("--tle needs --station LAT,LON,ALT and --freq HZ")
        plan = passes.plan_pass(args.tle, args.station, args.freq, start=args.start,
                                sat_name=args.sat, min_el_deg=args.min_el)
        rate_needed = passes.samp_rate_for(link, plan.max_doppler_hz)
        if rate_needed != link.samp_rate:
            print(f"orbitlink: the Doppler reaches {plan.max_doppler_hz / 1e3:.1f} kHz: "
                  f"sample rate raised to {rate_needed:g} Hz", file=sys.stderr)
            link = load_link(args.link, {**_overrides(args.set), "samp_rate": repr(rate_needed)})
        nframes = args.frames or passes.frames_for(link, plan.duration_s, rng)
    elif args.doppler not in (None, "off") or args.station or args.freq is not None:
        return _err("--doppler, --station and --freq go with --tle FILE (a pass to simulate)")
    else:
        nframes = args.frames or 50
    payloads = random_payloads(link, rng, nframes)
    # the channel acts on complex baseband; the audio medium is made from its output
    burst = transmit(link, payloads, seed=args.seed + 1)
    bps = link.bits_per_symbol
    rate = link.code_rate
    esn0 = args.esn0 if args.esn0 is not None else args.ebn0 + 10 * math.log10(bps * rate)
    ebn0 = esn0 - 10 * math.log10(bps * rate)
    timing = float(rng.uniform(0, 1))
    chan = dict(samp_rate=link.samp_rate, sps=link.sps, bits_per_symbol=bps, esn0_db=esn0,
                cfo_hz=args.cfo, sro_ppm=args.sro, timing_offset=timing, seed=args.seed + 2)
    if plan is not None:
        from orbitlink.modem.channel import Channel

        ch = Channel(doppler=plan.predictor, doppler_t0=plan.aos, **chan)
        rx = np.concatenate([ch.process(burst.iq[i:i + (1 << 20)])
                             for i in range(0, len(burst.iq), 1 << 20)] + [ch.flush()])
    else:
        rx = simulate(burst.iq, **chan)
    # where the frames are in the received samples (output k <- input k (1 + sro) + timing)
    scale = 1 + args.sro * 1e-6
    starts = [(s - timing) / scale for s in burst.frame_starts]

    tmp = None
    out_dir = args.out
    if out_dir is None:
        if args.plot:
            out_dir = "loopback-out"
        else:
            tmp = tempfile.TemporaryDirectory(prefix="orbitlink-")
            out_dir = tmp.name
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, f"loopback-{link.name}")
    if medium == "audio":
        from orbitlink.drivers.wav import WavWriter
        from orbitlink.flowgraphs.links import to_audio

        rx = to_audio(link, rx)
        base += ".wav"
        with WavWriter(base, link.samp_rate, channels=1) as w:
            w.write(rx)
    else:
        rec_time = time.time() if plan is None else plan.aos + args.timestamp_error
        with SigmfWriter(base, link.samp_rate, center_freq=args.center_freq,
                         datetime=rec_time,
                         description=f"orbitlink loopback {link.name}: Es/N0 {esn0:.2f} dB, "
                                     f"cfo {args.cfo} Hz, sro {args.sro} ppm") as w:
            w.global_extra["orbitlink:link"] = link.name
            w.write(rx)
            for i, s in enumerate(starts):
                w.annotate(max(0, int(round(s))), int(round(burst.frame_len / scale)),
                           f"frame {i}", frame=i)

    t0 = time.perf_counter()
    rec = open_recording(base)
    syms = []
    front = []
    if plan is not None:
        from orbitlink.flowgraphs import passes
        from orbitlink.modem.orbit import parse_time

        front = passes.doppler_front(link, rec.samp_rate, args.doppler or "predicted",
                                     predictor=plan.predictor,
                                     t0=parse_time(rec.datetime) if rec.datetime else None,
                                     max_doppler_hz=1.2 * plan.max_doppler_hz + 1000,
                                     max_rate_hz_s=1.5 * plan.max_rate_hz_s + 10)
    chain = front + link.rx_chain(rec.samp_rate, emit_failed=True, medium=medium)
    demod_at = len(front) + len(link.rx_front(rec.samp_rate, medium)) - 1

    applied = [[] for _ in front]  # frequency each Doppler block removed, every 1024 samples

    def tap(i, y):
        if i == demod_at:
            syms.append(y["z"] if y.dtype.names else y.astype(np.complex64))
        elif i < len(front) and args.plot:
            f = getattr(chain[i], "last_freq_hz", None)
            if f is not None and len(f):
                applied[i].append(np.asarray(f)[::1024])

    found = []
    for frames in run_chain(chain, rec.chunks(args.chunk), taps=tap):
        found.extend(link.finish(p, rec.samp_rate) for p in frames)
    elapsed = time.perf_counter() - t0

    bit_errors = bits = nok = 0
    matched = set()
    if link.payload_len is not None:
        # frames that pass their check and carry a payload that was sent are matched by
        # content; the others by where they were found (so that a frame that fails its check
        # still counts its bit errors), frames that pass their check first, so that a false
        # sync near a real frame does not take its place
        sps = link.sps / scale
        tol = 8 * sps
        sent = {}
        for i, pl in enumerate(payloads):
            sent.setdefault(pl, []).append(i)
        rest = []
        for p in found:
            idx = sent.get(bytes(p.data)) if p.meta["crc_ok"] else None
            free = [i for i in (idx or []) if i not in matched]
            if free:
                matched.add(free[0])
                nok += 1
                bits += 8 * len(p.data)
            else:
                rest.append(p)
        for p in sorted(rest, key=lambda q: not q.meta["crc_ok"]):
            pos = p.meta["sample_index"] - sps / 2
            i = int(np.argmin([abs(pos - s) for s in starts]))
            if abs(pos - starts[i]) > tol or i in matched:
                continue
            matched.add(i)
            nok += bool(p.meta["crc_ok"])
            a = np.frombuffer(bytes(p.data), np.uint8)
            b = np.frombuffer(payloads[i], np.uint8)
            bit_errors += int(np.unpackbits(a ^ b).sum())
            bits += 8 * len(b)
    else:
        # variable payloads (packets, AX.25, TC frames): match by content, in order
        sent = {}
        for i, pl in enumerate(payloads):
            sent.setdefault(pl, []).append(i)
        for p in found:
            idx = sent.get(bytes(p.data))
            if idx and p.meta["crc_ok"]:
                matched.add(idx.pop(0))
                nok += 1
                bits += 8 * len(p.data)
    snr = [p.meta["snr_db"] for p in found if "snr_db" in p.meta]
    fo = [p.meta["freq_offset_hz"] for p in found if "freq_offset_hz" in p.meta]
    result = {
        "link": link.name, "frames_sent": len(payloads), "frames_found": len(matched),
        "frames_ok": nok, "bit_errors": bit_errors, "bits": bits,
        "ber": bit_errors / bits if bits else None,
        "fer": 1 - nok / len(payloads),
        "ebn0_db": round(ebn0, 3), "esn0_db": round(esn0, 3), "code_rate": round(rate, 6),
        "cfo_hz": args.cfo,
        "sro_ppm": args.sro, "snr_db": round(float(np.mean(snr)), 2) if snr else None,
        "freq_offset_hz": round(float(np.mean(fo)), 2) if fo else None,
        "false_frames": sum(bool(p.meta["crc_ok"]) for p in found) - nok,
        "decode_s": round(elapsed, 3),
        "medium": medium,
        "recording": None if tmp else (rec.meta_path or rec.data_path),
    }
    if plan is not None:
        from orbitlink.modem.orbit import iso

        result["pass"] = {"satellite": plan.sat.name, "aos": iso(plan.aos), "los": iso(plan.los),
                          "max_el_deg": round(plan.max_el_deg, 2), "freq_hz": plan.freq_hz,
                          "max_doppler_hz": round(plan.max_doppler_hz, 1),
                          "max_rate_hz_s": round(plan.max_rate_hz_s, 1),
                          "samp_rate": link.samp_rate}
        result["doppler"] = args.doppler or "predicted"
        result["timestamp_error_s"] = args.timestamp_error
    if args.plot:
        result["plots"] = _plots(out_dir, link, rx, np.concatenate(syms) if syms else
                                 np.zeros(0, np.complex64))
        if plan is not None:
            result["plots"] += _doppler_plot(out_dir, link, plan, applied, args.doppler)
    if tmp is not None:
        tmp.cleanup()
    if args.json:
        print(json.dumps(result))
    else:
        print(f"link {link.name}: {result['frames_sent']} frames sent, "
              f"{result['frames_found']} found, {result['frames_ok']} with a good CRC")
        ber = f"{result['ber']:.3g}" if result["ber"] is not None else "n/a"
        print(f"BER {ber} ({bit_errors} errors in {bits} payload bits), "
              f"FER {result['fer']:.3g}")
        if snr:
            print(f"estimated Es/N0 {result['snr_db']:.2f} dB (channel {esn0:.2f} dB), "
                  f"frequency offset {result['freq_offset_hz']:+.1f} Hz (channel {args.cfo:+.1f} Hz)")
        if result["recording"]:
            print(f"recording: {result['recording']}")
        for pth in result.get("plots", []):
            print(f"plot: {pth}")
    return 0


def _doppler_plot(out_dir, link, plan, applied, mode) -> list:
    """The pass's Doppler as the channel applied it and as the receiver removed it."""
    import numpy as np

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    t = np.arange(plan.aos, plan.los, 0.5)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    a1.plot(t - plan.aos, plan.predictor(t) / 1e3, "k", lw=2, label="channel (the pass)")
    parts = [np.concatenate(a) for a in applied if a]
    if parts:
        n = min(len(p) for p in parts)
        est = sum(p[:n] for p in parts)
        te = np.arange(n) * 1024 / link.samp_rate
        a1.plot(te, est / 1e3, "C1", lw=1, label=f"removed by the receiver ({mode or 'predicted'})")
        a2.plot(te, (plan.predictor(plan.aos + te) - est), "C1", lw=0.8)
    a1.set_ylabel("Doppler (kHz)")
    a1.legend()
    a1.grid(True, alpha=0.3)
    a1.set_title(f"{plan.sat.name} at {plan.freq_hz / 1e6:g} MHz, max elevation "
                 f"{plan.max_el_deg:.1f} deg")
    a2.set_ylabel("residual (Hz)")
    a2.set_xlabel("time since AOS (s)")
    a2.grid(True, alpha=0.3)
    p = os.path.join(out_dir, f"doppler-{link.name}.png")
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return [p]


def _plots(out_dir, link, rx, z):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
        from scipy.signal import welch
    except ImportError:
        print("orbitlink: --plot needs matplotlib (pip install 'orbitlink[plot]')",
              file=sys.stderr)
        return []
    paths = []
    zz = z[-4000:]
    if link.family == "fsk":  # soft symbols are real: their histogram shows the eye opening
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(zz.real, bins=120, color="C0")
        ax.set_xlabel("soft symbol (positive = 1)")
        ax.set_ylabel("count")
        ax.grid(True, alpha=0.3)
        ax.set_title(f"{link.name}: soft symbols (last {len(zz)})")
        p = os.path.join(out_dir, f"softsymbols-{link.name}.png")
    else:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.plot(zz.real, zz.imag, ".", ms=2, alpha=0.5)
        ax.set_aspect("equal")
        lim = 1.6 * max(1e-3, float(np.sqrt(np.mean(np.abs(zz) ** 2)))) if len(zz) else 1.5
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.grid(True, alpha=0.3)
        ax.set_title(f"{link.name}: synchronised symbols (last {len(zz)})")
        ax.set_xlabel("I")
        ax.set_ylabel("Q")
        p = os.path.join(out_dir, f"constellation-{link.name}.png")
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    paths.append(p)
    f, pxx = welch(rx, fs=link.samp_rate, nperseg=1024, return_onesided=False, detrend=False)
    order = np.argsort(f)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(f[order] / 1e3, 10 * np.log10(pxx[order] + 1e-20))
    ax.set_xlabel("frequency (kHz)")
    ax.set_ylabel("PSD (dB/Hz)")
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{link.name}: received spectrum")
    p = os.path.join(out_dir, f"spectrum-{link.name}.png")
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    paths.append(p)
    return paths


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
    p.add_argument("--strict", action="store_true",
                   help="a recording that does not match its metadata is an error")
    p.add_argument("--chunk", type=int, default=1 << 16, help="samples per chunk")
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
                   "ci16_le, ci8, cu8")
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
    p.add_argument("--kiss", default=None, metavar="FILE.kiss",
                   help="also write the frames that pass their check to a KISS file")
    p.add_argument("--strict", action="store_true",
                   help="a recording that does not match its metadata (SigMF core:sha512, "
                        "annotations past the end) is an error, not a warning")
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("loopback", help="transmitter -> channel -> SigMF file -> receiver")
    link_opts(p, False)
    p.add_argument("--frames", type=int, default=None,
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
