"""numba kernels for the AO-40 FEC deframer: search for a distributed (spread-out) sync vector."""

from numba import njit


@njit(cache=True, nogil=True)
def distributed_sync_search(llr, start, stop, sync, step, max_errors, result):
    """First position p in [start, stop) where the soft bits ``llr[p + j*step]`` (j = 0 ..
    len(sync)-1) match the sync bits ``sync`` (u8 0/1) or their complement with at most
    ``max_errors`` hard-decision errors (a bit is 1 where its LLR is > 0).

    The caller guarantees ``stop - 1 + (len(sync)-1)*step < len(llr)``. ``result`` (float64)
    receives [p, inverted (0/1), errors, soft correlation]; the correlation is
    ``sum(+-llr) / sum(|llr|)`` over the sync positions, in [-1, 1], taken with the sign of the
    matched polarity (so 1.0 is a perfect match). Returns 1 if found, else 0.
    """
    n = len(sync)
    for p in range(start, stop):
        e = 0
        dead = False
        for j in range(n):
            b = 1 if llr[p + j * step] > 0 else 0
            if b != sync[j]:
                e += 1
            if e > max_errors and j + 1 - e > max_errors:
                dead = True  # neither polarity can match any more
                break
        if not dead:
            inv = 0
            if e > max_errors:
                if n - e > max_errors:
                    continue
                inv = 1
                e = n - e
            num = 0.0
            den = 0.0
            for j in range(n):
                v = llr[p + j * step]
                num += v if sync[j] else -v
                den += abs(v)
            corr = num / den if den > 0 else 0.0
            if inv:
                corr = -corr
            result[0] = p
            result[1] = inv
            result[2] = e
            result[3] = corr
            return 1
    return 0
