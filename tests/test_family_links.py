"""Every link family of issue 5 transmits and decodes back through the loopback: noise, carrier
offset and clock (sample-rate) offset, on both media (complex IQ, and the receiver audio that
recordings are made of: FM audio for FSK/AFSK, SSB audio for PSK)."""

import json

import pytest

from orbitlink.flowgraphs.cli import main
from orbitlink.flowgraphs.links import link_names, load_link
from orbitlink.tests.helpers import loopback

FAMILY_LINKS = ["ax25-afsk1200", "ax25-fsk9600", "ax25-fsk4800", "ax25-bpsk-g3ruh",
                "ax25-bpsk1200-g3ruh", "ax100-asm", "ax100-rs", "u482c", "ccsds-concat-fsk",
                "ccsds-rs-fsk", "ccsds-concat-diff", "funcube"]


def test_links_are_listed():
    assert set(FAMILY_LINKS) <= set(link_names())


@pytest.mark.parametrize("medium", ["iq", "audio"])
@pytest.mark.parametrize("link", FAMILY_LINKS)
def test_family_loopback(capsys, link, medium):
    lk = load_link(link)
    cfo = 0.04 * lk.symbol_rate  # Hz; within what the receivers must find on their own
    # AFSK rides on FM: below the FM threshold (about 10 dB carrier-to-noise in Carson's
    # bandwidth, i.e. Eb/N0 ~ 20 dB at 1200 Bd in 12 kHz) the discriminator clicks
    ebn0 = 22 if lk.modulation == "afsk" else 14
    r = loopback(link, 6, medium=medium, ebn0=ebn0, cfo=cfo, sro=-300, seed=3)
    assert r["frames_ok"] == r["frames_sent"] == 6, r
    assert r["false_frames"] == 0


@pytest.mark.parametrize("link,baud", [("ax100-asm", 4800), ("ax100-asm", 19200),
                                       ("ax100-rs", 4800), ("ax100-rs", 19200),
                                       ("ax25-bpsk-g3ruh", 1200)])
def test_baud_override_loopback(capsys, link, baud):
    r = loopback(link, 6, medium="audio", ebn0=14, sro=200, sets={"baud": str(baud)})
    assert r["frames_ok"] == r["frames_sent"] == 6, r


@pytest.mark.parametrize("medium", ["iq", "audio"])
def test_gmsk_discriminator_loopback(capsys, medium):
    """GMSK BT 0.5 through the discriminator (the default receiver; FM audio or IQ)."""
    r = loopback("ax25-gmsk9600", 6, medium=medium, ebn0=18, cfo=384, sro=-300, seed=3)
    assert r["frames_ok"] == r["frames_sent"] == 6, r


def test_gmsk_coherent_receiver_gains_over_the_discriminator(capsys):
    """At Eb/N0 11 dB the coherent receiver decodes every frame of ~1500 bits; the
    discriminator loses most of them (about 3 dB worse)."""
    args = ["--ebn0", "11", "--cfo", "384", "--sro", "-300", "--seed", "2"]
    coh = main(["loopback", "--link", "ax25-gmsk9600", "--frames", "20", "--json", *args,
                "--set", "receiver.coherent=true"])
    r_coh = json.loads(capsys.readouterr().out)
    disc = main(["loopback", "--link", "ax25-gmsk9600", "--frames", "20", "--json", *args])
    r_disc = json.loads(capsys.readouterr().out)
    assert coh == disc == 0
    assert r_coh["frames_ok"] == 20, r_coh
    assert r_disc["frames_ok"] <= 15, r_disc


def test_coherent_receiver_needs_iq(capsys):
    rc = main(["loopback", "--link", "ax25-gmsk9600", "--medium", "audio", "--frames", "2",
               "--set", "receiver.coherent=true"])
    assert rc == 2
    assert "coherent receiver needs" in capsys.readouterr().err


@pytest.mark.parametrize("link", FAMILY_LINKS + ["ax25-gmsk9600"])
def test_encode_then_decode(tmp_path, capsys, link):
    """`orbitlink encode` writes every family (WAV of the link's medium, and SigMF IQ) and
    `orbitlink decode` reads the frames back."""
    import numpy as np

    from orbitlink.flowgraphs.links import random_payloads

    lk = load_link(link)
    pays = random_payloads(lk, np.random.default_rng(4), 3)
    src = tmp_path / "payloads.txt"
    src.write_text("".join(p.hex() + "\n" for p in pays))
    for out in ("x.wav", "x.sigmf-meta"):
        assert main(["encode", "--link", link, "--in", str(src), "--out",
                     str(tmp_path / out)]) == 0
        capsys.readouterr()
        assert main(["decode", str(tmp_path / out), "--link", link, "--json"]) == 0
        got = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [bytes.fromhex(g["hex"]) for g in got if g["crc_ok"]] == pays, (link, out)


def test_coded_fsk_needs_the_coherent_receiver_at_low_snr(capsys):
    """CCSDS concatenated code on 2-FSK with h = 1/2 (MSK) at Eb/N0 9 dB (Es/N0 5.4 dB): the
    discriminator is below its FM threshold and loses the frames; the coherent receiver
    (``receiver.coherent=true``) decodes them (at most the first, during its carrier
    acquisition, may go)."""
    args = ["--link", "ccsds-concat-fsk", "--medium", "iq", "--frames", "15", "--ebn0", "9",
            "--cfo", "300", "--sro", "100", "--seed", "4", "--json"]
    assert main(["loopback", *args, "--set", "receiver.coherent=true"]) == 0
    coh = json.loads(capsys.readouterr().out)
    assert main(["loopback", *args]) == 0
    disc = json.loads(capsys.readouterr().out)
    assert coh["frames_ok"] >= 14, coh
    assert disc["frames_ok"] <= 3, disc
