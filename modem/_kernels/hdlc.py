"""numba kernel of the HDLC deframer (flag search, bit destuffing, FCS) on unpacked bits.

Pure function: inputs, parameters, state arrays (updated in place) and preallocated outputs in;
the number of frames written out. ``cache=True``, one signature.
"""

from numba import njit

# state slots (int64[8])
ONES, IN_FRAME, ACC, NACC, NBYTES, CRC, START, POS = range(8)
STATE_LEN = 8
X25_RESIDUE = 0xF0B8  #: CRC-16/X.25 register after data + its own FCS (before the final XOR)


@njit(cache=True, nogil=True)
def hdlc_deframe(bits, state, buf, table, min_bytes, out_bytes, out_frames):
    """Find HDLC frames in a bit stream, carrying state across calls.

    Parameters
    ----------
    bits : uint8[:]
        Hard bits (0/1) in transmission order (NRZI-decoded, descrambled).
    state : int64[8]
        Run of 1s, in-frame flag, partial byte and its bit count, bytes so far, running
        CRC-16/X.25 register, absolute index of the opening flag, absolute index of ``bits[0]``;
        all zero-initialised except ``CRC``. Updated in place.
    buf : uint8[max_bytes]
        The frame being received (address to FCS); its length is the longest frame accepted.
    table : uint32[256]
        Byte table of the reflected polynomial 0x8408.
    min_bytes : int
        Shortest frame emitted, FCS included.
    out_bytes : uint8[:]
        Frame bytes out, concatenated (capacity ``len(buf) + len(bits) // 8 + 8``).
    out_frames : int64[:, 4]
        One row per frame: opening-flag index, offset in ``out_bytes``, byte count (FCS
        included), 1 if the FCS is good (capacity ``len(bits) // 8 + 2`` rows).

    Returns
    -------
    int
        Number of frames written.
    """
    ones = state[0]
    inf = state[1]
    acc = state[2]
    nacc = state[3]
    nb = state[4]
    crc = state[5]
    start = state[6]
    pos = state[7]
    max_bytes = buf.shape[0]
    nf = 0
    ob = 0
    for i in range(bits.shape[0]):
        b = bits[i] & 1
        if b:
            ones += 1
            if ones >= 6:
                if ones == 7:
                    inf = 0  # abort: hunt for the next flag
                pos += 1
                continue
            if inf == 0:
                pos += 1
                continue
            acc |= 1 << nacc
            nacc += 1
        else:
            if ones == 6:  # flag: closes the current frame, opens the next
                if inf == 1 and nacc == 6 and nb >= min_bytes:
                    for k in range(nb):
                        out_bytes[ob + k] = buf[k]
                    out_frames[nf, 0] = start
                    out_frames[nf, 1] = ob
                    out_frames[nf, 2] = nb
                    out_frames[nf, 3] = 1 if crc == X25_RESIDUE else 0
                    nf += 1
                    ob += nb
                inf = 1
                acc = 0
                nacc = 0
                nb = 0
                crc = 0xFFFF
                start = pos - 7
                ones = 0
                pos += 1
                continue
            if ones == 5 or inf == 0:  # stuffed zero, or hunting
                ones = 0
                pos += 1
                continue
            ones = 0
            nacc += 1
        if nacc == 8:
            if nb >= max_bytes:
                inf = 0  # too long: hunt for the next flag
            else:
                buf[nb] = acc
                nb += 1
                crc = (crc >> 8) ^ table[(crc ^ acc) & 0xFF]
            acc = 0
            nacc = 0
        pos += 1
    state[0] = ones
    state[1] = inf
    state[2] = acc
    state[3] = nacc
    state[4] = nb
    state[5] = crc
    state[6] = start
    state[7] = pos
    return nf
