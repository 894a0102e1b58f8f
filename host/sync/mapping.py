"""Video frame <-> EMG sample mapping from the sync log and digits read in video frames.

Units: frames are 0-based video frame indices; video time is ``frame / fps`` (s, the camera's nominal clock);
samples are EMG sample indices (the recording's sample counter); rates in samples/s; drift in ppm.

A digit N seen in frame F says that, when frame F was exposed, the display showed the counter value whose shown
digits are N: the EMG sample range ``[sample(v), sample(v + 1))`` from the sync log. Many such observations give a
linear map ``sample = offset + slope * frame / fps``:

* digits are unwrapped to counter values (the display wraps at 10**digits) using the sync log and a first
  rate estimate, then again using the fit;
* where consecutive frames show ``v`` then ``v + 1`` (optionally with one unreadable frame between), the change
  to ``v + 1`` happened between them: a *transition* point (video time of the boundary, sample of the change),
  precise to about +-half a frame. Sparse, hand-typed observations instead give *interval* points (the frame's
  time, the middle of the value's sample range);
* a robust line fit (Theil-Sen start, then least squares with a MAD-based rejection rule, iterated) rejects
  misread digits and frames caught mid-update; each observation is finally checked against the fit and reported
  as rejected when the fit places its frame outside its value's sample range by more than the tolerance.

Host-driven logs (kind ``"received"``) mark when the host *received* the data: the fitted offset then includes
the mean transport latency; pass ``latency_s`` to correct for a known mean latency.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from perifacial.errors import PerifacialError

from .display import MIN_FRAMES_PER_CHANGE, DisplayRateWarning, check_readable

log = logging.getLogger(__name__)

MAD_TO_SIGMA = 1.4826


class AmbiguousDigit(ValueError, PerifacialError):
    """A digit matches several counter values in the log (the display wrapped) and no fit can choose."""


# ---------------------------------------------------------------------------------------------------------------
# The sync log
# ---------------------------------------------------------------------------------------------------------------
def _row_fields(row: Any) -> tuple[int, int, float, str, int | None]:
    if isinstance(row, dict):
        shown = row.get("shown")
        return (
            int(row["value"]),
            int(row["sample"]),
            float(row["host_time"]),
            str(row.get("kind", "")),
            None if shown in (None, "") else int(shown),
        )
    if hasattr(row, "value") and hasattr(row, "sample"):
        shown = getattr(row, "shown", None)
        return (
            int(row.value),
            int(row.sample),
            float(getattr(row, "host_time", math.nan)),
            str(getattr(row, "kind", "")),
            None if shown is None else int(shown),
        )
    seq = list(row)
    return (
        int(seq[0]),
        int(seq[1]),
        float(seq[2]),
        str(seq[3]) if len(seq) > 3 else "",
        int(seq[4]) if len(seq) > 4 and seq[4] not in (None, "") else None,
    )


def _infer_capacity(values: np.ndarray, shown: list[int | None]) -> int:
    """Capacity implied by the ``shown`` column. Without it, 10**4: assuming fewer digits than the display has
    is harmless (a digit read from video is reduced modulo the capacity and unwrapped near the fit's prediction),
    assuming more is not."""
    pairs = [(int(v), s) for v, s in zip(values, shown) if s is not None]
    if not pairs:
        return 10**4
    if any(v != s for v, s in pairs):
        for k in range(1, 10):
            if all(v % 10**k == s for v, s in pairs):
                return 10**k
        raise ValueError("the sync log's shown values are not the counter modulo a power of ten")
    vmax = max(v for v, _ in pairs)
    # no wrap seen: the display holds at least vmax; 10**4 or 10**8 (the displays we drive)
    return 10**4 if vmax < 10**4 else 10**8


@dataclass(frozen=True)
class SyncLog:
    """The display changes of one recording, sorted by counter value.

    values: unwrapped counter values (int64, strictly increasing). samples: the sample each change marks.
    host_times: host clock of each change, s. kind: ``"received"`` (host-driven) or ``"sampled"`` (board-driven).
    capacity: 10**digits of the display (digits seen in video are ``value % capacity``).
    """

    values: np.ndarray
    samples: np.ndarray
    host_times: np.ndarray
    kind: str
    capacity: int

    @classmethod
    def from_rows(cls, rows: Iterable[Any], capacity: int | None = None) -> SyncLog:
        """From ``SyncRow`` objects, ``Recording.sync`` rows, dicts or tuples ``(value, sample, host_time, kind
        [, shown])``. ``capacity`` defaults to what the ``shown`` column implies, else 10**4 (safe for 8-digit
        displays too: digits are then unwrapped modulo 10**4)."""
        fields = [f for f in (_row_fields(r) for r in rows) if f[1] >= 0]  # sample -1: unknown (not logged)
        if len(fields) < 2:
            raise ValueError("the sync log needs at least two display changes")
        fields.sort(key=lambda f: f[0])
        values = np.array([f[0] for f in fields], dtype=np.int64)
        if np.any(np.diff(values) <= 0):
            keep = np.concatenate([[True], np.diff(values) > 0])
            log.warning("sync log: dropped %d duplicate counter values", int((~keep).sum()))
            fields = [f for f, k in zip(fields, keep) if k]
            values = values[keep]
        samples = np.array([f[1] for f in fields], dtype=np.int64)
        if np.any(np.diff(samples) < 0):
            raise ValueError("sync log: samples decrease while the counter increases")
        kinds = {f[3] for f in fields} - {""}
        if len(kinds) > 1:
            raise ValueError(f"sync log mixes kinds {sorted(kinds)}")
        cap = int(capacity) if capacity else _infer_capacity(values, [f[4] for f in fields])
        return cls(values, samples, np.array([f[2] for f in fields], dtype=float), kinds.pop() if kinds else "", cap)

    @classmethod
    def read_csv(cls, path: str | Path, capacity: int | None = None) -> SyncLog:
        """Read a CSV with a header ``value,sample,host_time,kind`` (``shown`` optional)."""
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        missing = {"value", "sample"} - set(rows[0] if rows else {})
        if missing:
            raise ValueError(f"{path}: sync log CSV lacks column(s) {sorted(missing)}")
        for r in rows:
            r.setdefault("host_time", "nan")
            r["host_time"] = r["host_time"] or "nan"
        return cls.from_rows(rows, capacity)

    def write_csv(self, path: str | Path) -> None:
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["value", "shown", "sample", "host_time", "kind"])
            for v, s, t in zip(self.values, self.samples, self.host_times):
                w.writerow([int(v), int(v) % self.capacity, int(s), repr(float(t)), self.kind])

    @property
    def first(self) -> int:
        return int(self.values[0])

    @property
    def last(self) -> int:
        return int(self.values[-1])

    def samples_per_change(self) -> float:
        """Median samples between consecutive changes."""
        return float(np.median(np.diff(self.samples) / np.diff(self.values)))

    def change_interval_s(self, rate: float | None = None) -> float:
        """Median time between changes, s: from the samples at ``rate`` (samples/s) when given, else from the
        host times."""
        if rate is not None:
            return self.samples_per_change() / rate
        dt = np.diff(self.host_times) / np.diff(self.values)
        if np.all(np.isfinite(dt)) and np.median(dt) > 0:
            return float(np.median(dt))
        raise ValueError("the sync log has no host times: give the sampling rate")

    def host_rate(self) -> float:
        """Samples per host-clock second (a least-squares slope over the log), or NaN without host times."""
        t = self.host_times
        ok = np.isfinite(t)
        if ok.sum() < 2 or np.ptp(t[ok]) <= 0:
            return math.nan
        return float(np.polyfit(t[ok], self.samples[ok].astype(float), 1)[0])

    def sample_of(self, values: Any) -> np.ndarray:
        """Sample marked by each (unwrapped) counter value; interpolated for values missing from the log, NaN
        outside ``[first, last]``."""
        v = np.asarray(values, dtype=float)
        out = np.interp(v, self.values.astype(float), self.samples.astype(float))
        return np.where((v < self.values[0]) | (v > self.values[-1]), np.nan, out)

    def value_at_sample(self, samples: Any) -> np.ndarray:
        """Fractional counter value at each sample (linear between changes, extrapolated at the ends)."""
        s = np.asarray(samples, dtype=float)
        vals = np.interp(s, self.samples.astype(float), self.values.astype(float))
        spc = self.samples_per_change()
        lo, hi = s < self.samples[0], s > self.samples[-1]
        vals = np.where(lo, self.values[0] + (s - self.samples[0]) / spc, vals)
        return np.where(hi, self.values[-1] + (s - self.samples[-1]) / spc, vals)

    def candidates(self, digit: int) -> np.ndarray:
        """All counter values in the log that the display showed as ``digit``."""
        d = int(digit) % self.capacity
        k0 = math.ceil((self.first - d) / self.capacity)
        k1 = math.floor((self.last - d) / self.capacity)
        return np.arange(k0, k1 + 1, dtype=np.int64) * self.capacity + d


# ---------------------------------------------------------------------------------------------------------------
# Observations and the fit
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Observation:
    """Digit ``digit`` (the display's shown value) seen in video frame ``frame``. ``flag``: empty when read
    cleanly; ``"mid-update"`` or ``"unreadable"`` from the seven-segment reader (such frames are not fitted)."""

    frame: int
    digit: int | None
    flag: str = ""


@dataclass(frozen=True)
class Rejected:
    """An observation left out of the fit, with the reason (``mid-update``, ``unreadable``, ``out of log``,
    ``inconsistent``: the fit puts its frame outside its value's sample range: a misread digit)."""

    frame: int
    digit: int | None
    reason: str


@dataclass(frozen=True)
class SampleRange:
    """EMG samples ``[start, stop)`` during which the display showed counter ``value``. ``stop`` is NaN for the
    last value of the log. ``kind`` as in the log (``received`` ranges include the transport latency)."""

    value: int
    start: float
    stop: float
    kind: str


@dataclass(frozen=True)
class SyncFit:
    """``sample = offset + slope * frame / fps``.

    fps: the nominal video frame rate, frames/s. offset: samples at frame 0. slope: samples per video second.
    rate: the nominal EMG rate (samples/s) the drift refers to. drift_ppm: ``(slope / rate - 1) * 1e6``; positive
    when the EMG clock runs fast relative to the camera's clock. residual_sd: robust spread (1.4826 x MAD) of the
    fitted points, samples; residual_rms, residual_max: over the inlier points, samples. method: ``transitions`` or
    ``intervals``. n_points/n_inliers: fitted points. latency_s: the mean host latency added to the log's samples.
    """

    fps: float
    offset: float
    slope: float
    rate: float
    drift_ppm: float
    residual_sd: float
    residual_rms: float
    residual_max: float
    method: str
    n_observations: int
    n_points: int
    n_inliers: int
    kind: str
    latency_s: float = 0.0
    rejected: tuple[Rejected, ...] = field(default_factory=tuple)

    @property
    def samples_per_frame(self) -> float:
        return self.slope / self.fps

    def sample_at(self, frame: Any) -> Any:
        """Sample index (fractional) at the start of ``frame`` (video time ``frame / fps``)."""
        return self.offset + self.slope * np.asarray(frame, dtype=float) / self.fps

    def frame_at(self, sample: Any) -> Any:
        """Frame index (fractional) at ``sample``."""
        return (np.asarray(sample, dtype=float) - self.offset) / self.slope * self.fps

    def frame_sample_range(self, frame: int) -> tuple[float, float]:
        """Samples ``[start, stop)`` covered by ``frame`` (from its start to the next frame's)."""
        return float(self.sample_at(frame)), float(self.sample_at(frame + 1))

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rejected"] = [asdict(r) for r in self.rejected]
        d["samples_per_frame"] = self.samples_per_frame
        return d


def _theil_sen(x: np.ndarray, y: np.ndarray, max_points: int = 600) -> tuple[float, float]:
    n = len(x)
    idx = np.arange(n) if n <= max_points else np.linspace(0, n - 1, max_points).astype(int)
    xs, ys = x[idx], y[idx]
    i, j = np.triu_indices(len(xs), 1)
    dx = xs[j] - xs[i]
    ok = dx > 0
    if not ok.any():
        raise ValueError("observations span a single frame: cannot fit")
    b = float(np.median((ys[j] - ys[i])[ok] / dx[ok]))
    return float(np.median(y - b * x)), b


def robust_line(
    x: np.ndarray, y: np.ndarray, floor: float, k: float = 4.0, max_iter: int = 30
) -> tuple[float, float, np.ndarray, float]:
    """Fit ``y = a + b x`` robustly. Starts from Theil-Sen, then iterates least squares on the points whose
    residual is within ``max(k * 1.4826 * MAD, floor)``. Returns ``(a, b, inliers, robust_sd)``."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    xm = float(np.mean(x))
    a, b = _theil_sen(x - xm, y)
    inl = np.ones(len(x), bool)
    sd = math.nan
    for _ in range(max_iter):
        r = y - (a + b * (x - xm))
        sd = MAD_TO_SIGMA * float(np.median(np.abs(r - np.median(r))))
        new = np.abs(r) <= max(k * sd, floor)
        if new.sum() < 2:
            break
        if np.array_equal(new, inl) and _ > 0:
            break
        inl = new
        A = np.stack([np.ones(int(inl.sum())), x[inl] - xm], axis=1)
        (a, b), *_r = np.linalg.lstsq(A, y[inl], rcond=None)
        a, b = float(a), float(b)
    return a - b * xm, b, inl, sd


def _circular_mode(phase: np.ndarray, cap: int, width: float) -> float:
    nb = max(4, int(cap / max(width, 1.0)))
    w = cap / nb
    hist = np.bincount((np.mod(phase, cap) / w).astype(int) % nb, minlength=nb).astype(float)
    smooth = hist + np.roll(hist, 1) + np.roll(hist, -1)
    c = (int(np.argmax(smooth)) + 0.5) * w
    near = np.abs((phase - c + cap / 2) % cap - cap / 2) <= 1.5 * w
    return float(c + np.mean((phase[near] - c + cap / 2) % cap - cap / 2))


def unwrap_digits(
    frames: np.ndarray,
    digits: np.ndarray,
    syncl: SyncLog,
    fps: float,
    predicted: np.ndarray | None = None,
    rate: float | None = None,
) -> np.ndarray:
    """Counter values for the digits seen in ``frames`` (-1 where no value of the log fits).

    Without ``predicted`` (fractional counter values expected at each frame, e.g. from a fit) the expectation is
    a line through the digits at the log's rate, anchored where most digits agree (modulo the capacity) and
    shifted by whole wraps so that most values fall inside the log (``rate``, samples/s, is needed when the log
    has no host times).
    """
    cap = syncl.capacity
    d = np.asarray(digits, dtype=np.int64)
    f = np.asarray(frames, dtype=float)
    if predicted is not None:
        u = d + cap * np.round((np.asarray(predicted, dtype=float) - d) / cap).astype(np.int64)
    elif syncl.last < cap:
        u = d.copy()
    else:
        per_frame = 1.0 / (fps * syncl.change_interval_s(rate))  # changes per video frame (nominal)
        base = _circular_mode(d - per_frame * f, cap, max(2.0, cap / 200))
        u = d + cap * np.round((base + per_frame * f - d) / cap).astype(np.int64)
        # whole-wrap ambiguity: shift so that most values fall inside the log
        shifts = np.arange(-(syncl.last // cap) - 2, (syncl.last // cap) + 3)
        counts = [int(np.sum((u + s * cap >= syncl.first) & (u + s * cap <= syncl.last))) for s in shifts]
        best = max(counts)
        ties = [int(s) for s, c in zip(shifts, counts) if c == best]
        if len(ties) > 1:
            log.warning(
                "digit unwrap: %d whole-wrap shifts fit equally well; taking the earliest. A video "
                "shorter than one wrap of the display cannot tell which wrap it shows",
                len(ties),
            )
        u = u + ties[0] * cap
    u = np.where((u >= syncl.first) & (u <= syncl.last), u, -1)
    return u


def _points(
    frames: np.ndarray, u: np.ndarray, syncl: SyncLog, fps: float, method: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """Fit points (video time s, sample) from unwrapped observations (u >= 0), sorted by frame."""
    order = np.argsort(frames, kind="stable")
    f, v = frames[order], u[order]
    ok = v >= 0
    f, v = f[ok], v[ok]
    tt, ss = [], []
    if method in ("auto", "transitions") and len(f) > 1:
        df, dv = np.diff(f), np.diff(v)
        sel = (df >= 1) & (df <= 2) & (dv == 1)
        tt = (f[:-1][sel] + f[1:][sel]) / 2.0 / fps
        ss = syncl.sample_of(v[1:][sel])
        span_all = f[-1] - f[0]
        span_tr = (f[1:][sel].max() - f[1:][sel].min()) if sel.sum() else 0
        if method == "transitions" or (sel.sum() >= 5 and span_tr >= 0.5 * span_all):
            return np.asarray(tt), np.asarray(ss), "transitions"
    inside = (v > syncl.first) & (v < syncl.last)  # the first value's start and the last's end are unknown
    tt = f[inside] / fps
    ss = (syncl.sample_of(v[inside]) + syncl.sample_of(v[inside] + 1)) / 2.0
    return tt, ss, "intervals"


def fit_sync(
    observations: Sequence[Observation] | tuple[Any, Any],
    syncl: SyncLog,
    fps: float,
    *,
    rate: float | None = None,
    latency_s: float = 0.0,
    method: str = "auto",
    k: float = 4.0,
) -> SyncFit:
    """Fit frame time <-> sample from ``(frame, digit)`` observations (see the module docstring).

    observations: :class:`Observation` objects (flagged ones are reported as rejected), or a pair of arrays
    ``(frames, digits)``. fps: nominal video frame rate. rate: nominal EMG rate for the drift (default: the rate
    measured on the host clock from the log, so the drift is then camera vs host clock). latency_s: mean delay
    between sampling and the display change for ``received`` logs, s (added to the log's samples).
    """
    if isinstance(observations, tuple) and len(observations) == 2 and not isinstance(observations[0], Observation):
        frames_in, digits_in = np.asarray(observations[0]), np.asarray(observations[1])
        obs = [Observation(int(a), int(b)) for a, b in zip(frames_in, digits_in)]
    else:
        obs = list(observations)
    if fps <= 0:
        raise ValueError("fps must be > 0")
    rejected: list[Rejected] = [Rejected(o.frame, o.digit, o.flag) for o in obs if o.flag or o.digit is None]
    good = [o for o in obs if not o.flag and o.digit is not None]
    # one reading per frame: conflicting duplicates are dropped
    by_frame: dict[int, int] = {}
    conflict: set[int] = set()
    for o in good:
        if o.frame in by_frame and by_frame[o.frame] != o.digit:
            conflict.add(o.frame)
        by_frame[o.frame] = int(o.digit)  # type: ignore[arg-type]
    rejected += [Rejected(o.frame, o.digit, "conflicting readings") for o in good if o.frame in conflict]
    fr = np.array(sorted(set(by_frame) - conflict), dtype=np.int64)
    dg = np.array([by_frame[int(x)] for x in fr], dtype=np.int64)
    if len(fr) < 2:
        raise ValueError("need at least two usable observations")
    nominal = float(rate) if rate else syncl.host_rate()
    if not np.isfinite(nominal) or nominal <= 0:
        raise ValueError("the sync log has no host times: give the nominal EMG rate (rate=, --rate)")
    shift = latency_s * nominal
    log_fit = (
        SyncLog(syncl.values, syncl.samples + int(round(shift)), syncl.host_times, syncl.kind, syncl.capacity)
        if shift
        else syncl
    )
    spc = syncl.samples_per_change()
    frames_per_change = spc / nominal * fps
    if frames_per_change < MIN_FRAMES_PER_CHANGE:
        check_readable(spc / nominal, fps)
    frame_samples = nominal / fps

    u = unwrap_digits(fr, dg, log_fit, fps, rate=nominal)
    a = b = math.nan
    inl = np.zeros(0, bool)
    sd = math.nan
    used = "none"
    tt = ss = np.zeros(0)
    consistent = u >= 0
    for _round in range(3):
        tt, ss, used = _points(fr[consistent], u[consistent], log_fit, fps, method)
        if len(tt) < 2:
            raise ValueError("too few observations map into the sync log (wrong log, capacity or fps?)")
        floor = frame_samples if used == "transitions" else frame_samples + spc / 2
        a, b, inl, sd = robust_line(tt, ss, floor, k)
        # re-unwrap with the fit and check every observation against its value's sample range
        pred_samples = a + b * fr / fps
        u = unwrap_digits(fr, dg, log_fit, fps, predicted=log_fit.value_at_sample(pred_samples))
        lo = log_fit.sample_of(u)
        hi = log_fit.sample_of(u + 1)
        hi = np.where(np.isnan(hi) & (u == log_fit.last), np.inf, hi)
        lo = np.where(u == log_fit.first, -np.inf, lo)
        tol = frame_samples + 3 * (sd if np.isfinite(sd) else 0.0)
        new = (u >= 0) & (pred_samples >= lo - tol) & (pred_samples < hi + tol)
        if np.array_equal(new, consistent):
            break
        consistent = new
    r = ss - (a + b * tt)
    ri = r[inl] if inl.any() else r
    for f0, d0, uu, ok in zip(fr, dg, u, consistent):
        if not ok:
            rejected.append(Rejected(int(f0), int(d0), "out of log" if uu < 0 else "inconsistent"))
    rejected.sort(key=lambda x: x.frame)
    fit = SyncFit(
        fps=float(fps),
        offset=float(a),
        slope=float(b),
        rate=nominal,
        drift_ppm=(b / nominal - 1.0) * 1e6,
        residual_sd=float(sd),
        residual_rms=float(np.sqrt(np.mean(ri**2))),
        residual_max=float(np.max(np.abs(ri))),
        method=used,
        n_observations=len(obs),
        n_points=len(tt),
        n_inliers=int(inl.sum()),
        kind=syncl.kind,
        latency_s=float(latency_s),
        rejected=tuple(rejected),
    )
    log.info(
        "sync fit: %s points (%s), drift %.0f ppm, residual sd %.1f samples, %d rejected observations",
        fit.n_points,
        used,
        fit.drift_ppm,
        fit.residual_sd,
        len(rejected),
    )
    return fit


# ---------------------------------------------------------------------------------------------------------------
# Single look-ups and tables
# ---------------------------------------------------------------------------------------------------------------
def frame_to_sample_range(frame: int, digit: int, syncl: SyncLog, fit: SyncFit | None = None) -> SampleRange:
    """The EMG samples during which the display showed ``digit`` (seen in ``frame``).

    When the display wrapped within the log, ``fit`` chooses among the candidate values (the one nearest the
    fit's prediction at ``frame``); without a fit an :class:`AmbiguousDigit` lists them.
    """
    cands = syncl.candidates(digit)
    if len(cands) == 0:
        raise ValueError(f"digit {digit} does not occur in the sync log ({syncl.first}..{syncl.last})")
    if len(cands) > 1:
        if fit is None:
            raise AmbiguousDigit(
                f"digit {digit} matches counter values {cands.tolist()} (the display wrapped): "
                "give observations for a fit to choose"
            )
        v_pred = float(syncl.value_at_sample(fit.sample_at(frame)))
        v = int(cands[np.argmin(np.abs(cands - v_pred))])
    else:
        v = int(cands[0])
    start = float(syncl.sample_of(v))
    stop = float(syncl.sample_of(v + 1)) if v < syncl.last else math.nan
    return SampleRange(v, start, stop, syncl.kind)


def samples_to_frames(onset_sample: float, offset_sample: float, fit: SyncFit) -> tuple[int, int]:
    """The video frames ``[first, last]`` (inclusive) that cover an EMG interval, e.g. a spotted event, so the
    coder's pre-marked interval never cuts it short."""
    return int(math.floor(fit.frame_at(onset_sample))), int(math.ceil(fit.frame_at(offset_sample)))


_FRAME_SUFFIXES = ("_frame", "_frames")
_SAMPLE_SUFFIXES = ("_sample", "_samples")


def _stem(col: str, suffixes: tuple[str, ...]) -> str | None:
    for s in suffixes:
        if col.endswith(s):
            return col[: -len(s)]
    return None


def convert_events(
    rows: list[dict[str, str]], fit: SyncFit, unit: str | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """Add frame columns to sample columns and vice versa.

    Columns named ``*_frame`` get a ``*_sample`` twin (rounded sample index); ``*_sample`` columns get a ``*_frame``
    twin: onsets (``onset*``, ``start*``) are rounded down and offsets (``offset*``, ``end*``, ``stop*``) up, so
    the frames cover the EMG event; others are rounded to the nearest frame. With ``unit`` (``frames`` or
    ``samples``), the plain columns ``onset``, ``apex``, ``offset`` are read in that unit. A table that already
    has both twins (``perifacial process`` writes ``onset_sample`` and ``onset_frame``; without sync observations
    its frames assume the video started with the recording) is filled row by row from the EMG sample when there is
    one (the frame is recomputed with this fit), else from the frame. Returns the header and the rows (new columns
    appended).
    """
    if not rows:
        return [], []
    cols = list(rows[0].keys())
    plan: list[tuple[str, str, str]] = []  # (source column, new column, direction)
    for c in cols:
        st = _stem(c, _FRAME_SUFFIXES)
        if st is not None:
            plan.append((c, st + "_sample", "f2s"))
            continue
        st = _stem(c, _SAMPLE_SUFFIXES)
        if st is not None:
            plan.append((c, st + "_frame", "s2f"))
            continue
        if unit and c.lower() in ("onset", "apex", "offset"):
            if unit.startswith("frame"):
                plan.append((c, c + "_sample", "f2s"))
            elif unit.startswith("sample"):
                plan.append((c, c + "_frame", "s2f"))
            else:
                raise ValueError(f"unit must be frames or samples, not {unit!r}")
    # twins already in the table: one "pair" step per stem, the EMG sample column as the reference
    pairs = [(s, f, "pair") for s, f, d in plan if d == "s2f" and f in cols]
    paired = {c for s, f, _ in pairs for c in (s, f)}
    plan = [p for p in plan if p[1] not in cols and p[0] not in paired] + pairs
    if not plan:
        raise ValueError(
            "no *_frame or *_sample columns to convert (name them e.g. onset_frame, apex_frame, "
            "offset_frame, or give the unit of onset/apex/offset)"
        )
    out = []
    for r in rows:
        nr: dict[str, Any] = dict(r)
        for src, dst, direction in plan:
            if direction == "pair":  # src: *_sample, dst: *_frame
                if (r.get(src) or "").strip() == "":
                    if (r.get(dst) or "").strip() != "":
                        src, dst, direction = dst, src, "f2s"
                    else:
                        continue
                else:
                    direction = "s2f"
            val = (r.get(src) or "").strip()
            if val == "":
                nr[dst] = ""
                continue
            x = float(val)
            if direction == "f2s":
                nr[dst] = int(round(float(fit.sample_at(x))))
            else:
                fr = float(fit.frame_at(x))
                name = src.lower()
                if name.startswith(("onset", "start")):
                    nr[dst] = int(math.floor(fr))
                elif name.startswith(("offset", "end", "stop")):
                    nr[dst] = int(math.ceil(fr))
                else:
                    nr[dst] = int(round(fr))
        out.append(nr)
    return cols + [p[1] for p in plan if p[2] != "pair"], out


def read_observations_csv(path: str | Path) -> list[Observation]:
    """Read ``frame,digit`` (optional ``flag``) rows; an empty digit means unreadable."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"frame", "digit"} <= set(rows[0]):
        raise ValueError(f"{path}: expected columns frame,digit")
    out = []
    for r in rows:
        d = (r.get("digit") or "").strip()
        flag = (r.get("flag") or "").strip()
        out.append(Observation(int(float(r["frame"])), int(d) if d else None, flag or ("" if d else "unreadable")))
    return out


def write_observations_csv(path: str | Path, observations: Iterable[Observation]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame", "digit", "flag"])
        for o in observations:
            w.writerow([o.frame, "" if o.digit is None else o.digit, o.flag])


__all__ = [
    "AmbiguousDigit",
    "DisplayRateWarning",
    "Observation",
    "Rejected",
    "SampleRange",
    "SyncFit",
    "SyncLog",
    "convert_events",
    "fit_sync",
    "frame_to_sample_range",
    "read_observations_csv",
    "robust_line",
    "samples_to_frames",
    "unwrap_digits",
    "write_observations_csv",
]
