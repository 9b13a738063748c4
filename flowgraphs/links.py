"""Link definitions: short YAML files describing a radio link, and the blocks they expand to.

A link file (format 1)::

    format: 1
    name: qpsk
    description: ...
    modulation: qpsk            # bpsk | qpsk | oqpsk | 8psk
    differential: false
    symbol_rate: 9600           # Bd
    samp_rate: 38400            # Hz, of the recordings the link writes (any ratio)
    rrc_alpha: 0.35
    preamble_symbols: 2048      # idle (pseudo-random) symbols before the first frame
    gap_symbols: 32             # idle symbols between frames
    postamble_symbols: 64       # idle symbols after the last frame
    framing: {type: sync_crc, sync_word: 1ACFFC1D, payload_len: 64, crc: crc16, max_errors: 3}
    receiver: {}                # overrides of the PskDemodulator parameters

Unknown keys and bad values are errors naming the file and the key. The packaged links live in
``orbitlink/flowgraphs/links/``; ``--link`` also takes the path of a YAML file.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from orbitlink import OrbitlinkError
from orbitlink.framing.coded import CodedDeframer, CodedFrameParams, CodedFramer
from orbitlink.framing.syncframe import SyncDeframer, SyncFramer, SyncFrameParams
from orbitlink.modem.block import ParamError, Pdu, coerce_params
from orbitlink.modem.modulation import MODULATIONS
from orbitlink.modem.psk import PskDemodulator, PskDemodulatorParams, PskModulator

FORMAT = 1
PSK_MODULATIONS = MODULATIONS
FSK_MODULATIONS = ("fsk", "gfsk", "gmsk", "afsk")
ALL_MODULATIONS = PSK_MODULATIONS + FSK_MODULATIONS
_TOP_KEYS = {"format", "name", "description", "modulation", "differential", "symbol_rate",
             "samp_rate", "rrc_alpha", "preamble_symbols", "gap_symbols", "postamble_symbols",
             "framing", "receiver", "deviation", "mod_index", "bt", "mark", "space",
             "audio_carrier", "medium"}
#: ``--set`` keys that are other names of link keys
ALIASES = {"baud": "symbol_rate", "baudrate": "symbol_rate"}
MEDIA = ("iq", "audio")
FRAMING_TYPES = {
    # type: (params class of the deframer, keys the link file may set)
    "sync_crc": (SyncFrameParams, {"sync_word", "payload_len", "crc", "max_errors", "min_corr"}),
    "ccsds": (CodedFrameParams, ({f.name for f in dataclasses.fields(CodedFrameParams)}
                                 - {"modulation", "samp_rate"}) | {"packets", "scid", "vcid"}),
    # AX.25 over HDLC (flags, bit stuffing, FCS), optionally NRZI and G3RUH
    "hdlc": (None, {"nrzi", "g3ruh", "preamble_flags", "postamble_flags", "min_length",
                    "max_length"}),
    # CCSDS TC: TC Transfer Frames in CLTUs (BCH codeblocks), NRZ-M line coding
    "cltu": (None, {"nrzm", "randomize", "acquisition_bytes", "max_errors", "fecf"}),
    # GOMspace NanoCom AX100: ASM+Golay mode or Reed-Solomon mode
    "ax100": (None, {"mode", "max_errors", "sync_word", "preamble_len", "postamble_len",
                     "scrambler", "rs"}),
    # GOMspace U482C: ASM + Golay header, optional conv / scrambler / RS per frame
    "u482c": (None, {"max_errors", "viterbi", "scrambler", "rs", "preamble_len",
                     "postamble_len"}),
    # FUNcube / AO-40 FEC: 256-byte blocks, 5200 channel bits with a distributed sync vector
    "ao40": (None, {"max_errors"}),
}
#: link-level keys of a framing section, not parameters of the deframer block
_LINK_KEYS = {"packets", "scid", "vcid"}


class _Loader(yaml.SafeLoader):
    """YAML loader that also reads 1e6 and 2.5E-3 as numbers (YAML 1.2 floats)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def _yaml(text):
    return yaml.load(text, Loader=_Loader)


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
    def sps(self) -> float:
        return self.samp_rate / self.symbol_rate

    @property
    def family(self) -> str:
        """``"psk"`` or ``"fsk"`` (the FSK family includes AFSK, GFSK and GMSK)."""
        return "fsk" if self.modulation in FSK_MODULATIONS else "psk"

    @property
    def bits_per_symbol(self) -> int:
        return {"qpsk": 2, "oqpsk": 2, "8psk": 3}.get(self.modulation, 1)

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

    @property
    def payload_len(self) -> int | None:
        """Fixed payload length in bytes, or None when payloads vary (packets, AX.25, TC)."""
        if self.framing_type == "ao40":
            return 256
        if self.framing_type in ("hdlc", "cltu", "ax100", "u482c") or self.packets:
            return None
        return int(self.framing["payload_len"])

    @property
    def packets(self) -> bool:
        """CCSDS TM frames carrying Space Packets (payloads are packets, not frames)."""
        return self.framing_type == "ccsds" and bool(self.framing.get("packets", False))

    @property
    def framing_type(self) -> str:
        return self.framing.get("type", "sync_crc")

    @property
    def conv(self) -> str:
        """Convolutional code variant over the stream ("none" without one)."""
        if self.framing_type != "ccsds":
            return "none"
        return self._frame_params(self.samp_rate).conv

    # blocks --------------------------------------------------------------------------------
    def _fkw(self, *names, **defaults):
        """Framing keys given in the link (only those), for a block's keyword arguments."""
        kw = {k: self.framing[k] for k in names if k in self.framing}
        for k, v in defaults.items():
            kw.setdefault(k, v)
        return kw

    def framer(self):
        t = self.framing_type
        if t == "sync_crc":
            return SyncFramer(self._frame_params(self.samp_rate))
        if t == "ccsds":
            return CodedFramer(self._frame_params(self.samp_rate))
        if t == "hdlc":
            from orbitlink.framing.hdlc import HdlcFramer

            f = self.framing
            return HdlcFramer(nrzi=bool(f.get("nrzi", True)), g3ruh=bool(f.get("g3ruh", False)),
                              preamble_flags=int(f.get("preamble_flags", 16)),
                              postamble_flags=int(f.get("postamble_flags", 4)))
        if t == "ax100":
            from orbitlink.framing.ax100 import Ax100Framer

            return Ax100Framer(**self._fkw("mode", "preamble_len", "postamble_len", "scrambler",
                                           "rs"))
        if t == "u482c":
            from orbitlink.framing.u482c import U482cFramer

            return U482cFramer(**self._fkw("viterbi", "scrambler", "rs", "preamble_len",
                                           "postamble_len"))
        if t == "ao40":
            from orbitlink.framing.ao40 import Ao40Framer

            return Ao40Framer()
        from orbitlink.framing.cltu import CltuEncoder

        return CltuEncoder(acquisition_bytes=int(self.framing.get("acquisition_bytes", 16)),
                           randomize=bool(self.framing.get("randomize", False)))

    def packetizer(self):
        """TX: Space Packets to TM frames (CCSDS packet links only)."""
        from orbitlink.framing.space_packet import TmPacketizer

        return TmPacketizer(frame_len=int(self.framing["payload_len"]),
                            scid=int(self.framing.get("scid", 0)),
                            vcid=int(self.framing.get("vcid", 0)), fecf=True)

    def precoder(self):
        """TX: the differential (NRZ-M) precoder between the framer and the convolutional
        encoder (CCSDS framing with ``differential: true``), or None."""
        if self.framing_type == "ccsds" and self.framing.get("differential", False):
            from orbitlink.modem.fec.line import NrzmEncoder

            return NrzmEncoder()
        return None

    def line_encoder(self):
        """TX: the line code applied to the channel bits, or None."""
        if self.framing_type == "cltu" and self.framing.get("nrzm", True):
            from orbitlink.modem.fec.line import NrzmEncoder

            return NrzmEncoder()
        return None

    def conv_encoder(self):
        """The stream-level convolutional encoder of the link, or None."""
        if self.conv == "none":
            return None
        from orbitlink.modem.fec.conv import ConvEncoder

        p = self._frame_params(self.samp_rate)
        return ConvEncoder(variant=p.conv, rate=p.conv_rate)

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
        if self.family == "psk" and medium == "audio":
            from orbitlink.modem.audio import SsbToIq

            front.append(SsbToIq(samp_rate=rate, symbol_rate=float(self.symbol_rate)))
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
        return front + [self.demodulator(rate, debug_taps=debug_taps, medium=medium)]

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

    def deframer(self, samp_rate: float | None = None, emit_failed: bool | None = None):
        t = self.framing_type
        if t == "sync_crc":
            return SyncDeframer(self._frame_params(samp_rate or self.samp_rate))
        if t == "ccsds":
            p = self._frame_params(samp_rate or self.samp_rate)
            if emit_failed is not None:
                p = dataclasses.replace(p, emit_failed=emit_failed)
            return CodedDeframer(p)
        f = self.framing
        if t == "hdlc":
            from orbitlink.framing.hdlc import HdlcDeframer

            return HdlcDeframer(nrzi=bool(f.get("nrzi", True)), g3ruh=bool(f.get("g3ruh", False)),
                                min_length=int(f.get("min_length", 15)),
                                max_length=int(f.get("max_length", 2048)),
                                emit_bad_fcs=bool(emit_failed))
        if t == "ax100":
            from orbitlink.framing.ax100 import Ax100DeframerSoft

            return Ax100DeframerSoft(**self._fkw("mode", "max_errors", "sync_word",
                                                 allow_inverted=True))
        if t == "u482c":
            from orbitlink.framing.u482c import U482cDeframer

            return U482cDeframer(**self._fkw("max_errors"))
        if t == "ao40":
            from orbitlink.framing.ao40 import Ao40Deframer

            return Ao40Deframer(**self._fkw("max_errors"))
        from orbitlink.framing.cltu import CltuDecoder

        return CltuDecoder(max_errors=int(f.get("max_errors", 0)),
                           randomize=bool(f.get("randomize", False)))

    @property
    def bit_deframer(self) -> bool:
        """The deframer reports positions as bit indices (not symbol/sample indices)."""
        return self.framing_type in ("hdlc", "cltu", "ax100", "u482c", "ao40")

    def rx_chain(self, samp_rate: float | None = None, emit_failed: bool | None = None,
                 debug_taps=None, medium: str = "iq") -> list:
        """The receive blocks, medium samples in (IQ c64, or audio f32), PDUs out, in order
        (a linear graph)."""
        from orbitlink.modem.fec.line import NrzmDecoderSoft, Slicer

        rate = float(samp_rate or self.samp_rate)
        chain = self.rx_front(rate, medium, debug_taps)
        dfr = self.deframer(rate, emit_failed=emit_failed)
        have = "sym" if self.family == "psk" else "f32"
        if dfr.in_type != "sym" and have == "sym":
            from orbitlink.modem.psk import SoftDemapper

            chain.append(SoftDemapper(modulation=self.modulation, differential=self.differential))
            have = "f32"
        if dfr.in_type == "sym" and have == "f32":
            from orbitlink.modem.adapters import SoftToSym

            chain.append(SoftToSym(sps=self.sps))
            have = "sym"
        if have == "f32" and self.line_encoder() is not None:
            chain.append(NrzmDecoderSoft())
        if dfr.in_type == "u8":
            chain.append(Slicer())
        chain.append(dfr)
        if self.packets:
            from orbitlink.framing.ccsds_tm import TmFrameDemux

            chain.append(TmFrameDemux(frame_len=int(self.framing["payload_len"]), fecf=True))
        return chain

    def tx_chain(self, samp_rate: float | None = None, medium: str = "iq") -> list:
        """The transmit blocks, PDUs in, medium samples (IQ or audio) out, in order."""
        extra = [self.precoder(), self.conv_encoder(), self.line_encoder()]
        head = [self.packetizer()] if self.packets else []
        return head + [self.framer()] + [b for b in extra if b is not None] + \
            self.tx_stages(samp_rate, medium)

    def finish(self, pdu, samp_rate: float | None = None):
        """Complete a received PDU's metadata: a bit deframer's bit index becomes the
        (approximate) sample index, and ``time_s`` is added."""
        rate = float(samp_rate or self.samp_rate)
        m = pdu.meta
        if self.bit_deframer:
            if "bit_index" not in m and "sample_index" in m:
                m["bit_index"] = m.pop("sample_index")
            if "bit_index" in m and "sample_index" not in m:
                m["sample_index"] = int(round(m["bit_index"] / self.bits_per_symbol * rate
                                              / self.symbol_rate))
        if "sample_index" in m and "time_s" not in m:
            m["time_s"] = round(m["sample_index"] / rate, 9)
        if self.framing_type == "cltu" and "crc_ok" not in m:
            m["crc_ok"] = check_payload(self, bytes(pdu.data)) is None  # TC frame and FECF
        m.setdefault("crc_ok", bool(m.get("fcs_ok", m.get("rs_ok", True))))
        return pdu

    def expand(self, medium: str = "iq") -> dict:
        """The explicit graph this link stands for: blocks with every parameter, in order."""
        def node(b):
            return {"block": b.name, "params": dataclasses.asdict(b.params)}

        return {"format": FORMAT, "link": self.name, "source": self.source, "medium": medium,
                "tx": [node(b) for b in self.tx_chain(medium=medium)],
                "rx": [node(b) for b in self.rx_chain(medium=medium)],
                "connections": "each block feeds the next"}

    @property
    def code_rate(self) -> float:
        """Information bits per channel bit of the FEC (convolutional x Reed-Solomon), 1 when
        uncoded; sync markers and idle symbols are not counted."""
        if self.framing_type != "ccsds":
            return 1.0
        fr = self.framer()
        r = self.conv_encoder().code.rate if self.conv != "none" else 1.0
        return r * int(self.framing["payload_len"]) / fr.frame_bytes

    def _frame_params(self, samp_rate):
        kw = {k: v for k, v in self.framing.items() if k != "type" and k not in _LINK_KEYS}
        cls = FRAMING_TYPES[self.framing_type][0]
        mod = self.modulation if self.family == "psk" else "bpsk"  # FSK: one real bit/symbol
        kw.update(modulation=mod, samp_rate=float(samp_rate))
        if cls is SyncFrameParams:
            kw.update(differential=self.differential, symbol_rate=float(self.symbol_rate))
        return coerce_params(cls, _whole_ints(cls, kw), f"{self.source or self.name}: framing")

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


