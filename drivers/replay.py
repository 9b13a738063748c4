"""A recording standing in for a radio (driver ``replay``; the ``loopback`` hardware profile).

:class:`ReplayRadio` plays a recording (SigMF, WAV IQ, raw IQ with its format and rate,
standard input or a pipe: whatever :func:`orbitlink.drivers.files.open_input` opens) through
the :class:`orbitlink.drivers.radio.Radio` interface, so that everything above the driver layer
(the live runner, radio sources, frame timing, gap accounting) runs without hardware.

Device arguments (``open_radio("replay", "file=pass.sigmf-meta,rate=max,loop=1")``; every
value may be a string):

================  ==========================================================================
``file``          the recording (``X.sigmf-meta``, ``X``, ``X.wav``, a raw file, ``-``)
``format``        sample format of a raw file or stream (``cf32_le``, ``ci16_le``, ``cu8``...)
``samp_rate``     its sample rate in Hz (a SigMF or WAV file says its own)
``rate``          ``real`` (default): paced at real time, a read blocks until its samples are
                  due (``time.monotonic``); ``max``: as fast as the reader reads; a number
                  ``F`` (or ``Fx``, up to 1000): F times real time
``loop``          ``1``: start again at the end; sample indices keep counting across loops
``gap``           samples lost at each injected gap (default 4096)
``gap_every``     inject a gap at stream indices N, 2N, 3N... (silent: only the next read's
                  ``gap`` and ``sample_index`` tell, like a radio with a sample counter)
``gap_at``        inject gaps at these stream indices (``i;j;k``)
``overflow_every`` / ``overflow_at``  the same, reported the way SoapySDR's ``OVERFLOW``
                  return is: a read that returns ``n=0, event="overflow"``, then the next
                  read carries ``gap`` and the jump in ``sample_index``
``tx_file``       transmit into this SigMF recording (cf32_le), see below (``txfile`` too)
================  ==========================================================================

Receive
-------
Sample ``i`` of the stream (``i`` counts every sample of every loop, the skipped ones too) is
stamped ``time_ns = T0 + i / samp_rate``, ``T0`` the recording's ``core:datetime`` (0 when it
has none), and, when paced, is due ``i / (samp_rate * speed)`` seconds after :meth:`start`;
skipped samples take their time too, as they do on a radio. A paced read waits until all the
samples it asks for are due, or until its timeout, and then returns those that are due (none:
``event="timeout"``). A read never spans an injected gap: the gap is reported at ``out[0]`` of
the read after it (``ReadResult.gap``, and ``sample_index`` counts the lost samples), and
``counters.dropped_samples``, ``counters.gaps`` and ``counters.overflows`` count exactly what
was injected (two gaps that touch are merged into one). A recording that does not loop ends
with ``event="end"`` (``n=0``) on every read after its last sample.
:attr:`drop_detection` is ``"sample_counter"``: the replay always knows what it skipped.

Transmit
--------
With ``tx_file``, :meth:`write` appends each burst to a cf32_le SigMF recording (at the
configured sample rate, else the recording's), one annotation per burst: ``core:sample_start``
and ``core:sample_count`` in the file, ``core:label`` ``burst K``, ``orbitlink:time_ns`` the
requested transmit time (None: as soon as possible) and ``orbitlink:radio_time_ns`` the
replay's clock when the burst began. A burst is written when ``end_burst`` ends it; its
status is ``TxStatus("end_burst")``. A burst whose requested time has already passed on the
replay's clock (the time of the sample due now when paced; of the next sample to be read with
``rate=max``) is dropped, counted in ``tx_counters.late_bursts`` and reported as
``TxStatus("late")``, as a radio reports ``TIME_ERROR``. The file is finished by :meth:`close`.
"""

from __future__ import annotations

import bisect
import collections
import datetime as _dt
import math
import re
import time

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink.drivers.radio import Radio, RadioConfig, RadioError, ReadResult, TxStatus, \
    check_buffer, register_driver

__all__ = ["ReplayRadio", "DEFAULT_GAP"]

#: samples lost at each injected gap unless ``gap`` says otherwise
DEFAULT_GAP = 4096
#: samples per chunk read from the recording
_CHUNK = 1 << 18
_MAX_SPEED = 1000.0


