"""What a user can ask for, bounded (issue 10 item 6): absurd requests are refused before
anything is allocated, with one sentence and exit 2 in under a second; frequencies take one set
of forms; a recording that disagrees with its metadata gets a warning (an error with
--strict); the CLI turns only OrbitlinkError into a usage error."""

import json
import time

import numpy as np
import pytest

from orbitlink.flowgraphs import cli
from orbitlink.flowgraphs.cli import main


def _refused(argv, capsys, *words):
    t0 = time.perf_counter()
    rc = main([str(a) for a in argv])
    dt = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("orbitlink: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, err
    assert dt < 1.0, (argv, dt)
    return err


@pytest.mark.parametrize("argv,words", [
    (["loopback", "--set", "samp_rate=1e12"], ["samp_rate", "at most"]),
    (["loopback", "--link", "bpsk", "--set", "symbol_rate=1e-3"], ["samp_rate/symbol_rate"]),
    (["loopback", "--frames", "1e12"], ["1000000000000", "at most"]),
    (["loopback", "--frames", "1000000000000"], ["at most"]),
    (["loopback", "--frames", "0"], ["at least 1"]),
    (["loopback", "--set", "preamble_symbols=1e15"], ["preamble_symbols", "at most"]),
    (["encode", "--link", "qpsk", "--in", "x.txt", "--out", "x.sigmf-meta", "--set",
      "samp_rate=1e12"], ["samp_rate"]),
    (["decode", "nosuch.sigmf-meta", "--link", "qpsk"], ["nosuch"]),
])
def test_absurd_requests_are_refused_at_once(capsys, argv, words):
    _refused(argv, capsys, *words)


def test_a_loopback_bigger_than_the_disk_is_refused(capsys, tmp_path):
    # 9e6 frames of 1115 bytes at 38.4 kHz: some 10 TB of recording
    _refused(["loopback", "--link", "ccsds-concat", "--frames", "9e6", "--out", tmp_path],
             capsys, "GB free")


def test_frequencies_take_the_same_forms(tmp_path, capsys):
    from orbitlink.drivers.sigmf import open_recording

    src = tmp_path / "p.txt"
    src.write_text("00" * 64 + "\n")
    out = tmp_path / "x.sigmf-meta"
    assert main(["encode", "--link", "qpsk", "--in", str(src), "--out", str(out),
                 "--center-freq", "437.5M"]) == 0
    assert open_recording(str(out)).center_freq == 437.5e6
    assert main(["encode", "--link", "qpsk", "--in", str(src), "--out", str(out),
                 "--center-freq", "2.2G"]) == 0
    assert open_recording(str(out)).center_freq == 2.2e9
    capsys.readouterr()
    for bad in ("--center-freq=-437.5M", "--center-freq=0", "--center-freq=abc"):
        with pytest.raises(SystemExit) as e:
            main(["encode", "--link", "qpsk", "--in", str(src), "--out", str(out), bad])
        assert e.value.code == 2
        assert "not a positive frequency" in capsys.readouterr().err


def test_sigmf_mismatch_warns_and_strict_refuses(tmp_path, capsys):
    src = tmp_path / "p.txt"
    src.write_text("11" * 64 + "\n" + "22" * 64 + "\n")
    base = tmp_path / "x"
    assert main(["encode", "--link", "qpsk", "--in", str(src), "--out",
                 str(base) + ".sigmf-meta"]) == 0
    data = base.with_suffix(".sigmf-data")
    anns = json.loads((tmp_path / "x.sigmf-meta").read_text())["annotations"]
    end0 = anns[0]["core:sample_start"] + anns[0]["core:sample_count"]
    data.write_bytes(data.read_bytes()[:8 * (end0 + 300)])  # the second frame is lost
    capsys.readouterr()
    assert main(["decode", str(base) + ".sigmf-meta", "--json"]) == 0
    cap = capsys.readouterr()
    warnings = [x for x in cap.err.splitlines() if x.startswith("orbitlink: warning: ")]
    assert warnings and any("sha512" in w for w in warnings), cap.err
    assert [json.loads(x)["hex"] for x in cap.out.splitlines()] == ["11" * 64]
    err = _refused(["decode", str(base) + ".sigmf-meta", "--strict"], capsys)
    assert "sha512" in err or "past the end" in err


def test_the_cli_does_not_hide_a_bug(monkeypatch, capsys):
    """A plain ValueError is a bug: it is not reported as a usage error."""
    def broken(args):
        raise ValueError("a bug")

    monkeypatch.setattr(cli, "cmd_links", broken)
    with pytest.raises(ValueError, match="a bug"):
        main(["links"])


def test_a_set_without_equals_is_a_usage_error(capsys):
    _refused(["loopback", "--set", "baud"], capsys, "--set takes key=value")


def test_encode_streams_frame_by_frame(tmp_path):
    """The transmitter yields chunks of bounded size however many frames it sends (the
    memory figure is in benchmarks/bench_memory.py)."""
    from orbitlink.flowgraphs.links import TxStream, load_link, random_payloads, transmit

    link = load_link("qpsk")
    pays = random_payloads(link, np.random.default_rng(2), 500)
    tx = TxStream(link, iter(pays), seed=3)
    sizes = [len(x) for x in tx]
    per_frame = (64 + 6) * 8 / 2 * link.sps + link.gap_symbols * link.sps
    # about 64 frames a chunk (the first also carries the preamble), never all 500
    assert max(sizes) < 70 * per_frame + link.preamble_symbols * link.sps
    assert sum(sizes) > 400 * per_frame
    # and the whole-array transmit is the same signal
    ref = transmit(link, pays[:20], seed=3)
    tx = TxStream(link, iter(pays[:20]), seed=3, frames_per_chunk=3)
    assert np.concatenate(list(tx)).tobytes() == ref.iq.tobytes()
    assert tx.take_frame_starts() == ref.frame_starts


@pytest.mark.parametrize("link", ["ax25-fsk9600", "ax25-afsk1200", "qpsk"])
def test_the_receivers_audio_streams(link):
    """The loopback makes a receiver's audio chunk by chunk; any split gives what the
    whole-array zero-phase IF filter and discriminator give."""
    from orbitlink.flowgraphs.links import load_link, random_payloads, transmit
    from orbitlink.flowgraphs.loopback import AudioFrontend, to_audio

    lk = load_link(link)
    iq = transmit(lk, random_payloads(lk, np.random.default_rng(1), 2)).iq
    iq = (iq * np.exp(2j * np.pi * 0.01 * np.arange(len(iq)))).astype(np.complex64)
    whole = to_audio(lk, iq)
    for step in (1000, 4097):
        fe = AudioFrontend(lk)
        parts = [fe.process(iq[i:i + step]) for i in range(0, len(iq), step)]
        got = np.concatenate(parts + [fe.flush()])
        assert got.tobytes() == whole.tobytes()
    if lk.family == "fsk":  # the reference: np.convolve(mode="same"), then the discriminator
        fc = lk.fm_if_half_bandwidth() / lk.samp_rate
        nt = int(8 / fc) | 1
        m = np.arange(nt) - nt // 2
        h = 2 * fc * np.sinc(2 * fc * m) * np.hamming(nt)
        x = np.convolve(iq, h / h.sum(), mode="same")
        d = np.angle(x[1:] * np.conj(x[:-1])) * (lk.samp_rate / (2 * np.pi))
        ref = np.clip(np.concatenate([[0.0], d]) / (2 * lk.fsk_deviation), -1, 1)
        assert np.max(np.abs(whole - ref.astype(np.float32))) < 1e-5