def _number(d, key, where, lo=None, integer=False):
    v = d[key]
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    _check(ok, where, f"'{key}' must be a number, got {v!r}")
    if integer:
        _check(float(v).is_integer(), where, f"'{key}' must be a whole number, got {v!r}")
        v = int(v)
    if lo is not None:
        _check(v > lo if not integer else v >= lo, where,
               f"'{key}' must be {'>' if not integer else '>='} {lo}, got {v!r}")
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
    _check(doc["modulation"] in ALL_MODULATIONS, where,
           f"'modulation' must be one of {', '.join(ALL_MODULATIONS)}, got "
           f"{doc['modulation']!r}")
    fr = doc["framing"]
    _check(isinstance(fr, dict), where, "'framing' must be a mapping")
    ftype = fr.get("type", "sync_crc")
    _check(ftype in FRAMING_TYPES, where, f"'framing.type' must be one of "
           f"{', '.join(FRAMING_TYPES)}, got {ftype!r}")
    unknown = sorted(set(fr) - FRAMING_TYPES[ftype][1] - {"type"})
    _check(not unknown, where, f"unknown key 'framing.{unknown[0] if unknown else ''}'")
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
            extra[k] = float(_number(doc, k, where))
            _check(extra[k] >= 0, where, f"'{k}' must be >= 0, got {doc[k]!r}")
    link = Link(
        name=str(doc["name"]),
        description=str(doc.get("description", "")),
        modulation=doc["modulation"],
        differential=diff,
        symbol_rate=float(_number(doc, "symbol_rate", where, lo=0)),
        samp_rate=float(_number(doc, "samp_rate", where, lo=0)),
        rrc_alpha=float(_number({"rrc_alpha": doc.get("rrc_alpha", 0.35)}, "rrc_alpha", where,
                                lo=0)),
        preamble_symbols=_number({"preamble_symbols": doc.get("preamble_symbols", 2048)},
                                 "preamble_symbols", where, lo=0, integer=True),
        gap_symbols=_number({"gap_symbols": doc.get("gap_symbols", 32)}, "gap_symbols", where,
                            lo=0, integer=True),
        postamble_symbols=_number({"postamble_symbols": doc.get("postamble_symbols", 64)},
                                  "postamble_symbols", where, lo=0, integer=True),
        framing=dict(fr),
        receiver=dict(rx),
        source=where,
        medium=medium,
        **extra,
    )
    if link.family == "fsk":
        _check(not diff, where, "'differential' applies to PSK links only")
    rx_fields = {f.name for f in dataclasses.fields(link.demod_params_cls())} | {"coherent"}
    fixed = {"modulation", "symbol_rate", "samp_rate", "alpha", "input", "kind", "mark", "space",
             "bt"}
    bad = sorted(set(rx) - (rx_fields - fixed))
    _check(not bad, where, f"unknown key 'receiver.{bad[0] if bad else ''}'")
    _check(link.sps >= 1.5, where, f"samp_rate/symbol_rate must be at least 1.5, got {link.sps:.3g}")
    # build once so that every parameter is range-checked now, with the file named
    try:
        link.framer()
        link.deframer()
        link.demodulator()
    except ParamError as e:
        raise LinkError(str(e)) from None
    except OrbitlinkError as e:  # e.g. a sync word that is not hexadecimal
        raise LinkError(f"{where}: {e}") from None
    return link


