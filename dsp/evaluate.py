"""Evaluate spotting methods on synthetic sessions: the metrics table of ``docs/spotting.md``.

Reproduce the table with one command (about two to three minutes on two cores)::

    perifacial evaluate-spotting                 # the library function: run_evaluation()

Protocol (defaults): for each SNR level ("high" 20 dB, "medium" 10 dB, "low" 3 dB; see
:mod:`perifacial.dsp.synth`) 10 sessions of 5 min, 24 channels at 1000 Hz, seeds 0..9 (the same seeds at every
level). The envelope is :func:`perifacial.dsp.filters.linear_envelope` (Li et al. 2024 [arXiv:2409.00017] chain,
zero-phase, no notch), the
same for every method. Ground truth: the ME/MaE events (one per activated region). Predictions: the events a
method calls expressions (``Event.is_expression``; blinks, jaw and artefacts labelled by the adaptive method are
not claims). A prediction matches a ground-truth event of the **same region** one to one at IoU >= 0.5 (optimal
assignment); precision/recall/F1 from TP/FP/FN summed over the sessions (MEGC).

How CASMEMG is applied to long recordings (it was designed for GT +- 0.5 s clips; two fair blind variants):

``casmemg-clip``
    What a lab without annotations would do with the published detector: cut every channel into clips of
    ``clip`` s (default 2 s, the length of a typical GT +- 0.5 s clip) every ``clip/2`` s, run the detector with its
    published parameters and hull merge on each clip (threshold from that clip's mean), and unite the detections
    (overlapping intervals of a channel, then the channels of a region, as the adaptive method does).
``casmemg-session``
    The detector once per channel on the whole session (threshold from the session's mean envelope) with
    ``merge=False`` (every kept detection), united per region the same way.

:func:`casmemg_oracle` additionally runs the published protocol itself (annotated channel, GT +- 0.5 s clip,
:func:`casmemg_envelope` of the raw clip, hull merge) and reports the lab's metrics (mean overlap ratio, share
of clips with ratio > 0.5, onset/offset MAE).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .defaults import emg_band
from .metrics import SpottingScores, boundary_errors, overlap_ratio, spotting_scores
from .spot_adaptive import spot_adaptive
from .spot_casmemg import casmemg_clip, casmemg_detect, casmemg_envelope, casmemg_params, spot_casmemg
from .spot_events import Event, region_names

__all__ = [
    "METHODS",
    "EvalRow",
    "casmemg_long",
    "predict",
    "evaluate_spotting",
    "casmemg_oracle",
    "OracleResult",
    "format_table",
    "format_oracle",
    "parse_snr",
    "run_evaluation",
]

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("adaptive", "casmemg-clip", "casmemg-session")


def _unite(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of overlapping (or touching) inclusive intervals."""
    out: list[list[int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def casmemg_long(
    envelope: np.ndarray, fs: float, mode: str = "clip", clip: float = 2.0, montage: Any = None, **params: Any
) -> list[Event]:
    """CASMEMG applied blindly to a long ``[channels, samples]`` envelope (see the module docstring).

    ``mode="clip"``: sliding clips of ``clip`` s with 50 % overlap, hull per clip; ``mode="session"``: one run per
    channel on the whole envelope, all detections. Detections are united per channel, then per montage region
    (``channel`` = the channel with the highest envelope peak). ``params`` are :class:`CasmemgParams` fields.
    """
    x = np.atleast_2d(np.asarray(envelope, dtype=np.float64))
    C, N = x.shape
    p = casmemg_params(**{k: v for k, v in params.items() if k != "merge"})
    wl, sl = p.at_rate(fs)
    per_ch: list[list[tuple[int, int]]] = []
    for c in range(C):
        dets: list[tuple[int, int]] = []
        if mode == "session":
            dets = casmemg_detect(x[c], wl, sl, p)
        elif mode == "clip":
            L = int(round(clip * fs))
            step = max(1, L // 2)
            for s in range(0, max(1, N - L + step), step):
                d = casmemg_detect(x[c, s : s + L], wl, sl, p)
                if d:
                    dets.append((s + min(a for a, _ in d), s + max(b for _, b in d)))
        else:
            raise ValueError(f"mode must be 'clip' or 'session', not {mode!r}")
        per_ch.append(_unite([d for d in dets if d[1] >= d[0]]))
    regions = region_names(C, montage)
    groups: dict[Any, list[int]] = {}
    for c, r in enumerate(regions):
        groups.setdefault(r if r is not None else ("ch", c), []).append(c)
    events = []
    for _key, chs in groups.items():
        iv = _unite([d for c in chs for d in per_ch[c]])
        for a, b in iv:
            best_c, best_v, best_i = chs[0], -math.inf, -1
            for c in chs:
                i = a + int(np.argmax(x[c, a : b + 1]))
                if x[c, i] > best_v:
                    best_c, best_v, best_i = c, float(x[c, i]), i
            events.append(
                Event(a, b, channel=best_c, region=regions[best_c], peak=best_v, kind="expression", peak_index=best_i)
            )
    events.sort()
    return events


def predict(method: str, envelope: np.ndarray, fs: float, **params: Any) -> list[Event]:
    """Events of ``method`` (one of :data:`METHODS`) on a ``[channels, samples]`` envelope."""
    if method == "adaptive":
        return spot_adaptive(envelope, fs, **params)
    if method == "casmemg-clip":
        return casmemg_long(envelope, fs, mode="clip", **params)
    if method == "casmemg-session":
        return casmemg_long(envelope, fs, mode="session", **params)
    raise ValueError(f"unknown method {method!r} (known: {', '.join(METHODS)})")


@dataclass(frozen=True)
class EvalRow:
    """One line of the table: a method at one SNR level over ``n_sessions`` sessions."""

    method: str
    snr: str
    n_sessions: int
    n_truth: int
    scores: SpottingScores


def _default_envelope(x: np.ndarray, fs: float) -> np.ndarray:
    """``linear_envelope`` with the Li et al. 2024 band, its upper edge lowered to 0.45 fs below 1000 Hz (500 Hz
    data)."""
    from .filters import linear_envelope

    return linear_envelope(x, fs, band=emg_band(fs))


def evaluate_spotting(
    n_sessions: int = 10,
    duration: float = 300.0,
    snr_levels: Sequence[str | float] = ("high", "medium", "low"),
    fs: float = 1000.0,
    methods: Sequence[str] = METHODS,
    seed0: int = 0,
    envelope: Callable[[np.ndarray, float], np.ndarray] | None = None,
    threshold: float = 0.5,
    progress: Callable[[str], None] | None = None,
) -> list[EvalRow]:
    """Metrics of each method at each SNR level on ``n_sessions`` synthetic sessions (seeds ``seed0 ..``).

    ``envelope(x, fs)`` computes the envelope from raw ``[24, samples]`` (default: ``linear_envelope``).
    Returns one :class:`EvalRow` per (SNR level, method), levels outer.
    """
    from .synth import synthesize

    env_fn = envelope or _default_envelope
    rows = []
    for snr in snr_levels:
        recs: dict[str, list[tuple[list[Event], list[Event]]]] = {m: [] for m in methods}
        n_truth = 0
        for k in range(n_sessions):
            s = synthesize(seed0 + k, fs, duration=duration, snr=snr)
            env = env_fn(s.data, fs)
            truth = s.expressions
            n_truth += len(truth)
            for m in methods:
                pred = [e for e in predict(m, env, fs) if e.is_expression]
                recs[m].append((pred, truth))
            if progress:
                progress(f"snr={snr} session {k + 1}/{n_sessions}")
        for m in methods:
            sc = spotting_scores(recs[m], fs, threshold=threshold, by="region")
            rows.append(EvalRow(m, str(snr), n_sessions, n_truth, sc))
    return rows


@dataclass(frozen=True)
class OracleResult:
    """The lab's metrics on GT +- 0.5 s clips (published: 380 clips, 8 misses, ratio 0.847, 95.3 % > 0.5,
    onset MAE 0.206 s, offset MAE 0.203 s)."""

    snr: str
    n_clips: int
    n_missed: int
    mean_overlap_ratio: float
    share_above_half: float
    onset_mae: float
    offset_mae: float
    mean_iou: float


def casmemg_oracle(sessions: Iterable[Any], snr: str = "", extend: float = 0.5) -> OracleResult:
    """The published CASMEMG protocol on synthetic sessions: for each ground-truth expression, its primary channel,
    the raw clip GT +- ``extend`` s (:func:`casmemg_clip`), :func:`casmemg_envelope` of the clip, the detector with
    hull merge; misses count as failures in the > 0.5 share (the lab divides by all clips)."""
    from .metrics import iou

    n = missed = 0
    ratios, ious, pred, truth = [], [], [], []
    fs = None
    for s in sessions:
        fs = s.fs
        N = s.data.shape[1]
        for g in s.expressions:
            n += 1
            a, b = casmemg_clip(g.onset, g.offset, N, s.fs, extend)
            env = casmemg_envelope(s.data[g.channel, a:b], s.fs)
            ev = spot_casmemg(env, s.fs)
            if not ev:
                missed += 1
                continue
            e = Event(ev[0].onset + a, ev[0].offset + a)
            ratios.append(overlap_ratio(e, g))
            ious.append(iou(e, g))
            pred.append(e)
            truth.append(g)
    be = boundary_errors(pred, truth, fs or 1.0)
    r = np.array(ratios)
    return OracleResult(
        snr,
        n,
        missed,
        float(r.mean()) if r.size else math.nan,
        float(np.sum(r > 0.5) / n) if n else math.nan,
        be.onset_mae,
        be.offset_mae,
        float(np.mean(ious)) if ious else math.nan,
    )


_MAE = ["onset MAE (s)", "offset MAE (s)"]


def _render(head: list[str], rows: Iterable[Sequence], markdown: bool, align: bool) -> str:
    """A table of ``rows`` under ``head`` as Markdown or plain text (columns padded to width if ``align``); floats
    with 3 decimals, everything else as ``str``."""
    lines = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(out + ["| " + " | ".join(l) + " |" for l in lines])
    if not align:
        return "\n".join(["  ".join(head)] + ["  ".join(l) for l in lines])
    w = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w[i]) for i, h in enumerate(head))]
    out += ["  ".join(v.ljust(w[i]) for i, v in enumerate(l)) for l in lines]
    return "\n".join(out)


