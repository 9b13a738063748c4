"""Frame codecs: ordered stages, each with ``encode``, ``decode`` and ``encoded_length``.

A :class:`FrameCodec` is a list of stages applied in order to encode a frame and in reverse
order to decode it; the decoder is the encoder's stages run backwards, so the two cannot drift
apart. The deframer asks the codec for the frame length (``encoded_length``), so the length on
the air always follows from the configuration.

Stages work on bytes, except :class:`ConvStage`, whose encoded form is the coded bit stream
(u8, one bit per item) and whose decoder takes LLRs (float32, positive = 1).

``decode`` returns ``(data, info)``: ``info`` collects what each stage learned (``rs_ok``,
``rs_corrected``, ``crc_ok``, ``asm_errors``...). A frame that fails a check is a result
(``info['ok'] is False``), not an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink.modem.fec.crc import crc16_ccitt


def _as_bytes(data, who: str) -> bytes:
    if isinstance(data, np.ndarray) and data.dtype == np.uint8:
        return data.tobytes()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise OrbitlinkError(f"{who}: frame data must be bytes, not {type(data).__name__}")
    return bytes(data)


class Stage:
    """One step of a frame codec."""

    name = "stage"

    def encode(self, data):
        raise NotImplementedError

    def decode(self, data, info: dict):
        raise NotImplementedError

    def encoded_length(self, n: int) -> int:
        return n


@dataclass
class AsmStage(Stage):
    """Attached sync marker in front of the frame (CCSDS 131.0-B section 9: 1ACFFC1D)."""

    asm: str = "1ACFFC1D"
    name = "asm"

    def __post_init__(self):
        try:
            self.marker = bytes.fromhex(self.asm)
        except ValueError:
            raise OrbitlinkError(f"sync marker {self.asm!r} is not hexadecimal") from None

    def encode(self, data):
        return self.marker + _as_bytes(data, "asm")

    def decode(self, data, info):
        data = _as_bytes(data, "asm")
        n = len(self.marker)
        if len(data) < n:
            raise OrbitlinkError(f"asm: frame of {len(data)} bytes is shorter than the marker")
        diff = np.unpackbits(np.frombuffer(bytes(a ^ b for a, b in zip(data[:n], self.marker)),
                                           np.uint8))
        info["asm_errors"] = int(diff.sum())
        return data[n:]

    def encoded_length(self, n):
        return n + len(self.marker)


@dataclass
class RandomizerStage(Stage):
    """CCSDS TM pseudo-randomizer (131.0-B section 10), XORed over the whole codeblock."""

    name = "randomizer"

    def encode(self, data):
        from orbitlink.modem.fec.scramble import randomize

        return randomize(_as_bytes(data, "randomizer"))

    def decode(self, data, info):
        return self.encode(data)


@dataclass
class RsStage(Stage):
    """Reed-Solomon (255,223) E=16 or (255,239) E=8, interleaving depth 1-8, virtual fill."""

    e: int = 16
    basis: str = "dual"
    interleave: int = 1
    virtual_fill: int = 0
    name = "rs"

    def __post_init__(self):
        from orbitlink.modem.fec.rs import ReedSolomon

        self.rs = ReedSolomon(e=self.e, basis=self.basis, interleave=self.interleave,
                              virtual_fill=self.virtual_fill)

    def encode(self, data):
        return self.rs.encode(_as_bytes(data, "rs"))

    def decode(self, data, info):
        r = self.rs.decode(_as_bytes(data, "rs"))
        info["rs_ok"] = bool(r.ok)
        info["rs_corrected"] = int(r.total_corrected) if r.ok else -1
        if not r.ok:
            info["ok"] = False
        return r.data

    def encoded_length(self, n):
        return self.rs.encoded_length(n)


@dataclass
class CrcStage(Stage):
    """CRC-16/CCITT-FALSE appended MSB first (the CCSDS frame error control field)."""

    name = "crc16"

    def encode(self, data):
        data = _as_bytes(data, "crc16")
        c = crc16_ccitt(data)
        return data + bytes([c >> 8, c & 0xFF])

    def decode(self, data, info):
        data = _as_bytes(data, "crc16")
        if len(data) < 2:
            raise OrbitlinkError("crc16: frame shorter than its CRC")
        ok = crc16_ccitt(data[:-2]) == int.from_bytes(data[-2:], "big")
        info["crc_ok"] = ok
        if not ok:
            info["ok"] = False
        return data[:-2]

    def encoded_length(self, n):
        return n + 2


@dataclass
class ConvStage(Stage):
    """Convolutional code r=1/2 K=7 (and punctured rates) over a terminated frame.

    encode: bytes -> coded bits (u8, one per item, 6 tail bits added); decode: LLRs
    (float32, positive = 1) -> bytes. ``encoded_length`` counts coded *bits*.
    """

    variant: str = "CCSDS"
    rate: str = "1/2"
    name = "conv"

    def __post_init__(self):
        from orbitlink.modem.fec.conv import ConvCode

        self.code = ConvCode(self.variant, self.rate)

    def encode(self, data):
        bits = np.unpackbits(np.frombuffer(_as_bytes(data, "conv"), np.uint8))
        return self.code.encode(bits, terminate=True)

    def decode(self, llr, info):
        bits = self.code.decode_terminated(np.asarray(llr, np.float32))
        return np.packbits(bits).tobytes()

    def encoded_length(self, n):
        return self.code.coded_length(8 * n + 6)


class FrameCodec:
    """Ordered stages: ``encode`` runs them first to last, ``decode`` last to first."""

    def __init__(self, stages: list[Stage]):
        self.stages = list(stages)

    def encode(self, payload):
        x = payload
        for s in self.stages:
            x = s.encode(x)
        return x

    def decode(self, block):
        info: dict = {"ok": True}
        x = block
        for s in reversed(self.stages):
            x = s.decode(x, info)
        return x, info

    def encoded_length(self, n: int) -> int:
        for s in self.stages:
            n = s.encoded_length(n)
        return n

    def __repr__(self):
        return "FrameCodec(" + " -> ".join(s.name for s in self.stages) + ")"
