"""The loopback as a library: transmitter -> channel -> recording -> receiver, and the tally.

:func:`loopback` returns a :class:`LoopbackResult`; ``orbitlink loopback`` only parses its
arguments and prints the result. Everything streams: the payloads are drawn from the seed
as they are sent (and drawn again, in the same order, when the received frames are matched),
the signal goes through the channel into the recording chunk by chunk, and the receiver's
graph reads it back chunk by chunk. Memory does not grow with the number of frames (only the
positions of the frames are kept, 8 bytes each).

Matching received frames to sent ones: a frame that passes its check and carries a payload
that was sent is matched by content; for fixed-length payloads the other frames are matched
by position to the nearest frame sent (within 8 symbols), frames that pass their check first,
so that a frame that fails its check still counts its bit errors.
"""

from __future__ import annotations

import array
import bisect
import copy
import dataclasses
import math
import os
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink.drivers.interfaces import Sink
from orbitlink.flowgraphs.links import Link, TxStream, iter_random_payloads

__all__ = ["loopback", "LoopbackResult", "LoopbackError", "AudioFrontend", "to_audio",
           "MAX_FRAMES"]

#: at most this many frames in one loopback (about a day of a 9k6 link)
MAX_FRAMES = 10_000_000
_CHUNK_FRAMES = 64


class LoopbackError(OrbitlinkError, ValueError):
    """A loopback cannot be run as asked (one sentence)."""


@dataclass
class LoopbackResult:
    """The tally of a loopback (``orbitlink loopback --json`` prints :meth:`to_dict`)."""

    link: str
    frames_sent: int
    frames_found: int  # sent frames for which a frame was received (sync found)
    frames_ok: int  # received with a good check (CRC, FCS or RS)
    bit_errors: int  # over the payloads of the frames found
    bits: int
    ebn0_db: float
    esn0_db: float
    code_rate: float
    cfo_hz: float
    sro_ppm: float
    snr_db: float | None  # mean estimate of the receiver
    freq_offset_hz: float | None
    false_frames: int  # frames with a good check that match nothing sent
    decode_s: float
    medium: str
    recording: str | None
    pass_info: dict | None = None
    doppler: str | None = None
    timestamp_error_s: float | None = None
    plots: list = field(default_factory=list)

    @property
    def ber(self) -> float | None:
        return self.bit_errors / self.bits if self.bits else None

    @property
    def fer(self) -> float:
        return 1 - self.frames_ok / self.frames_sent

    def to_dict(self) -> dict:
        d = {"link": self.link, "frames_sent": self.frames_sent,
             "frames_found": self.frames_found, "frames_ok": self.frames_ok,
             "bit_errors": self.bit_errors, "bits": self.bits, "ber": self.ber,
             "fer": self.fer, "ebn0_db": round(self.ebn0_db, 3),
             "esn0_db": round(self.esn0_db, 3), "code_rate": round(self.code_rate, 6),
             "cfo_hz": self.cfo_hz, "sro_ppm": self.sro_ppm, "snr_db": self.snr_db,
             "freq_offset_hz": self.freq_offset_hz, "false_frames": self.false_frames,
             "decode_s": round(self.decode_s, 3), "medium": self.medium,
             "recording": self.recording}
        if self.pass_info is not None:
            d["pass"] = self.pass_info
            d["doppler"] = self.doppler
            d["timestamp_error_s"] = self.timestamp_error_s
        if self.plots:
            d["plots"] = list(self.plots)
        return d


# ------------------------------------------------------------------------------------------------
# a receiver's audio, streaming


