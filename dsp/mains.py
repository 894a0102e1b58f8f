"""Mains interference (50/60 Hz and harmonics): detection from the data and removal without edge ring-up.

Why not the IIR notch by default
--------------------------------
A narrow ``iirnotch`` (q = 30) rings for ``q / (pi f0)`` = 0.19 s at 50 Hz. Zero-phase filtering with SciPy's odd
extension flips the mains phase at each end of the recording, so the first and last ~0.6 s carry a mains ring-up
that the envelope shows as a burst (the spotter then either reports it or, as ``process`` did, types everything in
those zones ``artifact`` and loses real events there). Both removers below are *subtractive*: they estimate the
mains waveform and subtract it, so nothing else in the signal is filtered and there is no start-up transient.

``remove_mains`` (offline, zero-phase in effect)
    Least-squares fit, in blocks of ``block`` s (1 s) overlapping by half, of ``cos``/``sin`` at each harmonic
    ``h * f0`` *and* of the same two multiplied by time inside the block (first-order amplitude/phase change, so a
    mains frequency drifting by a few tenths of a Hz inside a block is still captured), together with a degree-5
    polynomial trend that is fitted but not subtracted (baseline wander and EOG would otherwise leak into the line
    estimate near block edges). The fitted waveforms are
    cross-faded with a Hann window (weights normalised, so the first and last half blocks use their one block) and
    subtracted. In a block that holds a strong short burst (a blink at high SNR) the plain fit would take up the
    burst's own 50/60 Hz content and subtract it from the whole block, smearing the burst over ~1 s of envelope; so
    the samples of windows whose residual power stands 9x above the block's quiet level are left out of that
    block's fit (a robust refit, only where a burst is; quiet blocks keep the plain projection). The fit is a
    time-local projection: its "notch" is ~2/block Hz wide per harmonic
    (2 Hz at 1 s) and has no memory beyond one block, hence no ring-up at the ends. ``f0`` comes from
    :func:`detect_mains` (Welch spectrum summed over channels, peak refined by parabolic interpolation).

``MainsCanceller`` (causal, streaming)
    The adaptive noise canceller of Widrow et al. (1975, Proc. IEEE 63:1692) with sine/cosine references at each
    harmonic (plus a constant, estimated but not subtracted), adapted by recursive least squares with forgetting
    factor ``1 - 1/(tau fs)`` (tau = 0.3 s: ~1 Hz wide per harmonic, follows drift). Per sample ``e = x - w . r``,
    ``w += g e``; the RLS gain ``g`` depends only on the references, so it is computed once per sample for all
    channels and the per-channel cost is that of an LMS. Being an exact (exponentially weighted) least-squares fit
    from the first sample, it has no LMS start-up ring: the first mains cycle passes, then it is cancelled.
    An adaptive line canceller also "learns" the EMG at the line frequencies during a burst and rings it out for
    ~tau afterwards (like a notch's ring), which would stretch event offsets; so the error driving the update is
    clipped (Huber) at ``clip`` (2) x its running mean absolute value (plain mean over the first ``warm`` = 1 s,
    then exponential with a ``slow`` = 10 s time constant): a burst far above the resting level barely moves
    the line estimate.
    Sample-by-sample and deterministic, so chunked streaming equals the batch result whatever the chunk sizes. A
    causal stream cannot look ahead to detect 50 vs 60 Hz, so ``freq="auto"`` cancels both families (harmonics of
    50 *and* 60 Hz below the band's upper edge).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numba
import numpy as np

from ._api import keyword_only, renamed
from .defaults import max_edge

__all__ = ["MainsInfo", "detect_mains", "remove_mains", "mains_frequencies", "MainsCanceller", "cancel_mains"]

log = logging.getLogger(__name__)

#: peak-to-neighbourhood power ratio (Welch, summed over channels) above which a line counts as mains
DETECT_RATIO = 20.0
#: how much of a recording :func:`detect_mains` analyses (s, its central stretch): 6 Welch segments of 4 s per
#: channel, plenty for a line 20x above its neighbourhood (the cost is the FFT: ~3 ms for 24 channels)
DETECT_SECONDS = 24.0
#: degree of the Legendre polynomial trend fitted (not subtracted) with the lines in each block
_POLY = 5


@dataclass(frozen=True)
class MainsInfo:
    """Result of :func:`detect_mains`.

    freq : fundamental (Hz, refined, e.g. 50.03); harmonics : the multiples ``h`` found (1 = fundamental), ascending;
    ratio : peak power / median power of the neighbourhood (same order as ``harmonics``); the decision's evidence.
    """

    freq: float
    harmonics: tuple[int, ...]
    ratio: tuple[float, ...]

    @property
    def frequencies(self) -> np.ndarray:
        return self.freq * np.asarray(self.harmonics, dtype=float)


def welch_window(n: int, fs: float, max_seconds: float = DETECT_SECONDS) -> tuple[int, int]:
    """(start, length) of the central ``max_seconds`` s of ``n`` samples that :func:`detect_mains` analyses (read
    only those when the recording is on disk)."""
    use = min(n, int(max_seconds * fs))
    return (n - use) // 2, use


def _welch_power(x2: np.ndarray, fs: float, max_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    a, use = welch_window(x2.shape[1], fs, max_seconds)
    seg = min(use, int(round(4.0 * fs)))  # 0.25 Hz bins
    if seg < int(0.5 * fs):
        return np.zeros(0), np.zeros(0)
    k = use // seg
    y = x2[:, a : a + k * seg].reshape(x2.shape[0], k, seg)  # non-overlapping segments [C, k, seg], a view
    # no per-segment detrend: the Hann window's sidelobes put an offset or a slow drift more than 100 dB down at
    # 20 Hz and above, and only bins around 50/60 Hz and their harmonics are looked at
    f = np.fft.rfft(y * np.hanning(seg), axis=2)  # NumPy's FFT: scipy.fft costs 0.15 s to import
    p = np.einsum("ckf,ckf->f", f.real, f.real) + np.einsum("ckf,ckf->f", f.imag, f.imag)
    return np.fft.rfftfreq(seg, 1 / fs), p


def _peak(freqs, p, f, search, guard, width):
    df = freqs[1] - freqs[0]
    sel = np.flatnonzero(np.abs(freqs - f) <= search)
    if sel.size == 0:
        return f, 0.0
    k = int(sel[np.argmax(p[sel])])
    nb = (np.abs(freqs - f) <= width) & (np.abs(freqs - freqs[k]) > guard)
    ref = float(np.median(p[nb])) if nb.any() else 0.0
    fk = freqs[k]
    if 0 < k < len(p) - 1:
        lo, mid, hi = np.log(p[k - 1] + 1e-300), np.log(p[k] + 1e-300), np.log(p[k + 1] + 1e-300)
        den = lo - 2 * mid + hi
        if den < 0:
            fk = fk + 0.5 * (lo - hi) / den * df
    return float(fk), (float(p[k]) / ref if ref > 0 else (math.inf if p[k] > 0 else 0.0))


@renamed(max_seconds="max_duration")
@keyword_only("candidates", "max_freq", "axis", "max_duration", "ratio")
def detect_mains(
    x,
    fs: float,
    *,
    candidates=(50.0, 60.0),
    max_freq: float | None = None,
    axis: int = -1,
    max_duration: float = DETECT_SECONDS,
    ratio: float = DETECT_RATIO,
) -> MainsInfo | None:
    """Find mains interference in ``x`` ``[channels, samples]`` (or 1-D) sampled at ``fs`` Hz.

    The Welch power spectrum (4 s Hann segments without overlap over the central ``max_duration`` s, default 24 s,
    summed over channels) is searched within +-1 Hz of each candidate; a peak whose power exceeds ``ratio`` times the
    median of its +-10 Hz neighbourhood (excluding +-1 Hz around it) counts. The stronger candidate wins; its
    harmonics ``h f0 < max_freq`` (default 0.45 fs) are kept when they pass the test at ``ratio / 2.5`` (search +-1 Hz
    + h x 0.1 Hz).
    Returns None when no candidate passes (or the recording is shorter than 0.5 s). Raises ValueError (naming
    channel and sample) if the analysed stretch holds NaN/inf.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import detect_mains
    >>> fs = 1000.0
    >>> t = np.arange(10_000) / fs                                     # 10 s
    >>> emg = np.random.default_rng(0).normal(0.0, 5.0, (2, t.size))   # 2 channels (uV)
    >>> x = emg + 20.0 * np.sin(2 * np.pi * 50.0 * t)                  # + 20 uV of 50 Hz mains
    >>> info = detect_mains(x, fs)
    >>> round(info.freq), info.harmonics
    (50, (1,))
    >>> detect_mains(emg, fs) is None                                   # EMG alone: no line found
    True
    """
    from .filters import as_2d, check_finite

    x2, shape, axis = as_2d(x, axis)
    fs = float(fs)
    freqs, p = _welch_power(x2, fs, max_duration)
    if freqs.size == 0:
        return None
    if not np.isfinite(p).all():
        check_finite(x2, axis, len(shape))  # raises, naming the first NaN/inf
    best = None
    for f0 in candidates:
        if f0 >= fs / 2:
            continue
        fk, r = _peak(freqs, p, float(f0), 1.0, 1.0, 10.0)
        if r >= ratio and (best is None or r > best[1]):
            best = (fk, r)
    if best is None:
        return None
    f0, r0 = best
    top = max_edge(fs, max_freq)
    harm, rats = [1], [r0]
    h = 2
    while h * f0 < top:
        fk, r = _peak(freqs, p, h * f0, 1.0 + 0.1 * h, 1.0, 10.0)
        if r >= ratio / 2.5:  # a harmonic of a line already found needs less evidence
            harm.append(h)
            rats.append(r)
        h += 1
    info = MainsInfo(float(f0), tuple(harm), tuple(float(v) for v in rats))
    log.debug("mains detected: %.3f Hz, harmonics %s", info.freq, info.harmonics)
    return info


@keyword_only("max_freq")
def mains_frequencies(freq, fs: float, *, max_freq: float | None = None) -> np.ndarray:
    """All harmonics ``h * f`` (Hz) of ``freq`` (a number or a sequence of fundamentals) below ``max_freq``
    (default 0.45 fs), sorted and unique (so ``(50, 60)`` gives 50, 60, 100, 120, ...)."""
    top = max_edge(fs, max_freq)
    out = set()
    for f in np.atleast_1d(np.asarray(freq, dtype=float)):
        if not (f > 0 and math.isfinite(f)):
            raise ValueError(f"mains frequency must be a positive number of Hz (50 or 60), got {f!r}")
        h = 1
        while h * f < top:
            out.add(round(h * f, 9))
            h += 1
    if not out:
        raise ValueError(f"no mains harmonic of {freq!r} Hz lies below {top:g} Hz")
    return np.array(sorted(out))


def _block_basis(L: int, fs: float, freqs: np.ndarray) -> np.ndarray:
    t = np.arange(L) / fs
    tc = (np.arange(L) - (L - 1) / 2) / L
    cols = []
    for f in freqs:
        c, s = np.cos(2 * np.pi * f * t), np.sin(2 * np.pi * f * t)
        cols += [c, s, tc * c, tc * s]
    # a smooth trend (offset, baseline wander, EOG) is estimated with the lines but not subtracted: without these
    # terms a wander of tens of uV leaks a spurious line into the fit near the block edges
    u = 2 * tc
    for k in range(_POLY + 1):
        cols.append(np.polynomial.legendre.legval(u, [0] * k + [1]))
    return np.stack(cols, axis=1)  # [L, K]


@keyword_only("freq", "block", "max_freq", "axis", "info")
def remove_mains(
    x,
    fs: float,
    *,
    freq="auto",
    block: float = 1.0,
    max_freq: float | None = None,
    axis: int = -1,
    info: MainsInfo | None = None,
) -> np.ndarray:
    """Subtract mains interference from ``x`` ``[channels, samples]`` (or 1-D) sampled at ``fs`` Hz.

    ``freq="auto"`` detects it (:func:`detect_mains`; returns the input, as float64, when none is found); a number
    (50, 60, or a measured 50.02) forces that fundamental and all its harmonics below ``max_freq`` (default
    0.45 fs). See the module docstring for the method (block least squares with linear amplitude terms, Hann
    cross-fade). Returns float64, same shape as ``x``; the input is not modified.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import remove_mains
    >>> fs = 1000.0
    >>> mains = 20.0 * np.sin(2 * np.pi * 50.0 * np.arange(10_000) / fs)   # 10 s of 50 Hz mains, 20 uV
    >>> emg = np.random.default_rng(0).normal(0.0, 5.0, (2, mains.size))   # 2 channels (uV)
    >>> y = remove_mains(emg + mains, fs)                                  # detects 50 Hz, subtracts it
    >>> y.shape
    (2, 10000)
    >>> bool(np.std(y - emg) < 0.5)                                    # residual well under 1 uV RMS
    True
    """
    from .filters import as_2d, check_finite, restore_shape

    x2, shape, ax = as_2d(x, axis)
    fs = float(fs)
    if x2.shape[1] == 0 or x2.shape[0] == 0:
        return restore_shape(x2.copy(), shape, ax)
    check_finite(x2, ax, len(shape))
    if isinstance(freq, str):
        if freq != "auto":
            raise ValueError(f"freq must be 'auto', None or the mains frequency in Hz, got {freq!r}")
        if info is None:
            info = detect_mains(x2, fs, max_freq=max_freq)
        if info is None:
            return restore_shape(x2.copy(), shape, ax)
        freqs = info.frequencies
    elif freq is None:
        return restore_shape(x2.copy(), shape, ax)
    else:
        freqs = mains_frequencies(freq, fs, max_freq=max_freq)
    plan = MainsPlan.make(x2.shape[1], fs, freqs, block)
    return restore_shape(plan.subtract(lambda a, b: x2[:, a:b], 0, x2.shape[1]), shape, ax)


@dataclass(frozen=True)
class MainsPlan:
    """The block layout of :func:`remove_mains` on ``n`` samples: block length ``L``, block ``starts``, the basis
    ``B`` ``[L, K+poly]``, its pseudo-inverse ``P`` and the Hann cross-fade ``win``. :meth:`subtract` computes
    any column range of the result from that range plus one block of context, with the same blocks in the same
    order as the whole-array call (used by the bounded-memory workflow)."""

    n: int
    L: int
    starts: np.ndarray
    B: np.ndarray
    K: int
    P: np.ndarray
    win: np.ndarray

    @classmethod
    def make(cls, n: int, fs: float, freqs: np.ndarray, block: float = 1.0) -> MainsPlan:
        L = min(n, max(int(round(block * fs)), 8))
        hop = max(1, L // 2)
        starts = list(range(0, n - L + 1, hop))
        if starts[-1] != n - L:
            starts.append(n - L)
        B = _block_basis(L, fs, freqs)
        return cls(
            n,
            L,
            np.asarray(starts, dtype=np.int64),
            B,
            4 * len(freqs),
            np.linalg.pinv(B),  # [K+2, L]
            np.hanning(L + 2)[1:-1],
        )

    def subtract(self, get, a: int, b: int) -> np.ndarray:
        """Columns ``[a, b)`` of the mains-free signal; ``get(lo, hi)`` returns the input's columns ``[lo, hi)``
        ``[channels, hi - lo]`` (it is asked for at most ``[a - L, b + L)``)."""
        L, K, B, P, win = self.L, self.K, self.B, self.P, self.win
        sel = self.starts[(self.starts < b) & (self.starts + L > a)]
        lo, hi = min(a, int(sel[0])), max(b, int(sel[-1]) + L)
        xr = get(lo, hi)
        acc = np.zeros_like(xr)
        wsum = np.zeros(hi - lo)
        for s in sel - lo:
            seg = xr[:, s : s + L]
            coef = _robust_block_fit(seg, B, P)  # [C, K+poly], block-local phase (the reconstruction uses B too)
            fit = coef[:, :K] @ B[:, :K].T
            acc[:, s : s + L] += fit * win
            wsum[s : s + L] += win
        return xr[:, a - lo : b - lo] - acc[:, a - lo : b - lo] / wsum[a - lo : b - lo]


#: short windows (s) whose residual power decides which samples of a block a burst occupies
_LOUD_WINDOW = 0.05
#: a window is loud when its residual power exceeds this many times the block's quiet (25th percentile) power
_LOUD_POWER = 9.0


def _robust_block_fit(seg: np.ndarray, B: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Least-squares coefficients ``[C, M]`` of the basis ``B`` ``[L, M]`` for each row of ``seg`` ``[C, L]``,
    leaving out the part of the block a burst occupies.

    The plain fit (``seg @ P.T``) of a block holding a strong short burst (a blink at high SNR) takes up the burst's
    own 50/60 Hz content as "mains" and subtracts it from the whole block: the envelope then shows the burst smeared
    over the block (~1 s; it turned blinks into MaEs and moved crosstalk out of its event). So: residual of the
    plain fit in ``_LOUD_WINDOW`` s windows; windows above ``_LOUD_POWER`` x the block's 25th-percentile window
    power (and their neighbours) are loud; rows with loud windows covering at most 3/4 of the block are refitted
    on the quiet samples only. Quiet blocks keep the plain fit."""
    coef = seg @ P.T
    C, L = seg.shape
    M = B.shape[1]
    w = max(1, int(round(L * _LOUD_WINDOW)))  # L = block samples of 1 s: 50 ms windows
    nw = L // w
    if nw < 8:
        return coef
    res = seg - coef @ B.T
    pw = (res[:, : nw * w] ** 2).reshape(C, nw, w).mean(axis=2)
    q = np.quantile(pw, 0.25, axis=1)
    loud = pw > _LOUD_POWER * q[:, None]
    loud[:, 1:] |= loud[:, :-1].copy()
    loud[:, :-1] |= loud[:, 1:].copy()
    frac = loud.mean(axis=1)
    for c in np.flatnonzero((frac > 0) & (frac <= 0.75)):
        keep = np.ones(L, dtype=bool)
        keep[: nw * w] = ~np.repeat(loud[c], w)
        if nw * w < L and loud[c, -1]:
            keep[nw * w :] = False
        if keep.sum() >= 2 * M:
            coef[c] = np.linalg.lstsq(B[keep], seg[c, keep], rcond=None)[0]
    return coef


