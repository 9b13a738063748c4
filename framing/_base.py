"""Shared base of the framers that turn each PDU into a run of channel bits."""

from __future__ import annotations

import numpy as np

from orbitlink.modem.block import Block, Rate


class BitFramer(Block):
    """PDUs in, u8 bits out: subclasses define ``frame_bits(payload) -> u8 array``."""

    rate = Rate.PDU_TO_STREAM
    in_type = "pdu"
    out_type = "u8"
    stateful = False

    def frame_bits(self, payload: bytes) -> np.ndarray:
        raise NotImplementedError

    def _process(self, pdus):
        if not pdus:
            return np.zeros(0, np.uint8)
        return np.concatenate([self.frame_bits(bytes(p.data)) for p in pdus])
