#!/usr/bin/env python3
"""Extra Reed-Solomon vectors from libfec, for what rs_ccsds.json / rs_interleaved.json lack.

- (255,239) E=8, the second CCSDS 131.0-B code: libfec ``init_rs_char(8, 0x187, 120, 11, 16,
  pad)`` (conventional basis); the dual basis is libfec's own ``Tal1tab`` -> encode/decode ->
  ``Taltab``, the construction libfec uses for ``encode_rs_ccsds`` (checked here on E=16).
  Codewords, 1/4/8/9-error cases, erasure cases, shortened and interleaved blocks.
- E=16: erasures that hit correct symbols (libfec counts only the symbols it changed), errors
  in shortened codewords (``pad``), an interleaving depth of 8, the conventional basis with
  erasures, and cases beyond the code's capability where libfec returns success with a wrong
  codeword (orbitlink reports those as uncorrectable, on purpose).

Only libfec (Debian ``libfec0``, via ctypes) and numpy are used; no orbitlink code.
Usage: python3 rs_libfec_extra_gen.py [OUTDIR]   (writes rs_libfec_extra.json; deterministic)
"""
import ctypes
import ctypes.util
import json
import os
import sys

import numpy as np

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
lib = ctypes.CDLL(ctypes.util.find_library("fec") or "libfec.so.0")
vp = ctypes.c_void_p
lib.init_rs_char.restype = vp
lib.init_rs_char.argtypes = [ctypes.c_int] * 6
lib.encode_rs_char.argtypes = [vp, vp, vp]
lib.decode_rs_char.argtypes = [vp, vp, vp, ctypes.c_int]
lib.decode_rs_char.restype = ctypes.c_int
lib.free_rs_char.argtypes = [vp]
for f in (lib.encode_rs_8, lib.encode_rs_ccsds):
    f.argtypes = [vp, vp, ctypes.c_int]
for f in (lib.decode_rs_8, lib.decode_rs_ccsds):
    f.argtypes = [vp, vp, ctypes.c_int, ctypes.c_int]
    f.restype = ctypes.c_int
TALTAB = np.frombuffer((ctypes.c_ubyte * 256).in_dll(lib, "Taltab"), np.uint8).copy()
TAL1TAB = np.frombuffer((ctypes.c_ubyte * 256).in_dll(lib, "Tal1tab"), np.uint8).copy()

rng = np.random.default_rng(20261124)
_handles = {}


def rs_handle(e, pad):
    key = (e, pad)
    if key not in _handles:
        nroots, fcr = {16: (32, 112), 8: (16, 120)}[e]
        _handles[key] = lib.init_rs_char(8, 0x187, fcr, 11, nroots, pad)
        assert _handles[key]
    return _handles[key]


def encode(data, e, basis, pad=0):
    """libfec parity of one (shortened) codeword; data in the given basis."""
    nroots = 2 * e
    d = np.frombuffer(bytes(data), np.uint8)
    assert len(d) == 255 - nroots - pad
    if basis == "dual":
        d = TAL1TAB[d]
    d = np.ascontiguousarray(d, np.uint8)
    par = np.zeros(nroots, np.uint8)
    lib.encode_rs_char(rs_handle(e, pad), d.ctypes.data, par.ctypes.data)
    if basis == "dual":
        par = TALTAB[par]
    return par.tobytes()


def decode(cw, e, basis, pad=0, erasures=()):
    """libfec decode_rs_char: (return value, corrected codeword bytes)."""
    d = np.frombuffer(bytes(cw), np.uint8)
    assert len(d) == 255 - pad
    if basis == "dual":
        d = TAL1TAB[d]
    d = np.ascontiguousarray(d, np.uint8).copy()
    er = np.zeros(2 * e, np.int32)
    er[:len(erasures)] = erasures
    r = lib.decode_rs_char(rs_handle(e, pad), d.ctypes.data, er.ctypes.data, len(erasures))
    if basis == "dual":
        d = TALTAB[d]
    return int(r), d.tobytes()


def corrupt(cw, positions, values=None):
    bad = bytearray(cw)
    if values is None:
        values = rng.integers(1, 256, len(positions)).tolist()
    for p, v in zip(positions, values):
        bad[p] ^= v
    return bytes(bad), [int(v) for v in values]


# ---------------------------------------------------------------- self-checks of the method
for _ in range(5):
    d = rng.integers(0, 256, 223, dtype=np.uint8)
    p_ccsds = np.zeros(32, np.uint8)
    lib.encode_rs_ccsds(d.ctypes.data, p_ccsds.ctypes.data, 0)
    assert p_ccsds.tobytes() == encode(d.tobytes(), 16, "dual"), "dual construction != libfec"
    p8 = np.zeros(32, np.uint8)
    lib.encode_rs_8(d.ctypes.data, p8.ctypes.data, 0)
    assert p8.tobytes() == encode(d.tobytes(), 16, "conventional"), "init_rs_char != encode_rs_8"

