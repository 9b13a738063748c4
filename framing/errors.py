"""The framing layer's own error: every parser and deframer raises only this on bad input."""

from orbitlink import OrbitlinkError


class FrameParseError(OrbitlinkError, ValueError):
    """Bytes that are not a valid frame of the format being parsed (truncated, bad field,
    bad check). The message is one sentence naming the format and what is wrong."""


class FrameBuildError(OrbitlinkError, ValueError):
    """Arguments a framing function cannot work with: a header field out of its range or a data
    field of the wrong length when building a frame, or an option value it does not know. The
    message is one sentence naming the format and the argument."""


def construct_reason(e: Exception) -> str:
    """One line from a ``construct`` error: the field it failed in and why, e.g.
    ``packet_version_number: expected 0 but parsed 7`` (construct's own message spans lines)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    path = str(getattr(e, "path", None) or "")
    field = path.rsplit("->", 1)[-1].strip() if "->" in path else ""
    why = lines[-1] if lines else type(e).__name__
    if why.startswith("Error in path"):
        why = type(e).__name__
    for verb in ("parsing ", "building "):
        if why.startswith(verb):
            why = why[len(verb):]
    return f"{field}: {why}" if field else why