class AudioFrontend:
    """What a receiver's audio output is for received IQ (streaming): SSB audio (the signal
    on the link's audio carrier) for PSK; for the FSK family an FM receiver's IF filter
    (Carson's bandwidth, zero-phase: frames keep their place) and discriminator, scaled to
    about +-0.5 at the deviation (AFSK: the tones) and clipped to +-1.

    ``process(iq)`` returns the audio it completes; ``flush()`` the rest. The output of any
    split of the input equals :func:`to_audio` of the whole input.
    """

    def __init__(self, link: Link, samp_rate: float | None = None):
        self.link = link
        self.rate = float(samp_rate or link.samp_rate)
        if link.family == "psk":
            from orbitlink.modem.adapters import AudioUpconverter

            self._up = AudioUpconverter(samp_rate=self.rate, carrier=link.ssb_carrier,
                                        amplitude=0.25)
            return
        self._up = None
        fc = link.fm_if_half_bandwidth() / self.rate
        self._h = None
        if fc < 0.45:
            from orbitlink.modem.filters import lowpass

            self._h = lowpass(fc, int(8 / fc) | 1, "hamming")
        # the zero-phase filter (np.convolve(mode="same")) as a causal one whose first half
        # of a filter length of output is skipped, and which is fed half a filter length of
        # zeros at the end
        nt = len(self._h) if self._h is not None else 1
        self._hist = np.zeros(nt - 1, np.complex128)
        self._skip = nt // 2
        self._last = None  # last filtered sample (the discriminator's memory)

    def _filtered(self, x, final: bool):
        if self._h is None:
            return np.asarray(x)
        if final:
            x = np.zeros(len(self._h) // 2, np.complex128)
        buf = np.concatenate([self._hist, np.asarray(x, np.complex128)])
        c = np.convolve(buf, self._h, mode="valid")
        self._hist = buf[len(buf) - (len(self._h) - 1):]
        if self._skip:
            drop = min(self._skip, len(c))
            c = c[drop:]
            self._skip -= drop
        return c

    def _disc(self, z):
        if not len(z):
            return np.zeros(0, np.float32)
        prev = np.concatenate([[z[0] if self._last is None else self._last], z[:-1]])
        d = np.angle(z * np.conj(prev)) * (self.rate / (2 * np.pi))  # Hz
        if self._last is None:
            d[0] = 0.0
        self._last = z[-1]
        return np.clip(d / (2 * self.link.fsk_deviation), -1.0, 1.0).astype(np.float32)

    def process(self, iq):
        if self._up is not None:
            return self._up.process(np.asarray(iq, np.complex64))
        return self._disc(self._filtered(iq, False))

    def flush(self):
        if self._up is not None:
            return self._up.flush()
        return self._disc(self._filtered(np.zeros(0, np.complex64), True))


def to_audio(link: Link, iq: np.ndarray, samp_rate: float | None = None) -> np.ndarray:
    """A receiver's audio for the whole received IQ ``iq`` (see :class:`AudioFrontend`)."""
    fe = AudioFrontend(link, samp_rate)
    parts = [fe.process(iq), fe.flush()]
    return np.concatenate(parts).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# matching, streaming


class _Tally(Sink):
    """Matches received frames to the sent ones as they arrive (see the module docstring)."""

    name = "loopback_tally"
    in_types = ("pdu",)

    @dataclass(frozen=True)
    class Params:
        pass

    def __init__(self, link, payload_rng, n, starts, sps):
        super().__init__()
        self.link = link
        self._payloads = iter_random_payloads(link, payload_rng, n)
        self.n = n
        self.starts = starts  # array('d') of frame start samples (received)
        self.sps = sps
        self.fixed = link.payload_len is not None
        self.tol = 8 * sps
        self.window = deque()  # (index, payload) not yet retired
        self._next = 0  # next payload index to generate
        self.matched = set()
        self.content = {}  # payload -> [indices] inside the window
        self.pending = []  # frames awaiting the position match (fixed payloads)
        self.nok = self.bit_errors = self.bits = 0
        self.crc_ok_frames = 0
        self.snr = []
        self.fo = []

    def _index(self, pos: float) -> int:
        i = bisect.bisect_left(self.starts, pos)
        if i >= len(self.starts):
            return len(self.starts) - 1
        if i > 0 and abs(pos - self.starts[i - 1]) <= abs(pos - self.starts[i]):
            return i - 1
        return i

    def _fill(self, upto: int):
        while self._next <= min(upto, self.n - 1):
            p = next(self._payloads)
            self.window.append((self._next, p))
            self.content.setdefault(p, []).append(self._next)
            self._next += 1

    def _retire(self, below: int):
        while self.window and self.window[0][0] < below:
            i, p = self.window.popleft()
            lst = self.content.get(p)
            if lst and i in lst:
                lst.remove(i)
                if not lst:
                    del self.content[p]

    def _payload(self, i):
        for j, p in self.window:
            if j == i:
                return p
        return None

    def write(self, items) -> None:
        for p in items:
            self._frame(p)

    def _frame(self, p):
        m = p.meta
        if "snr_db" in m:
            self.snr.append(m["snr_db"])
        if "freq_offset_hz" in m:
            self.fo.append(m["freq_offset_hz"])
        self.crc_ok_frames += bool(m["crc_ok"])
        pos = m.get("sample_index", 0) - (self.sps / 2 if self.fixed else 0)
        here = self._index(pos) if len(self.starts) else 0
        margin = _CHUNK_FRAMES * 4
        self._fill(here + margin)
        self._resolve(here - margin)
        self._retire(here - 2 * margin)
        data = bytes(p.data)
        idx = self.content.get(data) if m["crc_ok"] else None
        free = [i for i in (idx or []) if i not in self.matched]
        if free:
            self.matched.add(free[0])
            self.nok += 1
            self.bits += 8 * len(data)
        elif self.fixed:
            self.pending.append((pos, bool(m["crc_ok"]), data))

    def _resolve(self, before: int | None = None):
        """Position matches of the pending frames well before frame ``before`` (all: None),
        frames that pass their check first."""
        if not self.pending:
            return
        if before is None:
            ready, keep = self.pending, []
        else:
            ready = [q for q in self.pending if self._index(q[0]) < before]
            keep = [q for q in self.pending if self._index(q[0]) >= before]
        self.pending = keep
        for pos, ok, data in sorted(ready, key=lambda q: not q[1]):
            i = self._index(pos)
            if abs(pos - self.starts[i]) > self.tol or i in self.matched:
                continue
            b = self._payload(i)
            if b is None:
                continue
            self.matched.add(i)
            self.nok += ok
            a = np.frombuffer(data, np.uint8)
            bb = np.frombuffer(b, np.uint8)
            if len(a) != len(bb):
                continue
            self.bit_errors += int(np.unpackbits(a ^ bb).sum())
            self.bits += 8 * len(bb)

    def close(self) -> None:
        if len(self.starts):
            self._fill(self.n - 1)
        self._resolve(None)


# ------------------------------------------------------------------------------------------------


def _check_size(link: Link, nframes: int, rate: float, medium: str, out_dir: str):
    """Refuse a loopback whose recording would not fit (before anything is allocated)."""
    if nframes > MAX_FRAMES:
        raise LoopbackError(f"--frames {nframes} is more than a loopback holds (at most "
                            f"{MAX_FRAMES})")
    bits = 8 * (link.payload_len or 300) * nframes / max(link.code_rate, 1e-3) * 1.2
    symbols = bits / link.bits_per_symbol + link.gap_symbols * nframes + \
        link.preamble_symbols + link.postamble_symbols
    nbytes = symbols * rate / link.symbol_rate * (8 if medium == "iq" else 4)
    try:
        free = os.statvfs(out_dir).f_bavail * os.statvfs(out_dir).f_frsize
    except (OSError, AttributeError):
        free = None
    if free is not None and nbytes > 0.9 * free:
        raise LoopbackError(f"{nframes} frames make a recording of about {nbytes / 1e9:.3g} GB "
                            f"at {rate:g} Hz, more than the {free / 1e9:.3g} GB free in "
                            f"{out_dir}; send fewer frames")


def loopback(link: Link, frames: int | None = None, *, ebn0: float = 10.0,
             esn0: float | None = None, cfo: float = 0.0, sro: float = 0.0, seed: int = 1,
             medium: str | None = None, out_dir: str | None = None, plot: bool = False,
             center_freq: float | None = None, chunk: int = 1 << 16, plan=None,
             doppler: str | None = None, timestamp_error: float = 0.0,
             warn=None) -> LoopbackResult:
    """Send ``frames`` random payloads (default 50; with a pass, as many as it holds) through
    the link's transmitter, a channel (AWGN at ``ebn0`` per information bit, or ``esn0``;
    carrier offset ``cfo`` Hz; sample-clock offset ``sro`` ppm; with ``plan``, a
    :class:`orbitlink.flowgraphs.passes.PassPlan`, the pass's Doppler), into a recording
    (SigMF for IQ, WAV for a receiver's ``audio``) in ``out_dir`` (default: a temporary folder,
    removed), and back through the receiver's graph. Returns the tally.
    """
    from orbitlink.drivers.files import RecordingSource, SigmfSink
    from orbitlink.drivers.sigmf import open_recording
    from orbitlink.flowgraphs.graph import link_graph
    from orbitlink.flowgraphs.runner import run_graph
    from orbitlink.flowgraphs.sinks import ConstellationSink, SpectrumSink, WavSink
    from orbitlink.modem.channel import Channel

    warn = warn or (lambda msg: print(f"orbitlink: {msg}", file=sys.stderr))
    medium = medium or ("iq" if plan is not None else link.medium)
    if medium not in ("iq", "audio"):
        raise LoopbackError(f"medium must be iq or audio, got {medium!r}")
    if frames is not None and frames < 1:
        raise LoopbackError("--frames must be at least 1")
    if plan is not None and medium != "iq":
        raise LoopbackError("a pass (--tle) is simulated on IQ only, not with --medium audio")
    rng = np.random.default_rng(seed)
    if plan is not None:
        from orbitlink.flowgraphs import passes

        need = passes.samp_rate_for(link, plan.max_doppler_hz)
        if need != link.samp_rate:
            warn(f"the Doppler reaches {plan.max_doppler_hz / 1e3:.1f} kHz: sample rate raised "
                 f"to {need:g} Hz")
            link = dataclasses.replace(link, samp_rate=float(need))
        nframes = frames or passes.frames_for(link, plan.duration_s, rng)
    else:
        nframes = frames or 50
    tmp = None
    if out_dir is None:
        if plot:
            out_dir = "loopback-out"
        else:
            tmp = tempfile.TemporaryDirectory(prefix="orbitlink-")
            out_dir = tmp.name
    os.makedirs(out_dir, exist_ok=True)
    try:
        _check_size(link, nframes, link.samp_rate, medium, out_dir)
        return _run(link, nframes, rng, ebn0, esn0, cfo, sro, seed, medium, out_dir, tmp,
                    plot, center_freq, chunk, plan, doppler, timestamp_error, Channel,
                    RecordingSource, SigmfSink, open_recording, link_graph, run_graph,
                    ConstellationSink, SpectrumSink, WavSink)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _run(link, nframes, rng, ebn0, esn0, cfo, sro, seed, medium, out_dir, tmp, plot,
         center_freq, chunk, plan, doppler, timestamp_error, Channel, RecordingSource,
         SigmfSink, open_recording, link_graph, run_graph, ConstellationSink, SpectrumSink,
         WavSink):
    # the payloads are drawn now only to advance the generator as the tally will
    pay_rng = copy.deepcopy(rng)
    tally_rng = copy.deepcopy(rng)
    for _ in iter_random_payloads(link, rng, nframes):
        pass
    bps = link.bits_per_symbol
    rate = link.code_rate
    esn0 = esn0 if esn0 is not None else ebn0 + 10 * math.log10(bps * rate)
    ebn0 = esn0 - 10 * math.log10(bps * rate)
    timing = float(rng.uniform(0, 1))
    chan = dict(samp_rate=link.samp_rate, sps=link.sps, bits_per_symbol=bps, esn0_db=esn0,
                cfo_hz=cfo, sro_ppm=sro, timing_offset=timing, seed=seed + 2)
    if plan is not None:
        ch = Channel(doppler=plan.predictor, doppler_t0=plan.aos, **chan)
    else:
        ch = Channel(**chan)
    scale = 1 + sro * 1e-6
    # the channel acts on complex baseband; the audio medium is made from its output
    tx = TxStream(link, iter_random_payloads(link, pay_rng, nframes), seed=seed + 1)
    base = os.path.join(out_dir, f"loopback-{link.name}")
    starts = array.array("d")
    if medium == "audio":
        from orbitlink.drivers.wav import WavWriter

        base += ".wav"
        fe = AudioFrontend(link)
        with WavWriter(base, link.samp_rate, channels=1) as w:
            for x in tx:
                w.write(fe.process(ch.process(x)))
                starts.extend((s - timing) / scale for s in tx.take_frame_starts())
            w.write(fe.process(ch.flush()))
            w.write(fe.flush())
            starts.extend((s - timing) / scale for s in tx.take_frame_starts())
    else:
        from orbitlink.drivers.sigmf import SigmfWriter

        rec_time = time.time() if plan is None else plan.aos + timestamp_error
        with SigmfWriter(base, link.samp_rate, center_freq=center_freq, datetime=rec_time,
                         description=f"orbitlink loopback {link.name}: Es/N0 {esn0:.2f} dB, "
                                     f"cfo {cfo} Hz, sro {sro} ppm") as w:
            w.global_extra["orbitlink:link"] = link.name

            def annotate():
                for s, length in tx.take_frames():
                    r = (s - timing) / scale
                    w.annotate(max(0, int(round(r))), int(round(length / scale)),
                               f"frame {len(starts)}", frame=len(starts))
                    starts.append(r)

            for x in tx:
                w.write(ch.process(x))
                annotate()
            w.write(ch.flush())
            annotate()

    t0 = time.perf_counter()
    rec = open_recording(base)
    front = []
    if plan is not None:
        from orbitlink.flowgraphs import passes
        from orbitlink.modem.orbit import parse_time

        front = passes.doppler_front(link, rec.samp_rate, doppler or "predicted",
                                     predictor=plan.predictor,
                                     t0=parse_time(rec.datetime) if rec.datetime else None,
                                     max_doppler_hz=1.2 * plan.max_doppler_hz + 1000,
                                     max_rate_hz_s=1.5 * plan.max_rate_hz_s + 10)
    tally = _Tally(link, tally_rng, nframes, starts, link.sps / scale)
    g = link_graph(link, "rx", rec.samp_rate, medium, front=front, emit_failed=True,
                   source=RecordingSource(medium=medium, rec=rec), sinks=[tally])
    applied = [[] for _ in front]
    plots = []
    if plot:
        # fan-out: the demodulator's output also feeds a constellation plot, the recording a
        # spectrum plot
        chain = [n for n in g.order() if g.nodes[n].kind == "block"]
        demod = chain[len(front) + len(link.rx_front(rec.samp_rate, medium)) - 1]
        kind = "softsymbols" if link.family == "fsk" else "constellation"
        cs = ConstellationSink(path=os.path.join(out_dir, f"{kind}-{link.name}.png"),
                               title=link.name)
        ss = SpectrumSink(path=os.path.join(out_dir, f"spectrum-{link.name}.png"),
                          title=link.name)
        g.connect(demod, g.add("constellation", cs, "sink"))
        g.connect(g.source.name, g.add("spectrum", ss, "sink"))
        for i, name in enumerate(chain[:len(front)]):
            blk = g.nodes[name].obj
            orig = blk.process

            def wrapped(x, _orig=orig, _blk=blk, _i=i):
                y = _orig(x)
                f = getattr(_blk, "last_freq_hz", None)
                if f is not None and len(f):
                    applied[_i].append(np.asarray(f)[::1024])
                return y

            blk.process = wrapped
        g.validate()
    run_graph(g, chunk)
    elapsed = time.perf_counter() - t0
    if plot:
        plots = [cs.params.path, ss.params.path]
        if plan is not None:
            plots += _doppler_plot(out_dir, link, plan, applied, doppler)
    snr, fo = tally.snr, tally.fo
    result = LoopbackResult(
        link=link.name, frames_sent=nframes, frames_found=len(tally.matched),
        frames_ok=tally.nok, bit_errors=tally.bit_errors, bits=tally.bits, ebn0_db=ebn0,
        esn0_db=esn0, code_rate=rate, cfo_hz=cfo, sro_ppm=sro,
        snr_db=round(float(np.mean(snr)), 2) if snr else None,
        freq_offset_hz=round(float(np.mean(fo)), 2) if fo else None,
        false_frames=tally.crc_ok_frames - tally.nok, decode_s=elapsed, medium=medium,
        recording=None if tmp else (rec.meta_path or rec.data_path), plots=plots)
    if plan is not None:
        from orbitlink.modem.orbit import iso

        result.pass_info = {"satellite": plan.sat.name, "aos": iso(plan.aos),
                            "los": iso(plan.los), "max_el_deg": round(plan.max_el_deg, 2),
                            "freq_hz": plan.freq_hz,
                            "max_doppler_hz": round(plan.max_doppler_hz, 1),
                            "max_rate_hz_s": round(plan.max_rate_hz_s, 1),
                            "samp_rate": link.samp_rate}
        result.doppler = doppler or "predicted"
        result.timestamp_error_s = timestamp_error
    return result


def _doppler_plot(out_dir, link, plan, applied, mode) -> list:
    """The pass's Doppler as the channel applied it and as the receiver removed it."""
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
