"""Interval metrics for spotting: IoU, CASMEMG's overlap ratio, onset/offset errors, event matching, P/R/F1.

Intervals are ``(onset, offset)`` pairs in **samples, offset inclusive** (the convention of
:class:`perifacial.dsp.spotting.Event`), so an interval ``(a, b)`` holds ``b - a + 1`` samples. Anything with
``onset``/``offset`` attributes (an :class:`~perifacial.dsp.spotting.Event`) or a 2-sequence is accepted.

Two overlap measures, named for what they are:

* :func:`iou`: intersection over union (Jaccard index), the MEGC spotting criterion (a hit is IoU >= 0.5).
* :func:`overlap_ratio`: intersection over the *shorter* interval (the overlap coefficient). This is what the
  CASMEMG code (``interval_overlap_ratio.m``) calls "IoU"; it is >= IoU and equals 1 whenever one interval contains
  the other, so a prediction that covers the whole clip scores 1.

Event-level scoring (:func:`match_events`, :func:`spotting_scores`) follows the MEGC convention: a prediction is a
true positive if it is matched one-to-one to a ground-truth interval with IoU >= 0.5; unmatched predictions are
false positives and unmatched ground truth are false negatives; precision, recall and F1 are computed from the
TP/FP/FN counts summed over all recordings (not averaged per recording).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._api import keyword_only

__all__ = [
    "iou",
    "overlap_ratio",
    "BoundaryErrors",
    "boundary_errors",
    "Match",
    "match_events",
    "EventScores",
    "SpottingScores",
    "spotting_scores",
    "prf",
]


def _bounds(x: Any) -> tuple[int, int]:
    if hasattr(x, "onset") and hasattr(x, "offset"):
        return int(x.onset), int(x.offset)
    a, b = x
    return int(a), int(b)


def _intersection(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]) + 1)


def iou(a: Any, b: Any) -> float:
    """Intersection over union of two inclusive sample intervals (0 when disjoint).

    Parameters
    ----------
    a, b : Event or (onset, offset)
        Intervals in samples, offset inclusive.

    Returns
    -------
    float
        ``#common samples / #samples in the union``, in [0, 1].

    Examples
    --------
    >>> from perifacial.dsp import iou
    >>> iou((0, 9), (5, 14))          # samples, offset inclusive: 5 shared of 15
    0.3333333333333333
    """
    ia, ib = _bounds(a), _bounds(b)
    inter = _intersection(ia, ib)
    union = (ia[1] - ia[0] + 1) + (ib[1] - ib[0] + 1) - inter
    return inter / union if union > 0 else 0.0


def overlap_ratio(a: Any, b: Any) -> float:
    """CASMEMG's "IoU": intersection / length of the shorter interval (overlap coefficient), in [0, 1].

    The lab's code computes ``max(0, min(e1, e2) - max(s1, s2)) / min(len1, len2)`` on times in seconds (lengths
    ``e - s``); on inclusive sample intervals the same quantity is ``(#common samples) / min(#samples)``.

    Parameters
    ----------
    a, b
        As in :func:`iou`.

    Returns
    -------
    ratio : float
        ``#common samples / min(#samples)``, in [0, 1].

    Examples
    --------
    >>> from perifacial.dsp import overlap_ratio
    >>> overlap_ratio((0, 9), (5, 14))   # 5 shared / the shorter interval's 10 (CASMEMG's "IoU")
    0.5
    """
    ia, ib = _bounds(a), _bounds(b)
    shorter = min(ia[1] - ia[0] + 1, ib[1] - ib[0] + 1)
    return _intersection(ia, ib) / shorter if shorter > 0 else 0.0


@dataclass(frozen=True)
class BoundaryErrors:
    """Onset/offset errors of matched pairs, in seconds: mean absolute error, its standard error
    (``std(|e|, ddof=1) / sqrt(n)``, as CASMEMG's MATLAB ``std/sqrt(n)``), and root mean square error."""

    n: int
    onset_mae: float
    onset_se: float
    onset_rmse: float
    offset_mae: float
    offset_se: float
    offset_rmse: float


def boundary_errors(pred: Sequence[Any], truth: Sequence[Any], fs: float) -> BoundaryErrors:
    """Onset and offset errors between paired intervals ``pred[i]`` <-> ``truth[i]`` (same length), in seconds.

    MATLAB's ``std`` (used by CASMEMG) is the n-1 estimator; the SE here uses ``ddof=1`` likewise when n > 1.
    """
    if len(pred) != len(truth):
        raise ValueError(f"pred and truth must pair up: {len(pred)} != {len(truth)}")
    p = np.array([_bounds(x) for x in pred], dtype=float).reshape(-1, 2)
    t = np.array([_bounds(x) for x in truth], dtype=float).reshape(-1, 2)
    d = (p - t) / float(fs)
    res = []
    for e in (d[:, 0], d[:, 1]):
        if e.size == 0:
            res.extend([math.nan] * 3)
            continue
        a = np.abs(e)
        se = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else 0.0
        res.extend([float(a.mean()), se, float(math.sqrt(np.mean(e * e)))])
    return BoundaryErrors(len(p), *res)


@dataclass(frozen=True)
class Match:
    """Result of one-to-one matching: ``pairs`` of (pred index, truth index, IoU) and the unmatched indices."""

    pairs: tuple[tuple[int, int, float], ...]
    unmatched_pred: tuple[int, ...]
    unmatched_truth: tuple[int, ...]

    @property
    def tp(self) -> int:
        return len(self.pairs)

    @property
    def fp(self) -> int:
        return len(self.unmatched_pred)

    @property
    def fn(self) -> int:
        return len(self.unmatched_truth)


def _group_key(x: Any, by: str | None) -> Any:
    return getattr(x, by, None) if by else None


@keyword_only("threshold", "method", "by")
def match_events(
    pred: Sequence[Any],
    truth: Sequence[Any],
    *,
    threshold: float = 0.5,
    method: str = "optimal",
    by: str | None = None,
) -> Match:
    """Match predictions to ground truth one to one, a pair counting only if ``iou >= threshold``.

    Parameters
    ----------
    pred, truth : sequence of Event or (onset, offset)
        Intervals in samples, offset inclusive.
    threshold : float
        IoU needed for a hit (MEGC: 0.5).
    method : {"optimal", "greedy"}
        ``"optimal"`` maximises the number of hits, then the total IoU (Hungarian algorithm,
        :func:`scipy.optimize.linear_sum_assignment`); ``"greedy"`` takes pairs in decreasing IoU order.
    by : str, optional
        An attribute name (e.g. ``"region"``): only items with equal ``getattr(x, by)`` can match.

    Returns
    -------
    Match
        ``pairs`` (pred index, truth index, IoU), ``unmatched_pred``, ``unmatched_truth``; ``tp``, ``fp``, ``fn``.

    Examples
    --------
    >>> from perifacial.dsp import match_events
    >>> m = match_events(pred=[(0, 99), (500, 599)], truth=[(10, 109), (2000, 2099)])
    >>> m.tp, m.fp, m.fn, m.pairs[0][:2]
    (1, 1, 1, (0, 0))
    """
    if method not in ("optimal", "greedy"):
        raise ValueError(f"method must be 'optimal' or 'greedy', not {method!r}")
    P, T = len(pred), len(truth)
    pb = [_bounds(x) for x in pred]
    tb = [_bounds(x) for x in truth]
    # candidate pairs (sparse: intervals sorted by onset make this cheap, but sizes here are small enough)
    cand: list[tuple[int, int, float]] = []
    if P and T:
        t_on = np.array([b[0] for b in tb])
        order = np.argsort(t_on, kind="stable")
        t_sorted = t_on[order]
        t_len_max = max(b[1] - b[0] + 1 for b in tb)
        for i, p in enumerate(pb):
            lo = np.searchsorted(t_sorted, p[0] - t_len_max, side="left")
            hi = np.searchsorted(t_sorted, p[1], side="right")
            for j in order[lo:hi]:
                j = int(j)
                if by and _group_key(pred[i], by) != _group_key(truth[j], by):
                    continue
                v = iou(p, tb[j])
                if v >= threshold and v > 0:
                    cand.append((i, j, v))
    pairs: list[tuple[int, int, float]] = []
    if cand:
        if method == "greedy":
            used_p: set[int] = set()
            used_t: set[int] = set()
            for i, j, v in sorted(cand, key=lambda c: (-c[2], c[0], c[1])):
                if i not in used_p and j not in used_t:
                    used_p.add(i)
                    used_t.add(j)
                    pairs.append((i, j, v))
        else:
            from scipy.optimize import linear_sum_assignment
            from scipy.sparse import coo_matrix
            from scipy.sparse.csgraph import connected_components

            # solve per connected component of the candidate graph (keeps the matrices small on long sessions)
            ci = np.array([c[0] for c in cand])
            cj = np.array([c[1] for c in cand])
            cv = np.array([c[2] for c in cand])
            g = coo_matrix((np.ones(len(cand)), (ci, P + cj)), shape=(P + T, P + T))
            _, lab = connected_components(g, directed=False)
            comp = lab[ci]
            for c in np.unique(comp):
                sel = np.nonzero(comp == c)[0]
                ui, ii = np.unique(ci[sel], return_inverse=True)
                uj, jj = np.unique(cj[sel], return_inverse=True)
                # weight: a hit is worth more than any IoU sum, so the count of hits is maximised first
                w = np.zeros((ui.size, uj.size))
                w[ii, jj] = 1.0 + cv[sel] / (1.0 + len(sel))
                r, k = linear_sum_assignment(w, maximize=True)
                for a, b in zip(r, k):
                    if w[a, b] > 0:
                        pairs.append((int(ui[a]), int(uj[b]), iou(pb[ui[a]], tb[uj[b]])))
    pairs.sort()
    mp = {p[0] for p in pairs}
    mt = {p[1] for p in pairs}
    return Match(
        tuple(pairs),
        tuple(i for i in range(P) if i not in mp),
        tuple(j for j in range(T) if j not in mt),
    )


@dataclass(frozen=True)
class EventScores:
    """The event-level counts and scores every comparison of spotted intervals with a reference reports (the first
    fields of :class:`SpottingScores` and of the coder agreement): ``tp``/``fp``/``fn`` counts, precision, recall,
    F1 (:func:`prf`) and the mean IoU of the matched pairs (NaN without any)."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    mean_iou: float


@dataclass(frozen=True)
class SpottingScores(EventScores):
    """Event-level scores (MEGC convention) plus boundary errors of the hits (seconds) and mean overlap measures."""

    mean_overlap_ratio: float
    errors: BoundaryErrors

    def as_row(self) -> dict[str, float]:
        return {
            "TP": self.tp,
            "FP": self.fp,
            "FN": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "F1": self.f1,
            "IoU": self.mean_iou,
            "overlap_ratio": self.mean_overlap_ratio,
            "onset_MAE_s": self.errors.onset_mae,
            "offset_MAE_s": self.errors.offset_mae,
        }


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall, F1 from counts (0 where undefined, as MEGC reports)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


@keyword_only("threshold", "method", "by")
def spotting_scores(
    recordings: Iterable[tuple[Sequence[Any], Sequence[Any]]],
    fs: float,
    *,
    threshold: float = 0.5,
    method: str = "optimal",
    by: str | None = None,
) -> SpottingScores:
    """Score several recordings at once: ``recordings`` yields ``(pred, truth)`` pairs; TP/FP/FN are summed over
    recordings, then precision/recall/F1 computed (MEGC). Boundary errors and mean IoU/overlap ratio are over the
    matched pairs.

    Parameters
    ----------
    recordings : iterable of (pred, truth)
        Per recording, predicted and ground-truth intervals (Events or ``(onset, offset)``, samples).
    fs : float
        Sampling rate, Hz.
    threshold, method, by
        As in :func:`match_events`.

    Returns
    -------
    SpottingScores
        ``tp``, ``fp``, ``fn``, ``precision``, ``recall``, ``f1``, ``mean_iou``, ``mean_overlap_ratio``, ``errors`` (s).

    Examples
    --------
    >>> from perifacial.dsp import spotting_scores
    >>> rec1 = ([(0, 99), (500, 599)], [(10, 109)])          # (predictions, ground truth) of one recording
    >>> rec2 = ([(1000, 1299)], [(1000, 1299), (3000, 3099)])
    >>> s = spotting_scores([rec1, rec2], fs=1000.0)
    >>> s.tp, s.fp, s.fn, round(s.f1, 3)
    (2, 1, 1, 0.667)
    """
    tp = fp = fn = 0
    mp: list[Any] = []
    mt: list[Any] = []
    ious: list[float] = []
    ors: list[float] = []
    for pred, truth in recordings:
        m = match_events(pred, truth, threshold=threshold, method=method, by=by)
        tp, fp, fn = tp + m.tp, fp + m.fp, fn + m.fn
        for i, j, v in m.pairs:
            mp.append(_bounds(pred[i]))
            mt.append(_bounds(truth[j]))
            ious.append(v)
            ors.append(overlap_ratio(pred[i], truth[j]))
    p, r, f = prf(tp, fp, fn)
    return SpottingScores(
        tp,
        fp,
        fn,
        p,
        r,
        f,
        float(np.mean(ious)) if ious else math.nan,
        float(np.mean(ors)) if ors else math.nan,
        boundary_errors(mp, mt, fs),
    )
