"""``perifacial sync RECORDING``: align a video with the EMG through the digit display.

RECORDING is a perifacial recording (its sync log) or a sync-log CSV with columns value,sample,host_time,kind
(shown optional). Digits come from ``--observations OBS.csv`` (columns frame,digit; typed by a coder or written
by ``--save-observations``) or are read from ``--video FILE --roi x,y,w,h`` (needs ``pip install 'perifacial[video]'``).
The fit prints offset, drift (ppm), residual spread and rejected observations; ``--frame F --digit N`` maps one
frame to its EMG sample range; ``--events EVENTS.csv`` adds *_sample columns to *_frame columns and vice versa.
"""
from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sync",
        help="map video frames to EMG samples through the sync digit display",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("recording", help="recording file, or a sync-log CSV (value,sample,host_time,kind)")
    p.add_argument("--observations", metavar="OBS.csv", help="digits seen in video frames: columns frame,digit")
    p.add_argument("--video", metavar="FILE", help="read the digits from this video (optional dependency)")
    p.add_argument("--roi", metavar="x,y,w,h", help="the display's digits in the video, pixels (with --video)")
    p.add_argument("--save-observations", metavar="OUT.csv", help="write the digits read from --video")
    p.add_argument("--fps", type=float, help="video frame rate (default with --video: the file's)")
    p.add_argument("--rate", type=float,
                   help="nominal EMG rate for the drift, samples/s (default: the recording's; for a CSV log, the "
                        "rate measured on the host clock)")
    p.add_argument("--digits", type=int, help="digits of the display (capacity 10**digits; default: from the log, "
                                              "else 4)")
    p.add_argument("--latency-ms", type=float, default=0.0,
                   help="mean delay from sampling to the display change for host-driven logs, ms (default 0)")
    p.add_argument("--frame", type=int, help="map this frame (with --digit) to its EMG sample range")
    p.add_argument("--digit", type=int, help="the digits seen in --frame")
    p.add_argument("--events", metavar="EVENTS.csv",
                   help="convert an events table: *_frame columns get *_sample twins and vice versa")
    p.add_argument("--unit", choices=("frames", "samples"),
                   help="unit of plain onset/apex/offset columns in --events")
    p.add_argument("--out", metavar="OUT.csv", help="where to write the converted events (default: stdout)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_handler)


def _load_log(path: str, digits: int | None):
    """Return (SyncLog, nominal rate or None)."""
    from perifacial.errors import CliError
    from perifacial.host.sync import SyncLog

    cap = 10**digits if digits else None
    if path.lower().endswith(".csv"):
        try:
            return SyncLog.read_csv(path, cap), None
        except (OSError, ValueError, KeyError) as exc:
            raise CliError(f"{path}: {exc}") from None
    from ._reader import load_recording

    rec = load_recording(path, None, data=False)
    rows = [r for r in rec.sync if int(r["sample"]) >= 0]
    if len(rows) < 2:
        raise CliError(f"{path}: the recording has no sync log (record with --display screen|serial:PORT|board)")
    if cap is None:
        info = rec.info.get("sync_display") if isinstance(rec.info, dict) else None
        if isinstance(info, dict) and info.get("capacity"):
            cap = int(info["capacity"])
        elif str(rows[0]["kind"]) == "sampled":
            cap = 10**4  # the acquisition board's on-board TM1637
    try:
        syncl = SyncLog.from_rows([(int(r["value"]), int(r["sample"]), float(r["host_time"]), str(r["kind"]))
                                   for r in rows], cap)
    except ValueError as exc:
        raise CliError(f"{path}: {exc}") from None
    return syncl, float(rec.fs)


def _parse_roi(text: str | None):
    from perifacial.errors import CliError

    if text is None:
        return None
    try:
        roi = [int(float(v)) for v in text.split(",")]
    except ValueError:
        roi = []
    if len(roi) != 4 or roi[2] <= 0 or roi[3] <= 0:
        raise CliError("--roi must be x,y,w,h in pixels (w, h > 0)")
    return roi


def _reasons(rejected) -> str:
    counts: dict[str, int] = {}
    for r in rejected:
        counts[r.reason] = counts.get(r.reason, 0) + 1
    return (": " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))) if counts else ""


def _fmt_fit(fit) -> str:
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
        lines.append("  note: host-driven log: marks are when the host received the data (transport latency"
                     f"{' corrected by %.1f ms' % (fit.latency_s * 1e3) if fit.latency_s else ' not corrected'})")
    # frames the reader flagged are expected; misreads are worth a look
    odd = [r for r in fit.rejected if r.reason not in ("mid-update", "unreadable")]
    for r in odd[:20]:
        lines.append(f"    frame {r.frame}: digit {r.digit if r.digit is not None else '-'} ({r.reason})")
    if len(odd) > 20:
        lines.append(f"    ... {len(odd) - 20} more (--json lists all)")
    return "\n".join(lines)