# ---------------------------------------------------------------- E=8
e8_data = [rng.integers(0, 256, 239, dtype=np.uint8).tobytes() for _ in range(10)]
e8_cw = {b: [d + encode(d, 8, b) for d in e8_data] for b in ("dual", "conventional")}
for b in e8_cw:
    for cw in e8_cw[b]:
        assert decode(cw, 8, b) == (0, cw)

e8_errors = []
for b in ("dual", "conventional"):
    for nerr in (1, 4, 8, 9):
        for rep in range(2):
            idx = (nerr * 3 + rep) % 10
            cw = e8_cw[b][idx]
            pos = sorted(rng.choice(255, nerr, replace=False).tolist())
            bad, vals = corrupt(cw, pos)
            r, fixed = decode(bad, 8, b)
            assert (r == nerr and fixed == cw) if nerr <= 8 else r < 0
            e8_errors.append({"basis": b, "n_errors": nerr, "codeword_index": idx,
                              "error_positions": pos, "error_xor_values": vals,
                              "corrupted_codeword_hex": bad.hex(), "libfec_return": r,
                              "decoded_codeword_hex": fixed.hex() if r >= 0 else None})

e8_erasures = []
for b, nerr, neras in (("dual", 0, 16), ("dual", 4, 8), ("conventional", 3, 10)):
    cw = e8_cw[b][2]
    pos = rng.choice(255, nerr + neras, replace=False).tolist()
    epos, rpos = sorted(pos[:nerr]), sorted(pos[nerr:])
    bad, _ = corrupt(cw, pos)
    r, fixed = decode(bad, 8, b, erasures=rpos)
    assert r == nerr + neras and fixed == cw
    e8_erasures.append({"basis": b, "n_errors": nerr, "n_erasures": neras, "codeword_index": 2,
                        "error_positions": epos, "erasure_positions": rpos,
                        "corrupted_codeword_hex": bad.hex(), "libfec_return": r})


def interleaved_block(data, e, basis, depth, pad):
    k = len(data) // depth
    assert k == 255 - 2 * e - pad
    out = bytearray(len(data) + 2 * e * depth)
    for j in range(depth):
        d = data[j::depth]
        out[j::depth] = d + encode(d, e, basis, pad)
    return bytes(out)


blocks = []
for name, e, b, depth, pad in (("E8_I1_fill39_dual", 8, "dual", 1, 39),
                               ("E8_I2_dual", 8, "dual", 2, 0),
                               ("E8_I3_fill100_conventional", 8, "conventional", 3, 100),
                               ("E16_I8_dual", 16, "dual", 8, 0),
                               ("E16_I2_fill200_dual", 16, "dual", 2, 200)):
    k = 255 - 2 * e - pad
    data = rng.integers(0, 256, k * depth, dtype=np.uint8).tobytes()
    blk = interleaved_block(data, e, b, depth, pad)
    # shortened parity == full-length parity with the fill written out as zeros
    for j in range(depth):
        assert encode(bytes(pad) + data[j::depth], e, b, 0) == blk[j::depth][k:]
    blocks.append({"name": name, "E": e, "basis": b, "interleave_depth": depth,
                   "virtual_fill_bytes_per_codeword": pad, "data_hex": data.hex(),
                   "codeblock_hex": blk.hex()})

# ---------------------------------------------------------------- decoding cases
cases = []


def record(name, e, basis, pad, cw, bad, touched, vals, eras_pos, r, fixed, note):
    cases.append({"name": name, "E": e, "basis": basis, "virtual_fill_bytes_per_codeword": pad,
                  "original_codeword_hex": cw.hex(), "corrupted_codeword_hex": bad.hex(),
                  "corrupted_positions": touched, "error_xor_values": vals,
                  "erasure_positions": sorted(eras_pos), "libfec_return": r,
                  "libfec_decoded_hex": fixed.hex() if r >= 0 else None,
                  "libfec_decoded_equals_original": bool(r >= 0 and fixed == cw),
                  "note": note})


def add_case(name, e, basis, pad, cw, err_pos, eras_pos, note):
    """Corrupt err_pos and eras_pos of codeword cw, decode with libfec, record."""
    touched = sorted(set(err_pos) | set(eras_pos))
    bad, vals = corrupt(cw, touched)
    r, fixed = decode(bad, e, basis, pad, erasures=sorted(eras_pos))
    record(name, e, basis, pad, cw, bad, touched, vals, eras_pos, r, fixed, note)
    return r, fixed


def fresh(e, basis, pad=0):
    d = rng.integers(0, 256, 255 - 2 * e - pad, dtype=np.uint8).tobytes()
    return d + encode(d, e, basis, pad)


