"""Link definitions: short YAML files describing a radio link, and the blocks they expand to.

A link file (format 1)::

    format: 1
    name: qpsk
    description: ...
    modulation: qpsk            # a registered modulation: orbitlink.modem.modulation
    differential: false
    symbol_rate: 9600           # Bd
    samp_rate: 38400            # Hz, of the recordings the link writes (any ratio)
    rrc_alpha: 0.35
    preamble_symbols: 2048      # idle (pseudo-random) symbols before the first frame
    gap_symbols: 32             # idle symbols between frames
    postamble_symbols: 64       # idle symbols after the last frame
    framing: {type: sync_crc, sync_word: 1ACFFC1D, payload_len: 64, crc: crc16, max_errors: 3}
    receiver: {}                # overrides of the demodulator's parameters

The modulation and the framing are looked up in their registries
(:data:`orbitlink.modem.modulation.MODULATION_TYPES`,
:data:`orbitlink.framing.registry.FRAMINGS`), where each is declared once beside its blocks;
this module keeps no table of names, keys or defaults of its own. Unknown keys and bad values
are errors naming the file and the key. The packaged links live in
``orbitlink/flowgraphs/links/``; ``--link`` also takes the path of a YAML file.

A link stands for two graphs (:mod:`orbitlink.flowgraphs.graph`): the receiver (medium
samples -> frames) and the transmitter (payloads -> medium samples).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink import yamlio
from orbitlink.flowgraphs.registry import all_framings, all_modulations
from orbitlink.framing.registry import Framing, LinkContext, get_framing
from orbitlink.modem.block import ParamError, Pdu, coerce_params
from orbitlink.modem.psk import PskDemodulator, PskDemodulatorParams, PskModulator

FORMAT = 1
_TOP_KEYS = {"format", "name", "description", "modulation", "differential", "symbol_rate",
             "samp_rate", "rrc_alpha", "preamble_symbols", "gap_symbols", "postamble_symbols",
             "framing", "receiver", "deviation", "mod_index", "bt", "mark", "space",
             "audio_carrier", "medium"}
#: ``--set`` keys that are other names of link keys
ALIASES = {"baud": "symbol_rate", "baudrate": "symbol_rate"}
MEDIA = ("iq", "audio")
#: what a link may ask for: the highest sample rate (above any radio's) and samples per symbol
MAX_SAMP_RATE = 1e9
MAX_SPS = 65536
MAX_IDLE_SYMBOLS = 10_000_000


class LinkError(OrbitlinkError):
    """A link file is missing, malformed or names an unknown link."""


@dataclass(frozen=True)
class Link:
    name: str
    description: str
    modulation: str
    differential: bool
    symbol_rate: float
    samp_rate: float
    rrc_alpha: float
    preamble_symbols: int
    gap_symbols: int
    postamble_symbols: int
    framing: dict
    receiver: dict = field(default_factory=dict)
    source: str = ""
    deviation: float = 0.0  # Hz, FSK family (0 = from mod_index)
    mod_index: float = 0.0  # FSK modulation index h = 2 deviation / symbol rate (0 = 0.5)
    bt: float = 0.0  # Gaussian filter BT (gfsk/gmsk)
    mark: float = 1200.0  # Hz, AFSK mark tone (bit 1)
    space: float = 2200.0  # Hz, AFSK space tone (bit 0)
    audio_carrier: float = 0.0  # Hz, PSK on an SSB audio medium (0 = the default for the rate)
    medium: str = "iq"  # what `encode` writes by default: complex IQ or real audio

    @property
    def where(self) -> str:
        return self.source or self.name

    @property
    def sps(self) -> float:
        return self.samp_rate / self.symbol_rate

    @property
    def modulation_type(self):
        return all_modulations()[self.modulation]

    @property
    def family(self) -> str:
        """``"psk"`` or ``"fsk"`` (the FSK family includes AFSK, GFSK and GMSK)."""
        return self.modulation_type.family

    @property
    def bits_per_symbol(self) -> int:
        return self.modulation_type.bits_per_symbol

    @property
    def fsk_deviation(self) -> float:
        """Peak frequency deviation in Hz of an FSK/GFSK/GMSK link (GMSK: h = 1/2)."""
        if self.deviation > 0:
            return float(self.deviation)
        if self.modulation == "afsk":  # the FM deviation of the audio (amplitude 1)
            return 3000.0
        # h = mod_index (so that it follows --set baud=...); GMSK's h = 1/2 is the default
        return (self.mod_index or 0.5) * self.symbol_rate / 2

    @property
    def ssb_carrier(self) -> float:
        """Audio carrier in Hz of the PSK signal on an SSB audio medium."""
        if self.audio_carrier > 0:
            return float(self.audio_carrier)
        # the signal must sit in the audio band: its lower edge above ~300 Hz
        return max(1500.0, 300.0 + (1 + self.rrc_alpha) * self.symbol_rate / 2)

    # framing -------------------------------------------------------------------------------
    @property
    def framing_type(self) -> str:
        return self.framing["type"]

    @property
    def framing_spec(self) -> Framing:
        all_framings()
        return get_framing(self.framing_type, self.where)

    @property
    def framing_opts(self) -> dict:
        return self.framing_spec.resolve(self.framing, self.where)

    def context(self, samp_rate: float | None = None) -> LinkContext:
        """What the link gives its framing blocks (one real bit per symbol for FSK)."""
        return LinkContext(modulation=self.modulation if self.family == "psk" else "bpsk",
                           differential=self.differential,
                           samp_rate=float(samp_rate or self.samp_rate),
                           symbol_rate=float(self.symbol_rate),
                           bits_per_symbol=self.bits_per_symbol)

    @property
    def payload_len(self) -> int | None:
        """Fixed payload length in bytes, or None when payloads vary (packets, AX.25, TC)."""
        return self.framing_spec.payload_len(self.framing_opts)

    @property
    def bit_deframer(self) -> bool:
        """The deframer reports positions as bit indices (not symbol/sample indices)."""
        return self.framing_spec.index == "bit"

    def framer(self):
        return self.framing_spec.framer_block(self.framing_opts, self.context(), self.where)

    def deframer(self, samp_rate: float | None = None, emit_failed: bool | None = None):
        return self.framing_spec.deframer_block(self.framing_opts, self.context(samp_rate),
                                                emit_failed, self.where)

    def tx_bit_blocks(self) -> list:
        """u8 -> u8 blocks after framing (precoder, convolutional encoder, line code)."""
        return self.framing_spec.tx_bit_blocks(self.framing_opts, self.context(), self.where)

    def conv_encoder(self):
        """The stream-level convolutional encoder of the link, or None."""
        return next((b for b in self.tx_bit_blocks() if b.name == "conv_encoder"), None)

    @property
    def conv(self) -> str:
        """Convolutional code variant over the stream ("none" without one)."""
        enc = self.conv_encoder()
        return enc.params.variant if enc is not None else "none"

    @property
    def code_rate(self) -> float:
        """Information bits per channel bit of the FEC (convolutional x Reed-Solomon), 1 when
        uncoded; sync markers and idle symbols are not counted."""
        return self.framing_spec.code_rate(self.framing_opts, self.context())

    # modulation ----------------------------------------------------------------------------
    def modulator(self, samp_rate: float | None = None, medium: str = "iq"):
        """The modulator: PSK (complex baseband) or FSK family. With ``medium="audio"`` the
        output is what a receiver's audio would be: FM-demodulated audio for FSK/GFSK/GMSK,
        the tones for AFSK, SSB audio (the PSK signal on an audio carrier) for PSK; see
        :meth:`tx_stages` for the blocks after the modulator itself."""
        rate = float(samp_rate or self.samp_rate)
        if self.family == "psk":
            return PskModulator(modulation=self.modulation, differential=self.differential,
                                symbol_rate=float(self.symbol_rate), samp_rate=rate,
                                alpha=self.rrc_alpha)
        from orbitlink.modem import fsk

        if self.modulation == "afsk":
            return fsk.AfskModulator(symbol_rate=float(self.symbol_rate), samp_rate=rate,
                                     mark=float(self.mark), space=float(self.space))
        return fsk.FskModulator(symbol_rate=float(self.symbol_rate), samp_rate=rate,
                                deviation=self.fsk_deviation, bt=float(self.bt),
                                output="audio" if medium == "audio" else "iq")

    def tx_stages(self, samp_rate: float | None = None, medium: str = "iq") -> list:
        """The modulator and what turns its output into the medium (IQ or audio)."""
        rate = float(samp_rate or self.samp_rate)
        mod = self.modulator(rate, medium)
        if self.family == "psk" and medium == "audio":
            from orbitlink.modem.adapters import AudioUpconverter

            return [mod, AudioUpconverter(samp_rate=rate, carrier=self.ssb_carrier)]
        if self.modulation == "afsk" and medium == "iq":
            from orbitlink.modem.adapters import FmModulator

            return [mod, FmModulator(samp_rate=rate, deviation=self.fsk_deviation)]
        return [mod]

    def _receiver_kw(self) -> dict:
        return _whole_ints(self.demod_params_cls(), dict(self.receiver))

    def demod_params_cls(self):
        if self.family == "psk":
            return PskDemodulatorParams
        from orbitlink.modem import fsk

        if self.receiver.get("coherent"):
            return fsk.GmskCoherentDemodulatorParams
        return fsk.FskDemodulatorParams

    def demodulator(self, samp_rate: float | None = None, debug_taps=None, medium: str = "iq"):
        """The demodulator: 'sym' records out (PSK) or f32 soft bits (FSK family)."""
        rate = float(samp_rate or self.samp_rate)
        where = f"{self.source or self.name}: receiver"
        kw = {k: v for k, v in self._receiver_kw().items() if k != "coherent"}
        if self.family == "psk":
            kw.update(modulation=self.modulation, symbol_rate=float(self.symbol_rate),
                      samp_rate=rate, alpha=self.rrc_alpha)
            p = coerce_params(PskDemodulatorParams, kw, where)
            return PskDemodulator(p, debug_taps=debug_taps)
        from orbitlink.modem import fsk

        if self.receiver.get("coherent"):
            msk = abs(2 * self.fsk_deviation / self.symbol_rate - 0.5) < 1e-6  # h = 1/2
            if medium != "iq" or self.modulation == "afsk" or not msk:
                raise LinkError(f"{where}: the coherent receiver needs IQ input and a GMSK, "
                                "GFSK or 2-FSK link with modulation index 1/2 (MSK)")
            kw.update(symbol_rate=float(self.symbol_rate), samp_rate=rate, bt=float(self.bt))
            # carrier offsets up to half the symbol rate and a little more (issue 13 item 4)
            kw.setdefault("max_offset", min(0.6, 0.2 * rate / self.symbol_rate))
            return fsk.GmskCoherentDemodulator(
                coerce_params(fsk.GmskCoherentDemodulatorParams, kw, where))
        afsk = self.modulation == "afsk"
        kw.update(symbol_rate=float(self.symbol_rate), samp_rate=rate,
                  input="audio" if medium == "audio" or afsk else "iq",
                  kind="afsk" if afsk else "fsk", bt=float(self.bt))
        if self.modulation == "afsk":
            kw.update(mark=float(self.mark), space=float(self.space))
        return fsk.FskDemodulator(coerce_params(fsk.FskDemodulatorParams, kw, where))

    def rx_front(self, samp_rate: float | None = None, medium: str = "iq",
                 debug_taps=None) -> list:
        """The blocks from the medium to the demodulator's output ('sym' or f32)."""
        rate = float(samp_rate or self.samp_rate)
        front = []
        afc = None
        if self.family == "psk" and medium == "audio":
            from orbitlink.modem.audio import SsbToIq

            front.append(SsbToIq(samp_rate=rate, symbol_rate=float(self.symbol_rate)))
        if self.family != "psk" and self.modulation != "afsk" and medium == "iq" and \
                not self.receiver.get("coherent"):
            # the carrier offset (up to half the symbol rate and more) measured over the whole
            # band and removed, so that the receiver's channel filter stays narrow (the
            # coherent receiver acquires the carrier itself)
            from orbitlink.modem.afc import FskAfc

            room = (0.45 * rate - self.fm_if_half_bandwidth()) / self.symbol_rate
            if room > 0.05:  # else the sample rate holds the signal and little more
                afc = FskAfc(samp_rate=rate, symbol_rate=float(self.symbol_rate),
                             max_offset=min(0.6, room))
                front.append(afc)
        if self.modulation == "afsk" and medium == "iq":
            # an FM receiver: IF filter (in the resampler), then the discriminator's audio
            from orbitlink.modem.audio import Resampler
            from orbitlink.modem.fsk import QuadratureDemod

            out = self.fm_if_rate(rate)
            if out < rate:
                front.append(Resampler(in_rate=rate, out_rate=out))
                rate = out
            front.append(QuadratureDemod(gain=rate / (2 * np.pi * 2 * self.fsk_deviation)))
            medium = "audio"
        if self.modulation == "afsk":
            # an FM receiver's de-emphasis (or pre-emphasized audio) leaves the tones at
            # different levels: measure the tilt and level them (issue 13 item 4)
            from orbitlink.modem.audio import AfskEqualizer

            front.append(AfskEqualizer(samp_rate=rate, mark=float(self.mark),
                                       space=float(self.space),
                                       symbol_rate=float(self.symbol_rate)))
        demod = self.demodulator(rate, debug_taps=debug_taps, medium=medium)
        if afc is not None and hasattr(demod, "quality"):
            from orbitlink.modem.afc import AfcQuality

            # the frames' freq_offset_hz: what the AFC removed plus what the eye still sees
            afc.quality = AfcQuality(afc, demod, rate / self.symbol_rate)
        return front + [demod]

    def fm_if_half_bandwidth(self) -> float:
        """One-sided bandwidth (Hz) of an FM receiver's IF filter for this link: Carson's
        rule, deviation plus the highest modulating frequency (AFSK: the upper tone;
        Gaussian-filtered data: half the symbol rate, the fundamental of 1010...; rectangular
        2-FSK, whose spectrum falls off slowly: the symbol rate), with 20 % margin."""
        if self.modulation == "afsk":
            top = max(self.mark, self.space)
        else:
            top = self.symbol_rate / 2 if self.bt > 0 else self.symbol_rate
        return 1.2 * (self.fsk_deviation + top)

    def fm_if_rate(self, samp_rate: float) -> float:
        """Sample rate at which the FM discriminator runs (the IF filter's band fits in 90 %
        of its Nyquist band); never above the input rate."""
        return float(min(samp_rate, math.ceil(2 * self.fm_if_half_bandwidth() / 0.9 / 100)
                         * 100))

    # chains --------------------------------------------------------------------------------
    def rx_chain(self, samp_rate: float | None = None, emit_failed: bool | None = None,
                 debug_taps=None, medium: str = "iq") -> list:
        """The receive blocks, medium samples in (IQ c64, or audio f32), PDUs out, in order:
        the front end and demodulator, the adapters the framing's first block needs, the
        framing's receive blocks."""
        rate = float(samp_rate or self.samp_rate)
        chain = self.rx_front(rate, medium, debug_taps)
        spec = self.framing_spec
        tail = spec.rx_blocks(self.framing_opts, self.context(rate), emit_failed, self.where)
        return chain + self.adapters(chain[-1].out_type, tail[0].in_type) + tail

    def adapters(self, have: str, need: str) -> list:
        """Blocks that turn the demodulator's output type into the framing's input type:
        symbols -> soft bits (soft demapper), soft bits -> symbols (FSK), soft -> hard bits."""
        out = []
        if have == "sym" and need in ("f32", "u8"):
            from orbitlink.modem.psk import SoftDemapper

            out.append(SoftDemapper(modulation=self.modulation, differential=self.differential))
            have = "f32"
        if have == "f32" and need == "sym":
            from orbitlink.modem.adapters import SoftToSym

            out.append(SoftToSym(sps=self.sps))
            have = "sym"
        if have == "f32" and need == "u8":
            from orbitlink.modem.fec.line import Slicer

            out.append(Slicer())
            have = "u8"
        if have != need:
            raise LinkError(f"{self.where}: no adapter from the demodulator's '{have}' output "
                            f"to the framing's '{need}' input")
        return out

    def frame_meta(self, samp_rate: float | None = None):
        """The block that completes received frames' metadata (sample index, time, crc_ok)."""
        from orbitlink.framing._base import FrameMeta

        return FrameMeta(index=self.framing_spec.index, bits_per_symbol=self.bits_per_symbol,
                         symbol_rate=float(self.symbol_rate),
                         samp_rate=float(samp_rate or self.samp_rate),
                         air_bits_per_byte=round(8 * 1.25 / self.code_rate, 3),
                         deviation=float(self.fsk_deviation) if self.family != "psk" else 0.0)

    def finish(self, pdu, samp_rate: float | None = None):
        """Complete a received PDU's metadata (see :meth:`frame_meta`)."""
        return self.frame_meta(samp_rate).finish(pdu)

    def idle_bits(self, symbols: int) -> int:
        """Information bits (before the stream code) that fill ``symbols`` symbols."""
        r = self.framing_spec.stream_code_rate(self.framing_opts, self.context())
        return int(round(symbols * self.bits_per_symbol * r))

    def tx_chain(self, samp_rate: float | None = None, medium: str = "iq",
                 seed: int = 0) -> list:
        """The transmit blocks, PDUs in, medium samples (IQ or audio) out, in order: the
        framing's blocks with the framer inside a :class:`~orbitlink.framing._base.Burst`
        (idle symbols before, between and after the frames, from ``seed``), the stream code,
        the modulator and what makes its output the medium."""
        from orbitlink.framing._base import Burst

        spec, opts = self.framing_spec, self.framing_opts
        frame_blocks = spec.tx_frame_blocks(opts, self.context(), self.where)
        fr = frame_blocks[-1]
        burst = Burst(framer=fr.name, framer_params=tuple(dataclasses.asdict(fr.params).items()),
                      preamble_bits=self.idle_bits(self.preamble_symbols),
                      gap_bits=self.idle_bits(self.gap_symbols),
                      postamble_bits=self.idle_bits(self.postamble_symbols), seed=int(seed))
        return frame_blocks[:-1] + [burst] + self.tx_bit_blocks() + \
            self.tx_stages(samp_rate, medium)

    def summary(self) -> dict:
        return {"name": self.name, "modulation": self.modulation,
                "differential": self.differential, "symbol_rate": self.symbol_rate,
                "samp_rate": self.samp_rate, "sps": round(self.sps, 6),
                "payload_len": self.payload_len, "framing": self.framing_type,
                "medium": self.medium, "description": self.description}


