"""EMG-assisted semi-automatic coding (Li et al. 2025 [ChinaXiv:202506.00079]): hand the spotted intervals to a FACS
coder as a plain CSV keyed by
video frame, read back the corrected table and measure how well the EMG spotting agreed with the coder.

Coder CSV (``CODER_COLUMNS``; one row per candidate, frames are 0-based video frame indices, inclusive):
``id`` (candidate number, empty for an event the coder adds), ``onset_frame``, ``apex_frame``, ``offset_frame``,
``region``, ``candidate_aus`` (from the montage, a hint), ``kind`` (ME/MaE by EMG duration), ``onset_s``,
``offset_s`` (EMG time, for reference), then the coder's columns: ``keep`` (``yes`` by default; ``no`` rejects
the candidate), ``aus`` (the AUs coded), ``notes``. The coder corrects the frames, sets ``keep=no`` for false
candidates and adds rows for expressions the EMG missed.

Agreement (:func:`agreement`): the coder's kept rows are the reference, the exported candidates the predictions;
one-to-one matching at IoU >= ``threshold`` on frame intervals (optionally only within the same region);
precision, recall, F1, mean IoU, onset/offset errors (s and frames; signed mean = EMG minus coder).
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from perifacial.dsp.metrics import EventScores

__all__ = [
    "CODER_COLUMNS",
    "CoderRow",
    "export_for_coder",
    "read_coder_csv",
    "Agreement",
    "agreement",
    "format_agreement",
]

CODER_COLUMNS: tuple[str, ...] = (
    "id",
    "onset_frame",
    "apex_frame",
    "offset_frame",
    "region",
    "candidate_aus",
    "kind",
    "onset_s",
    "offset_s",
    "keep",
    "aus",
    "notes",
)
_NO = {"no", "n", "0", "false", "reject", "x"}


@dataclass(frozen=True)
class CoderRow:
    """One interval of the coder table (frames inclusive). ``id`` -1 for a row the coder added."""

    id: int
    onset_frame: int
    apex_frame: int
    offset_frame: int
    region: str
    keep: bool = True
    aus: str = ""
    candidate_aus: str = ""
    kind: str = ""
    notes: str = ""

    @property
    def onset(self) -> int:  # the interval protocol of perifacial.dsp.metrics
        return self.onset_frame

    @property
    def offset(self) -> int:
        return self.offset_frame


def export_for_coder(event_rows, path: str | Path) -> int:
    """Write the coder CSV from processed events (``EventRow`` objects or ``events.csv`` dicts). Returns the
    number of rows."""
    rows = list(event_rows)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(CODER_COLUMNS)
        for i, r in enumerate(rows):
            g = r.get if isinstance(r, dict) else (lambda k, _r=r: getattr(_r, k))
            w.writerow(
                [
                    i,
                    g("onset_frame"),
                    g("apex_frame"),
                    g("offset_frame"),
                    g("region"),
                    g("candidate_aus"),
                    g("kind"),
                    f"{float(g('onset_s')):.3f}",
                    f"{float(g('offset_s')):.3f}",
                    "yes",
                    "",
                    "",
                ]
            )
    return len(rows)


def _int(v: str, what: str, line: int) -> int:
    try:
        return int(round(float(v)))
    except (TypeError, ValueError):
        raise ValueError(f"line {line}: {what} must be a frame number, got {v!r}") from None


def read_coder_csv(path: str | Path) -> list[CoderRow]:
    """Read a (corrected) coder CSV. ValueError naming the line for a missing or bad frame, or offset < onset."""
    out = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        rd = csv.DictReader(f)
        missing = {"onset_frame", "offset_frame"} - set(rd.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: not a coder table (missing columns {sorted(missing)})")
        for line, r in enumerate(rd, start=2):
            if not any((v or "").strip() for v in r.values()):
                continue
            on = _int(r.get("onset_frame"), "onset_frame", line)
            off = _int(r.get("offset_frame"), "offset_frame", line)
            if off < on:
                raise ValueError(f"line {line}: offset_frame {off} < onset_frame {on}")
            apex = r.get("apex_frame") or ""
            ident = (r.get("id") or "").strip()
            out.append(
                CoderRow(
                    id=_int(ident, "id", line) if ident else -1,
                    onset_frame=on,
                    apex_frame=_int(apex, "apex_frame", line) if apex.strip() else (on + off) // 2,
                    offset_frame=off,
                    region=(r.get("region") or "").strip(),
                    keep=(r.get("keep") or "yes").strip().lower() not in _NO,
                    aus=(r.get("aus") or "").strip(),
                    candidate_aus=(r.get("candidate_aus") or "").strip(),
                    kind=(r.get("kind") or "").strip(),
                    notes=(r.get("notes") or "").strip(),
                )
            )
    return out


@dataclass(frozen=True)
class Agreement(EventScores):
    """EMG spotting vs the coder. Counts: ``tp`` matched, ``fp`` EMG candidates the coder rejected or moved beyond
    the threshold, ``fn`` coder intervals without a candidate. Errors are EMG minus coder, seconds (``*_s``) and
    frames; MAE = mean absolute error."""

    onset_mae_s: float
    offset_mae_s: float
    onset_bias_s: float
    offset_bias_s: float
    onset_mae_frames: float
    offset_mae_frames: float
    fps: float
    threshold: float
    by_region: bool
    pairs: tuple = ()

    def as_dict(self) -> dict:
        d = asdict(self)
        d["pairs"] = [list(p) for p in self.pairs]
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def agreement(
    candidates, coder: list[CoderRow], fps: float, threshold: float = 0.5, by_region: bool = False
) -> Agreement:
    """Agreement of EMG candidates (``CoderRow`` list as exported, or anything with onset/offset frames) with the
    coder's corrected rows (rows with ``keep=False`` are left out of the reference)."""
    from perifacial.dsp.metrics import match_events, prf

    ref = [r for r in coder if r.keep]
    pred = list(candidates)
    m = match_events(pred, ref, threshold=threshold, by="region" if by_region else None)
    p, r, f = prf(m.tp, m.fp, m.fn)
    d_on = np.array([pred[i].onset - ref[j].onset for i, j, _ in m.pairs], dtype=float)
    d_off = np.array([pred[i].offset - ref[j].offset for i, j, _ in m.pairs], dtype=float)

    def stat(fn, a):
        return float(fn(a)) if a.size else math.nan

    return Agreement(
        m.tp,
        m.fp,
        m.fn,
        p,
        r,
        f,
        stat(np.mean, np.array([v for *_, v in m.pairs])),
        stat(lambda a: np.mean(np.abs(a)) / fps, d_on),
        stat(lambda a: np.mean(np.abs(a)) / fps, d_off),
        stat(lambda a: np.mean(a) / fps, d_on),
        stat(lambda a: np.mean(a) / fps, d_off),
        stat(lambda a: np.mean(np.abs(a)), d_on),
        stat(lambda a: np.mean(np.abs(a)), d_off),
        float(fps),
        float(threshold),
        bool(by_region),
        tuple((getattr(pred[i], "id", i), getattr(ref[j], "id", j), round(v, 4)) for i, j, v in m.pairs),
    )


def format_agreement(a: Agreement) -> str:
    return (
        f"EMG candidates vs coder (IoU >= {a.threshold:g}{', same region' if a.by_region else ''}): "
        f"TP {a.tp}, FP {a.fp}, FN {a.fn}; precision {a.precision:.3f}, recall {a.recall:.3f}, F1 {a.f1:.3f}; "
        f"mean IoU {a.mean_iou:.3f}; onset MAE {a.onset_mae_s * 1000:.0f} ms ({a.onset_mae_frames:.1f} frames, "
        f"bias {a.onset_bias_s * 1000:+.0f} ms), offset MAE {a.offset_mae_s * 1000:.0f} ms "
        f"({a.offset_mae_frames:.1f} frames, bias {a.offset_bias_s * 1000:+.0f} ms)"
    )
