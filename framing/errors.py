"""The framing layer's own error: every parser and deframer raises only this on bad input."""

from orbitlink import OrbitlinkError


class FrameParseError(OrbitlinkError, ValueError):
    """Bytes that are not a valid frame of the format being parsed (truncated, bad field,
    bad check). The message is one sentence naming the format and what is wrong."""
