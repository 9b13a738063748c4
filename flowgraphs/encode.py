"""``orbitlink encode`` as a library: payloads -> the link's transmitter -> a recording.

:func:`encode` streams: payloads are read from their file as they are sent, the transmitter
runs chunk by chunk and the recording is written as it goes, so memory does not grow with the
number of frames. Every payload is checked (the file named with the line or frame) before the
first sample is written, in a first pass that reads the file without keeping it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink.flowgraphs.links import Link, TxStream, iter_payload_file

__all__ = ["encode", "EncodeResult"]


@dataclass
class EncodeResult:
    frames: int
    samples: int
    samp_rate: float
    medium: str
    path: str  # the .sigmf-meta or .wav written
    precompensation: dict | None = None


def encode(link: Link, payload_path: str, out: str, *, samp_rate: float | None = None,
           medium: str | None = None, seed: int = 0, center_freq: float | None = None,
           datetime=None, precomp=None, global_extra: dict | None = None) -> EncodeResult:
    """Modulate the payloads of ``payload_path`` (hex lines or a ``.kiss`` file) into ``out``:
    a 16-bit WAV of the medium (``X.wav``) or a cf32 SigMF recording with one annotation per
    frame. ``precomp``: ``(t0_unix, predictor, check, meta)`` for an uplink
    pre-compensation (see ``orbitlink encode --tle``): ``check(t_unix, offsets)`` may refuse
    it, ``meta`` (a dict, or None) is recorded as ``orbitlink:uplink_precompensation`` with the
    offsets at the start and the end."""
    wav = out.lower().endswith(".wav")
    medium = medium or (link.medium if wav else "iq")
    if medium == "audio" and not wav:
        raise OrbitlinkError(f"{out}: audio is written to a .wav file; give an --out ending "
                             "in .wav, or --medium iq for SigMF")
    nframes = sum(1 for _ in iter_payload_file(payload_path, link))  # checks every payload
    rate = float(samp_rate or link.samp_rate)
    tx = TxStream(link, iter_payload_file(payload_path, link), seed=seed, samp_rate=rate,
                  medium=medium)
    pre = None
    if precomp is not None:
        from orbitlink.modem.doppler import DopplerPrecompensator

        t0, pred, check, pmeta = precomp
        pre = DopplerPrecompensator(samp_rate=rate, t0=float(t0), predictor=pred)
    done = 0
    written = [out] if wav else []

    def samples():
        nonlocal done
        for x in tx:
            if pre is not None:
                t = float(precomp[0]) + (done + np.array([0, len(x)])) / rate
                precomp[2](t, pred(t))
                x = pre.process(x)
            done += len(x)
            yield x

    try:
        if wav:
            from orbitlink.drivers.wav import WavWriter

            # 16-bit PCM: what recordings are, and what every tool reads (direwolf's atest
            # wants the data chunk right after fmt, no 'fact' chunk as float WAVs carry); the
            # link rides in a LIST/INFO chunk after the samples, as SigMF's orbitlink:link
            info = {"ISFT": "orbitlink",
                    "ICMT": "\n".join(f"{k}={v}" for k, v in
                                      {"orbitlink:link": link.name, **(global_extra or {})}.items()
                                      if isinstance(v, (str, int, float)))}
            with WavWriter(out, rate, channels=1 if medium == "audio" else 2,
                           sample_format="int16", info=info) as w:
                for x in samples():
                    w.write(x)
            dest = out
        else:
            from orbitlink.drivers.sigmf import SigmfWriter

            fixed = link.payload_len is not None
            with SigmfWriter(out, rate, center_freq=center_freq, datetime=datetime,
                             description=f"orbitlink {link.name}: {nframes} frames") as w:
                w.global_extra["orbitlink:link"] = link.name
                w.global_extra.update(global_extra or {})
                written += [w.data_path, w.meta_path]
                payloads = iter_payload_file(payload_path, link) if fixed else None
                n = 0

                def annotate():
                    nonlocal n
                    for s, length in tx.take_frames():
                        w.annotate(int(round(s)), int(round(length)), f"frame {n}",
                                   comment=next(payloads).hex() if fixed else None, frame=n)
                        n += 1

                for x in samples():
                    w.write(x)
                    annotate()
                annotate()
                if pre is not None and pmeta is not None:
                    off = pred(np.array([t0, t0 + done / rate]))
                    w.global_extra["orbitlink:uplink_precompensation"] = {
                        **pmeta, "offset_start_hz": round(float(off[0]), 3),
                        "offset_end_hz": round(float(off[1]), 3)}
            dest = w.meta_path
    except OrbitlinkError:  # e.g. a pre-compensation the sample rate cannot hold
        for p in written:
            if os.path.isfile(p):
                os.remove(p)
        raise
    return EncodeResult(nframes, done, rate, medium, dest)
