"""Frequency knowledge from outside: a carrier offset measured elsewhere (``--freq-offset HZ``)
or a Doppler table from another tool (``--doppler-file FILE``), removed before the link's
receiver, for ``decode`` and ``rx``.

The Doppler file is what gr-satellites' Doppler correction reads: one ``UNIX-time
frequency-Hz`` pair per line (white space between them; ``#`` starts a comment; blank lines
skipped), the frequency being the downlink Doppler, received minus nominal carrier, which is
removed. Between two points the frequency is interpolated linearly (the phase stays
continuous); outside the table the first or last value holds. The time of the recording's first
sample comes from its ``core:datetime`` (or ``--start``).

Both work on IQ. A receiver's audio is refused: on FM audio a carrier offset is a DC level
that the FSK receivers remove themselves, and SSB audio has no sign of frequency left to
correct with.
"""

from __future__ import annotations

import math

from orbitlink import OrbitlinkError

__all__ = ["FreqKnowledgeError", "load_doppler_file", "front", "MAX_POINTS"]

#: most points a Doppler file may hold (a day at 10 ms steps is 8.6 M)
MAX_POINTS = 10_000_000
#: longest line read (a time and a frequency need far less)
_MAX_LINE = 256


class FreqKnowledgeError(OrbitlinkError):
    """A Doppler file or offset that cannot be used (one sentence)."""


def load_doppler_file(path):
    """The Doppler table in ``path`` as a :class:`orbitlink.modem.doppler.TableDoppler`."""
    import numpy as np

    from orbitlink.modem.doppler import TableDoppler

    times, freqs = [], []
    try:
        f = open(path, "rb")
    except OSError as e:
        raise FreqKnowledgeError(f"{path}: cannot read the Doppler file "
                                 f"({e.strerror or e})") from None
    with f:
        for num, raw in enumerate(iter(lambda: f.readline(_MAX_LINE + 1), b""), 1):
            if len(raw) > _MAX_LINE:
                raise FreqKnowledgeError(f"{path}:{num}: line longer than {_MAX_LINE} bytes; "
                                         "a Doppler file has 'UNIX-time frequency-Hz' lines")
            try:
                line = raw.decode("ascii").split("#", 1)[0].strip()
            except UnicodeDecodeError:
                raise FreqKnowledgeError(f"{path}:{num}: not text; a Doppler file has "
                                         "'UNIX-time frequency-Hz' lines") from None
            if not line:
                continue
            parts = line.replace(",", " ").split()
            try:
                if len(parts) != 2:
                    raise ValueError
                t, hz = float(parts[0]), float(parts[1])
            except ValueError:
                raise FreqKnowledgeError(f"{path}:{num}: {line[:60]!r} is not 'UNIX-time "
                                         "frequency-Hz'") from None
            if not (math.isfinite(t) and math.isfinite(hz)):
                raise FreqKnowledgeError(f"{path}:{num}: the time and the frequency must be "
                                         "finite numbers")
            if times and t <= times[-1]:
                raise FreqKnowledgeError(f"{path}:{num}: time {t:.6f} does not come after "
                                         f"{times[-1]:.6f} (the times must increase)")
            times.append(t)
            freqs.append(hz)
            if len(times) > MAX_POINTS:
                raise FreqKnowledgeError(f"{path}: more than {MAX_POINTS} points")
    if not times:
        raise FreqKnowledgeError(f"{path}: no 'UNIX-time frequency-Hz' line in the Doppler "
                                 "file")
    return TableDoppler(np.array(times), np.array(freqs), source=str(path))


def front(link, samp_rate: float, medium: str, *, freq_offset: float | None = None,
          doppler_file: str | None = None, t0: float | None = None, name: str = "input",
          duration_s: float | None = None) -> list:
    """The blocks before the receiver that remove ``freq_offset`` (Hz) and/or the Doppler of
    ``doppler_file`` (sample 0 at UNIX time ``t0``); empty when neither is given. For PSK
    links a Doppler table is followed by a tracking loop over the residual (as a TLE's
    prediction is)."""
    if freq_offset is None and doppler_file is None:
        return []
    what = "--freq-offset" if doppler_file is None else "--doppler-file"
    if medium != "iq":
        raise FreqKnowledgeError(f"{name}: {what} works on IQ; this is a receiver's audio (on "
                                 "FM audio an offset is a DC level the receiver removes itself)")
    off = float(freq_offset or 0.0)
    if not math.isfinite(off) or abs(off) >= samp_rate / 2:
        raise FreqKnowledgeError(f"{what}: an offset of {off:g} Hz is outside the "
                                 f"+-{samp_rate / 2:g} Hz the sample rate spans")
    table = None
    if doppler_file is not None:
        table = load_doppler_file(doppler_file)
        if t0 is None:
            raise FreqKnowledgeError(f"{name}: the recording has no core:datetime, so where "
                                     "it sits in the Doppler table is unknown; give --start "
                                     "ISO_TIME")
        big = float(max(abs(table.freqs.max()), abs(table.freqs.min()))) + abs(off)
        if big >= samp_rate / 2:
            raise FreqKnowledgeError(f"{doppler_file}: the Doppler reaches {big:g} Hz, beyond "
                                     f"the +-{samp_rate / 2:g} Hz the sample rate spans")
        lo, hi = table.span
        end = t0 + (duration_s or 0.0)
        if len(table.times) > 1 and (end < lo or t0 > hi):
            raise FreqKnowledgeError(f"{doppler_file}: the table covers {lo:.3f} to {hi:.3f}, "
                                     f"not the recording ({t0:.3f} to {end:.3f})")
    from orbitlink.modem.doppler import DopplerCorrector

    corr = DopplerCorrector(samp_rate=float(samp_rate), t0=float(t0 or 0.0),
                            freq_offset_hz=off, predictor=table)
    if link.family != "psk" or table is None:  # a fixed offset: the receiver tracks the rest
        return [corr]
    from orbitlink.flowgraphs.passes import _tracker

    return [corr] + _tracker(link, samp_rate, 5e3, 200.0)
