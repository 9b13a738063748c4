#!/usr/bin/env python3
"""Throughput of the orbitlink BPSK/QPSK receive chain, beside GNU Radio 3.10's equivalent chain.

Chain (ours): ``PskDemodulator(modulation, symbol_rate=1, samp_rate=4, alpha=0.35)`` (AGC ->
FLL acquisition -> SymbolSync: polyphase RRC matched filter, Gardner timing, carrier PLL; 'sym'
records) -> ``SoftDemapper(modulation)`` (float32 LLRs) -> file on tmpfs. Driven with
``block.process(chunk)`` over chunks of ``--chunk`` samples (default 2^18) read from the cf32
input file on tmpfs, then ``flush()``.

Peer (``--with-peer``): ``shared/peers/gr_psk_rx.py --sync symsync --out soft`` under the
Debian interpreter with GNU Radio: file_source -> agc2_cc -> fll_band_edge_cc ->
symbol_sync_cc (ML TED, 32-arm PFB matched filter) -> costas_loop_cc ->
constellation_soft_decoder_cf -> file_sink, on the same input file.

Metric: input samples / wall seconds from opening the input to the last LLR written (block
construction not counted, as the peer does not count flowgraph construction), median over
``--reps`` repetitions, each run in a fresh worker process per chain, after a short warm-up run
that loads numba's on-disk cache. Pinned to one CPU (``--cpu 0``, the default; children
inherit the affinity; the peer command is prefixed with ``taskset -c 0`` too).

Reference ratio: before every repetition the peers' reference kernel (``common.ref_rate()``:
scipy lfilter, 64 taps, 2^20 complex64, best of 3) is measured and ``ratio_vs_ref = rate /
ref``. By default it is measured with the *peer's* interpreter (Debian python3, scipy 1.10) so
ours and the peer's ratios share one reference; the venv's scipy runs that kernel ~1.6x faster,
so an in-process reference would not compare. Without the peer interpreter the local copy runs
in-process and the JSON says so (``ref_impl``).

Peak memory: ru_maxrss of a fresh process that runs the chain once on the full input without
verification (ours: imports + warm-up + one run; ``baseline`` = after imports and warm-up). For
the peer: ``os.wait4`` rusage of ``gr_psk_rx.py --reps 1 --no-verify`` (which also holds the
reference kernel's 2 x 8 MiB buffers and GNU Radio's per-block buffers).

Correctness (outside the timed region): SER of the hard decisions taken from the LLR file of
the last timed repetition (QPSK: LLR pairs as I/Q), exactly as the peer checks its soft output,
with ``psk_ser`` of ``shared/peers/signals.py`` (median SER of 10 000-symbol blocks over the
second half, phase ambiguity resolved per block; ``slipped`` = blocks with SER > 5 %); plus the
SER of the ``z`` symbol stream of a second, untimed run, whose LLRs must be bit-identical to the
timed run's file.

Input: ``signals.psk_file(order, nsamp, 4, 0.35, 10.0, 0.002)`` of ``shared/peers`` (cached in
``$PEERBENCH_DATA``, default /dev/shm/peerbench). If ``shared/peers`` is missing (``--peers-dir``,
default ``<repo>/../shared/peers``), ``psk_bench_signals.py`` beside this script writes the
same file itself (a copy of the generator: RRC 0.35, 4 sps, Es/N0 10 dB, carrier offset 0.002
cycles/sample, 0.37-sample timing offset, same seeds, byte-identical output).

Usage::

    taskset -c 0 .venv/bin/python benchmarks/bench_psk_rx.py --with-peer            # both
    .venv/bin/python benchmarks/bench_psk_rx.py --order 4 --reps 3 --json          # ours only
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_PEERS = os.path.normpath(os.path.join(REPO, "..", "shared", "peers"))
GR_PYTHON = "/usr/bin/python3"
MODS = {2: "bpsk", 4: "qpsk"}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def summarize(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def ser_theory(order: int, esn0_db: float = 10.0) -> float:
    """Coherent AWGN symbol error rate (BPSK exact; QPSK exact for Gray, independent rails)."""
    es = 10 ** (esn0_db / 10)
    if order == 2:
        return 0.5 * math.erfc(math.sqrt(es))
    p = 0.5 * math.erfc(math.sqrt(es / 2))
    return 2 * p - p * p


def ser_ok(check: dict, order: int) -> bool:
    return (check["ser_median_block"] <= 2 * ser_theory(order) + 5e-4
            and check["slipped_block_frac"] <= 0.02)


# ------------------------------------------------------------------------------------------------
# Signal, SER helper and reference kernel: the peers' own when shared/peers is there.


def peer_modules(peers_dir):
    """(signals, common) of shared/peers, or (None, None)."""
    if not (os.path.isfile(os.path.join(peers_dir, "signals.py"))
            and os.path.isfile(os.path.join(peers_dir, "common.py"))):
        return None, None
    if peers_dir not in sys.path:
        sys.path.insert(0, peers_dir)
    import common  # noqa: E402
    import signals  # noqa: E402
    return signals, common


def local_signals():
    sys.path.insert(0, HERE)
    import psk_bench_signals
    return psk_bench_signals


def input_files(args):
    sig, _ = peer_modules(args.peers_dir)
    source = "shared/peers/signals.py"
    if sig is None:
        sig = local_signals()
        source = "benchmarks/psk_bench_signals.py (copy of the peers' generator)"
    p, ps = sig.psk_file(args.order, args.nsamp, 4, 0.35, 10.0, 0.002)
    return p, ps, sig, source


class Reference:
    """The peers' ``common.ref_rate()`` measured with the peers' interpreter when possible."""

    def __init__(self, args):
        self.cmd = None
        self.local = None
        py = args.ref_python
        if (py != "local" and os.path.isfile(os.path.join(args.peers_dir, "common.py"))
                and shutil.which(py)):
            code = ("import sys; sys.path.insert(0, %r); import common, scipy; "
                    "print(common.ref_rate(), scipy.__version__)" % args.peers_dir)
            self.cmd = [py, "-c", code]
            try:
                r = subprocess.run(self.cmd, capture_output=True, text=True, check=True)
                self.impl = f"common.ref_rate() under {py} (scipy {r.stdout.split()[1]})"
            except (subprocess.CalledProcessError, OSError, IndexError):
                self.cmd = None
        if self.cmd is None:
            import scipy
            self.local = local_signals().ref_rate
            self.impl = f"in-process copy of common.ref_rate() (venv scipy {scipy.__version__})"

    def __call__(self) -> float:
        if self.cmd is None:
            return self.local()
        r = subprocess.run(self.cmd, capture_output=True, text=True, check=True)
        return float(r.stdout.split()[0])


# ------------------------------------------------------------------------------------------------
# Our chain


def make_chain(order):
    from orbitlink.modem.psk import PskDemodulator, SoftDemapper
    mod = MODS[order]
    return (PskDemodulator(modulation=mod, symbol_rate=1.0, samp_rate=4.0, alpha=0.35),
            SoftDemapper(modulation=mod))


def run_chain(inp, outp, order, chunk, limit=None, collect_z=False):
    """One pass over the input file; LLRs written to ``outp``. Returns (wall seconds, z or None);
    the CPU seconds of the pass are left in ``run_chain.cpu_s``."""
    import numpy as np
    dem, dmap = make_chain(order)
    zs = [] if collect_z else None
    n_left = limit if limit is not None else -1
    c0 = time.process_time()
    t0 = time.perf_counter()
    with open(inp, "rb", buffering=0) as f, open(outp, "wb") as g:
        while n_left != 0:
            n = chunk if n_left < 0 else min(chunk, n_left)
            buf = np.empty(n, np.complex64)
            nb = f.readinto(buf)
            if not nb:
                break
            x = buf[: nb // 8]
            n_left -= len(x) if n_left > 0 else 0
            s = dem.process(x)
            g.write(dmap.process(s))
            if zs is not None:
                zs.append(s["z"].copy())
        s = dem.flush()
        g.write(dmap.process(s))
        g.write(dmap.flush())
        if zs is not None:
            zs.append(s["z"].copy())
    dt = time.perf_counter() - t0
    run_chain.cpu_s = time.process_time() - c0
    return dt, (np.concatenate(zs) if zs is not None else None)


def llr_to_rx(llr, order):
    return llr if order == 2 else llr[0::2] + 1j * llr[1::2]


def versions():
    import numba
    import numpy
    out = {"python": platform.python_version(), "numpy": numpy.__version__,
           "numba": numba.__version__}
    try:
        sha = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "modem/psk.py",
                                "modem/_kernels/psk.py", "modem/block.py", "modem/pulse.py"],
                               capture_output=True, text=True).stdout.split("\n")
        out["git"] = sha + (" +uncommitted " + ",".join(d[3:] for d in dirty if d.strip())
                            if any(d.strip() for d in dirty) else "")
    except OSError:
        pass
    return out


def worker_time(args):
    import numpy as np
    inp, symp, sig, source = input_files(args)
    nsamp = os.path.getsize(inp) // 8
    outp = os.path.join(os.path.dirname(inp), f"out_orbitlink_psk{args.order}_{os.getpid()}.f32")
    ref = Reference(args)
    try:
        run_chain(inp, outp, args.order, args.chunk, limit=min(nsamp, 4 * args.chunk))  # warm-up
        values, refs, ratios, walls, cpus = [], [], [], [], []
        for i in range(args.reps):
            r = ref()
            dt, _ = run_chain(inp, outp, args.order, args.chunk)
            v = nsamp / dt
            values.append(v)
            refs.append(r)
            ratios.append(v / r)
            walls.append(dt)
            cpus.append(run_chain.cpu_s)
            log(f"  ours {MODS[args.order]} rep {i + 1}/{args.reps}: {v / 1e6:.3f} Msps "
                f"({dt:.3f} s wall, {run_chain.cpu_s:.3f} s cpu)  ref={r / 1e6:.2f} Msps  ratio={v / r:.4g}")
        check = None
        if not args.no_verify:
            tx = np.load(symp)
            llr = np.fromfile(outp, np.float32)
            check = sig.psk_ser(llr_to_rx(llr, args.order), tx, args.order)
            check["out_llrs"] = int(len(llr))
            _, z = run_chain(inp, outp + ".v", args.order, args.chunk, collect_z=True)
            llr2 = np.fromfile(outp + ".v", np.float32)
            check["z_symbols"] = int(len(z))
            check["llr_bit_identical_rerun"] = bool(llr.tobytes() == llr2.tobytes())
            check["z_ser"] = sig.psk_ser(z, tx, args.order)
            check["ser_theory"] = ser_theory(args.order)
            check["ok"] = (ser_ok(check, args.order) and ser_ok(check["z_ser"], args.order)
                           and check["llr_bit_identical_rerun"])
            log("  check:", json.dumps(check))
    finally:
        for p in (outp, outp + ".v"):
            if os.path.exists(p):
                os.remove(p)
    out = {"bench": f"orbitlink_{MODS[args.order]}_rx_soft", "impl": "orbitlink",
           "unit": "input samples/s", **summarize(values), "values": values,
           "ref_lfilter64_sps": statistics.median(refs), "ratio_vs_ref": summarize(ratios),
           "ref_impl": ref.impl, "wall_s": walls, "cpu_s": cpus, "check": check,
           "params": {"nsamp": nsamp, "chunk": args.chunk, "sps": 4, "alpha": 0.35,
                      "esn0_db": 10.0, "fo_cyc_per_sample": 0.002, "input": inp,
                      "input_source": source},
           "cpus": sorted(os.sched_getaffinity(0)), **versions()}
    print(json.dumps(out), flush=True)


def worker_mem(args):
    inp, _, _, _ = input_files(args)
    nsamp = os.path.getsize(inp) // 8
    outp = os.path.join(os.path.dirname(inp), f"out_orbitlink_mem{args.order}_{os.getpid()}.f32")
    try:
        run_chain(inp, outp, args.order, args.chunk, limit=min(nsamp, 4 * args.chunk))
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        run_chain(inp, outp, args.order, args.chunk)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        if os.path.exists(outp):
            os.remove(outp)
    print(json.dumps({"peak_rss_mib": peak / 1024, "baseline_rss_mib": base / 1024}), flush=True)


# ------------------------------------------------------------------------------------------------
# Orchestration


def run_json(cmd, cwd=None):
    """Run cmd; return (last JSON line of stdout, ru_maxrss KiB of the child)."""
    log("$ " + " ".join(cmd))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=sys.stderr, cwd=cwd, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited with {p.returncode}")
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]), ru.ru_maxrss


def worker_cmd(args, kind, order):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--order", str(order),
           "--reps", str(args.reps), "--nsamp", str(args.nsamp), "--chunk", str(args.chunk),
           "--peers-dir", args.peers_dir, "--ref-python", args.ref_python, "--cpu", "none"]
    return cmd + (["--no-verify"] if args.no_verify else [])


def peer_cmd(args, order, reps, verify=True):
    pre = ["taskset", "-c", args.cpu] if args.cpu != "none" and shutil.which("taskset") else []
    return pre + [args.gr_python, os.path.join(args.peers_dir, "gr_psk_rx.py"), "--order",
                  str(order), "--sync", "symsync", "--out", "soft", "--reps", str(reps),
                  "--nsamp", str(args.nsamp)] + ([] if verify else ["--no-verify"])


def orchestrate(args):
    if args.with_peer and not os.path.isfile(os.path.join(args.peers_dir, "gr_psk_rx.py")):
        sys.exit(f"--with-peer: {args.peers_dir}/gr_psk_rx.py not found")
    rows = []
    for order in args.orders:
        row = {"chain": f"{MODS[order]} AGC->FLL->symsync->soft", "order": order}
        row["ours"], _ = run_json(worker_cmd(args, "time", order))
        if not args.no_mem:
            mem, _ = run_json(worker_cmd(args, "mem", order))
            row["ours"].update(mem)
        if args.with_peer:
            env_cmd = peer_cmd(args, order, args.peer_reps)
            row["peer"], _ = run_json(env_cmd, cwd=args.peers_dir)
            if not args.no_mem:
                _, kib = run_json(peer_cmd(args, order, 1, verify=False), cwd=args.peers_dir)
                row["peer"]["peak_rss_mib"] = kib / 1024
            row["ours_over_peer"] = row["ours"]["median"] / row["peer"]["median"]
        rows.append(row)
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
           "cpu": _cpu_model(), "cpus": sorted(os.sched_getaffinity(0)), "rows": rows}
    table = format_table(rows)
    if args.json:
        log(table)
        print(json.dumps(doc), flush=True)
    else:
        print(table, flush=True)
    ok = all(r["ours"].get("check") is None or r["ours"]["check"]["ok"] for r in rows)
    return 0 if ok else 1


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _ser_str(check):
    if not check:
        return "-"
    return (f"{check['ser_median_block']:.2g} / {100 * check['slipped_block_frac']:.0f} %"
            + ("" if check.get("ok", True) else " FAIL"))


def format_table(rows):
    hdr = ["chain", "ours Msps (min-max)", "peer Msps (min-max)", "ours/peer",
           "ref ratio ours|peer", "peak RSS MiB ours|peer", "SER / slipped ours", "SER / slipped peer"]
    lines = []
    for r in rows:
        o, p = r["ours"], r.get("peer")
        f = lambda d: f"{d['median'] / 1e6:.2f} ({d['min'] / 1e6:.2f}-{d['max'] / 1e6:.2f})"
        rr = f"{o['ratio_vs_ref']['median']:.3f}|" + (f"{p['ratio_vs_ref']['median']:.3f}" if p else "-")
        mem = (f"{o['peak_rss_mib']:.0f}" if "peak_rss_mib" in o else "-") + "|" + (
            f"{p['peak_rss_mib']:.0f}" if p and "peak_rss_mib" in p else "-")
        lines.append([r["chain"], f(o), f(p) if p else "-",
                      f"{r['ours_over_peer']:.2f}x" if p else "-", rr, mem,
                      _ser_str(o.get("check")), _ser_str(p.get("check")) if p else "-"])
    w = [max(len(x[i]) for x in [hdr] + lines) for i in range(len(hdr))]
    fmt = lambda cells: "| " + " | ".join(c.ljust(n) for c, n in zip(cells, w)) + " |"
    out = [fmt(hdr), "|" + "|".join("-" * (n + 2) for n in w) + "|"] + [fmt(x) for x in lines]
    o = rows[0]["ours"]
    out.append(f"input samples/s, median of {o['n']} reps, {o['params']['nsamp']} samples, "
               f"chunk {o['params']['chunk']}; cpus {o['cpus']}; ref: {o['ref_impl']}, "
               f"{o['ref_lfilter64_sps'] / 1e6:.1f} Msps; orbitlink {o.get('git', '?')}")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--order", type=int, action="append", choices=[2, 4],
                    help="2 = BPSK, 4 = QPSK (repeatable; default both)")
    ap.add_argument("--reps", type=int, default=5, help="timed repetitions (default 5)")
    ap.add_argument("--peer-reps", type=int, default=None, help="peer repetitions (default --reps)")
    ap.add_argument("--nsamp", type=int, default=20_000_000, help="input samples (default 20 M)")
    ap.add_argument("--chunk", type=int, default=1 << 18, help="samples per process() call")
    ap.add_argument("--with-peer", action="store_true", help="also run GNU Radio's chain")
    ap.add_argument("--peers-dir", default=DEFAULT_PEERS, help="shared/peers directory")
    ap.add_argument("--gr-python", default=GR_PYTHON, help="interpreter with GNU Radio")
    ap.add_argument("--ref-python", default=GR_PYTHON,
                    help="interpreter that measures the reference kernel ('local' = in-process)")
    ap.add_argument("--cpu", default="0", help="pin to this CPU ('none' = leave affinity)")
    ap.add_argument("--no-verify", action="store_true", help="skip the SER check")
    ap.add_argument("--no-mem", action="store_true", help="skip the peak-memory runs")
    ap.add_argument("--json", action="store_true", help="print one JSON document (table to stderr)")
    ap.add_argument("--worker", choices=["time", "mem"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.cpu != "none":
        os.sched_setaffinity(0, {int(args.cpu)})
    if args.peer_reps is None:
        args.peer_reps = args.reps
    if args.worker:
        args.order = (args.order or [2])[0]
        (worker_time if args.worker == "time" else worker_mem)(args)
        return 0
    args.orders = args.order or [2, 4]
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
