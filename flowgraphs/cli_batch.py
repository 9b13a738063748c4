"""``orbitlink batch INPUT... --out DIR``: decode an archive of recordings on Dask distributed
(:mod:`orbitlink.flowgraphs.batch`).

An embedded ``LocalCluster`` of ``--workers`` processes on 127.0.0.1 by default, or a running
cluster (``--scheduler tcp://HOST:8786``). For every recording ``DIR/<stem>.jsonl`` is what
``orbitlink decode REC --json`` prints; a summary goes to stdout, a progress bar to stderr (on
a terminal, or with ``--progress``), the frame index to ``DIR/frames.parquet`` (pyarrow) or ``DIR/frames.jsonl``, the
failed recordings to ``DIR/errors.jsonl``.

:func:`add_parsers` adds the subcommand to the ``orbitlink`` parser's subparsers;
:func:`main` runs it on its own (the conventions of ``orbitlink.flowgraphs.cli.main``).
dask is imported only when the command runs.
"""

from __future__ import annotations

import sys


def _whole(text: str, least: int) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {n}")
    return n


def _workers(text: str) -> int:
    return _whole(text, 1)


def _retries(text: str) -> int:
    return _whole(text, 0)


def _seconds(text: str) -> float:
    import argparse

    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < x < 1e6:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return x


def cmd_batch(args) -> int:
    from orbitlink.flowgraphs.batch import BatchError, run_batch
    from orbitlink.flowgraphs.cli import _overrides

    try:
        res = run_batch(args.inputs, args.out, link=args.link, overrides=_overrides(args.set),
                        workers=args.workers, scheduler=args.scheduler,
                        dashboard=args.dashboard, resume=args.resume, chunk=args.chunk,
                        retries=args.retries, timeout=args.connect_timeout,
                        progress=args.progress)
    except OSError as e:
        raise BatchError(f"{getattr(e, 'filename', '') or args.out}: "
                         f"{e.strerror or e}") from None
    except KeyboardInterrupt:
        print("orbitlink batch: interrupted; the recordings finished so far are in "
              f"{args.out} (--resume goes on from there)", file=sys.stderr)
        return 130
    return 1 if res["errors"] else 0


def add_parsers(sub) -> None:
    """Add ``batch`` to the ``orbitlink`` subparsers."""
    import argparse

    p = sub.add_parser("batch", help="decode an archive of recordings on Dask distributed",
                       description="Decode many recordings, one Dask task each: DIR/<stem>"
                                   ".jsonl is what 'orbitlink decode REC --json' prints; a "
                                   "summary on stdout, the frame index in DIR/frames.parquet "
                                   "(with pyarrow) or DIR/frames.jsonl, failures in "
                                   "DIR/errors.jsonl. Exit status 1 when a recording failed.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a folder (searched recursively for .sigmf-meta and .wav), a glob "
                        "(quoted; ** allowed), a recording, or a file listing recordings one "
                        "a line")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder")
    p.add_argument("--link", "-l", default=None,
                   help="link name or YAML file (default: the one each recording names)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a link parameter (repeatable)")
    p.add_argument("--workers", type=_workers, default=None, metavar="N",
                   help="worker processes of the embedded cluster (default: the cores)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="use a running Dask cluster, e.g. tcp://host:8786 (workers need "
                        "orbitlink installed and the recordings at the same paths)")
    p.add_argument("--connect-timeout", type=_seconds, default=10.0, metavar="SECONDS",
                   help="how long to try reaching --scheduler (default 10)")
    p.add_argument("--retries", type=_retries, default=2, metavar="N",
                   help="a task that fails outside the decode (an I/O error while reading, "
                        "its worker lost) is tried N more times, on any worker (default 2); a "
                        "recording that is not valid is an error at once")
    p.add_argument("--dashboard", nargs="?", const="127.0.0.1:8787", default=None,
                   metavar="HOST:PORT",
                   help="serve the embedded cluster's dashboard there and print its URL "
                        "(needs bokeh); HOST defaults to 127.0.0.1, the flag alone means "
                        "127.0.0.1:8787; off by default")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: when stderr is a terminal)")
    p.add_argument("--resume", action="store_true",
                   help="skip recordings already decoded from the same input (name, size, "
                        "mtime) with the same link and --set")
    p.add_argument("--chunk", type=_workers, default=1 << 16, metavar="SAMPLES",
                   help="samples per chunk")
    p.set_defaults(func=cmd_batch)


def main(argv=None) -> int:
    """``batch`` on its own: errors a user can cause exit 2 with one sentence."""
    from orbitlink.flowgraphs.cli import standalone_main

    return standalone_main(add_parsers, "Decode an archive of recordings on Dask.", argv)


if __name__ == "__main__":
    raise SystemExit(main())
