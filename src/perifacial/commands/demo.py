"""``perifacial demo``: the main job on the built-in virtual board, end to end.

Records a minute from ``sim://`` (the firmware's own code on the ADS1299 model, fed by a synthetic perifacial
session), loads the recording, runs the envelope chain, spots and quantifies expressions, prints a summary table,
scores the spotting against the simulator's ground truth and writes the figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CliError
from ..validate import check_output_dir
from .options import add_output_option, nonneg_int_arg, positive_float_arg


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "demo",
        help="record a minute from the virtual board, process it, print a table and write figures",
        description=(
            "Record SECONDS from the virtual board sim:// (faster than real time), then process the recording as "
            "'perifacial process' does: envelope chain, adaptive spotting, ME/MaE quantification. Prints the events, "
            "compares them with the simulator's ground truth (event-level precision/recall/F1 at IoU >= 0.5) and "
            "writes demo.pfr, demo.events.csv, demo.summary.json and demo.*.png into -o/--output."
        ),
    )
    p.add_argument("--seconds", type=positive_float_arg, default=60.0, help="length of the recording in seconds (60)")
    p.add_argument("--seed", type=nonneg_int_arg, default=0, help="seed of the simulated participant (0)")
    p.add_argument(
        "--rate",
        type=int,
        choices=(500, 1000, 2000),
        default=1000,
        help="the virtual board's data rate setting, SPS (1000)",
    )
    add_output_option(
        p, "output folder (./perifacial-demo)", deprecated=("--out",), type=Path, default=Path("perifacial-demo")
    )
    p.add_argument("--realtime", action="store_true", help="pace the virtual board at real time")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=run)
    return p


def _table(rows, limit: int = 25) -> str:
    head = f"{'#':>3} {'onset s':>8} {'dur ms':>7} {'kind':<4} {'region':<13} {'channel':<7} {'peak uV':>8}  AUs"
    lines = [head, "-" * len(head)]
    for r in rows[:limit]:
        lines.append(
            f"{r.index:>3} {r.onset_s:>8.2f} {r.duration_ms:>7.0f} {r.kind:<4} {r.region:<13} "
            f"{r.channel:<7} {r.peak_uv:>8.1f}  {r.candidate_aus}"
        )
    if len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more in the events CSV")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.seconds <= 0:
        raise CliError("--seconds must be positive")
    from perifacial.dsp.metrics import spotting_scores
    from perifacial.host.board import open_board
    from perifacial.host.recording import load, record
    from perifacial.host.sim.truth import sim_ground_truth
    from perifacial.host.workflow.process import ProcessOptions, process_recording

    out: Path = check_output_dir(args.output, what="--output")
    path = out / "demo.pfr"
    url = f"sim://?seed={args.seed}&rate={args.rate}&realtime={int(args.realtime)}"
    print(
        f"recording {args.seconds:g} s from {url} -> {path} (the first run also compiles the numba kernels once, "
        "~30-60 s)",
        file=sys.stderr,
    )
    with open_board(url) as board:
        summary = record(board, path, duration_s=args.seconds, progress=not args.quiet, overwrite=True)
    rec = load(path)
    rec.info.setdefault("path", str(path))
    res = process_recording(rec, None, ProcessOptions(), out, "demo")
    s = res.summary
    print(
        f"\n{rec.n_samples} samples x {len(rec.labels)} channels at {rec.fs:g} Hz "
        f"(board clock: {rec.fs_device:.2f} Hz), gaps: {len(rec.gaps)}, lost samples: {rec.lost_samples}"
    )
    print(
        f"recorded in {summary.elapsed_s:.1f} s of host time "
        f"({rec.n_samples / rec.fs / max(summary.elapsed_s, 1e-9):.0f}x "
        f"real time); CRC errors {summary.stats.get('crc_errors', 0)}"
    )
    counts = s["counts"]
    print(
        f"expressions spotted: {counts['expressions']} (ME {counts['ME']}, MaE {counts['MaE']}); "
        f"other bursts by kind: {counts['spotted_by_kind']}\n"
    )
    print(_table(res.rows))
    truth = sim_ground_truth(rec)
    expressions = [e for e in res.events if e.is_expression]
    sc = spotting_scores([(expressions, truth)], rec.fs, by="region")
    print(
        f"\nagainst the simulator's ground truth ({len(truth)} expressions): precision {sc.precision:.2f}, "
        f"recall {sc.recall:.2f}, F1 {sc.f1:.2f} (IoU >= 0.5, matched per region)"
    )
    print("files:")
    for name, p in res.files.items():
        print(f"  {name:<15} {p}")
    return 0
