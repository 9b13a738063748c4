"""KISS server fairness and limits (issue 12): idle connections cannot lock clients out, a
flooding client cannot starve the others, idle clients are closed, a slow reader's drops are
counted, and the ``kiss-server`` command serves a recording's frames and captures submissions.

Loopback only, every wait bounded."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from orbitlink.framing import ax25, kiss
from orbitlink.framing.kiss_server import FairQueue, KissServer, KissServerError
from orbitlink.modem.block import Pdu


def _ui(src: str, info: bytes) -> bytes:
    return ax25.build(ax25.ui_frame("CQ", src, info))


def _wait(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.01)
    return cond()


def _recv_frames(sock, n, timeout=5.0):
    d = kiss.KissDecoder()
    out = []
    end = time.monotonic() + timeout
    sock.settimeout(0.2)
    while len(out) < n and time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        out += d.feed(chunk)
    return out


def test_idle_connections_do_not_lock_out_a_new_client():
    """16 idle connections (the default limit): a 17th client still gets frames."""
    with KissServer(port=0) as srv:
        idle = [socket.create_connection(srv.address, timeout=3) for _ in range(16)]
        try:
            assert _wait(lambda: srv.n_clients == 16)
            time.sleep(srv.evict_idle + 0.1 if hasattr(srv, "evict_idle") else 1.1)
            new = socket.create_connection(srv.address, timeout=3)
            # the newcomer is in once the longest-idle client has been evicted for it
            assert _wait(lambda: srv.stats.get("evicted", 0) >= 1, 3)
            f = _ui("N0CALL", b"hello newcomer")
            srv.broadcast(f)
            got = _recv_frames(new, 1, 3)
            assert [k.data for k in got] == [f]
            c = srv.counters()
            assert c["clients"] == 16 and c["evicted"] == 1 and c["rejected"] == 0
            new.close()
        finally:
            for s in idle:
                s.close()


def test_full_server_refuses_when_nobody_is_idle():
    with KissServer(port=0, max_clients=2, evict_idle=30) as srv:
        a = socket.create_connection(srv.address, timeout=3)
        b = socket.create_connection(srv.address, timeout=3)
        assert _wait(lambda: srv.n_clients == 2)
        c = socket.create_connection(srv.address, timeout=3)
        assert _wait(lambda: srv.stats["rejected"] == 1)
        assert c.recv(10) == b""
        assert srv.counters()["clients"] == 2
        for s in (a, b, c):
            s.close()


def test_flooding_client_does_not_starve_another():
    """A client flooding frames while the queue is drained slowly (a transmitter): another
    client's frames still get through, all of them, within a bound."""
    flood = kiss.encode(_ui("FLOOD", b"x" * 40)) * 200
    mine = [_ui("N0CALL", b"frame %d" % i) for i in range(5)]
    stop = threading.Event()
    with KissServer(port=0, tx_queue_size=64) as srv:
        f = socket.create_connection(srv.address, timeout=3)
        o = socket.create_connection(srv.address, timeout=3)

        def flooder():
            try:
                while not stop.is_set():
                    f.sendall(flood)
            except OSError:
                pass

        t = threading.Thread(target=flooder, daemon=True)
        t.start()
        try:
            assert _wait(lambda: srv.tx_queue.qsize() == 64)
            o.sendall(b"".join(kiss.encode(m) for m in mine))
            got = []
            end = time.monotonic() + 5.0
            while len(got) < len(mine) and time.monotonic() < end:
                try:
                    p = srv.tx_queue.get(timeout=0.5)
                except Exception:
                    continue
                if ax25.parse(p.data).src.call == "N0CALL":
                    got.append(p.data)
                time.sleep(0.005)  # a slow transmitter
            assert got == mine
            c = srv.counters()
            assert c["tx_dropped"] > 0 and c["tx_frames"] > len(mine)
        finally:
            stop.set()
            f.close()
            o.close()
            t.join(5)


