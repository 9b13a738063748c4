"""``orbitlink kiss-server``: serve decoded frames to KISS-over-TCP clients.

``orbitlink kiss-server --link L [--in REC ...] [--port 8001] [--host 127.0.0.1]
[--tx-out FILE.kiss]`` starts :class:`orbitlink.framing.kiss_server.KissServer` (direwolf's
"network KISS": Xastir, kissutil, APRSIS32 and satellite decoders connect to it), decodes each
recording given with ``--in`` (``-``: standard input, as ``decode -``; raw input needs
``--format`` and ``--rate``) with the link's receiver and sends every frame that passes its
check to every client, in order; a recording blocks on a full queue rather than dropping.

Frames that clients submit (KISS data frames; AX.25 unless ``--no-validate``) are not
transmitted here: they are appended to ``--tx-out FILE.kiss`` (flushed frame by frame) for a
later ``orbitlink encode --in FILE.kiss``; without ``--tx-out`` they are counted and dropped.

It serves until Ctrl-C (or SIGTERM), or ``--exit-after S`` seconds after the last recording,
and then prints its counters (one JSON object on stderr, :meth:`KissServer.counters` plus
``decoded`` and ``tx_written``). ``--wait-clients N`` waits for N clients before decoding, so
that they get every frame. It binds to 127.0.0.1 unless told otherwise: clients can submit
frames to transmit, so open it wider only behind something that authenticates.

:func:`add_parsers` adds the subcommand; :func:`main` runs it on its own.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time


def _hz(text):
    from orbitlink.flowgraphs.cli import _hz as hz

    return hz(text)


def _note(msg: str) -> None:
    print(f"orbitlink kiss-server: {msg}", file=sys.stderr, flush=True)


class _TxWriter(threading.Thread):
    """Drains the server's transmit queue into a KISS file (or counts and drops)."""

    def __init__(self, srv, path):
        super().__init__(name="kiss-tx-writer", daemon=True)
        self.srv, self.path = srv, path
        self.written = 0
        self.stop = threading.Event()
        self.fh = None
        if path:
            from orbitlink.framing.kiss import KissFileError

            try:
                self.fh = open(path, "ab")
            except OSError as e:
                raise KissFileError(f"{path}: cannot write the KISS file "
                                    f"({e.strerror or e})") from None

    def run(self):
        import queue

        from orbitlink.framing.kiss import encode

        while not (self.stop.is_set() and self.srv.tx_queue.empty()):
            try:
                p = self.srv.tx_queue.get(timeout=0.05)
            except queue.Empty:
                continue
            if self.fh is not None:
                self.fh.write(encode(bytes(p.data), int(p.meta.get("port", 0))))
                self.fh.flush()
                self.written += 1

    def close(self):
        self.stop.set()
        self.join(2.0)
        if self.fh is not None:
            self.fh.close()


def _serve_recordings(args, srv, state):
    """Decode each input and broadcast its good frames (blocking on a full queue)."""
    from orbitlink.drivers.files import open_input
    from orbitlink.flowgraphs.cli import _overrides
    from orbitlink.flowgraphs.links import load_link
    from orbitlink.flowgraphs.runner import decode_recording

    for path in args.inp or []:
        rec = open_input(path, fmt=args.format, samp_rate=args.rate)
        name = args.link or rec.meta.get("global", {}).get("orbitlink:link")
        if not name:
            from orbitlink.flowgraphs.links import LinkError

            raise LinkError(f"{rec.name}: the recording does not say which link it carries; "
                            f"give --link (see 'orbitlink links')")
        link = load_link(name, _overrides(args.set))
        n = 0
        for p in decode_recording(rec, link, args.chunk):
            if not (p.meta.get("crc_ok") or args.all_frames):
                continue
            while not srv.broadcast(p):
                if state["stop"].wait(0.01):
                    return
            n += 1
            state["decoded"] += 1
        _note(f"{rec.name}: {n} frames served (link {link.name})")


