"""Sample index <-> host clock models.

The ADS1299's clock is +-0.5 % (25 C), so the true sample rate is measured, not assumed. The host only learns when
bytes *arrived*; transport latency only ever adds delay, so the fit follows the lower envelope of (sample, arrival
time) points: the points are binned by sample index, the earliest-arriving point of each bin is kept, a line is fitted
through those and points far from it (MAD rule) are dropped before the final least-squares fit.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

__all__ = ["ClockFit", "OnlineClock", "fit_clock", "unwrap_ticks"]


@dataclass(frozen=True)
class ClockFit:
    """``time = intercept + slope * sample`` (s); ``fs = 1 / slope`` (Hz); ``residual_s``: robust spread (1.4826 x
    MAD of the residuals of the points used, s); ``n_points`` used; ``span`` samples covered."""

    slope: float
    intercept: float
    residual_s: float
    n_points: int
    span: int

    @property
    def fs(self) -> float:
        return 1.0 / self.slope if self.slope > 0 else float("nan")

    def time_of(self, sample):
        """Host time (s) of ``sample`` (scalar or array)."""
        return self.intercept + self.slope * np.asarray(sample, dtype=np.float64)

    def sample_at(self, t):
        """Fractional sample index at host time ``t`` (s)."""
        return (np.asarray(t, dtype=np.float64) - self.intercept) / self.slope


def unwrap_ticks(ticks: np.ndarray, period: int) -> np.ndarray:
    """Unwrap a counter that wraps at ``period`` (e.g. device_time_us mod 2**30) into a monotonic int64 array."""
    t = np.asarray(ticks, dtype=np.int64)
    if t.size == 0:
        return t
    d = np.diff(t) % period
    d = np.where(d > period // 2, d - period, d)
    return np.concatenate([[t[0]], t[0] + np.cumsum(d)])


def fit_clock(samples, times, fs_nominal: float | None = None, bins: int = 256) -> ClockFit | None:
    """Robust lower-envelope linear fit ``time ~ sample``. ``samples`` int, ``times`` s (same length). Returns None
    with fewer than 2 distinct samples."""
    s = np.asarray(samples, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    ok = np.isfinite(s) & np.isfinite(t)
    s, t = s[ok], t[ok]
    if s.size < 2 or s.max() == s.min():
        return None
    order = np.argsort(s, kind="stable")
    s, t = s[order], t[order]
    # first guess of the slope: nominal rate, else ends of the data
    slope0 = 1.0 / fs_nominal if fs_nominal else (t[-1] - t[0]) / (s[-1] - s[0])
    if not np.isfinite(slope0) or slope0 <= 0:
        slope0 = (t[-1] - t[0]) / (s[-1] - s[0]) if t[-1] > t[0] else 1e-3
    nb = int(min(bins, s.size))
    edges = np.linspace(s[0], s[-1], nb + 1)
    idx = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, nb - 1)
    for _ in range(2):  # lower envelope w.r.t. the current slope, twice (the slope improves in between)
        lat = t - slope0 * s
        keep = np.zeros(s.size, dtype=bool)
        # argmin of lat per bin
        o = np.lexsort((lat, idx))
        first_in_bin = np.concatenate([[True], idx[o][1:] != idx[o][:-1]])
        keep[o[first_in_bin]] = True
        xs, ys = s[keep], t[keep]
        if xs.size < 2:
            xs, ys = s, t
        A = np.vstack([xs, np.ones_like(xs)]).T
        (slope, icpt), *_ = np.linalg.lstsq(A, ys, rcond=None)
        r = ys - (icpt + slope * xs)
        mad = np.median(np.abs(r - np.median(r))) * 1.4826
        good = np.abs(r - np.median(r)) <= max(3 * mad, 1e-9)
        if good.sum() >= 2 and not good.all():
            (slope, icpt), *_ = np.linalg.lstsq(A[good], ys[good], rcond=None)
            r = ys[good] - (icpt + slope * xs[good])
        if slope > 0:
            slope0 = slope
    return ClockFit(
        float(slope), float(icpt), float(np.median(np.abs(r - np.median(r))) * 1.4826), int(r.size), int(s[-1] - s[0])
    )


class OnlineClock:
    """Running lower-envelope clock model for live use (LSL timestamps).

    ``update(sample, t)`` with the last sample index a chunk completed and its arrival time; ``time_of(sample)``
    predicts. Keeps the earliest arrival per ``bin_s`` seconds of samples over the last ``window_s`` seconds and
    refits every ``refit_s``; before two bins exist it uses the nominal rate anchored at the earliest arrival."""

    def __init__(self, fs_nominal: float, bin_s: float = 0.5, window_s: float = 300.0, refit_s: float = 0.5):
        self.fs_nominal = float(fs_nominal)
        self.bin = max(1, int(round(bin_s * fs_nominal)))
        self.maxbins = max(4, int(window_s / bin_s))
        self.refit_every = max(1, int(round(refit_s / bin_s)))
        self._bins: collections.OrderedDict[int, tuple[float, float]] = collections.OrderedDict()
        self._fit: ClockFit | None = None
        self._since = 0
        self._anchor: tuple[float, float] | None = None  # (sample, t) with minimal t - sample/fs

    def update(self, sample: int, t: float) -> None:
        b = int(sample) // self.bin
        lat = t - sample / self.fs_nominal
        if self._anchor is None or lat < self._anchor[1] - self._anchor[0] / self.fs_nominal:
            self._anchor = (float(sample), float(t))
        cur = self._bins.get(b)
        if cur is None:
            self._bins[b] = (float(sample), float(t))
            while len(self._bins) > self.maxbins:
                self._bins.popitem(last=False)
            self._since += 1
            # refit on the completed bins (the newest one is still filling)
            if self._since >= self.refit_every and len(self._bins) >= 3:
                self._since = 0
                pts = np.array(list(self._bins.values())[:-1])
                fit = fit_clock(pts[:, 0], pts[:, 1], self.fs_nominal, bins=len(pts))
                if fit is not None and fit.slope > 0:
                    self._fit = fit
        elif t - sample / self.fs_nominal < cur[1] - cur[0] / self.fs_nominal:
            self._bins[b] = (float(sample), float(t))

    @property
    def fit(self) -> ClockFit | None:
        return self._fit

    @property
    def fs(self) -> float:
        return self._fit.fs if self._fit is not None else self.fs_nominal

    def time_of(self, sample):
        if self._fit is not None:
            return self._fit.time_of(sample)
        if self._anchor is None:
            raise ValueError("no clock data yet")
        s0, t0 = self._anchor
        return t0 + (np.asarray(sample, dtype=np.float64) - s0) / self.fs_nominal
