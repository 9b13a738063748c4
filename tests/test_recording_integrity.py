"""A recording whose data file disagrees with its metadata (or a WAV file with its header) is
noticed when it is opened: a warning in ``rec.warnings`` by default, IntegrityError with
``strict=True``."""

import json
import os
import struct

import numpy as np
import pytest

from orbitlink import OrbitlinkError
from orbitlink.drivers.sigmf import (IntegrityError, MetadataError, RecordingError, SigmfWriter,
                                     TruncatedRecordingError, open_recording)
from orbitlink.drivers.wav import WavWriter, open_wav

N = 4000


def make(tmp_path, name="rec", n=N, annotations=((100, 500), (3000, 900))):
    base = tmp_path / name
    x = (np.arange(n) % 17 - 8).astype(np.float32) * (1 + 0.5j)
    with SigmfWriter(base, 48000.0, center_freq=437.5e6) as w:
        w.write(x)
        for i, (s, c) in enumerate(annotations):
            w.annotate(s, c, f"frame {i}")
    return base


def truncate(path, nbytes):
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:
        fh.truncate(size - nbytes)


def edit_meta(base, fn):
    p = f"{base}.sigmf-meta"
    with open(p) as fh:
        meta = json.load(fh)
    fn(meta)
    with open(p, "w") as fh:
        json.dump(meta, fh)


def one_sentence(msg, *needles):
    assert msg and "\n" not in msg and msg.count(". ") == 0, msg
    for n in needles:
        assert n in msg, (n, msg)


def test_writer_records_sha512_and_an_intact_recording_has_no_warnings(tmp_path):
    base = make(tmp_path)
    with open(f"{base}.sigmf-meta") as fh:
        assert len(json.load(fh)["global"]["core:sha512"]) == 128
    for strict in (False, True):
        rec = open_recording(base, strict=strict)
        assert rec.warnings == [] and rec.num_samples == N
    assert open_recording(f"{base}.sigmf-data").warnings == []


def test_truncated_data_file_warns_or_raises(tmp_path):
    base = make(tmp_path)
    truncate(f"{base}.sigmf-data", 8 * 1000)  # 1000 samples gone: annotation 1 now past the end
    rec = open_recording(base)
    assert rec.num_samples == N - 1000 and len(rec.warnings) == 2
    one_sentence(rec.warnings[0], "rec.sigmf-meta", "1 annotation(s)", "3000 to 3900",
                 "3000 samples", "truncated")
    one_sentence(rec.warnings[1], "rec.sigmf-data", "core:sha512")
    assert len(rec.read()) == N - 1000  # the samples that are there are still readable
    with pytest.raises(IntegrityError) as ei:
        open_recording(base, strict=True)
    assert isinstance(ei.value, RecordingError) and isinstance(ei.value, OrbitlinkError)
    assert type(ei.value) is not ValueError
    assert str(ei.value) == rec.warnings[0]


def test_truncated_by_a_few_samples_only_the_hash_notices(tmp_path):
    base = make(tmp_path, annotations=((0, 100),))
    truncate(f"{base}.sigmf-data", 8 * 3)
    rec = open_recording(base)
    assert len(rec.warnings) == 1
    one_sentence(rec.warnings[0], "does not match the core:sha512")
    with pytest.raises(IntegrityError, match="core:sha512"):
        open_recording(base, strict=True)


def test_changed_data_file_fails_the_hash(tmp_path):
    base = make(tmp_path)
    with open(f"{base}.sigmf-data", "r+b") as fh:
        fh.seek(1234)
        fh.write(b"\x01")
    assert len(open_recording(base).warnings) == 1
    with pytest.raises(IntegrityError):
        open_recording(base, strict=True)


def test_annotation_past_the_end_without_a_hash(tmp_path):
    base = make(tmp_path)

    def add(meta):
        del meta["global"]["core:sha512"]
        meta["annotations"].append({"core:sample_start": N + 10, "core:label": "ghost"})

    edit_meta(base, add)
    rec = open_recording(base)
    assert len(rec.warnings) == 1
    one_sentence(rec.warnings[0], "1 annotation(s)", f"sample {N + 10}")
    with pytest.raises(IntegrityError, match="annotation"):
        open_recording(base, strict=True)


def test_annotation_ending_exactly_at_the_end_is_fine(tmp_path):
    base = make(tmp_path, annotations=((0, N), (N - 1, 1)))
    assert open_recording(base, strict=True).warnings == []


def test_capture_past_the_end(tmp_path):
    base = make(tmp_path)
    edit_meta(base, lambda m: m["captures"].append({"core:sample_start": 2 * N}))
    rec = open_recording(base)
    assert any("capture(s)" in w for w in rec.warnings)
    with pytest.raises(IntegrityError, match="capture"):
        open_recording(base, strict=True)


def test_hash_added_to_a_foreign_meta(tmp_path):
    """A recording written elsewhere: its hash, computed here, matches; a wrong one does not."""
    import hashlib

    base = tmp_path / "foreign"
    data = (np.arange(2 * N) % 100).astype(np.int16).tobytes()
    with open(f"{base}.sigmf-data", "wb") as fh:
        fh.write(data)
    meta = {"global": {"core:datatype": "ci16_le", "core:sample_rate": 1e6,
                       "core:version": "1.0.0",
                       "core:sha512": hashlib.sha512(data).hexdigest().upper()},
            "captures": [{"core:sample_start": 0}], "annotations": []}
    with open(f"{base}.sigmf-meta", "w") as fh:
        json.dump(meta, fh)
    assert open_recording(base, strict=True).warnings == []
    truncate(f"{base}.sigmf-data", 4 * 10)
    assert len(open_recording(base).warnings) == 1
    with pytest.raises(IntegrityError):
        open_recording(base, strict=True)


