"""WAV reader and writer (orbitlink.drivers.wav) and the real formats of drivers.sigmf."""

import struct

import numpy as np
import pytest
import scipy.io.wavfile as wavfile

from orbitlink import OrbitlinkError
from orbitlink.drivers import sigmf
from orbitlink.drivers.sigmf import open_recording
from orbitlink.drivers.wav import WavRecording, WavWriter, open_wav

RNG = np.random.default_rng(7)
GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")


def _one_sentence(msg, path):
    assert "\n" not in msg
    assert msg.startswith(str(path)), msg
    assert msg.count(". ") == 0, msg


def _chunk(cid: bytes, body: bytes, pad: bool = True) -> bytes:
    out = cid + struct.pack("<I", len(body)) + body
    return out + (b"\0" if pad and len(body) % 2 else b"")


def _fmt(tag=1, channels=1, rate=48000, bits=16, extensible_tag=None, align=None):
    fb = channels * bits // 8
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * fb, fb if align is None else align,
                       bits)
    if extensible_tag is not None:
        body += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", extensible_tag) + GUID_TAIL
    return _chunk(b"fmt ", body)


def _wav(path, chunks: bytes, riff_size=None):
    body = b"WAVE" + chunks
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size)
                     + body)
    return path


def _read(rec, chunk_size=65536):
    return np.concatenate(list(rec.chunks(chunk_size)))


def _until_error(rec, chunk_size=1000):
    got = []
    with pytest.raises(OrbitlinkError) as info:
        for c in rec.chunks(chunk_size):
            got.append(c)
    return (np.concatenate(got) if got else np.zeros(0)), info.value


# ------------------------------------------------------------------------------------------
# formats


@pytest.mark.parametrize("fmt", ["float32", "int16"])
@pytest.mark.parametrize("channels", [1, 2])
def test_writer_round_trip(tmp_path, fmt, channels):
    n = 5001
    if channels == 2:
        x = 0.7 * (RNG.uniform(-1, 1, n) + 1j * RNG.uniform(-1, 1, n))
    else:
        x = 0.9 * RNG.uniform(-1, 1, n)
    path = tmp_path / "a.wav"
    with WavWriter(path, 48000, channels=channels, sample_format=fmt) as w:
        w.write(x[:1000])
        w.write(x[1000:1000])
        w.write(x[1000:])
    rec = open_recording(path)
    assert isinstance(rec, WavRecording)
    assert rec.kind == ("iq" if channels == 2 else "audio")
    assert rec.samp_rate == 48000.0 and rec.num_samples == n and rec.datetime is None
    assert rec.meta == {} and rec.name == str(path)
    got = _read(rec, 777)
    if fmt == "float32":
        want = x.astype(np.complex64 if channels == 2 else np.float32)
    else:
        v = x.view(np.float64) if channels == 2 else x
        q = (np.round(v * 32768) / 32768).astype(np.float32)
        want = q.view(np.complex64) if channels == 2 else q
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    # scipy reads what we wrote (a valid header, sizes patched)
    rate, data = wavfile.read(path)
    assert rate == 48000 and len(data) == n


@pytest.mark.parametrize("dtype,scale,offset", [
    (np.uint8, 128.0, 128.0), (np.int16, 32768.0, 0.0), (np.int32, 2.0 ** 31, 0.0),
    (np.float32, 1.0, 0.0), (np.float64, 1.0, 0.0)])