def _apply_override(doc: dict, key: str, value: str, where: str):
    parts = key.split(".")
    parts[-1] = ALIASES.get(parts[-1], parts[-1]) if len(parts) == 1 else parts[-1]
    d = doc
    for p in parts[:-1]:
        d = d.setdefault(p, {})
        _check(isinstance(d, dict), where, f"--set {key}: '{p}' is not a mapping")
    try:
        d[parts[-1]] = _yaml(value)
    except yaml.YAMLError:
        d[parts[-1]] = value


def _read_text(p, where: str) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LinkError(f"{where}: a link file must be UTF-8 text") from None


def load_link(name_or_path: str, overrides: dict[str, str] | None = None) -> Link:
    """Load a packaged link by name, or a link file by path; apply ``key=value`` overrides."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise LinkError(f"{name_or_path}: link file not found")
        where, text = str(p), _read_text(p, str(p))
    else:
        f = _links_dir() / f"{name_or_path}.yaml"
        if not f.is_file():
            raise LinkError(f"unknown link '{name_or_path}'; known links: {', '.join(link_names())}")
        where, text = f"{name_or_path}.yaml", _read_text(f, f"{name_or_path}.yaml")
    try:
        doc = _yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise LinkError(f"{where}:{line} is not valid YAML") from None
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


def transmit(link: Link, payloads: list[bytes], seed: int = 0,
             samp_rate: float | None = None, medium: str = "iq") -> Burst:
    """Modulate payloads as one continuous transmission: preamble, frames with idle gaps,
    postamble (idle symbols are pseudo-random from ``seed``).

    For a packet link the payloads are Space Packets, packed into TM frames first; then
    ``frame_starts`` and ``frame_len`` describe the frames, not the packets. ``medium="audio"``
    gives the real audio a receiver would output (see :meth:`Link.tx_stages`).
    """
    rng = np.random.default_rng(seed)
    framer = link.framer()
    stages = link.tx_stages(samp_rate, medium)
    mod = stages[0]
    enc = link.conv_encoder()
    line = link.line_encoder()
    k = link.bits_per_symbol
    r = enc.code.rate if enc is not None else 1.0  # information bits per coded bit

    def idle(nsym):
        return rng.integers(0, 2, int(round(nsym * k * r))).astype(np.uint8)

    frames = list(payloads)
    if link.packets:
        frames = [bytes(p.data) for p in link.packetizer().run([Pdu(bytes(q)) for q in payloads])]
    parts = [idle(link.preamble_symbols)]
    pos = len(parts[0])
    starts_bits = []
    frame_len = 0
    for i, pl in enumerate(frames):
        fb = (framer.frame_bits(pl) if hasattr(framer, "frame_bits")
              else framer.process([Pdu(bytes(pl))]))
        starts_bits.append(pos)
        frame_len = len(fb)
        parts += [fb, idle(link.gap_symbols if i < len(frames) - 1 else link.postamble_symbols)]
        pos += len(fb) + len(parts[-1])
    if not frames:
        parts.append(idle(link.postamble_symbols))
    bits = np.concatenate(parts)
    pre = link.precoder()
    if pre is not None:
        bits = pre.run(bits)
    if enc is not None:
        bits = enc.run(bits)
    if line is not None:
        bits = line.run(bits)
    y = bits
    for st in stages:
        y = st.run(y)
    sps = float(samp_rate or link.samp_rate) / link.symbol_rate
    peak = (getattr(mod, "symbol_peak_sample", None) or getattr(mod, "symbol_sample", None)
            or (lambda kk: (kk + 0.5) * sps))
    starts = [peak(b / r / k) - sps / 2 for b in starts_bits]
    return Burst(y, starts, frame_len / r / k * sps, list(payloads), medium)


def to_audio(link: Link, iq: np.ndarray, samp_rate: float | None = None) -> np.ndarray:
    """What a receiver's audio output is for the received IQ ``iq`` of ``link``: SSB audio (the
    signal on the link's audio carrier) for PSK, FM-demodulated audio for the FSK family
    (about +-0.5 at the deviation; AFSK: the tones)."""
    rate = float(samp_rate or link.samp_rate)
    x = np.asarray(iq)
    if link.family == "psk":
        from orbitlink.modem.adapters import AudioUpconverter

        y = AudioUpconverter(samp_rate=rate, carrier=link.ssb_carrier, amplitude=0.25).run(
            x.astype(np.complex64))
        return y
    # the receiver's IF filter (Carson's bandwidth; zero-phase so frames keep their place)
    fc = link.fm_if_half_bandwidth() / rate
    if fc < 0.45:
        nt = int(8 / fc) | 1
        m = np.arange(nt) - nt // 2
        h = 2 * fc * np.sinc(2 * fc * m) * np.hamming(nt)
        x = np.convolve(x, h / h.sum(), mode="same")
    d = np.angle(x[1:] * np.conj(x[:-1])) * (rate / (2 * np.pi))  # Hz
    y = np.concatenate([[0.0], d]) / (2 * link.fsk_deviation)
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def check_payload(link: Link, b: bytes) -> str | None:
    """Why ``b`` cannot be sent on ``link`` (one phrase), or None when it can."""
    if link.payload_len is not None:
        if len(b) != link.payload_len:
            return (f"payload has {len(b)} bytes but the link carries {link.payload_len}-byte "
                    f"payloads")
        return None
    from orbitlink.framing.errors import FrameParseError

    try:
        if link.packets:
            from orbitlink.framing import space_packet

            space_packet.parse(b)
        elif link.framing_type == "hdlc":
            from orbitlink.framing import ax25

            ax25.parse(b)
        else:
            from orbitlink.framing import ccsds_tc

            ccsds_tc.parse(b, fecf=bool(link.framing.get("fecf", True)))
    except FrameParseError as e:
        return str(e).rstrip(".")
    return None


def random_payloads(link: Link, rng: np.random.Generator, n: int) -> list[bytes]:
    """``n`` random payloads of the kind the link carries (for the loopback)."""
    if link.payload_len is not None:
        return [bytes(rng.integers(0, 256, link.payload_len, dtype=np.uint8)) for _ in range(n)]
    out = []
    for i in range(n):
        size = int(rng.integers(1, 300))
        data = bytes(rng.integers(0, 256, size, dtype=np.uint8))
        if link.packets:
            from orbitlink.framing import space_packet

            out.append(space_packet.build(int(rng.integers(1, 2000)), data,
                                          sequence_count=i % 16384))
        elif link.framing_type == "hdlc":
            from orbitlink.framing import ax25

            out.append(ax25.build(ax25.ui_frame("CQ", f"N0CALL-{i % 16}", data)))
        else:
            from orbitlink.framing import ccsds_tc

            out.append(ccsds_tc.build(data[:200], scid=int(rng.integers(0, 1024)),
                                      vcid=int(rng.integers(0, 64)), sequence_number=i % 256,
                                      fecf=bool(link.framing.get("fecf", True))))
    return out


def frames_from_payload_file(path: str, link: Link) -> list[bytes]:
    """Read payloads: one frame per line in hex (blank lines and '#' comments ignored), or
    the data frames of a ``.kiss`` file."""
    p = Path(path)
    if not p.is_file():
        raise OrbitlinkError(f"{path}: payload file not found")
    if p.suffix == ".kiss":  # KISS file: its data frames are the payloads
        from orbitlink.framing.kiss import read_kiss_file

        out = read_kiss_file(p)
        for n, b in enumerate(out, 1):
            why = check_payload(link, b)
            if why:
                raise OrbitlinkError(f"{path} frame {n}: {why}")
        if not out:
            raise OrbitlinkError(f"{path}: no frames in the KISS file")
        return out
    out = []
    for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
        s = line.split("#", 1)[0].strip().replace(" ", "")
        if not s:
            continue
        try:
            b = bytes.fromhex(s)
        except ValueError:
            raise OrbitlinkError(f"{path} line {n}: not a hexadecimal payload") from None
        why = check_payload(link, b)
        if why:
            raise OrbitlinkError(f"{path} line {n}: {why}")
        out.append(b)
    if not out:
        raise OrbitlinkError(f"{path}: no payloads in the file")
    return out


def pdus(payloads) -> list[Pdu]:
    return [Pdu(bytes(p)) for p in payloads]