def _whole_ints(params_cls, kw: dict) -> dict:
    """YAML ``64.0`` for an ``int`` parameter becomes ``64`` (validation accepts whole floats,
    but the blocks need real ints, e.g. for array sizes); other values are left to validation."""
    ints = {f.name for f in dataclasses.fields(params_cls) if f.type in (int, "int")}
    return {k: (int(v) if k in ints and isinstance(v, float) and v.is_integer() else v)
            for k, v in kw.items()}


# ------------------------------------------------------------------------------------------------
# loading


def _links_dir():
    return resources.files("orbitlink.flowgraphs") / "links"


def link_names() -> list[str]:
    return sorted(p.name[:-5] for p in _links_dir().iterdir() if p.name.endswith(".yaml"))


def _check(cond, where, msg):
    if not cond:
        raise LinkError(f"{where}: {msg}")


def _number(d, key, where, lo=None, integer=False, hi=None):
    v = d[key]
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    _check(ok, where, f"'{key}' must be a number, got {v!r}")
    if integer:
        _check(float(v).is_integer(), where, f"'{key}' must be a whole number, got {v!r}")
        v = int(v)
    if lo is not None:
        _check(v > lo if not integer else v >= lo, where,
               f"'{key}' must be {'>' if not integer else '>='} {lo}, got {v!r}")
    if hi is not None:
        _check(v <= hi, where, f"'{key}' must be at most {hi:g}, got {v!r}")
    return v


