"""``perifacial study DATASET --out DERIV [--mvc DIR] [--scheduler ADDRESS | --workers N] [--memory-limit 4GiB]``:
every recording of a BIDS EMG dataset processed into BIDS derivatives, then the group tables (Li et al. 2024
Table 4 layout), on Dask when installed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CliError
from ..validate import check_output_dir
from .options import add_notch_option, add_output_option, positive_int_arg


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "study",
        help="process every recording of a BIDS dataset (on Dask) and write the group tables",
        description=(
            "DATASET: a BIDS EMG dataset (what `perifacial export --to bids` writes) or a folder of recordings with "
            "participants.tsv/.csv (participant_id; optional recording and mvc columns). Each recording is "
            "processed as `perifacial process` does into the derivative dataset DERIV (sub-*/[ses-*/]emg/: events, "
            "summary, figures); recordings whose outputs are newer than their inputs are skipped. Then DERIV/group/: "
            "table4.tsv and table4.md (per participant and across participants, per region: ME/MaE counts, duration "
            "and %MVC mean +- sd with 95 % CIs, as Li et al. 2024 Table 4), duration_vs_intensity.png and "
            "study.json. Calibrations for %MVC: DIR/sub-<label>.mvc.json (default DATASET/sourcedata/mvc). Runs on "
            "Dask (pip install 'perifacial[study]'): a local cluster of one process per core, or --scheduler."
        ),
    )
    p.add_argument("dataset", type=Path, metavar="DATASET", help="BIDS dataset or folder with a participants table")
    add_output_option(
        p,
        "derivative dataset folder (default DATASET/derivatives/perifacial)",
        deprecated=("--out",),
        type=Path,
        default=None,
        metavar="DERIV",
    )
    p.add_argument(
        "--mvc",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of MVC calibrations sub-<label>.mvc.json (default DATASET/sourcedata/mvc)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="address of a running dask.distributed scheduler (e.g. tcp://10.0.0.5:8786; a lab cluster or "
        "dask-jobqueue on SLURM) instead of a local cluster",
    )
    p.add_argument(
        "--workers",
        type=positive_int_arg,
        default=None,
        metavar="N",
        help="local cluster: worker processes (default: one per core)",
    )
    p.add_argument(
        "--memory-limit",
        default=None,
        metavar="SIZE",
        help="local cluster: memory per worker, e.g. 4GiB (default: Dask's auto, memory / workers)",
    )
    p.add_argument("--sequential", action="store_true", help="no Dask: one recording after the other")
    p.add_argument("--force", action="store_true", help="reprocess recordings whose outputs are up to date")
    add_notch_option(p, "mains removal, as in `perifacial process` (default auto)")
    p.add_argument("--no-figures", action="store_true", help="no per-recording figures")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from perifacial.host.workflow.process import ProcessOptions
    from perifacial.host.workflow.study import DASK_HINT, StudyError, have_dask, run_study

    if not args.dataset.exists():
        raise CliError(f"DATASET {args.dataset}: no such folder")
    if not args.dataset.is_dir():
        raise CliError(f"DATASET {args.dataset} is a file: give the dataset folder (BIDS, or with participants.tsv)")
    if args.sequential and args.scheduler:
        raise CliError("--sequential and --scheduler exclude each other")
    if args.scheduler and (args.workers or args.memory_limit):
        raise CliError(
            "--workers and --memory-limit are for the local cluster; the --scheduler's workers are "
            "configured where they are started"
        )
    if args.memory_limit is not None:
        try:
            from dask.utils import parse_bytes

            parse_bytes(args.memory_limit)
        except ImportError:
            pass
        except ValueError:
            raise CliError(f"--memory-limit {args.memory_limit!r}: give a size such as 4GiB or 500MB") from None
    if args.scheduler and not have_dask():
        raise CliError(f"--scheduler needs Dask: {DASK_HINT}")
    out = args.output or args.dataset / "derivatives" / "perifacial"
    check_output_dir(out, what="-o", create=False)
    if args.mvc is not None and not args.mvc.is_dir():
        raise CliError(f"--mvc {args.mvc}: not a folder (it holds sub-<label>.mvc.json calibrations)")
    opts = ProcessOptions(
        notch=args.notch, figures=not args.no_figures, mains_hz=args.notch if isinstance(args.notch, float) else 50.0
    )
    bar = None
    if not args.quiet:
        from perifacial.progress import progress_bar

        bar = progress_bar(total=None, desc="study", unit="recording")

    def progress(item, status, k, n):
        if args.quiet:
            return
        if bar.total is None:
            bar.total = n
        bar.update(1)
        bar.write(f"[{k}/{n}] {item.path.name}: {status}", file=sys.stderr)  # above the bar on a terminal

    try:
        res = run_study(
            args.dataset,
            out,
            opts,
            mvc_dir=args.mvc,
            scheduler=args.scheduler,
            workers=args.workers,
            memory_limit=args.memory_limit,
            use_dask=False if args.sequential else None,
            force=args.force,
            progress=progress,
        )
    except StudyError as exc:
        raise CliError(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    st = list(res.status.values())
    print(
        f"{args.dataset}: {len(res.items)} recordings of {len({i.subject for i in res.items})} participants: "
        f"{st.count('done')} processed, {st.count('skipped')} up to date, {len(res.failed)} failed "
        f"-> {res.files['table_md']}"
    )
    for k in res.failed:
        print(f"{k}: {res.status[k]}", file=sys.stderr)
    if res.failed and len(res.failed) == len(st):
        raise CliError("no recording could be processed")
    return 1 if res.failed else 0
