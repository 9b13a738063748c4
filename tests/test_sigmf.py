"""SigMF / raw recording reader and writer (orbitlink.drivers.sigmf)."""

import datetime as dt
import json

import numpy as np
import pytest

from orbitlink import OrbitlinkError
from orbitlink.drivers import sigmf
from orbitlink.drivers.sigmf import SigmfWriter, open_recording


def _meta(tmp_path, name, glob=None, captures=None, annotations=None, raw_text=None):
    path = tmp_path / f"{name}.sigmf-meta"
    if raw_text is not None:
        path.write_text(raw_text)
        return path
    doc = {"global": {"core:datatype": "cf32_le", "core:sample_rate": 48000.0,
                      "core:version": "1.0.0", **(glob or {})},
           "captures": captures if captures is not None else [{"core:sample_start": 0}],
           "annotations": annotations or []}
    path.write_text(json.dumps(doc))
    return path


def _cf32_recording(tmp_path, x, name="rec", **glob):
    (tmp_path / f"{name}.sigmf-data").write_bytes(np.asarray(x, "<c8").tobytes())
    _meta(tmp_path, name, glob)
    return tmp_path / name


def _read(rec, chunk_size=65536):
    return np.concatenate(list(rec.chunks(chunk_size)))


def _collect_until_error(rec, chunk_size, exc_type=OrbitlinkError):
    got = []
    with pytest.raises(exc_type) as info:
        for c in rec.chunks(chunk_size):
            got.append(c)
    x = np.concatenate(got) if got else np.zeros(0, np.complex64)
    return x, str(info.value)


def _one_sentence(msg):
    assert "\n" not in msg
    assert msg.count(". ") == 0, msg


# ------------------------------------------------------------------------------------------
# writer / reader round trip


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(1000) + 1j * rng.standard_normal(1000)).astype(np.complex64)
    when = dt.datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=dt.timezone.utc)
    with SigmfWriter(tmp_path / "pass", 250e3, center_freq=437.5e6, datetime=when,
                     description="loopback") as w:
        w.write(x[:300])
        w.write(x[300:])
        w.annotate(700, 100, "frame 1", comment="second", crc_ok=True,
                   snr_db=np.float32(7.5))
        w.annotate(100, 200, "frame 0", **{"core:freq_lower_edge": 437.49e6})
    meta = json.loads((tmp_path / "pass.sigmf-meta").read_text())
    g = meta["global"]
    assert g["core:datatype"] == "cf32_le"
    assert g["core:sample_rate"] == 250e3
    assert g["core:version"] == "1.0.0"
    assert g["core:recorder"] == "orbitlink"
    assert g["core:description"] == "loopback"
    assert meta["captures"] == [{"core:sample_start": 0, "core:frequency": 437.5e6,
                                 "core:datetime": "2024-05-01T12:30:15.250000Z"}]
    anns = meta["annotations"]
    assert [a["core:sample_start"] for a in anns] == [100, 700]  # sorted
    assert anns[1]["orbitlink:crc_ok"] is True and anns[1]["orbitlink:snr_db"] == 7.5
    assert anns[1]["core:comment"] == "second"
    assert anns[0]["core:freq_lower_edge"] == 437.49e6
    assert any(e["name"] == "orbitlink" for e in g["core:extensions"])

    for path in ("pass", "pass.sigmf-meta", "pass.sigmf-data"):
        rec = open_recording(tmp_path / path)
        assert rec.samp_rate == 250e3 and rec.center_freq == 437.5e6
        assert rec.datetime == "2024-05-01T12:30:15.250000Z"
        assert rec.num_samples == 1000 and rec.datatype == "cf32_le"
        assert rec.meta == meta and [a["core:label"] for a in rec.annotations] == [
            "frame 0", "frame 1"]
        y = _read(rec)
        assert y.dtype == np.complex64
        assert y.tobytes() == x.tobytes()


