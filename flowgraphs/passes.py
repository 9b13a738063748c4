"""A satellite pass as the loopback and the decoder see it: which pass, the Doppler predictor,
the sample rate that holds the Doppler, and the receiver's Doppler front end.

Doppler modes of the receiver (``--doppler``):

- ``predicted``: :class:`orbitlink.modem.doppler.DopplerCorrector` removes the Doppler that
  the TLE predicts at each sample's time (the recording's ``core:datetime`` plus the sample
  index, or ``--start``); the PSK receiver's FLL and carrier loop take what is left (a
  timestamp error of dt leaves dt times the Doppler rate).
- ``blind``: :class:`orbitlink.modem.doppler.DopplerTracker` finds the carrier anywhere in the
  band and follows the Doppler curve with a second-order loop; no TLE needed.
- ``off``: nothing (the receiver's own acquisition range is +-0.3 symbol rates).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from orbitlink import OrbitlinkError

DOPPLER_MODES = ("predicted", "blind", "off")


class PassError(OrbitlinkError, ValueError):
    """A pass cannot be simulated or corrected as asked (one sentence)."""


@dataclass
class PassPlan:
    sat: object
    station: object
    freq_hz: float
    aos: float  # unix seconds, first sample of the simulated signal
    los: float
    max_el_deg: float
    predictor: object  # DopplerPredictor (downlink Doppler, Hz)
    max_doppler_hz: float
    max_rate_hz_s: float

    @property
    def duration_s(self) -> float:
        return self.los - self.aos


def plan_pass(tle: str, station: str, freq_hz: float, start=None, sat_name=None,
              min_el_deg: float = 10.0, warn=None) -> PassPlan:
    """The next pass above ``min_el_deg`` after ``start`` (default: the element epoch)."""
    from orbitlink.modem import orbit

    if not (freq_hz and math.isfinite(freq_hz) and freq_hz > 0):
        raise PassError(f"--freq must be a positive carrier frequency in Hz, got {freq_hz!r}")
    sat = orbit.load_satellite(tle, sat_name)
    st = orbit.Station.parse(station)
    t0 = orbit.parse_time(start) if start is not None else sat.epoch_unix
    p = orbit.next_pass(sat, st, t0, min_el_deg)
    msg = orbit.epoch_check(sat, np.array([p.aos, p.los]))
    if msg:
        (warn or _warn)(msg)
    pred = orbit.DopplerPredictor(sat, st, freq_hz)
    t = np.arange(p.aos, p.los, 0.5)
    d = pred(t)
    r = pred.rate(t)
    return PassPlan(sat, st, float(freq_hz), float(p.aos), float(p.los), float(p.max_el_deg),
                    pred, float(np.max(np.abs(d))), float(np.max(np.abs(r))))


def _warn(msg: str):
    print(f"orbitlink: warning: {msg}", file=sys.stderr)


def samp_rate_for(link, max_doppler_hz: float) -> float:
    """The link's sample rate, or a multiple of its symbol rate that holds the signal moved by
    the largest Doppler (with 10 % margin)."""
    half_bw = 0.5 * (1 + link.rrc_alpha) * link.symbol_rate if link.family == "psk" else \
        link.fm_if_half_bandwidth()
    need = 2 * 1.1 * (max_doppler_hz + half_bw)
    if link.samp_rate >= need:
        return float(link.samp_rate)
    return float(math.ceil(need / link.symbol_rate) * link.symbol_rate)


def doppler_front(link, samp_rate: float, mode: str, *, predictor=None, t0=None,
                  time_offset_s: float = 0.0, max_doppler_hz: float = 60e3,
                  max_rate_hz_s: float = 1000.0, residual_hz: float = 5e3,
                  residual_rate_hz_s: float = 200.0) -> list:
    """The blocks between the recording (IQ) and the link's receiver for a Doppler mode:
    ``predicted``: the corrector, then the tracker over ``+-residual_hz``; ``blind``: the
    tracker over ``+-max_doppler_hz``; ``off``: none."""
    if mode not in DOPPLER_MODES:
        raise PassError(f"--doppler must be one of {', '.join(DOPPLER_MODES)}, got {mode!r}")
    if mode == "off":
        return []
    if mode == "predicted":
        from orbitlink.modem.doppler import DopplerCorrector

        if predictor is None:
            raise PassError("predicted Doppler needs --tle, --station and --freq")
        if t0 is None:
            raise PassError("predicted Doppler needs the time of the first sample: the "
                            "recording has no core:datetime; give --start ISO_TIME (or use "
                            "--doppler blind)")
        corr = DopplerCorrector(samp_rate=float(samp_rate), t0=float(t0),
                                time_offset_s=float(time_offset_s), predictor=predictor)
        # what the prediction leaves (a timestamp error dt leaves dt times the Doppler rate, a
        # TLE a few days old some hundred Hz) is taken by the tracking loop; the FSK receivers
        # track it themselves (a frequency offset is a DC level after the discriminator)
        if link.family != "psk":
            return [corr]
        return [corr] + _tracker(link, samp_rate, residual_hz, residual_rate_hz_s)
    return _tracker(link, samp_rate, max_doppler_hz, max_rate_hz_s)


def _tracker(link, samp_rate, max_doppler_hz, max_rate_hz_s):
    from orbitlink.modem.doppler import DopplerTracker

    if link.family == "psk":
        power = {"bpsk": 2, "qpsk": 4, "oqpsk": 4}.get(link.modulation, 1)
        occ = 1 + link.rrc_alpha
    else:
        power, occ = 1, 2 * link.fm_if_half_bandwidth() / 1.2 / link.symbol_rate
    lim = 0.45 * samp_rate - 0.5 * occ * link.symbol_rate
    # a fast sweep (an X-band pass: up to 10 kHz/s) needs a longer first block for the rate
    # the acquisition measures (0.25 s: within about 10 Hz/s and 1 Hz at Es/N0 3 dB)
    acq_s = 0.25 if max_rate_hz_s > 2000 else 0.1
    kw = {}
    if power == 1:
        # FSK: the loop measures the mean frequency, which the data moves by about the
        # deviation over the square root of the symbols measured (100 Hz and more in 50 ms at
        # 9600 Bd): measure longer, a narrower loop, and a Doppler rate from the acquisition
        # (the halves of a longer block) so that the narrow loop need not learn it
        acq_s, kw = 0.5, dict(loop_bw_hz=1.5, update_s=0.1)
        if abs(2 * link.fsk_deviation / link.symbol_rate - 0.5) < 1e-6:
            # MSK-type (h = 1/2): the x**2 line pair is free of the data
            kw["msk_lines"] = True
    return [DopplerTracker(samp_rate=float(samp_rate), symbol_rate=float(link.symbol_rate),
                           power=power, occupied_bw=float(occ),
                           max_doppler_hz=float(min(max_doppler_hz, lim)),
                           max_rate_hz_s=float(max_rate_hz_s), acq_s=acq_s, **kw)]


def frames_for(link, duration_s: float, rng) -> int:
    """How many frames (with the link's gaps) fill ``duration_s`` of transmission."""
    from orbitlink.flowgraphs.links import random_payloads
    from orbitlink.modem.block import Pdu

    pl = random_payloads(link, rng, 4)
    fr = link.framer()
    nbits = np.mean([len(fr.frame_bits(p) if hasattr(fr, "frame_bits")
                         else fr.process([Pdu(p)])) for p in pl])
    enc = link.conv_encoder()
    r = enc.code.rate if enc is not None else 1.0
    sym_per_frame = nbits / r / link.bits_per_symbol + link.gap_symbols
    avail = duration_s * link.symbol_rate - link.preamble_symbols - link.postamble_symbols
    if avail < sym_per_frame:
        raise PassError(f"the pass is too short for one frame of link {link.name}")
    return max(1, int(avail // sym_per_frame))