@numba.njit(cache=True, nogil=True)
def _rls_gains(r, lam, P, g):  # pragma: no cover - compiled
    """Shared RLS gains: r [n, K] references, P [K, K] inverse correlation (updated in place), g [n, K] out.
    The gain of recursive least squares depends only on the references, so one pass serves every channel."""
    n, K = r.shape
    Pr = np.empty(K)
    for i in range(n):
        den = lam
        for a in range(K):
            v = 0.0
            for b in range(K):
                v += P[a, b] * r[i, b]
            Pr[a] = v
            den += r[i, a] * v
        for a in range(K):
            g[i, a] = Pr[a] / den
        for a in range(K):
            for b in range(K):
                P[a, b] = (P[a, b] - g[i, a] * Pr[b]) / lam
        for a in range(K):  # keep P symmetric against round-off
            for b in range(a + 1, K):
                m = 0.5 * (P[a, b] + P[b, a])
                P[a, b] = m
                P[b, a] = m


@numba.njit(cache=True, nogil=True, parallel=True)
def _rls_update(x, r, g, n_line, t0, clip, warm, slow, w, scale, out):  # pragma: no cover - compiled
    """Per channel: a-priori error, subtract the first ``n_line`` references' estimate (none for the first 4 K
    samples, then ramped in linearly to the full estimate at 8 K), update w [C, K] with the
    error clipped to ``clip`` x the running mean absolute error ``scale[c]`` (Huber): an EMG burst then barely moves
    the line estimate. ``scale`` is a plain running mean for the first ``warm`` samples, then an exponential mean
    of time constant ``slow`` samples of the clipped error."""
    C, n = x.shape
    K = r.shape[1]
    for c in numba.prange(C):
        for i in range(n):
            y = 0.0
            for k in range(n_line):
                y += w[c, k] * r[i, k]
            e = x[c, i] - y
            for k in range(n_line, K):
                e -= w[c, k] * r[i, k]
            t = t0 + i
            # start-up: while the RLS has seen few samples its estimate interpolates noise (a fake burst in
            # the envelope); subtract nothing for the first 4 K samples, then ramp in to the full estimate at 8 K
            gate = 1.0
            if t < 8.0 * K:
                gate = (t - 4.0 * K) / (4.0 * K) if t > 4.0 * K else 0.0
            out[c, i] = x[c, i] - gate * y
            lim = clip * scale[c]
            eu = e
            if t >= warm:
                if eu > lim:
                    eu = lim
                elif eu < -lim:
                    eu = -lim
                scale[c] += (abs(eu) - scale[c]) / slow
            else:
                scale[c] += (abs(e) - scale[c]) / (t + 1.0)
            for k in range(K):
                w[c, k] += g[i, k] * eu


