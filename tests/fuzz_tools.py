"""Mutation fuzzing of every parser (importable as orbitlink.tests.fuzz_tools).

Every framing module exposes ``FUZZ_TARGETS`` (name -> callable taking bytes). The fuzzer feeds
each target random bytes, truncations, bit flips, byte insertions/deletions and splices of
valid frames (the seeds), and checks that it either returns or raises the project's own
:class:`~orbitlink.framing.errors.FrameParseError`: any other exception, or a call that takes
longer than a second (a hang), is a failure.

``python -m orbitlink.tests.fuzz_tools --inputs 1000000`` runs the long campaign.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections import Counter

import numpy as np

from orbitlink.framing.errors import FrameParseError


def targets() -> dict:
    """All fuzz targets of the framing package, ``module:name -> callable``."""
    import orbitlink.framing as pkg

    out = {}
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        mod = importlib.import_module(m.name)
        for name, fn in getattr(mod, "FUZZ_TARGETS", {}).items():
            out[f"{m.name.rsplit('.', 1)[1]}:{name}"] = fn
    return out


def seeds() -> dict:
    """Valid inputs per module (``FUZZ_SEEDS`` of each module, name -> list of bytes)."""
    import orbitlink.framing as pkg

    out = {}
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        mod = importlib.import_module(m.name)
        for name, items in getattr(mod, "FUZZ_SEEDS", {}).items():
            out[f"{m.name.rsplit('.', 1)[1]}:{name}"] = [bytes(b) for b in items]
    return out


def mutate(rng: np.random.Generator, seed: bytes) -> bytes:
    kind = int(rng.integers(0, 6))
    b = bytearray(seed)
    if kind == 0 or not b:  # random bytes
        return bytes(rng.integers(0, 256, int(rng.integers(0, 300)), dtype=np.uint8))
    if kind == 1:  # truncation
        return bytes(b[: int(rng.integers(0, len(b)))])
    if kind == 2:  # bit flips
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(0, len(b)))
            b[i] ^= 1 << int(rng.integers(0, 8))
        return bytes(b)
    if kind == 3:  # insert / delete bytes
        i = int(rng.integers(0, len(b) + 1))
        if rng.integers(0, 2):
            return bytes(b[:i] + bytes(rng.integers(0, 256, int(rng.integers(1, 5)),
                                                    dtype=np.uint8)) + b[i:])
        return bytes(b[:i] + b[i + int(rng.integers(1, 5)):])
    if kind == 4:  # overwrite a header byte with an extreme value
        i = int(rng.integers(0, min(len(b), 12)))
        b[i] = int(rng.choice([0x00, 0xFF, 0x7F, 0x80]))
        return bytes(b)
    return bytes(b) + bytes(rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8))


def run(n_inputs: int, seed: int = 0, max_call_s: float = 1.0) -> dict:
    """Fuzz every target with about ``n_inputs`` inputs in total.

    Returns ``{"inputs": n, "per_target": {...}, "failures": [...], "parse_errors": k,
    "accepted": m, "seconds": t}``.
    """
    tg = targets()
    sd = seeds()
    rng = np.random.default_rng(seed)
    per = max(1, -(-n_inputs // max(len(tg), 1)))  # at least n_inputs in total
    failures = []
    counts = Counter()
    n = rejected = accepted = 0
    t0 = time.perf_counter()
    for name, fn in sorted(tg.items()):
        pool = sd.get(name) or [b""]
        for _ in range(per):
            data = mutate(rng, pool[int(rng.integers(0, len(pool)))])
            t1 = time.perf_counter()
            try:
                fn(data)
                accepted += 1
            except FrameParseError:
                rejected += 1
            except Exception as e:  # noqa: BLE001 - this is what the fuzzer looks for
                failures.append((name, data.hex(), f"{type(e).__name__}: {e}"))
            dt = time.perf_counter() - t1
            if dt > max_call_s:
                failures.append((name, data.hex(), f"took {dt:.2f} s"))
            n += 1
            counts[name] += 1
    return {"inputs": n, "per_target": dict(counts), "failures": failures,
            "parse_errors": rejected, "accepted": accepted,
            "seconds": round(time.perf_counter() - t0, 2)}


if __name__ == "__main__":  # pragma: no cover
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    r = run(a.inputs, a.seed)
    print(json.dumps({k: v for k, v in r.items() if k != "failures"}, indent=1))
    for f in r["failures"][:20]:
        print("FAIL", *f)
    raise SystemExit(1 if r["failures"] else 0)