def test_sha512_and_minimal_meta(tmp_path):
    import hashlib

    x = np.arange(10, dtype=np.complex64)
    with SigmfWriter(tmp_path / "m.sigmf-data", 1e6) as w:  # suffix is stripped
        w.write(x)
    meta = json.loads((tmp_path / "m.sigmf-meta").read_text())
    data = (tmp_path / "m.sigmf-data").read_bytes()
    assert meta["global"]["core:sha512"] == hashlib.sha512(data).hexdigest()
    assert meta["captures"] == [{"core:sample_start": 0}]
    assert meta["annotations"] == [] and "core:extensions" not in meta["global"]
    rec = open_recording(tmp_path / "m")
    assert rec.center_freq is None and rec.datetime is None


@pytest.mark.parametrize("value, text", [
    (dt.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05Z"),  # naive = UTC
    (dt.datetime(2024, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
     "2024-01-02T03:04:05Z"),
    (0.5, "1970-01-01T00:00:00.500000Z"),
    ("2024-01-02T03:04:05+01:00", "2024-01-02T02:04:05Z"),
    ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
])
def test_datetime_is_utc_with_z(value, text):
    assert sigmf.format_datetime(value) == text


def test_writer_meta_written_on_exception(tmp_path):
    with pytest.raises(RuntimeError):
        with SigmfWriter(tmp_path / "crash", 1e3) as w:
            w.write(np.ones(5, np.complex64))
            raise RuntimeError("boom")
    assert open_recording(tmp_path / "crash").num_samples == 5


# ------------------------------------------------------------------------------------------
# datatypes


@pytest.mark.parametrize("datatype, comp, values, expect", [
    ("cf32_le", "<f4", [0.0, 1.5, -2.25, 1e-3, 3.0, -7.0], None),
    ("ci16_le", "<i2", [0, 16384, -32768, 32767, -1, 1], 1 / 32768),
    ("ci8", "i1", [0, 64, -128, 127, -1, 1], 1 / 128),
    ("cu8", "u1", [0, 255, 127, 128, 64, 200], None),
])
def test_every_datatype(tmp_path, datatype, comp, values, expect):
    raw = np.array(values, comp)
    (tmp_path / "d.sigmf-data").write_bytes(raw.tobytes())
    _meta(tmp_path, "d", {"core:datatype": datatype})
    rec = open_recording(tmp_path / "d")
    assert rec.datatype == datatype and rec.num_samples == 3
    y = _read(rec)
    assert y.dtype == np.complex64 and len(y) == 3
    v = np.array(values, np.float64)
    if datatype == "cu8":
        ref = (v - 127.5) / 127.5
        assert y[0] == complex(-1.0, 1.0)  # 0 -> -1, 255 -> +1
    elif expect is None:
        ref = v
    else:
        ref = v * expect
    ref = (ref[0::2] + 1j * ref[1::2]).astype(np.complex64)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-7)
    known = {"ci16_le": (0.5j, -1 + 32767 / 32768 * 1j),
             "ci8": (0.5j, -1 + 127 / 128 * 1j),
             "cf32_le": (1.5j, -2.25 + 1e-3j)}
    if datatype in known:
        assert y[0] == np.complex64(known[datatype][0])
        assert y[1] == np.complex64(known[datatype][1])


@pytest.mark.parametrize("fmt, comp, scale", [
    ("cf32_le", "<f4", 1.0), ("cf32", "<f4", 1.0), ("fc32", "<f4", 1.0),
    ("ci16_le", "<i2", 1 / 32768), ("cs16", "<i2", 1 / 32768), ("ci8", "i1", 1 / 128),
    ("cu8", "u1", None),
])
@pytest.mark.parametrize("ext", [".cf32", ".raw", ".bin", ""])
def test_raw_files(tmp_path, fmt, comp, scale, ext):
    rng = np.random.default_rng(3)
    if comp == "<f4":
        raw = rng.standard_normal(2 * 777).astype(comp)
    else:
        info = np.iinfo(comp)
        raw = rng.integers(info.min, int(info.max) + 1, 2 * 777).astype(comp)
    path = tmp_path / f"capture{ext}"
    path.write_bytes(raw.tobytes())
    rec = open_recording(path, fmt=fmt, samp_rate=2.4e6)
    assert rec.samp_rate == 2.4e6 and rec.meta_path is None and rec.center_freq is None
    assert rec.num_samples == 777
    v = raw.astype(np.float64)
    v = (v - 127.5) / 127.5 if scale is None else v * scale
    ref = (v[0::2] + 1j * v[1::2]).astype(np.complex64)
    np.testing.assert_allclose(_read(rec, 100), ref, rtol=0, atol=1e-7)


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000, 5000])
def test_chunked_equals_whole(tmp_path, chunk):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(1000) + 1j * rng.standard_normal(1000)).astype(np.complex64)
    rec = open_recording(_cf32_recording(tmp_path, x))
    parts = list(rec.chunks(chunk))
    assert all(0 < len(p) <= chunk for p in parts)
    assert np.concatenate(parts).tobytes() == rec.read().tobytes() == x.tobytes()
    # ci16 too (a converting type)
    raw = rng.integers(-32768, 32768, 2000).astype("<i2")
    (tmp_path / "i.raw").write_bytes(raw.tobytes())
    r16 = open_recording(tmp_path / "i.raw", "ci16_le", 1e6)
    assert np.concatenate(list(r16.chunks(chunk))).tobytes() == r16.read().tobytes()


