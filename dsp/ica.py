"""FastICA for crosstalk separation, per facial region (Li et al. 2025 [ChinaXiv:202506.00079]).

:func:`fastica` is scikit-learn's ``FastICA`` (same fixed-point iterations, initialisation from ``random_state``,
symmetric decorrelation, convergence criterion and unit-variance scaling; see ``sklearn/decomposition/
_fastica.py``) on ``[channels, samples]`` arrays, with two differences in how, not what, it computes:

* whitening comes from the eigendecomposition of the ``[channels, channels]`` covariance (channels are few, samples
  many), with scikit-learn's sign convention for the eigenvectors;
* each fixed-point step is one pass of a fused numba kernel over the recording (``W @ x``, ``g``, ``g'`` and the
  sums ``g x^T`` per cache-sized block, in parallel over fixed sample chunks): neither a centred nor a whitened copy
  of the data, nor any ``[components, samples]`` temporary, is made.

Non-convergence is never silent: :class:`ConvergenceWarning` is issued and ``converged`` is False.

:func:`unmix_regions` runs :func:`fastica` on each region of a montage (default: the six-region, 24-channel
perifacial layout) and returns a :class:`RegionUnmixer` that applies the calibrated unmixing to new chunks (online)
and saves to / loads from JSON.
"""

from __future__ import annotations

import logging
import numbers
import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import linalg

from . import _ica_kernels as _k
from ._json import JsonFile

__all__ = [
    "ConvergenceWarning",
    "FastICAResult",
    "fastica",
    "amari_distance",
    "RegionICA",
    "RegionUnmixing",
    "RegionUnmixer",
    "unmix_regions",
]

log = logging.getLogger(__name__)

_FUNS = {"logcosh": _k.FUN_LOGCOSH, "exp": _k.FUN_EXP, "cube": _k.FUN_CUBE}
_ALGORITHMS = ("parallel", "deflation")
_WHITEN = ("unit-variance", "arbitrary-variance", False)
_RANK_RTOL = 1e-12  # eigenvalues below this fraction of the largest count as zero


class ConvergenceWarning(UserWarning):
    """FastICA stopped at ``max_iter`` before the change of the unmixing matrix fell below ``tol``.

    Mirrors ``sklearn.exceptions.ConvergenceWarning`` (same name, a ``UserWarning``) so that code filtering
    scikit-learn's warning by name reads the same; it is our own class because :mod:`perifacial.dsp` does not depend
    on scikit-learn (scikit-learn is only the test reference)."""


@dataclass(frozen=True, eq=False)
class FastICAResult:
    """Result of :func:`fastica`.

    Attributes
    ----------
    sources : ndarray, float64 ``[n_components, samples]`` or None
        Estimated sources, ``unmixing @ (x - mean[:, None])``; unit variance with ``whiten="unit-variance"``. In the
        unit of ``x`` divided by the unit of ``x`` (dimensionless) then; None if ``compute_sources=False``.
    unmixing : ndarray ``[n_components, channels]``
        scikit-learn's ``components_``: whitening included, rows scaled to unit-variance sources.
    mixing : ndarray ``[channels, n_components]``
        Pseudo-inverse of ``unmixing`` (scikit-learn's ``mixing_``): column ``k`` is source ``k``'s map on the
        channels, in the unit of ``x``.
    mean : ndarray ``[channels]``
        Channel means removed before unmixing (zeros with ``whiten=False``).
    whitening : ndarray ``[n_components, channels]`` or None
        The whitening matrix: ``whitening @ (x - mean)`` has identity covariance (None with ``whiten=False``). Note
        scikit-learn's ``whitening_`` is this divided by ``sqrt(n_samples)``.
    rotation : ndarray ``[n_components, n_components]``
        The orthogonal matrix found by the fixed-point iteration in whitened space (scikit-learn's ``_unmixing``).
    n_iter : int
        Fixed-point iterations run (deflation: the largest over components).
    converged : bool
        Whether the change criterion fell below ``tol`` (every component, for deflation).
    fun, algorithm : str
    whiten : str or False

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import fastica
    >>> x = np.random.default_rng(0).laplace(size=(2, 1000))
    >>> res = fastica(x, random_state=0)
    >>> res.unmixing.shape, res.mixing.shape, res.fun
    ((2, 2), (2, 2), 'logcosh')
    >>> bool(np.allclose(res.unmixing @ (x - res.mean[:, None]), res.sources))
    True
    """

    sources: np.ndarray | None
    unmixing: np.ndarray
    mixing: np.ndarray
    mean: np.ndarray
    whitening: np.ndarray | None
    rotation: np.ndarray
    n_iter: int
    converged: bool
    fun: str
    algorithm: str
    whiten: str | bool

    def apply(self, x) -> np.ndarray:
        """Unmix new data ``x`` ``[channels, samples]`` with this result: ``unmixing @ (x - mean[:, None])``,
        float64 ``[n_components, samples]``."""
        x64 = _check_x(x, self.unmixing.shape[1], name="x", min_samples=0)
        out = np.empty((self.unmixing.shape[0], x64.shape[1]))
        idx = np.arange(x64.shape[0], dtype=np.int64)
        with _workers_for(x64.shape[1]) as w:
            _k.apply_unmixing(x64, idx, self.mean, np.ascontiguousarray(self.unmixing), out, 0, w)
        return out