def cmd_kiss_server(args) -> int:
    from orbitlink.framing.kiss_server import KissServer

    srv = KissServer(args.host, args.port, max_clients=args.max_clients,
                     idle_timeout=args.idle_timeout, validate_ax25=not args.no_validate)
    writer = _TxWriter(srv, args.tx_out)
    state = {"stop": threading.Event(), "decoded": 0, "error": None, "done": False}

    def on_signal(signum, frame):
        state["stop"].set()

    old = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, on_signal)
    srv.start()
    writer.start()
    try:
        host, port = srv.address
        _note(f"listening on {host}:{port}; frames from clients -> "
              f"{args.tx_out or '(counted and dropped: no --tx-out)'}")

        def work():
            try:
                if args.wait_clients:
                    while srv.n_clients < args.wait_clients and not state["stop"].is_set():
                        time.sleep(0.02)
                if not state["stop"].is_set():
                    _serve_recordings(args, srv, state)
            except Exception as e:  # reported by the main thread
                state["error"] = e
            finally:
                state["done"] = time.monotonic()

        t = threading.Thread(target=work, name="kiss-decode", daemon=True)
        t.start()
        while not state["stop"].is_set():
            if state["done"]:
                if state["error"] is not None:
                    break
                if args.exit_after is not None and \
                        time.monotonic() - state["done"] >= args.exit_after:
                    break
            state["stop"].wait(0.05)
        state["stop"].set()
        srv.flush(1.0)
    finally:
        srv.stop()
        writer.close()
        for sig, h in old.items():
            signal.signal(sig, h)
    c = srv.counters()
    c.update(decoded=state["decoded"], tx_written=writer.written)
    print(f"orbitlink kiss-server: {json.dumps(c)}", file=sys.stderr, flush=True)
    if state["error"] is not None:
        raise state["error"]
    return 0


def add_parsers(sub) -> None:
    """Add ``kiss-server`` to the ``orbitlink`` subparsers."""
    p = sub.add_parser("kiss-server", help="serve decoded frames to KISS-over-TCP clients",
                       description="Serve the frames decoded from recordings to KISS-over-TCP "
                                   "clients (direwolf's network KISS) and write the frames "
                                   "they submit to --tx-out FILE.kiss for 'orbitlink encode'. "
                                   "Runs until Ctrl-C, then prints its counters.")
    p.add_argument("--link", "-l", default=None,
                   help="link name or YAML file (default: the one named in the SigMF metadata)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a link parameter")
    p.add_argument("--in", dest="inp", action="append", metavar="REC",
                   help="a recording to decode and serve ('-': standard input; repeatable)")
    p.add_argument("--format", default=None, help="sample format of a raw input")
    p.add_argument("--rate", type=_hz, default=None, help="sample rate of a raw input (Hz)")
    p.add_argument("--chunk", type=int, default=1 << 16, help="samples per chunk")
    p.add_argument("--all-frames", action="store_true",
                   help="also serve frames that failed their check")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; clients can submit frames "
                        "to transmit, open it wider only behind authentication)")
    p.add_argument("--port", type=int, default=8001, help="TCP port (default 8001; 0: any)")
    p.add_argument("--tx-out", default=None, metavar="FILE.kiss",
                   help="append the frames clients submit to this KISS file (for 'orbitlink "
                        "encode --in'); without it they are counted and dropped")
    p.add_argument("--max-clients", type=int, default=16,
                   help="connections at once; a new one evicts the longest-idle client")
    p.add_argument("--idle-timeout", type=float, default=300.0, metavar="S",
                   help="close a client that has sent and read nothing for S seconds "
                        "(0: never; default 300)")
    p.add_argument("--no-validate", action="store_true",
                   help="accept submitted data frames that are not AX.25")
    p.add_argument("--wait-clients", type=int, default=0, metavar="N",
                   help="wait for N clients before decoding")
    p.add_argument("--exit-after", type=float, default=None, metavar="S",
                   help="exit S seconds after the last recording is served (default: serve "
                        "until Ctrl-C)")
    p.set_defaults(func=cmd_kiss_server)


def main(argv=None) -> int:
    """``kiss-server`` on its own: errors a user can cause exit 2 with one sentence."""
    from orbitlink.flowgraphs.cli import standalone_main

    return standalone_main(add_parsers, "KISS-over-TCP server.", argv)


if __name__ == "__main__":
    raise SystemExit(main())