def test_fair_queue_round_robin_and_bound():
    q = FairQueue(maxsize=4)
    for i in range(4):
        assert q.offer(Pdu(b"a%d" % i, {"client": "a"})) == (True, 0)
    assert q.offer(Pdu(b"b0", {"client": "b"})) == (True, 1)  # a's newest makes room
    assert q.offer(Pdu(b"b1", {"client": "b"})) == (True, 1)
    assert q.offer(Pdu(b"b2", {"client": "b"})) == (False, 0)  # b holds its share
    assert [q.get_nowait().data for _ in range(4)] == [b"a0", b"b0", b"a1", b"b1"]
    assert q.empty()
    q.put_nowait(Pdu(b"x", {}))
    assert q.qsize() == 1 and q.get_nowait().data == b"x"


def test_idle_timeout_closes_an_idle_client():
    with KissServer(port=0, idle_timeout=0.3) as srv:
        a = socket.create_connection(srv.address, timeout=3)
        b = socket.create_connection(srv.address, timeout=3)
        assert _wait(lambda: srv.n_clients == 2)
        end = time.monotonic() + 1.0
        k = kiss.encode(b"\x01", command=1)  # a TNC parameter: activity, not a frame
        while time.monotonic() < end:
            b.sendall(k)
            time.sleep(0.05)
        assert srv.stats["idle_closed"] == 1 and srv.n_clients == 1
        a.settimeout(3)
        assert a.recv(10) == b""
        b.close()
        assert _wait(lambda: srv.n_clients == 0)
    with pytest.raises(KissServerError):
        KissServer(port=0, idle_timeout=-1)


def test_slow_reader_drops_are_counted_and_do_not_block_others():
    """A client that stops reading: once the socket buffers are full its frames are dropped
    for it alone and counted; another client gets every frame."""
    frame = _ui("N0CALL", bytes(200))
    with KissServer(port=0, client_buffer=1 << 16, broadcast_queue_size=64) as srv:
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(srv.address)
        fast = socket.create_connection(srv.address, timeout=3)
        assert _wait(lambda: srv.n_clients == 2)
        got = [0]
        done = threading.Event()

        def reader():
            d = kiss.KissDecoder()
            fast.settimeout(0.2)
            while not done.is_set() or got[0] < sent:
                try:
                    chunk = fast.recv(1 << 16)
                except socket.timeout:
                    if done.is_set():
                        break
                    continue
                if not chunk:
                    break
                got[0] += sum(k.data == frame for k in d.feed(chunk))

        sent = 0
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        end = time.monotonic() + 20
        extra = None
        while time.monotonic() < end and (extra is None or extra > 0):
            if srv.broadcast(frame):
                sent += 1
                if extra is not None:
                    extra -= 1
                elif srv.stats["out_dropped"]:
                    extra = 200  # and some more, dropped for the slow one only
            else:
                time.sleep(0.0005)
        assert _wait(lambda: got[0] == sent, 10)
        done.set()
        t.join(5)
        c = srv.counters()
        assert extra == 0 and got[0] == sent
        assert c["out_dropped"] >= 200 and c["slow_clients"] == 1 and c["clients"] == 2
        assert c["out_frames"] + c["out_dropped"] == 2 * sent == 2 * c["rx_frames"]
        slow.close()
        fast.close()


# ------------------------------------------------------------------------------------------------
# orbitlink kiss-server