# ----------------------------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------------------------


def _check_x(x, n_channels: int | None = None, *, name: str = "x", min_samples: int = 2) -> np.ndarray:
    """``x`` as float64 C-contiguous ``[channels, samples]``; ValueError for wrong ndim, dtype, channel count,
    too few samples or non-finite values."""
    a = np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D [channels, samples], got shape {a.shape}")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be real numeric, got dtype {a.dtype}")
    if n_channels is not None and a.shape[0] != n_channels:
        raise ValueError(f"{name} has {a.shape[0]} channels (rows), expected {n_channels}")
    if a.shape[1] < min_samples:
        raise ValueError(f"{name} has {a.shape[1]} samples, need at least {min_samples}")
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.size and not np.isfinite(a).all():
        _raise_nonfinite(a, name)
    return a


def _raise_nonfinite(a: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(a)
    ch, s = np.argwhere(bad)[0]
    raise ValueError(
        f"{name} contains NaN or infinite values (first at channel {ch}, sample {s}; {int(bad.sum())} in all)"
    )


def _check_random_state(seed) -> np.random.RandomState | np.random.Generator:
    """Mirror of ``sklearn.utils.check_random_state`` (kept here: dsp does not depend on scikit-learn), accepting a
    ``numpy.random.Generator`` too. None or ``np.random``: the global RandomState; an int: a new seeded RandomState."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral):
        return np.random.RandomState(int(seed))
    if isinstance(seed, (np.random.RandomState, np.random.Generator)):
        return seed
    raise ValueError(f"random_state must be None, an int, a RandomState or a Generator, got {seed!r}")


def _normal(rs, shape) -> np.ndarray:
    if isinstance(rs, np.random.Generator):
        return rs.standard_normal(shape)
    return rs.normal(size=shape)


# ----------------------------------------------------------------------------------------------------------------
# FastICA
# ----------------------------------------------------------------------------------------------------------------


def _workers_for(n_samples: int) -> _k.Workers:
    """A thread pool when the data span several chunks, else run inline (small online chunks)."""
    return _k.Workers(None if _k.n_chunks(n_samples) > 1 else 1)


def _sym_decorrelation(W: np.ndarray) -> np.ndarray:
    """W <- (W W^T)^{-1/2} W (scikit-learn's ``_sym_decorrelation``)."""
    s, u = linalg.eigh(W @ W.T)
    s = np.clip(s, a_min=np.finfo(W.dtype).tiny, a_max=None)
    return np.linalg.multi_dot([u * (1.0 / np.sqrt(s)), u.T, W])


def _fit(
    x64: np.ndarray,
    idx: np.ndarray,
    n_components: int | None,
    fun: str,
    algorithm: str,
    max_iter: int,
    tol: float,
    whiten,
    random_state,
    fun_args: dict | None,
    w_init,
    label: str,
    workers: _k.Workers | None = None,
) -> FastICAResult:
    """FastICA on rows ``idx`` of ``x64`` (checked float64 C array). Parameters as :func:`fastica`; the result's
    ``sources`` is None (the caller fills it)."""
    if fun not in _FUNS:
        raise ValueError(f"fun must be one of {sorted(_FUNS)}, got {fun!r}")
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"algorithm must be one of {_ALGORITHMS}, got {algorithm!r}")
    if whiten is not False and not (isinstance(whiten, str) and whiten in _WHITEN):
        raise ValueError(f"whiten must be 'unit-variance', 'arbitrary-variance' or False, got {whiten!r}")
    if not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if not (isinstance(tol, numbers.Real) and tol > 0):
        raise ValueError(f"tol must be > 0, got {tol!r}")
    fun_args = {} if fun_args is None else dict(fun_args)
    alpha = float(fun_args.get("alpha", 1.0))
    if not 1.0 <= alpha <= 2.0:
        raise ValueError(f"fun_args['alpha'] must be in [1, 2], got {alpha}")
    m = idx.shape[0]
    n = x64.shape[1]
    if n < m:
        raise ValueError(
            f"{label}: {n} samples for {m} channels: need at least as many samples as channels "
            "(is x transposed? it must be [channels, samples])"
        )
    if n < 2:
        raise ValueError(f"{label}: need at least 2 samples, got {n}")
    if whiten is False:
        if n_components is not None and n_components != m:
            warnings.warn("Ignoring n_components with whiten=False.", UserWarning, stacklevel=3)
        nc = m
    else:
        nc = m if n_components is None else n_components
        if not isinstance(nc, numbers.Integral) or not 1 <= int(nc) <= m:
            raise ValueError(f"{label}: n_components must be an integer in 1..{m} (channels), got {n_components!r}")
        nc = int(nc)

    mean, cov = _k.channel_moments(x64, idx, workers)
    if whiten is False:
        mean = np.zeros(m)
        K = np.eye(m)
    else:
        lam, u = linalg.eigh(cov)
        order = np.argsort(lam)[::-1]
        lam, u = lam[order], u[:, order]
        if not lam[0] > 0 or lam[nc - 1] <= _RANK_RTOL * lam[0]:
            rank = int(np.sum(lam > _RANK_RTOL * max(lam[0], 0.0))) if lam[0] > 0 else 0
            raise ValueError(
                f"{label}: the channels' covariance has rank {rank} < n_components={nc} (constant, duplicated or "
                "linearly dependent channels?); pass n_components <= rank or drop channels"
            )
        u = u * np.where(u[0] < 0, -1.0, 1.0)  # scikit-learn: u *= sign(u[0])
        K = (u[:, :nc] / np.sqrt(lam[:nc])).T  # [nc, m]: K cov K^T = I
    K = np.ascontiguousarray(K)

    rs = _check_random_state(random_state)
    if w_init is None:
        w0 = np.asarray(_normal(rs, (nc, nc)), dtype=np.float64)
    else:
        w0 = np.array(w_init, dtype=np.float64)
        if w0.shape != (nc, nc):
            raise ValueError(f"w_init has shape {w0.shape}, expected {(nc, nc)}")

    code = _FUNS[fun]

    def sums(Wr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # E[g(W X1) X1^T] with X1 = K xc, from the kernel's sums over xc: (G K^T) / n
        G, D = _k.contrast_sums(x64, idx, mean, np.ascontiguousarray(Wr @ K), code, alpha, workers)
        return (G @ K.T) / n, D / n

    if algorithm == "parallel":
        W = _sym_decorrelation(w0)
        lim = np.inf
        n_iter = 0
        for ii in range(max_iter):
            gx, gd = sums(W)
            W1 = _sym_decorrelation(gx - gd[:, None] * W)
            lim = float(np.max(np.abs(np.abs(np.einsum("ij,ij->i", W1, W)) - 1.0)))
            W = W1
            n_iter = ii + 1
            if lim < tol:
                break
        converged = lim < tol
    else:
        W = np.zeros((nc, nc))
        iters = []
        lims = []
        for j in range(nc):
            w = w0[j].copy()
            w /= np.sqrt((w**2).sum())
            lim = np.inf
            i = 0
            for i in range(max_iter):  # noqa: B007 -- i is the iteration count after the loop
                gx, gd = sums(w[None, :])
                w1 = gx[0] - gd[0] * w
                w1 -= np.linalg.multi_dot([w1, W[:j].T, W[:j]])  # Gram-Schmidt against found rows
                w1 /= np.sqrt((w1**2).sum())
                lim = float(np.abs(np.abs((w1 * w).sum()) - 1.0))
                w = w1
                if lim < tol:
                    break
            iters.append(i + 1)
            lims.append(lim)
            W[j] = w
        n_iter = max(iters)
        lim = max(lims)
        converged = lim < tol

    if not converged:
        warnings.warn(
            f"FastICA did not converge ({label}): change {lim:.3g} >= tol={tol:g} after {n_iter} iterations "
            f"(fun={fun!r}, algorithm={algorithm!r}); consider increasing max_iter or tol",
            ConvergenceWarning,
            stacklevel=3,
        )
    log.debug("fastica %s: %d iterations, change %.3g, converged=%s", label, n_iter, lim, converged)

    U = W @ K
    if whiten == "unit-variance":
        std = np.sqrt(np.einsum("ij,jk,ik->i", U, cov, U))  # std of each source over the data (ddof=0)
        U = U / std[:, None]
    elif whiten == "arbitrary-variance":
        U = U / np.sqrt(n)  # scikit-learn's components_ = W @ whitening_, whitening_ = K / sqrt(n_samples)
    U = np.ascontiguousarray(U)
    mixing = np.asarray(linalg.pinv(U, check_finite=False))
    return FastICAResult(
        sources=None,
        unmixing=U,
        mixing=mixing,
        mean=np.ascontiguousarray(mean),
        whitening=None if whiten is False else K,
        rotation=W,
        n_iter=int(n_iter),
        converged=bool(converged),
        fun=fun,
        algorithm=algorithm,
        whiten=whiten,
    )


def fastica(
    x,
    n_components: int | None = None,
    *,
    fun: str = "logcosh",
    algorithm: str = "parallel",
    max_iter: int = 200,
    tol: float = 1e-4,
    whiten: str | bool = "unit-variance",
    random_state=None,
    fun_args: dict | None = None,
    w_init=None,
    compute_sources: bool = True,
) -> FastICAResult:
    """Independent component analysis of ``x`` ``[channels, samples]`` by FastICA (scikit-learn's algorithm).

    Parameters
    ----------
    x : array_like ``[channels, samples]``
        Real data, any unit (uV for EMG). Converted to float64 C order (no copy if it already is).
    n_components : int, optional
        Number of sources, 1..channels (default: channels); the whitening keeps the leading principal components.
    fun : {"logcosh", "exp", "cube"}
        Contrast derivative ``g``: ``tanh(alpha u)``, ``u exp(-u**2/2)``, ``u**3``.
    algorithm : {"parallel", "deflation"}
        Symmetric (all components at once) or one component at a time with Gram-Schmidt.
    max_iter : int
        Maximum fixed-point iterations (per component for deflation).
    tol : float
        Stop when ``max |abs(diag(W_new W_old^T)) - 1| < tol`` (deflation: per component).
    whiten : {"unit-variance", "arbitrary-variance"} or False
        As scikit-learn: centre and whiten, then scale the sources to unit variance (default) or leave
        scikit-learn's scaling; False: ``x`` is already white and centred (no centring is done).
    random_state : None, int, numpy RandomState or Generator
        Seeds the initial ``W`` (standard normal ``[n_components, n_components]``, drawn exactly as scikit-learn
        draws it for a RandomState/int, so equal seeds give equal starts).
    fun_args : dict, optional
        ``{"alpha": a}`` with ``1 <= a <= 2`` for logcosh (default 1).
    w_init : array_like ``[n_components, n_components]``, optional
        Initial unmixing in whitened space (overrides ``random_state``).
    compute_sources : bool
        Compute ``sources`` (one extra pass over the data).

    Returns
    -------
    FastICAResult

    Raises
    ------
    ValueError
        ``x`` not 2-D, not real, fewer samples than channels, NaN/inf, rank-deficient covariance (constant or
        linearly dependent channels), or a bad parameter.

    Warns
    -----
    ConvergenceWarning
        If the iteration stops at ``max_iter``; ``converged`` is then False.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import fastica, amari_distance
    >>> rng = np.random.default_rng(0)
    >>> s = np.vstack([np.sign(np.sin(np.linspace(0, 60, 4000))), rng.laplace(size=4000)])   # 2 sources
    >>> A = np.array([[1.0, 0.4], [0.3, 1.0]])                                            # crosstalk
    >>> res = fastica(A @ s, random_state=0)
    >>> res.sources.shape, res.converged
    ((2, 4000), True)
    >>> bool(amari_distance(res.unmixing, A) < 0.05)      # the mixing is undone up to order and scale
    True
    """
    x64 = _check_x(x)
    idx = np.arange(x64.shape[0], dtype=np.int64)
    with _workers_for(x64.shape[1]) as w:
        f = _fit(x64, idx, n_components, fun, algorithm, max_iter, tol, whiten, random_state, fun_args, w_init, "x", w)
        sources = None
        if compute_sources:
            sources = np.empty((f.unmixing.shape[0], x64.shape[1]))
            _k.apply_unmixing(x64, idx, f.mean, f.unmixing, sources, 0, w)
    return replace(f, sources=sources)


def amari_distance(unmixing, mixing) -> float:
    """Amari distance between an estimated unmixing ``W`` ``[k, channels]`` and the true mixing ``A``
    ``[channels, k]``: 0 iff ``P = W A`` is a scaled permutation, at most 1.

    ``d = (sum_i (sum_j |p_ij| / max_j |p_ij| - 1) + sum_j (sum_i |p_ij| / max_i |p_ij| - 1)) / (2 k (k - 1))``
    (Amari, Cichocki & Yang 1996, normalised to [0, 1]); 0 for ``k = 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import amari_distance
    >>> A = np.array([[1.0, 0.5], [0.2, 1.0]])
    >>> round(amari_distance(np.linalg.inv(A), A), 12)             # perfect separation
    0.0
    >>> round(amari_distance(np.eye(2)[::-1] * 3, np.eye(2)), 12)  # permutation and scale do not count
    0.0
    """
    W = np.asarray(unmixing, dtype=np.float64)
    A = np.asarray(mixing, dtype=np.float64)
    if W.ndim != 2 or A.ndim != 2 or W.shape[1] != A.shape[0] or W.shape[0] != A.shape[1]:
        raise ValueError(f"need unmixing [k, c] and mixing [c, k], got {W.shape} and {A.shape}")
    P = np.abs(W @ A)
    k = P.shape[0]
    if not np.isfinite(P).all():
        raise ValueError("unmixing @ mixing is not finite")
    if k == 1:
        return 0.0
    rmax = P.max(axis=1, keepdims=True)
    cmax = P.max(axis=0, keepdims=True)
    if (rmax == 0).any() or (cmax == 0).any():
        raise ValueError("unmixing @ mixing has a zero row or column")
    rows = (P / rmax).sum(axis=1) - 1.0
    cols = (P / cmax).sum(axis=0) - 1.0
    return float((rows.sum() + cols.sum()) / (2.0 * k * (k - 1)))


# ----------------------------------------------------------------------------------------------------------------
# per-region unmixing
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RegionICA:
    """ICA of one montage region: ``result.sources`` rows are this region's sources (a view into
    :attr:`RegionUnmixing.sources`); ``result.unmixing`` is ``[k, len(channels)]`` on the region's channels."""

    name: str
    code: str
    channels: tuple[int, ...]
    result: FastICAResult


class RegionUnmixer(JsonFile):
    """Calibrated per-region unmixing, for new data: ``apply(chunk)`` maps ``[n_channels, n]`` recordings to
    ``[n_sources, n]`` sources, region after region (rows ``row_slice(region)``).

    Stateless across chunks (ICA is instantaneous), so chunks of any length give the same result as the whole
    recording. Saved to and loaded from JSON (floats written with full round-trip precision).

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import unmix_regions
    >>> x = np.random.default_rng(0).laplace(size=(24, 2000))
    >>> unmixer = unmix_regions(x, random_state=0).unmixer        # calibrate on a first stretch...
    >>> new = np.random.default_rng(1).laplace(size=(24, 300))
    >>> unmixer.apply(new).shape                                   # ...then apply to new data, chunk by chunk
    (24, 300)
    >>> unmixer.source_labels[:2]
    ('LU-IC1', 'LU-IC2')
    """

    _FORMAT = "perifacial.region_unmixer"
    _VERSION = 1
    _JSON_WHAT = "region unmixer file"

    def __init__(
        self,
        montage_name: str,
        n_channels: int,
        names: tuple[str, ...],
        codes: tuple[str, ...],
        channels: tuple[tuple[int, ...], ...],
        means: tuple[np.ndarray, ...],
        unmixings: tuple[np.ndarray, ...],
        settings: dict | None = None,
    ) -> None:
        if not (len(names) == len(codes) == len(channels) == len(means) == len(unmixings)):
            raise ValueError("names, codes, channels, means and unmixings must have one entry per region")
        self.montage_name = str(montage_name)
        self.n_channels = int(n_channels)
        self.names = tuple(names)
        self.codes = tuple(codes)
        self.channels = tuple(tuple(int(c) for c in ch) for ch in channels)
        self.means = tuple(np.ascontiguousarray(m, dtype=np.float64) for m in means)
        self.unmixings = tuple(np.ascontiguousarray(u, dtype=np.float64) for u in unmixings)
        self.settings = dict(settings or {})
        rows = []
        r0 = 0
        for name, ch, mu, um in zip(self.names, self.channels, self.means, self.unmixings):
            if um.ndim != 2 or um.shape[1] != len(ch) or mu.shape != (len(ch),):
                raise ValueError(
                    f"region {name!r}: unmixing {um.shape} / mean {mu.shape} do not fit {len(ch)} channels"
                )
            if any(not 0 <= c < self.n_channels for c in ch):
                raise ValueError(f"region {name!r}: channels {ch} outside 0..{self.n_channels - 1}")
            rows.append(r0)
            r0 += um.shape[0]
        self._row0 = tuple(rows)
        self.n_sources = r0
        self._idx = tuple(np.asarray(ch, dtype=np.int64) for ch in self.channels)

    def row_slice(self, region: str) -> slice:
        """Rows of :meth:`apply`'s output that belong to ``region`` (name or code)."""
        for i, (name, code) in enumerate(zip(self.names, self.codes)):
            if region in (name, code):
                return slice(self._row0[i], self._row0[i] + self.unmixings[i].shape[0])
        raise KeyError(f"no region {region!r} (known: {', '.join(self.names)})")

    @property
    def source_labels(self) -> tuple[str, ...]:
        """``"LU-IC1"`` ... one per output row."""
        return tuple(f"{code}-IC{k + 1}" for code, um in zip(self.codes, self.unmixings) for k in range(um.shape[0]))

    def apply(self, chunk, out: np.ndarray | None = None) -> np.ndarray:
        """Sources of ``chunk`` ``[n_channels, n]`` (any n >= 0): float64 ``[n_sources, n]``. ``out`` (float64,
        C-contiguous, that shape) is filled if given. ValueError for a wrong shape or NaN/inf."""
        x64 = _check_x(chunk, self.n_channels, name="chunk", min_samples=0)
        n = x64.shape[1]
        if out is None:
            out = np.empty((self.n_sources, n))
        elif out.shape != (self.n_sources, n) or out.dtype != np.float64 or not out.flags.c_contiguous:
            raise ValueError(f"out must be float64 C-contiguous of shape {(self.n_sources, n)}")
        with _workers_for(n) as w:
            for idx, mu, um, r0 in zip(self._idx, self.means, self.unmixings, self._row0):
                _k.apply_unmixing(x64, idx, mu, um, out, r0, w)
        return out

    def to_dict(self) -> dict:
        return {
            "format": self._FORMAT,
            "version": self._VERSION,
            "montage": self.montage_name,
            "n_channels": self.n_channels,
            "settings": self.settings,
            "regions": [
                {"name": nm, "code": cd, "channels": list(ch), "mean": mu.tolist(), "unmixing": um.tolist()}
                for nm, cd, ch, mu, um in zip(self.names, self.codes, self.channels, self.means, self.unmixings)
            ],
        }

    @classmethod
    def from_dict(cls, d: dict) -> RegionUnmixer:
        if d.get("format") != cls._FORMAT:
            raise ValueError(f"not a region unmixer description (format={d.get('format')!r})")
        if d.get("version") != cls._VERSION:
            raise ValueError(f"unsupported region unmixer version {d.get('version')!r}")
        try:
            regs = d["regions"]
            return cls(
                montage_name=d["montage"],
                n_channels=d["n_channels"],
                names=tuple(r["name"] for r in regs),
                codes=tuple(r["code"] for r in regs),
                channels=tuple(tuple(r["channels"]) for r in regs),
                means=tuple(np.asarray(r["mean"], dtype=np.float64) for r in regs),
                unmixings=tuple(
                    np.asarray(r["unmixing"], dtype=np.float64).reshape(-1, len(r["channels"])) for r in regs
                ),
                settings=d.get("settings", {}),
            )
        except KeyError as exc:
            raise ValueError(f"region unmixer description lacks the field {exc.args[0]!r}") from None


@dataclass(frozen=True, eq=False)
class RegionUnmixing:
    """Result of :func:`unmix_regions`: ``sources`` ``[n_sources, samples]`` (regions stacked in montage order),
    the per-region results and the :class:`RegionUnmixer` to apply to new data."""

    sources: np.ndarray | None
    regions: tuple[RegionICA, ...]
    unmixer: RegionUnmixer

    @property
    def converged(self) -> bool:
        return all(r.result.converged for r in self.regions)

    def region(self, name: str) -> RegionICA:
        """A region's result by name (``"left_upper"``) or code (``"LU"``)."""
        for r in self.regions:
            if name in (r.name, r.code):
                return r
        raise KeyError(f"no region {name!r} (known: {', '.join(r.name for r in self.regions)})")


def unmix_regions(x, montage: Any = None, *, compute_sources: bool = True, **fastica_kwargs) -> RegionUnmixing:
    """Run :func:`fastica` separately on each region's channels of ``x`` ``[channels, samples]``.

    ``montage`` is a :class:`perifacial.dsp.montage.Montage` (or any object whose ``regions`` have ``name``,
    ``channels`` and optionally ``code``); default :func:`perifacial.dsp.montage.default_montage` (six regions x 4
    channels). ``x`` needs at least as many rows as the montage has channels. ``fastica_kwargs`` go to every region
    (``n_components`` per region; an int ``random_state`` seeds each region alike). Non-convergence warns with the
    region's name. Returns :class:`RegionUnmixing`; its ``unmixer.apply(chunk)`` reproduces ``sources`` on new data.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import unmix_regions
    >>> x = np.random.default_rng(0).laplace(size=(24, 2000))      # 24 channels (six regions x 4), 2 s at 1 kHz
    >>> out = unmix_regions(x, random_state=0)
    >>> out.sources.shape, len(out.regions), out.region("LU").name
    ((24, 2000), 6, 'left_upper')
    """
    if montage is None:
        from .montage import default_montage

        montage = default_montage()
    regions = tuple(montage.regions)
    if not regions:
        raise ValueError("montage has no regions")
    need = 1 + max(max(r.channels) for r in regions)
    n_channels = int(getattr(montage, "n_channels", need))
    x64 = _check_x(x)
    if x64.shape[0] < n_channels:
        raise ValueError(
            f"x has {x64.shape[0]} channels but montage {getattr(montage, 'name', '')!r} needs {n_channels}"
        )
    allowed = {"n_components", "fun", "algorithm", "max_iter", "tol", "whiten", "random_state", "fun_args", "w_init"}
    unknown = set(fastica_kwargs) - allowed
    if unknown:
        raise TypeError(f"unexpected keyword arguments {sorted(unknown)}")
    kw: dict[str, Any] = dict(
        n_components=None,
        fun="logcosh",
        algorithm="parallel",
        max_iter=200,
        tol=1e-4,
        whiten="unit-variance",
        random_state=None,
        fun_args=None,
        w_init=None,
    )
    kw.update(fastica_kwargs)
    with _workers_for(x64.shape[1]) as w:
        fits = []
        for r in regions:
            idx = np.asarray(r.channels, dtype=np.int64)
            fits.append(_fit(x64, idx, label=f"region {r.name!r}", workers=w, **kw))
        n_out = sum(f.unmixing.shape[0] for f in fits)
        sources = np.empty((n_out, x64.shape[1])) if compute_sources else None
        if sources is not None:
            r0 = 0
            for r, f in zip(regions, fits):
                _k.apply_unmixing(x64, np.asarray(r.channels, dtype=np.int64), f.mean, f.unmixing, sources, r0, w)
                r0 += f.unmixing.shape[0]
    results = []
    r0 = 0
    for r, f in zip(regions, fits):
        k = f.unmixing.shape[0]
        src = None if sources is None else sources[r0 : r0 + k]
        res = replace(f, sources=src)
        results.append(RegionICA(r.name, getattr(r, "code", r.name), tuple(int(c) for c in r.channels), res))
        r0 += k
    keep = ("n_components", "fun", "algorithm", "max_iter", "tol", "whiten")
    settings: dict[str, Any] = {k: v for k, v in kw.items() if k in keep}
    settings["fun_args"] = kw["fun_args"] or {}
    unmixer = RegionUnmixer(
        montage_name=getattr(montage, "name", ""),
        n_channels=x64.shape[0],
        names=tuple(r.name for r in results),
        codes=tuple(r.code for r in results),
        channels=tuple(r.channels for r in results),
        means=tuple(r.result.mean for r in results),
        unmixings=tuple(r.result.unmixing for r in results),
        settings=settings,
    )
    return RegionUnmixing(sources=sources, regions=tuple(results), unmixer=unmixer)