def test_rate_fallback_and_agreement(tmp_path):
    (tmp_path / "n.sigmf-data").write_bytes(np.zeros(4, "<c8").tobytes())
    doc = {"global": {"core:datatype": "cf32_le"}, "captures": []}
    (tmp_path / "n.sigmf-meta").write_text(json.dumps(doc))
    assert open_recording(tmp_path / "n", samp_rate=1e5).samp_rate == 1e5
    rec = open_recording(_cf32_recording(tmp_path, np.zeros(4)), samp_rate=48000, fmt="cf32")
    assert rec.samp_rate == 48000.0
    with pytest.raises(OrbitlinkError, match="conflicts with core:sample_rate"):
        open_recording(tmp_path / "rec", samp_rate=1e6)
    with pytest.raises(OrbitlinkError, match="conflicts with core:datatype"):
        open_recording(tmp_path / "rec", fmt="ci16_le")


def test_captures_and_annotations_are_parsed(tmp_path):
    (tmp_path / "c.sigmf-data").write_bytes(np.zeros(8, "<c8").tobytes())
    _meta(tmp_path, "c", captures=[
        {"core:sample_start": 4, "core:frequency": 2e9},
        {"core:sample_start": 0, "core:frequency": 145.8e6,
         "core:datetime": "2023-03-03T03:03:03Z"}],
        annotations=[{"core:sample_start": 5, "core:sample_count": 1},
                     {"core:sample_start": 1, "core:sample_count": 2, "core:label": "a"}])
    rec = open_recording(tmp_path / "c.sigmf-meta")
    assert rec.center_freq == 145.8e6 and rec.datetime == "2023-03-03T03:03:03Z"
    assert [c["core:sample_start"] for c in rec.captures] == [0, 4]
    assert [a["core:sample_start"] for a in rec.annotations] == [1, 5]


# ------------------------------------------------------------------------------------------
# bad input


def test_missing_files(tmp_path):
    with pytest.raises(sigmf.RecordingNotFoundError) as e:
        open_recording(tmp_path / "nothing")
    assert "nothing" in str(e.value) and "not found" in str(e.value)
    _meta(tmp_path, "nodata")
    with pytest.raises(OrbitlinkError, match=r"nodata\.sigmf-data: data file not found"):
        open_recording(tmp_path / "nodata")
    (tmp_path / "nometa.sigmf-data").write_bytes(np.zeros(4, "<c8").tobytes())
    with pytest.raises(OrbitlinkError, match=r"nometa\.sigmf-meta: metadata file not found"):
        open_recording(tmp_path / "nometa.sigmf-data")
    # ... but it can be read as a raw file when the format is given
    assert open_recording(tmp_path / "nometa.sigmf-data", "cf32_le", 1e3).num_samples == 4
    with pytest.raises(OrbitlinkError, match="not found"):
        open_recording(tmp_path / "x.cf32", fmt="cf32", samp_rate=1e3)


