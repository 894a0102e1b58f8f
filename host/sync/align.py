"""Align a recording with a video in one call: what ``perifacial sync`` does, as a library function.

:func:`align` loads the sync log (a recording's, or a sync-log CSV), fits video frames to EMG samples from digit
observations (a CSV, or read from the video), looks one frame up, and converts an events table between frames and
samples. The result holds the machine-readable summary (``data``, what ``--json`` prints), the report lines
(``lines``) and the converted events. Errors are :class:`~perifacial.errors.InvalidArgument` naming the file or the
option.
"""

from __future__ import annotations

import csv
import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from perifacial.errors import InvalidArgument

from .display import DisplayRateWarning
from .mapping import AmbiguousDigit, SyncLog, convert_events, fit_sync, frame_to_sample_range, read_observations_csv
from .sevenseg import readings_to_observations

log = logging.getLogger(__name__)

__all__ = ["AlignResult", "align", "load_sync_log", "format_fit", "parse_roi"]


@dataclass
class AlignResult:
    """``data``: the summary (``log``, and ``fit``, ``lookup``, ``events``, ``warnings`` when computed); ``lines``:
    the human-readable report; ``events_header``/``events``: the converted events table (None without events)."""

    data: dict = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    events_header: list[str] | None = None
    events: list[dict] | None = None
    fit: object = None


def load_sync_log(path, digits: int | None = None) -> tuple[SyncLog, float | None]:
    """The sync log of ``path`` (a recording in any format :func:`perifacial.host.readers.load` reads, or a CSV
    ``value,sample,host_time,kind``) and the recording's nominal rate in Hz (None for a CSV). ``digits``: digits of
    the display (capacity ``10**digits``; default from the recording, 4 for the board's own display)."""
    path = str(path)
    cap = 10**digits if digits else None
    if path.lower().endswith(".csv"):
        try:
            return SyncLog.read_csv(path, cap), None
        except (OSError, ValueError, KeyError) as exc:
            raise InvalidArgument(f"{path}: {exc}") from None
    from perifacial.host.readers import load_file

    rec = load_file(path, data=False)
    rows = [r for r in rec.sync if int(r["sample"]) >= 0]
    if len(rows) < 2:
        raise InvalidArgument(f"{path}: the recording has no sync log (record with --display screen|serial:PORT|board)")
    if cap is None:
        info = rec.info.get("sync_display") if isinstance(rec.info, dict) else None
        if isinstance(info, dict) and info.get("capacity"):
            cap = int(info["capacity"])
        elif str(rows[0]["kind"]) == "sampled":
            cap = 10**4  # the acquisition board's on-board TM1637
    try:
        syncl = SyncLog.from_rows(
            [(int(r["value"]), int(r["sample"]), float(r["host_time"]), str(r["kind"])) for r in rows], cap
        )
    except ValueError as exc:
        raise InvalidArgument(f"{path}: {exc}") from None
    return syncl, float(rec.fs)


def parse_roi(text: str | None) -> list[int] | None:
    """``"x,y,w,h"`` (pixels, w and h > 0) -> ``[x, y, w, h]``; None stays None."""
    if text is None:
        return None
    try:
        roi = [int(float(v)) for v in str(text).split(",")]
    except ValueError:
        roi = []
    if len(roi) != 4 or roi[2] <= 0 or roi[3] <= 0:
        raise InvalidArgument("--roi must be x,y,w,h in pixels (w, h > 0)")
    return roi


def _reasons(rejected) -> str:
    counts: dict[str, int] = {}
    for r in rejected:
        counts[r.reason] = counts.get(r.reason, 0) + 1
    return (": " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))) if counts else ""


def format_fit(fit) -> str:
    """A :class:`~perifacial.host.sync.mapping.SyncFit` as the lines ``perifacial sync`` prints."""
    lines = [
        f"fit ({fit.method}, {fit.n_inliers}/{fit.n_points} points, log kind {fit.kind or '?'}):",
        f"  sample = {fit.offset:.1f} + {fit.slope:.4f} * frame / {fit.fps:g}",
        f"  offset      {fit.offset:.1f} samples at frame 0",
        f"  slope       {fit.slope:.4f} samples per video second ({fit.samples_per_frame:.3f} per frame)",
        f"  drift       {fit.drift_ppm:+.0f} ppm vs {fit.rate:.3f} samples/s",
        f"  residuals   sd {fit.residual_sd:.1f}, rms {fit.residual_rms:.1f}, max {fit.residual_max:.1f} samples",
        f"  rejected    {len(fit.rejected)} of {fit.n_observations} observations" + _reasons(fit.rejected),
    ]
    if fit.kind == "received":
        lines.append(
            "  note: host-driven log: marks are when the host received the data (transport latency"
            f"{' corrected by %.1f ms' % (fit.latency_s * 1e3) if fit.latency_s else ' not corrected'})"
        )
    # frames the reader flagged are expected; misreads are worth a look
    odd = [r for r in fit.rejected if r.reason not in ("mid-update", "unreadable")]
    for r in odd[:20]:
        lines.append(f"    frame {r.frame}: digit {r.digit if r.digit is not None else '-'} ({r.reason})")
    if len(odd) > 20:
        lines.append(f"    ... {len(odd) - 20} more (--json lists all)")
    return "\n".join(lines)