@pytest.mark.parametrize("channels", [1, 2])
def test_reads_scipy_files_exactly(tmp_path, dtype, scale, offset, channels):
    n = 3000
    if np.dtype(dtype).kind == "f":
        data = RNG.uniform(-1, 1, (n, channels)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        data = RNG.integers(info.min, info.max, (n, channels), endpoint=True).astype(dtype)
    path = tmp_path / "s.wav"
    wavfile.write(path, 22050, data[:, 0] if channels == 1 else data)
    rec = open_recording(path)
    assert rec.samp_rate == 22050.0 and rec.num_samples == n
    want = ((data.astype(np.float64) - offset) / scale).astype(np.float32)
    got = _read(rec, 1234)
    if channels == 2:
        assert got.dtype == np.complex64 and rec.kind == "iq"
        np.testing.assert_array_equal(got.real, want[:, 0])
        np.testing.assert_array_equal(got.imag, want[:, 1])
    else:
        assert got.dtype == np.float32 and rec.kind == "audio"
        np.testing.assert_array_equal(got, want[:, 0])
    assert got.real.min() >= -1.0 and got.real.max() < 1.0 or np.dtype(dtype).kind == "f"


def _pcm24(v):
    u = (v.astype(np.int64) & 0xFFFFFF).astype(np.uint32)
    return np.stack([u & 0xFF, (u >> 8) & 0xFF, u >> 16], 1).astype(np.uint8).tobytes()


@pytest.mark.parametrize("extensible", [False, True])
def test_24_bit_pcm_and_extensible(tmp_path, extensible):
    v = RNG.integers(-(1 << 23), 1 << 23, 2 * 400)
    v[:4] = [-(1 << 23), (1 << 23) - 1, 0, -1]
    fmt = (_fmt(0xFFFE, 2, 96000, 24, extensible_tag=1) if extensible
           else _fmt(1, 2, 96000, 24))
    path = _wav(tmp_path / "x.wav", fmt + _chunk(b"data", _pcm24(v)))
    rec = open_wav(path)
    assert rec.kind == "iq" and rec.bits == 24 and rec.num_samples == 400
    got = _read(rec, 64).view(np.float32)
    np.testing.assert_array_equal(got, (v / 2.0 ** 23).astype(np.float32))
    assert got[0] == -1.0 and got[1] < 1.0


def test_extensible_float_and_odd_chunks(tmp_path):
    x = RNG.standard_normal(301).astype("<f4")
    chunks = (_chunk(b"LIST", b"INFOISFT\x05\0\0\0abcd\0")  # odd-sized, padded
              + _fmt(0xFFFE, 1, 8000, 32, extensible_tag=3)
              + _chunk(b"fact", struct.pack("<I", 301))
              + _chunk(b"data", x.tobytes())
              + _chunk(b"LIST", b"xyz"))  # trailing chunk after the data
    rec = open_recording(_wav(tmp_path / "f.wav", chunks, riff_size=12345))  # wrong RIFF size
    assert rec.kind == "audio" and rec.datatype == "rf32_le"
    np.testing.assert_array_equal(_read(rec), x)


def test_odd_chunk_without_pad_byte_and_data_before_fmt(tmp_path):
    # some writers forget the pad byte of an odd chunk; the reader accepts both
    v = RNG.integers(-30000, 30000, 50).astype("<i2")
    chunks = _chunk(b"junk", b"abc", pad=False) + _fmt(1, 1, 11025, 16) + _chunk(b"data",
                                                                                v.tobytes())
    rec = open_wav(_wav(tmp_path / "p.wav", chunks))
    np.testing.assert_array_equal(_read(rec), (v / 32768).astype(np.float32))
    # 8-bit odd data chunk padded, then another chunk
    u = RNG.integers(0, 256, 7).astype(np.uint8)
    chunks = _fmt(1, 1, 8000, 8) + _chunk(b"data", u.tobytes()) + _chunk(b"LIST", b"ab")
    rec = open_wav(_wav(tmp_path / "u.wav", chunks))
    assert rec.num_samples == 7 and rec.truncated_bytes == 0
    np.testing.assert_array_equal(_read(rec), ((u - 128.0) / 128).astype(np.float32))


def test_chunking_is_exact(tmp_path):
    x = RNG.uniform(-1, 1, 10007)
    path = tmp_path / "c.wav"
    with WavWriter(path, 44100) as w:
        w.write(x)
    rec = open_wav(path)
    parts = list(rec.chunks(1000))
    assert [len(p) for p in parts] == [1000] * 10 + [7]
    np.testing.assert_array_equal(np.concatenate(parts), rec.read())
    with pytest.raises(ValueError):
        next(rec.chunks(0))


def test_writer_checks(tmp_path):
    with pytest.raises(OrbitlinkError, match="whole number of Hz"):
        WavWriter(tmp_path / "r.wav", 48000.5)
    with pytest.raises(OrbitlinkError, match="channels"):
        WavWriter(tmp_path / "r.wav", 48000, channels=3)
    with pytest.raises(OrbitlinkError, match="sample format"):
        WavWriter(tmp_path / "r.wav", 48000, sample_format="int8")
    w = WavWriter(tmp_path / "r.wav", 48000)
    with pytest.raises(OrbitlinkError, match="complex"):
        w.write(np.ones(3, np.complex64))
    w.close()
    w.close()  # idempotent
    with pytest.raises(ValueError):
        w.write(np.ones(3))
    # int16 clips instead of wrapping
    with WavWriter(tmp_path / "c.wav", 8000, sample_format="int16") as w:
        w.write(np.array([2.0, -2.0, 0.99999]))
    np.testing.assert_array_equal(open_wav(tmp_path / "c.wav").read(),
                                  np.array([32767, -32768, 32767], np.float32) / 32768)


# ------------------------------------------------------------------------------------------
# errors


def _data16(n=10):
    return _chunk(b"data", np.arange(n, dtype="<i2").tobytes())


@pytest.mark.parametrize("case,exc,text", [
    ("not_riff", sigmf.MetadataError, "not a WAV file"),
    ("no_fmt", sigmf.MetadataError, "no fmt chunk"),
    ("no_data", sigmf.MetadataError, "no data chunk"),
    ("three_channels", sigmf.UnsupportedDatatypeError, "3 channels"),
    ("adpcm", sigmf.UnsupportedDatatypeError, "Microsoft ADPCM"),
    ("mulaw", sigmf.UnsupportedDatatypeError, "mu-law"),
    ("ext_unknown", sigmf.UnsupportedDatatypeError, "MP3"),
    ("zero_rate", sigmf.MetadataError, "0 Hz"),
    ("bits12", sigmf.UnsupportedDatatypeError, "12-bit"),
    ("bad_align", sigmf.MetadataError, "block align"),
    ("empty_data", sigmf.EmptyRecordingError, "empty"),
    ("empty_file", sigmf.EmptyRecordingError, "empty"),
    ("short_fmt", sigmf.MetadataError, "fmt chunk is too short"),
    ("rf64", sigmf.UnsupportedDatatypeError, "RF64"),
    ("garbage_chunk", sigmf.MetadataError, "corrupt RIFF chunk"),
    ("missing", sigmf.RecordingNotFoundError, "not found"),
])
def test_header_errors(tmp_path, case, exc, text):
    p = tmp_path / "bad.wav"
    if case == "not_riff":
        p.write_bytes(b"OggS" + b"\0" * 40)
    elif case == "no_fmt":
        _wav(p, _data16())
    elif case == "no_data":
        _wav(p, _fmt())
    elif case == "three_channels":
        _wav(p, _fmt(channels=3) + _data16(9))
    elif case == "adpcm":
        _wav(p, _fmt(tag=2, bits=4, align=1) + _data16())
    elif case == "mulaw":
        _wav(p, _fmt(tag=7, bits=8) + _data16())
    elif case == "ext_unknown":
        _wav(p, _fmt(0xFFFE, extensible_tag=0x55) + _data16())
    elif case == "zero_rate":
        _wav(p, _fmt(rate=0) + _data16())
    elif case == "bits12":
        _wav(p, _fmt(bits=12, align=2) + _data16())
    elif case == "bad_align":
        _wav(p, _fmt(align=4) + _data16())
    elif case == "empty_data":
        _wav(p, _fmt() + _chunk(b"data", b""))
    elif case == "empty_file":
        p.write_bytes(b"")
    elif case == "short_fmt":
        _wav(p, _chunk(b"fmt ", b"\1\0\1\0") + _data16())
    elif case == "rf64":
        p.write_bytes(b"RF64" + b"\xff" * 4 + b"WAVE" + b"\0" * 40)
    elif case == "garbage_chunk":
        _wav(p, b"\x01\x02\x03\x04" + b"\0" * 20)
    with pytest.raises(exc) as info:
        open_recording(p)
    assert isinstance(info.value, OrbitlinkError)
    assert text in str(info.value)
    _one_sentence(str(info.value), p)


def test_partial_frame_yields_whole_frames_then_raises(tmp_path):
    v = RNG.integers(-30000, 30000, 2 * 500).astype("<i2")
    body = v.tobytes() + b"\x01\x02\x03"  # 3 stray bytes: not a whole stereo frame
    p = _wav(tmp_path / "t.wav", _fmt(channels=2) + _chunk(b"data", body))
    rec = open_recording(p)
    assert rec.num_samples == 500 and rec.truncated_bytes == 3
    got, err = _until_error(rec, 128)
    assert isinstance(err, sigmf.TruncatedRecordingError)
    np.testing.assert_array_equal(got.view(np.float32), (v / 32768).astype(np.float32))
    assert "3 byte(s)" in str(err)
    _one_sentence(str(err), p)


def test_truncated_file_yields_what_is_there_then_raises(tmp_path):
    x = RNG.uniform(-1, 1, 1000).astype("<f4")
    p = tmp_path / "cut.wav"
    with WavWriter(p, 8000) as w:
        w.write(x)
    full = p.read_bytes()
    p.write_bytes(full[:-1002])  # cut mid-sample: 249 whole samples of 1000 remain... and 2 bytes
    rec = open_recording(p)
    assert rec.num_samples == 1000 - 251
    got, err = _until_error(rec, 100)
    assert isinstance(err, sigmf.TruncatedRecordingError)
    np.testing.assert_array_equal(got, x[:749])
    assert "truncated" in str(err)
    _one_sentence(str(err), p)


def test_unknown_data_size_reads_to_the_end(tmp_path):
    v = np.arange(-50, 50, dtype="<i2")
    p = _wav(tmp_path / "s.wav", _fmt() + b"data" + struct.pack("<I", 0xFFFFFFFF) + v.tobytes())
    np.testing.assert_array_equal(open_wav(p).read(), (v / 32768).astype(np.float32))


def test_nan_sample_raises_after_the_good_ones(tmp_path):
    x = RNG.uniform(-1, 1, 300).astype("<f4")
    x[211] = np.nan
    p = _wav(tmp_path / "n.wav", _fmt(3, 1, 8000, 32) + _chunk(b"data", x.tobytes()))
    got, err = _until_error(open_recording(p), 100)
    assert isinstance(err, sigmf.BadSampleError) and "sample 211" in str(err)
    np.testing.assert_array_equal(got, x[:211])
    _one_sentence(str(err), p)


def test_rate_given_must_agree_and_non_wav_extension(tmp_path):
    v = np.arange(10, dtype="<i2")
    p = _wav(tmp_path / "rec.raw", _fmt(rate=12000) + _chunk(b"data", v.tobytes()))
    rec = open_recording(p)  # RIFF/WAVE header recognised whatever the extension
    assert isinstance(rec, WavRecording) and rec.samp_rate == 12000.0
    assert open_recording(p, samp_rate=12000).num_samples == 10
    with pytest.raises(sigmf.MetadataError, match="conflicts"):
        open_recording(p, samp_rate=48000)


# ------------------------------------------------------------------------------------------
# real SigMF / raw formats


@pytest.mark.parametrize("dt,np_dtype,scale,offset", [
    ("rf32_le", "<f4", 1.0, 0.0), ("ri16_le", "<i2", 32768.0, 0.0), ("ri8", "i1", 128.0, 0.0),
    ("ru8", "u1", 128.0, 128.0)])
def test_sigmf_real_datatypes_are_audio(tmp_path, dt, np_dtype, scale, offset):
    import json

    if np.dtype(np_dtype).kind == "f":
        v = RNG.uniform(-1, 1, 999).astype(np_dtype)
    else:
        info = np.iinfo(np_dtype)
        v = RNG.integers(info.min, info.max, 999, endpoint=True).astype(np_dtype)
    (tmp_path / "r.sigmf-data").write_bytes(v.tobytes() + b"\0")  # plus a partial sample?
    doc = {"global": {"core:datatype": dt, "core:sample_rate": 8000, "core:version": "1.0.0"},
           "captures": [], "annotations": []}
    (tmp_path / "r.sigmf-meta").write_text(json.dumps(doc))
    rec = open_recording(tmp_path / "r")
    assert rec.kind == "audio"
    want = ((v.astype(np.float64) - offset) / scale).astype(np.float32)
    itemsize = np.dtype(np_dtype).itemsize
    if itemsize == 1:  # the extra byte is a whole sample of an 8-bit real format
        want = np.concatenate([want, np.float32([(0 - offset) / scale])])
        got = rec.read()
    else:
        got, err = _until_error(rec, 100)
        assert isinstance(err, sigmf.TruncatedRecordingError)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    # raw real file with a format alias
    (tmp_path / "r.bin").write_bytes(v.tobytes())
    raw = open_recording(tmp_path / "r.bin", fmt=dt.split("_")[0], samp_rate=8000)
    assert raw.kind == "audio" and raw.datatype == dt
    np.testing.assert_array_equal(raw.read(), want[:999])


def test_complex_recordings_are_iq(tmp_path):
    (tmp_path / "c.cf32").write_bytes(np.ones(4, "<c8").tobytes())
    assert open_recording(tmp_path / "c.cf32", fmt="cf32", samp_rate=1e3).kind == "iq"
