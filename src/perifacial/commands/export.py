"""``perifacial export FILE --to bdf|csv|npz|bids [OUT]``: convert a recording (any format perifacial reads)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import CliError
from ..validate import check_input_file, check_output_file
from ._reader import add_reader_arguments
from .options import add_notch_option, add_output_option

FORMATS = ("bdf", "csv", "npz", "bids")


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export",
        help="convert a recording to BDF+ (24-bit, lossless), CSV, NPZ or a BIDS EMG dataset",
        description=(
            "BDF+: the ADC codes exactly, in uV, with channel labels, prefilter text and annotations for markers, "
            "display changes and gaps (samples inside gaps are 0 there and listed as annotations). CSV: one row per "
            "sample (sample, time_s, channels in uV; nan inside gaps), plus FILE.markers.csv with gaps, markers and "
            "display changes (never FILE.events.csv, which is `perifacial process`'s). NPZ: data (uV, NaN in gaps), "
            "codes, "
            "fs, labels, gaps, markers, sync. BIDS: adds the recording to the BIDS dataset folder OUT (EMG "
            "datatype: BDF+, sidecar, channels, electrodes and events with the spotted expressions); several "
            "exports (participants, sessions, runs) fill one dataset. FILE may be any format perifacial reads."
        ),
    )
    p.add_argument("file", type=Path, metavar="FILE", help="recording (.pfr, or any format perifacial reads)")
    p.add_argument(
        "out",
        type=Path,
        nargs="?",
        default=None,
        metavar="OUT",
        help="output file, or the dataset folder for --to bids (same as -o)",
    )
    p.add_argument(
        "--to",
        required=True,
        nargs="+",
        metavar="FORMAT [OUT]",
        help=f"output format ({', '.join(FORMATS)}), optionally followed by the output (--to bids DIR)",
    )
    add_output_option(p, "output file (default: FILE with the new suffix)", type=Path, default=None)
    p.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    b = p.add_argument_group("--to bids")
    b.add_argument("--subject", default=None, help="participant label (letters/digits; default from the file name)")
    b.add_argument("--session", default=None, help="session label")
    b.add_argument("--task", default="face", help="task label (default face)")
    b.add_argument("--run", type=int, default=None, help="run index")
    b.add_argument("--power-line", type=float, default=None, metavar="HZ", help="mains frequency at the site (50/60)")
    add_notch_option(b, "mains removal for the spotting, as in `perifacial process` (default auto)")
    b.add_argument("--no-spot", action="store_true", help="events.tsv without spotted expressions (markers only)")
    b.add_argument("--authors", default=None, metavar="A;B", help="dataset authors, ';'-separated (new dataset)")
    add_reader_arguments(p)
    p.set_defaults(func=run)
    return p


def _subject_from(path: Path) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]", "", path.stem) or "01"


def run(args: argparse.Namespace) -> int:
    from perifacial.host import export

    from ._reader import load_recording

    to = list(args.to)
    if to[0] not in FORMATS or len(to) > 2:
        raise CliError(f"--to takes a format ({', '.join(FORMATS)}) and optionally the output, not {' '.join(to)!r}")
    args.to = to[0]
    outs = [o for o in (args.output, args.out, Path(to[1]) if len(to) == 2 else None) if o is not None]
    if len(outs) > 1:
        raise CliError("give the output once (OUT, --to FORMAT OUT or -o OUT)")
    if not args.file.exists():
        raise CliError(f"{args.file} does not exist")
    check_input_file(args.file, what="FILE")
    out = outs[0] if outs else None
    if args.to == "bids":
        return _bids(args, out)
    out = check_output_file(out or args.file.with_suffix("." + args.to), overwrite=args.overwrite, what="-o")
    if args.to == "csv":
        check_output_file(export.csv_sidecar(out), overwrite=args.overwrite, what="-o (its markers table)")
    rec = load_recording(args.file, args)
    try:
        fn = {"bdf": export.to_bdf, "csv": export.to_csv, "npz": export.to_npz}[args.to]
        fn(rec, out)
    except ImportError as exc:
        raise CliError(
            str(exc)
            if "pip install" in str(exc)
            else f"{args.to} export needs an optional package ({exc}): pip install 'perifacial[{args.to}]'"
        ) from None
    print(
        f"{out}: {rec.n_channels} channels x {rec.n_samples} samples ({rec.duration_s:.1f} s), "
        f"{len(rec.gaps)} gaps, {len(rec.markers)} markers"
    )
    return 0


def _bids(args: argparse.Namespace, root: Path | None) -> int:
    from perifacial.host.bids import write_bids

    from ._reader import load_recording

    if root is None:
        raise CliError("--to bids needs the dataset folder: perifacial export FILE --to bids DIR")
    subject = args.subject or _subject_from(args.file)
    rec = load_recording(args.file, args)
    events = None
    if not args.no_spot:
        from perifacial.host.workflow.process import ProcessOptions, process_recording

        emg = rec.pick_emg()
        if emg.n_channels:
            try:
                res = process_recording(emg, None, ProcessOptions(notch=args.notch, figures=False))
            except ValueError as exc:
                raise CliError(f"{args.file}: spotting failed: {exc} (use --no-spot for markers only)") from None
            events = res.rows
    forced = args.notch if isinstance(args.notch, float) else None  # "auto"/off say nothing about the site
    try:
        files = write_bids(
            rec,
            root,
            subject,
            task=args.task,
            session=args.session,
            run=args.run,
            events=events,
            power_line_hz=args.power_line or forced,
            overwrite=args.overwrite,
            authors=[a.strip() for a in args.authors.split(";")] if args.authors else None,
        )
    except FileExistsError as exc:
        raise CliError(str(exc)) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except ImportError as exc:
        raise CliError(f"bids export needs an extra package: {exc}") from exc
    n_ev = 0 if events is None else len(events)
    print(
        f"{files['data']}: sub-{subject}, {rec.n_channels} channels x {rec.n_samples} samples "
        f"({rec.duration_s:.1f} s), {n_ev} spotted expressions, {len(rec.markers)} markers -> dataset {root}"
    )
    return 0