# erasures on symbols that were right: libfec returns the number of symbols it changed
cw = fresh(16, "dual")
pos = rng.choice(255, 8, replace=False).tolist()
bad, vals = corrupt(cw, pos[:3])
r, fixed = decode(bad, 16, "dual", erasures=sorted(pos[3:]))
assert r == 3 and fixed == cw
record("E16_3errors_5clean_erasures", 16, "dual", 0, cw, bad, sorted(pos[:3]), vals, pos[3:],
       r, fixed, "5 erasures hit symbols that were right: libfec returns 3, the symbols it changed")

cw = fresh(16, "dual", 123)
add_case("E16_fill123_16errors", 16, "dual", 123, cw,
         rng.choice(132, 16, replace=False).tolist(), [], "shortened k=100: 16 errors corrected")
add_case("E16_fill123_17errors", 16, "dual", 123, cw,
         rng.choice(132, 17, replace=False).tolist(), [], "shortened k=100: 17 errors fail")
cw = fresh(16, "conventional")
p = rng.choice(255, 30, replace=False).tolist()
add_case("E16_conventional_7errors_18erasures", 16, "conventional", 0, cw, p[:7], p[7:25],
         "conventional basis, 2*7 + 18 = 32")
cw = fresh(8, "dual", 55)
add_case("E8_fill55_8errors", 8, "dual", 55, cw, rng.choice(200, 8, replace=False).tolist(), [],
         "E=8 shortened k=184: 8 errors corrected")
add_case("E8_fill55_3errors_10erasures", 8, "dual", 55, cw,
         *(lambda q: (q[:3], q[3:]))(rng.choice(200, 13, replace=False).tolist()),
         "E=8 shortened: 2*3 + 10 = 16")

# beyond capability (2 errors + erasures > 2E): libfec may report a wrong codeword as success
found = 0
for trial in range(200):
    e, basis = (16, "dual") if trial % 2 == 0 else (8, "conventional")
    cw = fresh(e, basis)
    neras = 2 * e - 1
    p = rng.choice(255, neras + 1, replace=False).tolist()
    bad, vals = corrupt(cw, sorted(p))
    r, fixed = decode(bad, e, basis, erasures=sorted(p[1:]))
    if r >= 0 and fixed != cw:
        record(f"E{e}_beyond_capability_{found}", e, basis, 0, cw, bad, sorted(p), vals, p[1:],
               r, fixed, f"1 error + {neras} erasures (2*1 + {neras} > {2 * e}): beyond the "
               "capability; libfec reports a wrong codeword as corrected")
        found += 1
    if found == 4:
        break
assert found == 4

doc = {
    "description": "Extra CCSDS Reed-Solomon vectors from libfec: (255,239) E=8, shortened "
                   "and interleaved blocks, erasure counting, beyond-capability cases",
    "conventions": [
        "Same conventions as rs_ccsds.json / rs_interleaved.json: codeword = data then parity, "
        "byte 0 sent first; codeblock byte j + k*I is symbol k of codeword j; virtual fill = "
        "zeros in front of each codeword, encoded but not sent (libfec pad).",
        "E=8: libfec init_rs_char(8, 0x187, fcr=120, prim=11, nroots=16, pad) (CCSDS 131.0-B: "
        "roots alpha^(11 j), j = 128-E .. 127+E). E=16: fcr=112, nroots=32.",
        "dual basis: bytes mapped with libfec's Tal1tab before and Taltab after the "
        "conventional codec (checked against encode_rs_ccsds for E=16).",
        "libfec_return: symbols changed (erasures that were right are not counted), or "
        "negative when libfec reports failure.",
        "Positions are 0-based in the sent (shortened) codeword.",
        "beyond_capability cases: libfec returns success with a codeword that is NOT the "
        "original; a bounded-distance decoder (2 errors + erasures <= 2E) must report failure.",
    ],
    "produced_by": "libfec 1.0 (Debian libfec0) init_rs_char/encode_rs_char/decode_rs_char, "
                   "Taltab/Tal1tab, via ctypes: tests/data/vectors/rs_libfec_extra_gen.py",
    "cross_checked_with": "encode_rs_ccsds and encode_rs_8 (E=16) against the init_rs_char "
                          "construction; shortened parity against explicit zero fill",
    "e8_data_hex": [d.hex() for d in e8_data],
    "e8_codewords_dual_hex": [c.hex() for c in e8_cw["dual"]],
    "e8_codewords_conventional_hex": [c.hex() for c in e8_cw["conventional"]],
    "e8_error_cases": e8_errors,
    "e8_erasure_cases": e8_erasures,
    "codeblocks": blocks,
    "decode_cases": cases,
}
path = os.path.join(out_dir, "rs_libfec_extra.json")
with open(path, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
print("wrote", path)
