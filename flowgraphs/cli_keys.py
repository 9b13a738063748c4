"""``orbitlink keys DIR [--name NAME]``: a CURVE key pair for the bus's transmit and control
sockets (:func:`orbitlink.flowgraphs.bus.make_keys`).

Writes ``DIR/NAME.key`` (the public key: give it to the other side, or put a client's in the
server's directory of authorised keys) and ``DIR/NAME.key_secret`` (mode 0600, keep it), in
the certificate format ``zmq.auth.load_certificate`` reads, and prints both paths and the
public key. An existing pair is not overwritten unless ``--force``.

:func:`add_parsers` adds the subcommand to the ``orbitlink`` parser's subparsers;
:func:`main` runs it on its own (the conventions of ``orbitlink.flowgraphs.cli.main``).
"""

from __future__ import annotations

import os
import re

from orbitlink import OrbitlinkError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class KeysError(OrbitlinkError):
    """The key pair cannot be written where it was asked to."""


def cmd_keys(args) -> int:
    import zmq.auth

    from orbitlink.flowgraphs.bus import make_keys

    name = args.name
    if not _NAME.match(name) or len(name) > 100:
        raise KeysError(f"key name {name!r} must be letters, digits, '.', '_' or '-' (not "
                        "starting with '.' or '-')")
    d = args.dir
    if os.path.exists(d) and not os.path.isdir(d):
        raise KeysError(f"{d}: not a directory")
    targets = [os.path.join(d, f"{name}.key"), os.path.join(d, f"{name}.key_secret")]
    there = [t for t in targets if os.path.exists(t)]
    if there and not args.force:
        raise KeysError(f"{there[0]} already exists (use --force to replace the pair)")
    try:
        pub, sec = make_keys(d, name)
    except OSError as e:
        raise KeysError(f"{d}: cannot write the key pair ({e.strerror or e})") from None
    public, _ = zmq.auth.load_certificate(pub)
    print(f"public key  {pub}")
    print(f"secret key  {sec}")
    print(f"public      {public.decode()}")
    return 0


def add_parsers(sub) -> None:
    """Add ``keys`` to the ``orbitlink`` subparsers."""
    p = sub.add_parser("keys", help="make a CURVE key pair for the bus's transmit and control "
                       "sockets",
                       description="Make a CURVE key pair: DIR/NAME.key (public, give it to "
                                   "the other side) and DIR/NAME.key_secret (mode 0600). A "
                                   "server binding the transmit or control socket beyond "
                                   "loopback needs its own pair and its clients' public keys.")
    p.add_argument("dir", metavar="DIR", help="directory to write the pair in (made if needed)")
    p.add_argument("--name", default="orbitlink",
                   help="base name of the files (default: orbitlink)")
    p.add_argument("--force", action="store_true", help="replace an existing pair")
    p.set_defaults(func=cmd_keys)


def main(argv=None) -> int:
    """``keys`` on its own: errors a user can cause exit 2 with one sentence."""
    from orbitlink.flowgraphs.cli import standalone_main

    return standalone_main(add_parsers, "CURVE keys for the bus.", argv)


if __name__ == "__main__":
    raise SystemExit(main())
