"""``perifacial process RECORDING... [--mvc FILE] [--video-fps 30] [--notch 50] [--ica] [-o DIR] [-j N]``:
envelopes, spotting, quantification, tables and figures of recorded sessions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CliError
from ._reader import add_reader_arguments, reader_options
from .options import add_notch_option, add_output_option, positive_float_arg, positive_int_arg


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "process",
        help="spot and quantify expressions in recordings: events CSV, JSON summary, figures",
        description=(
            "For each recording: the seed-003 envelope chain (DC removal, 20-450 Hz band-pass, rectification, 6 Hz "
            "low-pass; optional mains notch and per-region ICA), adaptive spotting, quantification (peak MVC %, "
            "iEMG, ME/MaE). Writes STEM.events.csv, STEM.summary.json (counts, ME/MaE statistics with 95 % CIs, "
            "signal quality per channel) and STEM.{preprocessing,regions,mvc_duration}.png. Gaps in a recording "
            "are handled by processing each gap-free segment on its own."
        ),
    )
    p.add_argument(
        "recordings",
        nargs="+",
        type=Path,
        metavar="RECORDING",
        help="recording file(s): .pfr or any format perifacial reads (EDF/BDF, .acq, XDF, OpenBCI, CSV...)",
    )
    p.add_argument("--mvc", type=Path, default=None, help="MVC calibration (perifacial mvc) for %% MVC and iEMG")
    p.add_argument(
        "--video-fps", type=positive_float_arg, default=30.0, help="video frame rate for the frame columns (30)"
    )
    p.add_argument(
        "--sync-observations",
        type=Path,
        default=None,
        metavar="CSV",
        help="(frame, digit) observations from the video (perifacial sync) for exact frames; "
        "without it frames assume the video started with the recording",
    )
    add_notch_option(
        p,
        "mains removal: auto (default: detect 50/60 Hz and harmonics and subtract them), off, or "
        "the frequency to force",
    )
    p.add_argument("--ica", action="store_true", help="unmix each region with FastICA before the envelope")
    add_output_option(
        p, "output folder (default: beside each file)", deprecated=("--out",), type=Path, default=None, metavar="DIR"
    )
    p.add_argument("--no-figures", action="store_true", help="tables only")
    p.add_argument(
        "--mode",
        choices=("auto", "blocks", "memory"),
        default="auto",
        help="blocks: bounded memory (same results); memory: the whole recording in memory (faster for "
        "short files); auto (default): blocks above ~24 ch x 35 min at 1 kHz",
    )
    p.add_argument(
        "-j", "--jobs", type=positive_int_arg, default=1, help="recordings processed in parallel processes (1)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_reader_arguments(p)
    p.set_defaults(func=run)
    return p


def _progress(name: str, quiet: bool):
    if quiet:
        return None

    from perifacial.progress import progress_bar  # tqdm: a live bar on a terminal, nothing in a log

    bar = progress_bar(total=100, desc=name, bar_format="{desc}: {percentage:3.0f}%|{bar:20}| {postfix}")

    def say(stage: str, frac: float) -> None:
        bar.set_postfix_str(stage, refresh=False)
        bar.update(max(0, int(round(frac * 100)) - bar.n))
        if frac >= 1:
            bar.close()

    return say


def _one(path: Path, mvc, opts, out, quiet: bool, reader: dict | None = None) -> dict:
    from perifacial.host.workflow.process import process_file

    return process_file(path, mvc, opts, out, _progress(path.name, quiet), reader=reader)


def _check_mvc(path: Path) -> None:
    """The --mvc file must be a calibration written by `perifacial mvc` (read it now, not after the envelopes)."""
    from perifacial.dsp.mvc import MvcCalibration
    from perifacial.validate import check_input_file

    check_input_file(path, what="--mvc")
    try:
        MvcCalibration.load(path)
    except ValueError as exc:
        raise CliError(f"--mvc {path}: not a calibration file from `perifacial mvc` ({exc})") from None


def run(args: argparse.Namespace) -> int:
    from perifacial.host.readers import detect_format
    from perifacial.host.workflow.process import ProcessOptions
    from perifacial.validate import check_input_file, check_output_dir

    if args.ica and args.mode == "blocks":
        raise CliError("--ica unmixes whole segments in memory: use --mode memory or auto with it")
    for p in args.recordings:  # every file readable in principle before any work starts
        check_input_file(p, what="recording", noun="recording")
        if args.in_format is None:
            try:
                detect_format(p)
            except ValueError as exc:
                raise CliError(str(exc)) from None
    if args.mvc is not None:
        _check_mvc(args.mvc)
    if args.sync_observations is not None:
        check_input_file(args.sync_observations, what="--sync-observations")
    if args.video_fps <= 0:
        raise CliError("--video-fps must be positive")
    if args.jobs < 1:
        raise CliError("-j must be >= 1")
    if args.output is not None:
        check_output_dir(args.output, what="--output")
    opts = ProcessOptions(
        notch=args.notch,
        ica=args.ica,
        video_fps=args.video_fps,
        observations=str(args.sync_observations) if args.sync_observations else None,
        figures=not args.no_figures,
        mode=args.mode,
        mains_hz=args.notch if isinstance(args.notch, float) else 50.0,
    )
    reader = reader_options(args)
    failures = 0
    results: list[tuple[Path, dict | Exception]] = []
    if args.jobs == 1 or len(args.recordings) == 1:
        for p in args.recordings:
            try:
                results.append((p, _one(p, args.mvc, opts, args.output, args.quiet, reader)))
            except (ValueError, OSError, ImportError) as exc:
                results.append((p, exc))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        # spawn, not fork: the numba/OpenMP runtime of this process must not be forked
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(args.recordings)), mp_context=ctx) as ex:
            futs = [(p, ex.submit(_one, p, args.mvc, opts, args.output, True, reader)) for p in args.recordings]
            for i, (p, f) in enumerate(futs):
                try:
                    results.append((p, f.result()))
                except (ValueError, OSError, ImportError, BrokenProcessPool) as exc:
                    results.append((p, exc))
                if not args.quiet:
                    print(f"[{i + 1}/{len(futs)}] {p.name} done", file=sys.stderr)
    for p, r in results:
        if isinstance(r, Exception):
            failures += 1
            if len(results) > 1:
                print(f"{p}: failed: {r}", file=sys.stderr)
            continue
        c = r["counts"]
        print(
            f"{p}: {c['expressions']} expressions ({c['ME']} ME, {c['MaE']} MaE), "
            f"{r['gaps']['count']} gaps -> {r['files'].get('events')}"
        )
    if failures and len(results) == 1:
        p, msg = results[0][0], str(results[0][1])
        raise CliError(msg if str(p) in msg else f"{p}: {msg}")
    if failures and failures == len(results):
        raise CliError("no recording could be processed")
    return 1 if failures else 0
