"""The block registry, complete: every module of the lower layers is imported here.

:data:`orbitlink.modem.block.REGISTRY` is the one source of truth for validation, the CLI's
``orbitlink blocks`` help and the docs; this module makes sure it is fully populated by
importing every module under ``orbitlink.modem``, ``orbitlink.framing`` and
``orbitlink.drivers`` (a block registers itself when its module is imported).
"""

from __future__ import annotations

import importlib
import pkgutil

from orbitlink.modem.block import REGISTRY

BLOCK_PACKAGES = ("orbitlink.modem", "orbitlink.framing", "orbitlink.drivers")


def all_blocks() -> dict:
    """Name -> block class, after importing every module of the block packages."""
    for name in BLOCK_PACKAGES:
        pkg = importlib.import_module(name)
        for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            importlib.import_module(m.name)
    return dict(REGISTRY)
