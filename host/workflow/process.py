"""Process one recording: gap-aware envelope chain -> spotting -> quantification -> events CSV, JSON summary,
figures (Li et al. 2024 [arXiv:2409.00017] sec. 3.1.3-3.1.4; Li et al. 2025 [ChinaXiv:202506.00079] for the region
view).

Shapes and units: raw data ``[channels, samples]`` in uV at ``fs`` Hz; envelopes the same shape in uV (NaN inside
gaps and in segments too short to filter); events in samples (0-based columns of the recording, offset
inclusive) and seconds.

Gaps: the filters reject NaN, so the recording is cut into its received segments (``Recording.gaps``), each
segment is filtered on its own (zero-phase, DC removed per segment) and spotted on its own; segments shorter than
``min_segment_s`` are left out and reported. Events never straddle a gap.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from perifacial.dsp.defaults import EMG_BAND, emg_band
from perifacial.dsp.intervals import runs

from .quality import channel_quality

log = logging.getLogger(__name__)

__all__ = [
    "ProcessOptions",
    "ProcessResult",
    "EventRow",
    "Segment",
    "envelope_segments",
    "process_recording",
    "process_file",
    "EVENT_COLUMNS",
    "FLOOR_WINDOW_S",
]

#: seconds of envelope around an event whose median is its noise floor (``quantify(floor_window=...)``)
FLOOR_WINDOW_S = 8.0


@dataclass(frozen=True)
class ProcessOptions:
    """Settings of :func:`process_recording`.

    notch: mains removal: ``"auto"`` (default: detect 50/60 Hz and harmonics in the data and subtract them, no
    edge ring-up; see :mod:`perifacial.dsp.mains`), a frequency in Hz to force, or None to disable; ica: unmix each
    region with FastICA before the
    envelope (MVC % is then not defined: the calibration is not applied); video_fps: frame rate for the frame
    columns; observations: CSV of (frame, digit) sync observations (``perifacial sync``) for the frame mapping
    (without it frames assume the video started with the recording); band/cutoff: envelope chain (Hz);
    min_segment_s: shortest gap-free segment processed (s); figures: render the PNG figures; mains_hz: for the
    quality report when ``notch`` is not a frequency; mode: ``"memory"`` (the whole recording as one float64
    array), ``"blocks"`` (bounded memory: :mod:`perifacial.host.workflow.blocked`, blocks of ``block_s`` s, the
    same events and envelope within 1e-9 of its peak) or ``"auto"`` (blocks above
    :data:`~perifacial.host.workflow.blocked.BLOCKS_ABOVE` values, about 24 ch x 35 min at 1 kHz; not with ``ica``).
    """

    notch: float | str | None = "auto"
    ica: bool = False
    video_fps: float = 30.0
    observations: str | None = None
    band: tuple[float, float] = EMG_BAND
    cutoff: float = 6.0
    min_segment_s: float = 2.0
    figures: bool = True
    mains_hz: float = 50.0
    classify: str = "duration"
    mode: str = "auto"
    block_s: float = 30.0


@dataclass(frozen=True)
class Segment:
    """A gap-free stretch ``[start, stop)`` of columns that was processed (``ok``) or skipped (too short)."""

    start: int
    stop: int
    ok: bool


@dataclass(frozen=True)
class EventRow:
    """One spotted expression (a row of ``events.csv``). Times in s (offset exclusive: ``(offset + 1) / fs``),
    frames are video frame indices (inclusive cover), samples 0-based columns (offset inclusive)."""

    index: int
    onset_sample: int
    offset_sample: int
    apex_sample: int
    onset_s: float
    offset_s: float
    duration_ms: float
    onset_frame: int
    apex_frame: int
    offset_frame: int
    region: str
    channel: str
    peak_uv: float
    peak_mvc_pct: float
    iemg_pct_s: float
    kind: str
    candidate_aus: str
    score: float
    flagged: bool = False
    evidence: str = ""


EVENT_COLUMNS: tuple[str, ...] = tuple(EventRow.__dataclass_fields__)


@dataclass
class ProcessResult:
    """What :func:`process_recording` produced: ``rows`` (expressions), ``events`` (all spotted
    :class:`~perifacial.dsp.spotting.Event`, including blinks/jaw/artefacts), ``episodes`` (expression episodes,
    :func:`perifacial.dsp.episode.episodes`, also written as ``{stem}.episodes.csv``), ``envelope`` ``[channels,
    samples]``,
    ``summary`` (the JSON summary as a dict), ``files`` written (name -> path), ``figures`` (name -> Figure, only
    when kept)."""

    rows: list[EventRow]
    events: list
    envelope: np.ndarray
    fs: float
    labels: list[str]
    summary: dict
    segments: list[Segment]
    episodes: list = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def to_pandas(self):
        """The expressions (``rows``, the columns of ``events.csv``) as a ``pandas.DataFrame``."""
        from perifacial.host.handoff import events_to_pandas

        return events_to_pandas(self.rows) if self.rows else events_to_pandas([]).reindex(columns=EVENT_COLUMNS)


# ------------------------------------------------------------------------------------------------- the chain
def envelope_segments(
    data: np.ndarray,
    fs: float,
    opts: ProcessOptions,
    montage=None,
) -> tuple[np.ndarray, list[Segment]]:
    """Linear envelope ``[channels, samples]`` (uV; NaN in gaps/skipped segments) of ``data`` (uV, NaN in gaps),
    segment by segment. With ``opts.ica`` each segment's band-passed channels are unmixed per region (FastICA);
    rows are then the region's independent components in region order (unit variance, not uV)."""
    from perifacial.dsp.filters import bandpass, linear_envelope, lowpass, rectify
    from perifacial.dsp.mains import remove_mains

    C, n = data.shape
    env = np.full((C, n), np.nan)
    segs: list[Segment] = []
    min_len = int(round(opts.min_segment_s * fs))
    high = emg_band(fs, opts.band)[1]
    for a, b in runs(np.isfinite(data).all(axis=0)):
        if b - a < min_len:
            segs.append(Segment(a, b, False))
            logging.getLogger("perifacial.gaps").warning(
                "segment [%d, %d) (%.2f s) between gaps is shorter than %.1f s: skipped",
                a,
                b,
                (b - a) / fs,
                opts.min_segment_s,
            )
            continue
        x = data[:, a:b]
        if opts.ica:
            from perifacial.dsp.ica import unmix_regions

            y = x - x.mean(axis=1, keepdims=True)
            if opts.notch is not None:
                y = remove_mains(y, fs, freq=opts.notch, max_freq=high)
            y = bandpass(y, fs, low=opts.band[0], high=high)
            src = unmix_regions(y, montage, random_state=0).sources
            env[:, a:b] = lowpass(rectify(src), fs, cutoff=opts.cutoff)
        else:
            env[:, a:b] = linear_envelope(x, fs, band=(opts.band[0], high), cutoff=opts.cutoff, notch=opts.notch)
        segs.append(Segment(a, b, True))
    return env, segs


