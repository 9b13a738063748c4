"""CCSDS Reed-Solomon codes: (255,223) E=16 and (255,239) E=8, dual or conventional basis.

The codes of CCSDS 131.0-B (TM Synchronization and Channel Coding), section 4: symbols of 8
bits, field polynomial ``F(x) = x^8 + x^7 + x^2 + x + 1`` (0x187), code generator
``g(x) = prod_{j=128-E}^{127+E} (x - alpha^(11 j))``, i.e. ``2E`` consecutive roots of
``gamma = alpha^11`` starting at ``gamma^(128-E)`` (a self-reciprocal ``g``). In libfec terms:

- E=16, conventional basis: ``init_rs_char(8, 0x187, 112, 11, 32, pad)``, i.e. ``encode_rs_8``
  / ``decode_rs_8``; dual basis: ``encode_rs_ccsds`` / ``decode_rs_ccsds``.
- E=8, conventional basis: ``init_rs_char(8, 0x187, 120, 11, 16, pad)``; dual basis: the same
  with Berlekamp's ``Tal1tab`` before and ``Taltab`` after (libfec has no E=8 CCSDS entry).

Conventions
-----------
Codeword
    ``k = 255 - 2E`` data bytes then ``2E`` parity bytes, byte 0 sent first; byte 0 is the
    coefficient of ``x^254``. The code is systematic: the data go out unchanged.
Basis
    ``"dual"``: every byte (data and parity) is in Berlekamp's dual basis (CCSDS 131.0-B
    section 4, "dual basis symbol representation"), as libfec ``encode_rs_ccsds`` makes it:
    ``dual(d) == Taltab[conventional(Tal1tab[d])]``. ``"conventional"``: the polynomial basis
    (libfec ``encode_rs_8``), used e.g. by the GOMspace AX100.
Interleaving (depth ``I`` = 1 to 8; CCSDS uses 1 to 5 and 8)
    Codeblock byte ``j + k*I`` is symbol ``k`` of codeword ``j``; data byte ``m`` belongs to
    codeword ``m mod I``. A codeblock is the ``(k - fill) * I`` data bytes followed by the
    ``2E * I`` interleaved parity bytes.
Virtual fill (shortened code)
    ``fill`` zero bytes in front of *each* codeword are encoded but never sent (libfec
    ``pad``), so a codeword carries ``k - fill`` data bytes and ``255 - fill`` bytes go out.
Erasures
    Byte positions in the codeblock as sent (0-based). With ``rho`` erasures in a codeword,
    up to ``(2E - rho) / 2`` further errors are corrected.
Result
    Per codeword, the number of symbols changed (erasures that held the right value do not
    count: libfec's return value), or -1 if uncorrectable. An uncorrectable codeword is left
    as received and the block result has ``ok = False``; it is never an exception.

Decoding (syndromes, Berlekamp-Massey with erasures, Chien search, Forney) is bounded-distance:
a codeword is accepted only if ``2 * errors + erasures <= 2E``, where ``errors`` counts the
symbols changed outside the erasures, no error falls in the virtual fill, and the correction
reproduces every syndrome. libfec does not check the first condition, so beyond the code's
capability (e.g. 31 erasures plus one error) it can return a wrong codeword as corrected,
where this decoder reports failure; everywhere else the two agree symbol for symbol, return
value included. More than ``2E`` erasures in a codeword make it uncorrectable.

The batch methods :meth:`ReedSolomon.encode_many` and :meth:`ReedSolomon.decode_many` take
2-D uint8 arrays (one codeblock per row) and run one numba kernel over all of them;
``encode`` and ``decode`` run the same kernels on one codeblock.

Input of the wrong type raises ``TypeError``; a wrong length or parameter value raises
:class:`ReedSolomonError` (a ``FecInputError``: an ``OrbitlinkError`` and ``ValueError``), with
one sentence.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import numpy as np

from orbitlink.modem._kernels import rs as _k
from orbitlink.modem.fec.crc import FecInputError
from orbitlink.modem.fec.crc import as_bytes as _as_bytes

__all__ = ["ReedSolomon", "RsResult", "RsBatchResult", "ReedSolomonError",
           "conventional_to_dual", "dual_to_conventional", "CODES"]

N = 255
FIELD_POLY = 0x187
PRIM = 11
#: E -> (nroots, fcr): CCSDS 131.0-B section 4, first root gamma^(128-E), gamma = alpha^11
CODES = {16: (32, 112), 8: (16, 120)}
MAX_INTERLEAVE = 8
BASES = ("dual", "conventional")


class ReedSolomonError(FecInputError):
    """A Reed-Solomon parameter or input of the right type has a wrong value or length.

    A :class:`~orbitlink.modem.fec.crc.FecInputError`, hence an ``OrbitlinkError`` and a
    ``ValueError``.
    """


# --------------------------------------------------------------------------------------------
# GF(256) and basis tables


def _field():
    exp = np.zeros(255, np.int64)
    x = 1
    for i in range(255):
        exp[i] = x
        x <<= 1
        if x & 0x100:
            x ^= FIELD_POLY
    log = np.zeros(256, np.int64)
    log[exp] = np.arange(255)
    return exp, log


_EXP, _LOG = _field()
_GFLOG = _LOG.copy()
_GFLOG[0] = _k.LOG0
_GFEXP = np.zeros(1024, np.int64)
_GFEXP[:510] = np.concatenate([_EXP, _EXP])
#: _MUL[a, b] = a * b in GF(256), conventional basis
_MUL = _GFEXP[_GFLOG[:, None] + _GFLOG[None, :]].astype(np.uint8)


def _dual_tables():
    """Berlekamp's basis conversion (libfec ``gen_ccsds_tal.c``): Taltab, Tal1tab."""
    tal = (0x8D, 0xEF, 0xEC, 0x86, 0xFA, 0x99, 0xAF, 0x7B)
    taltab = np.zeros(256, np.uint8)
    for i in range(256):
        v = 0
        for j in range(8):
            for k in range(8):
                if i & (1 << k):
                    v ^= tal[7 - k] & (1 << j)
        taltab[i] = v
    tal1tab = np.zeros(256, np.uint8)
    tal1tab[taltab] = np.arange(256, dtype=np.uint8)
    return taltab, tal1tab