def test_unsupported_datatype(tmp_path):
    (tmp_path / "u.sigmf-data").write_bytes(bytes(16))
    _meta(tmp_path, "u", {"core:datatype": "rf64_be"})
    with pytest.raises(sigmf.UnsupportedDatatypeError) as e:
        open_recording(tmp_path / "u")
    msg = str(e.value)
    assert "u.sigmf-meta" in msg and "rf64_be" in msg
    for name in ("cf32_le", "ci16_le", "ci8", "cu8"):
        assert name in msg
    _one_sentence(msg)
    (tmp_path / "r.bin").write_bytes(bytes(16))
    with pytest.raises(sigmf.UnsupportedDatatypeError, match="r.bin.*'cs32'.*supported"):
        open_recording(tmp_path / "r.bin", fmt="cs32", samp_rate=1e3)
    with pytest.raises(OrbitlinkError, match="r.bin.*--format"):
        open_recording(tmp_path / "r.bin")
    with pytest.raises(OrbitlinkError, match="r.bin.*--rate"):
        open_recording(tmp_path / "r.bin", fmt="cu8")


@pytest.mark.parametrize("size", [0, 5])
def test_empty(tmp_path, size):
    (tmp_path / "e.sigmf-data").write_bytes(bytes(size))
    _meta(tmp_path, "e")
    with pytest.raises(sigmf.EmptyRecordingError) as e:
        open_recording(tmp_path / "e")
    assert "e.sigmf-data" in str(e.value)
    _one_sentence(str(e.value))
    (tmp_path / "e.raw").write_bytes(b"")
    with pytest.raises(OrbitlinkError, match="empty"):
        open_recording(tmp_path / "e.raw", "cu8", 1e3)


@pytest.mark.parametrize("text, match", [
    ('{"global": {"core:datatype": "cf32_le",', "malformed JSON at line 1"),
    ("[1, 2]", "no \"global\" object"),
    ('{"global": {"core:sample_rate": 1000}}', "no core:datatype"),
    ('{"global": {"core:datatype": "cf32_le", "core:sample_rate": -5}}', "positive number"),
    ('{"global": {"core:datatype": "cf32_le", "core:sample_rate": "fast"}}', "positive number"),
    ('{"global": {"core:datatype": "cf32_le", "core:sample_rate": 1000}, "captures": 3}',
     "captures"),
    ('{"global": {"core:datatype": "cf32_le", "core:sample_rate": 1000}, '
     '"captures": [{"core:frequency": "hi"}]}', "core:frequency"),
])
def test_bad_meta(tmp_path, text, match):
    (tmp_path / "b.sigmf-data").write_bytes(bytes(16))
    _meta(tmp_path, "b", raw_text=text)
    with pytest.raises(sigmf.MetadataError, match=match) as e:
        open_recording(tmp_path / "b")
    assert str(e.value).startswith(str(tmp_path / "b.sigmf-meta") + ":")
    _one_sentence(str(e.value))


def test_missing_sample_rate(tmp_path):
    (tmp_path / "s.sigmf-data").write_bytes(bytes(16))
    _meta(tmp_path, "s", raw_text='{"global": {"core:datatype": "cf32_le"}}')
    with pytest.raises(sigmf.MetadataError, match=r"s\.sigmf-meta: .*no core:sample_rate.*--rate"):
        open_recording(tmp_path / "s")


@pytest.mark.parametrize("datatype, itemsize, extra", [
    ("cf32_le", 8, 1), ("cf32_le", 8, 7), ("ci16_le", 4, 3), ("cu8", 2, 1)])
@pytest.mark.parametrize("chunk", [1, 10, 1000])
def test_truncated_yields_whole_samples_first(tmp_path, datatype, itemsize, extra, chunk):
    n = 125
    data = np.random.default_rng(5).integers(0, 100, n * itemsize + extra).astype(np.uint8)
    if datatype == "cf32_le":
        data[: n * itemsize] = np.arange(2 * n, dtype="<f4").view(np.uint8)
    (tmp_path / "recording.sigmf-data").write_bytes(data.tobytes())
    _meta(tmp_path, "recording", {"core:datatype": datatype})
    rec = open_recording(tmp_path / "recording")  # no error at open time
    assert rec.num_samples == n and rec.truncated_bytes == extra
    got, msg = _collect_until_error(rec, chunk, sigmf.TruncatedRecordingError)
    assert len(got) == n
    ref = open_recording(_write_raw(tmp_path, data[: n * itemsize]), datatype, 1.0).read()
    assert got.tobytes() == ref.tobytes()
    size = n * itemsize + extra
    assert msg.startswith(f"{tmp_path / 'recording.sigmf-data'}: size {size} bytes is not a "
                          f"whole number of {datatype} samples ({itemsize} bytes each)")
    _one_sentence(msg)


