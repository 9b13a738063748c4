#!/usr/bin/env python3
"""Reference subscriber for the orbitlink bus: pyzmq, struct and json only (no orbitlink).

    python tools/reference_subscriber.py [ENDPOINT] [--topic PREFIX] [--count N]
                                         [--timeout S] [--stop-on-event NAME] [--quiet]

Connects a SUB socket to ENDPOINT (default tcp://127.0.0.1:5550), prints one line per message
(topic, kind, sequence number, sample index, time, a summary of the meta, payload length) and
counts sequence gaps per topic: the publisher numbers each topic's messages from 0 without
gaps, so a jump from s to s + 1 + k means k messages were lost (a subscriber that joins late
starts counting at the first number it sees; the summary shows it). Stops on Ctrl-C, after N
messages (--count), after S seconds without a message (--timeout) or on an event named NAME
(--stop-on-event), and prints a summary: per topic the messages, first and last sequence
numbers, gaps and messages missing, then one total line.

Wire format: [topic, header, meta, payload]; header = struct "<4sBBHQqd": magic b"OLNK",
version 1, kind (1 frame, 2 stats, 3 event, 4 tx-ack, 5 tx-submit, 6 spectrum, 7 symbols),
flags, sequence (u64), sample index (i64), time (f64, UNIX seconds); meta a UTF-8 JSON object;
payload raw bytes: the frame; for a spectrum row ``nbins`` u8 levels (dB = db0 + level *
db_step); for symbols little-endian f32, I and Q pairs (form constellation) or eye traces
(form eye, traces x points). Spectrum rows and symbols are summarised (the peak bin, the
points' RMS), not printed.
"""

import json
import struct
import sys

import zmq

HEADER = struct.Struct("<4sBBHQqd")
KINDS = {1: "frame", 2: "stats", 3: "event", 4: "tx-ack", 5: "tx-submit", 6: "spectrum",
         7: "symbols"}


def payload_summary(kind, meta, payload):
    """What a spectrum row or a symbol set holds, read with struct alone."""
    try:
        if kind == 6 and payload:
            k = max(range(len(payload)), key=payload.__getitem__)
            db = float(meta["db0"]) + payload[k] * float(meta["db_step"])
            return f" [{len(payload)} bins, peak {db:.1f} dB at bin {k}]"
        if kind == 7 and len(payload) >= 4:
            v = struct.unpack(f"<{len(payload) // 4}f", payload[: len(payload) // 4 * 4])
            rms = (sum(x * x for x in v) / len(v)) ** 0.5
            return f" [{meta.get('form')}: {len(v)} values, rms {rms:.3f}]"
    except (KeyError, TypeError, ValueError, struct.error):
        return " [payload not as its meta says]"
    return ""


def meta_summary(meta, width=80):
    s = ", ".join(f"{k}={json.dumps(v)}" for k, v in meta.items() if k != "hex")
    return s if len(s) <= width else s[:width - 3] + "..."


def main(argv):
    endpoint, topic, count, timeout, stop_event, quiet = "tcp://127.0.0.1:5550", "", 0, 0.0, \
        None, False
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--topic":
            topic = args.pop(0)
        elif a == "--count":
            count = int(args.pop(0))
        elif a == "--timeout":
            timeout = float(args.pop(0))
        elif a == "--stop-on-event":
            stop_event = args.pop(0)
        elif a == "--quiet":
            quiet = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            endpoint = a
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 100000)
    sub.setsockopt_string(zmq.SUBSCRIBE, topic)
    sub.connect(endpoint)
    print(f"subscribed to {endpoint} topic {topic!r}", file=sys.stderr, flush=True)
    stats = {}  # topic -> [messages, first seq, last seq, gaps, missing]
    total = malformed = 0
    try:
        while not count or total < count:
            if not sub.poll(int(timeout * 1000) if timeout else None):
                break
            parts = sub.recv_multipart()
            if len(parts) != 4 or len(parts[1]) != HEADER.size:
                malformed += 1
                print(f"malformed: {len(parts)} parts", flush=True)
                continue
            magic, version, kind, flags, seq, sidx, t = HEADER.unpack(parts[1])
            if magic != b"OLNK" or version != 1:
                malformed += 1
                print(f"malformed: magic {magic!r} version {version}", flush=True)
                continue
            try:
                meta = json.loads(parts[2].decode("utf-8"))
            except ValueError:
                meta = {"?": "meta is not JSON"}
            name = parts[0].decode("utf-8", "replace")
            st = stats.get(name)
            if st is None:
                st = stats[name] = [0, seq, seq, 0, 0]
            elif seq != st[2] + 1:
                st[3] += 1
                st[4] += max(0, seq - st[2] - 1)
            st[0] += 1
            st[2] = seq
            total += 1
            if not quiet:
                print(f"{name} {KINDS.get(kind, kind)} seq={seq} sample={sidx} time={t:.6f} "
                      f"flags={flags} meta: {meta_summary(meta)} payload={len(parts[3])} B"
                      f"{payload_summary(kind, meta, parts[3])}", flush=True)
            if stop_event is not None and kind == 3 and isinstance(meta, dict) \
                    and meta.get("event") == stop_event:
                break
    except KeyboardInterrupt:
        pass
    finally:
        sub.close(0)
        ctx.term()
    missing = 0
    for name, (n, first, last, gaps, miss) in sorted(stats.items()):
        missing += miss
        print(f"summary: topic={name} messages={n} first_seq={first} last_seq={last} "
              f"gaps={gaps} missing={miss}", flush=True)
    print(f"total: messages={total} topics={len(stats)} missing={missing} "
          f"malformed={malformed}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
