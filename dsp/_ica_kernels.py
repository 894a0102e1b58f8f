"""Numba kernels behind :mod:`perifacial.dsp.ica` (private).

Every kernel reads the recording ``x`` (float64, C-contiguous, ``[channels, samples]``) in place through an index
array ``idx`` of the channels it uses, so neither a centred copy nor a whitened copy of the data is ever made: the
channel means are subtracted block by block inside the kernels. Work is split into fixed chunks of ``CHUNK`` samples
(independent of the number of threads, so results do not depend on it); the chunks are shared among a few threads
(:class:`Workers`: the kernels are ``nogil``) and each chunk writes its own partial sums, added in chunk order
afterwards. Plain ``njit`` kernels plus a thread pool compile ~3x faster than ``parallel=True`` ones and do not
spin-wait when the cores are shared. Inside a chunk, samples go in blocks of ``BLOCK`` so every temporary is a
few kB and stays in L1 cache; every inner loop runs over samples so LLVM vectorises it.

The nonlinearities use their own vectorisable ``exp``/``expm1`` (Cody-Waite range reduction, degree-13 Taylor
polynomial, ``2**n`` built from the exponent bits): relative error <= a few ulp, checked against NumPy in the tests.
libm's scalar ``tanh`` would cost ~5x more and would dominate an iteration.

All kernels are compiled once (one signature each: float64 C arrays, int64 index arrays), ``cache=True``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit

__all__ = [
    "FUN_LOGCOSH",
    "FUN_EXP",
    "FUN_CUBE",
    "CHUNK",
    "BLOCK",
    "channel_moments",
    "contrast_sums",
    "apply_unmixing",
    "nonlinearity_block",
    "run_chunks",
    "Workers",
]

FUN_LOGCOSH = 0
FUN_EXP = 1
FUN_CUBE = 2

CHUNK = 16384  # samples per parallel task
BLOCK = 256  # samples per cache-resident block

_LN2_HI = 6.93147180369123816490e-01  # ln 2 split (fdlibm): n * _LN2_HI is exact for |n| < 2**20
_LN2_LO = 1.90821492927058770002e-10
_LOG2E = 1.4426950408889634
_MAGIC = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer held in the low mantissa bits
_EXP_MIN = -708.0  # exp(z) for z below this is returned as 0 (2**n must stay normal)

_jit = njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})


@_jit
def _reduce(z):
    """``z = k ln2 + r`` with integer ``k`` and ``|r| <= ln2/2``, for ``z`` in [_EXP_MIN, 0.5]: returns ``r`` and
    ``2**k`` (built from its exponent bits, so the loop around it still vectorises)."""
    t = z * _LOG2E + _MAGIC  # rounds z / ln2 to an integer k held in the low mantissa bits of t
    k = t - _MAGIC
    r = (z - k * _LN2_HI) - k * _LN2_LO
    s = np.int64((np.float64(t).view(np.int64) + 1023) << 52).view(np.float64)  # exponent field = k + 1023
    return r, s


@_jit
def _expm1_poly(r):
    """expm1(r) for |r| <= ln2/2: Taylor polynomial of degree 13 (truncation < 1e-17 relative)."""
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    return (p * r) * r + r


@_jit
def nonlinearity_block(y, n, fun, alpha, g, gd):
    """FastICA contrast on ``y[:n]``: ``g[:n]`` = G'(y) and ``gd[:n]`` = G''(y) (scikit-learn's ``gwtx`` and
    ``g_wtx`` before averaging).

    logcosh: g = tanh(alpha y), gd = alpha (1 - g**2); exp: g = y exp(-y**2/2), gd = (1 - y**2) exp(-y**2/2);
    cube: g = y**3, gd = 3 y**2.
    """
    if fun == FUN_LOGCOSH:
        # tanh(a) = -expm1(-2|a|) / (2 + expm1(-2|a|)), sign restored; -2|a| clamped at -40 where tanh == 1.
        for i in range(n):
            v = -2.0 * abs(alpha * y[i])
            v = v if v > -40.0 else -40.0
            r, s = _reduce(v)
            em1 = s * _expm1_poly(r) + (s - 1.0)
            th = -em1 / (2.0 + em1)
            th = th if y[i] >= 0.0 else -th
            g[i] = th
            gd[i] = alpha * (1.0 - th * th)
    elif fun == FUN_EXP:
        for i in range(n):
            yi = y[i]
            v = -0.5 * yi * yi
            under = not v > _EXP_MIN  # exp(v) is 0 (or subnormal): return 0
            r, s = _reduce(v if not under else _EXP_MIN)
            e = s * _expm1_poly(r) + s
            e = e if not under else 0.0
            g[i] = yi * e
            gd[i] = (1.0 - yi * yi) * e if not under else 0.0  # (1 - inf) * 0 would be NaN
    else:
        for i in range(n):
            yi = y[i]
            g[i] = yi * yi * yi
            gd[i] = 3.0 * yi * yi


# Reductions may be reassociated (LLVM then keeps several vector accumulators): the order depends only on the
# machine's vector width, never on the number of threads.
_jit_reduce = njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "reassoc"})


@_jit_reduce
def _dot(a, b, n):
    """sum(a[:n] * b[:n])."""
    s = 0.0
    for i in range(n):
        s += a[i] * b[i]
    return s


@_jit_reduce
def _sum(a, n):
    """sum(a[:n])."""
    s = 0.0
    for i in range(n):
        s += a[i]
    return s


@_jit
def _load_centred(x, idx, mean, start, n, xc):
    """xc[j, :n] = x[idx[j], start:start+n] - mean[j]."""
    for j in range(idx.shape[0]):
        row = x[idx[j]]
        mj = mean[j]
        out = xc[j]
        for i in range(n):
            out[i] = row[start + i] - mj


@_jit
def chunk_sums(x, idx, part, c0, c1):
    """``part[c, j]`` = sum of ``x[idx[j]]`` over chunk ``c``, for chunks ``c0 <= c < c1``."""
    n = x.shape[1]
    for c in range(c0, c1):
        start = c * CHUNK
        stop = min(n, start + CHUNK)
        for j in range(idx.shape[0]):
            row = x[idx[j]]
            part[c, j] = _sum(row[start:stop], stop - start)


@_jit
def chunk_cov(x, idx, mean, part, c0, c1):
    """``part[c, a, b]`` (``a <= b``) = sum over chunk ``c`` of ``(x[idx[a]] - mean[a]) (x[idx[b]] - mean[b])``."""
    m = idx.shape[0]
    n = x.shape[1]
    xc = np.empty((m, BLOCK))
    for c in range(c0, c1):
        start = c * CHUNK
        stop = min(n, start + CHUNK)
        part[c] = 0.0
        for b0 in range(start, stop, BLOCK):
            nb = min(BLOCK, stop - b0)
            _load_centred(x, idx, mean, b0, nb, xc)
            for a in range(m):
                for b in range(a, m):
                    part[c, a, b] += _dot(xc[a], xc[b], nb)


@_jit
def chunk_contrast(x, idx, mean, wk, fun, alpha, part_g, part_d, c0, c1):
    """The sums of one FastICA fixed-point step over chunks ``c0 <= c < c1``, in one pass over the data.

    With ``xc_i = x[idx, i] - mean`` and ``y_i = wk @ xc_i`` (``wk`` = rotation in whitened space @ whitening,
    ``[k, m]``): ``part_g[c] = sum_i g(y_i) xc_i^T`` ``[k, m]`` and ``part_d[c] = sum_i g'(y_i)`` ``[k]`` over the
    samples of chunk ``c``. ``y`` and ``g`` exist for one block of samples at a time only.
    """
    m = idx.shape[0]
    k = wk.shape[0]
    n = x.shape[1]
    xc = np.empty((m, BLOCK))
    y = np.empty(BLOCK)
    g = np.empty(BLOCK)
    gd = np.empty(BLOCK)
    for c in range(c0, c1):
        start = c * CHUNK
        stop = min(n, start + CHUNK)
        part_d[c] = 0.0
        part_g[c] = 0.0
        for b0 in range(start, stop, BLOCK):
            nb = min(BLOCK, stop - b0)
            _load_centred(x, idx, mean, b0, nb, xc)
            for r in range(k):
                w0 = wk[r, 0]
                row0 = xc[0]
                for i in range(nb):
                    y[i] = w0 * row0[i]
                for j in range(1, m):
                    wj = wk[r, j]
                    rowj = xc[j]
                    for i in range(nb):
                        y[i] += wj * rowj[i]
                nonlinearity_block(y, nb, fun, alpha, g, gd)
                part_d[c, r] += _sum(gd, nb)
                for j in range(m):
                    part_g[c, r, j] += _dot(g, xc[j], nb)


@_jit
def chunk_apply(x, idx, mean, unmixing, out, row0, c0, c1):
    """``out[row0:row0+k, s] = unmixing @ (x[idx, s] - mean)`` for the samples ``s`` of chunks ``c0 <= c < c1``,
    without a centred copy. ``unmixing`` is ``[k, m]`` with ``m = len(idx)``."""
    m = idx.shape[0]
    k = unmixing.shape[0]
    n = x.shape[1]
    xc = np.empty((m, BLOCK))
    for b0 in range(c0 * CHUNK, min(n, c1 * CHUNK), BLOCK):
        nb = min(BLOCK, n - b0)
        _load_centred(x, idx, mean, b0, nb, xc)
        for r in range(k):
            o = out[row0 + r]
            u0 = unmixing[r, 0]
            row = xc[0]
            for i in range(nb):
                o[b0 + i] = u0 * row[i]
            for j in range(1, m):
                uj = unmixing[r, j]
                row = xc[j]
                for i in range(nb):
                    o[b0 + i] += uj * row[i]


# ----------------------------------------------------------------------------------------------------------------
# Python side: run a chunk kernel over all chunks on a thread pool (the kernels release the GIL)
# ----------------------------------------------------------------------------------------------------------------


def n_chunks(n: int) -> int:
    return (n + CHUNK - 1) // CHUNK


class Workers:
    """Threads for the chunk kernels: ``n_threads`` (default :func:`numba.get_num_threads`, so
    ``NUMBA_NUM_THREADS`` and ``numba.set_num_threads`` apply). Use as a context manager; the pool's threads end on
    exit. Work is handed out in a few spans per thread, first come first served, so a thread that the OS
    deschedules (shared cores) does not hold the others up."""

    SPANS_PER_THREAD = 4

    def __init__(self, n_threads: int | None = None) -> None:
        self.n_threads = max(1, int(numba.get_num_threads() if n_threads is None else n_threads))
        self._pool = ThreadPoolExecutor(self.n_threads) if self.n_threads > 1 else None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def run(self, kernel, nchunks: int, *args) -> None:
        """``kernel(*args, c0, c1)`` over chunks ``0..nchunks-1``, split into contiguous spans."""
        spans = min(self.n_threads * self.SPANS_PER_THREAD, nchunks)
        if self._pool is None or spans <= 1:
            kernel(*args, 0, nchunks)
            return
        bounds = [nchunks * s // spans for s in range(spans + 1)]
        futures = [self._pool.submit(kernel, *args, bounds[s], bounds[s + 1]) for s in range(spans)]
        for f in futures:
            f.result()


def run_chunks(workers: Workers | None, kernel, nchunks: int, *args) -> None:
    """``workers.run(...)``, or in the calling thread if ``workers`` is None."""
    if workers is None:
        kernel(*args, 0, nchunks)
    else:
        workers.run(kernel, nchunks, *args)


def channel_moments(x, idx, workers=None):
    """Mean ``[m]`` and covariance ``[m, m]`` (divided by the number of samples) of rows ``idx`` of ``x``.

    Two passes (the mean first, then the centred products) so a large DC offset does not cancel digits.
    """
    m = idx.shape[0]
    n = x.shape[1]
    nc = n_chunks(n)
    part = np.empty((nc, m))
    run_chunks(workers, chunk_sums, nc, x, idx, part)
    mean = part.sum(axis=0) / n
    pc = np.empty((nc, m, m))
    run_chunks(workers, chunk_cov, nc, x, idx, mean, pc)
    cov = np.triu(pc.sum(axis=0)) / n
    cov = cov + np.triu(cov, 1).T
    return mean, cov


def contrast_sums(x, idx, mean, wk, fun, alpha, workers=None):
    """``G = sum_i g(y_i) xc_i^T`` ``[k, m]`` and ``D = sum_i g'(y_i)`` ``[k]`` over all samples (see
    :func:`chunk_contrast`), not divided by the number of samples."""
    nc = n_chunks(x.shape[1])
    k, m = wk.shape
    pg = np.empty((nc, k, m))
    pd = np.empty((nc, k))
    run_chunks(workers, chunk_contrast, nc, x, idx, mean, wk, int(fun), float(alpha), pg, pd)
    return pg.sum(axis=0), pd.sum(axis=0)


def apply_unmixing(x, idx, mean, unmixing, out, row0=0, workers=None):
    """``out[row0:row0+k] = unmixing @ (x[idx] - mean[:, None])``."""
    run_chunks(workers, chunk_apply, n_chunks(x.shape[1]), x, idx, mean, unmixing, out, int(row0))