def _flag(v, name: str) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off", ""):
        return False
    raise RadioError(f"replay: {name}={v!r} is not 0 or 1")


def _count(v, name: str, lo: int = 0) -> int:
    try:
        f = float(v)
        if not math.isfinite(f) or f != int(f):
            raise ValueError
        n = int(f)
    except (TypeError, ValueError):
        raise RadioError(f"replay: {name}={v!r} is not a whole number") from None
    if n < lo:
        raise RadioError(f"replay: {name}={v!r} must be at least {lo}")
    return n


def _indices(v, name: str) -> list[int]:
    if v is None or v == "":
        return []
    if isinstance(v, (int, np.integer)):
        items = [v]
    elif isinstance(v, str):
        items = [s for s in re.split(r"[;:\s]+", v) if s]
    else:
        items = list(v)
    return sorted({_count(x, name) for x in items})


def _speed(v) -> float | None:
    """None for ``max``, else the real-time factor."""
    s = str(v).strip().lower()
    if s in ("real", "realtime", "1x", ""):
        return 1.0
    if s in ("max", "inf", "fast"):
        return None
    try:
        f = float(s[:-1] if s.endswith("x") else s)
    except ValueError:
        f = float("nan")
    if not (f > 0 and math.isfinite(f)):
        raise RadioError(f"replay: rate={v!r} is not real, max or a speed factor such as 2x")
    if f > _MAX_SPEED:
        raise RadioError(f"replay: rate={v!r} is above {_MAX_SPEED:g} times real time (a sample "
                         "rate goes in samp_rate=; use rate=max for no pacing)")
    return f


def _datetime_ns(text) -> int | None:
    """UNIX time in ns of an ISO 8601 string (fractions to the nanosecond), None if unreadable."""
    if not isinstance(text, str):
        return None
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$",
                 text.strip(), re.IGNORECASE)
    if not m:
        return None
    tz = m.group(3) or "Z"
    tz = "+00:00" if tz.upper() == "Z" else tz
    try:
        d = _dt.datetime.fromisoformat(m.group(1) + tz)
    except ValueError:
        return None
    frac = (m.group(2) or "")[:9].ljust(9, "0")
    return int(d.timestamp()) * 1_000_000_000 + int(frac)