def _write_raw(tmp_path, data):
    p = tmp_path / "whole.raw"
    p.write_bytes(np.asarray(data).tobytes())
    return p


@pytest.mark.parametrize("bad_index, bad_value", [(0, np.nan), (37, np.inf), (99, -np.inf),
                                                  (64, complex(0, np.nan))])
@pytest.mark.parametrize("chunk", [1, 16, 1000])
def test_nan_yields_good_samples_first(tmp_path, bad_index, bad_value, chunk):
    x = (np.arange(100) * (1 + 0.5j)).astype(np.complex64)
    x[bad_index] = bad_value
    x[bad_index + 1:] = np.nan  # only the first bad one is reported
    rec = open_recording(_cf32_recording(tmp_path, x))
    got, msg = _collect_until_error(rec, chunk, sigmf.BadSampleError)
    assert len(got) == bad_index
    assert got.tobytes() == x[:bad_index].tobytes()
    assert f"sample {bad_index} is not finite" in msg and "rec.sigmf-data" in msg
    _one_sentence(msg)


def test_nan_before_truncation_reports_nan(tmp_path):
    x = np.ones(10, np.complex64)
    x[4] = np.nan
    (tmp_path / "t.raw").write_bytes(x.tobytes() + b"\x00")
    got, msg = _collect_until_error(open_recording(tmp_path / "t.raw", "cf32", 1.0), 3)
    assert len(got) == 4 and "sample 4" in msg


def test_errors_are_orbitlink_errors():
    for cls in (sigmf.RecordingNotFoundError, sigmf.UnsupportedDatatypeError,
                sigmf.EmptyRecordingError, sigmf.MetadataError,
                sigmf.TruncatedRecordingError, sigmf.BadSampleError):
        assert issubclass(cls, sigmf.RecordingError)
        assert issubclass(cls, OrbitlinkError)


def test_archive_is_rejected(tmp_path):
    (tmp_path / "a.sigmf").write_bytes(b"tar")
    with pytest.raises(OrbitlinkError, match="archives"):
        open_recording(tmp_path / "a.sigmf")


def test_bad_chunk_size(tmp_path):
    rec = open_recording(_cf32_recording(tmp_path, np.zeros(3)))
    with pytest.raises(ValueError):
        next(rec.chunks(0))


@pytest.mark.parametrize("ordered", [True, False])
def test_writer_spools_many_annotations_to_the_same_metadata(tmp_path, monkeypatch, ordered):
    """Past a thousand annotations the writer keeps them in a temporary file (memory flat in
    the number of frames); the metadata written is the same JSON text."""
    import orbitlink.drivers.sigmf as sm

    rng = np.random.default_rng(1)
    starts = np.arange(0, 5000 * 3, 3)
    if not ordered:
        rng.shuffle(starts)
    texts = []
    for spool_at in (10 ** 9, 100):
        monkeypatch.setattr(sm, "_SPOOL_AT", spool_at)
        with SigmfWriter(tmp_path / f"a{spool_at}", 1000.0, datetime="2026-01-01T00:00:00Z") as w:
            w.write(np.ones(16000, np.complex64))
            for i, s in enumerate(starts):
                w.annotate(int(s), 3, f"frame {i}", comment="ab" * 10, frame=i)
        assert (w._spool is None)
        texts.append((tmp_path / f"a{spool_at}.sigmf-meta").read_text())
    assert texts[0] == texts[1]
    meta = json.loads(texts[1])
    assert [a["core:sample_start"] for a in meta["annotations"]] == sorted(starts.tolist())
    assert meta["global"]["core:extensions"][0]["name"] == "orbitlink"