def test_hash_is_read_in_blocks(tmp_path, monkeypatch):
    """The hash is computed block by block, never from one whole-file read."""
    import orbitlink.drivers.sigmf as sm

    base = make(tmp_path, n=3 * N)
    monkeypatch.setattr(sm, "_SHA512_BLOCK", 1000)
    sizes = []
    real_open = open

    class Spy:
        def __init__(self, fh):
            self.fh = fh

        def read(self, n=-1):
            sizes.append(n)
            return self.fh.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.fh.close()

    def spy_open(p, mode="r", *a, **k):
        fh = real_open(p, mode, *a, **k)
        return Spy(fh) if str(p).endswith(".sigmf-data") else fh

    monkeypatch.setattr(sm, "open", spy_open, raising=False)
    assert sm.open_recording(base).warnings == []
    assert sizes and all(0 < n <= 1000 for n in sizes)


def test_no_hash_no_hashing(tmp_path, monkeypatch):
    import orbitlink.drivers.sigmf as sm

    base = make(tmp_path)
    edit_meta(base, lambda m: m["global"].pop("core:sha512"))

    def boom(*a, **k):
        raise AssertionError("hashed without core:sha512")

    monkeypatch.setattr(sm, "_sha512_check", boom)
    assert sm.open_recording(base, strict=True).warnings == []


def test_bad_hash_field_and_bad_annotation_count(tmp_path):
    base = make(tmp_path)
    edit_meta(base, lambda m: m["global"].update({"core:sha512": 42}))
    rec = open_recording(base)
    assert len(rec.warnings) == 1 and "not a SHA-512 digest" in rec.warnings[0]
    edit_meta(base, lambda m: m["annotations"][0].update({"core:sample_count": "many"}))
    with pytest.raises(MetadataError, match="core:sample_count"):
        open_recording(base)


def test_raw_files_have_no_warnings(tmp_path):
    p = tmp_path / "x.cf32"
    np.zeros(100, np.complex64).tofile(p)
    assert open_recording(p, fmt="cf32", samp_rate=1e3, strict=True).warnings == []


# ------------------------------------------------------------------------------------------------
# WAV


def wav(tmp_path, n=1000, name="a.wav"):
    p = tmp_path / name
    with WavWriter(p, 8000, channels=1, sample_format="int16") as w:
        w.write(np.sin(np.arange(n) * 0.1) * 0.5)
    return p


def test_intact_wav_has_no_warnings(tmp_path):
    p = wav(tmp_path)
    assert open_recording(p).warnings == [] and open_wav(p, strict=True).warnings == []


def test_wav_data_chunk_past_the_end(tmp_path):
    p = wav(tmp_path)
    truncate(p, 200)  # 100 frames of the data chunk missing
    rec = open_recording(p)  # not silent: the whole frames, then TruncatedRecordingError
    with pytest.raises(TruncatedRecordingError, match="declares 200 byte"):
        list(rec.chunks())
    with pytest.raises(IntegrityError) as ei:
        open_recording(p, strict=True)
    one_sentence(str(ei.value), "a.wav", "200 byte(s)", "truncated")


def test_wav_riff_size_past_the_end(tmp_path):
    p = wav(tmp_path)
    with open(p, "ab") as fh:  # a LIST chunk after the samples, then cut it off
        fh.write(b"LIST" + struct.pack("<I", 20) + bytes(20))
    with open(p, "r+b") as fh:
        fh.seek(4)
        fh.write(struct.pack("<I", os.path.getsize(p) - 8))
    assert open_recording(p, strict=True).warnings == []
    truncate(p, 15)
    rec = open_recording(p)
    assert rec.num_samples == 1000 and len(rec.read()) == 1000
    assert len(rec.warnings) == 1
    one_sentence(rec.warnings[0], "a.wav", "RIFF header")
    with pytest.raises(IntegrityError, match="RIFF"):
        open_recording(p, strict=True)


@pytest.mark.parametrize("riff", [0, 0xFFFFFFFF])
def test_wav_placeholder_riff_sizes_are_not_problems(tmp_path, riff):
    p = wav(tmp_path)
    with open(p, "r+b") as fh:
        fh.seek(4)
        fh.write(struct.pack("<I", riff))
    assert open_recording(p, strict=True).warnings == []


# ------------------------------------------------------------------------------------------------
# other inputs that must give RecordingError / OrbitlinkError, not a bare exception


def test_deeply_nested_metadata_is_a_metadata_error(tmp_path):
    base = make(tmp_path)
    with open(f"{base}.sigmf-meta", "w") as fh:
        fh.write("[" * 100000 + "]" * 100000)
    with pytest.raises(MetadataError, match="nested too deeply"):
        open_recording(base)


@pytest.mark.parametrize("value", [float("nan"), 1e20, -1e20, "0001-01-01T00:00:00+01:00"])
def test_writer_datetime_out_of_range(tmp_path, value):
    with pytest.raises(OrbitlinkError) as ei:
        SigmfWriter(tmp_path / "w", 1e3, datetime=value)
    assert type(ei.value) is not ValueError and "\n" not in str(ei.value)