#: conventional -> dual (libfec Taltab) and dual -> conventional (Tal1tab)
TALTAB, TAL1TAB = _dual_tables()
_IDENTITY = np.arange(256, dtype=np.uint8)


def conventional_to_dual(data) -> bytes:
    """Map bytes from the conventional to Berlekamp's dual basis (libfec ``Taltab``)."""
    return TALTAB[np.frombuffer(_as_bytes(data, "conventional_to_dual"), np.uint8)].tobytes()


def dual_to_conventional(data) -> bytes:
    """Map bytes from Berlekamp's dual to the conventional basis (libfec ``Tal1tab``)."""
    return TAL1TAB[np.frombuffer(_as_bytes(data, "dual_to_conventional"), np.uint8)].tobytes()


def _nibble_rows(full: np.ndarray) -> np.ndarray:
    """(P, 256, B) table of a GF(2)-linear map -> (32 P, B/8) uint64 rows (low, high nibble)."""
    P, _, nb = full.shape
    rows = np.concatenate([full[:, :16, :], full[:, 0:256:16, :]], axis=1)  # (P, 32, B)
    return np.ascontiguousarray(rows).view("<u8").reshape(32 * P, nb // 8).astype(np.uint64)


def generator_poly(e: int) -> np.ndarray:
    """Coefficients ``g_0 .. g_2E`` (index = power of x, monic) of the code generator."""
    nroots, fcr = CODES[e]
    g = np.zeros(nroots + 1, np.int64)
    g[0] = 1
    for i in range(nroots):
        root = int(_EXP[(PRIM * (fcr + i)) % 255])
        # g <- g * (x + root)
        g[1:i + 2] = g[0:i + 1] ^ _MUL[g[1:i + 2], root]
        g[0] = _MUL[g[0], root]
    return g


@dataclass(frozen=True)
class _Tables:
    nroots: int
    fcr: int
    enc: np.ndarray  # uint64 (32 k, nroots/8)
    syn: np.ndarray  # uint64 (32 * 255, nroots/8)
    chien: np.ndarray  # uint64 (32 (nroots + 1), 32)
    gf: np.ndarray  # int64 (3, 1024): gfexp, gflog, conventional -> symbol basis


@functools.lru_cache(maxsize=None)
def _tables(e: int, basis: str) -> _Tables:
    nroots, fcr = CODES[e]
    k = N - nroots
    from_sym = TAL1TAB if basis == "dual" else _IDENTITY
    to_sym = TALTAB if basis == "dual" else _IDENTITY
    conv_of = from_sym.astype(np.int64)  # symbol as sent -> conventional value

    # encoder: R_m = x^m mod g(x) for m = nroots .. 254; data position q has degree 254 - q
    g = generator_poly(e)
    rem = np.zeros((N, nroots), np.int64)  # rem[m, d] = coefficient of x^d of x^m mod g
    cur = g[:nroots].copy()  # x^nroots mod g = g - x^nroots (char 2)
    for m in range(nroots, N):
        rem[m] = cur
        top = cur[nroots - 1]
        cur = np.concatenate([[0], cur[:-1]])
        if top:
            cur ^= _MUL[g[:nroots], top].astype(np.int64)
    # parity byte t (transmission order) is the coefficient of x^(nroots - 1 - t)
    coef = rem[N - 1 - np.arange(k)][:, ::-1]  # (k, nroots)
    enc_full = _MUL[conv_of[None, :, None], coef[:, None, :]]  # (k, 256, nroots)
    enc_full = to_sym[enc_full]

    # syndromes: S_i = sum_p r_p X_p^(fcr + i), X_p = gamma^(254 - p)
    p = np.arange(N)
    ex = (PRIM * (254 - p)[:, None] * (fcr + np.arange(nroots))[None, :]) % 255
    syn_full = _MUL[conv_of[None, :, None], _EXP[ex][:, None, :]]  # (255, 256, nroots)

    # Chien: lambda_j * X_p^-j for p = 0..254 (byte 255 stays 0)
    jj = np.arange(nroots + 1)
    exc = (-(PRIM * (254 - p))[None, :] * jj[:, None]) % 255  # (nroots + 1, 255)
    chien_full = np.zeros((nroots + 1, 256, 256), np.uint8)
    chien_full[:, :, :N] = _MUL[np.arange(256)[None, :, None], _EXP[exc][:, None, :]]
    chien_full[0] = 0  # lambda_0 = 1 is applied by the kernel

    gf = np.zeros((3, 1024), np.int64)
    gf[0] = _GFEXP
    gf[1, :256] = _GFLOG
    gf[2, :256] = to_sym
    tables = _Tables(nroots, fcr, _nibble_rows(enc_full), _nibble_rows(syn_full),
                     _nibble_rows(chien_full), gf)
    for a in (tables.enc, tables.syn, tables.chien, tables.gf):
        a.flags.writeable = False  # shared by every codec of this (E, basis)
    return tables


# --------------------------------------------------------------------------------------------
# Input checks


def _as_u8_2d(a, what: str, ncols: int) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype != np.uint8:
        raise TypeError(f"{what} needs a 2-D uint8 numpy array, not "
                        f"{type(a).__name__}{'' if not isinstance(a, np.ndarray) else ' ' + str(a.dtype)}")
    if a.ndim != 2 or a.shape[1] != ncols:
        raise ReedSolomonError(f"{what} needs an array of shape (n, {ncols}), not {a.shape}")
    return a


def _int_param(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"Reed-Solomon parameter {name} must be an integer, not {v!r}")
    return int(v)


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class RsResult:
    """Outcome of decoding one codeblock.

    Attributes
    ----------
    data : bytes
        The data bytes (``data_length`` of them): corrected where the codeword decoded, as
        received where it did not.
    ok : bool
        True if every codeword of the block decoded.
    corrected : tuple of int
        Per codeword (``interleave`` entries, codeword ``j`` holds block bytes ``j, j+I, ...``):
        the number of symbols changed (data or parity), or -1 if uncorrectable.
    total_corrected : int
        Sum of the non-negative entries of ``corrected``.
    """

    data: bytes
    ok: bool
    corrected: tuple
    total_corrected: int


@dataclass(frozen=True)
class RsBatchResult:
    """Outcome of :meth:`ReedSolomon.decode_many`.

    Attributes
    ----------
    data : numpy.ndarray, uint8, shape (n, data_length)
        Data of each codeblock (uncorrectable codewords left as received).
    corrected : numpy.ndarray, int32, shape (n, interleave)
        Symbols changed per codeword, -1 where uncorrectable.
    ok : numpy.ndarray, bool, shape (n,)
        True where every codeword of the block decoded.
    """

    data: np.ndarray
    corrected: np.ndarray
    ok: np.ndarray

    def result(self, i: int) -> RsResult:
        """The :class:`RsResult` of codeblock ``i``."""
        c = tuple(int(v) for v in self.corrected[i])
        return RsResult(self.data[i].tobytes(), bool(self.ok[i]), c, sum(v for v in c if v > 0))


# --------------------------------------------------------------------------------------------
# Codec

_NO_ERAS = np.zeros((0, 0), np.uint8)


class ReedSolomon:
    """CCSDS Reed-Solomon codec with interleaving and virtual fill (see the module docstring).

    Parameters
    ----------
    e : {16, 8}
        Correction power: 16 for (255,223), 8 for (255,239).
    basis : {"dual", "conventional"}
        Symbol representation of every byte in and out (CCSDS sends the dual basis).
    interleave : int, 1 to 8
        Interleaving depth ``I``.
    virtual_fill : int, 0 to k - 1
        Zero bytes in front of each codeword that are encoded but not sent (shortened code).

    Attributes
    ----------
    k : int
        Data symbols of a full-length codeword (223 or 239).
    data_length : int
        Data bytes per codeblock, ``(k - virtual_fill) * interleave``.
    block_length : int
        Bytes per codeblock as sent, ``(255 - virtual_fill) * interleave``.

    Examples
    --------
    >>> rs = ReedSolomon(e=16, basis="dual", interleave=5)
    >>> block = rs.encode(bytes(range(223)) * 5)
    >>> len(block), rs.decode(block).ok
    (1275, True)
    """

    def __init__(self, e: int = 16, basis: str = "dual", interleave: int = 1,
                 virtual_fill: int = 0):
        e = _int_param(e, "e")
        interleave = _int_param(interleave, "interleave")
        virtual_fill = _int_param(virtual_fill, "virtual_fill")
        if e not in CODES:
            raise ReedSolomonError(f"Reed-Solomon E must be 16 or 8 (CCSDS 131.0-B), not {e}")
        if not isinstance(basis, str) or basis not in BASES:
            raise ReedSolomonError(f"Reed-Solomon basis must be 'dual' or 'conventional', "
                                   f"not {basis!r}")
        if not 1 <= interleave <= MAX_INTERLEAVE:
            raise ReedSolomonError(f"Reed-Solomon interleaving depth must be 1 to "
                                   f"{MAX_INTERLEAVE}, not {interleave}")
        nroots, fcr = CODES[e]
        k = N - nroots
        if not 0 <= virtual_fill < k:
            raise ReedSolomonError(f"Reed-Solomon virtual fill must be 0 to {k - 1} bytes "
                                   f"for E={e}, not {virtual_fill}")
        self.e = e
        self.basis = basis
        self.interleave = interleave
        self.virtual_fill = virtual_fill
        self.nroots = nroots
        self.fcr = fcr
        self.k = k
        self.data_length = (k - virtual_fill) * interleave
        self.block_length = (N - virtual_fill) * interleave
        self.parity_length = nroots * interleave
        self._t = _tables(e, basis)
        self._forney_exp = (-fcr) % 255
        # kernel scratch, used only inside a kernel call (which holds the GIL), so a codec can
        # be shared between threads
        self._ws_int = np.zeros(_k.WS_INT, np.int64)
        self._ws_u64 = np.zeros(_k.WS_U64, np.uint64)

    def __deepcopy__(self, memo):
        # stateless: a copy shares the (read-only) tables and gets its own scratch
        return ReedSolomon(self.e, self.basis, self.interleave, self.virtual_fill)

    def __repr__(self) -> str:
        return (f"ReedSolomon(e={self.e}, basis={self.basis!r}, interleave={self.interleave}, "
                f"virtual_fill={self.virtual_fill})")

    @property
    def name(self) -> str:
        """``RS(n,k)`` as sent, e.g. ``RS(255,223)`` or ``RS(132,100)`` when shortened."""
        f = self.virtual_fill
        return f"RS({N - f},{self.k - f})"

    def _length_error(self, what: str, n: int, want: int) -> ReedSolomonError:
        return ReedSolomonError(
            f"{self.name} (E={self.e}) with interleaving depth {self.interleave} and virtual "
            f"fill {self.virtual_fill} {what} {want} bytes, not {n}")

    def encoded_length(self, n_data: int) -> int:
        """Codeblock length for ``n_data`` data bytes (which must equal ``data_length``)."""
        n_data = _int_param(n_data, "n_data")
        if n_data != self.data_length:
            raise self._length_error("encodes blocks of", n_data, self.data_length)
        return self.block_length

    # -- batch ------------------------------------------------------------------------------
    def encode_many(self, data: np.ndarray) -> np.ndarray:
        """Encode many codeblocks at once.

        Parameters
        ----------
        data : numpy.ndarray, uint8, shape (n, data_length)
            One codeblock's data per row.

        Returns
        -------
        numpy.ndarray, uint8, shape (n, block_length)
            Data followed by the interleaved parity, per row.
        """
        data = _as_u8_2d(data, "encode_many", self.data_length)
        if not (data.flags.c_contiguous and data.flags.writeable):
            data = np.array(data, order="C")  # one kernel signature: writable C arrays
        out = np.empty((data.shape[0], self.block_length), np.uint8)
        _k.rs_encode(data, out, self.interleave, self.virtual_fill, self._t.enc)
        return out

    def decode_many(self, blocks: np.ndarray, erasures: np.ndarray | None = None
                    ) -> RsBatchResult:
        """Decode many codeblocks at once.

        Parameters
        ----------
        blocks : numpy.ndarray, uint8, shape (n, block_length)
            Received codeblocks, one per row (not modified).
        erasures : numpy.ndarray, bool or uint8, shape (n, block_length), optional
            True (nonzero) marks an erased byte.

        Returns
        -------
        RsBatchResult
        """
        work = np.array(_as_u8_2d(blocks, "decode_many", self.block_length), np.uint8,
                        order="C", copy=True)
        eras = self._erasure_mask(erasures, work.shape[0])
        corrected = np.empty((work.shape[0], self.interleave), np.int32)
        t = self._t
        _k.rs_decode(work, eras, self.interleave, self.virtual_fill, t.nroots,
                     self._forney_exp, PRIM, t.syn, t.chien, t.gf, self._ws_int, self._ws_u64,
                     corrected)
        ok = (corrected >= 0).all(axis=1)
        return RsBatchResult(work[:, :self.data_length], corrected, ok)

    def _erasure_mask(self, erasures, n: int) -> np.ndarray:
        if erasures is None:
            return _NO_ERAS
        if not isinstance(erasures, np.ndarray) or erasures.dtype not in (np.bool_, np.uint8):
            raise TypeError("decode_many erasures must be a bool or uint8 numpy array")
        if erasures.shape != (n, self.block_length):
            raise ReedSolomonError(f"decode_many erasures must have shape "
                                   f"({n}, {self.block_length}), not {erasures.shape}")
        return np.ascontiguousarray(erasures.view(np.uint8))

    # -- one codeblock ----------------------------------------------------------------------
    def encode(self, data) -> bytes:
        """Encode one codeblock.

        Parameters
        ----------
        data : bytes-like, ``data_length`` bytes
            Data in transmission order (interleaved: byte ``m`` goes to codeword ``m mod I``),
            in the code's basis.

        Returns
        -------
        bytes
            ``block_length`` bytes: the data followed by ``2E * I`` interleaved parity bytes.
        """
        raw = data if type(data) is bytes else _as_bytes(data, "ReedSolomon.encode")
        if len(raw) != self.data_length:
            raise self._length_error("encodes blocks of", len(raw), self.data_length)
        d = np.frombuffer(bytearray(raw), np.uint8).reshape(1, self.data_length)
        out = np.empty((1, self.block_length), np.uint8)
        _k.rs_encode(d, out, self.interleave, self.virtual_fill, self._t.enc)
        return out.tobytes()

    def decode(self, block, erasures=None) -> RsResult:
        """Decode one codeblock, correcting errors and erasures.

        Parameters
        ----------
        block : bytes-like, ``block_length`` bytes
            The codeblock as received, in transmission order.
        erasures : iterable of int, optional
            Positions of erased bytes in ``block`` (0-based); a position given twice counts
            once. More than ``2E`` erasures in one codeword make it uncorrectable.

        Returns
        -------
        RsResult
            ``data`` (``data_length`` bytes), ``ok``, ``corrected`` per codeword,
            ``total_corrected``.
        """
        raw = block if type(block) is bytes else _as_bytes(block, "ReedSolomon.decode")
        if len(raw) != self.block_length:
            raise self._length_error("decodes blocks of", len(raw), self.block_length)
        work = np.frombuffer(bytearray(raw), np.uint8).reshape(1, self.block_length)
        eras = _NO_ERAS if erasures is None else self._erasure_positions(erasures)
        corrected = np.empty((1, self.interleave), np.int32)
        t = self._t
        _k.rs_decode(work, eras, self.interleave, self.virtual_fill, t.nroots,
                     self._forney_exp, PRIM, t.syn, t.chien, t.gf, self._ws_int, self._ws_u64,
                     corrected)
        c = tuple(corrected[0].tolist())
        return RsResult(work[0, :self.data_length].tobytes(), min(c) >= 0, c,
                        sum(v for v in c if v > 0))

    def _erasure_positions(self, erasures) -> np.ndarray:
        if isinstance(erasures, (str, bytes, bytearray)):
            raise TypeError("erasures must be a sequence of byte positions (integers)")
        try:
            pos = list(erasures)
        except TypeError:
            raise TypeError("erasures must be a sequence of byte positions (integers)") from None
        mask = np.zeros((1, self.block_length), np.uint8)
        for p in pos:
            if isinstance(p, bool) or not isinstance(p, numbers.Integral):
                raise TypeError(f"erasure positions must be integers, not {p!r}")
            if not 0 <= p < self.block_length:
                raise ReedSolomonError(f"erasure position {p} is outside the "
                                       f"{self.block_length}-byte codeblock")
            mask[0, p] = 1
        return mask