def format_table(rows: Sequence[EvalRow], markdown: bool = True) -> str:
    """The metrics table as Markdown (or plain aligned text)."""
    head = ["SNR", "method", "GT", "TP", "FP", "FN", "precision", "recall", "F1", "mean IoU", "overlap ratio", *_MAE]
    lines = []
    for r in rows:
        s, e = r.scores, r.scores.errors
        rates = (s.precision, s.recall, s.f1, s.mean_iou, s.mean_overlap_ratio, e.onset_mae, e.offset_mae)
        lines.append((r.snr, r.method, r.n_truth, s.tp, s.fp, s.fn) + rates)
    return _render(head, lines, markdown, align=True)


def format_oracle(results: Sequence[OracleResult], markdown: bool = True) -> str:
    head = ["SNR", "clips", "missed", "mean overlap ratio", "ratio > 0.5", "mean IoU", *_MAE]
    lines = [
        (r.snr, r.n_clips, r.n_missed, r.mean_overlap_ratio, r.share_above_half, r.mean_iou, r.onset_mae, r.offset_mae)
        for r in results
    ]
    return _render(head, lines, markdown, align=False)


def parse_snr(text) -> list[str | float]:
    """``"high,medium,3"`` -> ``["high", "medium", 3.0]`` (a list or tuple is returned as a list, unchanged)."""
    if not isinstance(text, str):
        return list(text)
    out: list[str | float] = []
    for t in text.split(","):
        t = t.strip()
        if not t:
            continue
        try:
            out.append(float(t))
        except ValueError:
            out.append(t)
    return out