def notch_edge_samples(fs: float, notch_hz: float | None, q: float = 30.0) -> int:
    """Samples at each end of a segment filtered with the IIR notch (``mains_method="iir"``) that carry its
    ring-up: three time constants ``q / (pi * f0)`` (see :func:`perifacial.dsp.filters.notch`). The default mains
    remover of the chain is subtractive and has none, so ``process`` passes 0."""
    return int(round(3 * q / (np.pi * notch_hz) * fs)) if notch_hz else 0


def _spot_segments(
    env: np.ndarray, fs: float, segs: list[Segment], montage, edge: int = 0, data: np.ndarray | None = None
) -> list:
    """Spot each gap-free segment; events starting in the first ``edge`` samples of a segment or ending in its last
    ``edge`` samples (the notch's ring-up) are kept but typed ``"artifact"``. With the raw ``data`` (uV) the
    segment's EOG/motion low band (:func:`perifacial.dsp.evidence.low_band`) types blinks by their EOG and pops /
    motion steps by their single-electrode jump."""
    from dataclasses import replace

    from perifacial.dsp.evidence import low_band
    from perifacial.dsp.spotting import spot

    out = []
    for s in segs:
        if not s.ok:
            continue
        low = None
        if data is not None and montage is not None:
            low = low_band(data[:, s.start : s.stop], fs)
        evs = spot(env[:, s.start : s.stop], fs, montage=montage, lowband=low)
        n = s.stop - s.start
        evs = [
            replace(e, kind="artifact") if e.is_expression and (e.onset < edge or e.offset >= n - edge) else e
            for e in evs
        ]
        out += [
            replace(
                e,
                onset=e.onset + s.start,
                offset=e.offset + s.start,
                peak_index=(e.peak_index + s.start if e.peak_index >= 0 else -1),
            )
            for e in evs
        ]
    out.sort()
    return out


