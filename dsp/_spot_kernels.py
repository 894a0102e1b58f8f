"""Numba kernels of the adaptive spotter (private; see :mod:`perifacial.dsp.spotting`).

All kernels take ``[channels, samples]`` float64 arrays and run channels in parallel (``prange``); they are
compiled lazily on first call and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, parallel=True)
def block_samples(env, bsz, nblocks, out):  # pragma: no cover - compiled
    """``out[c, b] = env[c, b*bsz]`` for b < nblocks: one envelope sample per block.

    A sample (not the block mean) keeps the sample-level distribution of the envelope, so the spread estimated
    from these values is the spread the thresholds are compared with, whether or not the envelope is smooth.
    """
    C = env.shape[0]
    for c in nb.prange(C):
        for b in range(nblocks):
            out[c, b] = env[c, b * bsz]


@nb.njit(cache=True, nogil=True)
def _quantile_sorted(a, n, q):  # pragma: no cover - compiled
    pos = q * (n - 1)
    i = int(np.floor(pos))
    if i >= n - 1:
        return a[n - 1]
    f = pos - i
    return a[i] + f * (a[i + 1] - a[i])


@nb.njit(cache=True, nogil=True, inline="always")
def _lower_bound(a, n, v):  # pragma: no cover - compiled
    """First index i in a[:n] (sorted) with a[i] >= v."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(cache=True, nogil=True, inline="always")
def _remove_sorted(a, n, v):  # pragma: no cover - compiled
    i = _lower_bound(a, n, v)
    for j in range(i, n - 1):
        a[j] = a[j + 1]
    return n - 1


@nb.njit(cache=True, nogil=True, inline="always")
def _insert_sorted(a, n, v):  # pragma: no cover - compiled
    i = _lower_bound(a, n, v)
    for j in range(n, i, -1):
        a[j] = a[j - 1]
    a[i] = v
    return n + 1


@nb.njit(cache=True, nogil=True, parallel=True)
def hop_stats(B, b_base, nb_total, h0, h1, hop_blocks, half_blocks, q_spread, min_rel, out_m, out_s):
    # pragma: no cover - compiled
    """Robust level and spread of the block values around hop centres ``h*hop_blocks`` for h in [h0, h1).

    ``B[:, j]`` holds block ``b_base + j``; the window is blocks ``[cb - half, cb + half)`` clipped to
    ``[0, nb_total)``. Level = median; spread = median - q_spread quantile (~ one SD for Gaussian data when
    q_spread = 0.1587), floored at ``min_rel * level``. Results go to ``out_m[:, h - h0]``, ``out_s[:, h - h0]``.

    The window is kept sorted as it slides (values leaving are removed, values entering inserted, by binary
    search), which gives exactly the sorted window a full sort would, at a fraction of the cost.
    """
    C = B.shape[0]
    for c in nb.prange(C):
        srt = np.empty(2 * half_blocks + 2)
        cnt = 0
        cur_lo = 0
        cur_hi = 0
        for h in range(h0, h1):
            cb = h * hop_blocks
            lo = max(cb - half_blocks, 0)
            hi = min(cb + half_blocks, nb_total)
            if cnt == 0 or lo >= cur_hi:
                cnt = hi - lo
                for j in range(cnt):
                    srt[j] = B[c, lo + j - b_base]
                srt[:cnt] = np.sort(srt[:cnt])
            else:
                for b in range(cur_lo, lo):
                    cnt = _remove_sorted(srt, cnt, B[c, b - b_base])
                for b in range(max(cur_hi, lo), hi):
                    cnt = _insert_sorted(srt, cnt, B[c, b - b_base])
            cur_lo = lo
            cur_hi = hi
            m = _quantile_sorted(srt, cnt, 0.5)
            s = m - _quantile_sorted(srt, cnt, q_spread)
            if s < min_rel * m:
                s = min_rel * m
            if s <= 0.0:
                s = 1e-300
            out_m[c, h - h0] = m
            out_s[c, h - h0] = s


@nb.njit(cache=True, nogil=True, parallel=True)
def hysteresis(env, s0, M, S, h_base, hop, k_hi, k_lo, state_i, state_f, cap, out_i, out_f, counts):
    # pragma: no cover - compiled
    """Double-threshold detection with hysteresis on ``env[:, j]`` = absolute sample ``s0 + j``.

    Thresholds at sample i: ``m + k*s`` with ``m, s`` linearly interpolated between hop centres
    ``h*hop`` and ``(h+1)*hop`` (``h = i // hop``), taken from ``M[:, h - h_base]``/``S[...]``.
    An event starts when env >= hi; its onset is one past the last sample with env < lo before that; it ends at
    the first sample with env < lo (offset = that sample - 1, inclusive). Over the event the area above the floor
    ``sum(env - m)`` is accumulated and the height ``env - m`` at the peak kept (their ratio is the equivalent
    rectangular duration, a width that does not depend on the thresholds).

    state_i[c] = (active, onset, last_below, peak_index); state_f[c] = (peak_value, peak_z, area, height); updated
    in place so that calls on consecutive chunks give the same events as one call. Events go to ``out_i[c, k] =
    (onset, offset, peak_index)`` and ``out_f[c, k] = (peak_value, peak_z, area, height)``; ``counts[c]`` is the
    number found (if it exceeds ``cap`` the extra ones were not written and the caller must retry with a larger
    ``cap``).
    """
    C, n = env.shape
    for c in nb.prange(C):
        active, onset, last_below, pk_i = state_i[c, 0], state_i[c, 1], state_i[c, 2], state_i[c, 3]
        pk_v, pk_z, area, pk_h = state_f[c, 0], state_f[c, 1], state_f[c, 2], state_f[c, 3]
        k = 0
        j = 0
        while j < n:
            i = s0 + j
            h = i // hop
            hc = h * hop
            jend = min(n, hc + hop - s0)
            m0 = M[c, h - h_base]
            s_0 = S[c, h - h_base]
            dm = (M[c, h + 1 - h_base] - m0) / hop
            ds = (S[c, h + 1 - h_base] - s_0) / hop
            for jj in range(j, jend):
                ii = s0 + jj
                f = ii - hc
                m = m0 + f * dm
                s = s_0 + f * ds
                v = env[c, jj]
                lo = m + k_lo * s
                if active == 0:
                    if v < lo:
                        last_below = ii
                        area = 0.0
                    else:
                        area += v - m
                        if v >= m + k_hi * s:
                            active = 1
                            onset = last_below + 1
                            pk_i = ii
                            pk_v = v
                            pk_z = (v - m) / s
                            pk_h = v - m
                else:
                    if v < lo:
                        if k < cap:
                            out_i[c, k, 0] = onset
                            out_i[c, k, 1] = ii - 1
                            out_i[c, k, 2] = pk_i
                            out_f[c, k, 0] = pk_v
                            out_f[c, k, 1] = pk_z
                            out_f[c, k, 2] = area
                            out_f[c, k, 3] = pk_h
                        k += 1
                        active = 0
                        last_below = ii
                        area = 0.0
                    else:
                        area += v - m
                        if v > pk_v:
                            pk_v = v
                            pk_i = ii
                            pk_z = (v - m) / s
                            pk_h = v - m
            j = jend
        state_i[c, 0], state_i[c, 1], state_i[c, 2], state_i[c, 3] = active, onset, last_below, pk_i
        state_f[c, 0], state_f[c, 1], state_f[c, 2], state_f[c, 3] = pk_v, pk_z, area, pk_h
        counts[c] = k
