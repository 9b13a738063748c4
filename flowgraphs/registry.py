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


def all_framings() -> dict:
    """Name -> :class:`orbitlink.framing.registry.Framing`, after importing every framing
    module (a framing registers itself beside its blocks)."""
    from orbitlink.framing.registry import FRAMINGS

    if not _loaded["framing"]:
        import orbitlink.framing as pkg

        for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            importlib.import_module(m.name)
        _loaded["framing"] = True
    return FRAMINGS


def all_modulations() -> dict:
    """Name -> :class:`orbitlink.modem.modulation.ModulationType` (PSK and the FSK family)."""
    from orbitlink.modem import fsk  # noqa: F401  (registers the FSK family)
    from orbitlink.modem.modulation import MODULATION_TYPES

    return MODULATION_TYPES


_loaded = {"framing": False}


def all_endpoints() -> tuple[dict, dict]:
    """(sources, sinks): name -> class, after importing the modules that define them."""
    from orbitlink.drivers.interfaces import SINKS, SOURCES

    for name in ("orbitlink.drivers", "orbitlink.flowgraphs.sinks",
                 "orbitlink.flowgraphs.station_sinks"):
        mod = importlib.import_module(name)
        if hasattr(mod, "__path__"):
            for m in pkgutil.walk_packages(mod.__path__, mod.__name__ + "."):
                importlib.import_module(m.name)
    return SOURCES, SINKS