def run_evaluation(
    sessions: int = 10,
    duration: float = 300.0,
    snr="high,medium,low",
    fs: float = 1000.0,
    seed: int = 0,
    methods=METHODS,
    oracle: bool = False,
    markdown: bool = False,
    families: str | None = None,
    progress: bool = True,
) -> str:
    """The spotting evaluation of ``perifacial evaluate-spotting`` as text (the tables, one string).

    ``sessions`` synthetic sessions of ``duration`` s per SNR level ``snr`` (names of ``synth.SNR_LEVELS`` or dB
    values; a comma-separated string or a sequence) at ``fs`` Hz, seeds from ``seed``; ``methods`` (from
    :data:`METHODS`; string or sequence); ``oracle``: also CASMEMG's published clip protocol (:func:`casmemg_oracle`).
    ``families``: instead, the expression-episode F1 table of :mod:`perifacial.dsp.families` for that family.
    ``progress``: a tqdm bar on a terminal. Raises ValueError naming a bad level, method or family."""
    from .synth import SNR_LEVELS, synthesize

    snrs = parse_snr(snr)
    if families:
        from .families import FAMILIES, evaluate, format_rows

        if families not in FAMILIES:
            raise ValueError(f"unknown family {families!r} (use {', '.join(FAMILIES)})")
        rows = evaluate(
            families,
            snrs=snrs,
            mains=(50.0, 60.0),
            seeds=range(seed, seed + sessions),
            duration=duration,
            progress=lambda r: log.info("%s %s %s %g Hz: F1 %.3f", r.family, r.condition, r.snr, r.mains_hz, r.f1),
        )
        return format_rows(rows)
    for s in snrs:
        if isinstance(s, str) and s not in SNR_LEVELS:
            raise ValueError(f"unknown SNR level {s!r} (use {', '.join(SNR_LEVELS)} or dB values)")
    if isinstance(methods, str):
        methods = methods.split(",")
    methods = [m.strip() for m in methods if m.strip()]
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r} (known: {', '.join(METHODS)})")
    if sessions < 1 or duration <= 10:
        raise ValueError("need at least 1 session of more than 10 s")
    from perifacial.progress import (
        progress_bar,  # tqdm: a live bar on a terminal, nothing in a log
    )

    with progress_bar(total=len(snrs) * sessions, desc="sessions", unit="session", enabled=progress) as bar:

        def step(msg: str) -> None:
            log.info(msg)
            bar.set_postfix_str(msg, refresh=False)
            bar.update(1)

        rows = evaluate_spotting(sessions, duration, snrs, fs, methods, seed, progress=step)
    out = [format_table(rows, markdown=markdown)]
    if oracle:
        res = []
        for level in snrs:
            sess = (synthesize(seed + k, fs, duration=duration, snr=level) for k in range(sessions))
            res.append(casmemg_oracle(sess, str(level)))
        out += ["", format_oracle(res, markdown=markdown)]
    return "\n".join(out)