def parse_link(doc, where: str) -> Link:
    """Validate a parsed YAML document and build a :class:`Link`."""
    _check(isinstance(doc, dict), where, "a link file must be a YAML mapping")
    unknown = sorted(set(doc) - _TOP_KEYS)
    _check(not unknown, where, f"unknown key '{unknown[0] if unknown else ''}' (known: "
           f"{', '.join(sorted(_TOP_KEYS))})")
    _check(doc.get("format") == FORMAT, where,
           f"'format' must be {FORMAT}, got {doc.get('format')!r}")
    for k in ("name", "modulation", "symbol_rate", "samp_rate", "framing"):
        _check(k in doc, where, f"missing key '{k}'")
    mods = all_modulations()
    _check(isinstance(doc["modulation"], str) and doc["modulation"] in mods, where,
           f"'modulation' must be one of {', '.join(mods)}, got {doc['modulation']!r}")
    fr = doc["framing"]
    _check(isinstance(fr, dict), where, "'framing' must be a mapping")
    _check("type" in fr, where, "missing key 'framing.type'")
    all_framings()
    try:
        get_framing(fr["type"], where).resolve(fr, where)
    except OrbitlinkError as e:
        raise LinkError(str(e)) from None
    rx = doc.get("receiver") or {}
    _check(isinstance(rx, dict), where, "'receiver' must be a mapping")
    diff = doc.get("differential", False)
    _check(isinstance(diff, bool), where, f"'differential' must be true or false, got {diff!r}")
    medium = doc.get("medium", "iq")
    _check(medium in MEDIA, where, f"'medium' must be one of {', '.join(MEDIA)}, got {medium!r}")
    extra = {}
    for k in ("deviation", "mod_index", "bt", "mark", "space", "audio_carrier"):
        if k in doc:
            _check(doc[k] is not None, where, f"'{k}' must be a number")
            extra[k] = float(_number(doc, k, where, hi=MAX_SAMP_RATE))
            _check(extra[k] >= 0, where, f"'{k}' must be >= 0, got {doc[k]!r}")
    idle = {}
    for k, default in (("preamble_symbols", 2048), ("gap_symbols", 32),
                       ("postamble_symbols", 64)):
        idle[k] = _number({k: doc.get(k, default)}, k, where, lo=0, integer=True,
                          hi=MAX_IDLE_SYMBOLS)
    link = Link(
        name=str(doc["name"]),
        description=str(doc.get("description", "")),
        modulation=doc["modulation"],
        differential=diff,
        symbol_rate=float(_number(doc, "symbol_rate", where, lo=0, hi=MAX_SAMP_RATE)),
        samp_rate=float(_number(doc, "samp_rate", where, lo=0, hi=MAX_SAMP_RATE)),
        rrc_alpha=float(_number({"rrc_alpha": doc.get("rrc_alpha", 0.35)}, "rrc_alpha", where,
                                lo=0, hi=1)),
        framing=dict(fr),
        receiver=dict(rx),
        source=where,
        medium=medium,
        **idle,
        **extra,
    )
    if link.family == "fsk":
        _check(not diff, where, "'differential' applies to PSK links only")
        # the modulation decides the receiver's pulse: a Gaussian one needs its BT, and a
        # rectangular one has none (else --set modulation=gmsk would change nothing)
        if link.modulation in ("gfsk", "gmsk"):
            _check(link.bt > 0, where, f"modulation {link.modulation} needs the Gaussian "
                   "filter's 'bt' (e.g. --set bt=0.5)")
        elif link.bt > 0:
            _check(False, where, f"'bt' applies to gfsk and gmsk, not to {link.modulation} "
                   "(set modulation=gfsk or gmsk, or remove bt)")
        if link.modulation == "gmsk":
            h = 2 * link.fsk_deviation / link.symbol_rate
            _check(abs(h - 0.5) < 1e-6, where, f"modulation gmsk has a modulation index of "
                   f"1/2; this link's deviation makes it {h:.3g} (use gfsk, or remove "
                   "'deviation'/'mod_index')")
    rx_fields = {f.name for f in dataclasses.fields(link.demod_params_cls())} | {"coherent"}
    fixed = {"modulation", "symbol_rate", "samp_rate", "alpha", "input", "kind", "mark", "space",
             "bt"}
    bad = sorted(set(rx) - (rx_fields - fixed))
    _check(not bad, where, f"unknown key 'receiver.{bad[0] if bad else ''}'")
    _check(link.sps >= 1.5, where, f"samp_rate/symbol_rate must be at least 1.5, got {link.sps:.3g}")
    _check(link.sps <= MAX_SPS, where, f"samp_rate/symbol_rate must be at most {MAX_SPS}, got "
           f"{link.sps:.3g} (decimate the recording, or give the link's real rates)")
    # build once so that every parameter is range-checked now, with the file named
    try:
        link.tx_chain()
        link.rx_chain()
    except ParamError as e:
        raise LinkError(str(e)) from None
    except OrbitlinkError as e:  # e.g. a sync word that is not hexadecimal
        msg = str(e)
        raise LinkError(msg if msg.startswith(where) else f"{where}: {msg}") from None
    return link


