"""The framing registry: every frame format a link can name, declared once beside its blocks.

The pattern is gr-satellites' deframer table (name -> classes + options). A framing module
declares its format at its end::

    register_framing(Framing(
        name="hdlc", doc="AX.25 over HDLC ...",
        framer=HdlcFramer, deframer=HdlcDeframer,
        presets={"nrzi": True, "preamble_flags": 16, "postamble_flags": 4},
        emit_failed="emit_bad_fcs", index="bit"))

and the link layer (``orbitlink.flowgraphs.links``) builds every link from that declaration
alone: it keeps no table of framing names, keys or defaults of its own.

What a link file's ``framing:`` section may set is the union of the framer's and deframer's
parameter fields, less the ``context`` fields that the link itself supplies (modulation, sample
rate, ...), plus the framing's ``link_keys`` (options that are not block parameters, with their
defaults). A key the link does not give keeps the block's own default, unless the framing
declares a link-level ``preset`` for it (e.g. HDLC links are NRZI-coded with 16 flags of
preamble, while the bare framer block sends one flag, uncoded).

Every frame a deframer emits names what vouches for it in ``meta["check"]`` (``crc``, ``fcs``,
``rs``, ``golay+rs``, ...; ``none`` when nothing checked it) and, when it emits frames that
failed, its verdict (``crc_ok``, ``fcs_ok`` or ``rs_ok``). A frame whose check is ``none``, or
whose deframer names none, is never counted as good
(:class:`orbitlink.framing._base.FrameMeta`).

A framing whose needs go beyond framer + deframer (a packetizer before the framer, a line code
after it, a check after the deframer) subclasses :class:`Framing` and overrides
:meth:`Framing.tx_frame_blocks`, :meth:`Framing.tx_bit_blocks`, :meth:`Framing.rx_blocks`,
:meth:`Framing.payload_len`, :meth:`Framing.check_payload` or :meth:`Framing.random_payload`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink.modem.block import Block, ParamError, Pdu, coerce_params

__all__ = ["Framing", "LinkContext", "FramingError", "FRAMINGS", "register_framing",
           "unregister_framing", "get_framing"]


class FramingError(OrbitlinkError, ValueError):
    """A framing section names an unknown type or key, or a bad value."""


@dataclass(frozen=True)
class LinkContext:
    """What a link supplies to its framing blocks (the ``context`` fields)."""

    modulation: str  # PSK modulation; "bpsk" for the FSK family (one real bit per symbol)
    differential: bool  # differential PSK (the link's key, not a framing option)
    samp_rate: float  # Hz, of the receiver's input
    symbol_rate: float  # Bd
    bits_per_symbol: int = 1


def _fields(cls) -> dict:
    return {f.name: f for f in dataclasses.fields(cls.Params)} if cls is not None else {}


@dataclass
class Framing:
    """One frame format: its blocks and the options a link may set.

    Attributes
    ----------
    name : str
        The ``framing.type`` a link file names.
    doc : str
        One line for ``orbitlink links`` and the docs.
    framer, deframer : Block subclasses
        PDUs -> u8 channel bits; soft symbols/bits -> PDUs.
    context : tuple of str
        Parameter fields the link fills in (from :class:`LinkContext`), never the link file.
    presets : dict
        Link-level defaults that differ from the blocks' own defaults.
    link_keys : dict
        Options that are not block parameters (name -> default), read by overridden methods.
    emit_failed : str or None
        The deframer parameter that makes it also emit frames that fail their check (the
        loopback counts their bit errors).
    index : {"sample", "bit"}
        What the deframer's ``sample_index`` counts: input samples (symbol deframers) or
        channel bits (bit and soft-bit deframers), which the link turns into samples.
    """

    name: str
    doc: str
    framer: type
    deframer: type
    context: tuple = ()
    presets: dict = field(default_factory=dict)
    link_keys: dict = field(default_factory=dict)
    emit_failed: str | None = None
    index: str = "sample"

    CONTEXT_FIELDS: ClassVar[tuple] = tuple(f.name for f in dataclasses.fields(LinkContext))

    def __post_init__(self):
        for cls in (self.framer, self.deframer):
            if not (isinstance(cls, type) and issubclass(cls, Block)):
                raise TypeError(f"framing {self.name!r}: {cls!r} is not a Block class")
        if self.framer.in_type != "pdu" or self.framer.out_type != "u8":
            raise TypeError(f"framing {self.name!r}: the framer must turn PDUs into u8 bits")
        if self.deframer.out_type != "pdu":
            raise TypeError(f"framing {self.name!r}: the deframer must output PDUs")
        if self.index not in ("sample", "bit"):
            raise TypeError(f"framing {self.name!r}: index must be 'sample' or 'bit'")
        known = self.block_keys() | set(self.link_keys)
        bad = sorted(set(self.presets) - known)
        if bad:
            raise TypeError(f"framing {self.name!r}: preset {bad[0]!r} is no option")
        if self.emit_failed and self.emit_failed not in _fields(self.deframer):
            raise TypeError(f"framing {self.name!r}: the deframer has no {self.emit_failed!r}")
        bad = sorted(set(self.context) - set(self.CONTEXT_FIELDS))
        if bad:
            raise TypeError(f"framing {self.name!r}: {bad[0]!r} is not a context field")

    # options -----------------------------------------------------------------------------
    def block_keys(self) -> set:
        return (set(_fields(self.framer)) | set(_fields(self.deframer))) - set(self.context)

    def options(self) -> list:
        """Every key a link's framing section may set (besides ``type``), sorted."""
        return sorted(self.block_keys() | set(self.link_keys))

    def resolve(self, section: dict, where: str) -> dict:
        """The options of a link's framing section: unknown keys are errors naming the file
        and key; presets and link-key defaults are filled in."""
        unknown = sorted(set(section) - set(self.options()) - {"type"})
        if unknown:
            raise FramingError(f"{where}: unknown key 'framing.{unknown[0]}' for framing "
                               f"'{self.name}' (known: {', '.join(self.options())})")
        opts = {**self.link_keys, **self.presets}
        opts.update({k: v for k, v in section.items() if k != "type"})
        return opts

    def _params(self, cls, opts: dict, ctx: LinkContext, where: str, **extra):
        names = _fields(cls)
        kw = {k: v for k, v in opts.items() if k in names and k not in self.context}
        for k in self.context:
            if k in names:
                kw[k] = getattr(ctx, k)
        kw.update({k: v for k, v in extra.items() if k in names})
        try:
            return coerce_params(cls.Params, _whole_ints(cls.Params, kw), where)
        except TypeError as e:  # a value of the wrong kind (e.g. a mapping for a number)
            raise ParamError(f"{where}: {e}") from None

    # blocks ------------------------------------------------------------------------------
    def framer_block(self, opts: dict, ctx: LinkContext, where: str = "") -> Block:
        return self.framer(self._params(self.framer, opts, ctx, f"{where}: framing"))

    def deframer_block(self, opts: dict, ctx: LinkContext, emit_failed: bool | None = None,
                       where: str = "") -> Block:
        extra = {}
        if emit_failed is not None and self.emit_failed:
            extra[self.emit_failed] = bool(emit_failed)
        return self.deframer(self._params(self.deframer, opts, ctx, f"{where}: framing",
                                          **extra))

    def tx_frame_blocks(self, opts: dict, ctx: LinkContext, where: str = "") -> list:
        """PDUs (payloads) -> PDUs -> ... -> u8 frame bits: the blocks before the idle bits
        between frames are inserted. The last one is the framer."""
        return [self.framer_block(opts, ctx, where)]

    def tx_bit_blocks(self, opts: dict, ctx: LinkContext, where: str = "") -> list:
        """u8 -> u8: what codes the whole bit stream (idle bits included) after framing, e.g.
        a convolutional encoder or a line code."""
        return []

    def rx_blocks(self, opts: dict, ctx: LinkContext, emit_failed: bool | None = None,
                  where: str = "") -> list:
        """From the deframer's input (or a stream block before it) to PDUs."""
        return [self.deframer_block(opts, ctx, emit_failed, where)]

    def stream_code_rate(self, opts: dict, ctx: LinkContext) -> float:
        """Bits into :meth:`tx_bit_blocks` per bit out (a convolutional code's rate)."""
        return 1.0

    def code_rate(self, opts: dict, ctx: LinkContext) -> float:
        """Information bits per channel bit of the FEC (1 when uncoded)."""
        return 1.0

    # payloads ----------------------------------------------------------------------------
    def payload_len(self, opts: dict) -> int | None:
        """Fixed payload length in bytes, or None when payloads vary."""
        return None

    def check_payload(self, opts: dict, data: bytes, ctx: LinkContext) -> str | None:
        """Why ``data`` cannot be sent (one phrase), or None. Default: the framer refuses it."""
        return self.payload_checker(opts, ctx)(data)

    def payload_checker(self, opts: dict, ctx: LinkContext):
        """``check(data) -> str | None`` (see :meth:`check_payload`), built once for many
        payloads."""
        n = self.payload_len(opts)
        framer = self.framer_block(opts, ctx)

        def check(data):
            if n is not None and len(data) != n:
                return f"payload has {len(data)} bytes but the link carries {n}-byte payloads"
            try:
                framer.process([Pdu(bytes(data))])
            except OrbitlinkError as e:
                return str(e).rstrip(".")
            return None

        return check

    def random_payload(self, opts: dict, rng: np.random.Generator, i: int) -> bytes:
        """The ``i``-th random payload of a loopback (``rng`` is drawn from in order)."""
        n = self.payload_len(opts)
        if n is not None:
            return bytes(rng.integers(0, 256, n, dtype=np.uint8))
        size = int(rng.integers(1, 300))
        return bytes(rng.integers(0, 256, size, dtype=np.uint8))


def _whole_ints(params_cls, kw: dict) -> dict:
    """YAML ``64.0`` for an ``int`` parameter becomes ``64``; other values go to validation."""
    ints = {f.name for f in dataclasses.fields(params_cls) if f.type in (int, "int")}
    return {k: (int(v) if k in ints and isinstance(v, float) and v.is_integer() else v)
            for k, v in kw.items()}


#: name -> :class:`Framing`, filled by the framing modules when they are imported
FRAMINGS: dict[str, Framing] = {}


def register_framing(spec: Framing) -> Framing:
    if spec.name in FRAMINGS and FRAMINGS[spec.name] is not spec:
        raise ValueError(f"framing {spec.name!r} registered twice")
    FRAMINGS[spec.name] = spec
    return spec


def unregister_framing(name: str) -> None:
    FRAMINGS.pop(name, None)


def get_framing(name, where: str) -> Framing:
    """The framing called ``name``; an unknown name is an error naming the file and key."""
    if not isinstance(name, str) or name not in FRAMINGS:
        raise FramingError(f"{where}: 'framing.type' must be one of "
                           f"{', '.join(sorted(FRAMINGS))}, got {name!r}")
    return FRAMINGS[name]