def _readline(stream, timeout):
    """One line of a subprocess pipe, waiting at most ``timeout`` seconds."""
    out = []
    t = threading.Thread(target=lambda: out.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return out[0] if out else b""


def test_kiss_server_command_serves_a_recording_and_captures_submissions(tmp_path):
    from orbitlink.flowgraphs import cli

    frames = [_ui(f"N0CALL-{i}", b"orbitlink kiss %d" % i) for i in range(3)]
    kiss.write_kiss_file(tmp_path / "p.kiss", frames)
    rec = tmp_path / "rec.wav"
    assert cli.main(["encode", "--link", "ax25-afsk1200", "--in", str(tmp_path / "p.kiss"),
                     "--out", str(rec)]) == 0
    tx = tmp_path / "tx.kiss"
    proc = subprocess.Popen(
        [sys.executable, "-m", "orbitlink.flowgraphs.cli_kiss", "kiss-server", "--link",
         "ax25-afsk1200", "--in", str(rec), "--port", "0", "--tx-out", str(tx),
         "--wait-clients", "1"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        line = _readline(proc.stderr, 30).decode()
        assert "listening on 127.0.0.1:" in line, line
        port = int(line.split("127.0.0.1:")[1].split(";")[0])
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        got = _recv_frames(s, 3, 20)
        assert [k.data for k in got] == frames
        sub = _ui("N0CALL-9", b"to send")
        s.sendall(b"\xc0\x00\xdb\x00\xc0" + kiss.encode(sub))  # a bad escape, then a frame
        assert _wait(lambda: tx.exists() and kiss.read_kiss_file(tx) == [sub], 5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=10)[1].decode()
        assert time.monotonic() - t0 < 1.5
        s.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err
    import json

    counters = json.loads(err.strip().splitlines()[-1].split("kiss-server: ", 1)[1])
    assert counters["decoded"] == 3 and counters["out_frames"] == 3
    assert counters["tx_frames"] == 1 and counters["tx_written"] == 1
    assert counters["connections"] == 1 and counters["malformed"] == 1


def test_kiss_server_command_errors(tmp_path, capsys):
    from orbitlink.flowgraphs.cli_kiss import main

    assert main(["kiss-server", "--link", "ax25-afsk1200", "--in", str(tmp_path / "none.wav"),
                 "--port", "0", "--exit-after", "0"]) == 2
    err = capsys.readouterr().err
    assert "none.wav" in err and "Traceback" not in err
    assert main(["kiss-server", "--port", "70000"]) == 2
    assert main(["kiss-server", "--port", "0", "--tx-out", str(tmp_path / "no" / "x.kiss")]) == 2


@pytest.mark.interop
def test_kiss_server_command_with_direwolf_kissutil(tmp_path):
    """direwolf's kissutil receives the frames `orbitlink kiss-server` decodes and submits one
    that lands in --tx-out."""
    import shutil

    from orbitlink.flowgraphs import cli

    exe = shutil.which("kissutil")
    if exe is None:
        pytest.skip("direwolf kissutil is not installed")
    frames = [_ui("N0CALL-1", b"Hello from orbitlink")]
    kiss.write_kiss_file(tmp_path / "p.kiss", frames)
    rec = tmp_path / "rec.wav"
    assert cli.main(["encode", "--link", "ax25-afsk1200", "--in", str(tmp_path / "p.kiss"),
                     "--out", str(rec)]) == 0
    tx, xmit = tmp_path / "tx.kiss", tmp_path / "xmit"
    xmit.mkdir()
    srv = subprocess.Popen(
        [sys.executable, "-m", "orbitlink.flowgraphs.cli_kiss", "kiss-server", "--link",
         "ax25-afsk1200", "--in", str(rec), "--port", "0", "--tx-out", str(tx),
         "--wait-clients", "1"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    ku = None
    try:
        line = _readline(srv.stderr, 30).decode()
        port = line.split("127.0.0.1:")[1].split(";")[0]
        ku = subprocess.Popen([exe, "-h", "127.0.0.1", "-p", port, "-f", str(xmit)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
        time.sleep(1.0)  # kissutil connects and gets the recording's frame
        (xmit / "a.txt").write_text("N0CALL-2>CQ,WIDE1-1:Hello orbitlink\n")
        ok = _wait(lambda: tx.exists() and len(kiss.read_kiss_file(tx)) == 1, 10)
        time.sleep(0.5)
    finally:
        if ku is not None:
            ku.terminate()
            out = ku.communicate(timeout=10)[0].decode(errors="replace")
        srv.send_signal(signal.SIGINT)
        err = srv.communicate(timeout=10)[1].decode(errors="replace")
    assert ok, (out, err)
    assert "N0CALL-1>CQ:Hello from orbitlink" in out, out
    assert ax25.parse(kiss.read_kiss_file(tx)[0]).tnc2() == "N0CALL-2>CQ,WIDE1-1:Hello orbitlink"
    assert srv.returncode == 0