@register_driver("replay")
class ReplayRadio(Radio):
    """A recording played as a radio (see the module docstring for the device arguments).

    Parameters
    ----------
    file : str, optional
        The recording to replay (anything :func:`orbitlink.drivers.files.open_input` opens).
    rate : str or float
        ``"real"`` (paced at real time), ``"max"`` (unpaced) or a speed factor.
    loop : bool or str
        Start again at the end of the recording (sample indices keep counting).
    gap : int
        Samples lost at each injected gap (default :data:`DEFAULT_GAP`).
    gap_every, overflow_every : int
        Inject a silent gap / an overflow-reported gap every N stream samples (0: never).
    gap_at, overflow_at : str or list of int
        Stream indices of injected gaps (``"1000;5000"``).
    tx_file : str, optional
        Base name of the SigMF recording that transmitted bursts go into.
    format, samp_rate
        Sample format and rate of a raw file or stream.
    recording : Recording, optional
        An already opened recording (instead of ``file``).
    """

    drop_detection = "sample_counter"
    has_hardware_time = True
    medium = "iq"

    def __init__(self, file=None, rate="real", loop=False, gap=None, gap_every=0, gap_at="",
                 overflow_every=0, overflow_at="", tx_file=None, format=None, samp_rate=None,
                 recording=None, **unknown):
        super().__init__()
        if "txfile" in unknown and tx_file in (None, ""):  # orbitfake's spelling
            tx_file = unknown.pop("txfile")
        if unknown:
            raise RadioError(f"replay: unknown device argument(s) {', '.join(sorted(unknown))} "
                             "(known: file, format, samp_rate, rate, loop, gap, gap_every, "
                             "gap_at, overflow_every, overflow_at, tx_file)")
        if file in (None, "") and recording is None and tx_file in (None, ""):
            raise RadioError("replay: no recording given (file=X.sigmf-meta), and no tx_file= "
                             "to transmit into")
        self.file = None if file in (None, "") else str(file)
        self._given_rec = recording
        self.fmt = format or None
        try:
            self.given_rate = None if samp_rate in (None, "", 0, "0") else float(samp_rate)
        except (TypeError, ValueError):
            raise RadioError(f"replay: samp_rate={samp_rate!r} is not a number of Hz") from None
        self.speed = _speed(rate)
        self.loop = _flag(loop, "loop")
        self.gap = DEFAULT_GAP if gap in (None, "") else _count(gap, "gap", 1)
        self.gap_every = _count(gap_every or 0, "gap_every")
        self.overflow_every = _count(overflow_every or 0, "overflow_every")
        self.gap_at = _indices(gap_at, "gap_at")
        self.overflow_at = _indices(overflow_at, "overflow_at")
        for name, every in (("gap_every", self.gap_every),
                            ("overflow_every", self.overflow_every)):
            if every and every <= self.gap:
                raise RadioError(f"replay: {name}={every} must be larger than gap={self.gap} "
                                 "(else the gaps run into each other)")
        self.tx_file = None if tx_file in (None, "") else str(tx_file)
        self.can_transmit = self.tx_file is not None
        self.reports_overflow = bool(self.overflow_every or self.overflow_at)
        self.rec = None
        self.samp_rate = None
        self.loops = 0  # completed passes through the recording
        self._rx = False
        self._tx = False
        self._it = None
        self._buf = np.zeros(0, np.complex64)
        self._bpos = 0
        self._pass_samples = 0
        self._ended = False
        self._index = 0  # stream index of the next sample (skipped ones counted)
        self._pending_gap = 0  # skipped before the next sample delivered
        self._t0 = None  # monotonic time of stream index self._i0
        self._i0 = 0
        self._base_ns = 0
        self._writer = None
        self._burst = None  # [file start, requested time_ns, radio time, late]
        self._bursts = 0
        self._status: collections.deque = collections.deque(maxlen=10000)

    # lifecycle -------------------------------------------------------------------------
    def open(self) -> dict:
        if self.rec is None and self.file is None and self._given_rec is None:
            # transmit only: the sample rate comes with the configuration
            self.samp_rate = self.given_rate
            self._open = True
            return {"driver": "replay", "label": self.tx_file, "samp_rate": self.samp_rate}
        if self.rec is None:
            if self._given_rec is not None:
                self.rec = self._given_rec
            else:
                from orbitlink.drivers.files import open_input

                self.rec = open_input(self.file, self.fmt, self.given_rate)
        rec = self.rec
        # a receiver's audio (a mono WAV) plays as complex samples with the audio in the real
        # part; a radio_source with medium=audio hands the real part to an audio receiver
        self.medium = "audio" if getattr(rec, "kind", "iq") == "audio" else "iq"
        if self.loop and rec.num_samples is None:
            raise RadioError(f"{rec.name}: a stream cannot loop (loop=1 needs a file)")
        self.samp_rate = float(rec.samp_rate)
        self.config = RadioConfig(samp_rate=self.samp_rate, center_freq=rec.center_freq)
        self._base_ns = _datetime_ns(rec.datetime) or 0
        self._open = True
        return {"driver": "replay", "label": rec.name, "datetime": rec.datetime,
                "num_samples": None if self.loop else rec.num_samples,
                "samp_rate": self.samp_rate, "center_freq": rec.center_freq,
                "paced": self.speed is not None, "loop": self.loop,
                "warnings": list(getattr(rec, "warnings", []))}

    def configure(self, cfg: RadioConfig) -> RadioConfig:
        if self.rec is None and self.file is None and self._given_rec is None:
            got = RadioConfig(**{**vars(cfg), "gains": dict(cfg.gains)})
            if got.samp_rate is None:
                got.samp_rate = self.samp_rate
            if not got.samp_rate:
                raise RadioError("replay: transmitting into a file needs the sample rate")
            self.samp_rate = float(got.samp_rate)
            self.config = got
            return got
        if self.rec is None:
            self.open()
        if cfg.samp_rate is not None and not math.isclose(cfg.samp_rate, self.samp_rate,
                                                          rel_tol=1e-9):
            raise RadioError(f"{self.rec.name}: the replay plays at the recording's "
                             f"{self.samp_rate:g} Hz, not {cfg.samp_rate:g} Hz")
        got = RadioConfig(**{**vars(cfg), "gains": dict(cfg.gains)})
        got.samp_rate = self.samp_rate
        if got.center_freq is None:  # left as it is (the recording's, or the last retune)
            got.center_freq = self.config.center_freq
        self.config = got
        return got

    def start(self, rx: bool = True, tx: bool = False) -> None:
        if rx and self.rec is None and self.file is None and self._given_rec is None:
            raise RadioError("replay: no recording to receive from (file=X.sigmf-meta)")
        if self.rec is None and (self.file is not None or self._given_rec is not None):
            self.open()
        if tx and not self.can_transmit:
            raise RadioError("replay: cannot transmit without tx_file= (a SigMF recording to "
                             "write the bursts into)")
        if rx and not self._rx:
            if self._it is None:
                self._it = self.rec.chunks(_CHUNK)
            self._rx = True
            self._t0 = time.monotonic()  # a restarted stream is due from now on
            self._i0 = self._index
        if tx and self._writer is None:
            from orbitlink.drivers.sigmf import SigmfWriter

            self._writer = SigmfWriter(self.tx_file, self.config.samp_rate or self.samp_rate,
                                       center_freq=self.config.center_freq,
                                       description="orbitlink replay radio: transmitted bursts")
            self._tx = True
        if self._t0 is None:
            self._t0 = time.monotonic()
            self._i0 = self._index

    def stop(self) -> None:
        self._rx = False
        self._tx = False

    def close(self) -> None:
        self.stop()
        if self._it is not None:
            self._it.close()
            self._it = None
        if self._writer is not None:
            if self._burst is not None:  # an unfinished burst is kept as it is
                self._end_burst()
            self._writer.close()
        self._open = False

    # receive ---------------------------------------------------------------------------
    def time_ns(self, index: int) -> int:
        """The timestamp of stream sample ``index``."""
        return self._base_ns + int(round(index * 1e9 / self.samp_rate))

    def now_ns(self) -> int:
        """The replay's clock: the time of the sample due now (paced), or of the next sample
        to be read (``rate=max``)."""
        if self.speed is None or self._t0 is None:
            return self.time_ns(self._index)
        due = self._i0 + (time.monotonic() - self._t0) * self.samp_rate * self.speed
        return self._base_ns + int(round(due * 1e9 / self.samp_rate))

    def _due(self) -> int:
        """Samples due from the current index on (paced)."""
        elapsed = time.monotonic() - self._t0
        return int(math.floor(elapsed * self.samp_rate * self.speed)) - (self._index - self._i0)

    def _fetch(self) -> bool:
        """Make ``self._buf[self._bpos:]`` non-empty; False at the end of the recording."""
        while self._bpos >= len(self._buf):
            if self._ended:
                return False
            try:
                x = next(self._it)
            except StopIteration:
                if not self.loop or self._pass_samples == 0:
                    self._ended = True
                    return False
                self.loops += 1
                self._pass_samples = 0
                self._it = self.rec.chunks(_CHUNK)
                continue
            except OrbitlinkError:
                self._ended = True
                raise
            self._buf, self._bpos = x, 0
            self._pass_samples += len(x)
        return True

    def _copy(self, out, n: int) -> int:
        done = 0
        while done < n and self._fetch():
            k = min(n - done, len(self._buf) - self._bpos)
            if out is not None:
                out[done:done + k] = self._buf[self._bpos:self._bpos + k]
            self._bpos += k
            done += k
        return done

    def _gap_kind(self, i: int) -> str | None:
        if (self.overflow_every and i and i % self.overflow_every == 0) or \
                self._in(self.overflow_at, i):
            return "overflow"
        if (self.gap_every and i and i % self.gap_every == 0) or self._in(self.gap_at, i):
            return "gap"
        return None

    @staticmethod
    def _in(sorted_list, i) -> bool:
        j = bisect.bisect_left(sorted_list, i)
        return j < len(sorted_list) and sorted_list[j] == i

    def _next_gap(self, i: int) -> int | None:
        """The first injected gap start after index ``i``."""
        c = []
        for every in (self.gap_every, self.overflow_every):
            if every:
                c.append((i // every + 1) * every)
        for lst in (self.gap_at, self.overflow_at):
            j = bisect.bisect_right(lst, i)
            if j < len(lst):
                c.append(lst[j])
        return min(c) if c else None

    def _inject(self) -> str | None:
        """Skip the gaps that start at the current index; "overflow" when one is reported as
        an overflow."""
        event = None
        while True:
            kind = self._gap_kind(self._index)
            if kind is None:
                return event
            skipped = self._copy(None, self.gap)
            if skipped:
                if not self._pending_gap:
                    self.counters.gaps += 1
                self._pending_gap += skipped
                self._index += skipped
                self.counters.dropped_samples += skipped
            if kind == "overflow" and skipped:
                self.counters.overflows += 1
                event = "overflow"
            if skipped < self.gap:  # the recording ended inside the gap
                return event

    def read(self, out: np.ndarray, timeout_s: float = 0.1) -> ReadResult:
        check_buffer(out, what="receive buffer")
        if not self._rx:
            raise RadioError("replay: read() before start()")
        self.counters.reads += 1
        if self._inject() == "overflow":
            return ReadResult(0, self._index, event="overflow")
        want = len(out)
        nxt = self._next_gap(self._index)
        if nxt is not None:
            want = min(want, nxt - self._index)
        if not self.loop and self.rec.num_samples is not None:  # no waiting past the end
            want = min(want, max(self.rec.num_samples - self._index, 0))
        if self.speed is not None and want > 0:
            due = self._due()
            if due < want:
                now = time.monotonic()
                ready = self._t0 + (self._index - self._i0 + want) / (self.samp_rate *
                                                                      self.speed)
                wake = min(ready, now + max(0.0, float(timeout_s)))
                if wake > now:
                    time.sleep(wake - now)
                due = self._due()
                if due <= 0:
                    if self._fetch():
                        self.counters.timeouts += 1
                        return ReadResult(0, self._index, event="timeout")
                want = min(want, max(due, 0))
        n = self._copy(out, want)
        if n == 0 and not self._fetch():
            gap, self._pending_gap = self._pending_gap, 0
            return ReadResult(0, self._index, gap=gap, time_ns=self.time_ns(self._index),
                              event="end")
        gap = 0
        if n:
            gap, self._pending_gap = self._pending_gap, 0
        r = ReadResult(n, self._index, gap=gap, time_ns=self.time_ns(self._index))
        self._index += n
        self.counters.samples += n
        return r

    # transmit --------------------------------------------------------------------------
    def write(self, samples: np.ndarray, time_ns: int | None = None, end_burst: bool = True,
              timeout_s: float = 0.1) -> int:
        if not self.can_transmit:
            return super().write(samples, time_ns, end_burst, timeout_s)
        if not self._tx:
            raise RadioError("replay: write() before start(tx=True)")
        x = check_buffer(np.asarray(samples), what="transmit buffer")
        if self._burst is None:
            now = self.now_ns()
            late = time_ns is not None and int(time_ns) < now
            self._burst = [self._writer.num_samples, time_ns, now, late]
            if late:
                self.tx_counters.late_bursts += 1
                self._status.append(TxStatus("late", time_ns, f"the burst was due at "
                                             f"{time_ns} ns, the radio's time was {now} ns"))
        if not self._burst[3]:
            self._writer.write(x)
        self.tx_counters.samples += len(x)
        if end_burst:
            self._end_burst()
        return len(x)

    def _end_burst(self) -> None:
        start, t, now, late = self._burst
        self._burst = None
        if late:
            return
        count = self._writer.num_samples - start
        self._writer.annotate(start, count, f"burst {self._bursts}", time_ns=t,
                              radio_time_ns=now)
        self._bursts += 1
        self.tx_counters.bursts_sent += 1
        self._status.append(TxStatus("end_burst", t))

    def tx_status(self, timeout_s: float = 0.0) -> TxStatus | None:
        if self._status:
            return self._status.popleft()
        return None