def align(
    recording,
    *,
    observations=None,
    video=None,
    roi=None,
    save_observations=None,
    fps: float | None = None,
    fs: float | None = None,
    digits: int | None = None,
    latency_s: float = 0.0,
    frame: int | None = None,
    digit: int | None = None,
    events=None,
    unit: str | None = None,
) -> AlignResult:
    """Fit, look up and convert, as ``perifacial sync`` (see docs/sync.md).

    Parameters
    ----------
    recording : path of a recording or of a sync-log CSV.
    observations : CSV ``frame,digit`` of the digits seen in the video, or None.
    video, roi, save_observations : read the digits from this video instead (``roi`` ``"x,y,w,h"`` or a list, pixels),
        optionally writing them to ``save_observations`` (CSV).
    fps : video frame rate, Hz (default with ``video``: the file's).
    fs : nominal EMG sample rate, Hz (default: the recording's; for a CSV log, the rate measured on the host clock).
    digits : digits of the display. latency_s : mean delay sampling -> display change of host-driven logs, s.
    frame, digit : map this frame showing ``digit`` to its EMG sample range.
    events, unit : path of an events table to convert (``*_frame`` <-> ``*_sample``); ``unit`` of plain
        onset/apex/offset columns (``"frames"`` or ``"samples"``).
    """
    from .mapping import write_observations_csv

    syncl, rec_rate = load_sync_log(recording, digits)
    rate = fs or rec_rate
    res = AlignResult(
        data={
            "log": {
                "changes": len(syncl.values),
                "first": syncl.first,
                "last": syncl.last,
                "kind": syncl.kind,
                "capacity": syncl.capacity,
            }
        }
    )
    obs = None
    if video:
        from .video import read_video_digits

        try:
            readings, info = read_video_digits(
                video,
                int(math.log10(syncl.capacity)),
                roi if roi is None or not isinstance(roi, str) else parse_roi(roi),
            )
        except ImportError as exc:
            raise InvalidArgument(str(exc)) from None
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"{video}: {exc}") from None
        fps = fps or info.fps
        obs = readings_to_observations(readings)
        flagged = sum(1 for o in obs if o.flag)
        res.lines.append(f"read {len(obs)} frames of {video} at {info.fps:g} fps ({flagged} flagged)")
        if save_observations:
            write_observations_csv(save_observations, obs)
    elif observations:
        try:
            obs = read_observations_csv(observations)
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"{observations}: {exc}") from None
    fit = None
    if obs is not None:
        if not fps:
            raise InvalidArgument("--fps is required with --observations")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DisplayRateWarning)
            try:
                fit = fit_sync(obs, syncl, fps, rate=rate, latency_s=latency_s)
            except ValueError as exc:
                raise InvalidArgument(f"cannot fit: {exc}") from None
        for w in caught:
            res.lines.append(f"warning: {w.message}")
            res.data.setdefault("warnings", []).append(str(w.message))
        res.data["fit"] = fit.as_dict()
        res.lines.append(format_fit(fit))
    res.fit = fit
    if (frame is None) != (digit is None):
        raise InvalidArgument("--frame and --digit go together")
    if frame is not None:
        try:
            rng = frame_to_sample_range(frame, digit, syncl, fit)
        except AmbiguousDigit as exc:
            raise InvalidArgument(str(exc)) from None
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        look = {
            "frame": frame,
            "digit": digit,
            "value": rng.value,
            "start": rng.start,
            "stop": None if math.isnan(rng.stop) else rng.stop,
            "kind": rng.kind,
        }
        if fit is not None:
            a, b = fit.frame_sample_range(frame)
            look["fit_start"], look["fit_stop"] = a, b
        res.data["lookup"] = look
        stop = "end of log" if look["stop"] is None else f"{rng.stop:.0f}"
        res.lines.append(
            f"frame {frame}, digit {digit}: counter {rng.value}, samples [{rng.start:.0f}, {stop})"
            f" ({rng.kind})" + (f"; fit: [{look['fit_start']:.1f}, {look['fit_stop']:.1f})" if fit is not None else "")
        )
    if events:
        if fit is None:
            raise InvalidArgument("--events needs a fit: give --observations or --video")
        try:
            with open(Path(events), newline="") as fh:
                rows = list(csv.DictReader(fh))
            res.events_header, res.events = convert_events(rows, fit, unit)
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"{events}: {exc}") from None
        res.data["events"] = res.events
    if fit is None and frame is None:
        raise InvalidArgument("nothing to do: give --observations/--video (fit), --frame/--digit, or --events")
    return res
