"""``perifacial process RECORDING... [--mvc FILE] [--video-fps 30] [--notch 50] [--ica] [--out DIR] [-j N]``:
envelopes, spotting, quantification, tables and figures of recorded sessions."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cli import CliError, mains_arg


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
    p.add_argument("recordings", nargs="+", type=Path, metavar="RECORDING", help="recording file(s) (.pfr)")
    p.add_argument("--mvc", type=Path, default=None, help="MVC calibration (perifacial mvc) for %% MVC and iEMG")
    p.add_argument("--video-fps", type=float, default=30.0, help="video frame rate for the frame columns (30)")
    p.add_argument("--sync-observations", type=Path, default=None, metavar="CSV",
                   help="(frame, digit) observations from the video (perifacial sync) for exact frames; "
                        "without it frames assume the video started with the recording")
    p.add_argument("--notch", type=mains_arg, default="auto", metavar="auto|off|HZ",
                   help="mains removal: auto (default: detect 50/60 Hz and harmonics and subtract them), off, or "
                        "the frequency to force")
    p.add_argument("--ica", action="store_true", help="unmix each region with FastICA before the envelope")
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="output folder (default: beside each file)")
    p.add_argument("--no-figures", action="store_true", help="tables only")
    p.add_argument("-j", "--jobs", type=int, default=1, help="recordings processed in parallel processes (1)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)
    return p


def _progress(name: str, quiet: bool):
    if quiet:
        return None

    def say(stage: str, frac: float) -> None:
        bar = "#" * int(frac * 20)
        print(f"\r{name}: [{bar:<20}] {stage:<10}", end="" if frac < 1 else "\n", file=sys.stderr, flush=True)

    return say


def _one(path: Path, mvc, opts, out, quiet: bool) -> dict:
    from perifacial.host.workflow.process import process_file

    return process_file(path, mvc, opts, out, _progress(path.name, quiet))


def run(args: argparse.Namespace) -> int:
    from perifacial.host.workflow.process import ProcessOptions

    for p in args.recordings:
        if not p.exists():
            raise CliError(f"{p}: no such recording")
    if args.mvc is not None and not args.mvc.exists():
        raise CliError(f"--mvc {args.mvc}: no such file")
    if args.video_fps <= 0:
        raise CliError("--video-fps must be positive")
    if args.jobs < 1:
        raise CliError("-j must be >= 1")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    opts = ProcessOptions(notch=args.notch, ica=args.ica, video_fps=args.video_fps,
                          observations=str(args.sync_observations) if args.sync_observations else None,
                          figures=not args.no_figures,
                          mains_hz=args.notch if isinstance(args.notch, float) else 50.0)
    failures = 0
    results: list[tuple[Path, dict | Exception]] = []
    if args.jobs == 1 or len(args.recordings) == 1:
        for p in args.recordings:
            try:
                results.append((p, _one(p, args.mvc, opts, args.out, args.quiet)))
            except (ValueError, OSError) as exc:
                results.append((p, exc))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        # spawn, not fork: the numba/OpenMP runtime of this process must not be forked
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(args.recordings)), mp_context=ctx) as ex:
            futs = [(p, ex.submit(_one, p, args.mvc, opts, args.out, True)) for p in args.recordings]
            for i, (p, f) in enumerate(futs):
                try:
                    results.append((p, f.result()))
                except (ValueError, OSError, BrokenProcessPool) as exc:
                    results.append((p, exc))
                if not args.quiet:
                    print(f"[{i + 1}/{len(futs)}] {p.name} done", file=sys.stderr)
    for p, r in results:
        if isinstance(r, Exception):
            failures += 1
            print(f"{p}: failed: {r}", file=sys.stderr)
            continue
        c = r["counts"]
        print(f"{p}: {c['expressions']} expressions ({c['ME']} ME, {c['MaE']} MaE), "
              f"{r['gaps']['count']} gaps -> {r['files'].get('events')}")
    if failures and failures == len(results):
        raise CliError("no recording could be processed")
    return 1 if failures else 0