def _handler(args: argparse.Namespace) -> int:
    import csv
    import io
    import json
    import math
    import warnings

    from perifacial.errors import CliError
    from perifacial.host.sync import (
        AmbiguousDigit, DisplayRateWarning, fit_sync, frame_to_sample_range, read_observations_csv,
        readings_to_observations, write_observations_csv,
    )
    from perifacial.host.sync.mapping import convert_events

    syncl, rec_rate = _load_log(args.recording, args.digits)
    rate = args.rate or rec_rate
    out: dict = {"log": {"changes": len(syncl.values), "first": syncl.first, "last": syncl.last,
                         "kind": syncl.kind, "capacity": syncl.capacity}}
    text: list[str] = []
    fps = args.fps
    obs = None
    if args.video:
        from perifacial.host.sync.video import read_video_digits

        try:
            readings, info = read_video_digits(args.video, int(math.log10(syncl.capacity)), _parse_roi(args.roi))
        except ImportError as exc:
            raise CliError(str(exc)) from None
        except (OSError, ValueError) as exc:
            raise CliError(f"{args.video}: {exc}") from None
        fps = fps or info.fps
        obs = readings_to_observations(readings)
        flagged = sum(1 for o in obs if o.flag)
        text.append(f"read {len(obs)} frames of {args.video} at {info.fps:g} fps ({flagged} flagged)")
        if args.save_observations:
            write_observations_csv(args.save_observations, obs)
    elif args.observations:
        try:
            obs = read_observations_csv(args.observations)
        except (OSError, ValueError) as exc:
            raise CliError(f"{args.observations}: {exc}") from None
    fit = None
    if obs is not None:
        if not fps:
            raise CliError("--fps is required with --observations")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DisplayRateWarning)
            try:
                fit = fit_sync(obs, syncl, fps, rate=rate, latency_s=args.latency_ms / 1e3)
            except ValueError as exc:
                raise CliError(f"cannot fit: {exc}") from None
        for w in caught:
            text.append(f"warning: {w.message}")
            out.setdefault("warnings", []).append(str(w.message))
        out["fit"] = fit.as_dict()
        text.append(_fmt_fit(fit))
    if (args.frame is None) != (args.digit is None):
        raise CliError("--frame and --digit go together")
    if args.frame is not None:
        try:
            rng = frame_to_sample_range(args.frame, args.digit, syncl, fit)
        except AmbiguousDigit as exc:
            raise CliError(str(exc)) from None
        except ValueError as exc:
            raise CliError(str(exc)) from None
        look = {"frame": args.frame, "digit": args.digit, "value": rng.value, "start": rng.start,
                "stop": None if math.isnan(rng.stop) else rng.stop, "kind": rng.kind}
        if fit is not None:
            a, b = fit.frame_sample_range(args.frame)
            look["fit_start"], look["fit_stop"] = a, b
        out["lookup"] = look
        stop = "end of log" if look["stop"] is None else f"{rng.stop:.0f}"
        text.append(f"frame {args.frame}, digit {args.digit}: counter {rng.value}, samples [{rng.start:.0f}, {stop})"
                    f" ({rng.kind})" + (f"; fit: [{look['fit_start']:.1f}, {look['fit_stop']:.1f})"
                                        if fit is not None else ""))
    if args.events:
        if fit is None:
            raise CliError("--events needs a fit: give --observations or --video")
        try:
            with open(args.events, newline="") as fh:
                rows = list(csv.DictReader(fh))
            header, conv = convert_events(rows, fit, args.unit)
        except (OSError, ValueError) as exc:
            raise CliError(f"{args.events}: {exc}") from None
        if args.out:
            with open(args.out, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=header)
                w.writeheader()
                w.writerows(conv)
            text.append(f"wrote {len(conv)} events to {args.out}")
        elif not args.json:
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
            w.writeheader()
            w.writerows(conv)
            text.append(buf.getvalue().rstrip("\n"))
        out["events"] = conv
    if fit is None and args.frame is None:
        raise CliError("nothing to do: give --observations/--video (fit), --frame/--digit, or --events")
    if args.json:
        json.dump(out, sys.stdout, indent=2, default=float)
        sys.stdout.write("\n")
    else:
        print("\n".join(text))
    return 0