class MainsCanceller:
    """Causal adaptive mains canceller (Widrow 1975, RLS-adapted) for ``n_channels`` channels at ``fs`` Hz.

    ``freq``: ``"auto"`` (harmonics of both 50 and 60 Hz), a number, or a sequence of fundamentals; harmonics up to
    ``max_freq`` (default 0.45 fs). ``tau``: LMS time constant in s. :meth:`process` takes chunks ``[C, n]`` and
    returns the cleaned chunk; results do not depend on how the recording is split into chunks.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import MainsCanceller
    >>> fs, n = 1000.0, 10_000                                          # 10 s at 1 kHz
    >>> emg = np.random.default_rng(0).normal(0.0, 5.0, (2, n))         # 2 channels (uV)
    >>> x = emg + 20.0 * np.sin(2 * np.pi * 50.0 * np.arange(n) / fs)   # + 20 uV of 50 Hz mains
    >>> canceller = MainsCanceller(fs, n_channels=2, freq=50.0)
    >>> y = np.hstack([canceller.process(x[:, i:i + 1000]) for i in range(0, n, 1000)])  # 1 s chunks
    >>> y.shape
    (2, 10000)
    >>> bool(np.std(y[:, 2000:] - emg[:, 2000:]) < 1.0)                # after start-up: < 1 uV RMS of mains left
    True
    """

    def __init__(
        self,
        fs: float,
        n_channels: int,
        *,
        freq="auto",
        max_freq: float | None = None,
        tau: float = 0.3,
        clip: float = 2.0,
        warm: float = 1.0,
        slow: float = 10.0,
    ):
        self.fs = float(fs)
        self.clip, self.warm, self.slow = float(clip), float(warm), float(slow)
        fund = (50.0, 60.0) if isinstance(freq, str) and freq == "auto" else freq
        if isinstance(fund, str):
            raise ValueError(f"freq must be 'auto' or the mains frequency in Hz, got {freq!r}")
        self.freqs = mains_frequencies(fund, self.fs, max_freq=max_freq)
        self._w0 = 2 * np.pi * self.freqs / self.fs
        self.tau = float(tau)
        self.n_channels = int(n_channels)
        K = 2 * len(self.freqs) + 1
        self._lam = 1.0 - 1.0 / (self.tau * self.fs)
        self._w = np.zeros((self.n_channels, K))
        self._scale = np.zeros(self.n_channels)
        self._P = np.eye(K) * 1e4
        self._t = 0
        # the references repeat every `period` samples when all harmonics are whole multiples of fs/period Hz
        # (50 and 60 Hz at 500/1000/2000 SPS: 0.1 s); the RLS gains then converge to a periodic sequence, so after
        # 20 time constants (error ~ exp(-20)) a table of one period replaces the O(K^2) gain update.
        self._gain_table = None
        period = self.fs / 10.0
        if period == int(period) and np.all(self.freqs == np.round(self.freqs / 10.0) * 10.0):
            period = int(period)
            n_conv = int(math.ceil(20 * self.tau * self.fs / period)) * period
            g = self._gains(np.arange(n_conv + period, dtype=np.float64), np.eye(K) * 1e4)
            self._gain_table = (g, n_conv, period)

    def _refs(self, t: np.ndarray) -> np.ndarray:
        H = len(self._w0)
        ph = np.outer(t, self._w0) % (2 * np.pi)  # phase modulo one period keeps the arguments small over hours
        r = np.empty((t.size, 2 * H + 1))
        r[:, 0 : 2 * H : 2] = np.cos(ph)
        r[:, 1 : 2 * H : 2] = np.sin(ph)
        r[:, 2 * H] = 1.0  # offset: estimated, not subtracted
        return r

    def _gains(self, t: np.ndarray, P: np.ndarray) -> np.ndarray:
        r = self._refs(t)
        g = np.empty_like(r)
        _rls_gains(r, self._lam, P, g)
        return g

    def reset(self) -> None:
        self._w[...] = 0.0
        self._scale[...] = 0.0
        self._P[...] = np.eye(self._P.shape[0]) * 1e4
        self._t = 0

    def process(self, chunk: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(chunk, dtype=np.float64)
        out = np.empty_like(x)
        step = 8192
        H = len(self._w0)
        for a in range(0, x.shape[1], step):
            b = min(a + step, x.shape[1])
            t = self._t + np.arange(b - a, dtype=np.float64)
            r = self._refs(t)
            if self._gain_table is not None:
                tab, n_conv, period = self._gain_table
                ti = t.astype(np.int64)
                g = tab[np.where(ti < n_conv, ti, n_conv + (ti - n_conv) % period)]
            else:
                g = np.empty_like(r)
                _rls_gains(r, self._lam, self._P, g)
            _rls_update(
                x[:, a:b],
                r,
                g,
                2 * H,
                float(self._t),
                self.clip,
                self.warm * self.fs,
                self.slow * self.fs,
                self._w,
                self._scale,
                out[:, a:b],
            )
            self._t += b - a
        return out


@keyword_only("freq", "max_freq", "tau", "axis")
def cancel_mains(
    x, fs: float, *, freq="auto", max_freq: float | None = None, tau: float = 0.3, axis: int = -1
) -> np.ndarray:
    """Causal mains removal of a whole recording (:class:`MainsCanceller` run once over ``x``)."""
    from .filters import as_2d, check_finite, restore_shape

    x2, shape, ax = as_2d(x, axis)
    if x2.size:
        check_finite(x2, ax, len(shape))
    return restore_shape(MainsCanceller(fs, x2.shape[0], freq=freq, max_freq=max_freq, tau=tau).process(x2), shape, ax)