# ------------------------------------------------------------------------------------------------- frames
@dataclass(frozen=True)
class FrameMap:
    """Sample -> video frame. ``basis``: "sync fit" (from digit observations) or "assumed" (the video started
    with the recording: frame = t * fps)."""

    fps: float
    fs: float
    basis: str
    fit: Any = None
    first_sample: int = 0

    def frame(self, column: float, how: str = "round") -> int:
        if self.fit is not None:
            f = float(self.fit.frame_at(column + self.first_sample))
        else:
            f = column / self.fs * self.fps
        return int(math.floor(f) if how == "floor" else math.ceil(f) if how == "ceil" else round(f))


def frame_map(recording, fps: float, observations: str | None) -> FrameMap:
    """The frame mapping of a recording: a sync fit when ``observations`` (CSV of frame,digit) are given and the
    recording has a sync log, else the assumed alignment (logged)."""
    if observations:
        from perifacial.host.sync.mapping import SyncLog, fit_sync, read_observations_csv

        syncl = SyncLog.from_rows(recording.sync)
        fit = fit_sync(read_observations_csv(observations), syncl, fps, rate=float(recording.fs))
        # the sync log's samples are recording columns (load() subtracts first_sample)
        return FrameMap(fps, recording.fs, "sync fit", fit, 0)
    log.info("no sync observations: video frames assume the video started with the recording (t * %g fps)", fps)
    return FrameMap(fps, recording.fs, "assumed: video starts with the recording")


# ------------------------------------------------------------------------------------------------- main entry
def _fmt(v):
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.6g}"
    return v


