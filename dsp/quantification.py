"""Quantify spotted expressions (Li et al. 2024 [arXiv:2409.00017], sec. 3.1.4 and 5.1): per event the channel with
the largest change (eq.
5), peak MVC % (eq. 6), iEMG (eq. 7), duration, and ME/MaE classification; summary statistics with confidence
intervals as in Li et al. 2024 Table 4.

Events are any objects with integer ``onset`` and ``offset`` sample indices (offset inclusive) and optionally a
``channel`` (e.g. :class:`perifacial.dsp.spotting.Event`), or ``(onset, offset)`` pairs. The table is a plain list of
:class:`QuantifiedEvent` rows with :meth:`QuantTable.to_records` and :meth:`QuantTable.to_csv` (no pandas needed).
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ._api import keyword_only
from .defaults import ME_MAX_DURATION_MS
from .mvc import MvcCalibration, as_2d_real, iemg

__all__ = [
    "QuantifiedEvent",
    "QuantTable",
    "IntervalEstimate",
    "quantify",
    "two_means",
    "summarize",
]

log = logging.getLogger(__name__)

ME_MAX_MS = ME_MAX_DURATION_MS  # shorter than 1/2 s is a micro-expression (Li et al. 2024 sec. 2, 5.1.3)


@dataclass(frozen=True)
class QuantifiedEvent:
    """One row of :func:`quantify`'s table.

    onset, offset : int -- samples (offset inclusive); onset_s, offset_s : float -- the same in seconds;
    duration_ms : float -- ``(offset - onset + 1) / fs`` in ms (the number of samples, as
    :meth:`perifacial.dsp.spotting.Event.duration`); channel : int, label : str, region : str -- the channel with the
    largest change (Li et al. 2024 eq. 5), its label and montage region ("" without a montage); peak_uv : float --
    that channel's envelope maximum in the event (uV); peak_mvc_pct : float -- the same in % MVC (eq. 6; NaN without
    calibration); iemg_pct_s : float -- trapezoidal integral of |MVC %| over the event (eq. 7; %MVC.s; NaN without
    calibration); kind : str -- "ME" or "MaE"; floor_uv : float -- the channel's resting envelope level that was
    subtracted (NaN when ``subtract_floor`` is off).
    """

    onset: int
    offset: int
    onset_s: float
    offset_s: float
    duration_ms: float
    channel: int
    label: str
    region: str
    peak_uv: float
    peak_mvc_pct: float
    iemg_pct_s: float
    kind: str
    floor_uv: float = math.nan


class QuantTable(Sequence):
    """Rows of :class:`QuantifiedEvent` (a read-only sequence) with the settings that produced them."""

    def __init__(self, rows: Iterable[QuantifiedEvent], fs: float, classify: str, select: str) -> None:
        self.rows = tuple(rows)
        self.fs = float(fs)
        self.classify = classify
        self.select = select

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    def __repr__(self) -> str:
        return f"QuantTable({len(self.rows)} events, classify={self.classify!r}, select={self.select!r})"

    @staticmethod
    def columns() -> tuple[str, ...]:
        return tuple(f.name for f in fields(QuantifiedEvent))

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per row (column -> value)."""
        return [asdict(r) for r in self.rows]

    def to_pandas(self):
        """The table as a ``pandas.DataFrame`` (one row per event, :meth:`columns`); needs pandas."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas() needs pandas: pip install 'perifacial[io]'") from None
        return pd.DataFrame(self.to_records(), columns=list(self.columns()))

    def to_csv(self, path_or_file=None) -> str | None:
        """Write the table as CSV (header + one line per event) to a path or an open text file; with no argument
        return the CSV text."""
        if path_or_file is None:
            buf = io.StringIO()
            self._write(buf)
            return buf.getvalue()
        if hasattr(path_or_file, "write"):
            self._write(path_or_file)
            return None
        with open(Path(path_or_file), "w", newline="", encoding="utf-8") as f:
            self._write(f)
        return None

    def _write(self, f) -> None:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(self.columns())
        for r in self.rows:
            w.writerow([repr(v) if isinstance(v, float) else v for v in (getattr(r, c) for c in self.columns())])

    def summary(self, confidence: float = 0.95) -> list[IntervalEstimate]:
        """:func:`summarize` of this table."""
        return summarize(self.rows, confidence=confidence)


def _event_bounds(ev, i: int, n: int) -> tuple[int, int, Any]:
    if hasattr(ev, "onset") and hasattr(ev, "offset"):
        onset, offset, channel = ev.onset, ev.offset, getattr(ev, "channel", None)
    else:
        try:
            onset, offset = ev
        except (TypeError, ValueError):
            raise ValueError(
                f"event {i}: need an object with onset/offset or an (onset, offset) pair, got {ev!r}"
            ) from None
        channel = None
    try:
        o, f = int(onset), int(offset)
    except (TypeError, ValueError):
        raise ValueError(f"event {i}: onset/offset must be sample indices, got {onset!r}, {offset!r}") from None
    if o != onset or f != offset:
        raise ValueError(f"event {i}: onset/offset must be integer sample indices, got {onset!r}, {offset!r}")
    if not 0 <= o <= f < n:
        raise ValueError(f"event {i}: need 0 <= onset <= offset < {n} (offset inclusive), got {o}, {f}")
    return o, f, channel


@keyword_only("max_iter")
def two_means(features, *, max_iter: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic two-cluster k-means (Lloyd) on the standardised columns of ``features`` ``[n, d]``.

    Columns are z-scored (population SD; a constant column counts 0). Start: the observation with the smallest sum
    of z-scores and the one with the largest (first of ties). Each step assigns every point to the nearer centroid
    (ties to cluster 0) and moves centroids to their cluster's mean; stops when assignments stop changing. Returns
    ``labels`` ``[n]`` (0/1) and the centroids ``[2, d]`` in the original units. ValueError with fewer than two
    distinct observations.
    """
    X = np.asarray(features, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"two_means needs [n >= 2, d] features, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("two_means: features contain NaN or infinite values")
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    Z = np.where(sd > 0, (X - mu) / np.where(sd > 0, sd, 1.0), 0.0)
    s = Z.sum(axis=1)
    i0, i1 = int(np.argmin(s)), int(np.argmax(s))
    if np.array_equal(Z[i0], Z[i1]):
        # the z-score sums can tie for distinct points (e.g. anti-correlated columns): fall back on the first
        # point and the one farthest from it
        i0 = 0
        i1 = int(np.argmax(((Z - Z[0]) ** 2).sum(axis=1)))
        if np.array_equal(Z[i0], Z[i1]):
            raise ValueError("two_means: all observations are identical; nothing to cluster")
    C = np.stack([Z[i0], Z[i1]])
    labels = np.full(X.shape[0], -1)
    for _ in range(max_iter):
        d = ((Z[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
        new = np.where(d[:, 1] < d[:, 0], 1, 0)
        if np.array_equal(new, labels):
            break
        labels = new
        for k in (0, 1):
            if np.any(labels == k):
                C[k] = Z[labels == k].mean(axis=0)
    centers = np.stack(
        [X[labels == k].mean(axis=0) if np.any(labels == k) else np.full(X.shape[1], np.nan) for k in (0, 1)]
    )
    return labels, centers


@keyword_only("calibration", "montage", "classify")
def quantify(
    events: Iterable,
    envelope,
    fs: float,
    *,
    calibration: MvcCalibration | None = None,
    montage: Any = None,
    classify: str = "duration",
    select: str = "amplitude",
    use_event_channel: bool = False,
    me_max_ms: float = ME_MAX_MS,
    subtract_floor: bool = False,
    floor_window: float = 8.0,
    peak: str = "max",
) -> QuantTable:
    """Quantify expression events on a linear envelope.

    Parameters
    ----------
    events : iterable
        Objects with ``onset``/``offset`` (samples, offset inclusive) and optional ``channel``, or (onset, offset).
    envelope : array_like ``[channels, samples]`` (or 1-D)
        Linear envelope in uV (Li et al. 2024 chain), the same channels as ``calibration``.
    fs : float
        Sampling rate, Hz.
    calibration : MvcCalibration, optional
        Gives peak MVC % and iEMG; without it those are NaN.
    montage : Montage, optional
        For the region column and labels; default: the six-region montage when there are 24 channels.
    classify : {"duration", "kmeans"}
        "duration": ME if duration < ``me_max_ms`` (500 ms), else MaE. "kmeans": :func:`two_means` on
        (duration, peak MVC %) as Li et al. 2024 Fig. 12; ME = the cluster with the shorter mean duration (needs a
        calibration and >= 2 events).
    select : {"amplitude", "mvc", "change"}
        How eq. 5 picks the channel: largest envelope peak in the event (uV, eq. 5 as written), largest peak MVC %,
        or largest rise (peak minus the value at onset, uV).
    use_event_channel : bool
        Use the event's own ``channel`` when it has one, instead of eq. 5.
    subtract_floor : bool
        Remove the noise floor by power subtraction before normalising. A linear envelope of signal + independent
        noise is (for Gaussian-like EMG) proportional to ``sqrt(s^2 + n^2)``, so the muscle's share of a value
        ``v`` over a resting level ``r`` is ``sqrt(max(v^2 - r^2, 0))``. ``r`` is the median of the channel's
        envelope over ``floor_window`` s centred on the event (events are sparse, so the median is the rest); it
        is applied to the peak and to the iEMG trace, and the MVC reference gets the same treatment with the
        calibration's own resting level (``MvcCalibration.noise_uv``): ``sqrt(mvc^2 - noise^2)``. Without it the
        floor inflates %MVC (by ~13-30 % for weak expressions at moderate SNR).
    peak : {"max", "plateau"}
        "max": the envelope maximum in the event (Li et al. 2024 eq. 5/6). "plateau": the highest mean over a quarter of
        the event's duration (moving mean), the event's analogue of the MVC's moving-mean peak: the maximum of a
        fluctuating envelope overshoots the contraction level (by ~10-12 % on dsp.synth sessions), the plateau
        mean does not (median error ~5 %).

    Returns
    -------
    QuantTable

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import quantify, MvcCalibration
    >>> env = np.ones((2, 3000))                             # envelope (uV), 2 channels, 3 s at 1 kHz
    >>> env[1, 1000:1300] = 9.0                              # 300 ms burst on channel 1
    >>> cal = MvcCalibration(participant="p01", date="2026-01-15", montage="", labels=("A", "B"),
    ...                      mvc_uv=(100.0, 100.0), noise_uv=(1.0, 1.0), fs=1000.0)
    >>> table = quantify([(1000, 1299)], env, fs=1000.0, calibration=cal)
    >>> row = table[0]
    >>> row.label, row.kind, row.duration_ms, row.peak_mvc_pct
    ('B', 'ME', 300.0, 9.0)
    """
    if classify not in ("duration", "kmeans"):
        raise ValueError(f"classify must be 'duration' or 'kmeans', got {classify!r}")
    peak_mode = peak
    if peak_mode not in ("max", "plateau"):
        raise ValueError(f"peak must be 'max' or 'plateau', got {peak!r}")
    if select not in ("amplitude", "mvc", "change"):
        raise ValueError(f"select must be 'amplitude', 'mvc' or 'change', got {select!r}")
    fs = float(fs)
    if not (math.isfinite(fs) and fs > 0):
        raise ValueError(f"fs must be > 0 Hz, got {fs}")
    env = as_2d_real(envelope, "envelope")
    n_ch, n = env.shape
    if calibration is not None and calibration.n_channels != n_ch:
        raise ValueError(f"envelope has {n_ch} channels, the calibration {calibration.n_channels}")
    if select == "mvc" and calibration is None:
        raise ValueError("select='mvc' needs a calibration")
    if classify == "kmeans" and calibration is None:
        raise ValueError("classify='kmeans' clusters (duration, MVC %): it needs a calibration")
    if montage is None and n_ch == 24:
        from .montage import default_montage

        montage = default_montage()
    if montage is not None and getattr(montage, "n_channels", n_ch) != n_ch:
        raise ValueError(f"montage {getattr(montage, 'name', '')!r} has {montage.n_channels} channels, envelope {n_ch}")
    if calibration is not None:
        labels = calibration.labels
    elif montage is not None:
        labels = tuple(montage.labels)
    else:
        labels = tuple(f"ch{i}" for i in range(n_ch))
    mvc = calibration.mvc if calibration is not None else None
    if mvc is not None and subtract_floor:
        rest = np.asarray(calibration.noise_uv, dtype=np.float64)
        mvc = np.sqrt(np.maximum(mvc**2 - np.nan_to_num(rest) ** 2, (0.05 * mvc) ** 2))
    half = int(round(floor_window * fs / 2))

    rows = []
    for i, ev in enumerate(events):
        o, f, ev_ch = _event_bounds(ev, i, n)
        seg = env[:, o : f + 1]
        if not np.isfinite(seg).all():
            raise ValueError(f"event {i}: the envelope has NaN or infinite values in [{o}, {f}]")
        peaks = seg.max(axis=1)
        if use_event_channel and ev_ch is not None:
            ch = int(ev_ch)
            if not 0 <= ch < n_ch:
                raise ValueError(f"event {i}: channel {ch} outside 0..{n_ch - 1}")
        elif select == "amplitude":
            ch = int(np.argmax(peaks))
        elif select == "mvc":
            ch = int(np.argmax(peaks / mvc))
        else:
            ch = int(np.argmax(peaks - seg[:, 0]))
        peak = float(peaks[ch])
        if peak_mode == "plateau":
            k = max(1, seg.shape[1] // 4)
            c = np.concatenate([[0.0], np.cumsum(seg[ch])])
            peak = float(((c[k:] - c[:-k]) / k).max())
        trace = seg[ch]
        floor = math.nan
        if subtract_floor:
            around = env[ch, max(0, o - half) : min(n, f + 1 + half)]
            floor = float(np.median(around[np.isfinite(around)])) if np.isfinite(around).any() else 0.0
            peak = math.sqrt(max(peak * peak - floor * floor, 0.0))
            trace = np.sqrt(np.maximum(trace * trace - floor * floor, 0.0))
        if mvc is not None:
            pct = float(peak / mvc[ch] * 100.0)
            integral = iemg(trace / mvc[ch] * 100.0, fs, 0, f - o)
        else:
            pct = integral = math.nan
        region = montage.region_of(ch).name if montage is not None else ""
        dur_ms = (f - o + 1) / fs * 1000.0
        rows.append(
            QuantifiedEvent(
                onset=o,
                offset=f,
                onset_s=o / fs,
                offset_s=f / fs,
                duration_ms=dur_ms,
                channel=ch,
                label=labels[ch],
                region=region,
                peak_uv=peak,
                peak_mvc_pct=pct,
                iemg_pct_s=integral,
                kind="ME" if dur_ms < me_max_ms else "MaE",
                floor_uv=floor,
            )
        )

    if classify == "kmeans" and rows:
        if len(rows) < 2:
            raise ValueError("classify='kmeans' needs at least 2 events")
        feats = np.array([[r.duration_ms, r.peak_mvc_pct] for r in rows])
        lab, centers = two_means(feats)
        me_cluster = 0 if centers[0, 0] <= centers[1, 0] else 1
        rows = [
            QuantifiedEvent(**{**asdict(r), "kind": "ME" if lab[j] == me_cluster else "MaE"})
            for j, r in enumerate(rows)
        ]
        log.info("k-means centroids (duration ms, MVC %%): ME %s, MaE %s", centers[me_cluster], centers[1 - me_cluster])
    return QuantTable(rows, fs, classify, select)


@dataclass(frozen=True)
class IntervalEstimate:
    """Mean and two-sided confidence interval (Student t, ``n - 1`` degrees of freedom) of one quantity over the
    events of one kind, as Li et al. 2024 Table 4. ``sd`` uses ``ddof=1``; CI bounds are NaN for ``n < 2``."""

    kind: str
    quantity: str
    unit: str
    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    confidence: float


_QUANTITIES = (
    ("duration_s", "s", lambda r: r.duration_ms / 1000.0),
    ("peak_mvc_pct", "%MVC", lambda r: r.peak_mvc_pct),
    ("iemg_pct_s", "%MVC.s", lambda r: r.iemg_pct_s),
)


@keyword_only("confidence")
def summarize(rows: Iterable[QuantifiedEvent], *, confidence: float = 0.95) -> list[IntervalEstimate]:
    """Per kind ("ME", then "MaE") and quantity (duration in s, peak MVC %, iEMG): n, mean, SD and the
    ``confidence`` interval of the mean, ``mean +- t_{(1+c)/2, n-1} sd / sqrt(n)``. Rows whose value is NaN (no
    calibration) are left out of that quantity.

    Parameters
    ----------
    rows : iterable of QuantifiedEvent
        E.g. :func:`quantify`'s table.
    confidence : float
        Level of the interval (default 0.95).

    Returns
    -------
    list of IntervalEstimate
        ``kind``, ``quantity``, ``n``, ``mean``, ``sd``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import quantify, summarize
    >>> env = np.ones((1, 10000))
    >>> events = [(1000, 1299), (3000, 3319), (5000, 6199), (8000, 8999)]   # two MEs, two MaEs (samples at 1 kHz)
    >>> for a, b in events:
    ...     env[0, a:b + 1] = 5.0
    >>> stats = summarize(quantify(events, env, fs=1000.0))
    >>> [(s.kind, s.quantity, s.n, round(s.mean, 3)) for s in stats if s.quantity == "duration_s"]
    [('ME', 'duration_s', 2, 0.31), ('MaE', 'duration_s', 2, 1.1)]
    """
    from scipy import stats

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rows = list(rows)
    out = []
    for kind in ("ME", "MaE"):
        sel = [r for r in rows if r.kind == kind]
        for name, unit, get in _QUANTITIES:
            v = np.array([get(r) for r in sel], dtype=np.float64)
            v = v[np.isfinite(v)]
            k = v.size
            mean = float(v.mean()) if k else math.nan
            sd = float(v.std(ddof=1)) if k > 1 else math.nan
            if k > 1:
                half = float(stats.t.ppf(0.5 + confidence / 2.0, k - 1)) * sd / math.sqrt(k)
                lo, hi = mean - half, mean + half
            else:
                lo = hi = math.nan
            out.append(IntervalEstimate(kind, name, unit, k, mean, sd, lo, hi, confidence))
    return out
