"""Interim framing: sync-word search, phase-ambiguity resolution, CRC, metadata."""

import numpy as np
import pytest

from orbitlink import OrbitlinkError
from orbitlink.framing.syncframe import SyncDeframer, SyncFramer
from orbitlink.modem.block import SYM_DTYPE, Pdu
from orbitlink.modem.fec.crc import crc16_ccitt
from orbitlink.modem.modulation import Modulation


def test_crc16_ccitt_check_value():
    assert crc16_ccitt(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE catalogue check value
    assert crc16_ccitt(b"") == 0xFFFF
    with pytest.raises(TypeError):
        crc16_ccitt("text")


def test_framer_layout():
    fr = SyncFramer(modulation="8psk", payload_len=4)
    bits = fr.frame_bits(b"\x01\x02\x03\x04")
    assert len(bits) == 81  # 32 + 32 + 16 = 80, padded to 27 symbols of 3 bits
    assert np.packbits(bits[:32]).tobytes() == bytes.fromhex("1ACFFC1D")
    assert np.packbits(bits[32:64]).tobytes() == b"\x01\x02\x03\x04"
    assert int(np.packbits(bits[64:80]).view(">u2")[0]) == crc16_ccitt(b"\x01\x02\x03\x04")
    with pytest.raises(OrbitlinkError, match="5 bytes"):
        fr.frame_bits(b"12345")


def _symbols(name, payloads, rng, diff=False, lead=50, noise=0.0, transform=None):
    m = Modulation(name, diff)
    fr = SyncFramer(modulation=name, differential=diff, payload_len=len(payloads[0]))
    k = m.bits_per_symbol
    bits = [rng.integers(0, 2, lead * k).astype(np.uint8)]
    for p in payloads:
        bits += [fr.frame_bits(p), rng.integers(0, 2, 7 * k).astype(np.uint8)]
    z = m.modulate_bits(np.concatenate(bits))
    if transform is not None:
        z = transform(z)
    z = z + noise * (rng.standard_normal(len(z)) + 1j * rng.standard_normal(len(z)))
    rec = np.zeros(len(z), SYM_DTYPE)
    rec["z"] = z
    rec["t"] = 4.0 * np.arange(len(z)) + 2.0
    rec["f"] = 0.001
    return rec


@pytest.mark.parametrize("name", ["bpsk", "qpsk", "8psk"])
def test_every_rotation_of_the_carrier_is_resolved(name):
    rng = np.random.default_rng(1)
    payloads = [bytes(rng.integers(0, 256, 20).astype(np.uint8)) for _ in range(3)]
    M = Modulation(name).order
    for r in range(M):
        rec = _symbols(name, payloads, rng, transform=lambda z: z * np.exp(2j * np.pi * r / M))
        out = SyncDeframer(modulation=name, payload_len=20, samp_rate=8.0).run(rec)
        assert [p.data for p in out] == payloads
        assert all(p.meta["crc_ok"] for p in out)
        assert {p.meta["rotation_deg"] for p in out} == {round(360.0 * r / M, 3)}


def test_oqpsk_half_symbol_and_conjugate_ambiguities_are_resolved():
    rng = np.random.default_rng(2)
    payloads = [bytes(rng.integers(0, 256, 16).astype(np.uint8)) for _ in range(2)]

    def repair(z):  # carrier 90 degrees off: I/Q pairing one rail later, Q inverted
        s = np.empty(2 * len(z))
        s[0::2], s[1::2] = z.real, z.imag
        s = np.concatenate([[0.7], s])[: 2 * len(z)]
        return s[0::2] - 1j * s[1::2]

    for tf in (None, np.conj, repair, lambda z: np.conj(repair(z)), lambda z: -repair(z)):
        rec = _symbols("oqpsk", payloads, rng, transform=tf)
        out = SyncDeframer(modulation="oqpsk", payload_len=16).run(rec)
        assert [p.data for p in out] == payloads, tf


@pytest.mark.parametrize("name", ["bpsk", "qpsk", "8psk"])
def test_differential_frames(name):
    rng = np.random.default_rng(3)
    payloads = [bytes(rng.integers(0, 256, 12).astype(np.uint8)) for _ in range(3)]
    rec = _symbols(name, payloads, rng, diff=True, transform=lambda z: z * np.exp(1j * 1.3))
    out = SyncDeframer(modulation=name, differential=True, payload_len=12).run(rec)
    assert [p.data for p in out] == payloads


def test_sync_error_threshold_and_metadata():
    rng = np.random.default_rng(4)
    payload = bytes(range(10))
    rec = _symbols("bpsk", [payload], rng, lead=40)
    # flip 3 sync bits (BPSK: one symbol each)
    bad = rec.copy()
    bad["z"][[40, 45, 60]] *= -1
    assert SyncDeframer(modulation="bpsk", payload_len=10, max_errors=2).run(bad) == []
    out = SyncDeframer(modulation="bpsk", payload_len=10, max_errors=3, samp_rate=4.0).run(bad)
    assert len(out) == 1
    m = out[0].meta
    assert m["sync_errors"] == 3 and m["crc_ok"] and out[0].data == payload
    assert m["symbol_index"] == 40 and m["sample_index"] == 162 and m["time_s"] == 162 / 4.0
    assert m["freq_offset_hz"] == pytest.approx(0.004, abs=1e-6)
    assert set(m) >= {"sample_index", "time_s", "snr_db", "freq_offset_hz", "crc_ok"}


def test_corrupted_payload_fails_crc_but_is_delivered():
    rng = np.random.default_rng(5)
    rec = _symbols("qpsk", [bytes(16)], rng)
    rec["z"][50 + 16 + 3] *= -1  # a payload symbol
    out = SyncDeframer(modulation="qpsk", payload_len=16).run(rec)
    assert len(out) == 1 and not out[0].meta["crc_ok"]


def test_noise_alone_gives_no_frames():
    rng = np.random.default_rng(6)
    rec = np.zeros(200000, SYM_DTYPE)
    rec["z"] = rng.standard_normal(len(rec)) + 1j * rng.standard_normal(len(rec))
    assert SyncDeframer(modulation="qpsk", payload_len=64, max_errors=2).run(rec) == []


def test_framer_block_and_bad_sync_word():
    fr = SyncFramer(payload_len=2, modulation="bpsk")
    assert len(fr.run([Pdu(b"ab"), Pdu(b"cd")])) == 2 * (32 + 16 + 16)
    with pytest.raises(OrbitlinkError, match="hexadecimal"):
        SyncFramer(sync_word="XYZ")