def write_events_csv(rows: list[EventRow], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(EVENT_COLUMNS)
        for r in rows:
            w.writerow([_fmt(getattr(r, c)) for c in EVENT_COLUMNS])


def read_events_csv(path: str | Path) -> list[dict]:
    """Rows of an ``events.csv`` as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def jsonable(o):
    if isinstance(o, dict):
        return {k: jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, (np.floating, float)):
        return float(o) if math.isfinite(o) else None
    if isinstance(o, np.integer):
        return int(o)
    return o


def process_recording(
    recording,
    calibration=None,
    opts: ProcessOptions = ProcessOptions(),
    out_dir: str | Path | None = None,
    stem: str = "session",
    progress: Callable[[str, float], None] | None = None,
    keep_figures: bool = False,
    source=None,
) -> ProcessResult:
    """Process a loaded :class:`~perifacial.host.recording.Recording`.

    ``source``: a :class:`~perifacial.host.workflow.blocked.BlockSource` giving the samples (default: the
    recording's ``data``, or its codes when loaded with ``data=False``). In block mode (``opts.mode``)
    ``ProcessResult.envelope`` is a read-only ``np.memmap`` of a temporary file.

    ``calibration``: :class:`~perifacial.dsp.mvc.MvcCalibration` (labels must match the recording's) for peak MVC %
    and iEMG; ``out_dir``: write ``{stem}.events.csv``, ``{stem}.summary.json`` and ``{stem}.*.png`` there;
    ``progress(stage, fraction)`` is called between stages. Returns :class:`ProcessResult`.
    """
    from perifacial.dsp.montage import default_montage
    from perifacial.dsp.quantification import quantify

    from .blocked import BLOCKS_ABOVE, QUANTIFY, leadoff_fraction, quantify_local, run_blocked, source_of

    t0 = time.monotonic()
    say = progress or (lambda stage, frac: None)
    fs = float(recording.fs)
    src = source if source is not None else source_of(recording)
    n, C = src.n_samples, src.n_channels
    if opts.mode not in ("auto", "blocks", "memory"):
        raise ValueError(f"mode must be 'auto', 'blocks' or 'memory', got {opts.mode!r}")
    blocked = opts.mode == "blocks" or (opts.mode == "auto" and C * n > BLOCKS_ABOVE and not opts.ica)
    if blocked and opts.ica:
        raise ValueError("ica unmixes whole segments: it needs mode='memory' (or 'auto')")
    data = None
    if not blocked:
        data = recording.data if recording.data.ndim == 2 and recording.data.shape[1] == n else src.read(0, n)
    labels = list(recording.labels) or [f"ch{i}" for i in range(C)]
    # region context: the recording's montage (perifacial recordings, or a channel map given to the reader); a
    # 24-channel recording that never went through the reader (no "file_format" in info) is a perifacial one
    montage = getattr(recording, "montage", None)
    if montage is None and C == 24 and "file_format" not in recording.info:
        montage = default_montage()
    if montage is None:
        log.warning(
            "no region context (no montage or channel map): each channel is spotted on its own and ME/MaE "
            "are typed by duration only, not told from blinks or jaw artefacts"
        )
    if calibration is not None:
        if tuple(calibration.labels) != tuple(labels):
            raise ValueError(
                f"the MVC calibration's channels {list(calibration.labels)[:4]}... do not match the "
                f"recording's {labels[:4]}..."
            )
        if abs(float(calibration.fs) - fs) > 1e-6:
            log.warning("calibration recorded at %g Hz, this recording at %g Hz", calibration.fs, fs)
    if opts.ica and calibration is not None:
        log.warning("--ica: envelopes are of independent components, not channels: MVC %% is not computed")
        calibration = None
    say("envelope", 0.1)
    if blocked:
        chain = run_blocked(src, opts, montage, opts.block_s, lambda f: say("envelope+spotting", 0.1 + 0.5 * f))
        env, segs, events = chain.envelope, chain.segments, chain.events
    else:
        env, segs = envelope_segments(data, fs, opts, montage)
    skipped = [s for s in segs if not s.ok]
    if recording.gaps:
        log.warning(
            "%d gaps (%d samples lost): the %d gap-free segments are filtered and spotted separately, "
            "%d too short were skipped",
            len(recording.gaps),
            recording.lost_samples,
            sum(s.ok for s in segs),
            len(skipped),
        )
    say("spotting", 0.4)
    if not blocked:
        # the subtractive mains remover has no edge ring-up (edge 0); with ICA rows are components, not electrodes
        events = _spot_segments(env, fs, segs, montage, 0, None if opts.ica else data)
    expr = [e for e in events if e.is_expression]
    say("quantify", 0.6)
    if blocked:
        table = quantify_local(expr, chain.reader, fs, calibration, montage, FLOOR_WINDOW_S)
    else:
        env0 = np.nan_to_num(env, nan=0.0)
        table = quantify(
            expr, env0, fs, calibration=calibration, montage=montage, floor_window=FLOOR_WINDOW_S, **QUANTIFY
        )
    fmap = frame_map(recording, opts.video_fps, opts.observations)
    rows = []
    for i, (e, q) in enumerate(zip(expr, table)):
        reg = montage.region(e.region) if (montage is not None and e.region) else None
        apex = (
            e.peak_index
            if e.peak_index >= 0
            else int(q.onset + np.nanargmax((chain.reader if blocked else env)[q.channel, q.onset : q.offset + 1]))
        )
        rows.append(
            EventRow(
                index=i,
                onset_sample=e.onset,
                offset_sample=e.offset,
                apex_sample=int(apex),
                onset_s=e.onset / fs,
                offset_s=(e.offset + 1) / fs,
                duration_ms=q.duration_ms,
                onset_frame=fmap.frame(e.onset, "floor"),
                apex_frame=fmap.frame(apex),
                offset_frame=fmap.frame(e.offset, "ceil"),
                region=e.region or "",
                channel=q.label,
                peak_uv=q.peak_uv,
                peak_mvc_pct=q.peak_mvc_pct,
                iemg_pct_s=q.iemg_pct_s,
                kind=q.kind,
                candidate_aus=" ".join(reg.aus) if reg is not None else "",
                score=float(e.score),
                flagged=bool(e.flagged),
                evidence=" ".join(f"{k}={v}" for k, v in e.evidence),
            )
        )
    say("quality", 0.7)
    mains = opts.notch if isinstance(opts.notch, (int, float)) and not isinstance(opts.notch, bool) else opts.mains_hz
    detected = None
    if opts.notch == "auto":
        from perifacial.dsp.mains import detect_mains, welch_window

        ok = [s for s in segs if s.ok]
        longest = max(ok, key=lambda s: s.stop - s.start) if ok else None
        if longest is not None:
            a, use = welch_window(longest.stop - longest.start, fs)  # read only what detect_mains analyses
            detected = detect_mains(src.read(longest.start + a, longest.start + a + use), fs)
        if detected is not None:
            mains = round(detected.freq)
    max_q = int(120 * fs)
    if blocked:
        from dataclasses import replace as _replace

        runs = [(s.start, s.stop) for s in segs]
        gap_frac = 1.0 - sum(b - a for a, b in runs) / n if n else math.nan
        lo = leadoff_fraction(src, runs, max(1, int(round(opts.block_s * fs))))
        quality = [
            _replace(q, gap_fraction=gap_frac, leadoff_fraction=float(lo[c]))
            for c, q in enumerate(channel_quality(src.read(0, min(n, max_q)), fs, labels, mains, None))
        ]
    else:
        try:
            leadoff = recording.leadoff
        except Exception:  # noqa: BLE001 - no status words (e.g. an imported file)
            leadoff = None
        quality = channel_quality(data, fs, labels, mains, leadoff, max_samples=max_q)
    stats = [asdict(s) for s in table.summary(0.95)]
    counts: dict[str, int] = {}
    for e in events:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    summary = jsonable(
        {
            "recording": str(getattr(recording, "path", "") or recording.info.get("path", "")),
            "url": recording.info.get("url"),
            "fs": fs,
            "duration_s": n / fs,
            "channels": len(labels),
            "region_context": montage is not None,
            "chain": {
                "band_hz": list(emg_band(fs, opts.band)),
                "lowpass_hz": opts.cutoff,
                "notch_hz": opts.notch,
                "ica": opts.ica,
                "zero_phase": True,
                "mode": "blocks" if blocked else "memory",
                "mains": (
                    None
                    if detected is None
                    else {
                        "freq_hz": detected.freq,
                        "harmonics": list(detected.harmonics),
                        "method": "subtractive block least squares (perifacial.dsp.mains.remove_mains)",
                    }
                ),
            },
            "mvc": None if calibration is None else {"participant": calibration.participant, "date": calibration.date},
            "gaps": {
                "count": len(recording.gaps),
                "lost_samples": int(recording.lost_samples),
                "gap_fraction": recording.lost_samples / max(1, n),
                "skipped_segments": [[s.start, s.stop] for s in skipped],
                "note": ("gaps: each gap-free segment was filtered and spotted on its own" if recording.gaps else ""),
            },
            "video": {
                "fps": opts.video_fps,
                "frames_from": fmap.basis,
                **(
                    {"drift_ppm": fmap.fit.drift_ppm, "residual_sd_samples": fmap.fit.residual_sd}
                    if fmap.fit is not None
                    else {}
                ),
            },
            "counts": {
                "expressions": len(rows),
                "ME": sum(r.kind == "ME" for r in rows),
                "MaE": sum(r.kind == "MaE" for r in rows),
                "spotted_by_kind": counts,
            },
            "statistics": stats,
            "quality": [q.as_dict() for q in quality],
            "processing_s": time.monotonic() - t0,
        }
    )
    from perifacial.dsp.episode import episodes

    eps = episodes(events, fs)
    summary["counts"]["episodes"] = len(eps)
    summary["counts"]["flagged_expressions"] = sum(r.flagged for r in rows)
    res = ProcessResult(rows, events, env, fs, labels, summary, segs, episodes=eps)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        p_csv = out / f"{stem}.events.csv"
        write_events_csv(rows, p_csv)
        res.files["events"] = p_csv
        from perifacial.dsp.episode import episodes_to_table

        p_ep = out / f"{stem}.episodes.csv"
        ep_rows = episodes_to_table(eps, fs)
        with open(p_ep, "w", newline="") as f:
            import csv

            w = csv.DictWriter(f, fieldnames=list(ep_rows[0]) if ep_rows else ["index"])
            w.writeheader()
            w.writerows(ep_rows)
        res.files["episodes"] = p_ep
        if opts.figures:
            say("figures", 0.8)
            from . import figures

            if blocked:
                figs = figures.render_all(
                    recording, chain.decimated, res, opts, calibration is not None, montage, read=src.read, n_samples=n
                )
            else:
                figs = figures.render_all(
                    recording, env, res, opts, calibration is not None, montage, read=lambda a, b: data[:, a:b]
                )
            for name, fig in figs.items():
                p = out / f"{stem}.{name}.png"
                fig.savefig(p, dpi=100)
                res.files[name] = p
            if keep_figures:
                res.figures = figs
            else:
                figures.close_all(figs)
        summary["files"] = {k: str(v) for k, v in res.files.items()}
        p_json = out / f"{stem}.summary.json"
        summary["files"]["summary"] = str(p_json)
        tmp = p_json.with_name(p_json.name + ".part")  # written last and atomically: `study` resumes on it
        tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        os.replace(tmp, p_json)
        res.files["summary"] = p_json
    say("done", 1.0)
    return res


def process_file(
    path: str | Path,
    mvc: str | Path | None = None,
    opts: ProcessOptions = ProcessOptions(),
    out_dir: str | Path | None = None,
    progress: Callable[[str, float], None] | None = None,
    reader: dict | None = None,
) -> dict:
    """Load and process one recording file (picklable entry point for parallel runs). Returns the summary dict.

    Any format :func:`perifacial.host.readers.load` reads (``reader``: its keyword arguments, e.g. ``fs``,
    ``units``, ``channel_map``); only the EMG channels are processed."""
    from perifacial.host.readers import load

    path = Path(path)
    say = progress or (lambda stage, frac: None)
    say("load", 0.0)
    kw = dict(reader or {})
    if path.suffix.lower() == ".pfr" and opts.mode != "memory":
        # codes only, kept on disk (bounded memory at any length); converted to uV block by block. In mode "auto"
        # process_recording reads them all back when the recording is short enough for the in-memory path.
        kw.setdefault("data", False)
        if out_dir is not None:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
        kw.setdefault("store", True if out_dir is None else out_dir)
    full = load(path, **kw)
    try:
        return _process_loaded(full, path, mvc, opts, out_dir, progress)
    finally:
        for arr in (full.codes, full.status):
            if hasattr(arr, "close"):
                arr.close()  # the temporary files of a disk store


def _process_loaded(full, path: Path, mvc, opts: ProcessOptions, out_dir, progress) -> dict:
    from perifacial.dsp.mvc import MvcCalibration

    rec = full.pick_emg()
    if rec.n_channels == 0:
        raise ValueError(f"{path}: no EMG channel (channel types: {', '.join(full.types)})")
    if rec is not full:
        log.info(
            "%s: non-EMG channels left out: %s",
            path,
            ", ".join(lab for lab, t in zip(full.labels, full.types) if t != "EMG"),
        )
    rec.info.setdefault("path", str(path))
    cal = MvcCalibration.load(mvc) if mvc else None
    stem = path.stem
    res = process_recording(rec, cal, opts, out_dir if out_dir is not None else path.parent, stem, progress)
    res.summary["recording"] = str(path)
    return res.summary
