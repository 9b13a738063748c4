"""Per recording of sets 1 and 2: gr-satellites' frames, ours (check passed), byte-identical.

    .venv/bin/python benchmarks/recordings_table.py [--set 1|2] [names...]

Uses the case tables of tests/test_recordings.py (set 1) and tests/test_recordings_set2.py
(set 2): the link and the user-knowable parameters only.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orbitlink.drivers.sigmf import open_recording  # noqa: E402
from orbitlink.flowgraphs.links import load_link  # noqa: E402
from orbitlink.flowgraphs.runner import decode_recording  # noqa: E402


def rows(module):
    for name in sorted(module.CASES):
        link_name, sets, family = module.CASES[name]
        theirs = module.reference_frames(name)
        rec = open_recording(module.DATA / name)
        t0 = time.perf_counter()
        frames = list(decode_recording(rec, load_link(link_name, sets)))
        dt = time.perf_counter() - t0
        good = [bytes(p.data) for p in frames if p.meta["crc_ok"]]
        same = sum(1 for f in theirs if f in good)
        yield name, family, len(theirs), len(set(good)), same, dt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=["1", "2"], action="append")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args(argv)
    from tests import test_recordings, test_recordings_set2

    sets = a.set or ["1", "2"]
    for s in sets:
        mod = test_recordings if s == "1" else test_recordings_set2
        tot = [0, 0, 0]
        print(f"\nset {s}\n{'file':<20} {'family':<48} {'gr-sat':>6} {'ours':>5} {'same':>5} "
              f"{'s':>6}")
        for name, fam, n_theirs, n_ours, same, dt in rows(mod):
            if a.names and name not in a.names:
                continue
            tot[0] += n_theirs
            tot[1] += n_ours
            tot[2] += same
            flag = "" if same == n_theirs else "  <- missing"
            print(f"{name:<20} {fam:<48} {n_theirs:>6} {n_ours:>5} {same:>5} {dt:>6.2f}{flag}",
                  flush=True)
        print(f"{'total':<20} {'':<48} {tot[0]:>6} {tot[1]:>5} {tot[2]:>5}")


if __name__ == "__main__":
    main()
