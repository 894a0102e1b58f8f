"""``perifacial coding export|agree``: the EMG-assisted coding hand-off (Li et al. 2025 [ChinaXiv:202506.00079])."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import CliError
from .options import add_option, add_output_option


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "coding",
        help="coder hand-off: export candidate intervals by video frame; agreement with the coder's corrections",
        description=(
            "export: turn a processed events CSV (perifacial process) into a plain coder table keyed by video "
            "frame (onset, apex, offset frames, region, candidate AUs; the coder edits frames, sets keep=no for "
            "false candidates, adds missed expressions, fills aus). agree: read the corrected table back and report "
            "IoU-based precision/recall/F1 and onset/offset errors of the EMG spotting against the coder."
        ),
    )
    sub = p.add_subparsers(dest="coding_command", metavar="ACTION", required=True)
    e = sub.add_parser("export", help="events CSV -> coder CSV")
    e.add_argument("events", type=Path, help="STEM.events.csv from perifacial process")
    add_output_option(e, "coder CSV (default STEM.coding.csv)", type=Path, default=None)
    e.add_argument("--overwrite", action="store_true")
    e.set_defaults(func=run_export)
    a = sub.add_parser("agree", help="agreement of the EMG candidates with the coder's corrected table")
    a.add_argument("candidates", type=Path, help="the exported coder CSV (as exported, uncorrected)")
    a.add_argument("corrected", type=Path, help="the coder's corrected CSV")
    a.add_argument("--video-fps", type=float, default=30.0, help="frame rate, for errors in seconds (30)")
    a.add_argument("--iou", type=float, default=0.5, help="IoU needed for a match (0.5)")
    a.add_argument("--by-region", action="store_true", help="match only within the same region")
    add_option(
        a,
        "--json-output",
        deprecated=("--json",),
        type=Path,
        metavar="FILE",
        help="also write the report as JSON to FILE",
    )
    a.set_defaults(func=run_agree)
    return p


def run_export(args: argparse.Namespace) -> int:
    from perifacial.host.workflow.coding import export_for_coder
    from perifacial.host.workflow.process import read_events_csv

    if not args.events.exists():
        raise CliError(f"{args.events}: no such file")
    out = args.output or args.events.with_name(args.events.name.replace(".events.csv", "") + ".coding.csv")
    if out.exists() and not args.overwrite:
        raise CliError(f"{out} exists: choose another name or pass --overwrite")
    try:
        rows = read_events_csv(args.events)
    except (ValueError, KeyError, UnicodeDecodeError) as exc:  # csv.Error is not a ValueError
        raise CliError(f"{args.events}: not an events table from perifacial process ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - csv.Error and friends: a file of the wrong kind
        if type(exc).__module__ not in ("_csv", "csv"):
            raise
        raise CliError(f"{args.events}: not an events table from perifacial process ({exc})") from None
    if rows and "onset_frame" not in rows[0]:
        raise CliError(f"{args.events}: not an events table from perifacial process (no onset_frame column)")
    n = export_for_coder(rows, out)
    print(f"{out}: {n} candidate intervals for the coder")
    return 0


def run_agree(args: argparse.Namespace) -> int:
    from perifacial.host.workflow.coding import agreement, format_agreement, read_coder_csv

    if args.video_fps <= 0 or not 0 < args.iou <= 1:
        raise CliError("--video-fps must be > 0 and --iou in (0, 1]")
    try:
        cand = read_coder_csv(args.candidates)
        coder = read_coder_csv(args.corrected)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    a = agreement(cand, coder, args.video_fps, args.iou, args.by_region)
    print(format_agreement(a))
    if args.json_output:
        args.json_output.write_text(json.dumps(a.as_dict(), indent=1), encoding="utf-8")
    return 0
