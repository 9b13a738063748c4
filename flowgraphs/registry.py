"""The block registry, complete: every module that defines blocks is imported here.

:data:`orbitlink.modem.block.REGISTRY` is the one source of truth for validation, the CLI's
``orbitlink blocks`` help and the docs; this module makes sure it is fully populated.
"""

from __future__ import annotations

import importlib

from orbitlink.modem.block import REGISTRY

BLOCK_MODULES = (
    "orbitlink.modem.psk",
    "orbitlink.modem.channel",
    "orbitlink.framing.syncframe",
)


def all_blocks() -> dict:
    """Name -> block class, after importing every block module."""
    for m in BLOCK_MODULES:
        importlib.import_module(m)
    return dict(REGISTRY)