def _apply_override(doc: dict, key: str, value: str, where: str):
    parts = key.split(".")
    parts[-1] = ALIASES.get(parts[-1], parts[-1]) if len(parts) == 1 else parts[-1]
    d = doc
    for p in parts[:-1]:
        d = d.setdefault(p, {})
        _check(isinstance(d, dict), where, f"--set {key}: '{p}' is not a mapping")
    d[parts[-1]] = yamlio.value(value)


def load_link(name_or_path: str, overrides: dict[str, str] | None = None) -> Link:
    """Load a packaged link by name, or a link file by path; apply ``key=value`` overrides."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise LinkError(f"{name_or_path}: link file not found")
        where = str(p)
        text = yamlio.read_text(p, where)
    else:
        f = _links_dir() / f"{name_or_path}.yaml"
        if not f.is_file():
            raise LinkError(f"unknown link '{name_or_path}'; known links: {', '.join(link_names())}")
        where = f"{name_or_path}.yaml"
        text = yamlio.read_text(f, where)
    try:
        doc = yamlio.loads(text, where)
    except yamlio.YamlError as e:
        raise LinkError(str(e)) from None
    if isinstance(doc, dict):
        for k, v in (overrides or {}).items():
            _apply_override(doc, k, v, where)
    return parse_link(doc, where)


# ------------------------------------------------------------------------------------------------
# transmit


@dataclass
class Burst:
    """A transmitted signal and where its frames are."""

    iq: np.ndarray  # the medium's samples: complex IQ, or real audio (``medium="audio"``)
    frame_starts: list[float]  # sample of the first sync symbol's peak minus half a symbol
    frame_len: float  # samples per frame
    payloads: list[bytes]
    medium: str = "iq"


class TxStream:
    """A transmission made chunk by chunk: iterate for the medium's samples (complex IQ or
    real audio); memory does not grow with the number of frames.

    ``take_frames()`` returns (and forgets) the sample positions and lengths of the frames sent
    so far.
    """

    def __init__(self, link: Link, payloads: Iterable[bytes], seed: int = 0,
                 samp_rate: float | None = None, medium: str = "iq",
                 frames_per_chunk: int | None = None):
        self.link = link
        self.rate = float(samp_rate or link.samp_rate)
        self.medium = medium
        self.blocks = link.tx_chain(self.rate, medium, seed)
        self.burst = next(b for b in self.blocks if b.name == "burst")
        self.mod = self.blocks[len(self.blocks) - len(link.tx_stages(self.rate, medium))]
        self._payloads = payloads
        if frames_per_chunk is None:  # chunks of about 2^18 samples (64 frames at most)
            bits = 8 * (link.payload_len or 256) / max(link.code_rate, 1e-3)
            per_frame = (bits / link.bits_per_symbol + link.gap_symbols) * self.rate / \
                link.symbol_rate
            frames_per_chunk = min(64, (1 << 18) / per_frame)
        self._per_chunk = max(1, int(frames_per_chunk))
        self.frames = 0  # payloads read
        self.samples = 0  # samples yielded
        enc = link.conv_encoder()
        self._r = link.framing_spec.stream_code_rate(link.framing_opts, link.context())
        self._k = link.bits_per_symbol
        self._sps = self.rate / link.symbol_rate
        self._enc = enc

    def _groups(self) -> Iterator[list]:
        group = []
        for p in self._payloads:
            group.append(Pdu(bytes(p)))
            self.frames += 1
            if len(group) == self._per_chunk:
                yield group
                group = []
        if group:
            yield group

    def __iter__(self) -> Iterator[np.ndarray]:
        from orbitlink.flowgraphs.runner import run_chain

        for y in run_chain(self.blocks, self._groups()):
            if len(y):
                self.samples += len(y)
                yield y

    def take_frames(self) -> list[tuple[float, float]]:
        """(start, length) in samples of each frame sent since the last call (then forgotten):
        the start is the first sync symbol's peak minus half a symbol, as the receiver
        reports it."""
        peak = (getattr(self.mod, "symbol_peak_sample", None)
                or getattr(self.mod, "symbol_sample", None)
                or (lambda kk: (kk + 0.5) * self._sps))
        b, n = self.burst.frame_starts, self.burst.frame_bits
        per_bit = self._sps / self._r / self._k
        out = [(peak(x / self._r / self._k) - self._sps / 2, m * per_bit) for x, m in zip(b, n)]
        del b[:], n[:]
        return out

    def take_frame_starts(self) -> list[float]:
        """The starts of :meth:`take_frames`."""
        return [s for s, _ in self.take_frames()]

    @property
    def frame_len(self) -> float:
        """Samples per frame (of the last frame sent)."""
        return self.burst.last_frame_bits / self._r / self._k * self._sps


def transmit(link: Link, payloads: list[bytes], seed: int = 0,
             samp_rate: float | None = None, medium: str = "iq") -> Burst:
    """Modulate payloads as one continuous transmission: preamble, frames with idle gaps,
    postamble (idle symbols are pseudo-random from ``seed``); all in memory (see
    :class:`TxStream` for a transmission of any length).

    For a packet link the payloads are Space Packets, packed into TM frames first; then
    ``frame_starts`` and ``frame_len`` describe the frames, not the packets. ``medium="audio"``
    gives the real audio a receiver would output (see :meth:`Link.tx_stages`).
    """
    tx = TxStream(link, payloads, seed, samp_rate, medium)
    parts = list(tx)
    dt = np.float32 if medium == "audio" and tx.blocks[-1].out_type == "f32" else None
    y = np.concatenate(parts) if parts else np.zeros(0, dt or tx.blocks[-1].out_type == "c64"
                                                     and np.complex64 or np.float32)
    return Burst(y, tx.take_frame_starts(), tx.frame_len, list(payloads), medium)


def to_audio(link: Link, iq: np.ndarray, samp_rate: float | None = None) -> np.ndarray:
    """What a receiver's audio output is for the received IQ ``iq`` of ``link``: SSB audio (the
    signal on the link's audio carrier) for PSK, FM-demodulated audio for the FSK family
    (about +-0.5 at the deviation; AFSK: the tones). See
    :class:`orbitlink.flowgraphs.loopback.AudioFrontend`, which does it chunk by chunk."""
    from orbitlink.flowgraphs.loopback import to_audio as _to_audio

    return _to_audio(link, iq, samp_rate)


def check_payload(link: Link, b: bytes) -> str | None:
    """Why ``b`` cannot be sent on ``link`` (one phrase), or None when it can."""
    return link.framing_spec.check_payload(link.framing_opts, bytes(b), link.context())


def payload_checker(link: Link):
    """``check(b) -> str | None`` for many payloads (see :func:`check_payload`)."""
    spec = link.framing_spec
    opts, ctx = link.framing_opts, link.context()
    if type(spec).check_payload is not Framing.check_payload:  # a framing's own check
        return lambda b: spec.check_payload(opts, bytes(b), ctx)
    return spec.payload_checker(opts, ctx)


def random_payloads(link: Link, rng: np.random.Generator, n: int) -> list[bytes]:
    """``n`` random payloads of the kind the link carries (for the loopback)."""
    return list(iter_random_payloads(link, rng, n))


def iter_random_payloads(link: Link, rng: np.random.Generator, n: int) -> Iterator[bytes]:
    spec, opts = link.framing_spec, link.framing_opts
    for i in range(n):
        yield spec.random_payload(opts, rng, i)


def read_payloads(path: str) -> Iterator[tuple[str, bytes]]:
    """``(where, payload)`` for every payload of a file, unchecked, read as needed: one frame
    per line in hex (blank lines and '#' comments ignored; ``where`` is ``"line N"``), or the
    data frames of a ``.kiss`` file (``"frame N"``)."""
    p = Path(path)
    if not p.is_file():
        raise OrbitlinkError(f"{path}: payload file not found")
    if p.suffix == ".kiss":  # KISS file: its data frames are the payloads
        from orbitlink.framing.kiss import iter_kiss_file

        for n, b in enumerate(iter_kiss_file(p), 1):
            yield f"frame {n}", b
        return
    with open(p, "r", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            s = line.split("#", 1)[0].strip().replace(" ", "")
            if not s:
                continue
            try:
                yield f"line {n}", bytes.fromhex(s)
            except ValueError:
                raise OrbitlinkError(f"{path} line {n}: not a hexadecimal payload") from None


def iter_payload_file(path: str, link: Link) -> Iterator[bytes]:
    """The payloads of a file (:func:`read_payloads`); a payload the link cannot send is an
    error naming the file and line (or frame)."""
    check = payload_checker(link)
    n_out = 0
    for where, b in read_payloads(path):
        why = check(b)
        if why:
            raise OrbitlinkError(f"{path} {where}: {why}")
        n_out += 1
        yield b
    if not n_out:
        what = "frames in the KISS file" if str(path).endswith(".kiss") else \
            "payloads in the file"
        raise OrbitlinkError(f"{path}: no {what}")


def frames_from_payload_file(path: str, link: Link) -> list[bytes]:
    """Every payload of a file (see :func:`iter_payload_file`)."""
    return list(iter_payload_file(path, link))


def pdus(payloads) -> list[Pdu]:
    return [Pdu(bytes(p)) for p in payloads]
